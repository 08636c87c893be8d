#include "transport/ws_frame.hpp"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "engine/utf8.hpp"

namespace courier::detail {

std::size_t write_ws_header(WsOpcode opcode, std::size_t payload, char* out) noexcept {
  auto* o = reinterpret_cast<unsigned char*>(out);
  o[0] = static_cast<unsigned char>(0x80 | static_cast<unsigned>(opcode));
  if (payload < 126) {
    o[1] = static_cast<unsigned char>(payload);
    return 2;
  }
  if (payload <= 0xFFFF) {
    o[1] = 126;
    o[2] = static_cast<unsigned char>(payload >> 8);
    o[3] = static_cast<unsigned char>(payload);
    return 4;
  }
  o[1] = 127;
  const auto n = static_cast<std::uint64_t>(payload);
  for (int i = 0; i < 8; ++i) o[2 + i] = static_cast<unsigned char>(n >> (56 - 8 * i));
  return 10;
}

std::string make_ws_frame(WsOpcode opcode, char prefix, std::string_view data) {
  std::string frame;
  append_ws_frame(frame, opcode, prefix, data);
  return frame;
}

void append_ws_frame(std::string& out, WsOpcode opcode, char prefix, std::string_view data) {
  const std::size_t payload = data.size() + (prefix != '\0' ? 1 : 0);
  // Appended into reserved space rather than resized and overwritten: a resize zero-fills the
  // whole frame first, which cost as much as the copy for every reply.
  char header[16];
  std::size_t at = write_ws_header(opcode, payload, header);
  if (prefix != '\0') header[at++] = prefix;
  out.reserve(out.size() + at + data.size());
  out.append(header, at);
  out.append(data.data(), data.size());
}

std::string make_ws_close_frame(std::uint16_t code, std::string_view reason) {
  // 125 bytes of control payload: 2 for the code, the rest for the reason (cut at a code point).
  if (reason.size() > 123) {
    std::size_t cut = 123;
    while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80) --cut;
    reason = reason.substr(0, cut);
  }
  std::string payload;
  payload += static_cast<char>(code >> 8);
  payload += static_cast<char>(code & 0xFF);
  payload.append(reason.data(), reason.size());
  return make_ws_frame(WsOpcode::close, '\0', payload);
}

std::size_t WsReader::frame_size(const char* data, std::size_t size) noexcept {
  if (size < 2) return 0;
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  std::size_t header = 2 + ((p[1] & 0x80) ? 4 : 0);
  std::uint64_t len = p[1] & 0x7F;
  if (len == 126) {
    if (size < 4) return 0;
    header += 2;
    len = (std::uint64_t(p[2]) << 8) | p[3];
  } else if (len == 127) {
    if (size < 10) return 0;
    header += 8;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
    if (len >> 62) return 0;  // absurd; parse() rejects it
  }
  return header + static_cast<std::size_t>(len);
}

