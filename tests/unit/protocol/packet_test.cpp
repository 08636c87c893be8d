// Unit tests for the Socket.IO v5 packet codec (src/protocol/packet.hpp): encoding, the incremental
// decoder with binary attachments, validation, and raw wire text of decoded arguments.
// Vectors from https://github.com/socketio/socket.io/blob/main/docs/socket.io-protocol/v5-current.md
// and socket.io-parser's test suite (test/parser.js, test/buffer.js, test/arraybuffer.js).

#include "protocol/packet.hpp"

#include <catch2/catch.hpp>

#include "../child_process.hpp"

#include <fcntl.h>
#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using courier::Array;
using courier::Value;
using courier::detail::decode_text_packet;
using courier::detail::Decoder;
using courier::detail::encode;
using courier::detail::EncodedPacket;
using courier::detail::kDefaultMaxAttachments;
using courier::detail::SioPacket;
using courier::detail::SioType;

using courier_test::exit_code_in_child;

namespace {

using namespace std::string_literals;
using Status = Decoder::Status;

const char* status_name(Status s) {
  switch (s) {
    case Status::ok: return "ok";
    case Status::need_more: return "need_more";
    case Status::error: return "error";
  }
  return "?";
}

SioPacket make(SioType type, std::string nsp, std::optional<std::uint64_t> id = std::nullopt,
               std::optional<Value> data = std::nullopt) {
  SioPacket p;
  p.type = type;
  p.nsp = std::move(nsp);
  p.id = id;
  if (data) {
    p.data = std::move(*data);
    p.has_data = true;
  }
  return p;
}

std::vector<std::string> attachments_of(const EncodedPacket& e) {
  std::vector<std::string> out;
  for (const auto& a : e.attachments) out.push_back(*a);
  return out;
}

struct Decoded {
  Status status = Status::error;
  SioPacket packet;
  std::string error;
};

// Feeds a text message then each binary message to `d`; every step but the last must need more.
Decoded feed(Decoder& d, std::string_view text, const std::vector<std::string>& binaries = {}) {
  Decoded r;
  r.status = d.feed_text(text, r.packet);
  for (const auto& b : binaries) {
    if (r.status != Status::need_more) break;
    r.status = d.feed_binary(b, r.packet);
  }
  if (r.status == Status::error) r.error = d.error();
  return r;
}

Decoded decode(std::string_view text, const std::vector<std::string>& binaries = {}) {
  Decoder d;
  return feed(d, text, binaries);
}

// Expects `text` (plus binaries) to be rejected, then a fresh valid packet to decode on the same decoder.
void expect_error(std::string_view text, const std::vector<std::string>& binaries = {}) {
  Decoder d;
  const Decoded r = feed(d, text, binaries);
  INFO("input: " << text << " (+" << binaries.size() << " binary)");
  INFO("status: " << status_name(r.status));
  CHECK(r.status == Status::error);
  CHECK_FALSE(d.error().empty());
  const Decoded next = feed(d, R"(2["ok",1])");
  INFO("decoder error after recovery: " << d.error());
  REQUIRE(next.status == Status::ok);
  CHECK(next.packet.data == Value::array({"ok", 1}));
}

Value placeholder(int n) { return Value::object({{"_placeholder", true}, {"num", n}}); }


}  // namespace

// ---------------------------------------------------------------------------------------------
// encode

TEST_CASE("encode: CONNECT", "[sio-packet]") {
  const EncodedPacket main = encode(make(SioType::connect, "/"));
  CHECK(*main.text == "0");
  CHECK(main.attachments.empty());
  CHECK(*encode(make(SioType::connect, "/admin", std::nullopt, Value::object({{"sid", "x"}}))).text ==
        R"(0/admin,{"sid":"x"})");
  CHECK(*encode(make(SioType::connect, "/admin", std::nullopt, Value::object({{"sid", "oSO0OpakMV_3jnilAAAA"}})))
             .text == R"(0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"})");
  CHECK(*encode(make(SioType::connect, "/", std::nullopt, Value::object({{"sid", "wZX3oN0bSVIhsaknAAAI"}}))).text ==
        R"(0{"sid":"wZX3oN0bSVIhsaknAAAI"})");
  CHECK(*encode(make(SioType::connect, "/admin")).text == "0/admin,");
  // socket.io-parser test/parser.js "encodes connection"
  CHECK(*encode(make(SioType::connect, "/woot", std::nullopt, Value::object({{"token", "123"}}))).text ==
        R"(0/woot,{"token":"123"})");
}

TEST_CASE("encode: DISCONNECT", "[sio-packet]") {
  CHECK(*encode(make(SioType::disconnect, "/")).text == "1");
  CHECK(*encode(make(SioType::disconnect, "/admin")).text == "1/admin,");
  CHECK(*encode(make(SioType::disconnect, "/woot")).text == "1/woot,");
}

TEST_CASE("encode: EVENT and ACK", "[sio-packet]") {
  CHECK(*encode(make(SioType::event, "/", std::nullopt, Value::array({"a", 1}))).text == R"(2["a",1])");
  CHECK(*encode(make(SioType::event, "/", std::nullopt, Value::array({"foo"}))).text == R"(2["foo"])");
  CHECK(*encode(make(SioType::event, "/admin", std::nullopt, Value::array({"bar"}))).text == R"(2/admin,["bar"])");
  CHECK(*encode(make(SioType::event, "/admin", 12, Value::array({"a"}))).text == R"(2/admin,12["a"])");
  CHECK(*encode(make(SioType::event, "/", 12, Value::array({"foo"}))).text == R"(212["foo"])");
  CHECK(*encode(make(SioType::event, "/", 0, Value::array({"zero"}))).text == R"(20["zero"])");
  CHECK(*encode(make(SioType::event, "/test", 1, Value::array({"a", 1, Value::object()}))).text ==
        R"(2/test,1["a",1,{}])");
  CHECK(*encode(make(SioType::ack, "/admin", 12, Value::array())).text == R"(3/admin,12[])");
  CHECK(*encode(make(SioType::ack, "/admin", 13, Value::array({"bar"}))).text == R"(3/admin,13["bar"])");
  CHECK(*encode(make(SioType::ack, "/", 123, Value::array({"a", 1, Value::object()}))).text == R"(3123["a",1,{}])");
  CHECK(*encode(make(SioType::ack, "/", 12, Value::array())).text == "312[]");
  CHECK(*encode(make(SioType::event, "/", std::numeric_limits<std::uint64_t>::max(), Value::array({"m"}))).text ==
        R"(218446744073709551615["m"])");
  CHECK(encode(make(SioType::event, "/", std::nullopt, Value::array({"a", 1}))).attachments.empty());
}

