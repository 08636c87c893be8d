// Unit tests for the UTF-8 validator (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).

#include "engine/utf8.hpp"

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <random>
#include <string>
#include <string_view>

using courier::detail::is_valid_utf8;

namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out += static_cast<char>(v);
  return out;
}

std::string hex(std::string_view s) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (!out.empty()) out += ' ';
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

// Encodes any value up to 0x1FFFFF in the shortest 1..4 byte form, surrogates included (so they can be tested).
std::string encode_code_point(std::uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

// Independent, deliberately naive reference: decode each sequence to a code point, then check it.
bool reference_valid(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t len;
    std::uint32_t cp;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2, cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3, cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4, cp = b & 0x07;
    } else {
      return false;
    }
    if (s.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    const std::uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace

TEST_CASE("utf8: accepts ASCII, including NUL and control characters", "[engine][utf8]") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("a"));
  CHECK(is_valid_utf8("hello, world"));
  CHECK(is_valid_utf8(std::string("\0\0\0", 3)));
  CHECK(is_valid_utf8(std::string("\x1e\x7f\x01\n\r\t", 6)));
  std::string all_ascii;
  for (int c = 0; c < 0x80; ++c) all_ascii += static_cast<char>(c);
  CHECK(is_valid_utf8(all_ascii));
  CHECK(is_valid_utf8(std::string(1000, 'x')));
}

