#pragma once
// RFC 6455 framing for the server side: encoding of (unmasked) server frames, and an incremental
// reader of (masked) client frames that reassembles fragmented messages, answers nothing itself
// and reports what it saw to a sink. Pure code, no I/O: unit-tested and fuzzed on its own.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace courier::detail {

enum class WsOpcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

/// Close codes the server sends (RFC 6455 7.4.1).
namespace ws_close {
constexpr std::uint16_t normal = 1000;
constexpr std::uint16_t going_away = 1001;
constexpr std::uint16_t protocol_error = 1002;
constexpr std::uint16_t no_status = 1005;  // never sent; "the close frame had no code"
constexpr std::uint16_t abnormal = 1006;   // never sent; "no close frame at all"
constexpr std::uint16_t invalid_payload = 1007;
constexpr std::uint16_t too_big = 1009;
constexpr std::uint16_t internal_error = 1011;
}  // namespace ws_close

/// Size of the header of an unmasked frame with `payload` bytes (2, 4 or 10).
constexpr std::size_t ws_header_size(std::size_t payload) noexcept {
  return payload < 126 ? 2 : (payload <= 0xFFFF ? 4 : 10);
}

/// Writes the header of an unmasked final frame into `out` (room for 10 bytes); returns its size.
std::size_t write_ws_header(WsOpcode opcode, std::size_t payload, char* out) noexcept;

/// One whole unmasked frame: header, then `prefix` (if not '\0'), then `data`.
std::string make_ws_frame(WsOpcode opcode, char prefix, std::string_view data);
/// The same frame, appended to `out` (whose capacity may be reused).
void append_ws_frame(std::string& out, WsOpcode opcode, char prefix, std::string_view data);

/// A close frame (code + reason truncated to fit the 125-byte control payload, at a UTF-8 boundary).
std::string make_ws_close_frame(std::uint16_t code, std::string_view reason);

/// What WsReader reports.
class WsSink {
 public:
  virtual ~WsSink() = default;
  /// A complete data message (possibly reassembled from fragments), unmasked, valid UTF-8 if text.
  /// `data` points into the reader's input or its reassembly buffer: valid during the call only.
  virtual void on_ws_data(std::string_view data, bool binary) = 0;
  virtual void on_ws_ping(std::string_view payload) = 0;
  virtual void on_ws_pong(std::string_view payload) = 0;
  /// A close frame: `code` is ws_close::no_status when it carried none.
  virtual void on_ws_close_frame(std::uint16_t code, std::string_view reason) = 0;
};

/// Incremental reader of client frames. The caller owns the input bytes: parse() consumes whole
/// frames only (unmasking them in place) and leaves a partial frame for the next call, with more
/// bytes appended. After an error (status() != 0) it consumes nothing more.
///
/// Thread-safety: none (one connection's reader, used on its thread).
class WsReader {
 public:
  explicit WsReader(std::size_t max_message_size) noexcept : max_message_(max_message_size) {}

  /// Parses as many complete frames from data[0, size) as there are, reporting each to `sink`
  /// (which may stop() the reader). Returns the number of bytes consumed.
  std::size_t parse(char* data, std::size_t size, WsSink& sink);

  /// The total size of the frame starting at `data` when its header is complete, else 0: lets the
  /// caller reserve the whole frame once instead of regrowing its buffer.
  static std::size_t frame_size(const char* data, std::size_t size) noexcept;

  /// 0 while fine; else the close code to fail the connection with (1002, 1007, 1009).
  std::uint16_t status() const noexcept { return status_; }
  /// Why status() is set (for the log and the close frame's reason).
  const char* error() const noexcept { return error_; }
  /// Stops parsing after the current frame (the connection is closing).
  void stop() noexcept { stopped_ = true; }
  /// True after stop() or a close frame: nothing more is parsed.
  bool stopped() const noexcept { return stopped_; }
  /// Bytes held for a fragmented message in progress.
  std::size_t buffered() const noexcept { return message_.size(); }
  void set_max_message_size(std::size_t n) noexcept { max_message_ = n; }

 private:
  bool fail(std::uint16_t code, const char* why) noexcept {
    status_ = code;
    error_ = why;
    return false;
  }
  bool handle_frame(unsigned opcode, bool fin, char* payload, std::size_t len, WsSink& sink);

  std::size_t max_message_;
  std::string message_;  // fragments of the message in progress
  std::uint8_t message_opcode_ = 0;  // text/binary while fragments arrive, 0 otherwise
  std::uint16_t status_ = 0;
  bool stopped_ = false;
  const char* error_ = "";
};

}  // namespace courier::detail
