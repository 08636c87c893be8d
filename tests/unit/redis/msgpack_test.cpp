// courier::detail::msgpack_encode / msgpack_decode against golden vectors written by Node's
// notepack.io 3.0.1 (the encoder of @socket.io/redis-adapter 8.x).
//
// The hex below was produced by `require("notepack.io").encode(value).toString("hex")` with
// notepack.io@3.0.1 on Node 20. The 65536-element vectors are too large to embed: for those the test
// rebuilds the document from a simple rule and checks it against the length, first bytes and
// FNV-1a-64 hash that the Node script printed for notepack's output, so the bytes decoded here are
// exactly notepack's.
//
// JS-side definitions used by the generator:
//   pat(n) = "abcdefghijklmnopqrstuvwxyzabc..." (n chars, 'a' + i % 26)
//   buf(n) = Buffer with byte i = i & 0xff
//   arr(n) = [0, 1, ..., i % 128, ...]
//   map(n) = {k0: 0, k1: 1, ..., ["k" + i]: i % 128}
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <courier/value.hpp>

#include "redis/msgpack_value.hpp"
#include "value_printer.hpp"

using courier::Array;
using courier::Member;
using courier::Object;
using courier::Value;
using courier::detail::msgpack_decode;
using courier::detail::msgpack_encode;

namespace {

std::string unhex(std::string_view h) {
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c - 'A' + 10;
  };
  std::string out;
  out.reserve(h.size() / 2);
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(nib(h[i]) * 16 + nib(h[i + 1])));
  return out;
}

std::string hex(std::string_view b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(b.size() * 2);
  for (unsigned char c : b) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::uint64_t fnv1a64(std::string_view b) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : b) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string encode(const Value& v) {
  std::string out;
  msgpack_encode(v, out);
  return out;
}

std::string pat(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}
std::string buf(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i & 0xff);
  return s;
}
Value arr(std::size_t n) {
  Array a;
  a.reserve(n);
  for (std::size_t i = 0; i < n; ++i) a.emplace_back(static_cast<int>(i % 128));
  return Value(std::move(a));
}
Value map(std::size_t n) {
  Object o;
  o.reserve(n);
  for (std::size_t i = 0; i < n; ++i) o.push_back(Member{"k" + std::to_string(i), Value(static_cast<int>(i % 128))});
  return Value(std::move(o));
}

// Equality as a JavaScript program sees the decoded values: every number is a double (so
// integer 2 and float 2.0 are the same value), everything else structurally.
bool js_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return a.as_double() == b.as_double();
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Value::Type::array:
      if (a.size() != b.size()) return false;
      for (std::size_t i = 0; i < a.size(); ++i)
        if (!js_equal(a[i], b[i])) return false;
      return true;
    case Value::Type::object:
      if (a.size() != b.size()) return false;
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (a.as_object()[i].key != b.as_object()[i].key) return false;
        if (!js_equal(a.as_object()[i].value, b.as_object()[i].value)) return false;
      }
      return true;
    default: return a == b;
  }
}

struct Golden {
  const char* name;
  const char* hex;  // notepack.io's bytes
  Value expected;   // the Value courier must decode them to
};

// The socket.io broadcast message [uid, packet, opts] as @socket.io/redis-adapter publishes it.
Value broadcast_value() {
  return Value::array({"Xy7Qz1",
                       Value::object({{"type", 2},
                                      {"data", Value::array({"ev", Value::object({{"a", 1}}), Value::binary("\x01\x02\x03")})},
                                      {"nsp", "/"}}),
                       Value::object({{"rooms", Value::array({"r1"})},
                                      {"except", Value::array()},
                                      {"flags", Value::object({{"volatile", true}})}})});
}

