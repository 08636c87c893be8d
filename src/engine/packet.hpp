#pragma once
// Engine.IO v4 packet and payload codec. Pure functions: no I/O, no allocation beyond the outputs,
// so they can be fuzzed directly.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace courier::detail {

/// Engine.IO packet types; the value is the digit on the wire.
enum class PacketType : std::uint8_t { open = 0, close = 1, ping = 2, pong = 3, message = 4, upgrade = 5, noop = 6 };

/// One decoded packet. `data` is the text after the type digit, or the raw bytes of a binary message.
struct Packet {
  PacketType type = PacketType::noop;
  bool binary = false;
  std::string data;
};

/// Why a packet or payload was refused.
enum class DecodeStatus { ok, empty, bad_type, bad_base64, bad_utf8 };

/// Describes a decode status for logs ("unknown packet type", ...).
const char* describe(DecodeStatus status) noexcept;

/// The separator between packets of a long-polling payload (ASCII record separator).
inline constexpr char kRecordSeparator = '\x1e';

/// Decodes one WebSocket message. A binary frame is a binary message packet as is; a text frame is
/// a type digit followed by data and must be UTF-8 (the transport checks that already; checked again
/// only when `check_utf8`).
DecodeStatus decode_ws_message(std::string_view frame, bool binary_frame, Packet& out, bool check_utf8 = false);

/// Decodes a long-polling POST body: packets separated by 0x1E, binary ones as "b" + base64.
/// Appends the packets decoded before the first error to `out` and returns that error (or ok).
DecodeStatus decode_payload(std::string_view body, std::vector<Packet>& out);

/// Appends the WebSocket text form of a non-binary packet (type digit + data) to `out`.
void encode_text_packet(PacketType type, std::string_view data, std::string& out);

/// Appends one packet to a long-polling payload being built in `out`, inserting the separator
/// when `out` is not empty; binary data is written as "b" + base64.
void append_to_payload(PacketType type, std::string_view data, bool binary, std::string& out);

}  // namespace courier::detail