TEST_CASE("encode: CONNECT_ERROR", "[sio-packet]") {
  // Over the wire Engine.IO prefixes a '4': 44{"message":"Invalid namespace"}.
  CHECK(*encode(make(SioType::connect_error, "/", std::nullopt, Value::object({{"message", "Invalid namespace"}})))
             .text == R"(4{"message":"Invalid namespace"})");
  CHECK("4" + *encode(make(SioType::connect_error, "/", std::nullopt,
                           Value::object({{"message", "Invalid namespace"}})))
                   .text ==
        R"(44{"message":"Invalid namespace"})");
  CHECK(*encode(make(SioType::connect_error, "/admin", std::nullopt, Value::object({{"message", "Invalid namespace"}})))
             .text == R"(4/admin,{"message":"Invalid namespace"})");
  CHECK(*encode(make(SioType::connect_error, "/", std::nullopt, Value::object({{"message", "Not authorized"}})))
             .text == R"(4{"message":"Not authorized"})");
  CHECK(*encode(make(SioType::connect_error, "/", std::nullopt, Value("Unauthorized"))).text == R"(4"Unauthorized")");
  CHECK(*encode(make(SioType::connect_error, "/", std::nullopt,
                     Value::object({{"message", "Not authorized"}, {"data", Value::object({{"code", 7}})}})))
             .text == R"(4{"message":"Not authorized","data":{"code":7}})");
}

TEST_CASE("encode: binary event becomes BINARY_EVENT with attachments", "[sio-packet]") {
  SECTION("one buffer") {
    const EncodedPacket e = encode(make(SioType::event, "/", std::nullopt, Value::array({"a", Value::binary("\x01\x02\x03\x04")})));
    CHECK(*e.text == R"(51-["a",{"_placeholder":true,"num":0}])");
    REQUIRE(e.attachments.size() == 1);
    CHECK(*e.attachments[0] == "\x01\x02\x03\x04");
  }
  SECTION("spec: multiple attachments on a namespace") {
    const EncodedPacket e = encode(make(SioType::event, "/admin", std::nullopt,
                                        Value::array({"baz", Value::binary("\x01\x02"), Value::binary("\x03\x04")})));
    CHECK(*e.text == R"(52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
    CHECK(attachments_of(e) == std::vector<std::string>{"\x01\x02", "\x03\x04"});
  }
  SECTION("buffer.js: with id and namespace") {
    const EncodedPacket e = encode(make(SioType::event, "/cool", 23, Value::array({"a", Value::binary("abc")})));
    CHECK(*e.text == R"(51-/cool,23["a",{"_placeholder":true,"num":0}])");
    CHECK(attachments_of(e) == std::vector<std::string>{"abc"});
  }
  SECTION("buffer.js: nested buffer") {
    const EncodedPacket e =
        encode(make(SioType::event, "/cool", 23,
                    Value::array({"a", Value::object({{"b", Value::array({"c", Value::binary("abc")})}})})));
    CHECK(*e.text == R"(51-/cool,23["a",{"b":["c",{"_placeholder":true,"num":0}]}])");
    CHECK(attachments_of(e) == std::vector<std::string>{"abc"});
  }
  SECTION("arraybuffer.js: buffers deep in JSON, numbered in document order") {
    const Value data = Value::array(
        {"a", Value::object({{"a", "hi"},
                             {"b", Value::object({{"why", Value::binary(std::string(3, '\0'))}})},
                             {"c", Value::object({{"a", "bye"}, {"b", Value::object({{"a", Value::binary(std::string(6, '\0'))}})}})}})});
    const EncodedPacket e = encode(make(SioType::event, "/deep", 999, data));
    CHECK(*e.text ==
          R"(52-/deep,999["a",{"a":"hi","b":{"why":{"_placeholder":true,"num":0}},"c":{"a":"bye","b":{"a":{"_placeholder":true,"num":1}}}}])");
    REQUIRE(e.attachments.size() == 2);
    CHECK(e.attachments[0]->size() == 3);
    CHECK(e.attachments[1]->size() == 6);
  }
  SECTION("nested binaries are numbered in document order") {
    const Value data = Value::array(
        {"ev", Value::binary("b0"),
         Value::object({{"x", Value::binary("b1")}, {"y", Value::array({Value::binary("b2"), Value::object({{"z", Value::binary("b3")}})})}}),
         Value::array({Value::array({Value::binary("b4")})}), Value::binary("b5")});
    const EncodedPacket e = encode(make(SioType::event, "/", std::nullopt, data));
    CHECK(*e.text ==
          R"(56-["ev",{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1},"y":[{"_placeholder":true,"num":2},{"z":{"_placeholder":true,"num":3}}]},[[{"_placeholder":true,"num":4}]],{"_placeholder":true,"num":5}])");
    CHECK(attachments_of(e) == std::vector<std::string>{"b0", "b1", "b2", "b3", "b4", "b5"});
  }
  SECTION("arbitrary bytes are carried unchanged") {
    std::string all;
    for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
    const EncodedPacket e = encode(make(SioType::event, "/", std::nullopt, Value::array({"bytes", Value::binary(all), Value::binary("")})));
    REQUIRE(e.attachments.size() == 2);
    CHECK(*e.attachments[0] == all);
    CHECK(e.attachments[1]->empty());
    CHECK(e.text->find('\0') == std::string::npos);
  }
}

TEST_CASE("encode: binary ack becomes BINARY_ACK", "[sio-packet]") {
  const EncodedPacket e = encode(make(SioType::ack, "/", 15, Value::array({"bar", Value::binary("\x01\x02\x03\x04")})));
  CHECK(*e.text == R"(61-15["bar",{"_placeholder":true,"num":0}])");
  CHECK(attachments_of(e) == std::vector<std::string>{"\x01\x02\x03\x04"});
  // buffer.js "encodes a binary ack with Buffer"
  const EncodedPacket b = encode(make(SioType::ack, "/back", 127, Value::array({"a", Value::binary("xxx"), Value::object()})));
  CHECK(*b.text == R"(61-/back,127["a",{"_placeholder":true,"num":0},{}])");
  // spec sample session
  const EncodedPacket s = encode(make(SioType::ack, "/admin", 1, Value::array({Value::binary("\x07")})));
  CHECK(*s.text == R"(61-/admin,1[{"_placeholder":true,"num":0}])");
}

TEST_CASE("encode: the input packet is not modified", "[sio-packet]") {
  const SioPacket p = make(SioType::event, "/", std::nullopt, Value::array({"a", Value::binary("\x01\x02\x03"), Value::binary("\x04\x05\x06")}));
  const SioPacket copy = p;
  const EncodedPacket e = encode(p);
  CHECK(e.attachments.size() == 2);
  CHECK(p.data == copy.data);
  CHECK(p.type == SioType::event);
  CHECK(p.data[1].is_binary());
}

// ---------------------------------------------------------------------------------------------
// Decoder: valid packets

TEST_CASE("Decoder: every example of the v5 spec", "[sio-packet]") {
  struct Case {
    std::string text;
    std::vector<std::string> binaries;
    SioType type;
    std::string nsp;
    std::optional<std::uint64_t> id;
    std::optional<Value> data;
  };
  const Value p0 = placeholder(0);
  const std::vector<Case> cases{
      {"0", {}, SioType::connect, "/", std::nullopt, std::nullopt},
      {"0/admin,", {}, SioType::connect, "/admin", std::nullopt, std::nullopt},
      {R"(0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"})", {}, SioType::connect, "/admin", std::nullopt,
       Value::object({{"sid", "oSO0OpakMV_3jnilAAAA"}})},
      {R"(0{"sid":"wZX3oN0bSVIhsaknAAAI"})", {}, SioType::connect, "/", std::nullopt,
       Value::object({{"sid", "wZX3oN0bSVIhsaknAAAI"}})},
      {R"(0/admin,{"token":"123"})", {}, SioType::connect, "/admin", std::nullopt, Value::object({{"token", "123"}})},
      {R"(0/admin,{"sid":"-G5j-67EZFp-q59rADQM"})", {}, SioType::connect, "/admin", std::nullopt,
       Value::object({{"sid", "-G5j-67EZFp-q59rADQM"}})},
      {R"(4{"message":"Not authorized"})", {}, SioType::connect_error, "/", std::nullopt,
       Value::object({{"message", "Not authorized"}})},
      {R"(2["foo"])", {}, SioType::event, "/", std::nullopt, Value::array({"foo"})},
      {R"(2/admin,["bar"])", {}, SioType::event, "/admin", std::nullopt, Value::array({"bar"})},
      {R"(2["hey","Jude"])", {}, SioType::event, "/", std::nullopt, Value::array({"hey", "Jude"})},
      {R"(2["hello"])", {}, SioType::event, "/", std::nullopt, Value::array({"hello"})},
      {R"(2["world"])", {}, SioType::event, "/", std::nullopt, Value::array({"world"})},
      {R"(51-["baz",{"_placeholder":true,"num":0}])", {"\x01\x02\x03\x04"}, SioType::binary_event, "/", std::nullopt,
       Value::array({"baz", Value::binary("\x01\x02\x03\x04")})},
      {R"(52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])", {"\x01\x02", "\x03\x04"},
       SioType::binary_event, "/admin", std::nullopt,
       Value::array({"baz", Value::binary("\x01\x02"), Value::binary("\x03\x04")})},
      {R"(212["foo"])", {}, SioType::event, "/", 12, Value::array({"foo"})},
      {"312[]", {}, SioType::ack, "/", 12, Value::array()},
      {R"(2/admin,13["foo"])", {}, SioType::event, "/admin", 13, Value::array({"foo"})},
      {R"(3/admin,13["bar"])", {}, SioType::ack, "/admin", 13, Value::array({"bar"})},
      {R"(51-14["foo",{"_placeholder":true,"num":0}])", {"\x01\x02\x03\x04"}, SioType::binary_event, "/", 14,
       Value::array({"foo", Value::binary("\x01\x02\x03\x04")})},
      {R"(314["bar"])", {}, SioType::ack, "/", 14, Value::array({"bar"})},
      {R"(215["foo"])", {}, SioType::event, "/", 15, Value::array({"foo"})},
      {R"(61-15["bar",{"_placeholder":true,"num":0}])", {"\x01\x02\x03\x04"}, SioType::binary_ack, "/", 15,
       Value::array({"bar", Value::binary("\x01\x02\x03\x04")})},
      {"1", {}, SioType::disconnect, "/", std::nullopt, std::nullopt},
      {"1/admin,", {}, SioType::disconnect, "/admin", std::nullopt, std::nullopt},
      {R"(2/admin,1["tellme"])", {}, SioType::event, "/admin", 1, Value::array({"tellme"})},
      {R"(61-/admin,1[{"_placeholder":true,"num":0}])", {"\xde\xad"}, SioType::binary_ack, "/admin", 1,
       Value::array({Value::binary("\xde\xad")})},
      // socket.io-parser test/parser.js vectors
      {R"(0/woot,{"token":"123"})", {}, SioType::connect, "/woot", std::nullopt, Value::object({{"token", "123"}})},
      {"1/woot,", {}, SioType::disconnect, "/woot", std::nullopt, std::nullopt},
      {R"(2["a",1,{}])", {}, SioType::event, "/", std::nullopt, Value::array({"a", 1, Value::object()})},
      {R"(2/test,1["a",1,{}])", {}, SioType::event, "/test", 1, Value::array({"a", 1, Value::object()})},
      {R"(3123["a",1,{}])", {}, SioType::ack, "/", 123, Value::array({"a", 1, Value::object()})},
      {R"(4"Unauthorized")", {}, SioType::connect_error, "/", std::nullopt, Value("Unauthorized")},
      {R"(4{"message":"Unauthorized"})", {}, SioType::connect_error, "/", std::nullopt,
       Value::object({{"message", "Unauthorized"}})},
      {R"(51-/cool,23["a",{"b":["c",{"_placeholder":true,"num":0}]}])", {"abc"}, SioType::binary_event, "/cool", 23,
       Value::array({"a", Value::object({{"b", Value::array({"c", Value::binary("abc")})}})})},
      {R"(61-/back,127["a",{"_placeholder":true,"num":0},{}])", {"xxx"}, SioType::binary_ack, "/back", 127,
       Value::array({"a", Value::binary("xxx"), Value::object()})},
  };
  for (const auto& c : cases) {
    INFO("input: " << c.text);
    const Decoded r = decode(c.text, c.binaries);
    INFO("error: " << r.error);
    REQUIRE(r.status == Status::ok);
    CHECK(r.packet.type == c.type);
    CHECK(r.packet.nsp == c.nsp);
    CHECK(r.packet.id == c.id);
    CHECK(r.packet.has_data == c.data.has_value());
    if (c.data) {
      CHECK(r.packet.data == *c.data);
    } else {
      CHECK(r.packet.data.is_null());
    }
  }
}