std::vector<Golden> goldens() {
  return {
      {"nil", "c0", Value()},
      {"true", "c3", Value(true)},
      {"false", "c2", Value(false)},
      {"0", "00", Value(0)},
      {"127", "7f", Value(127)},
      {"128", "cc80", Value(128)},
      {"255", "ccff", Value(255)},
      {"256", "cd0100", Value(256)},
      {"65535", "cdffff", Value(65535)},
      {"65536", "ce00010000", Value(65536)},
      {"2^32", "cf0000000100000000", Value(4294967296LL)},
      {"-1", "ff", Value(-1)},
      {"-32", "e0", Value(-32)},
      {"-33", "d0df", Value(-33)},
      {"-128", "d080", Value(-128)},
      {"-129", "d1ff7f", Value(-129)},
      {"-32768", "d18000", Value(-32768)},
      {"-2^31-1", "d3ffffffff7fffffff", Value(-2147483649LL)},
      {"1.5", "cb3ff8000000000000", Value(1.5)},
      {"-0.5", "cbbfe0000000000000", Value(-0.5)},
      {"2^53-1", "cf001fffffffffffff", Value(9007199254740991LL)},
      {"str0", "a0", Value("")},
      {"str31", "bf6162636465666768696a6b6c6d6e6f707172737475767778797a6162636465", Value(pat(31))},
      {"str32",
          "d9206162636465666768696a6b6c6d6e6f707172737475767778797a616263646566", Value(pat(32))},
      {"str255",
          "d9ff6162636465666768696a6b6c6d6e6f707172737475767778797a6162636465666768696a6b6c6d6e6f7071727374"
          "75767778797a6162636465666768696a6b6c6d6e6f707172737475767778797a6162636465666768696a6b6c6d6e6f70"
          "7172737475767778797a6162636465666768696a6b6c6d6e6f707172737475767778797a6162636465666768696a6b6c"
          "6d6e6f707172737475767778797a6162636465666768696a6b6c6d6e6f707172737475767778797a6162636465666768"
          "696a6b6c6d6e6f707172737475767778797a6162636465666768696a6b6c6d6e6f707172737475767778797a61626364"
          "65666768696a6b6c6d6e6f707172737475", Value(pat(255))},
      {"str256",
          "da01006162636465666768696a6b6c6d6e6f707172737475767778797a6162636465666768696a6b6c6d6e6f70717273"
          "7475767778797a6162636465666768696a6b6c6d6e6f707172737475767778797a6162636465666768696a6b6c6d6e6f"
          "707172737475767778797a6162636465666768696a6b6c6d6e6f707172737475767778797a6162636465666768696a6b"
          "6c6d6e6f707172737475767778797a6162636465666768696a6b6c6d6e6f707172737475767778797a61626364656667"
          "68696a6b6c6d6e6f707172737475767778797a6162636465666768696a6b6c6d6e6f707172737475767778797a616263"
          "6465666768696a6b6c6d6e6f70717273747576", Value(pat(256))},
      {"utf8 'h\\u00e9llo \\u20ac\\u{1F600}'", "ae68c3a96c6c6f20e282acf09f9880", Value("h\xc3\xa9llo \xe2\x82\xac\xf0\x9f\x98\x80")},
      {"bin0", "c400", Value::binary("")},
      {"bin255",
          "c4ff000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d"
          "2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d"
          "5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d"
          "8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbd"
          "bebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebeced"
          "eeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfe", Value::binary(buf(255))},
      {"bin256",
          "c50100000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c"
          "2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c"
          "5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c"
          "8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbc"
          "bdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebec"
          "edeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", Value::binary(buf(256))},
      {"arr15", "9f000102030405060708090a0b0c0d0e", arr(15)},
      {"arr16", "dc0010000102030405060708090a0b0c0d0e0f", arr(16)},
      {"map15",
          "8fa26b3000a26b3101a26b3202a26b3303a26b3404a26b3505a26b3606a26b3707a26b3808a26b3909a36b31300aa36b"
          "31310ba36b31320ca36b31330da36b31340e", map(15)},
      {"map16",
          "de0010a26b3000a26b3101a26b3202a26b3303a26b3404a26b3505a26b3606a26b3707a26b3808a26b3909a36b31300a"
          "a36b31310ba36b31320ca36b31330da36b31340ea36b31350f", map(16)},
      // notepack 3 writes undefined as nil, and drops object members whose value is undefined.
      {"undefined", "c0", Value()},
      {"[1, undefined, 2]", "9301c002", Value::array({1, nullptr, 2})},
      {"{a: 1, b: undefined}", "81a16101", Value::object({{"a", 1}})},
      {"broadcast",
          "93a6587937517a3183a47479706502a46461746193a2657681a16101c403010203a36e7370a12f83a5726f6f6d7391a2"
          "7231a665786365707490a5666c61677381a8766f6c6174696c65c3", broadcast_value()},
  };
}

}  // namespace

