// Unit tests for the Engine.IO v4 packet and payload codec
// (https://github.com/socketio/socket.io/blob/main/docs/engine.io-protocol/v4-current.md).

#include "engine/packet.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

using courier::detail::append_to_payload;
using courier::detail::decode_payload;
using courier::detail::decode_ws_message;
using courier::detail::DecodeStatus;
using courier::detail::describe;
using courier::detail::encode_text_packet;
using courier::detail::kRecordSeparator;
using courier::detail::Packet;
using courier::detail::PacketType;

namespace {

using namespace std::string_literals;

const char* type_name(PacketType type) {
  switch (type) {
    case PacketType::open: return "open";
    case PacketType::close: return "close";
    case PacketType::ping: return "ping";
    case PacketType::pong: return "pong";
    case PacketType::message: return "message";
    case PacketType::upgrade: return "upgrade";
    case PacketType::noop: return "noop";
  }
  return "?";
}

// A readable, comparable rendering of a packet: `message text "hello"`, `message binary [01 02]`.
std::string show(const Packet& p) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = type_name(p.type);
  if (p.binary) {
    out += " binary [";
    for (std::size_t i = 0; i < p.data.size(); ++i) {
      const auto b = static_cast<unsigned char>(p.data[i]);
      if (i != 0) out += ' ';
      out += kDigits[b >> 4];
      out += kDigits[b & 15];
    }
    out += ']';
  } else {
    out += " text \"";
    for (char c : p.data) {
      const auto b = static_cast<unsigned char>(c);
      if (b < 0x20 || b == 0x7f || c == '"' || c == '\\') {
        out += "\\x";
        out += kDigits[b >> 4];
        out += kDigits[b & 15];
      } else {
        out += c;
      }
    }
    out += '"';
  }
  return out;
}

std::vector<std::string> show(const std::vector<Packet>& packets) {
  std::vector<std::string> out;
  for (const auto& p : packets) out.push_back(show(p));
  return out;
}

Packet text(PacketType type, std::string data) { return Packet{type, false, std::move(data)}; }
Packet binary(std::string data) { return Packet{PacketType::message, true, std::move(data)}; }

// Re-encodes decoded packets as a long-polling payload.
std::string encode_payload(const std::vector<Packet>& packets) {
  std::string out;
  for (const auto& p : packets) append_to_payload(p.type, p.data, p.binary, out);
  return out;
}

struct Decoded {
  DecodeStatus status;
  std::vector<Packet> packets;
};

Decoded decode(std::string_view body) {
  Decoded d;
  d.status = decode_payload(body, d.packets);
  return d;
}

}  // namespace

namespace Catch {
template <>
struct StringMaker<DecodeStatus> {
  static std::string convert(DecodeStatus s) { return describe(s); }
};
}  // namespace Catch

// ---------------------------------------------------------------------------------------------------------------
// describe

TEST_CASE("packet: describe names every status distinctly", "[engine][packet]") {
  CHECK(std::string(describe(DecodeStatus::ok)) == "ok");
  std::set<std::string> names;
  for (auto s : {DecodeStatus::ok, DecodeStatus::empty, DecodeStatus::bad_type, DecodeStatus::bad_base64,
                 DecodeStatus::bad_utf8}) {
    REQUIRE(describe(s) != nullptr);
    CHECK_FALSE(std::string(describe(s)).empty());
    names.insert(describe(s));
  }
  CHECK(names.size() == 5);
}

// ---------------------------------------------------------------------------------------------------------------
// decode_ws_message

TEST_CASE("packet: WebSocket text frame for every type digit, with and without data", "[engine][packet]") {
  for (int digit = 0; digit <= 6; ++digit) {
    const auto type = static_cast<PacketType>(digit);
    for (bool check_utf8 : {false, true}) {
      INFO("type " << digit << ", check_utf8 " << check_utf8);
      Packet p = binary("stale");  // output fields must all be overwritten
      REQUIRE(decode_ws_message(std::string(1, static_cast<char>('0' + digit)), false, p, check_utf8) ==
              DecodeStatus::ok);
      CHECK(show(p) == show(text(type, "")));

      p = binary("stale");
      const std::string frame = std::string(1, static_cast<char>('0' + digit)) + "some data \xe2\x82\xac";
      REQUIRE(decode_ws_message(frame, false, p, check_utf8) == DecodeStatus::ok);
      CHECK(show(p) == show(text(type, "some data \xe2\x82\xac")));
    }
  }
}

