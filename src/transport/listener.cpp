// The websocketpp transport: accepts TCP connections, parses HTTP, performs WebSocket handshakes,
// and hands requests and connections to the engine through the HttpService seam.
#include <courier/engine_server.hpp>
#include <courier/listener.hpp>

#include <asio/post.hpp>

#include "engine/engine_core.hpp"
#include "engine/http.hpp"
#include "engine/text_service.hpp"
#include "transport/static_files.hpp"
#include "transport/wspp_config.hpp"

namespace courier::detail {

using ConnectionPtr = WsppServer::connection_ptr;

namespace {

void fill_request(const ConnectionPtr& con, HttpRequest& out, bool upgrade) {
  const auto& req = con->get_request();
  out.method = req.get_method();
  const std::string& uri = req.get_uri();
  const std::size_t q = uri.find('?');
  out.path = uri.substr(0, q);
  out.query_string = q == std::string::npos ? std::string() : uri.substr(q + 1);
  for (const auto& [k, v] : req.get_headers()) out.headers.emplace_back(k, v);
  out.body = req.get_body();
  out.upgrade = upgrade;
  std::error_code ec;
  auto ep = con->get_raw_socket().remote_endpoint(ec);
  if (!ec) {
    auto addr = ep.address();
    if (addr.is_v6() && addr.to_v6().is_v4_mapped())
      addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
    out.remote_address = addr.to_string();
  }
}

void apply_response(const ConnectionPtr& con, const HttpResponse& r) {
  con->set_status(static_cast<websocketpp::http::status_code::value>(r.status));
  for (const auto& [k, v] : r.headers) con->replace_header(k, v);
  // websocketpp ends the TCP connection after every plain HTTP response; say so.
  con->replace_header("Connection", "close");
  con->set_body(r.body);
  if (r.body.empty()) con->replace_header("Content-Length", "0");
}

class Exchange final : public HttpExchange, public std::enable_shared_from_this<Exchange> {
 public:
  explicit Exchange(ConnectionPtr con) : con_(std::move(con)) {
    fill_request(con_, request_, false);
    con_->defer_http_response();
  }
  const HttpRequest& request() const noexcept override { return request_; }

  void respond(HttpResponse response) override {
    if (responded_) return;
    responded_ = true;
    on_abort_ = nullptr;
    apply_response(con_, response);
    std::error_code ec;
    con_->send_http_response(ec);
  }

  void watch_abort(std::function<void()> on_abort) override {
    if (responded_) return;
    on_abort_ = std::move(on_abort);
    if (!reading_) arm_read();
  }

 private:
  // websocketpp stops reading once a request is parsed; to notice a client that gives up on a
  // held poll we read the raw socket ourselves (EOF or error = aborted).
  void arm_read() {
    reading_ = true;
    con_->get_raw_socket().async_read_some(asio::buffer(scratch_),
                                           [self = shared_from_this()](const std::error_code& ec, std::size_t) {
                                             self->reading_ = false;
                                             if (self->responded_) return;
                                             if (!ec) {
                                               self->arm_read();  // stray bytes: keep watching
                                               return;
                                             }
                                             auto cb = std::move(self->on_abort_);
                                             self->on_abort_ = nullptr;
                                             if (cb) cb();
                                             self->respond(HttpResponse{400, {}, {}});
                                           });
  }

  ConnectionPtr con_;
  HttpRequest request_;
  bool responded_ = false;
  bool reading_ = false;
  std::function<void()> on_abort_;
  char scratch_[16];
};

class WsLinkImpl final : public WsLink {
 public:
  explicit WsLinkImpl(const ConnectionPtr& con) : con_(con) {}
  void send(PacketType type, std::string_view data, bool binary) override {
    auto con = con_.lock();
    if (!con) return;
    std::error_code ec;
    if (binary) {
      ec = con->send(data.data(), data.size(), websocketpp::frame::opcode::binary);
    } else {
      auto msg = con->get_message(websocketpp::frame::opcode::text, data.size() + 1);
      std::string& payload = msg->get_raw_payload();
      payload.reserve(data.size() + 1);
      payload += static_cast<char>('0' + static_cast<int>(type));
      payload.append(data.data(), data.size());
      ec = con->send(msg);
    }
    (void)ec;  // a connection being closed refuses sends; its close handler reports that
  }
  void close(std::uint16_t code, std::string_view reason) override {
    auto con = con_.lock();
    if (!con) return;
    std::error_code ec;
    con->close(code, std::string(reason.substr(0, 120)), ec);
  }
  std::size_t buffered_amount() const noexcept override {
    auto con = con_.lock();
    return con ? con->get_buffered_amount() : 0;
  }
  bool finished() const noexcept override {
    auto con = con_.lock();
    return !con || con->get_state() == websocketpp::session::state::closed;
  }

