// libFuzzer: the WebSocket client frame reader. Differential: the input read at once and in
// pieces (sizes from the first byte) must give the same events and the same close code.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/utf8.hpp"
#include "transport/ws_frame.hpp"

namespace {

using namespace courier::detail;

constexpr std::size_t kMax = 8192;

struct Log final : WsSink {
  std::string out;
  void on_ws_data(std::string_view d, bool binary) override {
    if (d.size() > kMax || (!binary && !is_valid_utf8(d))) std::abort();
    out += (binary ? "B" : "T") + std::to_string(d.size()) + ":" + std::string(d) + "|";
  }
  void on_ws_ping(std::string_view p) override {
    if (p.size() > 125) std::abort();
    out += "P" + std::string(p) + "|";
  }
  void on_ws_pong(std::string_view p) override { out += "O" + std::string(p) + "|"; }
  void on_ws_close_frame(std::uint16_t code, std::string_view reason) override {
    out += "C" + std::to_string(code) + std::string(reason) + "|";
  }
};

std::string run(std::string_view input, std::size_t step) {
  WsReader reader(kMax);
  Log log;
  std::string buf;
  std::size_t at = 0;
  while (at < input.size()) {
    const std::size_t n = std::min(step, input.size() - at);
    buf.append(input.data() + at, n);
    at += n;
    const std::size_t used = reader.parse(buf.data(), buf.size(), log);
    if (used > buf.size()) std::abort();
    buf.erase(0, used);
    if (reader.status() != 0 || reader.stopped()) break;
    // A frame that cannot complete within the limit must have failed already.
    if (buf.size() > kMax + 14 + 125) std::abort();
  }
  return log.out + "#" + std::to_string(reader.status());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t step = 1 + data[0] % 13;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  if (run(input, input.size() + 1) != run(input, step)) std::abort();
  return 0;
}