TEST_CASE("Decoder: binary event reassembled from text and N binary messages", "[sio-packet]") {
  Decoder d;
  SioPacket out;
  const std::string text =
      R"(53-/admin,7["upload",{"name":"f","chunks":[{"_placeholder":true,"num":2},{"_placeholder":true,"num":0}]},{"_placeholder":true,"num":1},"tail"])";
  REQUIRE(d.feed_text(text, out) == Status::need_more);
  REQUIRE(d.feed_binary("zero"s, out) == Status::need_more);
  REQUIRE(d.feed_binary(std::string("o\0ne", 4), out) == Status::need_more);
  REQUIRE(d.feed_binary("two"s, out) == Status::ok);
  CHECK(out.type == SioType::binary_event);
  CHECK(out.nsp == "/admin");
  CHECK(out.id == 7u);
  REQUIRE(out.data.size() == 4);
  CHECK(out.data[0].as_string() == "upload");
  CHECK(out.data[1]["name"].as_string() == "f");
  CHECK(out.data[1]["chunks"][0].is_binary());
  CHECK(out.data[1]["chunks"][0].as_binary() == "two");
  CHECK(out.data[1]["chunks"][1].as_binary() == "zero");
  CHECK(out.data[2].as_binary() == std::string("o\0ne", 4));
  CHECK(out.data[3].as_string() == "tail");
  CHECK(out.data.has_binary());

  // The decoder is ready for the next packet, text or binary.
  REQUIRE(d.feed_text(R"(2["next"])", out) == Status::ok);
  CHECK(out.data == Value::array({"next"}));
  REQUIRE(d.feed_text(R"(51-["again",{"_placeholder":true,"num":0}])", out) == Status::need_more);
  REQUIRE(d.feed_binary("bytes"s, out) == Status::ok);
  CHECK(out.data == Value::array({"again", Value::binary("bytes")}));
}