 private:
  std::weak_ptr<WsppServer::connection_type> con_;
};

}  // namespace

class ListenerImpl : public std::enable_shared_from_this<ListenerImpl> {
 public:
  ListenerImpl(asio::io_context& io, Logger logger) : io_(io), logger_(std::move(logger)) {
    server_.init_asio(&io_);
    server_.set_user_agent("");
    server_.clear_access_channels(websocketpp::log::alevel::all);
    server_.clear_error_channels(websocketpp::log::elevel::all);
  }

  void install_handlers() {
    std::weak_ptr<ListenerImpl> weak = shared_from_this();
    server_.set_http_handler([weak](websocketpp::connection_hdl hdl) {
      if (auto self = weak.lock()) self->on_http(hdl);
    });
    server_.set_validate_handler([weak](websocketpp::connection_hdl hdl) {
      auto self = weak.lock();
      return self && self->on_validate(hdl);
    });
    server_.set_open_handler([weak](websocketpp::connection_hdl hdl) {
      if (auto self = weak.lock()) self->on_open(hdl);
    });
    server_.set_fail_handler([weak](websocketpp::connection_hdl hdl) {
      if (auto self = weak.lock()) self->on_fail(hdl);
    });
    // Small frames go out at once: Nagle's algorithm would hold them back for up to ~40 ms
    // waiting for an ACK (realtime traffic is many small writes; Node sets this too).
    // (After accept: the socket-init hook runs before the socket is open.)
    server_.set_tcp_post_init_handler([weak](websocketpp::connection_hdl hdl) {
      auto self = weak.lock();
      if (!self) return;
      std::error_code ec;
      auto con = self->server_.get_con_from_hdl(hdl, ec);
      if (con) con->get_raw_socket().set_option(asio::ip::tcp::no_delay(true), ec);
    });
  }

  void mount(std::shared_ptr<HttpService> service) {
    services_.push_back(std::move(service));
    std::size_t max = 0;
    for (const auto& s : services_) max = std::max(max, s->max_message_size());
    server_.set_max_http_body_size(max);
    server_.set_max_message_size(max);
  }

  std::error_code listen(const ListenOptions& options) {
    std::error_code ec;
    auto address = asio::ip::make_address(options.host, ec);
    if (ec) return ec;
    server_.set_reuse_addr(options.reuse_address);
    server_.set_listen_backlog(options.backlog);
    server_.listen(asio::ip::tcp::endpoint(address, options.port), ec);
    if (ec) return ec;
    server_.start_accept(ec);
    if (ec) return ec;
    port_ = server_.get_local_endpoint(ec).port();
    return ec;
  }

  std::uint16_t port() const noexcept { return port_; }
  asio::io_context& io() noexcept { return io_; }

  void close() {
    std::error_code ec;
    if (server_.is_listening()) server_.stop_listening(ec);
  }

 private:
  HttpService* route(const std::string& uri) {
    HttpService* best = nullptr;
    for (const auto& s : services_) {
      const std::string& p = s->path();
      if (uri.compare(0, p.size(), p) == 0 && (!best || p.size() > best->path().size())) best = s.get();
    }
    return best;
  }

  void on_http(websocketpp::connection_hdl hdl) {
    auto con = server_.get_con_from_hdl(hdl);
    auto exchange = std::make_shared<Exchange>(con);
    HttpService* service = route(exchange->request().path);
    if (!service) {
      exchange->respond(HttpResponse{404, {{"Content-Type", "text/plain"}}, "Not Found"});
      return;
    }
    if (exchange->request().body.size() > service->max_message_size()) {
      logger_.log(LogLevel::warn, "request body over max_http_buffer_size from " + exchange->request().remote_address);
      exchange->respond(HttpResponse{413, {{"Content-Type", "text/plain"}}, "Payload Too Large"});
      return;
    }
    service->handle_http(std::move(exchange));
  }

