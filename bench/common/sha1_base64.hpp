// SHA-1 (FIPS 180-4) and base64 (RFC 4648), just what the WebSocket opening handshake needs
// (Sec-WebSocket-Accept = base64(SHA-1(key + GUID))). Shared by the bench tools only (the load
// generator verifies the server's accept value, the raw-limit server computes it); no courier code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace bench {

inline void sha1(const void* data, std::size_t len, unsigned char out[20]) {
  std::uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
  auto rol = [](std::uint32_t v, int s) { return (v << s) | (v >> (32 - s)); };
  auto block = [&](const unsigned char* p) {
    std::uint32_t w[80];
    for (int i = 0; i < 16; ++i)
      w[i] = (std::uint32_t(p[4 * i]) << 24) | (std::uint32_t(p[4 * i + 1]) << 16) |
             (std::uint32_t(p[4 * i + 2]) << 8) | std::uint32_t(p[4 * i + 3]);
    for (int i = 16; i < 80; ++i) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      std::uint32_t f, k;
      if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999u; }
      else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1u; }
      else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDCu; }
      else { f = b ^ c ^ d; k = 0xCA62C1D6u; }
      const std::uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d; d = c; c = rol(b, 30); b = a; a = t;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
  };
  const auto* p = static_cast<const unsigned char*>(data);
  std::size_t n = len;
  while (n >= 64) { block(p); p += 64; n -= 64; }
  unsigned char tail[128] = {};
  std::memcpy(tail, p, n);
  tail[n] = 0x80;
  const std::size_t tail_len = n + 9 <= 64 ? 64 : 128;
  const std::uint64_t bits = std::uint64_t(len) * 8;
  for (int i = 0; i < 8; ++i) tail[tail_len - 1 - i] = static_cast<unsigned char>(bits >> (8 * i));
  block(tail);
  if (tail_len == 128) block(tail + 64);
  for (int i = 0; i < 5; ++i) {
    out[4 * i] = static_cast<unsigned char>(h[i] >> 24);
    out[4 * i + 1] = static_cast<unsigned char>(h[i] >> 16);
    out[4 * i + 2] = static_cast<unsigned char>(h[i] >> 8);
    out[4 * i + 3] = static_cast<unsigned char>(h[i]);
  }
}

inline std::string base64(const unsigned char* p, std::size_t n) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string s;
  s.reserve((n + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < n; i += 3) {
    const std::uint32_t v = (std::uint32_t(p[i]) << 16) | (std::uint32_t(p[i + 1]) << 8) | p[i + 2];
    s += tbl[v >> 18]; s += tbl[(v >> 12) & 63]; s += tbl[(v >> 6) & 63]; s += tbl[v & 63];
  }
  if (i + 1 == n) {
    const std::uint32_t v = std::uint32_t(p[i]) << 16;
    s += tbl[v >> 18]; s += tbl[(v >> 12) & 63]; s += "==";
  } else if (i + 2 == n) {
    const std::uint32_t v = (std::uint32_t(p[i]) << 16) | (std::uint32_t(p[i + 1]) << 8);
    s += tbl[v >> 18]; s += tbl[(v >> 12) & 63]; s += tbl[(v >> 6) & 63]; s += '=';
  }
  return s;
}

// Sec-WebSocket-Accept for a Sec-WebSocket-Key.
inline std::string websocket_accept(std::string_view key) {
  std::string s(key);
  s += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char d[20];
  sha1(s.data(), s.size(), d);
  return base64(d, 20);
}

}  // namespace bench