TEST_CASE("msgpack: notepack.io golden vectors decode to the expected Value", "[msgpack]") {
  for (const auto& g : goldens()) {
    INFO("vector " << g.name << " = " << g.hex);
    Value v;
    REQUIRE(msgpack_decode(unhex(g.hex), v));
    CHECK(v == g.expected);
    CHECK(js_equal(v, g.expected));
  }
}

TEST_CASE("msgpack: courier's encoding of each golden Value is byte-identical to notepack.io's", "[msgpack]") {
  // msgpack-c (like notepack) picks the smallest int/str/bin/array/map family, so for every value
  // that a JS program and courier represent the same way the bytes are identical.
  for (const auto& g : goldens()) {
    INFO("vector " << g.name);
    const std::string enc = encode(g.expected);
    CHECK(hex(enc) == g.hex);
    Value back;
    REQUIRE(msgpack_decode(enc, back));
    CHECK(js_equal(back, g.expected));
    CHECK(back == g.expected);
  }
}

TEST_CASE("msgpack: the socket.io broadcast message has the shape the Node adapter reads", "[msgpack]") {
  Value v;
  REQUIRE(msgpack_decode(unhex(
          "93a6587937517a3183a47479706502a46461746193a2657681a16101c403010203a36e7370a12f83a5726f6f6d7391a2"
          "7231a665786365707490a5666c61677381a8766f6c6174696c65c3"), v));
  REQUIRE(v.is_array());
  REQUIRE(v.size() == 3);
  CHECK(v[0].as_string() == "Xy7Qz1");
  CHECK(v[1]["type"].as_int() == 2);
  CHECK(v[1]["nsp"].as_string() == "/");
  REQUIRE(v[1]["data"].size() == 3);
  CHECK(v[1]["data"][0].as_string() == "ev");
  CHECK(v[1]["data"][1]["a"].as_int() == 1);
  CHECK(v[1]["data"][2].is_binary());
  CHECK(v[1]["data"][2].as_binary() == std::string("\x01\x02\x03", 3));
  CHECK(v[2]["rooms"] == Value::array({"r1"}));
  CHECK(v[2]["except"].is_array());
  CHECK(v[2]["except"].size() == 0);
  CHECK(v[2]["flags"]["volatile"].as_bool());
  // Member order is kept, so re-encoding gives notepack's bytes back.
  CHECK(hex(encode(v)) ==
          "93a6587937517a3183a47479706502a46461746193a2657681a16101c403010203a36e7370a12f83a5726f6f6d7391a2"
          "7231a665786365707490a5666c61677381a8766f6c6174696c65c3");
}