TEST_CASE("Decoder: the same placeholder may be used twice, and unused attachments are fine", "[sio-packet]") {
  const Decoded twice = decode(R"(51-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}])", {"x"});
  REQUIRE(twice.status == Status::ok);
  CHECK(twice.packet.data == Value::array({"a", Value::binary("x"), Value::binary("x")}));
  const Decoded unused = decode(R"(52-["a",{"_placeholder":true,"num":1}])", {"x", "y"});
  REQUIRE(unused.status == Status::ok);
  CHECK(unused.packet.data == Value::array({"a", Value::binary("y")}));
}

TEST_CASE("Decoder: binary packets announcing zero attachments are refused", "[sio-packet]") {
  // socket.io-parser 4.2 refuses them too ("illegal attachments").
  expect_error(R"(50-["a",1])");
  expect_error("60-/x,4[]");
  expect_error(R"(500-["a",1])");
}

namespace {
std::string many_placeholders(std::size_t n) {
  std::string text = "5" + std::to_string(n) + "-[\"many\"";
  for (std::size_t i = 0; i < n; ++i) text += ",{\"_placeholder\":true,\"num\":" + std::to_string(i) + "}";
  return text + "]";
}

// Feeds a packet with `n` attachments to `d`; returns the final status.
Status feed_many(Decoder& d, std::size_t n, SioPacket& out) {
  Status s = d.feed_text(many_placeholders(n), out);
  for (std::size_t i = 0; i < n && s == Status::need_more; ++i) {
    s = d.feed_binary(std::to_string(i), out);
    if (i + 1 < n && s != Status::need_more) return Status::error;
  }
  return s;
}
}  // namespace

TEST_CASE("Decoder: the attachment limit", "[sio-packet]") {
  SioPacket out;
  SECTION("default: socket.io-parser's 10") {
    CHECK(kDefaultMaxAttachments == 10);
    Decoder d;
    REQUIRE(feed_many(d, kDefaultMaxAttachments, out) == Status::ok);
    REQUIRE(out.data.size() == kDefaultMaxAttachments + 1);
    CHECK(out.data[1].as_binary() == "0");
    CHECK(out.data[kDefaultMaxAttachments].as_binary() == std::to_string(kDefaultMaxAttachments - 1));
    CHECK(d.feed_text(many_placeholders(kDefaultMaxAttachments + 1), out) == Status::error);
    CHECK(d.error().find("attachment") != std::string::npos);
    REQUIRE(feed_many(d, 1, out) == Status::ok);  // usable again
  }
  SECTION("configured higher") {
    Decoder d(1000);
    REQUIRE(feed_many(d, 1000, out) == Status::ok);
    REQUIRE(out.data.size() == 1001);
    CHECK(out.data[1000].as_binary() == "999");
    CHECK(d.feed_text(many_placeholders(1001), out) == Status::error);
  }
  SECTION("configured lower") {
    Decoder d(2);
    REQUIRE(feed_many(d, 2, out) == Status::ok);
    CHECK(d.feed_text(many_placeholders(3), out) == Status::error);
    Decoder one(1);
    CHECK(one.feed_text(R"(62-1[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])", out) == Status::error);
  }
  SECTION("decode_text_packet takes the limit too") {
    SioPacket p;
    std::size_t n = 0;
    std::string error;
    CHECK(decode_text_packet(many_placeholders(10), p, n, error));
    CHECK(n == 10);
    CHECK_FALSE(decode_text_packet(many_placeholders(11), p, n, error));
    CHECK(decode_text_packet(many_placeholders(11), p, n, error, 11));
    CHECK(n == 11);
    CHECK_FALSE(decode_text_packet(many_placeholders(3), p, n, error, 2));
  }
}

TEST_CASE("Decoder: namespaces, ids and payload details", "[sio-packet]") {
  SECTION("a namespace without payload and without comma") {
    const Decoded r = decode("0/admin");
    REQUIRE(r.status == Status::ok);
    CHECK(r.packet.nsp == "/admin");
    CHECK_FALSE(r.packet.has_data);
  }
  SECTION("nested namespace names and query-like characters") {
    const Decoded r = decode(R"(2/a/b?c=d,["e"])");
    REQUIRE(r.status == Status::ok);
    CHECK(r.packet.nsp == "/a/b?c=d");
  }
  SECTION("64-bit ack id") {
    const Decoded r = decode(R"(218446744073709551615["m"])");
    REQUIRE(r.status == Status::ok);
    CHECK(r.packet.id == std::numeric_limits<std::uint64_t>::max());
  }
  SECTION("ack id 0") {
    const Decoded r = decode(R"(30[])");
    REQUIRE(r.status == Status::ok);
    CHECK(r.packet.id == 0u);
  }
  SECTION("an event name that is only whitespace or empty is still a string") {
    const Decoded r = decode(R"(2["",1])");
    REQUIRE(r.status == Status::ok);
    CHECK(r.packet.data[0].as_string().empty());
  }
  SECTION("reserved names are only reserved as the event name") {
    const Decoded r = decode(R"(2["msg","connect","disconnect"])");
    REQUIRE(r.status == Status::ok);
    CHECK(r.packet.data.size() == 3);
    const Decoded a = decode(R"(3["connect"])");
    REQUIRE(a.status == Status::ok);
  }
  SECTION("placeholders in a plain EVENT are ordinary objects") {
    const Decoded r = decode(R"(2["a",{"_placeholder":true,"num":0}])");
    REQUIRE(r.status == Status::ok);
    CHECK_FALSE(r.packet.data.has_binary());
    CHECK(r.packet.data[1] == placeholder(0));
  }
  SECTION("64-bit integers in arguments are exact") {
    const Decoded r = decode(R"(2["n",1795329446586541802,-9223372036854775808,9223372036854775807,18446744073709551615,{"t":1795329446586541802}])");
    REQUIRE(r.status == Status::ok);
    CHECK(r.packet.data[1].as_int() == 1795329446586541802LL);
    CHECK(r.packet.data[1].type() == Value::Type::integer);
    CHECK(r.packet.data[2].as_int() == std::numeric_limits<std::int64_t>::min());
    CHECK(r.packet.data[3].as_int() == std::numeric_limits<std::int64_t>::max());
    CHECK(r.packet.data[4].as_uint() == std::numeric_limits<std::uint64_t>::max());
    CHECK(r.packet.data[5]["t"].as_int() == 1795329446586541802LL);
    // Re-serialized (not raw) they are exact too.
    CHECK(Value::array({r.packet.data[5]["t"]}).to_json() == "[1795329446586541802]");
  }
}

