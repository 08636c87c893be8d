// Unit tests for src/protocol/json.cpp's validation without building (scan_json) and the lazily
// parsed event arguments built on it (parse_json_lazy_args, Value's lazy state). value_test.cpp
// covers parsing and writing; this file checks that the fast path accepts exactly what the
// parser accepts and that a lazy value behaves like an eagerly parsed one.
#include <courier/value.hpp>

#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "common/value_access.hpp"
#include "protocol/json.hpp"
#include "protocol/packet.hpp"
#include "nested_json.hpp"

using courier::Array;
using courier::Value;
using courier::detail::JsonSpan;
using courier::detail::make_text_buffer;
using courier::detail::parse_json_lazy_args;
using courier::detail::TextBuffer;
using courier::detail::ValueAccess;

namespace {

bool scan(std::string_view text) {
  bool root_is_array = false;
  return courier::detail::scan_json(text, root_is_array, nullptr);
}

bool parses(std::string_view text) {
  Value v;
  return courier::detail::parse_json(text, v);
}

// The lazy arguments of `text` (kept alive by the returned buffer).
Value lazy_args(const std::string& text, bool name_first = false) {
  auto buffer = std::make_shared<const std::string>(text);
  Value out;
  REQUIRE(courier::detail::parse_json_lazy_args({buffer, buffer->data()}, *buffer, out, name_first));
  return out;
}

}  // namespace

TEST_CASE("scan_json agrees with parse_json on valid and invalid documents", "[json]") {
  const std::vector<std::string> cases = {
      // valid
      "1", "-0", "0.5", "-12.5e+3", "1E-2", "18446744073709551616", "1e99999", "true", "false", "null",
      "\"\"", "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "\"\\u00e9\\ud83d\\ude00\"", "\"\\udc00\"", "\"\xc3\xa9\xff\"",
      "[]", "{}", " [ 1 , 2 ] ", "\t{\"a\" : [ {}, [] , \"x\" ]}\r\n", "\xef\xbb\xbf[1]", "[[[]]]",
      "{\"a\":{\"b\":{\"c\":null}}}", "[\"echo\",{\"t\":1795329447595136809,\"pad\":\"xxxx\"}]",
      // invalid
      "", " ", "{", "}", "[", "]", "[1,]", "[,1]", "[1 2]", "{\"a\":}", "{\"a\" 1}", "{a:1}", "{'a':1}",
      "{\"a\":1,}", "nul", "tru", "fals", "nulll", "NaN", "Infinity", "-Infinity", "+1", "01", "1.", ".5",
      "1e", "1e+", "-", "--1", "0x10", "\"unterminated", "\"bad \\x escape\"", "\"\\u12\"", "\"\\u12g4\"",
      "\"raw \n newline\"", "\"tab\tin\"", "1 2", "[] x", "{} {}", "[1]]", "//c\n1", "/*c*/1", "undefined",
      "'str'", "[\"a\",]", "\"\\ud83d\"", "\"\\ud83d\\u0041\"", "\"\\ud83dx\"", "{\"a\"}", "{,}", "[}", "{]",
      std::string("[1,\0 2]", 7), std::string("[1]\0", 4), std::string("\"a\0\"", 4), "\xef\xbb[1]",
      "\xef\xbb\xbf", "[1] \xef\xbb\xbf", "\xef[1]", "\xbb[1]", "\xef\xbf[1]",
  };
  for (const auto& text : cases) {
    INFO("input: " << text);
    CHECK(scan(text) == parses(text));
  }
}

TEST_CASE("scan_json: strings with a special byte at every position of the 16-byte fast path", "[json]") {
  // The scanner skips plain string bytes 16 at a time: each byte that ends a run must be seen
  // wherever it falls in or around a block, also in the scalar tail.
  const std::vector<std::string> specials = {"\"", "\\", std::string(1, '\0'), "\x01", "\x1f", " ",
                                             "\x7f", "\x80", "\xff", "\\n", "\\u00e9", "\\x", "\\"};
  for (std::size_t length = 0; length <= 40; ++length) {
    for (std::size_t at = 0; at <= length; ++at) {
      for (const auto& special : specials) {
        std::string body(length, 'x');
        body.insert(at, special);
        for (const std::string& text : {"\"" + body + "\"", "[\"" + body + "\",1]", "{\"" + body + "\":2}"}) {
          INFO("input: " << text);
          REQUIRE(scan(text) == parses(text));
        }
      }
    }
  }
  CHECK(scan("[\"" + std::string(1000, 'y') + "\"]"));
  CHECK_FALSE(scan("[\"" + std::string(1000, 'y') + "\n\"]"));
}