namespace {
struct Big {
  const char* name;
  std::size_t length;     // notepack's output length
  const char* prefix;     // its first 16 bytes
  std::uint64_t fnv;      // FNV-1a-64 of all of it
  std::string bytes;      // rebuilt here
  Value expected;
};

std::vector<Big> bigs() {
  std::vector<Big> out;
  {
    std::string b = unhex("db00010000") + pat(65536);
    out.push_back({"str65536", 65541, "db000100006162636465666768696a6b", 0x797448fbef098545ull, b, Value(pat(65536))});
  }
  {
    std::string b = unhex("c600010000") + buf(65536);
    out.push_back({"bin65536", 65541, "c600010000000102030405060708090a", 0x0d26a4f6d9e2e01eull, b, Value::binary(buf(65536))});
  }
  {
    std::string b = unhex("dd00010000");
    for (std::size_t i = 0; i < 65536; ++i) b.push_back(static_cast<char>(i % 128));  // positive fixint
    out.push_back({"arr65536", 65541, "dd00010000000102030405060708090a", 0x186007ecdf529793ull, b, arr(65536)});
  }
  {
    std::string b = unhex("df00010000");
    for (std::size_t i = 0; i < 65536; ++i) {
      const std::string key = "k" + std::to_string(i);
      b.push_back(static_cast<char>(0xa0 | key.size()));  // fixstr
      b += key;
      b.push_back(static_cast<char>(i % 128));
    }
    out.push_back({"map65536", 513183, "df00010000a26b3000a26b3101a26b32", 0x862b6a08466e3e4full, b, map(65536)});
  }
  return out;
}
}  // namespace

TEST_CASE("msgpack: 65536-element notepack.io vectors (str32/bin32/array32/map32)", "[msgpack]") {
  for (const auto& b : bigs()) {
    INFO("vector " << b.name);
    // The rebuilt bytes are notepack's bytes.
    REQUIRE(b.bytes.size() == b.length);
    REQUIRE(hex(b.bytes.substr(0, 16)) == b.prefix);
    REQUIRE(fnv1a64(b.bytes) == b.fnv);
    Value v;
    REQUIRE(msgpack_decode(b.bytes, v));
    CHECK(v == b.expected);
    const std::string enc = encode(b.expected);
    CHECK(enc.size() == b.length);
    CHECK(fnv1a64(enc) == b.fnv);
  }
}

TEST_CASE("msgpack: doubles with an integral value are written as integers, as notepack.io does", "[msgpack]") {
  // JavaScript has one number type, so notepack writes 2.0 as the int 0x02 and -0 as 0x00.
  // msgpack-c's pack_double does the same, so courier's bytes are notepack's; only the C++ type of
  // the decoded Value changes (integer instead of number), which a JS peer cannot tell apart.
  struct Case {
    Value courier_value;
    const char* notepack_hex;  // notepack.io 3.0.1's bytes for the same JS number
  };
  const Case cases[] = {
      {Value(2.0), "02"},
      {Value(-0.0), "00"},
      {Value(255.0), "ccff"},
      {Value(4294967296.0), "cf0000000100000000"},
      {Value(-2147483649.0), "d3ffffffff7fffffff"},
      {Value(9007199254740991.0), "cf001fffffffffffff"},
      {Value(-9223372036854775808.0), "d38000000000000000"},
  };
  for (const auto& c : cases) {
    INFO("double " << c.courier_value.as_double());
    const std::string enc = encode(c.courier_value);
    CHECK(hex(enc) == c.notepack_hex);
    Value back;
    REQUIRE(msgpack_decode(enc, back));
    CHECK(back.is_integer());
    CHECK(js_equal(back, c.courier_value));
  }
}

TEST_CASE("msgpack: non-integral and non-finite doubles are float64, byte-identical to notepack.io", "[msgpack]") {
  struct Case {
    double d;
    const char* notepack_hex;
  };
  const Case cases[] = {
      {0.1, "cb3fb999999999999a"},
      {1.5, "cb3ff8000000000000"},
      {HUGE_VAL, "cb7ff0000000000000"},
      {-HUGE_VAL, "cbfff0000000000000"},
  };
  for (const auto& c : cases) {
    INFO("double " << c.d);
    CHECK(hex(encode(Value(c.d))) == c.notepack_hex);
    Value back;
    REQUIRE(msgpack_decode(unhex(c.notepack_hex), back));
    CHECK(back.type() == Value::Type::number);
    CHECK(back.as_double() == c.d);
  }
  Value nan;
  REQUIRE(msgpack_decode(unhex("cb7ff8000000000000"), nan));  // notepack's NaN
  CHECK(std::isnan(nan.as_double()));
  REQUIRE(msgpack_decode(encode(Value(std::nan(""))), nan));
  CHECK(std::isnan(nan.as_double()));
}

