// libFuzzer: the HTTP/1.1 request parser. Differential: the input parsed at once and in pieces
// (sizes from the first byte) must give the same requests and the same error; limits must hold.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "transport/http_parser.hpp"

namespace {

using courier::detail::HttpParserLimits;
using courier::detail::HttpRequest;
using courier::detail::HttpRequestParser;

constexpr std::size_t kBodyLimit = 4096;

std::string run(std::string_view input, std::size_t step) {
  HttpParserLimits limits;
  limits.max_head_size = 2048;
  limits.max_headers = 16;
  HttpRequestParser parser(limits, [](const HttpRequest&) { return kBodyLimit; });
  std::string log, pending;
  std::size_t at = 0;
  for (int guard = 0; guard < 100000; ++guard) {
    const std::size_t n = std::min(step, input.size() - at);
    pending.append(input.data() + at, n);
    at += n;
    std::size_t used = 0;
    const auto status = parser.feed(pending, used);
    if (used > pending.size()) std::abort();
    pending.erase(0, used);
    if (status == HttpRequestParser::Status::error) return log + "E" + std::to_string(parser.error_status());
    if (status == HttpRequestParser::Status::complete) {
      const HttpRequest& r = parser.request();
      if (r.body.size() > kBodyLimit || r.headers.size() > limits.max_headers) std::abort();
      log += r.method + " " + r.path + "?" + r.query_string + " " + std::to_string(r.headers.size()) + " " + r.body +
             (parser.keep_alive() ? " K" : " C") + (r.upgrade ? "U" : "") + "|";
      parser.reset();
      continue;
    }
    if (!pending.empty()) std::abort();  // need_more consumes everything
    if (at == input.size()) return log + "M";
  }
  std::abort();  // no progress
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t step = 1 + data[0] % 17;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string whole = run(input, input.size() + 1);
  const std::string split = run(input, step);
  if (whole != split) std::abort();
  return 0;
}
