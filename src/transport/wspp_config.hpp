#pragma once
// websocketpp configuration for courier: standalone Asio, no TLS, single-threaded (the server's
// io_context is run by one thread, so websocketpp needs no strands or mutexes), logging compiled
// out (courier reports through its own Logger).

#include <websocketpp/concurrency/none.hpp>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

namespace courier::detail {

struct WsppConfig : public websocketpp::config::core {
  typedef WsppConfig type;
  typedef websocketpp::config::core base;

  typedef websocketpp::concurrency::none concurrency_type;
  typedef base::request_type request_type;
  typedef base::response_type response_type;
  typedef base::message_type message_type;
  typedef base::con_msg_manager_type con_msg_manager_type;
  typedef base::endpoint_msg_manager_type endpoint_msg_manager_type;
  typedef websocketpp::log::basic<concurrency_type, websocketpp::log::elevel> elog_type;
  typedef websocketpp::log::basic<concurrency_type, websocketpp::log::alevel> alog_type;
  typedef base::rng_type rng_type;

  struct transport_config : public base::transport_config {
    typedef type::concurrency_type concurrency_type;
    typedef type::alog_type alog_type;
    typedef type::elog_type elog_type;
    typedef type::request_type request_type;
    typedef type::response_type response_type;
    typedef websocketpp::transport::asio::basic_socket::endpoint socket_type;
    static bool const enable_multithreading = false;
  };
  typedef websocketpp::transport::asio::endpoint<transport_config> transport_type;

  static bool const enable_multithreading = false;
  // Inline in every connection: 4 KiB keeps idle connections small while a 1 MB message still
  // arrives in a few hundred reads.
  static const size_t connection_read_buffer_size = 4096;
  static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
  static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
};

using WsppServer = websocketpp::server<WsppConfig>;

}  // namespace courier::detail