std::size_t WsReader::parse(char* data, std::size_t size, WsSink& sink) {
  std::size_t at = 0;
  while (!stopped_ && status_ == 0) {
    const std::size_t left = size - at;
    if (left < 2) break;
    auto* p = reinterpret_cast<unsigned char*>(data + at);
    const bool fin = p[0] & 0x80;
    const unsigned rsv = p[0] & 0x70;
    const unsigned opcode = p[0] & 0x0F;
    const bool masked = p[1] & 0x80;
    // Checks that need only the first two bytes come first, so garbage fails at once.
    if (rsv != 0) {
      fail(ws_close::protocol_error, "reserved bits set (no extension negotiated)");
      break;
    }
    if (opcode != 0 && opcode != 1 && opcode != 2 && opcode != 8 && opcode != 9 && opcode != 10) {
      fail(ws_close::protocol_error, "unknown opcode");
      break;
    }
    if (!masked) {
      fail(ws_close::protocol_error, "client frame not masked");
      break;
    }
    const bool control = opcode >= 8;
    std::uint64_t len = p[1] & 0x7F;
    if (control && (!fin || len > 125)) {
      fail(ws_close::protocol_error, fin ? "control frame over 125 bytes" : "fragmented control frame");
      break;
    }
    std::size_t header = 2;
    if (len == 126) {
      if (left < 4) break;
      len = (std::uint64_t(p[2]) << 8) | p[3];
      header = 4;
    } else if (len == 127) {
      if (left < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      header = 10;
      if (len >> 63) {
        fail(ws_close::protocol_error, "frame length with the most significant bit set");
        break;
      }
    }
    if (!control) {
      const std::uint64_t total = (opcode == 0 ? message_.size() : 0) + len;
      if (total > max_message_) {
        fail(ws_close::too_big, "message over max_http_buffer_size");
        break;
      }
    }
    header += 4;  // mask key
    if (left < header || left - header < len) break;
    unsigned char mask[4];
    std::memcpy(mask, p + header - 4, 4);
    char* payload = data + at + header;
    const auto n = static_cast<std::size_t>(len);
    // Unmask in place, 16 and then 8 bytes at a time where possible.
    {
      std::size_t i = 0;
      std::uint64_t m8;
      unsigned char m8b[8] = {mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3]};
      std::memcpy(&m8, m8b, 8);
#if defined(__SSE2__)
      const __m128i m16 = _mm_set1_epi64x(static_cast<long long>(m8));
      for (; i + 16 <= n; i += 16) {
        auto* at16 = reinterpret_cast<__m128i*>(payload + i);
        _mm_storeu_si128(at16, _mm_xor_si128(_mm_loadu_si128(at16), m16));
      }
#endif
      for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, payload + i, 8);
        w ^= m8;
        std::memcpy(payload + i, &w, 8);
      }
      for (; i < n; ++i) payload[i] = static_cast<char>(payload[i] ^ mask[i & 3]);
    }
    at += header + n;
    if (!handle_frame(opcode, fin, payload, n, sink)) break;
  }
  return at;
}

bool WsReader::handle_frame(unsigned opcode, bool fin, char* payload, std::size_t len, WsSink& sink) {
  const std::string_view data(payload, len);
  switch (opcode) {
    case 0x8: {
      if (len == 1) return fail(ws_close::protocol_error, "close frame with a 1-byte payload");
      std::uint16_t code = ws_close::no_status;
      std::string_view reason;
      if (len >= 2) {
        code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]));
        const bool valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
        if (!valid) return fail(ws_close::protocol_error, "invalid close code");
        reason = data.substr(2);
        if (!is_valid_utf8(reason)) return fail(ws_close::invalid_payload, "close reason is not valid UTF-8");
      }
      stopped_ = true;  // nothing after a close frame is read
      sink.on_ws_close_frame(code, reason);
      return false;
    }
    case 0x9:
      sink.on_ws_ping(data);
      return true;
    case 0xA:
      sink.on_ws_pong(data);
      return true;
    case 0x0: {
      if (message_opcode_ == 0) return fail(ws_close::protocol_error, "continuation frame without a message");
      message_.append(payload, len);
      if (!fin) return true;
      const bool binary = message_opcode_ == 2;
      message_opcode_ = 0;
      if (!binary && !is_valid_utf8(message_)) return fail(ws_close::invalid_payload, "text message is not valid UTF-8");
      std::string whole;
      whole.swap(message_);  // releases the reassembly buffer once the message is delivered
      sink.on_ws_data(whole, binary);
      return true;
    }
    default: {  // 1, 2
      if (message_opcode_ != 0) return fail(ws_close::protocol_error, "new message before the fragmented one ended");
      if (!fin) {
        message_opcode_ = static_cast<std::uint8_t>(opcode);
        message_.assign(payload, len);
        return true;
      }
      const bool binary = opcode == 2;
      if (!binary && !is_valid_utf8(data)) return fail(ws_close::invalid_payload, "text message is not valid UTF-8");
      sink.on_ws_data(data, binary);
      return true;
    }
  }
}

}  // namespace courier::detail
