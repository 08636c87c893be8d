// Unit tests for the strict RFC 4648 base64 codec used by Engine.IO long-polling payloads.

#include "engine/base64.hpp"

#include <catch2/catch.hpp>

#include <cstddef>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using courier::detail::base64_decode;
using courier::detail::base64_encode;

namespace {

std::string encode(std::string_view bytes) {
  std::string out;
  base64_encode(bytes, out);
  return out;
}

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool in_alphabet(unsigned char c) { return kAlphabet.find(static_cast<char>(c)) != std::string_view::npos; }

// Checks that `text` is refused, naming it in the failure message.
void check_rejected(const std::string& text) {
  INFO("input: \"" << text << "\" (" << text.size() << " bytes)");
  std::string out;
  CHECK_FALSE(base64_decode(text, out));
}

}  // namespace

TEST_CASE("base64: RFC 4648 section 10 test vectors", "[engine][base64]") {
  struct Vector {
    std::string_view plain;
    std::string_view encoded;
  };
  const Vector vectors[] = {
      {"", ""},           {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& v : vectors) {
    INFO("plain: \"" << v.plain << "\"");
    CHECK(encode(v.plain) == v.encoded);
    std::string decoded = "garbage that must be replaced";
    REQUIRE(base64_decode(v.encoded, decoded));
    CHECK(decoded == v.plain);
  }
}

TEST_CASE("base64: encode appends to the output instead of replacing it", "[engine][base64]") {
  std::string out = "prefix:";
  base64_encode("foobar", out);
  base64_encode("f", out);
  CHECK(out == "prefix:Zm9vYmFyZg==");
}

TEST_CASE("base64: decode replaces the previous content of the output", "[engine][base64]") {
  std::string out = "previous content";
  REQUIRE(base64_decode("Zm9v", out));
  CHECK(out == "foo");
  REQUIRE(base64_decode("", out));
  CHECK(out.empty());
}

TEST_CASE("base64: all 256 byte values round-trip", "[engine][base64]") {
  SECTION("in one buffer, in order and reversed") {
    std::string all;
    for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
    std::string reversed(all.rbegin(), all.rend());
    for (const std::string& bytes : {all, reversed}) {
      const std::string text = encode(bytes);
      CHECK(text.size() == (bytes.size() + 2) / 3 * 4);
      std::string back;
      REQUIRE(base64_decode(text, back));
      CHECK(back == bytes);
    }
  }
  SECTION("each byte alone, and at each of the three positions of a quantum") {
    for (int b = 0; b < 256; ++b) {
      const char c = static_cast<char>(b);
      for (const std::string& bytes : {std::string(1, c), std::string{c, 'x'}, std::string{'x', c},
                                       std::string{c, 'x', 'y'}, std::string{'x', c, 'y'}, std::string{'x', 'y', c}}) {
        INFO("byte " << b << ", buffer size " << bytes.size());
        const std::string text = encode(bytes);
        REQUIRE(text.size() == 4);
        for (char t : text) CHECK((in_alphabet(static_cast<unsigned char>(t)) || t == '='));
        std::string back;
        REQUIRE(base64_decode(text, back));
        CHECK(back == bytes);
      }
    }
  }
}

TEST_CASE("base64: random buffers of random length round-trip", "[engine][base64]") {
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> length(0, 300);
  for (int iteration = 0; iteration < 2000; ++iteration) {
    std::string bytes(length(rng), '\0');
    for (char& c : bytes) c = static_cast<char>(byte(rng));
    const std::string text = encode(bytes);
    INFO("iteration " << iteration << ", length " << bytes.size());
    REQUIRE(text.size() == (bytes.size() + 2) / 3 * 4);
    // Padding is exactly what the length calls for.
    const std::size_t pad = (3 - bytes.size() % 3) % 3;
    REQUIRE(text.find('=') == (pad == 0 ? std::string::npos : text.size() - pad));
    std::string back;
    REQUIRE(base64_decode(text, back));
    REQUIRE(back == bytes);
  }
}

TEST_CASE("base64: rejects characters outside the standard alphabet", "[engine][base64]") {
  SECTION("named offenders: URL-safe alphabet, whitespace, NUL, non-ASCII") {
    for (const std::string& text : {
             std::string("Zm9-"), std::string("Zm9_"), std::string("-_-_"), std::string("Zm 9"), std::string(" Zm9"),
             std::string("Zm9\n"), std::string("Zm9v\nZm9"), std::string("Zm9\r"), std::string("Zm\t9"),
             std::string("Zm9v\r\nYg=="), std::string("Zm9\0", 4), std::string("Zm9\x80"), std::string("Zm9\xff"),
             std::string("Z\xc3\xa9v"),  // U+00E9 as UTF-8, length 4
             std::string("Zm9.", 4), std::string("Zm9,"), std::string("Zm9*"), std::string("Zm9!"),
         }) {
      check_rejected(text);
    }
  }
  SECTION("every non-alphabet byte value at every position of a quantum") {
    int rejected = 0;
    for (int b = 0; b < 256; ++b) {
      const auto c = static_cast<unsigned char>(b);
      if (in_alphabet(c) || c == '=') continue;
      for (std::size_t pos = 0; pos < 4; ++pos) {
        std::string text = "QUJDZm9v";  // valid; the bad byte goes in the first or the last quantum
        text[pos] = static_cast<char>(c);
        std::string out;
        INFO("byte " << b << " at " << pos);
        CHECK_FALSE(base64_decode(text, out));
        text = "QUJDZm9v";
        text[4 + pos] = static_cast<char>(c);
        CHECK_FALSE(base64_decode(text, out));
        ++rejected;
      }
    }
    CHECK(rejected == (256 - 65) * 4);
  }
}

TEST_CASE("base64: rejects lengths that are not a multiple of 4", "[engine][base64]") {
  for (const char* text : {"A", "AA", "AAA", "AAAAA", "AAAAAA", "AAAAAAA", "Zm9vYg=", "Zm9vYg===", "Zm9vYmE",
                                  "Zm9vYmFy=", "Zg", "Zg="}) {
    check_rejected(text);
  }
  // Every length not a multiple of 4 from 1 to 40, made of valid characters.
  for (std::size_t n = 1; n <= 40; ++n) {
    if (n % 4 == 0) continue;
    check_rejected(std::string(n, 'Q'));
  }
}

TEST_CASE("base64: decode only looks at the bytes of the view", "[engine][base64]") {
  // Views into a larger valid buffer: a decoder that read past the end of the view would accept these.
  const std::string buffer = "QUJDQUJDQUJD";
  std::string out;
  for (std::size_t n = 1; n < buffer.size(); ++n) {
    INFO("view length " << n);
    CHECK(base64_decode(std::string_view(buffer).substr(0, n), out) == (n % 4 == 0));
    if (n % 4 == 0) CHECK(out == std::string("ABCABCABC").substr(0, n / 4 * 3));
  }
  const std::string padded = "Zg==";
  CHECK_FALSE(base64_decode(std::string_view(padded).substr(0, 3), out));
  CHECK_FALSE(base64_decode(std::string_view(padded).substr(0, 2), out));
}

TEST_CASE("base64: rejects padding in the wrong place", "[engine][base64]") {
  for (const char* text : {
           "A===", "====", "=AAA", "==AA", "===A", "A=AA", "AA=A", "A==A", "=A==", "AAAA====", "AAAAA===",
           // Padding in a quantum that is not the last one.
           "AA==AAAA", "AAA=AAAA", "Zg==Zg==", "Zm8=Zm8=", "Zm8=AAAA", "AA==AAAA====",
       }) {
    check_rejected(text);
  }
  // The accepted forms, for contrast.
  std::string out;
  CHECK(base64_decode("AA==", out));
  CHECK(out == std::string(1, '\0'));
  CHECK(base64_decode("AAA=", out));
  CHECK(out == std::string(2, '\0'));
  CHECK(base64_decode("AAAAAA==", out));
  CHECK(out == std::string(4, '\0'));
}

TEST_CASE("base64: pad bits never leak into the decoded bytes", "[engine][base64]") {
  // RFC 4648 section 3.5 lets a decoder either reject non-zero pad bits or ignore them. Either way the bits of
  // the last sextet that fall past the final byte must not show up in the output.
  const auto idx = [](char ch) { return static_cast<unsigned>(kAlphabet.find(ch)); };
  int accepted = 0;
  for (char a : kAlphabet) {
    for (char b : kAlphabet) {
      std::string out;
      const std::string two = std::string{a, b, '=', '='};
      INFO("\"" << two << "\"");
      if (base64_decode(two, out)) {
        ++accepted;
        REQUIRE(out.size() == 1);
        CHECK(static_cast<unsigned char>(out[0]) == (((idx(a) << 2) | (idx(b) >> 4)) & 0xff));
      }
      const std::string three = std::string{'Q', a, b, '='};
      INFO("\"" << three << "\"");
      if (base64_decode(three, out)) {
        ++accepted;
        REQUIRE(out.size() == 2);
        CHECK(static_cast<unsigned char>(out[0]) == ((idx('Q') << 2) | (idx(a) >> 4)));
        CHECK(static_cast<unsigned char>(out[1]) == (((idx(a) << 4) | (idx(b) >> 2)) & 0xff));
      }
    }
  }
  // At least the canonical forms (zero pad bits) are accepted: 64 * 4 of "ab==" and 64 * 16 of "Qab=".
  CHECK(accepted >= 64 * 4 + 64 * 16);
}