TEST_CASE("msgpack: where courier legitimately differs from notepack.io (beyond 2^53 / 2^63)", "[msgpack]") {
  // notepack computes the high word of a uint64/int64 with `>> 0`, so for JS numbers >= 2^63 its
  // bytes are wrong (1e20 -> cf6bc75e2d63100000, which decodes to 7766279631452242000; 2^64 -> 0).
  // courier writes doubles beyond the 64-bit integer range as float64, which notepack decodes to
  // the right number.
  struct Case {
    double d;
    const char* courier_hex;
  };
  const Case cases[] = {
      {1e20, "cb4415af1d78b58c40"},
      {18446744073709551616.0, "cb43f0000000000000"},  // 2^64
      {-1e19, "cbc3e158e460913d00"},
  };
  for (const auto& c : cases) {
    INFO("double " << c.d);
    const std::string enc = encode(Value(c.d));
    CHECK(hex(enc) == c.courier_hex);
    Value back;
    REQUIRE(msgpack_decode(enc, back));
    CHECK(back.as_double() == c.d);
  }
  // 64-bit integers that a JS number cannot hold exactly only round-trip between courier servers.
  const Value big_u(18446744073709551615ull), big_i(static_cast<long long>(-9223372036854775807LL - 1)),
      odd(9007199254740993LL);
  Value back;
  REQUIRE(msgpack_decode(encode(big_u), back));
  CHECK(back == big_u);
  CHECK(hex(encode(big_u)) == "cfffffffffffffffff");
  REQUIRE(msgpack_decode(encode(big_i), back));
  CHECK(back == big_i);
  CHECK(hex(encode(big_i)) == "d38000000000000000");
  REQUIRE(msgpack_decode(encode(odd), back));
  CHECK(back == odd);
  CHECK(hex(encode(odd)) == "cf0020000000000001");
}

TEST_CASE("msgpack: float32 (not written by notepack, read by it) decodes to a double", "[msgpack]") {
  Value v;
  REQUIRE(msgpack_decode(unhex("ca3fc00000"), v));
  CHECK(v.type() == Value::Type::number);
  CHECK(v.as_double() == 1.5);
}

TEST_CASE("msgpack: JS undefined as notepack 2 wrote it (fixext 1, type 0) decodes to null", "[msgpack]") {
  Value v;
  REQUIRE(msgpack_decode(unhex("d40000"), v));
  CHECK(v.is_null());
  REQUIRE(msgpack_decode(unhex("9301d4000002"), v));
  CHECK(v == Value::array({1, nullptr, 2}));
  REQUIRE(msgpack_decode(unhex("82a161d40000a16201"), v));
  CHECK(v == Value::object({{"a", nullptr}, {"b", 1}}));
}

TEST_CASE("msgpack: every truncation of a valid document is rejected", "[msgpack][malformed]") {
  std::vector<std::string> docs;
  for (const auto& g : goldens()) docs.push_back(unhex(g.hex));
  docs.push_back(unhex("d40000"));
  for (const auto& doc : docs) {
    for (std::size_t n = 0; n < doc.size(); ++n) {
      INFO("document " << hex(doc).substr(0, 64) << "... truncated to " << n << " of " << doc.size() << " bytes");
      Value v = Value("sentinel");
      CHECK_FALSE(msgpack_decode(std::string_view(doc.data(), n), v));
    }
  }
  // And the 65536-element ones at a few cut points (every byte would be slow for no gain).
  for (const auto& b : bigs()) {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{4}, std::size_t{5}, std::size_t{6}, b.bytes.size() / 2,
                          b.bytes.size() - 1}) {
      INFO(b.name << " truncated to " << n);
      Value v;
      CHECK_FALSE(msgpack_decode(std::string_view(b.bytes.data(), n), v));
    }
  }
}