TEST_CASE("scan_json: the nesting limit is the parser's (128)", "[json]") {
  const auto arrays = courier_test::nested_arrays;
  const auto objects = courier_test::nested_objects;
  for (std::size_t depth : {1u, 127u, 128u, 129u, 100000u}) {
    INFO("depth " << depth);
    CHECK(scan(arrays(depth)) == parses(arrays(depth)));
    CHECK(scan(objects(depth)) == parses(objects(depth)));
  }
  CHECK(scan(arrays(128)));
  CHECK_FALSE(scan(arrays(129)));
}

TEST_CASE("scan_json agrees with parse_json on random mutations of JSON documents", "[json]") {
  // A small deterministic fuzz (the sio_decoder libFuzzer target does the same at length).
  const std::vector<std::string> seeds = {
      R"(["echo",{"t":1795329447595136809,"pad":"xxxx"}])",
      R"({"a":[1,-2.5e-3,true,false,null,"s\"\\\u00e9"],"b":{}})",
      R"([[],{},"",0,"\ud83d\ude00"])",
      R"(["a string longer than one 16-byte block \" with an escape",{"k":"another long enough value"}])",
  };
  const std::string alphabet = "[]{}\",:\\/-+.0123456789eEtrufalsn \t\n\x01\x7f\xc3\xa9u";
  std::mt19937 rng(20261122);
  int valid = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text = seeds[static_cast<std::size_t>(i) % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const std::size_t at = rng() % text.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0: text[at] = c; break;
        case 1: text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c); break;
        default: text.erase(at, 1); break;
      }
    }
    const bool expected = parses(text);
    valid += expected;
    INFO("input: " << text);
    REQUIRE(scan(text) == expected);
  }
  CHECK(valid > 100);  // the mutations produce valid documents too, not only garbage
}

TEST_CASE("scan_json: element spans of a root array", "[json]") {
  const std::string text = R"( [ "a" , {"k" : [1, 2]}, 3 ,[], "x\"y" ] )";
  bool root_is_array = false;
  std::vector<JsonSpan> spans;
  REQUIRE(courier::detail::scan_json(text, root_is_array, &spans));
  CHECK(root_is_array);
  std::vector<std::string> elements;
  for (const auto& s : spans) elements.push_back(text.substr(s.begin, s.end - s.begin));
  CHECK(elements == std::vector<std::string>{R"("a")", R"({"k" : [1, 2]})", "3", "[]", R"("x\"y")"});

  spans.clear();
  REQUIRE(courier::detail::scan_json(R"({"a":[1,2]})", root_is_array, &spans));
  CHECK_FALSE(root_is_array);
  CHECK(spans.empty());
}

namespace {

// scan_json's verdict equals parse_json's, and for a root array its element spans equal the
// element texts that the RapidJSON-based parse_json_keep_raw records.
void check_agrees(const std::string& text) {
  INFO("input: " << text);
  auto buffer = std::make_shared<const std::string>(text);
  Value parsed;
  const bool valid = courier::detail::parse_json_keep_raw({buffer, buffer->data()}, *buffer, parsed);
  bool root_is_array = false;
  std::vector<JsonSpan> spans;
  REQUIRE(courier::detail::scan_json(*buffer, root_is_array, &spans) == valid);
  if (!valid || !parsed.is_array()) return;
  REQUIRE(root_is_array);
  std::vector<std::string_view> scanned, raw;
  for (const auto& s : spans) scanned.push_back(std::string_view(*buffer).substr(s.begin, s.end - s.begin));
  for (const Value& e : parsed.as_array()) raw.push_back(e.raw_json());
  REQUIRE(scanned == raw);
}

}  // namespace