  bool on_validate(websocketpp::connection_hdl hdl) {
    auto con = server_.get_con_from_hdl(hdl);
    HttpRequest request;
    fill_request(con, request, true);
    HttpService* service = route(request.path);
    if (!service) {
      apply_response(con, HttpResponse{404, {{"Content-Type", "text/plain"}}, "Not Found"});
      return false;
    }
    HttpResponse reject;
    if (!service->accept_upgrade(request, reject)) {
      apply_response(con, reject);
      return false;
    }
    con->set_max_message_size(service->max_message_size());
    return true;
  }

  void on_open(websocketpp::connection_hdl hdl) {
    auto con = server_.get_con_from_hdl(hdl);
    HttpRequest request;
    fill_request(con, request, true);
    HttpService* service = route(request.path);
    if (!service) {
      std::error_code ec;
      con->close(websocketpp::close::status::normal, "no service", ec);
      return;
    }
    auto link = std::make_shared<WsLinkImpl>(con);
    std::shared_ptr<WsHandler> handler = service->open_websocket(request, link);
    if (!handler) return;  // refused; the engine closed the link
    con->set_message_handler([handler](websocketpp::connection_hdl, WsppServer::message_ptr msg) {
      handler->on_ws_message(msg->get_payload(), msg->get_opcode() == websocketpp::frame::opcode::binary);
    });
    con->set_close_handler([handler](websocketpp::connection_hdl h) {
      auto c = std::static_pointer_cast<WsppServer::connection_type>(h.lock());
      std::string why = "transport close";
      bool error = false;
      if (c) {
        const auto remote = c->get_remote_close_code();
        // 1000/1001/none: an orderly end. Anything else (1009 too big, 1002 protocol, 1007 bad UTF-8,
        // or our own close after an error) counts as a transport error.
        if (c->get_local_close_code() == websocketpp::close::status::message_too_big ||
            c->get_local_close_code() == websocketpp::close::status::protocol_error ||
            c->get_local_close_code() == websocketpp::close::status::invalid_payload) {
          error = true;
          why = c->get_local_close_reason();
          if (why.empty()) why = "websocket protocol error";
        } else if (remote != websocketpp::close::status::normal && remote != websocketpp::close::status::going_away &&
                   remote != websocketpp::close::status::no_status && remote != websocketpp::close::status::abnormal_close) {
          why = "websocket closed with code " + std::to_string(remote);
        }
      }
      handler->on_ws_close(error, why);
    });
    con->set_fail_handler([handler](websocketpp::connection_hdl) { handler->on_ws_close(true, "websocket failed"); });
  }

  void on_fail(websocketpp::connection_hdl hdl) {
    // Handshake failures (bad HTTP, refused upgrade, timeouts): websocketpp already answered.
    if (!logger_.enabled(LogLevel::debug)) return;
    std::error_code ec;
    auto con = server_.get_con_from_hdl(hdl, ec);
    if (con) logger_.log(LogLevel::debug, "connection failed: " + con->get_ec().message());
  }

  asio::io_context& io_;
  Logger logger_;
  WsppServer server_;
  std::vector<std::shared_ptr<HttpService>> services_;
  std::uint16_t port_ = 0;
};

}  // namespace courier::detail

namespace courier {

Listener::Listener(asio::io_context& io, Logger logger)
    : impl_(std::make_shared<detail::ListenerImpl>(io, std::move(logger))) {
  impl_->install_handlers();
}

Listener::~Listener() { impl_->close(); }

void Listener::mount(EngineServer& server) { impl_->mount(server.core()); }

void Listener::serve_text(std::string path, std::string content_type,
                          std::function<void(std::function<void(std::string)>)> handler) {
  impl_->mount(detail::make_text_service(std::move(path), std::move(content_type), std::move(handler)));
}

void Listener::serve_static(std::string prefix, std::string directory) {
  impl_->mount(detail::make_static_service(std::move(prefix), std::move(directory)));
}

std::error_code Listener::listen(const ListenOptions& options) { return impl_->listen(options); }

std::uint16_t Listener::port() const noexcept { return impl_->port(); }

void Listener::close() {
  auto& io = impl_->io();
  if (io.get_executor().running_in_this_thread() || io.stopped()) {
    impl_->close();
  } else {
    asio::post(io, [impl = impl_] { impl->close(); });
  }
}

}  // namespace courier
