// Unit tests for courier::Value (include/courier/value.hpp, src/common/value.cpp) and its JSON
// reading/writing (src/protocol/json.cpp).

#include <courier/value.hpp>

#include "protocol/json.hpp"

#include <catch2/catch.hpp>

#include "../child_process.hpp"
#include "nested_json.hpp"

#include <fcntl.h>
#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

using courier::Array;
using courier::Bytes;
using courier::Member;
using courier::Object;
using courier::Value;

using courier_test::exit_code_in_child;

namespace {

using namespace std::string_literals;

Value parsed(std::string_view text) {
  Value v;
  const bool ok = Value::parse_json(text, v);
  INFO("parsing " << text);
  REQUIRE(ok);
  return v;
}


}  // namespace

TEST_CASE("Value: default and null construction", "[value]") {
  const Value a;
  const Value b(nullptr);
  CHECK(a.is_null());
  CHECK(b.is_null());
  CHECK(a.type() == Value::Type::null);
  CHECK(a == b);
  CHECK(a.to_json() == "null");
  CHECK(a.size() == 0);
  CHECK(a.raw_json().empty());
  CHECK_FALSE(a.has_binary());
}

TEST_CASE("Value: construction from every C++ type", "[value]") {
  SECTION("bool") {
    CHECK(Value(true).type() == Value::Type::boolean);
    CHECK(Value(true).as_bool());
    CHECK_FALSE(Value(false).as_bool(true));
    CHECK(Value(false).to_json() == "false");
    CHECK(Value(true).to_json() == "true");
  }
  SECTION("signed integers become Type::integer") {
    CHECK(Value(42).type() == Value::Type::integer);
    CHECK(Value(-42L).type() == Value::Type::integer);
    CHECK(Value(-42LL).type() == Value::Type::integer);
    CHECK(Value(static_cast<short>(-7)).as_int() == -7);
    CHECK(Value(std::int64_t{-5}).as_int() == -5);
    CHECK(Value(std::numeric_limits<int>::min()).as_int() == std::numeric_limits<int>::min());
    CHECK(Value(std::numeric_limits<long long>::min()).as_int() == std::numeric_limits<std::int64_t>::min());
    CHECK(Value(42) == Value(42L));
    CHECK(Value(42L) == Value(42LL));
  }
  SECTION("unsigned integers up to INT64_MAX become Type::integer") {
    CHECK(Value(7u).type() == Value::Type::integer);
    CHECK(Value(std::numeric_limits<unsigned>::max()).as_int() == 4294967295LL);
    CHECK(Value(7ul).type() == Value::Type::integer);
    CHECK(Value(7ull).type() == Value::Type::integer);
    CHECK(Value(7ull) == Value(7));
    const auto max_signed = static_cast<unsigned long long>(std::numeric_limits<std::int64_t>::max());
    CHECK(Value(max_signed).type() == Value::Type::integer);
    CHECK(Value(max_signed).as_int() == std::numeric_limits<std::int64_t>::max());
  }
  SECTION("unsigned integers above INT64_MAX become Type::uinteger") {
    const auto above = static_cast<unsigned long long>(std::numeric_limits<std::int64_t>::max()) + 1;
    CHECK(Value(above).type() == Value::Type::uinteger);
    CHECK(Value(above).as_uint() == above);
    CHECK(Value(std::numeric_limits<std::uint64_t>::max()).type() == Value::Type::uinteger);
    CHECK(Value(std::numeric_limits<unsigned long>::max()).as_uint() == std::numeric_limits<std::uint64_t>::max());
    CHECK(Value(above).is_integer());
    CHECK(Value(above).is_number());
  }
  SECTION("floating point") {
    CHECK(Value(1.5).type() == Value::Type::number);
    CHECK(Value(1.5f).type() == Value::Type::number);
    CHECK(Value(1.5).as_double() == 1.5);
    CHECK(Value(1.5).is_number());
    CHECK_FALSE(Value(1.5).is_integer());
    // An integral double stays a double: 1.0 and 1 are different values.
    CHECK(Value(1.0) != Value(1));
  }
  SECTION("strings") {
    const char* cstr = "hello";
    CHECK(Value(cstr).type() == Value::Type::string);
    CHECK(Value(cstr).as_string() == "hello");
    CHECK(Value("lit").as_string() == "lit");
    CHECK(Value(std::string("str")).as_string() == "str");
    CHECK(Value(std::string_view("view")).as_string() == "view");
    CHECK(Value("x") == Value(std::string("x")));
    CHECK(Value(std::string("a\0b", 3)).as_string().size() == 3);
    CHECK(Value("").is_string());
    CHECK(Value("").as_string().empty());
  }
  SECTION("binary") {
    const Value b = Value::binary("\x01\x02\x00\xff"s);
    CHECK(b.type() == Value::Type::binary);
    CHECK(b.is_binary());
    CHECK(b.as_binary() == "\x01\x02\x00\xff"s);
    CHECK(Value(Bytes{"abc"}) == Value::binary("abc"));
    CHECK(Value::binary("").is_binary());
    CHECK(b.has_binary());
  }
  SECTION("array and object") {
    const Value a(Array{Value(1), Value("two")});
    CHECK(a.is_array());
    CHECK(a.size() == 2);
    const Value o(Object{Member{"k", Value(1)}});
    CHECK(o.is_object());
    CHECK(o.size() == 1);
    CHECK(o["k"].as_int() == 1);
  }
}