TEST_CASE("packet: WebSocket text frames from the spec", "[engine][packet]") {
  Packet p;
  REQUIRE(decode_ws_message("2probe", false, p) == DecodeStatus::ok);
  CHECK(show(p) == show(text(PacketType::ping, "probe")));
  REQUIRE(decode_ws_message("3probe", false, p) == DecodeStatus::ok);
  CHECK(show(p) == show(text(PacketType::pong, "probe")));
  REQUIRE(decode_ws_message("5", false, p) == DecodeStatus::ok);
  CHECK(show(p) == show(text(PacketType::upgrade, "")));
  REQUIRE(decode_ws_message("4hello", false, p) == DecodeStatus::ok);
  CHECK(show(p) == show(text(PacketType::message, "hello")));
  REQUIRE(decode_ws_message("6", false, p) == DecodeStatus::ok);
  CHECK(show(p) == show(text(PacketType::noop, "")));
  const std::string open = R"(0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000})";
  REQUIRE(decode_ws_message(open, false, p) == DecodeStatus::ok);
  CHECK(show(p) == show(text(PacketType::open, open.substr(1))));
}

TEST_CASE("packet: WebSocket text data is taken verbatim", "[engine][packet]") {
  Packet p;
  // The record separator has no meaning on WebSocket; a leading digit or 'b' in the data is just data.
  REQUIRE(decode_ws_message("4a\x1e" "b\x1e", false, p) == DecodeStatus::ok);
  CHECK(show(p) == show(text(PacketType::message, "a\x1e" "b\x1e")));
  REQUIRE(decode_ws_message("44bAQIDBA==", false, p) == DecodeStatus::ok);
  CHECK(show(p) == show(text(PacketType::message, "4bAQIDBA==")));
  REQUIRE(decode_ws_message("4\0x\0"s, false, p, true) == DecodeStatus::ok);
  CHECK(p.data == "\0x\0"s);
}

TEST_CASE("packet: WebSocket binary frames are binary message packets with the exact bytes", "[engine][packet]") {
  const std::string frames[] = {
      "\x01\x02\x03\x04"s,
      "\0"s,
      "\0\0\0"s,
      "\0\xff\0\x1e\x80"s,
      "4hello"s,          // looks like a text packet, is not parsed
      "\xc0\x80\xff"s,    // not UTF-8, irrelevant for binary
      std::string(70000, '\0'),
  };
  for (const auto& frame : frames) {
    for (bool check_utf8 : {false, true}) {
      INFO("frame size " << frame.size() << ", check_utf8 " << check_utf8);
      Packet p = text(PacketType::ping, "stale");
      REQUIRE(decode_ws_message(frame, true, p, check_utf8) == DecodeStatus::ok);
      CHECK(p.type == PacketType::message);
      CHECK(p.binary);
      CHECK(p.data.size() == frame.size());
      CHECK(p.data == frame);
    }
  }
  Packet p;
  REQUIRE(decode_ws_message("", true, p) == DecodeStatus::ok);  // an empty buffer is still a message
  CHECK(show(p) == show(binary("")));
}

TEST_CASE("packet: empty WebSocket text frame is refused as empty", "[engine][packet]") {
  Packet p;
  CHECK(decode_ws_message("", false, p) == DecodeStatus::empty);
  CHECK(decode_ws_message("", false, p, true) == DecodeStatus::empty);
}