TEST_CASE("scan_json: numbers of every length up to 40 digits, ended anywhere by any byte", "[json]") {
  // Digits are skipped 8 at a time while 8 bytes remain, then one at a time: every length around
  // those blocks (7, 8, 9, 16, 20+ digits), at the end of the input or not, in each part of a number.
  const std::vector<std::string> enders = {"", ",", "]", "}", " ", "\n", ".", ".5", "e", "e5", "E+2", "e-3",
                                           "x", "/", ":", "-", "+", std::string(1, '\0'), "\x80", "\xba", "\xff"};
  for (std::size_t n = 1; n <= 40; ++n) {
    std::string digits;
    for (std::size_t i = 0; i < n; ++i) digits += static_cast<char>('0' + (i * 7 + 1) % 10);
    for (const std::string& number : {digits, "-" + digits, "0." + digits, "1.5e" + digits, "-2E-" + digits,
                                      "0" + digits, "12." + digits + "e+1"}) {
      for (const auto& ender : enders) {
        const std::string value = number + ender;
        for (const std::string& text : {value, "[" + value + "]", "[" + value + ",1]", "{\"t\":" + value + "}",
                                        "[\"echo\",{\"t\":" + value + "}]", "[\"echo\",{\"t\":" + value + "},2]"})
          check_agrees(text);
      }
    }
  }
}

TEST_CASE("scan_json: every byte at every position of a run of digits", "[json]") {
  for (std::size_t n = 1; n <= 24; ++n) {
    for (std::size_t at = 0; at <= n; ++at) {
      for (int b = 0; b < 256; ++b) {
        std::string number(n, '7');
        number.insert(at, 1, static_cast<char>(b));
        check_agrees(number);
        check_agrees("[1." + number + "]");
      }
    }
  }
}

TEST_CASE("scan_json: a UTF-8 byte order mark, whole, partial or misplaced", "[json]") {
  // RapidJSON skips each of the BOM's three bytes, in order, where present; scan_json looks
  // further only when the first byte is >= 0x80.
  const std::string ef = "\xef", bb = "\xbb", bf = "\xbf";
  const std::vector<std::string> prefixes = {"", ef + bb + bf, ef, bb, bf, ef + bb, ef + bf, bb + bf, bf + bb + ef,
                                             ef + bb + bf + ef + bb + bf, ef + ef, "\xc3\xa9", "\x80", "\xfe\xff",
                                             ef + bb + bf + " ", " " + ef + bb + bf, "\x7f"};
  for (const auto& prefix : prefixes) {
    for (const char* value : {"", "[1]", "[\"a\",{\"t\":2}]", " [ 1 ] ", "1", "\"s\"", "{}", "\xef"})
      check_agrees(prefix + value);
  }
}

TEST_CASE("scan_json: whitespace and other low bytes at every position", "[json]") {
  // skip_space returns at once for a byte above ' ': each of the four whitespace bytes, and the
  // bytes at and below ' ' that are not whitespace, must still be told apart everywhere.
  const std::string text = R"(["echo",{"t":1795329447595136809,"pad":"xx","a":[true,null,-1.5e3,{}]}])";
  const std::vector<std::string> inserts = {" ", "\t", "\n", "\r", " \t\r\n ", std::string(1, '\0'), "\x0b",
                                            "\x0c", "\x1f", "\x7f", "\x21"};
  for (std::size_t at = 0; at <= text.size(); ++at) {
    for (const auto& insert : inserts) {
      std::string t = text;
      t.insert(at, insert);
      check_agrees(t);
    }
  }
}