TEST_CASE("Value: type predicates are exclusive", "[value]") {
  const std::vector<Value> values{Value(), Value(true), Value(1), Value(~0ull), Value(1.5), Value("s"),
                                  Value::binary("b"), Value::array(), Value::object()};
  for (std::size_t i = 0; i < values.size(); ++i) {
    const Value& v = values[i];
    INFO("index " << i);
    CHECK(static_cast<std::size_t>(v.type()) == i);
    const int count = v.is_null() + v.is_bool() + v.is_string() + v.is_binary() + v.is_array() + v.is_object() +
                      v.is_number();
    CHECK(count == 1);
    CHECK(v.is_integer() == (i == 2 || i == 3));
    CHECK(v.is_number() == (i >= 2 && i <= 4));
  }
}

TEST_CASE("Value: accessors return fallbacks for other types", "[value]") {
  const Value s("text");
  const Value n(3.75);
  const Value i(-3);
  const Value nul;
  const Value arr = Value::array({1});
  const Value obj = Value::object({{"a", 1}});

  SECTION("as_bool") {
    CHECK(s.as_bool() == false);
    CHECK(s.as_bool(true) == true);
    CHECK(Value(1).as_bool(false) == false);  // no truthiness: only real booleans
    CHECK(nul.as_bool(true) == true);
  }
  SECTION("as_int") {
    CHECK(s.as_int() == 0);
    CHECK(s.as_int(-9) == -9);
    CHECK(nul.as_int(5) == 5);
    CHECK(Value(true).as_int(7) == 7);
    CHECK(n.as_int() == 3);                 // truncated
    CHECK(Value(-3.75).as_int() == -3);     // truncated toward zero
    CHECK(i.as_int() == -3);
    CHECK(Value(1e300).as_int() == std::numeric_limits<std::int64_t>::max());
    CHECK(Value(-1e300).as_int() == std::numeric_limits<std::int64_t>::min());
    CHECK(Value(std::nan("")).as_int(11) == 11);
    CHECK(Value(std::numeric_limits<std::uint64_t>::max()).as_int() == std::numeric_limits<std::int64_t>::max());
  }
  SECTION("as_uint") {
    CHECK(i.as_uint(99) == 99);  // negative -> fallback
    CHECK(Value(-0.5).as_uint(99) == 99);
    CHECK(Value(std::nan("")).as_uint(99) == 99);
    CHECK(Value(3).as_uint() == 3);
    CHECK(n.as_uint() == 3);
    CHECK(Value(1e300).as_uint() == std::numeric_limits<std::uint64_t>::max());
    CHECK(s.as_uint(4) == 4);
    CHECK(Value(std::numeric_limits<std::uint64_t>::max()).as_uint() == std::numeric_limits<std::uint64_t>::max());
  }
  SECTION("as_double") {
    CHECK(s.as_double() == 0.0);
    CHECK(s.as_double(2.5) == 2.5);
    CHECK(i.as_double() == -3.0);
    CHECK(n.as_double() == 3.75);
    CHECK(Value(std::numeric_limits<std::uint64_t>::max()).as_double() == 18446744073709551615.0);
  }
  SECTION("as_string / as_binary / as_array / as_object") {
    CHECK(n.as_string().empty());
    CHECK(Value::binary("x").as_string().empty());
    CHECK(s.as_binary().empty());
    CHECK(s.as_array().empty());
    CHECK(s.as_object().empty());
    CHECK(arr.as_object().empty());
    CHECK(obj.as_array().empty());
    CHECK(nul.as_array().empty());
    CHECK(s.size() == 0);
    CHECK(n.size() == 0);
  }
}

