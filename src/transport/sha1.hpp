#pragma once
// SHA-1 (FIPS 180-4), only for the WebSocket handshake's Sec-WebSocket-Accept (RFC 6455 4.2.2),
// where it is a fixed transform, not a security primitive; a few lines here spare a TLS library.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace courier::detail {

/// The 20-byte SHA-1 digest of `data`.
std::array<std::uint8_t, 20> sha1(std::string_view data) noexcept;

/// base64(SHA-1(key + the RFC 6455 GUID)): the Sec-WebSocket-Accept value for a client's key.
std::string websocket_accept(std::string_view key);

}  // namespace courier::detail