TEST_CASE("decode_text_packet: binary types keep placeholders and report the count", "[sio-packet]") {
  SioPacket out;
  std::size_t n = 99;
  std::string error;
  REQUIRE(decode_text_packet(R"(52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])", out,
                             n, error));
  CHECK(n == 2);
  CHECK(out.type == SioType::binary_event);
  CHECK(out.nsp == "/admin");
  CHECK(out.data == Value::array({"baz", placeholder(0), placeholder(1)}));
  REQUIRE(decode_text_packet(R"(2["a"])", out, n, error));
  CHECK(n == 0);
  CHECK_FALSE(decode_text_packet("2{}", out, n, error));
  CHECK_FALSE(error.empty());
}

// ---------------------------------------------------------------------------------------------
// Decoder: errors

TEST_CASE("Decoder: rejects empty packets and unknown types", "[sio-packet]") {
  expect_error("");
  expect_error("7");
  expect_error("7[\"a\"]");
  expect_error("x");
  expect_error("9");
  expect_error("999");  // parser.js: unknown packet type 9
  expect_error("/");
  expect_error("[\"a\"]");
  expect_error(" 2[\"a\"]");
}

TEST_CASE("Decoder: rejects bad attachment headers", "[sio-packet]") {
  expect_error("5");                                               // parser.js "decodes a bad binary packet"
  expect_error("6");
  expect_error(R"(5-["a",{"_placeholder":true,"num":0}])");       // no count
  expect_error(R"(5a-["a"])");                                     // not a number
  expect_error(R"(51a-["a"])");
  expect_error(R"(5 1-["a"])");
  expect_error(R"(5+1-["a"])");
  expect_error(R"(5-1-["a"])");
  expect_error(R"(51["a",{"_placeholder":true,"num":0}])");       // missing dash
  expect_error(R"(51/admin,["a"])");                               // missing dash before the namespace
  expect_error(R"(51["a",-1])");                                   // the only dash is inside the JSON
  expect_error("51");
  expect_error("51-");                                             // no payload
  expect_error(R"(61-)");
  expect_error(R"(61-15)");
  expect_error(R"(51234567890-["a"])");                            // absurdly long count
  expect_error(R"(599999999999999999999999-["a"])");
}

TEST_CASE("Decoder: rejects more attachments than the default limit", "[sio-packet]") {
  const std::string over = std::to_string(kDefaultMaxAttachments + 1);
  expect_error("5" + over + R"(-["a"])");
  expect_error("6" + over + R"(-1[])");
  expect_error(R"(5999999999-["a"])");
  expect_error(R"(51000-["a"])");
  {
    Decoder d;
    SioPacket out;
    REQUIRE(d.feed_text("5" + over + R"(-["a"])", out) == Status::error);
    CHECK(d.error().find("attachment") != std::string::npos);
  }
}

TEST_CASE("Decoder: rejects bad JSON and trailing garbage", "[sio-packet]") {
  expect_error(R"(2["a")");
  expect_error(R"(2["some","data")");  // parser.js: 442["some","data" without the Engine.IO '4'
  expect_error(R"(2/admin,"invalid)");
  expect_error(R"(2[a])");
  expect_error(R"(2['a'])");
  expect_error(R"(2["a",])");
  expect_error(R"(2["a",NaN])");
  expect_error(R"(2["a"]x)");
  expect_error(R"(2["a"]])");
  expect_error(R"(2["a"]["b"])");
  expect_error(R"(2["a"] ["b"])");
  expect_error(R"(2["a"],)");
  expect_error(R"(0{"a":1}})");
  expect_error(R"(0{"a":1} x)");
  expect_error(R"(212["a"]3)");
  expect_error(R"(3/admin,13["bar"]garbage)");
  expect_error(R"(51-["a",{"_placeholder":true,"num":0}]x)");
  expect_error(R"(2/admin,{bad})");
}

TEST_CASE("Decoder: rejects trailing garbage after an embedded NUL", "[sio-packet]") {
  // JSON.parse('["a"]\u0000x') throws; the text after the JSON must be rejected whatever it is.
  expect_error(std::string_view("2[\"a\"]\0x", 8));
  expect_error(std::string_view("2[\"a\"]\0", 7));
  expect_error(std::string_view("0{\"a\":1}\0{\"b\":2}", 16));
}

TEST_CASE("Decoder: rejects invalid EVENT payloads", "[sio-packet]") {
  expect_error("2");                        // no payload
  expect_error("2/admin,");
  expect_error("212");
  expect_error("2[]");                      // empty array
  expect_error("2/admin,{}");               // parser.js
  expect_error("2{}");
  expect_error(R"(2"a")");
  expect_error("2null");
  expect_error("2 1");
  expect_error(R"(2[{"toString":"foo"}])");  // parser.js
  expect_error(R"(2[true,"foo"])");          // parser.js
  expect_error(R"(2[null,"bar"])");          // parser.js
  expect_error(R"(2[1,"a",{}])");            // numeric names: socket.io-parser accepts them, courier requires a string
  expect_error(R"(2[["a"]])");
  expect_error(R"(50-[])");
  expect_error(R"(51-[{"_placeholder":true,"num":0}])", {"x"});  // name is binary
  expect_error(R"(51-{"a":{"_placeholder":true,"num":0}})", {"x"});
}

TEST_CASE("Decoder: rejects reserved event names", "[sio-packet]") {
  for (const char* name : {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}) {
    INFO(name);
    expect_error("2[\"" + std::string(name) + "\"]");
    expect_error("2/admin,5[\"" + std::string(name) + "\",1]");
    expect_error("51-[\"" + std::string(name) + "\",{\"_placeholder\":true,\"num\":0}]", {"x"});
  }
  expect_error(R"(2["disconnect","123"])");  // parser.js
  // Only exact names are reserved.
  CHECK(decode(R"(2["Connect"])").status == Status::ok);
  CHECK(decode(R"(2["connect "])").status == Status::ok);
  CHECK(decode(R"(2["connection"])").status == Status::ok);
}

TEST_CASE("Decoder: rejects invalid ACK, DISCONNECT, CONNECT and CONNECT_ERROR payloads", "[sio-packet]") {
  SECTION("ACK must carry an array") {
    expect_error("3");
    expect_error("312");
    expect_error("3/admin,12");
    expect_error("312{}");
    expect_error(R"(312"a")");
    expect_error("312null");
    expect_error("312 5");
    expect_error(R"(61-15{"a":{"_placeholder":true,"num":0}})", {"x"});
  }
  SECTION("DISCONNECT takes no payload") {
    expect_error("1/admin,{}");  // parser.js
    expect_error("1{}");
    expect_error("1[]");
    expect_error("1null");
    expect_error(R"(1"bye")");
  }
  SECTION("CONNECT payload must be an object") {
    expect_error("0[]");                  // parser.js
    expect_error(R"(0/admin,"invalid")");  // parser.js
    expect_error("0null");
    expect_error("0/admin,[]");
    expect_error(R"(0"s")");
    expect_error("0true");
  }
  SECTION("CONNECT_ERROR payload must be an object or a string") {
    expect_error("4");
    expect_error("4[]");
    expect_error("4null");
    expect_error("4/admin,[\"x\"]");
  }
}

