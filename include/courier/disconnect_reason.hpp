#pragma once
/// @file disconnect_reason.hpp
/// Why a Socket.IO socket disconnected; the strings are socket.io's.

#include <string_view>

namespace courier {

/// Reasons a socket leaves its namespace, as socket.io 4.8 names them.
enum class DisconnectReason {
  transport_close,              ///< "transport close": the connection ended or the client closed it
  transport_error,              ///< "transport error": the connection failed
  ping_timeout,                 ///< "ping timeout": the client stopped answering pings
  parse_error,                  ///< "parse error": the client sent a malformed packet
  forced_close,                 ///< "forced close": the connection was closed by the server
  server_namespace_disconnect,  ///< "server namespace disconnect": Socket::disconnect()
  client_namespace_disconnect,  ///< "client namespace disconnect": the client left the namespace
  server_shutting_down,         ///< "server shutting down": Server::close()
};

/// socket.io's string for a reason, e.g. "ping timeout". Thread-safe.
std::string_view to_string(DisconnectReason reason) noexcept;

}  // namespace courier
