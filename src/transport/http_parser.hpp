#pragma once
// An incremental HTTP/1.1 request parser (RFC 9112) with hard limits: bytes arrive in any split,
// a complete request (head + Content-Length or chunked body) comes out, and anything malformed or
// oversized ends in a status code to answer with. Pure code, no I/O: unit-tested and fuzzed alone.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "engine/http.hpp"

namespace courier::detail {

struct HttpParserLimits {
  /// Request line + headers; 16 KiB as Node's default maxHeaderSize (cookies fit, floods do not).
  std::size_t max_head_size = 16 * 1024;
  /// Header fields; 100 is far above what browsers and Engine.IO clients send.
  std::size_t max_headers = 100;
  /// A chunk-size line (with extensions); nothing legitimate is near 1 KiB.
  std::size_t max_chunk_line = 1024;
};

/// Thread-safety: none (one connection's parser).
class HttpRequestParser {
 public:
  enum class Status { need_more, complete, error };

  /// `body_limit` is asked once per request, when its head is parsed: the largest body to accept
  /// for it (the route's max_message_size); a larger body fails with 413.
  explicit HttpRequestParser(HttpParserLimits limits = {},
                             std::function<std::size_t(const HttpRequest&)> body_limit = {})
      : limits_(limits), body_limit_(std::move(body_limit)) {}

  /// Feeds bytes; sets `consumed` to how many belong to this request (the rest is the next
  /// request, or WebSocket frames after an upgrade). Call again with the rest after need_more.
  Status feed(std::string_view in, std::size_t& consumed);

  /// After complete: the request (movable out) and how the connection continues.
  HttpRequest& request() noexcept { return request_; }
  /// HTTP/1.1 without "Connection: close", or HTTP/1.0 with "Connection: keep-alive".
  bool keep_alive() const noexcept { return keep_alive_; }
  bool http10() const noexcept { return http10_; }
  /// "Expect: 100-continue" with a body to come (known once the head is parsed).
  bool expect_continue() const noexcept { return expect_continue_; }
  /// True once the head is parsed (the body may still be arriving).
  bool head_done() const noexcept { return state_ != State::head; }
  /// True while nothing of a request has arrived (between requests).
  bool idle() const noexcept { return state_ == State::head && head_.empty(); }

  /// After error: the status to answer (400, 413, 431, 501, 505) and why.
  int error_status() const noexcept { return error_status_; }
  const char* error_reason() const noexcept { return error_reason_; }

  /// Ready for the next request on the same connection (releases the previous one's memory).
  void reset();

 private:
  enum class State { head, body, chunk_size, chunk_data, chunk_data_end, trailers, done, failed };
  Status fail(int status, const char* why) {
    state_ = State::failed;
    error_status_ = status;
    error_reason_ = why;
    return Status::error;
  }
  Status parse_head();
  Status feed_chunked(std::string_view in, std::size_t& at);

  HttpParserLimits limits_;
  std::function<std::size_t(const HttpRequest&)> body_limit_;
  State state_ = State::head;
  std::string head_;  // request line + headers while they arrive; chunk-size/trailer lines later
  HttpRequest request_;
  std::uint64_t content_length_ = 0;
  std::uint64_t chunk_left_ = 0;
  std::size_t max_body_ = 0;
  std::size_t trailer_bytes_ = 0;
  std::size_t method_checked_ = 0;  // bytes of the request line's method validated so far
  bool method_done_ = false;
  static constexpr std::size_t kMaxMethod = 32;  // longer than any registered method
  bool keep_alive_ = true;
  bool http10_ = false;
  bool expect_continue_ = false;
  int error_status_ = 0;
  const char* error_reason_ = "";
};

/// The reason phrase of a status code ("OK", "Not Found", ...).
const char* http_reason(int status) noexcept;

/// True when the comma-separated header value `list` contains `token` (case-insensitive).
bool header_has_token(std::string_view list, std::string_view token) noexcept;

}  // namespace courier::detail