TEST_CASE("Decoder: rejects bad ack ids", "[sio-packet]") {
  expect_error(R"(218446744073709551616["overflow"])");
  expect_error(R"(299999999999999999999999["overflow"])");
}

TEST_CASE("Decoder: placeholder referring to a missing attachment", "[sio-packet]") {
  // buffer.js: out-of-bound num
  expect_error(R"(51-["hello",{"_placeholder":true,"num":1}])", {"world"});
  expect_error(R"(52-["hello",{"_placeholder":true,"num":2}])", {"a", "b"});
  expect_error(R"(51-["hello",{"deep":[{"_placeholder":true,"num":5}]}])", {"a"});
  expect_error(R"(51-["hello",{"_placeholder":true,"num":18446744073709551615}])", {"a"});
  expect_error(R"(51-["hello",{"_placeholder":true,"num":9223372036854775807}])", {"a"});
}

TEST_CASE("Decoder: malformed placeholders in binary packets are rejected (buffer.js)", "[sio-packet]") {
  // socket.io-parser throws "illegal attachments" for any {_placeholder:true} whose num is not a valid index.
  expect_error(R"(51-["hello",{"_placeholder":true,"num":"splice"}])", {"world"});
  expect_error(R"(51-["hello",{"_placeholder":true,"num":-1}])", {"world"});
}

TEST_CASE("Decoder: binary message when not reconstructing", "[sio-packet]") {
  Decoder d;
  SioPacket out;
  CHECK(d.feed_binary("world"s, out) == Status::error);  // buffer.js
  CHECK(d.error() == "got binary data when not reconstructing a packet");
  REQUIRE(d.feed_text(R"(2["a"])", out) == Status::ok);
  CHECK(d.feed_binary("late"s, out) == Status::error);
  // After a completed binary packet an extra binary message is an error too.
  REQUIRE(d.feed_text(R"(51-["a",{"_placeholder":true,"num":0}])", out) == Status::need_more);
  REQUIRE(d.feed_binary("one"s, out) == Status::ok);
  CHECK(d.feed_binary("extra"s, out) == Status::error);
  REQUIRE(d.feed_text(R"(2["ok"])", out) == Status::ok);
  CHECK(out.data == Value::array({"ok"}));
}

TEST_CASE("Decoder: text message while reconstructing", "[sio-packet]") {
  Decoder d;
  SioPacket out;
  REQUIRE(d.feed_text(R"(51-["hello",{"_placeholder":true,"num":0}])", out) == Status::need_more);
  CHECK(d.feed_text(R"(2["hello"])", out) == Status::error);  // buffer.js
  CHECK(d.error() == "got plaintext data when reconstructing a packet");
  // The partial packet was dropped: a binary message now is unexpected...
  CHECK(d.feed_binary("world"s, out) == Status::error);
  // ...and a fresh packet decodes.
  REQUIRE(d.feed_text(R"(2["hello"])", out) == Status::ok);
  CHECK(out.data == Value::array({"hello"}));

  // Half-way through several attachments.
  REQUIRE(d.feed_text(R"(52-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])", out) ==
          Status::need_more);
  REQUIRE(d.feed_binary("a"s, out) == Status::need_more);
  CHECK(d.feed_text(R"(2["y"])", out) == Status::error);
  REQUIRE(d.feed_text(R"(51-["z",{"_placeholder":true,"num":0}])", out) == Status::need_more);
  REQUIRE(d.feed_binary("b"s, out) == Status::ok);
  CHECK(out.data == Value::array({"z", Value::binary("b")}));  // "a" from the dropped packet is gone
}

TEST_CASE("Decoder: reset drops a partial packet (parser.js: resume after destroy)", "[sio-packet]") {
  Decoder d;
  SioPacket out;
  REQUIRE(d.feed_text(R"(51-["hello"])", out) == Status::need_more);
  d.reset();
  REQUIRE(d.feed_text(R"(2["hello"])", out) == Status::ok);
  CHECK(out.data == Value::array({"hello"}));
}

TEST_CASE("Decoder: accepts a fresh packet after each kind of error", "[sio-packet]") {
  Decoder d;
  SioPacket out;
  const std::vector<std::string> bad{"", "7", R"(5-["a"])", R"(2["a")", R"(2["a"]x)", "2[]", R"(2["connect"])",
                                     "312{}", "1{}", "0[]", "5" + std::to_string(kDefaultMaxAttachments + 1) + "-[\"a\"]"};
  for (const auto& b : bad) {
    INFO("bad: " << b);
    CHECK(d.feed_text(b, out) == Status::error);
    REQUIRE(d.feed_text(R"(212["fine",{"k":[1]}])", out) == Status::ok);
    CHECK(out.id == 12u);
    CHECK(out.data == Value::array({"fine", Value::object({{"k", Value::array({1})}})}));
    // and a binary one
    REQUIRE(d.feed_text(R"(61-/n,3[{"_placeholder":true,"num":0}])", out) == Status::need_more);
    REQUIRE(d.feed_binary("bin"s, out) == Status::ok);
    CHECK(out.type == SioType::binary_ack);
    CHECK(out.data == Value::array({Value::binary("bin")}));
  }
}

// ---------------------------------------------------------------------------------------------
// Raw wire text (relays do not re-serialize)

TEST_CASE("Decoder: raw_json of event arguments is the exact wire text", "[sio-packet]") {
  const std::string text = R"(2["relay",{"t":1795329446586541802,"x":[1, 2]}, "s"])";
  const Decoded r = decode(text);
  REQUIRE(r.status == Status::ok);
  REQUIRE(r.packet.data.size() == 3);
  CHECK(r.packet.data[0].raw_json() == R"("relay")");
  CHECK(r.packet.data[1].raw_json() == R"({"t":1795329446586541802,"x":[1, 2]})");
  CHECK(r.packet.data[2].raw_json() == R"("s")");
  CHECK(r.packet.data[1]["t"].as_int() == 1795329446586541802LL);
  CHECK(r.packet.data[1]["t"].type() == Value::Type::integer);
  CHECK(r.packet.data[1]["x"] == Value::array({1, 2}));
  CHECK(r.packet.data[2].as_string() == "s");
  // The element keeps its text when written again.
  CHECK(r.packet.data[1].to_json() == R"({"t":1795329446586541802,"x":[1, 2]})");
}

TEST_CASE("Decoder: raw_json with tricky element text", "[sio-packet]") {
  const std::string text =
      R"(2/ns,9[ "ev" , "a,]b\"c\\" , [ 1 ,{"k":"]}"} ] ,{ } ,-1.50e+2, true ,null, "\u00e9" ,18446744073709551615 ])";
  const Decoded r = decode(text);
  REQUIRE(r.status == Status::ok);
  REQUIRE(r.packet.data.size() == 9);
  const std::vector<std::string> expected{
      R"("ev")", R"("a,]b\"c\\")", R"([ 1 ,{"k":"]}"} ])", "{ }", "-1.50e+2", "true", "null", R"("\u00e9")",
      "18446744073709551615"};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("element " << i);
    CHECK(r.packet.data[i].raw_json() == expected[i]);
  }
  CHECK(r.packet.data[1].as_string() == "a,]b\"c\\");
  CHECK(r.packet.data[4].as_double() == -150.0);
  CHECK(r.packet.data[7].as_string() == "\xc3\xa9");
}