TEST_CASE("Value::array and Value::object", "[value]") {
  const Value a = Value::array({1, "two", nullptr, true, 2.5});
  REQUIRE(a.is_array());
  REQUIRE(a.size() == 5);
  CHECK(a[0].as_int() == 1);
  CHECK(a[1].as_string() == "two");
  CHECK(a[2].is_null());
  CHECK(a[3].as_bool());
  CHECK(a[4].as_double() == 2.5);
  CHECK(a.to_json() == R"([1,"two",null,true,2.5])");

  CHECK(Value::array().is_array());
  CHECK(Value::array().size() == 0);
  CHECK(Value::array().to_json() == "[]");
  CHECK(Value::object().is_object());
  CHECK(Value::object().to_json() == "{}");

  const Value o = Value::object({{"name", "ada"}, {"age", 36}, {"tags", Value::array({"x"})}});
  REQUIRE(o.is_object());
  REQUIRE(o.size() == 3);
  CHECK(o.as_object()[0].key == "name");
  CHECK(o.as_object()[1].key == "age");
  CHECK(o.as_object()[2].key == "tags");
  CHECK(o["name"].as_string() == "ada");
  CHECK(o["age"].as_int() == 36);
  CHECK(o["tags"][0].as_string() == "x");
  CHECK(o.to_json() == R"({"name":"ada","age":36,"tags":["x"]})");
}

TEST_CASE("Value: set replaces the first member of that name, else appends", "[value]") {
  SECTION("null becomes an object") {
    Value v;
    v.set("a", 1).set("b", 2);
    REQUIRE(v.is_object());
    CHECK(v.to_json() == R"({"a":1,"b":2})");
  }
  SECTION("replacing keeps the position") {
    Value v = Value::object({{"a", 1}, {"b", 2}, {"c", 3}});
    v.set("b", "bee");
    CHECK(v.size() == 3);
    CHECK(v.to_json() == R"({"a":1,"b":"bee","c":3})");
  }
  SECTION("with duplicate keys only the first is replaced") {
    Value v = Value::object({{"a", 1}, {"a", 2}});
    v.set("a", 3);
    REQUIRE(v.size() == 2);
    CHECK(v.as_object()[0].value.as_int() == 3);
    CHECK(v.as_object()[1].value.as_int() == 2);
    CHECK(v["a"].as_int() == 3);
    CHECK(v.to_json() == R"({"a":3,"a":2})");
  }
  SECTION("set on a parsed value drops its raw text") {
    Value v = parsed(R"({"a" : 1})");
    v.set("b", 2);
    CHECK(v.to_json() == R"({"a":1,"b":2})");
  }
}

TEST_CASE("Value: push_back, make_array, make_object", "[value]") {
  Value v;
  v.push_back(1).push_back("x");
  REQUIRE(v.is_array());
  CHECK(v.to_json() == R"([1,"x"])");
  v.make_array().push_back(Value::object({{"k", nullptr}}));
  CHECK(v.to_json() == R"([1,"x",{"k":null}])");

  Value o;
  o.make_object().push_back(Member{"z", Value(false)});
  CHECK(o.to_json() == R"({"z":false})");
  // make_object on an object keeps its members.
  o.make_object();
  CHECK(o.size() == 1);
  Value a = Value::array({1, 2});
  a.make_array();
  CHECK(a.size() == 2);
}

TEST_CASE("Value: find and operator[]", "[value]") {
  const Value o = Value::object({{"a", 1}, {"b", Value::object({{"c", "deep"}})}, {"a", 2}});
  REQUIRE(o.find("a") != nullptr);
  CHECK(o.find("a")->as_int() == 1);  // the first one
  CHECK(o.find("missing") == nullptr);
  CHECK(o.find("") == nullptr);
  CHECK(o["b"]["c"].as_string() == "deep");
  CHECK(o["missing"].is_null());
  CHECK(o["missing"]["deeper"][3].is_null());

  const Value a = Value::array({10, 20});
  CHECK(a[0].as_int() == 10);
  CHECK(a[1].as_int() == 20);
  CHECK(a[2].is_null());
  CHECK(a[static_cast<std::size_t>(-1)].is_null());
  CHECK(a.find("0") == nullptr);
  CHECK(a["0"].is_null());

  // Indexing non-containers is harmless.
  CHECK(Value(5)[0].is_null());
  CHECK(Value("str")["k"].is_null());
  CHECK(Value()[0].is_null());
  CHECK(Value(5).find("k") == nullptr);
  CHECK(o[0].is_null());
}

