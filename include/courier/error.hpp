#pragma once
/// @file error.hpp
/// courier's error codes (std::error_code) and Engine.IO close reasons.

#include <string_view>
#include <system_error>

namespace courier {

/// Errors courier reports. Values are stable; 0 is never used (it means success).
enum class errc {
  unknown_transport = 1,         ///< Engine.IO code 0: transport missing or not enabled
  unknown_sid,                   ///< Engine.IO code 1: no session with that id
  bad_handshake_method,          ///< Engine.IO code 2: handshake that is not a GET
  bad_request,                   ///< Engine.IO code 3: request that does not fit the session
  forbidden,                     ///< Engine.IO code 4: refused by the host's policy
  unsupported_protocol_version,  ///< Engine.IO code 5: EIO query is not 4
  too_many_sessions,             ///< max_sessions reached (HTTP 503)
  payload_too_large,             ///< a body or message over max_http_buffer_size
  parse_error,                   ///< malformed Engine.IO packet or payload
  not_found,                     ///< request path served by no mounted server
  closed,                        ///< the session or server is closed
  missing_responses,             ///< some servers of the cluster did not answer within the request timeout
  cluster_unavailable,           ///< the cluster transport (Redis) is not connected
  lock_busy,                     ///< try_lock: another owner holds the lock
  lock_not_held,                 ///< extend/unlock: the token no longer holds its lock (expired, released, taken over)
  cluster_error,                 ///< the cluster transport (Redis) refused a command (e.g. OOM, wrong type)
  too_many_requests,             ///< handshakes from one address over handshakes_per_second (HTTP 429)
  too_many_rooms,                ///< a join beyond ServerOptions::max_rooms_per_socket
  rate_limited,                  ///< a socket's events over ServerOptions::max_events_per_second
  tls_certificate,               ///< the TLS certificate chain file is missing, unreadable or not PEM
  tls_private_key,               ///< the TLS private key file is missing, unreadable, not PEM or the password is wrong
  tls_key_mismatch,              ///< the TLS private key does not belong to the certificate
  tls_configuration,             ///< TLS options OpenSSL refuses (cipher list, version) or no TLS context
};

/// The category of courier::errc. Thread-safe.
const std::error_category& error_category() noexcept;

/// Makes a std::error_code from an errc. Thread-safe.
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// The numeric `code` an Engine.IO error body carries for `e` (0..5), or -1 if Engine.IO has none.
int engine_io_code(errc e) noexcept;

/// Why an Engine.IO session closed. The strings match Node's engine.io exactly.
enum class CloseReason {
  transport_close,  ///< "transport close": the client closed (close packet or connection end)
  ping_timeout,     ///< "ping timeout": no pong within ping_timeout after a ping
  parse_error,      ///< "parse error": the client sent a malformed packet
  transport_error,  ///< "transport error": protocol misuse or an I/O error on the transport
  forced_close,     ///< "forced close": the server closed the session
};

/// Node's string for a close reason, e.g. "ping timeout". Thread-safe.
std::string_view to_string(CloseReason reason) noexcept;

}  // namespace courier

namespace std {
template <>
struct is_error_code_enum<courier::errc> : true_type {};
}  // namespace std
