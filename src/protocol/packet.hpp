#pragma once
// Socket.IO v5 packets: decoding (with binary attachment reassembly) and encoding (encode once,
// binary split into attachments), following socket.io-parser 4.x.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <courier/value.hpp>

namespace courier::detail {

enum class SioType : std::uint8_t {
  connect = 0,
  disconnect = 1,
  event = 2,
  ack = 3,
  connect_error = 4,
  binary_event = 5,
  binary_ack = 6,
};

struct SioPacket {
  SioType type = SioType::event;
  std::string nsp = "/";
  std::optional<std::uint64_t> id;
  Value data;  // null when the packet had no payload
  bool has_data = false;
};

/// A packet encoded for the wire once and shared by every recipient.
struct EncodedPacket {
  std::shared_ptr<const std::string> text;                      // the Engine.IO message
  std::vector<std::shared_ptr<const std::string>> attachments;  // binary Engine.IO messages
};

/// Encodes a packet; EVENT/ACK with binary data become BINARY_EVENT/BINARY_ACK with attachments.
EncodedPacket encode(const SioPacket& packet);
/// Encodes a packet whose payload is the array `data`, without building a SioPacket (relays and
/// acks: no copy of the data).
EncodedPacket encode(SioType type, const std::string& nsp, std::optional<std::uint64_t> id, const Array& data);
/// As above, for `count` values at `values` (an ack's arguments where they are).
EncodedPacket encode(SioType type, const std::string& nsp, std::optional<std::uint64_t> id, const Value* values,
                     std::size_t count);

/// As above, into `text` (the Engine.IO message) and `attachments`, both replaced: for a packet to
/// one connection, written from buffers the caller reuses rather than shared copies.
void encode_to(SioType type, const std::string& nsp, std::optional<std::uint64_t> id, const Value* values,
               std::size_t count, std::string& text, std::vector<std::string>& attachments);

/// Default largest number of binary attachments one packet may announce: socket.io-parser's
/// default (an unbounded count would let one client make the server buffer anything).
inline constexpr std::size_t kDefaultMaxAttachments = 10;

/// Incremental decoder for one connection: text messages start packets, binary messages complete
/// BINARY_EVENT/BINARY_ACK packets.
class Decoder {
 public:
  enum class Status { ok, need_more, error };

  explicit Decoder(std::size_t max_attachments = kDefaultMaxAttachments) : max_attachments_(max_attachments) {}

  /// Feeds a text message. On ok, `out` holds a complete packet; otherwise its content is
  /// unspecified (it is parsed into directly, and may be a reused packet).
  Status feed_text(std::string_view text, SioPacket& out);
  /// Feeds a binary message (an attachment). On ok, `out` holds the completed packet.
  Status feed_binary(std::string_view bytes, SioPacket& out);
  /// Why the last call returned error.
  const std::string& error() const noexcept { return error_; }
  /// Drops a partially received packet.
  void reset() noexcept;

 private:
  Status fail(std::string why);
  Status finish(SioPacket& out);

  std::size_t max_attachments_;
  std::string error_;
  std::optional<SioPacket> pending_;
  std::size_t expected_ = 0;
  std::vector<std::string> attachments_;
};

/// Decodes a complete text packet whose attachments are not needed (unit tests, fuzzing). Binary
/// types come back with placeholders in `data` and the count in `attachments`.
bool decode_text_packet(std::string_view text, SioPacket& out, std::size_t& attachments, std::string& error,
                        std::size_t max_attachments = kDefaultMaxAttachments);

}  // namespace courier::detail