TEST_CASE("Value: equality", "[value]") {
  CHECK(Value() == Value(nullptr));
  CHECK(Value(1) == Value(1));
  CHECK(Value(1) != Value(2));
  CHECK(Value(1) != Value(1.0));      // integer vs double
  CHECK(Value(1) != Value(true));
  CHECK(Value(0) != Value());
  CHECK(Value("") != Value());
  CHECK(Value("1") != Value(1));
  CHECK(Value("ab") == Value("ab"));
  CHECK(Value("ab") != Value::binary("ab"));  // string vs binary
  CHECK(Value::binary("ab") == Value::binary("ab"));
  CHECK(Value::array({1, 2}) == Value::array({1, 2}));
  CHECK(Value::array({1, 2}) != Value::array({2, 1}));
  CHECK(Value::array({1, 2}) != Value::array({1, 2, 3}));
  CHECK(Value::object({{"a", 1}, {"b", 2}}) == Value::object({{"a", 1}, {"b", 2}}));
  // Objects keep order, so a different order is a different value.
  CHECK(Value::object({{"a", 1}, {"b", 2}}) != Value::object({{"b", 2}, {"a", 1}}));
  CHECK(Value::object({{"a", 1}}) != Value::object({{"a", 2}}));
  CHECK(Value::array() != Value::object());
  CHECK(Value(std::nan("")) != Value(std::nan("")));
  // Raw wire text does not take part in equality.
  CHECK(parsed(R"([1, 2])") == Value::array({1, 2}));
}

TEST_CASE("Value: copies are deep", "[value]") {
  Value a = Value::object({{"list", Value::array({1, 2})}});
  Value b = a;
  b.set("list", Value::array({3}));
  CHECK(a["list"].size() == 2);
  CHECK(b["list"].size() == 1);
  CHECK(a != b);
  Value c = std::move(b);
  CHECK(c["list"][0].as_int() == 3);
}

TEST_CASE("Value: has_binary finds nested binaries", "[value]") {
  CHECK_FALSE(Value().has_binary());
  CHECK_FALSE(Value("bin").has_binary());
  CHECK_FALSE(Value::array({1, "x", Value::object({{"a", Value::array()}})}).has_binary());
  CHECK(Value::binary("").has_binary());
  CHECK(Value::array({1, Value::binary("x")}).has_binary());
  CHECK(Value::object({{"a", Value::binary("x")}}).has_binary());
  CHECK(Value::array({Value::object({{"a", Value::array({Value::object({{"b", Value::binary("x")}})})}})}).has_binary());
  CHECK_FALSE(Value::array({Value::object({{"a", Value::array({Value::object({{"b", "x"}})})}})}).has_binary());
}

TEST_CASE("Value::to_json: compact, insertion order, placeholders", "[value]") {
  const Value v = Value::object({{"z", 1},
                                 {"a", Value::array({true, false, nullptr, Value::array(), Value::object()})},
                                 {"m", Value::object({{"y", "s"}, {"b", -2}})}});
  CHECK(v.to_json() == R"({"z":1,"a":[true,false,null,[],{}],"m":{"y":"s","b":-2}})");

  // Binary values become placeholders numbered in document order.
  const Value b = Value::array(
      {"ev", Value::binary("0"), Value::object({{"x", Value::binary("1")}, {"y", Value::array({Value::binary("2")})}}),
       Value::binary("3")});
  CHECK(b.to_json() ==
        R"(["ev",{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1},"y":[{"_placeholder":true,"num":2}]},{"_placeholder":true,"num":3}])");
}

TEST_CASE("write_json appends attachments in placeholder order", "[value]") {
  const Value b = Value::array({Value::object({{"k", Value::binary("first")}}), Value::binary("second")});
  std::string out = "prefix:";
  std::vector<std::string> attachments{"existing"};
  courier::detail::write_json(b, out, &attachments);
  // Numbering continues from the attachments already present.
  CHECK(out == R"(prefix:[{"k":{"_placeholder":true,"num":1}},{"_placeholder":true,"num":2}])");
  REQUIRE(attachments.size() == 3);
  CHECK(attachments[1] == "first");
  CHECK(attachments[2] == "second");
}