TEST_CASE("lazy arguments: unparsed until read, then equal to the eager parse", "[json][value]") {
  const std::string text = R"(["ev", {"k" : [1, 2.5, "s"]}, "x\ny", 18446744073709551615, null])";
  Value args = lazy_args(text, true);
  REQUIRE(args.is_array());
  REQUIRE(args.size() == 5);
  const Array& a = args.as_array();
  CHECK_FALSE(ValueAccess::is_lazy(a[0]));  // the event name is read to dispatch
  CHECK(a[0].as_string() == "ev");
  for (std::size_t i = 1; i < a.size(); ++i) CHECK(ValueAccess::is_lazy(a[i]));

  // Writing it back, and asking for binaries, need no parse.
  CHECK(a[1].raw_json() == R"({"k" : [1, 2.5, "s"]})");
  CHECK(a[1].to_json() == R"({"k" : [1, 2.5, "s"]})");
  CHECK_FALSE(a[1].has_binary());
  CHECK(ValueAccess::is_lazy(a[1]));

  // A copy of an unparsed value stays unparsed and shares the text.
  Value copy = a[1];
  CHECK(ValueAccess::is_lazy(copy));
  CHECK(copy.raw_json() == a[1].raw_json());

  // Reading builds it, identical to the eager parse.
  Value eager;
  REQUIRE(courier::detail::parse_json(text, eager));
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("element " << i);
    CHECK(a[i] == eager[i]);
    CHECK_FALSE(ValueAccess::is_lazy(a[i]));
  }
  CHECK(a[1]["k"][1].as_double() == 2.5);
  CHECK(a[2].as_string() == "x\ny");
  CHECK(a[3].as_uint() == 18446744073709551615ull);
  CHECK(a[4].is_null());
  CHECK(a[1].raw_json() == R"({"k" : [1, 2.5, "s"]})");  // still written back as received

  // Type queries parse too.
  Value other = lazy_args(text);
  CHECK(ValueAccess::is_lazy(other[0]));
  CHECK(other[0].is_string());
  CHECK(other[1].is_object());
  CHECK(other[1].size() == 1);

  // Mutation parses first, then drops the wire text.
  CHECK(ValueAccess::is_lazy(copy));
  copy.set("n", 1);
  CHECK(copy.raw_json().empty());
  CHECK(copy.to_json() == R"({"k":[1,2.5,"s"],"n":1})");

  // Moves carry the unparsed state; the source is left null.
  Value third = lazy_args(text);
  Value moved = std::move(third.make_array()[1]);
  CHECK(ValueAccess::is_lazy(moved));
  CHECK(moved == eager[1]);
}

TEST_CASE("lazy arguments: an escaped event name is decoded at once", "[json]") {
  Value args = lazy_args(R"(["e\u0076ent", 1])", true);
  CHECK_FALSE(ValueAccess::is_lazy(args[0]));
  CHECK(args[0].as_string() == "event");
  CHECK(args[0].raw_json() == R"("e\u0076ent")");
}

TEST_CASE("lazy arguments: invalid JSON is refused when the packet arrives", "[json]") {
  for (const char* bad : {R"(["a",{]")", R"(["a",{"k":01}])", R"(["a","\x"])", R"(["a",1,])", R"(["a"] x)"}) {
    INFO(bad);
    auto buffer = std::make_shared<const std::string>(bad);
    Value out;
    CHECK_FALSE(courier::detail::parse_json_lazy_args({buffer, buffer->data()}, *buffer, out, true));
  }
}

TEST_CASE("lazy arguments: a decoded EVENT packet carries them, a BINARY_EVENT is parsed eagerly", "[json]") {
  courier::detail::Decoder decoder;
  courier::detail::SioPacket packet;
  REQUIRE(decoder.feed_text(R"(2["echo",{"t":1,"pad":"xx"}])", packet) == courier::detail::Decoder::Status::ok);
  REQUIRE(packet.data.size() == 2);
  CHECK(ValueAccess::is_lazy(packet.data[1]));
  CHECK(packet.data[1]["pad"].as_string() == "xx");

  CHECK(decoder.feed_text(R"(2["echo",{"t":1,]])", packet) == courier::detail::Decoder::Status::error);

  REQUIRE(decoder.feed_text(R"(51-["up",{"_placeholder":true,"num":0}])", packet) ==
          courier::detail::Decoder::Status::need_more);
  REQUIRE(decoder.feed_binary("\x01\x02", packet) == courier::detail::Decoder::Status::ok);
  CHECK_FALSE(ValueAccess::is_lazy(packet.data[1]));
  CHECK(packet.data[1].is_binary());
}