TEST_CASE("msgpack: trailing bytes after a document are rejected", "[msgpack][malformed]") {
  for (const auto& g : goldens()) {
    INFO("vector " << g.name);
    Value v;
    CHECK_FALSE(msgpack_decode(unhex(g.hex) + std::string(1, '\xc0'), v));
    CHECK_FALSE(msgpack_decode(unhex(g.hex) + unhex(g.hex), v));
  }
}

TEST_CASE("msgpack: nesting deeper than 64 is rejected without crashing", "[msgpack][malformed]") {
  auto nested = [](std::size_t depth, char open) {
    std::string s;
    for (std::size_t i = 0; i < depth; ++i) {
      s.push_back(open);
      if (open == '\x81') s += unhex("a16b");  // {"k": ...}
    }
    s.push_back('\xc0');
    return s;
  };
  Value v;
  // 64 nested containers (the nil inside sits at depth 64) are fine...
  CHECK(msgpack_decode(nested(64, '\x91'), v));
  CHECK(msgpack_decode(nested(64, '\x81'), v));
  // ...one more is not.
  CHECK_FALSE(msgpack_decode(nested(65, '\x91'), v));
  CHECK_FALSE(msgpack_decode(nested(65, '\x81'), v));
  // Far deeper than any stack would take recursively.
  CHECK_FALSE(msgpack_decode(nested(100000, '\x91'), v));
  CHECK_FALSE(msgpack_decode(nested(100000, '\x81'), v));
  CHECK_FALSE(msgpack_decode(std::string(1000000, '\x91'), v));  // and truncated
}

TEST_CASE("msgpack: other malformed input is rejected", "[msgpack][malformed]") {
  Value v;
  CHECK_FALSE(msgpack_decode("", v));
  CHECK_FALSE(msgpack_decode(unhex("c1"), v));                // never used
  CHECK_FALSE(msgpack_decode(unhex("81c0c0"), v));            // map key nil
  CHECK_FALSE(msgpack_decode(unhex("8191c0c0"), v));          // map key array
  CHECK_FALSE(msgpack_decode(unhex("db7fffffff61"), v));      // str32 claiming 2 GB
  CHECK_FALSE(msgpack_decode(unhex("c6ffffffff00"), v));      // bin32 claiming 4 GB
}

TEST_CASE("msgpack: array/map headers claiming 2^32-1 elements fail fast", "[msgpack][malformed]") {
  // A 5-byte Redis message must not make the decoder allocate room for four billion objects
  // (16 bytes each for an array, 32 per pair for a map: 64 / 128 GiB). In a plain build the
  // allocation usually just fails (bad_alloc, caught: false), so this mostly shows up under
  // AddressSanitizer (COURIER_SANITIZE=ON), which aborts on it, or on hosts that overcommit.
  Value v;
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(msgpack_decode(unhex("ddffffffff"), v));
  CHECK_FALSE(msgpack_decode(unhex("dfffffffffc0"), v));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
}

TEST_CASE("msgpack: a JS Date written by notepack.io reads as its JSON form (ISO string)", "[msgpack][interop]") {
  // `io.emit("ev", new Date(...))` on a Node server of the cluster: notepack writes the Date as a
  // MessagePack timestamp (ext type -1), the other Node servers decode a Date and their clients get
  // its JSON text, "2023-11-14T22:13:20.123Z". A courier server of the same cluster should hand
  // its clients the same string, not null.
  struct Case {
    const char* notepack_hex;
    const char* iso;
  };
  const Case cases[] = {
      {"d6ff6553f100", "2023-11-14T22:13:20.000Z"},                   // new Date(1700000000000): timestamp 32
      {"d7ff1d5353006553f100", "2023-11-14T22:13:20.123Z"},           // new Date(1700000000123): timestamp 64
      {"c70cff00000000ffffffffffffffff", "1969-12-31T23:59:59.000Z"},  // new Date(-1000): timestamp 96
  };
  for (const auto& c : cases) {
    INFO("notepack " << c.notepack_hex);
    Value v;
    REQUIRE(msgpack_decode(unhex(c.notepack_hex), v));
    CHECK(v == Value(c.iso));
  }
}