TEST_CASE("Value::to_json: string escaping", "[value]") {
  CHECK(Value("plain").to_json() == R"("plain")");
  CHECK(Value("").to_json() == R"("")");
  CHECK(Value("say \"hi\"").to_json() == R"("say \"hi\"")");
  CHECK(Value("back\\slash").to_json() == R"("back\\slash")");
  CHECK(Value("/").to_json() == R"("/")");  // '/' is not escaped (as JSON.stringify)
  CHECK(Value("\b\f\n\r\t").to_json() == R"("\b\f\n\r\t")");
  CHECK(Value("\x01").to_json() == R"("\u0001")");
  CHECK(Value("\x1f").to_json() == R"("\u001f")");
  CHECK(Value("\x0b").to_json() == R"("\u000b")");
  CHECK(Value(std::string("a\0b", 3)).to_json() == R"("a\u0000b")");
  CHECK(Value("\x7f").to_json() == "\"\x7f\"");  // DEL is not a control char for JSON
  CHECK(Value(" ").to_json() == "\" \"");
  // UTF-8 passes through unchanged.
  CHECK(Value("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80").to_json() == "\"h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80\"");
  // Every control character.
  for (int c = 0; c < 0x20; ++c) {
    const std::string s(1, static_cast<char>(c));
    const std::string json = Value(s).to_json();
    INFO("char " << c << " -> " << json);
    CHECK(json.size() >= 4);
    CHECK(json.find(static_cast<char>(c)) == std::string::npos);
    Value back;
    REQUIRE(Value::parse_json(json, back));
    CHECK(back.as_string() == s);
  }
  // Keys are escaped too.
  CHECK(Value::object({{"a\"b\n", 1}}).to_json() == R"({"a\"b\n":1})");
  // Mixed runs.
  CHECK(Value("ab\"cd\\ef\ngh").to_json() == R"("ab\"cd\\ef\ngh")");

  std::string out;
  courier::detail::write_json_string("x\"y", out);
  CHECK(out == R"("x\"y")");
}

TEST_CASE("Value::to_json: 64-bit integers are exact", "[value]") {
  CHECK(Value(0).to_json() == "0");
  CHECK(Value(-1).to_json() == "-1");
  CHECK(Value(std::numeric_limits<std::int64_t>::min()).to_json() == "-9223372036854775808");
  CHECK(Value(std::numeric_limits<std::int64_t>::max()).to_json() == "9223372036854775807");
  CHECK(Value(std::numeric_limits<std::uint64_t>::max()).to_json() == "18446744073709551615");
  CHECK(Value(9223372036854775808ull).to_json() == "9223372036854775808");
  CHECK(Value(1795329446586541802LL).to_json() == "1795329446586541802");

  // And they parse back exactly, with the right type.
  const Value min = parsed("-9223372036854775808");
  CHECK(min.type() == Value::Type::integer);
  CHECK(min.as_int() == std::numeric_limits<std::int64_t>::min());
  const Value max = parsed("9223372036854775807");
  CHECK(max.type() == Value::Type::integer);
  CHECK(max.as_int() == std::numeric_limits<std::int64_t>::max());
  const Value umax = parsed("18446744073709551615");
  CHECK(umax.type() == Value::Type::uinteger);
  CHECK(umax.as_uint() == std::numeric_limits<std::uint64_t>::max());
  const Value above = parsed("9223372036854775808");
  CHECK(above.type() == Value::Type::uinteger);
  CHECK(above.as_uint() == 9223372036854775808ull);
  const Value t = parsed("1795329446586541802");
  CHECK(t.as_int() == 1795329446586541802LL);
  CHECK(t.to_json() == "1795329446586541802");
  // Beyond uint64: a double, not a wrapped integer.
  const Value huge = parsed("18446744073709551616");
  CHECK(huge.type() == Value::Type::number);
  CHECK(huge.as_double() == 18446744073709551616.0);
  const Value very_negative = parsed("-9223372036854775809");
  CHECK(very_negative.type() == Value::Type::number);
}

