#include "engine/packet.hpp"

#include "engine/base64.hpp"
#include "engine/utf8.hpp"

namespace courier::detail {

const char* describe(DecodeStatus status) noexcept {
  switch (status) {
    case DecodeStatus::ok: return "ok";
    case DecodeStatus::empty: return "empty packet";
    case DecodeStatus::bad_type: return "unknown packet type";
    case DecodeStatus::bad_base64: return "invalid base64 in binary packet";
    case DecodeStatus::bad_utf8: return "text is not valid UTF-8";
  }
  return "unknown";
}

namespace {

DecodeStatus decode_text(std::string_view text, Packet& out) {
  if (text.empty()) return DecodeStatus::empty;
  const char t = text.front();
  if (t < '0' || t > '6') return DecodeStatus::bad_type;
  out.type = static_cast<PacketType>(t - '0');
  out.binary = false;
  out.data.assign(text.data() + 1, text.size() - 1);
  return DecodeStatus::ok;
}

}  // namespace

DecodeStatus decode_ws_message(std::string_view frame, bool binary_frame, Packet& out, bool check_utf8) {
  if (binary_frame) {
    out.type = PacketType::message;
    out.binary = true;
    out.data.assign(frame.data(), frame.size());
    return DecodeStatus::ok;
  }
  if (check_utf8 && !is_valid_utf8(frame)) return DecodeStatus::bad_utf8;
  return decode_text(frame, out);
}

DecodeStatus decode_payload(std::string_view body, std::vector<Packet>& out) {
  if (body.empty()) return DecodeStatus::empty;
  if (!is_valid_utf8(body)) return DecodeStatus::bad_utf8;
  std::size_t pos = 0;
  while (true) {
    const std::size_t sep = body.find(kRecordSeparator, pos);
    const std::string_view part = body.substr(pos, sep == std::string_view::npos ? std::string_view::npos : sep - pos);
    Packet packet;
    if (!part.empty() && part.front() == 'b') {
      packet.type = PacketType::message;
      packet.binary = true;
      if (!base64_decode(part.substr(1), packet.data)) return DecodeStatus::bad_base64;
    } else {
      const DecodeStatus status = decode_text(part, packet);
      if (status != DecodeStatus::ok) return status;
    }
    out.push_back(std::move(packet));
    if (sep == std::string_view::npos) break;
    pos = sep + 1;
  }
  return DecodeStatus::ok;
}

void encode_text_packet(PacketType type, std::string_view data, std::string& out) {
  out.reserve(out.size() + 1 + data.size());
  out += static_cast<char>('0' + static_cast<int>(type));
  out.append(data.data(), data.size());
}

void append_to_payload(PacketType type, std::string_view data, bool binary, std::string& out) {
  if (!out.empty()) out += kRecordSeparator;
  if (binary) {
    out += 'b';
    base64_encode(data, out);
  } else {
    encode_text_packet(type, data, out);
  }
}

}  // namespace courier::detail
