#include "transport/http_parser.hpp"

#include <algorithm>
#include <cstring>

namespace courier::detail {
namespace {

bool is_tchar(unsigned char c) noexcept {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x | 0x20);
    if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y | 0x20);
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool header_has_token(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    const auto comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

const char* http_reason(int status) noexcept {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 417: return "Expectation Failed";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

void HttpRequestParser::reset() {
  state_ = State::head;
  std::string().swap(head_);
  request_ = HttpRequest{};
  content_length_ = chunk_left_ = 0;
  max_body_ = trailer_bytes_ = method_checked_ = 0;
  method_done_ = false;
  keep_alive_ = true;
  http10_ = expect_continue_ = false;
  error_status_ = 0;
  error_reason_ = "";
}

HttpRequestParser::Status HttpRequestParser::feed(std::string_view in, std::size_t& consumed) {
  consumed = 0;
  std::size_t at = 0;
  for (;;) {
    switch (state_) {
      case State::failed:
        return Status::error;
      case State::done:
        consumed = at;
        return Status::complete;
      case State::head: {
        // Empty lines before a request line are ignored (RFC 9112 2.2).
        if (head_.empty()) {
          while (at < in.size() && (in[at] == '\r' || in[at] == '\n')) ++at;
          if (at == in.size()) {
            consumed = at;
            return Status::need_more;
          }
        }
        const std::size_t old = head_.size();
        const std::size_t room = limits_.max_head_size + 4 - std::min(old, limits_.max_head_size + 4);
        const std::size_t take = std::min(room, in.size() - at);
        head_.append(in.data() + at, take);
        // Refuse a request whose method is not a token as soon as its bytes arrive: random bytes
        // or a TLS ClientHello on the plain port get their 400 now, not after a timeout.
        if (method_checked_ < head_.size() && !method_done_) {
          for (; method_checked_ < head_.size(); ++method_checked_) {
            const auto c = static_cast<unsigned char>(head_[method_checked_]);
            if (c == ' ' && method_checked_ != 0) {
              method_done_ = true;
              break;
            }
            if (!is_tchar(c) || method_checked_ >= kMaxMethod) return fail(400, "malformed method");
          }
        }
        const std::size_t from = old >= 3 ? old - 3 : 0;
        const std::size_t end = head_.find("\r\n\r\n", from);
        if (end == std::string::npos) {
          at += take;
          if (head_.size() > limits_.max_head_size) return fail(431, "request head over the size limit");
          consumed = at;
          return Status::need_more;
        }
        if (end > limits_.max_head_size) return fail(431, "request head over the size limit");
        at += end + 4 - old;
        head_.resize(end + 2);  // keep the last header's CRLF: every line ends in CRLF
        if (parse_head() == Status::error) return Status::error;
        std::string().swap(head_);
        break;
      }
      case State::body: {
        const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(content_length_, in.size() - at));
        request_.body.append(in.data() + at, take);
        at += take;
        content_length_ -= take;
        if (content_length_ == 0) {
          state_ = State::done;
          break;
        }
        consumed = at;
        return Status::need_more;
      }
      case State::chunk_size:
      case State::chunk_data:
      case State::chunk_data_end:
      case State::trailers: {
        const Status s = feed_chunked(in, at);
        if (s == Status::error) return s;
        if (s == Status::need_more) {
          consumed = at;
          return s;
        }
        break;
      }
    }
  }
}

HttpRequestParser::Status HttpRequestParser::parse_head() {
  std::string_view head(head_);
  // Request line: method SP request-target SP HTTP-version CRLF.
  const auto eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  head.remove_prefix(eol + 2);
  const auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return fail(400, "malformed request line");
  const auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1 || line.find(' ', sp2 + 1) != std::string_view::npos)
    return fail(400, "malformed request line");
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  for (char c : method)
    if (!is_tchar(static_cast<unsigned char>(c))) return fail(400, "malformed method");
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) return fail(400, "malformed request target");
  }
  if (version.size() != 8 || version.compare(0, 5, "HTTP/") != 0 || version[6] != '.' || version[5] < '0' ||
      version[5] > '9' || version[7] < '0' || version[7] > '9')
    return fail(400, "malformed HTTP version");
  if (version[5] != '1') return fail(505, "HTTP version not supported");
  http10_ = version[7] == '0';
  request_.method.assign(method);
  const auto q = target.find('?');
  request_.path.assign(target.substr(0, q));
  if (q != std::string_view::npos) request_.query_string.assign(target.substr(q + 1));

  // Header fields: name ":" OWS value OWS CRLF.
  bool have_length = false, chunked = false, have_te = false;
  std::string_view connection, upgrade;
  while (!head.empty()) {
    const auto e = head.find("\r\n");
    const std::string_view field = head.substr(0, e);
    head.remove_prefix(e + 2);
    if (field.empty()) continue;
    if (field.front() == ' ' || field.front() == '\t') return fail(400, "obsolete header line folding");
    const auto colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail(400, "malformed header field");
    const std::string_view name = field.substr(0, colon);
    for (char c : name)
      if (!is_tchar(static_cast<unsigned char>(c))) return fail(400, "malformed header name");
    const std::string_view value = trim(field.substr(colon + 1));
    for (char c : value) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && u != '\t') || u == 0x7F) return fail(400, "control character in a header value");
    }
    if (request_.headers.size() >= limits_.max_headers) return fail(431, "too many header fields");
    request_.headers.emplace_back(std::string(name), std::string(value));
    if (iequals(name, "content-length")) {
      if (value.empty() || value.size() > 15) return fail(400, "invalid Content-Length");
      std::uint64_t n = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return fail(400, "invalid Content-Length");
        n = n * 10 + static_cast<unsigned>(c - '0');
      }
      if (have_length && n != content_length_) return fail(400, "conflicting Content-Length headers");
      have_length = true;
      content_length_ = n;
    } else if (iequals(name, "transfer-encoding")) {
      if (have_te) return fail(400, "repeated Transfer-Encoding");
      have_te = true;
      if (!iequals(value, "chunked")) return fail(501, "unsupported Transfer-Encoding (only chunked)");
      chunked = true;
    } else if (iequals(name, "connection")) {
      connection = value;  // views into head_, which outlives this function's use of them
    } else if (iequals(name, "upgrade")) {
      upgrade = value;
    } else if (iequals(name, "expect")) {
      if (!iequals(value, "100-continue")) return fail(417, "unsupported Expect");
      expect_continue_ = true;
    }
  }
  if (have_te && have_length) return fail(400, "both Transfer-Encoding and Content-Length");
  if (have_te && http10_) return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
  keep_alive_ = http10_ ? header_has_token(connection, "keep-alive") : !header_has_token(connection, "close");
  request_.upgrade = !upgrade.empty() && header_has_token(connection, "upgrade") && header_has_token(upgrade, "websocket");

  max_body_ = body_limit_ ? body_limit_(request_) : 0;
  if (chunked) {
    state_ = State::chunk_size;
  } else if (content_length_ > 0) {
    if (content_length_ > max_body_) return fail(413, "request body over the size limit");
    request_.body.reserve(static_cast<std::size_t>(content_length_));
    state_ = State::body;
  } else {
    expect_continue_ = false;
    state_ = State::done;
  }
  return Status::complete;
}