TEST_CASE("lazy arguments: concurrent first reads of one value", "[json][threads]") {
  // Values are documented safe for concurrent const access; the first read builds the value, so
  // that build is synchronized. Run under ThreadSanitizer in CI (courier_thread_tests).
  const std::string text = R"(["ev",{"a":[1,2,3],"b":"text","c":{"d":true}}])";
  Value eager;
  REQUIRE(courier::detail::parse_json(text, eager));
  for (int round = 0; round < 200; ++round) {
    Value args = lazy_args(text);
    const Value& v = args.as_array()[1];
    std::atomic<int> go{0};
    std::atomic<int> equal{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        go.fetch_add(1);
        while (go.load() < 4) {
        }
        if (v == eager[1] && v["b"].as_string() == "text") equal.fetch_add(1);
      });
    }
    for (auto& t : threads) t.join();
    REQUIRE(equal.load() == 4);
  }
}

TEST_CASE("make_text_buffer copies every size, across its size classes", "[json]") {
  for (std::size_t size : {0u, 1u, 63u, 64u, 65u, 128u, 129u, 256u, 257u, 512u, 513u, 1024u, 1025u, 2048u, 2049u, 70000u}) {
    std::string text(size, '\0');
    for (std::size_t i = 0; i < size; ++i) text[i] = static_cast<char>('a' + i % 26);
    const courier::detail::TextBuffer buffer = courier::detail::make_text_buffer(text);
    INFO("size " << size);
    REQUIRE(buffer);
    CHECK(std::string_view(buffer.get(), size) == text);
  }
  // A lazy argument keeps its packet's bytes alive after the decoder let go of them.
  Value arg;
  {
    const std::string text = R"(["a",{"k":"v"}])";
    const courier::detail::TextBuffer buffer = courier::detail::make_text_buffer(text);
    Value args;
    REQUIRE(courier::detail::parse_json_lazy_args(buffer, std::string_view(buffer.get(), text.size()), args, true));
    arg = args.as_array().at(1);
  }
  CHECK(arg.raw_json() == R"({"k":"v"})");
  CHECK(arg["k"].as_string() == "v");
}

TEST_CASE("make_text_buffer: a buffer still referenced is never overwritten by the next one", "[json]") {
  // The thread's spare buffer is reused only when nothing else holds it.
  TextBuffer first = make_text_buffer("first text");
  const char* first_bytes = first.get();
  TextBuffer held = first;  // a value still reading it
  first.reset();
  TextBuffer second = make_text_buffer("second!!!!");
  CHECK(std::string_view(held.get(), 10) == "first text");
  CHECK(std::string_view(second.get(), 10) == "second!!!!");
  CHECK(second.get() != first_bytes);
  held.reset();
  // Texts of every size class and above: always the bytes given, whatever was reused.
  for (std::size_t size : {0, 1, 63, 64, 65, 200, 256, 257, 1000, 2048, 2049, 5000}) {
    const std::string text(size, static_cast<char>('a' + size % 26));
    TextBuffer b = make_text_buffer(text);
    CHECK(std::string_view(b.get(), size) == text);
    TextBuffer keep = make_text_buffer(std::string(size, 'z'));
    CHECK(std::string_view(b.get(), size) == text);  // not overwritten while `b` holds it
    CHECK(std::string_view(keep.get(), size) == std::string(size, 'z'));
  }
}

TEST_CASE("make_text_buffer: values parsed from a packet keep their text after the next packet", "[json]") {
  Value kept;
  {
    const std::string text = R"(["ev",{"k":"kept value"}])";
    TextBuffer buffer = make_text_buffer(text);
    Value args;
    REQUIRE(parse_json_lazy_args(buffer, std::string_view(buffer.get(), text.size()), args, true));
    kept = args.as_array()[1];  // lazily parsed: reads the buffer later
  }
  const std::string other = R"(["ev",{"k":"another one"}])";
  TextBuffer next = make_text_buffer(other);
  Value args;
  REQUIRE(parse_json_lazy_args(next, std::string_view(next.get(), other.size()), args, true));
  CHECK(kept["k"].as_string() == "kept value");
  CHECK(args.as_array()[1]["k"].as_string() == "another one");
  CHECK(kept.to_json() == R"({"k":"kept value"})");
}
