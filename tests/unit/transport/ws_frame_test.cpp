// Unit tests for the WebSocket frame codec (RFC 6455): server frame encoding, the client frame
// reader with splits at every byte, masks, fragmentation with interleaved control frames, and
// every way a client frame can be invalid (with the close code it must produce).

#include "transport/ws_frame.hpp"
#include "transport/sha1.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace courier::detail;

namespace {

struct Recorder final : WsSink {
  std::vector<std::string> events;
  void on_ws_data(std::string_view data, bool binary) override { events.push_back((binary ? "B:" : "T:") + std::string(data)); }
  void on_ws_ping(std::string_view p) override { events.push_back("ping:" + std::string(p)); }
  void on_ws_pong(std::string_view p) override { events.push_back("pong:" + std::string(p)); }
  void on_ws_close_frame(std::uint16_t code, std::string_view reason) override {
    events.push_back("close:" + std::to_string(code) + ":" + std::string(reason));
  }
};

// A client frame: masked with `mask` (or unmasked when `masked` is false).
std::string client_frame(unsigned opcode, std::string_view payload, bool fin = true, bool masked = true,
                         std::uint32_t mask = 0x37FA213D, unsigned rsv = 0) {
  std::string f;
  f += static_cast<char>((fin ? 0x80 : 0) | rsv | opcode);
  const std::size_t n = payload.size();
  const char m = masked ? static_cast<char>(0x80) : 0;
  if (n < 126) {
    f += static_cast<char>(m | static_cast<char>(n));
  } else if (n <= 0xFFFF) {
    f += static_cast<char>(m | 126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n & 0xFF);
  } else {
    f += static_cast<char>(m | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xFF);
  }
  const unsigned char key[4] = {static_cast<unsigned char>(mask >> 24), static_cast<unsigned char>(mask >> 16),
                                static_cast<unsigned char>(mask >> 8), static_cast<unsigned char>(mask)};
  if (masked) f.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < n; ++i) f += masked ? static_cast<char>(payload[i] ^ key[i & 3]) : payload[i];
  return f;
}

struct Result {
  std::vector<std::string> events;
  std::uint16_t status = 0;
  std::size_t left = 0;  // unconsumed bytes at the end
};

// Feeds `input` `step` bytes at a time (0: at once), keeping unconsumed bytes as a connection does.
Result read_all(const std::string& input, std::size_t step = 0, std::size_t max = 1 << 20) {
  WsReader reader(max);
  Recorder rec;
  std::string buf;
  std::size_t at = 0;
  while (at < input.size()) {
    const std::size_t n = step == 0 ? input.size() : std::min(step, input.size() - at);
    buf.append(input, at, n);
    at += n;
    const std::size_t used = reader.parse(buf.data(), buf.size(), rec);
    buf.erase(0, used);
    if (reader.status() != 0 || reader.stopped()) break;
  }
  return Result{rec.events, reader.status(), buf.size()};
}

}  // namespace

TEST_CASE("server frames: header sizes and bytes", "[transport][ws]") {
  CHECK(make_ws_frame(WsOpcode::text, '4', "hi") == std::string("\x81\x03" "4hi"));
  CHECK(make_ws_frame(WsOpcode::binary, '\0', "") == std::string("\x82\x00", 2));
  const std::string mid = make_ws_frame(WsOpcode::binary, '\0', std::string(126, 'x'));
  CHECK(mid.size() == 4 + 126);
  CHECK(static_cast<unsigned char>(mid[1]) == 126);
  CHECK(static_cast<unsigned char>(mid[2]) == 0);
  CHECK(static_cast<unsigned char>(mid[3]) == 126);
  const std::string big = make_ws_frame(WsOpcode::text, '4', std::string(70000, 'y'));
  CHECK(big.size() == 10 + 70001);
  CHECK(static_cast<unsigned char>(big[1]) == 127);
  CHECK(ws_header_size(125) == 2);
  CHECK(ws_header_size(65535) == 4);
  CHECK(ws_header_size(65536) == 10);
  // The close reason is cut to fit 125 bytes without splitting a code point.
  std::string reason;
  for (int i = 0; i < 100; ++i) reason += "\xC3\xA9";  // é
  const std::string close = make_ws_close_frame(1002, reason);
  CHECK(static_cast<unsigned char>(close[1]) <= 125);
  CHECK(static_cast<unsigned char>(close[2]) == 0x03);
  CHECK(static_cast<unsigned char>(close[3]) == 0xEA);
  CHECK((close.size() - 4) % 2 == 0);
}

TEST_CASE("client frames are unmasked and delivered, split at every byte", "[transport][ws]") {
  const std::string stream = client_frame(1, "4hello") + client_frame(2, std::string("\x00\x01\xFF", 3)) +
                             client_frame(9, "p") + client_frame(1, std::string(300, 'z')) +
                             client_frame(2, std::string(70000, '\x07')) + client_frame(10, "") +
                             client_frame(8, std::string("\x03\xE8" "bye", 5));
  for (std::size_t step : {0, 1, 2, 3, 5, 13, 4096}) {
    CAPTURE(step);
    const Result r = read_all(stream, step);
    REQUIRE(r.status == 0);
    REQUIRE(r.events.size() == 7);
    CHECK(r.events[0] == "T:4hello");
    CHECK(r.events[1] == std::string("B:\x00\x01\xFF", 5));
    CHECK(r.events[2] == "ping:p");
    CHECK(r.events[3] == "T:" + std::string(300, 'z'));
    CHECK(r.events[4] == "B:" + std::string(70000, '\x07'));
    CHECK(r.events[5] == "pong:");
    CHECK(r.events[6] == "close:1000:bye");
  }
}