TEST_CASE("Value::to_json: doubles", "[value]") {
  CHECK(Value(1.5).to_json() == "1.5");
  CHECK(Value(-2.25).to_json() == "-2.25");
  CHECK(Value(0.1).to_json() == "0.1");
  CHECK(Value(1e21).to_json() == "1e+21");  // what JSON.stringify writes too
  CHECK(Value(2.0).to_json() == "2");
  CHECK(Value(0.0).to_json() == "0");
  CHECK(Value(std::nan("")).to_json() == "null");
  CHECK(Value(std::numeric_limits<double>::infinity()).to_json() == "null");
  CHECK(Value(-std::numeric_limits<double>::infinity()).to_json() == "null");
  CHECK(Value::array({std::nan(""), 1}).to_json() == "[null,1]");

  SECTION("-0.0 is written as a JSON number equal to zero") {
    // JSON.stringify(-0) is "0"; "-0" is valid JSON as well. Either way it must parse back to 0.
    const std::string json = Value(-0.0).to_json();
    CHECK((json == "0" || json == "-0"));
    Value back;
    REQUIRE(Value::parse_json(json, back));
    CHECK(back.as_double(1.0) == 0.0);
  }
  SECTION("shortest text that round-trips") {
    for (double d : {1.5, 0.1, 1.0 / 3.0, 1e21, 1e-7, 123456.789, -1e300, 5e-324, 1.7976931348623157e308,
                     9007199254740993.0, 3.141592653589793}) {
      const std::string json = Value(d).to_json();
      INFO(json);
      Value back;
      REQUIRE(Value::parse_json(json, back));
      CHECK(back.as_double() == d);
      CHECK(json.find(' ') == std::string::npos);
    }
  }
}

TEST_CASE("Value::parse_json: invalid JSON returns false and leaves null", "[value]") {
  const char* bad[] = {
      "", " ", "{", "}", "[", "]", "[1,]", "[,1]", "[1 2]", "{\"a\":}", "{\"a\" 1}", "{a:1}", "{'a':1}",
      "{\"a\":1,}", "nul", "tru", "fals", "nulll", "NaN", "Infinity", "-Infinity", "+1", "01", "1.", ".5", "1e",
      "-", "--1", "0x10", "\"unterminated", "\"bad \\x escape\"", "\"\\u12\"", "\"raw \n newline\"",
      "\"tab\tin\"", "1 2", "[] x", "{} {}", "[1]]", "//c\n1", "/*c*/1", "undefined", "'str'", "[\"a\",]",
  };
  for (const char* text : bad) {
    INFO("input: " << text);
    Value out = Value::array({1, 2});  // must be reset to null
    CHECK_FALSE(Value::parse_json(text, out));
    CHECK(out.is_null());
  }
  Value out(5);
  CHECK_FALSE(Value::parse_json(std::string_view("[1,\0 2]", 7), out));
  CHECK(out.is_null());
  CHECK_FALSE(Value::parse_json(std::string_view("\0[1]", 4), out));
}

TEST_CASE("Value::parse_json: a NUL after the value is trailing garbage", "[value]") {
  // JSON.parse("[1]\u0000") throws: U+0000 is not JSON whitespace.
  Value out(5);
  CHECK_FALSE(Value::parse_json(std::string_view("[1]\0", 4), out));
  CHECK(out.is_null());
  CHECK_FALSE(Value::parse_json(std::string_view("{\"a\":1}\0{\"b\":2}", 16), out));
  CHECK_FALSE(Value::parse_json(std::string_view("\"s\"\0garbage", 11), out));
}

TEST_CASE("Value::parse_json: a leading UTF-8 byte order mark is skipped", "[value]") {
  // RapidJSON skips it (RFC 8259 allows parsers to ignore a BOM; JSON.parse does not).
  Value out;
  REQUIRE(Value::parse_json("\xef\xbb\xbf[1]", out));
  CHECK(out == Value::array({1}));
}

TEST_CASE("Value::parse_json: only reads the given view", "[value]") {
  const std::string text = "[1,2]garbage";
  Value v;
  REQUIRE(Value::parse_json(std::string_view(text).substr(0, 5), v));
  CHECK(v == Value::array({1, 2}));
  CHECK_FALSE(Value::parse_json(std::string_view(text).substr(0, 4), v));
}