HttpRequestParser::Status HttpRequestParser::feed_chunked(std::string_view in, std::size_t& at) {
  while (at < in.size() || state_ == State::chunk_data_end) {
    switch (state_) {
      case State::chunk_size:
      case State::trailers: {
        const auto nl = in.find('\n', at);
        const std::size_t take = (nl == std::string_view::npos ? in.size() : nl + 1) - at;
        head_.append(in.data() + at, take);
        at += take;
        const std::size_t limit = state_ == State::chunk_size ? limits_.max_chunk_line : limits_.max_head_size;
        if (state_ == State::trailers) trailer_bytes_ += take;
        if (head_.size() > limit || trailer_bytes_ > limits_.max_head_size)
          return fail(state_ == State::trailers ? 431 : 400, "chunk line or trailers over the size limit");
        if (nl == std::string_view::npos) return Status::need_more;
        if (head_.size() < 2 || head_[head_.size() - 2] != '\r') return fail(400, "chunk line not ended by CRLF");
        std::string_view line(head_.data(), head_.size() - 2);
        if (state_ == State::trailers) {
          const bool last = line.empty();
          head_.clear();
          if (last) {
            state_ = State::done;
            std::string().swap(head_);
            return Status::complete;
          }
          continue;  // trailer fields are ignored
        }
        const auto semi = line.find(';');
        const std::string_view digits = trim(line.substr(0, semi));
        if (digits.empty() || digits.size() > 15) return fail(400, "invalid chunk size");
        std::uint64_t n = 0;
        for (char c : digits) {
          const int v = hex_value(c);
          if (v < 0) return fail(400, "invalid chunk size");
          n = n * 16 + static_cast<unsigned>(v);
        }
        head_.clear();
        if (n == 0) {
          state_ = State::trailers;
          continue;
        }
        if (request_.body.size() + n > max_body_) return fail(413, "request body over the size limit");
        chunk_left_ = n;
        state_ = State::chunk_data;
        break;
      }
      case State::chunk_data: {
        const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_left_, in.size() - at));
        request_.body.append(in.data() + at, take);
        at += take;
        chunk_left_ -= take;
        if (chunk_left_ == 0) state_ = State::chunk_data_end;
        break;
      }
      case State::chunk_data_end: {
        // The CRLF after the chunk's data, possibly split across reads.
        while (at < in.size() && head_.size() < 2) head_ += in[at++];
        if (head_.size() < 2) return Status::need_more;
        if (head_ != "\r\n") return fail(400, "chunk data not followed by CRLF");
        head_.clear();
        state_ = State::chunk_size;
        break;
      }
      default:
        return Status::complete;
    }
  }
  return state_ == State::done ? Status::complete : Status::need_more;
}

}  // namespace courier::detail