TEST_CASE("Decoder: re-encoding a decoded event reproduces the wire text", "[sio-packet]") {
  const std::vector<std::string> texts{
      R"(2["relay",{"t":1795329446586541802,"x":[1, 2]},"s"])",
      R"(2/chat,42["msg",{"from" : "ada", "body":"h\u00e9llo \"quoted\""},[ 1.50, 2e3 ,-0],null,true])",
      R"(3/admin,13["bar",{"deep":{"n":18446744073709551615}}])",
      R"(3[])",
      R"(2["n",1795329446586541802,-9223372036854775808,9223372036854775807])",
      R"(2["float",1.0,0.1000,1E2,-0.0])",
      R"(2["\u0041\/",{"\ud83d\ude00":"x"}])",
  };
  for (const auto& text : texts) {
    INFO("input: " << text);
    const Decoded r = decode(text);
    REQUIRE(r.status == Status::ok);
    SioPacket again = r.packet;  // a copy, as a relay would keep
    const EncodedPacket e = encode(again);
    CHECK(*e.text == text);
    CHECK(e.attachments.empty());
    // Also through a new packet built from the decoded arguments.
    SioPacket relay = make(SioType::event, "/other", 77, Value::array({}));
    Array args = r.packet.data.as_array();
    relay.data = Value(std::move(args));
    const std::string body = text.substr(text.find('['));
    CHECK(*encode(relay).text == "2/other,77" + body);
  }
}

TEST_CASE("Decoder: whitespace between top-level arguments is not kept", "[sio-packet]") {
  // Each argument keeps its exact text; the separators of the argument list are written compactly.
  const std::string text = R"(2["relay",{"t":1795329446586541802,"x":[1, 2]}, "s"])";
  const Decoded r = decode(text);
  REQUIRE(r.status == Status::ok);
  CHECK(*encode(r.packet).text == R"(2["relay",{"t":1795329446586541802,"x":[1, 2]},"s"])");
  const Decoded spaced = decode(R"(2 [ "a" , 1 ] )");
  REQUIRE(spaced.status == Status::ok);
  CHECK(*encode(spaced.packet).text == R"(2["a",1])");
}

TEST_CASE("Decoder: raw text outlives the decoder and the packet", "[sio-packet]") {
  Value kept;
  {
    Decoder d;
    SioPacket out;
    std::string text = R"(2["a",{"k" : [1, 2]}])";
    REQUIRE(d.feed_text(text, out) == Status::ok);
    kept = out.data[1];
    text.assign(text.size(), 'x');  // the caller's buffer is not referenced
  }
  CHECK(kept.raw_json() == R"({"k" : [1, 2]})");
  CHECK(kept.to_json() == R"({"k" : [1, 2]})");
  CHECK(kept["k"][1].as_int() == 2);
}

TEST_CASE("Decoder: decoded binary events re-encode to the same packet", "[sio-packet]") {
  const std::string text =
      R"(52-/admin,5["up",{"name":"f","part":{"_placeholder":true,"num":1}},"s",{"_placeholder":true,"num":0}])";
  const Decoded r = decode(text, {"zero", "one"});
  REQUIRE(r.status == Status::ok);
  CHECK(r.packet.data[1]["part"].as_binary() == "one");
  CHECK(r.packet.data[3].as_binary() == "zero");
  CHECK(r.packet.data[2].raw_json() == R"("s")");
  // Re-encoding numbers the binaries in document order again.
  const EncodedPacket e = encode(r.packet);
  CHECK(*e.text ==
        R"(52-/admin,5["up",{"name":"f","part":{"_placeholder":true,"num":0}},"s",{"_placeholder":true,"num":1}])");
  CHECK(attachments_of(e) == std::vector<std::string>{"one", "zero"});
  // Round trip: decode what was encoded.
  const Decoded back = decode(*e.text, attachments_of(e));
  REQUIRE(back.status == Status::ok);
  CHECK(back.packet.data == r.packet.data);
}

TEST_CASE("encode -> Decoder round trips", "[sio-packet]") {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  const std::vector<SioPacket> packets{
      make(SioType::connect, "/"),
      make(SioType::connect, "/admin", std::nullopt, Value::object({{"token", "abc"}, {"n", 1795329446586541802LL}})),
      make(SioType::disconnect, "/admin"),
      make(SioType::event, "/", std::nullopt, Value::array({"a", 1, 1.5, nullptr, true, "\"\\\n\x01\xc3\xa9"})),
      make(SioType::event, "/x", 99, Value::array({"bin", Value::binary(all), Value::object({{"b", Value::binary("")}})})),
      make(SioType::ack, "/", 0, Value::array()),
      make(SioType::ack, "/y", std::numeric_limits<std::uint64_t>::max(), Value::array({Value::binary("z"), ~0ull})),
      make(SioType::connect_error, "/z", std::nullopt, Value::object({{"message", "no"}})),
  };
  for (const auto& p : packets) {
    const EncodedPacket e = encode(p);
    INFO("encoded: " << *e.text);
    const Decoded r = decode(*e.text, attachments_of(e));
    INFO("error: " << r.error);
    REQUIRE(r.status == Status::ok);
    SioType expected_type = p.type;
    if (p.data.has_binary()) expected_type = p.type == SioType::event ? SioType::binary_event : SioType::binary_ack;
    CHECK(r.packet.type == expected_type);
    CHECK(r.packet.nsp == p.nsp);
    CHECK(r.packet.id == p.id);
    CHECK(r.packet.has_data == p.has_data);
    CHECK(r.packet.data == p.data);
  }
}

TEST_CASE("Decoder: every proper prefix decodes or errors without crashing", "[sio-packet]") {
  const std::vector<std::pair<std::string, std::vector<std::string>>> packets{
      {R"(0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"})", {}},
      {R"(2/admin,12["a",{"b":[1,2,{"c":"d\"e"}]},1795329446586541802])", {}},
      {R"(52-/admin,7["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])", {"\x01\x02", "\x03\x04"}},
      {R"(61-15["bar",{"_placeholder":true,"num":0}])", {"\x01"}},
      {R"(3/admin,13[])", {}},
      {R"(4{"message":"Not authorized"})", {}},
      {"1/admin,", {}},
  };
  std::size_t ok = 0, need_more = 0, error = 0;
  for (const auto& [text, binaries] : packets) {
    // The whole packet decodes.
    REQUIRE(decode(text, binaries).status == Status::ok);
    for (std::size_t len = 0; len < text.size(); ++len) {
      const std::string prefix = text.substr(0, len);
      INFO("prefix: " << prefix);
      Decoder d;
      SioPacket out;
      Status s = d.feed_text(prefix, out);
      // Whatever happened, feeding all attachments then a valid packet must not crash either.
      for (const auto& b : binaries)
        if (s == Status::need_more) s = d.feed_binary(b, out);
      (s == Status::ok ? ok : s == Status::need_more ? need_more : error) += 1;
      if (s == Status::need_more) d.reset();
      REQUIRE(d.feed_text(R"(2["after"])", out) == Status::ok);
      // decode_text_packet on the prefix must not crash either.
      SioPacket p2;
      std::size_t n = 0;
      std::string why;
      const bool decoded = decode_text_packet(prefix, p2, n, why);
      CHECK((decoded || !why.empty()));
    }
  }
  CHECK(error > 0);
  CHECK(ok > 0);  // e.g. "0", "0/admin", "1/admin"
}