TEST_CASE("Value::parse_json: parsed values", "[value]") {
  const Value v = parsed(R"( { "s" : "h\u00e9\n\"", "i" : -12, "d" : 2.5, "e" : 1E3, "b" : [true, false, null],
                               "o" : { } , "u" : "\ud83d\ude00", "esc": "\/\b\f\r\t\\" } )");
  REQUIRE(v.is_object());
  CHECK(v.size() == 8);
  CHECK(v["s"].as_string() == "h\xc3\xa9\n\"");
  CHECK(v["i"].type() == Value::Type::integer);
  CHECK(v["i"].as_int() == -12);
  CHECK(v["d"].type() == Value::Type::number);
  CHECK(v["d"].as_double() == 2.5);
  CHECK(v["e"].as_double() == 1000.0);
  CHECK(v["b"] == Value::array({true, false, nullptr}));
  CHECK(v["o"].is_object());
  CHECK(v["o"].size() == 0);
  CHECK(v["u"].as_string() == "\xf0\x9f\x98\x80");  // surrogate pair -> one 4-byte UTF-8 sequence
  CHECK(v["esc"].as_string() == "/\b\f\r\t\\");
  // Keys keep the order of the text, duplicates included.
  const Value d = parsed(R"({"b":1,"a":2,"b":3})");
  REQUIRE(d.size() == 3);
  CHECK(d.as_object()[0].key == "b");
  CHECK(d.as_object()[1].key == "a");
  CHECK(d.as_object()[2].key == "b");
  CHECK(d["b"].as_int() == 1);
  // "\u0000" inside a string is kept.
  CHECK(parsed(R"("a\u0000b")").as_string() == std::string("a\0b", 3));
  // Scalars at the top level.
  CHECK(parsed("null").is_null());
  CHECK(parsed("true").as_bool());
  CHECK(parsed(" 42 ").as_int() == 42);
  CHECK(parsed("\"s\"").as_string() == "s");
  // parse_json never yields binary, even for placeholders.
  CHECK_FALSE(parsed(R"({"_placeholder":true,"num":0})").has_binary());
  // Parsed values from parse_json carry no raw wire text.
  CHECK(parsed("[1, 2]").raw_json().empty());
  CHECK(parsed("[1, 2]")[0].raw_json().empty());
}

TEST_CASE("Value: parse_json -> to_json round trip of canonical documents", "[value]") {
  const char* docs[] = {
      "null",
      "true",
      "false",
      "0",
      "-1",
      "42",
      "1.5",
      "-0.25",
      "1e+21",
      "9223372036854775807",
      "-9223372036854775808",
      "18446744073709551615",
      "1795329446586541802",
      R"("")",
      R"("text")",
      R"("quote \" backslash \\ newline \n tab \t cr \r bs \b ff \f")",
      R"("ctl \u0001\u001f\u0000")",
      "\"utf-8 h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80\"",
      "[]",
      "{}",
      "[[]]",
      "[{}]",
      R"({"a":{}})",
      R"([1,"two",null,true,false,1.5,[],{}])",
      R"({"name":"ada","age":36,"langs":["en","fr"],"address":{"city":"London","zip":null}})",
      R"({"z":1,"y":2,"x":3,"a":4})",
      R"({"dup":1,"dup":2})",
      R"(["relay",{"t":1795329446586541802,"x":[1,2]},"s"])",
      R"({"_placeholder":true,"num":0})",
      R"([[[[[[[[[[1]]]]]]]]]])",
      R"({"a":{"b":{"c":{"d":{"e":[1,{"f":"g"}]}}}}})",
      R"({"":""})",
      R"(["a\/b"])",
  };
  for (const char* doc : docs) {
    std::string expected = doc;
    // "\/" parses to "/" which is written unescaped.
    for (std::size_t p; (p = expected.find("\\/")) != std::string::npos;) expected.erase(p, 1);
    INFO("document: " << doc);
    const Value v = parsed(doc);
    CHECK(v.to_json() == expected);
    // And again: to_json output is a fixed point.
    CHECK(parsed(v.to_json()) == v);
    CHECK(parsed(v.to_json()).to_json() == expected);
  }
}