TEST_CASE("utf8: accepts 2, 3 and 4 byte sequences at their boundaries", "[engine][utf8]") {
  const std::string valid[] = {
      bytes({0xC2, 0x80}),              // U+0080, smallest 2-byte
      bytes({0xC3, 0xA9}),              // U+00E9
      bytes({0xDF, 0xBF}),              // U+07FF, largest 2-byte
      bytes({0xE0, 0xA0, 0x80}),        // U+0800, smallest 3-byte
      bytes({0xE2, 0x82, 0xAC}),        // U+20AC euro sign
      bytes({0xED, 0x9F, 0xBF}),        // U+D7FF, just below the surrogates
      bytes({0xEE, 0x80, 0x80}),        // U+E000, just above the surrogates
      bytes({0xEF, 0xBB, 0xBF}),        // U+FEFF BOM
      bytes({0xEF, 0xBF, 0xBF}),        // U+FFFF, largest 3-byte
      bytes({0xF0, 0x90, 0x80, 0x80}),  // U+10000, smallest 4-byte
      bytes({0xF0, 0x9F, 0x98, 0x80}),  // U+1F600
      bytes({0xF3, 0xBF, 0xBF, 0xBF}),  // U+FFFFF
      bytes({0xF4, 0x8F, 0xBF, 0xBF}),  // U+10FFFF, the largest code point
  };
  for (const auto& s : valid) {
    INFO(hex(s));
    CHECK(is_valid_utf8(s));
    CHECK(is_valid_utf8("ascii before " + s));
    CHECK(is_valid_utf8(s + " ascii after"));
    CHECK(is_valid_utf8(s + s + s));
  }
  CHECK(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac 5 \xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac"));
}

TEST_CASE("utf8: every scalar value encodes to a valid sequence, every surrogate to an invalid one",
          "[engine][utf8]") {
  int failures = 0;
  for (std::uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    if (is_valid_utf8(encode_code_point(cp)) == surrogate) {
      if (++failures <= 10) FAIL_CHECK("code point " << cp << " (" << hex(encode_code_point(cp)) << ")");
    }
  }
  CHECK(failures == 0);
  // Just past the top: U+110000 and the largest value four bytes can carry.
  CHECK_FALSE(is_valid_utf8(encode_code_point(0x110000)));
  CHECK_FALSE(is_valid_utf8(encode_code_point(0x1FFFFF)));
}

TEST_CASE("utf8: rejects overlong encodings", "[engine][utf8]") {
  const std::string overlong[] = {
      bytes({0xC0, 0x80}),              // U+0000 in 2 bytes
      bytes({0xC0, 0xAF}),              // '/' in 2 bytes
      bytes({0xC1, 0xBF}),              // U+007F in 2 bytes
      bytes({0xE0, 0x80, 0x80}),        // U+0000 in 3 bytes
      bytes({0xE0, 0x9F, 0xBF}),        // U+07FF in 3 bytes
      bytes({0xF0, 0x80, 0x80, 0x80}),  // U+0000 in 4 bytes
      bytes({0xF0, 0x8F, 0xBF, 0xBF}),  // U+FFFF in 4 bytes
      bytes({0xF8, 0x88, 0x80, 0x80, 0x80}),
      bytes({0xFC, 0x84, 0x80, 0x80, 0x80, 0x80}),
  };
  for (const auto& s : overlong) {
    INFO(hex(s));
    CHECK_FALSE(is_valid_utf8(s));
    CHECK_FALSE(is_valid_utf8("abc" + s + "def"));
  }
}

TEST_CASE("utf8: rejects UTF-16 surrogates", "[engine][utf8]") {
  const std::string surrogates[] = {
      bytes({0xED, 0xA0, 0x80}),                    // U+D800
      bytes({0xED, 0xAF, 0xBF}),                    // U+DBFF
      bytes({0xED, 0xB0, 0x80}),                    // U+DC00
      bytes({0xED, 0xBF, 0xBF}),                    // U+DFFF
      bytes({0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80}),  // CESU-8 form of U+1F600
  };
  for (const auto& s : surrogates) {
    INFO(hex(s));
    CHECK_FALSE(is_valid_utf8(s));
    CHECK_FALSE(is_valid_utf8("x" + s));
  }
}

TEST_CASE("utf8: rejects code points above U+10FFFF and the lead bytes F5..FF", "[engine][utf8]") {
  CHECK_FALSE(is_valid_utf8(bytes({0xF4, 0x90, 0x80, 0x80})));  // U+110000
  CHECK_FALSE(is_valid_utf8(bytes({0xF4, 0xBF, 0xBF, 0xBF})));
  CHECK_FALSE(is_valid_utf8(bytes({0xF7, 0xBF, 0xBF, 0xBF})));  // U+1FFFFF
  for (int lead = 0xF5; lead <= 0xFF; ++lead) {
    INFO("lead byte " << lead);
    CHECK_FALSE(is_valid_utf8(bytes({lead})));
    CHECK_FALSE(is_valid_utf8(bytes({lead, 0x80})));
    CHECK_FALSE(is_valid_utf8(bytes({lead, 0x80, 0x80})));
    CHECK_FALSE(is_valid_utf8(bytes({lead, 0x80, 0x80, 0x80})));
    CHECK_FALSE(is_valid_utf8(bytes({lead, 0x90, 0x80, 0x80})));
    CHECK_FALSE(is_valid_utf8(bytes({lead, 0xBF, 0xBF, 0xBF, 0xBF, 0xBF})));
  }
}

TEST_CASE("utf8: rejects sequences truncated at the end", "[engine][utf8]") {
  const std::string truncated[] = {
      bytes({0xC2}),
      bytes({0xDF}),
      bytes({0xE0}),
      bytes({0xE0, 0xA0}),
      bytes({0xE2, 0x82}),
      bytes({0xEF, 0xBF}),
      bytes({0xF0}),
      bytes({0xF0, 0x90}),
      bytes({0xF0, 0x90, 0x80}),
      bytes({0xF4, 0x8F, 0xBF}),
  };
  for (const auto& s : truncated) {
    for (std::size_t ascii = 0; ascii <= 17; ++ascii) {  // crosses the 8-byte fast path boundaries
      const std::string text = std::string(ascii, 'a') + s;
      INFO(ascii << " ASCII bytes then " << hex(s));
      CHECK_FALSE(is_valid_utf8(text));
    }
  }
  // Truncation that is "completed" by ASCII is still invalid.
  CHECK_FALSE(is_valid_utf8(bytes({0xE2, 0x82, 'a'})));
  CHECK_FALSE(is_valid_utf8(bytes({0xF0, 0x9F, 0x98, 'a'})));
  CHECK_FALSE(is_valid_utf8(bytes({0xC3, 'a', 'b', 'c'})));
}

TEST_CASE("utf8: rejects stray and misplaced continuation bytes", "[engine][utf8]") {
  for (int c = 0x80; c <= 0xBF; ++c) {
    INFO("continuation byte " << c);
    CHECK_FALSE(is_valid_utf8(bytes({c})));
    CHECK_FALSE(is_valid_utf8(bytes({'a', c, 'b'})));
    CHECK_FALSE(is_valid_utf8(bytes({0xC3, 0xA9, c})));              // one too many after a 2-byte sequence
    CHECK_FALSE(is_valid_utf8(bytes({0xF0, 0x9F, 0x98, 0x80, c})));  // one too many after a 4-byte sequence
  }
  // A non-continuation byte where a continuation is required, in the second, third and fourth place.
  CHECK_FALSE(is_valid_utf8(bytes({0xC3, 0xC3, 0xA9})));
  CHECK_FALSE(is_valid_utf8(bytes({0xE2, 0x41, 0xAC})));
  CHECK_FALSE(is_valid_utf8(bytes({0xE2, 0x82, 0x41})));
  CHECK_FALSE(is_valid_utf8(bytes({0xE2, 0x82, 0xC0})));
  CHECK_FALSE(is_valid_utf8(bytes({0xF0, 0x9F, 0x41, 0x80})));
  CHECK_FALSE(is_valid_utf8(bytes({0xF0, 0x9F, 0x98, 0x41})));
  CHECK_FALSE(is_valid_utf8(bytes({0xF0, 0x9F, 0x98, 0xF0})));
}

TEST_CASE("utf8: one bad byte at every offset of a long ASCII run", "[engine][utf8]") {
  // Exercises the 8-bytes-at-a-time fast path: the bad byte lands at every position of a word, in the first,
  // second and third word, and in the tail shorter than a word.
  const int bad_bytes[] = {0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xFF};
  for (std::size_t total : {21u, 24u, 29u, 40u}) {
    for (std::size_t offset = 0; offset <= 20; ++offset) {
      for (int bad : bad_bytes) {
        std::string text(total, 'a');
        text[offset] = static_cast<char>(bad);
        INFO("length " << total << ", byte " << bad << " at offset " << offset);
        CHECK_FALSE(is_valid_utf8(text));
      }
      // The same offsets with a valid multi-byte character instead stay valid.
      for (const std::string& good :
           {bytes({0xC3, 0xA9}), bytes({0xE2, 0x82, 0xAC}), bytes({0xF0, 0x9F, 0x98, 0x80})}) {
        std::string text(total, 'a');
        text.replace(offset, good.size(), good);
        INFO("length " << total << ", " << hex(good) << " at offset " << offset);
        CHECK(is_valid_utf8(text));
      }
    }
  }
}

TEST_CASE("utf8: agrees with a reference decoder on all 1 and 2 byte strings", "[engine][utf8]") {
  int mismatches = 0;
  for (int a = 0; a < 256; ++a) {
    const std::string one = bytes({a});
    if (is_valid_utf8(one) != reference_valid(one) && ++mismatches <= 10) FAIL_CHECK(hex(one));
    for (int b = 0; b < 256; ++b) {
      const std::string two = bytes({a, b});
      if (is_valid_utf8(two) != reference_valid(two) && ++mismatches <= 10) FAIL_CHECK(hex(two));
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("utf8: agrees with a reference decoder on all 3 byte strings with a multi-byte lead", "[engine][utf8]") {
  int mismatches = 0;
  std::string s(3, '\0');
  for (int a = 0xC0; a < 0x100; ++a) {
    s[0] = static_cast<char>(a);
    for (int b = 0x70; b < 0xD0; ++b) {  // every continuation value plus neighbours on both sides
      s[1] = static_cast<char>(b);
      for (int c = 0; c < 0x100; ++c) {
        s[2] = static_cast<char>(c);
        if (is_valid_utf8(s) != reference_valid(s) && ++mismatches <= 10) FAIL_CHECK(hex(s));
      }
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("utf8: agrees with a reference decoder on random tricky strings", "[engine][utf8]") {
  // Bytes biased toward boundaries so that valid and invalid strings are both common.
  const int pool[] = {'a',  'z',  0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1,
                      0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF3, 0xF4, 0xF5, 0xFF};
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::size_t> pick(0, std::size(pool) - 1);
  std::uniform_int_distribution<std::size_t> length(0, 40);
  std::uniform_int_distribution<int> ascii_run(0, 3);
  int mismatches = 0, valid = 0;
  for (int iteration = 0; iteration < 30000; ++iteration) {
    std::string s;
    const std::size_t n = length(rng);
    while (s.size() < n) {
      if (ascii_run(rng) == 0) s.append(9, 'k');  // long ASCII stretches reach the fast path
      s += static_cast<char>(pool[pick(rng)]);
    }
    const bool expected = reference_valid(s);
    valid += expected;
    if (is_valid_utf8(s) != expected && ++mismatches <= 10) FAIL_CHECK(hex(s));
  }
  CHECK(mismatches == 0);
  CHECK(valid > 100);  // the generator does produce valid strings too
}

TEST_CASE("utf8: only looks at the bytes of the view", "[engine][utf8]") {
  const std::string buffer = "abcdefghijklmnop\xff";
  CHECK(is_valid_utf8(std::string_view(buffer).substr(0, 16)));
  CHECK_FALSE(is_valid_utf8(buffer));
  const std::string euro = "xx\xe2\x82\xac";
  CHECK_FALSE(is_valid_utf8(std::string_view(euro).substr(0, 4)));  // the view truncates the sequence
  CHECK(is_valid_utf8(std::string_view(euro).substr(2)));
}