TEST_CASE("Decoder: every proper prefix of binary attachments", "[sio-packet]") {
  // Fewer attachments than announced: always need_more, never ok.
  Decoder d;
  SioPacket out;
  REQUIRE(d.feed_text(R"(53-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}])", out) ==
          Status::need_more);
  CHECK(d.feed_binary("0"s, out) == Status::need_more);
  CHECK(d.feed_binary("1"s, out) == Status::need_more);
  CHECK(d.feed_binary("2"s, out) == Status::ok);
  CHECK(out.data == Value::array({"a", Value::binary("0"), Value::binary("1"), Value::binary("2")}));
}

TEST_CASE("Decoder: deeply nested JSON within the message size limit does not crash", "[sio-packet]") {
  // A client controls nesting depth: 42["a",[[[[...]]]]] of up to max_http_buffer_size (1 MB) must
  // be decoded or refused, not overflow the stack of the thread that decodes it.
  for (const std::size_t depth : {1000u, 100000u, 499990u}) {
    INFO("depth " << depth);
    const int code = exit_code_in_child([depth] {
      const std::string text = "2[\"a\"," + std::string(depth, '[') + std::string(depth, ']') + "]";
      Decoder d;
      SioPacket out;
      const Status s = d.feed_text(text, out);
      return s == Status::ok || s == Status::error ? 0 : 1;
    });
    CHECK(code == 0);
  }
  // Objects too, and inside a binary packet (placeholders are searched recursively).
  const int code = exit_code_in_child([] {
    std::string text = "51-[\"a\",";
    for (int i = 0; i < 100000; ++i) text += "{\"k\":";
    text += "{\"_placeholder\":true,\"num\":0}" + std::string(100000, '}') + "]";
    Decoder d;
    SioPacket out;
    Status s = d.feed_text(text, out);
    if (s == Status::need_more) s = d.feed_binary("x", out);
    return s == Status::ok || s == Status::error ? 0 : 1;
  });
  CHECK(code == 0);
}

TEST_CASE("Decoder: what counts as a placeholder in a binary packet", "[sio-packet]") {
  SECTION("extra members do not matter (socket.io-parser only checks _placeholder === true)") {
    const Decoded r = decode(R"(51-["a",{"_placeholder":true,"num":0,"extra":1}])", {"bin"});
    REQUIRE(r.status == Status::ok);
    CHECK(r.packet.data[1] == Value::binary("bin"));
    const Decoded first = decode(R"(51-["a",{"num":0,"_placeholder":true}])", {"bin"});
    REQUIRE(first.status == Status::ok);
    CHECK(first.packet.data[1] == Value::binary("bin"));
  }
  SECTION("_placeholder must be the boolean true") {
    const Decoded f = decode(R"(51-["a",{"_placeholder":false,"num":0},{"_placeholder":true,"num":0}])", {"bin"});
    REQUIRE(f.status == Status::ok);
    CHECK(f.packet.data[1] == Value::object({{"_placeholder", false}, {"num", 0}}));
    CHECK(f.packet.data[2] == Value::binary("bin"));
    const Decoded s = decode(R"(51-["a",{"_placeholder":"true","num":0},{"_placeholder":true,"num":0}])", {"bin"});
    REQUIRE(s.status == Status::ok);
    CHECK(s.packet.data[1]["_placeholder"].as_string() == "true");
    const Decoded one = decode(R"(51-["a",{"_placeholder":1,"num":0},{"_placeholder":true,"num":0}])", {"bin"});
    REQUIRE(one.status == Status::ok);
    CHECK(one.packet.data[1].is_object());
  }
  SECTION("a claimed placeholder with a bad num is refused") {
    expect_error(R"(51-["a",{"_placeholder":true}])", {"bin"});
    expect_error(R"(51-["a",{"_placeholder":true,"num":null}])", {"bin"});
    expect_error(R"(51-["a",{"_placeholder":true,"num":0.5}])", {"bin"});
    expect_error(R"(51-["a",{"_placeholder":true,"num":[0]}])", {"bin"});
    expect_error(R"(51-["a",{"k":[{"_placeholder":true,"num":"0"}]},{"_placeholder":true,"num":0}])", {"bin"});
  }
}

TEST_CASE("Decoder: arguments nested beyond the JSON depth limit are refused", "[sio-packet]") {
  // The argument array is the first level: 127 more are allowed (json.cpp's limit is 128).
  const auto event = [](std::size_t inner) {
    return "2[\"a\"," + std::string(inner, '[') + std::string(inner, ']') + "]";
  };
  const Decoded ok = decode(event(127));
  REQUIRE(ok.status == Status::ok);
  CHECK(*encode(ok.packet).text == event(127));
  expect_error(event(128));
  expect_error(event(5000));
}

TEST_CASE("encode_to writes what encode writes, into reused buffers", "[sio-packet]") {
  // Replies to one connection are written by encode_to into thread-local buffers: the same bytes
  // as the shared encoding, whatever the buffers held before, binary or not.
  std::string text = "left over from an earlier packet";
  std::vector<std::string> attachments = {"stale"};
  const std::vector<Array> payloads = {
      {Value("hello"), Value(42)},
      {},
      {Value::object({{"a", Value(Array{Value(1), Value(nullptr)})}})},
      {Value("with binary"), Value::binary(std::string("\x00\x01", 2)), Value::object({{"b", Value::binary("xyz")}})},
      {Value("no binary after binary")},
  };
  for (const std::string nsp : {"/", "/admin"}) {
    for (const std::optional<std::uint64_t> id : {std::optional<std::uint64_t>(), std::optional<std::uint64_t>(7)}) {
      for (const SioType type : {SioType::event, SioType::ack}) {
        for (const Array& payload : payloads) {
          const EncodedPacket expected = encode(type, nsp, id, payload);
          courier::detail::encode_to(type, nsp, id, payload.data(), payload.size(), text, attachments);
          INFO("expected " << *expected.text);
          CHECK(text == *expected.text);
          REQUIRE(attachments.size() == expected.attachments.size());
          for (std::size_t i = 0; i < attachments.size(); ++i) CHECK(attachments[i] == *expected.attachments[i]);
        }
      }
    }
  }
}