TEST_CASE("Value: parse_json -> to_json canonicalises whitespace and escapes", "[value]") {
  const std::pair<const char*, const char*> cases[] = {
      {" [ 1 , 2 ] ", "[1,2]"},
      {"{ \"a\" : [ true , null ] }", R"({"a":[true,null]})"},
      {"\n\t{\"k\":\r\n1}\n", R"({"k":1})"},
      {R"("\u0041\u00e9")", "\"A\xc3\xa9\""},
      {R"("\u2028")", "\"\xe2\x80\xa8\""},
      {R"("\ud83d\ude00")", "\"\xf0\x9f\x98\x80\""},
      {R"("\u007f")", "\"\x7f\""},
      {R"("\u001F")", R"("\u001f")"},
      {"1.0", "1"},
      {"1E2", "100"},
      {"-0.0", "-0"},
      {"0.10", "0.1"},
      {"1e-7", "1e-07"},
  };
  for (const auto& [in, out] : cases) {
    INFO("input: " << in);
    const Value v = parsed(in);
    if (std::string_view(in) == "-0.0") {
      // See the -0.0 note above: "0" would do as well.
      CHECK((v.to_json() == "-0" || v.to_json() == "0"));
    } else if (std::string_view(in) == "1e-7") {
      // Any text that parses back to the same double is fine.
      CHECK(parsed(v.to_json()).as_double() == 1e-7);
    } else {
      CHECK(v.to_json() == out);
    }
  }
}

TEST_CASE("Value: raw wire text is kept by copies and dropped by mutation", "[value]") {
  auto buffer = std::make_shared<const std::string>(R"(["a", {"k" : 1}])");
  Value v;
  REQUIRE(courier::detail::parse_json_keep_raw({buffer, buffer->data()}, *buffer, v));
  REQUIRE(v.size() == 2);
  CHECK(v[0].raw_json() == R"("a")");
  CHECK(v[1].raw_json() == R"({"k" : 1})");
  CHECK(v.raw_json().empty());  // only the elements remember their text

  Value element = v[1];
  buffer.reset();
  v = Value();
  // The copy keeps the buffer alive.
  CHECK(element.raw_json() == R"({"k" : 1})");
  CHECK(element.to_json() == R"({"k" : 1})");
  CHECK(Value::array({element}).to_json() == R"([{"k" : 1}])");

  Value changed = element;
  changed.set("k", 2);
  CHECK(changed.raw_json().empty());
  CHECK(changed.to_json() == R"({"k":2})");
  CHECK(element.to_json() == R"({"k" : 1})");

  Value appended = element;
  appended.make_object();
  CHECK(appended.raw_json().empty());
  CHECK(appended.to_json() == R"({"k":1})");

  Value assigned = element;
  assigned = Value(7);
  CHECK(assigned.raw_json().empty());
  CHECK(assigned.to_json() == "7");
}

TEST_CASE("Value::parse_json: deep nesting does not overflow the stack", "[value]") {
  // 100,000 levels is 200 KB of text; parse_json must return (true or false), not crash.
  for (const char* open_close : {"[]", "{}"}) {
    INFO(open_close);
    const int code = exit_code_in_child([open_close] {
      std::string text;
      if (open_close[0] == '[') {
        text = std::string(100000, '[') + std::string(100000, ']');
      } else {
        for (int i = 0; i < 100000; ++i) text += "{\"a\":";
        text += "1" + std::string(100000, '}');
      }
      Value v;
      Value::parse_json(text, v);
      return 0;
    });
    CHECK(code == 0);
  }
}

TEST_CASE("Value::parse_json: nesting limit of 128 levels", "[value]") {
  // json.cpp refuses nesting deeper than 128 (kMaxDepth) instead of recursing without bound.
  const auto arrays = courier_test::nested_arrays;
  const auto objects = courier_test::nested_objects;
  Value v;
  REQUIRE(Value::parse_json(arrays(128), v));
  std::size_t depth = 0;
  for (const Value* p = &v; p->is_array(); p = &(*p)[0]) ++depth;
  CHECK(depth == 128);
  CHECK(v.to_json() == arrays(128));
  CHECK_FALSE(Value::parse_json(arrays(129), v));
  CHECK(v.is_null());
  REQUIRE(Value::parse_json(objects(128), v));
  CHECK(v.to_json() == objects(128));
  CHECK_FALSE(Value::parse_json(objects(129), v));
  // Mixed, and siblings do not add up: only the depth counts.
  std::string mixed;
  for (int i = 0; i < 64; ++i) mixed += "[{\"a\":";
  mixed += "1";
  for (int i = 0; i < 64; ++i) mixed += "}]";
  REQUIRE(Value::parse_json(mixed, v));
  CHECK(v.to_json() == mixed);
  std::string wide = "[";
  for (int i = 0; i < 1000; ++i) wide += (i ? "," : "") + arrays(100);
  wide += "]";
  REQUIRE(Value::parse_json(wide, v));
  CHECK(v.size() == 1000);
}