TEST_CASE("fragmented messages with interleaved control frames", "[transport][ws]") {
  const std::string stream = client_frame(1, "4he", false) + client_frame(9, "mid") + client_frame(0, "ll", false) +
                             client_frame(10, "x") + client_frame(0, "o", true) + client_frame(2, "a", false) +
                             client_frame(0, "b", true);
  for (std::size_t step = 0; step <= stream.size(); ++step) {
    const Result r = read_all(stream, step);
    REQUIRE(r.status == 0);
    REQUIRE(r.events == std::vector<std::string>{"ping:mid", "pong:x", "T:4hello", "B:ab"});
  }
}

TEST_CASE("a close frame without a code, and nothing read after a close", "[transport][ws]") {
  const Result r = read_all(client_frame(8, "") + client_frame(1, "after"));
  CHECK(r.events == std::vector<std::string>{"close:1005:"});
  CHECK(r.left > 0);
}

TEST_CASE("protocol errors give 1002", "[transport][ws]") {
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"unmasked client frame", client_frame(1, "4x", true, false)},
      {"reserved bit", client_frame(1, "4x", true, true, 1, 0x40)},
      {"unknown data opcode", client_frame(3, "x")},
      {"unknown control opcode", client_frame(11, "x")},
      {"control frame over 125", client_frame(9, std::string(126, 'p'))},
      {"fragmented control frame", client_frame(9, "p", false)},
      {"continuation without a message", client_frame(0, "x")},
      {"new message inside a fragmented one", client_frame(1, "a", false) + client_frame(1, "b")},
      {"close with 1-byte payload", client_frame(8, "\x03")},
      {"close code 1005", client_frame(8, std::string("\x03\xED", 2))},
      {"close code 999", client_frame(8, std::string("\x03\xE7", 2))},
      {"close code 1016", client_frame(8, std::string("\x03\xF8", 2))},
      {"length with the top bit", std::string("\x81\xFF\x80\x00\x00\x00\x00\x00\x00\x01", 10)},
  };
  for (const auto& [what, frame] : cases) {
    for (std::size_t step : {0, 1}) {
      CAPTURE(what, step);
      const Result r = read_all(frame, step);
      CHECK(r.status == ws_close::protocol_error);
      CHECK(r.events.empty());
    }
  }
  // Control frames of exactly 125 bytes are fine.
  CHECK(read_all(client_frame(9, std::string(125, 'p'))).status == 0);
  // Valid application close codes.
  CHECK(read_all(client_frame(8, std::string("\x0F\xA0", 2))).events == std::vector<std::string>{"close:4000:"});
}

TEST_CASE("invalid UTF-8 gives 1007 (whole and fragmented text, close reason)", "[transport][ws]") {
  CHECK(read_all(client_frame(1, "4\xC0\xAF")).status == ws_close::invalid_payload);
  CHECK(read_all(client_frame(1, "4\xED\xA0\x80")).status == ws_close::invalid_payload);
  // A code point split across fragments is fine; a broken one is not.
  CHECK(read_all(client_frame(1, "4\xC3", false) + client_frame(0, "\xA9")).events == std::vector<std::string>{"T:4\xC3\xA9"});
  CHECK(read_all(client_frame(1, "4\xC3", false) + client_frame(0, "x")).status == ws_close::invalid_payload);
  CHECK(read_all(client_frame(8, std::string("\x03\xE8\xFF", 3))).status == ws_close::invalid_payload);
  // Binary is not checked.
  CHECK(read_all(client_frame(2, "\xC0\xAF")).status == 0);
}

TEST_CASE("messages over the limit give 1009 before their payload is buffered", "[transport][ws]") {
  const std::string big = client_frame(2, std::string(101, 'x'));
  const Result early = read_all(big.substr(0, 8), 0, 100);  // header only
  CHECK(early.status == ws_close::too_big);
  CHECK(read_all(client_frame(2, std::string(100, 'x')), 0, 100).status == 0);
  // Fragments add up.
  CHECK(read_all(client_frame(2, std::string(60, 'x'), false) + client_frame(0, std::string(41, 'y')), 1, 100).status ==
        ws_close::too_big);
  CHECK(read_all(client_frame(2, std::string(60, 'x'), false) + client_frame(0, std::string(40, 'y')), 1, 100).status == 0);
}

TEST_CASE("frame_size reports the whole frame once the header is in", "[transport][ws]") {
  const std::string f = client_frame(2, std::string(70000, 'x'));
  CHECK(WsReader::frame_size(f.data(), 1) == 0);
  CHECK(WsReader::frame_size(f.data(), 9) == 0);
  CHECK(WsReader::frame_size(f.data(), 10) == f.size());
  const std::string s = client_frame(1, "4abc");
  CHECK(WsReader::frame_size(s.data(), 2) == s.size());
}

TEST_CASE("Sec-WebSocket-Accept (RFC 6455 section 1.3 example) and SHA-1 vectors", "[transport][ws]") {
  CHECK(websocket_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  auto hex = [](const std::array<std::uint8_t, 20>& d) {
    static const char* k = "0123456789abcdef";
    std::string s;
    for (auto b : d) {
      s += k[b >> 4];
      s += k[b & 15];
    }
    return s;
  };
  CHECK(hex(sha1("")) == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  CHECK(hex(sha1("abc")) == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(hex(sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) == "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  CHECK(hex(sha1(std::string(1000000, 'a'))) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}