TEST_CASE("packet: WebSocket text frame with an unknown type is refused as bad_type", "[engine][packet]") {
  for (const std::string& frame : {"7"s, "7hello"s, "8"s, "9x"s, "a"s, "b"s, "bAQIDBA=="s, "/"s, ":"s, " 4"s,
                                   "\x1e" "4"s, "\0"s, "\0004"s, "-1"s, "+4"s, "x4hello"s, "\x7f"s}) {
    for (bool check_utf8 : {false, true}) {
      INFO("frame \"" << frame << "\", check_utf8 " << check_utf8);
      Packet p;
      CHECK(decode_ws_message(frame, false, p, check_utf8) == DecodeStatus::bad_type);
    }
  }
  // A non-ASCII first byte is a bad type when UTF-8 is not checked, and bad UTF-8 first when it is.
  Packet p;
  CHECK(decode_ws_message("\xff", false, p) == DecodeStatus::bad_type);
  CHECK(decode_ws_message("\xff", false, p, true) == DecodeStatus::bad_utf8);
  CHECK(decode_ws_message("\xc3\xa9", false, p, true) == DecodeStatus::bad_type);  // valid UTF-8, not a digit
}

TEST_CASE("packet: check_utf8 rejects invalid UTF-8 in WebSocket text frames", "[engine][packet]") {
  const std::string invalid[] = {
      "4\xc0\x80"s,                  // overlong
      "4\xe0\x80\x80"s,              // overlong
      "4\xed\xa0\x80"s,              // surrogate
      "4\xf4\x90\x80\x80"s,          // above U+10FFFF
      "4\xe2\x82"s,                  // truncated at the end
      "4hello \x80 world"s,          // stray continuation
      "4" + std::string(40, 'a') + "\xff",
  };
  for (const auto& frame : invalid) {
    INFO("frame \"" << frame << "\"");
    Packet p;
    CHECK(decode_ws_message(frame, false, p, true) == DecodeStatus::bad_utf8);
    // Without the flag the transport is trusted and the bytes go through untouched.
    REQUIRE(decode_ws_message(frame, false, p, false) == DecodeStatus::ok);
    CHECK(p.data == frame.substr(1));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// decode_payload

TEST_CASE("packet: payload with a single packet", "[engine][packet]") {
  for (int digit = 0; digit <= 6; ++digit) {
    INFO("type " << digit);
    const auto d = decode(std::string(1, static_cast<char>('0' + digit)) + "data");
    REQUIRE(d.status == DecodeStatus::ok);
    CHECK(show(d.packets) == show(std::vector<Packet>{text(static_cast<PacketType>(digit), "data")}));
  }
  const auto d = decode("4hello");
  REQUIRE(d.status == DecodeStatus::ok);
  CHECK(show(d.packets) == show(std::vector<Packet>{text(PacketType::message, "hello")}));
}

TEST_CASE("packet: payload with several packets (spec example)", "[engine][packet]") {
  const auto d = decode("4hello\x1e" "2\x1e" "4world");
  REQUIRE(d.status == DecodeStatus::ok);
  CHECK(show(d.packets) == show(std::vector<Packet>{text(PacketType::message, "hello"), text(PacketType::ping, ""),
                                                    text(PacketType::message, "world")}));
}

TEST_CASE("packet: payload with a binary packet (spec example)", "[engine][packet]") {
  const auto d = decode("4hello\x1e" "bAQIDBA==");
  REQUIRE(d.status == DecodeStatus::ok);
  REQUIRE(d.packets.size() == 2);
  CHECK(show(d.packets[0]) == show(text(PacketType::message, "hello")));
  CHECK(d.packets[1].type == PacketType::message);
  CHECK(d.packets[1].binary);
  CHECK(d.packets[1].data == "\x01\x02\x03\x04");
}

TEST_CASE("packet: payload with binary packets in the middle, NULs included", "[engine][packet]") {
  const auto d = decode("4a\x1e" "bAAEC\x1e" "b\x1e" "bAA==\x1e" "4b");
  REQUIRE(d.status == DecodeStatus::ok);
  CHECK(show(d.packets) == show(std::vector<Packet>{text(PacketType::message, "a"), binary("\0\x01\x02"s),
                                                    binary(""), binary("\0"s), text(PacketType::message, "b")}));
  REQUIRE(d.packets.size() == 5);
  CHECK(d.packets[1].data.size() == 3);
  CHECK(d.packets[3].data.size() == 1);
}

TEST_CASE("packet: payload with UTF-8 text", "[engine][packet]") {
  const auto d = decode("4\xe2\x82\xac\x1e" "4caf\xc3\xa9 \xf0\x9f\x98\x80");
  REQUIRE(d.status == DecodeStatus::ok);
  CHECK(show(d.packets) == show(std::vector<Packet>{text(PacketType::message, "\xe2\x82\xac"),
                                                    text(PacketType::message, "caf\xc3\xa9 \xf0\x9f\x98\x80")}));
}

TEST_CASE("packet: decode_payload appends to the output vector", "[engine][packet]") {
  std::vector<Packet> out{text(PacketType::noop, "already there")};
  REQUIRE(decode_payload("4x\x1e" "2", out) == DecodeStatus::ok);
  CHECK(show(out) == show(std::vector<Packet>{text(PacketType::noop, "already there"), text(PacketType::message, "x"),
                                              text(PacketType::ping, "")}));
}

TEST_CASE("packet: empty payload body is refused as empty", "[engine][packet]") {
  const auto d = decode("");
  CHECK(d.status == DecodeStatus::empty);
  CHECK(d.packets.empty());
}

TEST_CASE("packet: empty element keeps the packets before it", "[engine][packet]") {
  SECTION("in the middle") {
    const auto d = decode("4a\x1e\x1e" "4b");
    CHECK(d.status == DecodeStatus::empty);
    CHECK(show(d.packets) == show(std::vector<Packet>{text(PacketType::message, "a")}));
  }
  SECTION("trailing separator") {
    const auto d = decode("4a\x1e");
    CHECK(d.status == DecodeStatus::empty);
    CHECK(show(d.packets) == show(std::vector<Packet>{text(PacketType::message, "a")}));
    const auto d2 = decode("4a\x1e" "2\x1e");
    CHECK(d2.status == DecodeStatus::empty);
    CHECK(d2.packets.size() == 2);
  }
  SECTION("leading separator") {
    const auto d = decode("\x1e" "4a");
    CHECK(d.status == DecodeStatus::empty);
    CHECK(d.packets.empty());
  }
  SECTION("separators only") {
    CHECK(decode("\x1e").status == DecodeStatus::empty);
    CHECK(decode("\x1e\x1e\x1e").status == DecodeStatus::empty);
  }
}

TEST_CASE("packet: bad type in a payload keeps the packets before it", "[engine][packet]") {
  for (const std::string& bad : {"7"s, "9x"s, "ahello"s, "Bxyz"s, " 4"s, "\0"s}) {
    INFO("element \"" << bad << "\"");
    const auto d = decode("4a\x1e" "2\x1e" + bad + "\x1e" "4b");
    CHECK(d.status == DecodeStatus::bad_type);
    CHECK(show(d.packets) == show(std::vector<Packet>{text(PacketType::message, "a"), text(PacketType::ping, "")}));
  }
}

TEST_CASE("packet: bad base64 in a payload keeps the packets before it", "[engine][packet]") {
  for (const std::string& bad : {"bAQIDBA="s, "bAQIDBA"s, "bA"s, "bA==="s, "b=AAA"s, "bAA=A"s, "bAA==AAAA"s,
                                 "bAQ-D"s, "bAQ_D"s, "bAQ D"s, "bAQ\nD"s, "b!!!!"s, "b\xc3\xa9\xc3\xa9"s}) {
    INFO("element \"" << bad << "\"");
    const auto d = decode("4hello\x1e" "bAQIDBA==\x1e" + bad + "\x1e" "4after");
    CHECK(d.status == DecodeStatus::bad_base64);
    CHECK(show(d.packets) == show(std::vector<Packet>{text(PacketType::message, "hello"), binary("\x01\x02\x03\x04")}));
  }
  const auto first = decode("bAQIDBA");
  CHECK(first.status == DecodeStatus::bad_base64);
  CHECK(first.packets.empty());
}

TEST_CASE("packet: invalid UTF-8 in a payload body is refused as bad_utf8", "[engine][packet]") {
  for (const std::string& bad : {"4\xc0\x80"s, "4\xed\xa0\x80"s, "4\xf4\x90\x80\x80"s, "4abc\xe2\x82"s, "4\x80"s,
                                 "4\xff"s, "\xff"s}) {
    INFO("element \"" << bad << "\"");
    CHECK(decode(bad).status == DecodeStatus::bad_utf8);
    const auto d = decode("4ok\x1e" + bad + "\x1e" "4later");
    CHECK(d.status == DecodeStatus::bad_utf8);
    // Only packets before the error may have been appended.
    REQUIRE(d.packets.size() <= 1);
    if (!d.packets.empty()) CHECK(show(d.packets[0]) == show(text(PacketType::message, "ok")));
  }
}

TEST_CASE("packet: every proper prefix of a valid payload decodes or fails cleanly", "[engine][packet]") {
  const std::string payload = "4hello\x1e" "2\x1e" "4w\xc3\xb6rld \xe2\x82\xac \xf0\x9f\x98\x80\x1e" "bAQIDBA==\x1e"
                              "3probe\x1e" "bAAE=\x1e" "b\x1e" "6\x1e" "0{\"sid\":\"abc\"}";
  const auto full = decode(payload);
  REQUIRE(full.status == DecodeStatus::ok);
  REQUIRE(full.packets.size() == 9);
  REQUIRE(encode_payload(full.packets) == payload);

  int ok_count = 0;
  for (std::size_t n = 0; n < payload.size(); ++n) {
    const std::string_view prefix(payload.data(), n);
    INFO("prefix length " << n);
    const auto d = decode(prefix);
    REQUIRE(d.packets.size() <= full.packets.size());
    // Every packet decoded before the cut, except the one the cut went through, is the original one.
    for (std::size_t i = 0; i + 1 < d.packets.size(); ++i) CHECK(show(d.packets[i]) == show(full.packets[i]));
    if (d.status == DecodeStatus::ok) {
      ++ok_count;
      CHECK(encode_payload(d.packets) == prefix);
    } else {
      CHECK(d.status != DecodeStatus::ok);
    }
  }
  CHECK(decode(std::string_view(payload.data(), 0)).status == DecodeStatus::empty);
  CHECK(ok_count > 0);
}

TEST_CASE("packet: every single-byte mutation of a valid payload decodes or fails cleanly", "[engine][packet]") {
  const std::string payload =
      "4hello\x1e" "2\x1e" "4\xe2\x82\xac\x1e" "bAQIDBA==\x1e" "3probe\x1e" "bAAE=\x1e" "b\x1e" "bAAECAw==\x1e" "6";
  REQUIRE(decode(payload).status == DecodeStatus::ok);

  int ok_count = 0;
  for (std::size_t pos = 0; pos < payload.size(); ++pos) {
    for (int value = 0; value < 256; ++value) {
      if (static_cast<unsigned char>(payload[pos]) == value) continue;
      std::string mutated = payload;
      mutated[pos] = static_cast<char>(value);
      const auto d = decode(mutated);
      // No packet can come from nowhere: at most one per element.
      REQUIRE(d.packets.size() <= static_cast<std::size_t>(std::count(mutated.begin(), mutated.end(), '\x1e')) + 1);
      if (d.status != DecodeStatus::ok) continue;
      ++ok_count;
      const std::string reencoded = encode_payload(d.packets);
      if (reencoded == mutated) continue;
      // The only accepted way to differ: base64 pad bits (RFC 4648 section 3.5) that the decoder ignores. The
      // re-encoding then differs in the mutated character only and decodes to the very same packets.
      INFO("mutation at " << pos << " to byte " << value << ": \"" << mutated << "\" re-encodes as \"" << reencoded
                          << "\"");
      REQUIRE(reencoded.size() == mutated.size());
      for (std::size_t i = 0; i < mutated.size(); ++i)
        if (i != pos) CHECK(reencoded[i] == mutated[i]);
      const auto again = decode(reencoded);
      REQUIRE(again.status == DecodeStatus::ok);
      CHECK(show(again.packets) == show(d.packets));
      const std::size_t element_start = mutated.rfind('\x1e', pos) + 1;  // npos + 1 == 0 for the first element
      CHECK(mutated[element_start] == 'b');
      // ... and the mutated character is the last data character of a padded quantum.
      REQUIRE(pos + 1 < mutated.size());
      CHECK(mutated[pos + 1] == '=');
    }
  }
  CHECK(ok_count > 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding

TEST_CASE("packet: encode_text_packet produces the spec's wire forms", "[engine][packet]") {
  struct Case {
    PacketType type;
    std::string_view data;
    std::string_view wire;
  };
  const Case cases[] = {
      {PacketType::open, R"({"sid":"lv_VI97HAXpY6yYWAAAC"})", R"(0{"sid":"lv_VI97HAXpY6yYWAAAC"})"},
      {PacketType::close, "", "1"},
      {PacketType::ping, "", "2"},
      {PacketType::ping, "probe", "2probe"},
      {PacketType::pong, "", "3"},
      {PacketType::pong, "probe", "3probe"},
      {PacketType::message, "hello", "4hello"},
      {PacketType::message, "\xe2\x82\xac", "4\xe2\x82\xac"},
      {PacketType::upgrade, "", "5"},
      {PacketType::noop, "", "6"},
  };
  for (const auto& c : cases) {
    INFO("expected \"" << c.wire << "\"");
    std::string out;
    encode_text_packet(c.type, c.data, out);
    CHECK(out == c.wire);
    // Round trip through the WebSocket decoder.
    Packet p;
    REQUIRE(decode_ws_message(out, false, p, true) == DecodeStatus::ok);
    CHECK(show(p) == show(text(c.type, std::string(c.data))));
  }
  std::string out = "kept:";
  encode_text_packet(PacketType::message, "a\0b"s, out);
  CHECK(out == "kept:4a\0b"s);
}

TEST_CASE("packet: append_to_payload produces the spec's payload examples", "[engine][packet]") {
  std::string out;
  append_to_payload(PacketType::message, "hello", false, out);
  CHECK(out == "4hello");  // no separator before the first packet
  append_to_payload(PacketType::ping, "", false, out);
  append_to_payload(PacketType::message, "world", false, out);
  CHECK(out == "4hello\x1e" "2\x1e" "4world");

  out.clear();
  append_to_payload(PacketType::message, "hello", false, out);
  append_to_payload(PacketType::message, "\x01\x02\x03\x04", true, out);
  CHECK(out == "4hello\x1e" "bAQIDBA==");

  out.clear();
  append_to_payload(PacketType::message, "\0\x01\x02"s, true, out);  // binary first: no separator either
  CHECK(out == "bAAEC");
  append_to_payload(PacketType::message, "", true, out);
  CHECK(out == "bAAEC\x1e" "b");
}

TEST_CASE("packet: encode(decode(x)) == x for valid payloads", "[engine][packet]") {
  for (const std::string& payload : {
           "4hello"s,
           "4hello\x1e" "2\x1e" "4world"s,
           "4hello\x1e" "bAQIDBA=="s,
           "bAQIDBA==\x1e" "4hello"s,
           "b"s,
           "b\x1e" "b"s,
           "1"s,
           "2probe\x1e" "3probe\x1e" "5\x1e" "6"s,
           "0{\"sid\":\"x\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}"s,
           "4\0\0\x1e" "4\x7f"s,
           "4caf\xc3\xa9\x1e" "4\xf4\x8f\xbf\xbf"s,
           "4b\x1e" "44\x1e" "4bAQIDBA=="s,  // text data that looks like a binary element or a type digit
           "bAA==\x1e" "bAAA=\x1e" "bAAAA\x1e" "b////\x1e" "b+/+/"s,
       }) {
    INFO("payload \"" << payload << "\"");
    const auto d = decode(payload);
    REQUIRE(d.status == DecodeStatus::ok);
    CHECK(encode_payload(d.packets) == payload);
  }
}

TEST_CASE("packet: a 1 MB payload of many packets round-trips", "[engine][packet]") {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> letter('a', 'z');
  std::vector<Packet> packets;
  std::string payload;
  for (std::size_t i = 0; payload.size() < (1u << 20); ++i) {
    Packet p;
    if (i % 3 == 0) {
      p = binary(std::string(200 + i % 7, '\0'));
      for (char& c : p.data) c = static_cast<char>(byte(rng));
    } else {
      p = text(static_cast<PacketType>(i % 7), std::string(150 + i % 11, 'x'));
      for (char& c : p.data) c = static_cast<char>(letter(rng));
      p.data += "\xe2\x82\xac";
    }
    append_to_payload(p.type, p.data, p.binary, payload);
    packets.push_back(std::move(p));
  }
  REQUIRE(payload.size() >= (1u << 20));
  const auto d = decode(payload);
  REQUIRE(d.status == DecodeStatus::ok);
  REQUIRE(d.packets.size() == packets.size());
  CHECK(show(d.packets) == show(packets));
  CHECK(encode_payload(d.packets) == payload);
}

TEST_CASE("packet: randomized round-trip of packet lists", "[engine][packet]") {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> count(1, 12);
  std::uniform_int_distribution<int> type(0, 6);
  std::uniform_int_distribution<int> kind(0, 3);  // 0: binary, otherwise text
  std::uniform_int_distribution<int> length(0, 24);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> char_class(0, 9);
  // Text characters: ASCII (including controls and NUL but never 0x1E) and 2, 3 and 4 byte UTF-8.
  const std::string multibyte[] = {"\xc3\xa9", "\xdf\xbf", "\xe2\x82\xac", "\xed\x9f\xbf", "\xef\xbf\xbf",
                                   "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf"};
  std::uniform_int_distribution<std::size_t> pick_multibyte(0, std::size(multibyte) - 1);
  std::uniform_int_distribution<int> ascii(0, 0x7f);

  for (int iteration = 0; iteration < 3000; ++iteration) {
    std::vector<Packet> packets(static_cast<std::size_t>(count(rng)));
    for (auto& p : packets) {
      const int n = length(rng);
      if (kind(rng) == 0) {
        p = binary("");
        for (int i = 0; i < n; ++i) p.data += static_cast<char>(byte(rng));
      } else {
        p = text(static_cast<PacketType>(type(rng)), "");
        for (int i = 0; i < n; ++i) {
          if (char_class(rng) < 3) {
            p.data += multibyte[pick_multibyte(rng)];
          } else {
            char c;
            do c = static_cast<char>(ascii(rng));
            while (c == kRecordSeparator);
            p.data += c;
          }
        }
      }
    }
    std::string payload;
    for (const auto& p : packets) append_to_payload(p.type, p.data, p.binary, payload);
    INFO("iteration " << iteration << ", payload \"" << payload << "\"");
    const auto d = decode(payload);
    REQUIRE(d.status == DecodeStatus::ok);
    REQUIRE(show(d.packets) == show(packets));
    REQUIRE(encode_payload(d.packets) == payload);

    // Each packet also round-trips on its own over WebSocket.
    for (const auto& p : packets) {
      Packet back;
      if (p.binary) {
        REQUIRE(decode_ws_message(p.data, true, back) == DecodeStatus::ok);
      } else {
        std::string frame;
        encode_text_packet(p.type, p.data, frame);
        REQUIRE(decode_ws_message(frame, false, back, true) == DecodeStatus::ok);
      }
      REQUIRE(show(back) == show(p));
    }
  }
}
