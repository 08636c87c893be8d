#include <courier/error.hpp>

#include <string>

namespace courier {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "courier"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::unknown_transport: return "Transport unknown";
      case errc::unknown_sid: return "Session ID unknown";
      case errc::bad_handshake_method: return "Bad handshake method";
      case errc::bad_request: return "Bad request";
      case errc::forbidden: return "Forbidden";
      case errc::unsupported_protocol_version: return "Unsupported protocol version";
      case errc::too_many_sessions: return "Too many sessions";
      case errc::payload_too_large: return "Payload too large";
      case errc::parse_error: return "Parse error";
      case errc::not_found: return "Not found";
      case errc::closed: return "Closed";
      case errc::missing_responses: return "Some servers did not answer in time";
      case errc::cluster_unavailable: return "Cluster transport unavailable";
      case errc::lock_busy: return "Lock held by another owner";
      case errc::lock_not_held: return "Lock not held by this token";
      case errc::cluster_error: return "Cluster transport refused the command";
      case errc::too_many_requests: return "Too many requests";
      case errc::too_many_rooms: return "Too many rooms";
      case errc::rate_limited: return "Rate limit exceeded";
      case errc::tls_certificate: return "TLS certificate chain file could not be loaded";
      case errc::tls_private_key: return "TLS private key file could not be loaded (missing, not PEM or wrong password)";
      case errc::tls_key_mismatch: return "TLS private key does not match the certificate";
      case errc::tls_configuration: return "TLS options refused (cipher list or protocol version)";
    }
    return "Unknown courier error";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

int engine_io_code(errc e) noexcept {
  switch (e) {
    case errc::unknown_transport: return 0;
    case errc::unknown_sid: return 1;
    case errc::bad_handshake_method: return 2;
    case errc::bad_request: return 3;
    case errc::forbidden: return 4;
    case errc::unsupported_protocol_version: return 5;
    default: return -1;
  }
}

std::string_view to_string(CloseReason reason) noexcept {
  switch (reason) {
    case CloseReason::transport_close: return "transport close";
    case CloseReason::ping_timeout: return "ping timeout";
    case CloseReason::parse_error: return "parse error";
    case CloseReason::transport_error: return "transport error";
    case CloseReason::forced_close: return "forced close";
  }
  return "unknown";
}

}  // namespace courier
