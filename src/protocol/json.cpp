#include "protocol/json.hpp"

#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include "common/value_access.hpp"

namespace courier::detail {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Writes a double as JavaScript's Number.prototype.toString does (ECMAScript Number::toString):
// shortest round-trip digits, plain notation for 1e-7 < |x| < 1e21, otherwise "1.5e+21"/"1e-7",
// and -0 as "0". Non-finite values become null, as JSON.stringify writes them.
void write_number(double d, std::string& out) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  if (d == 0) {
    out += '0';
    return;
  }
  if (d < 0) {
    out += '-';
    d = -d;
  }
  // Shortest digits in scientific form: "d.ddde[+-]xx".
  char buf[40];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<std::size_t>(r.ptr - buf));
  const std::size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos))
    if (c != '.') digits += c;
  int exp10 = 0;
  std::from_chars(sci.data() + e_pos + 1 + (sci[e_pos + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exp10);
  const int k = static_cast<int>(digits.size());
  const int n = exp10 + 1;  // the decimal point sits after n digits
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<std::size_t>(n));
    out += '.';
    out.append(digits, static_cast<std::size_t>(n), std::string::npos);
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out.append(digits, 1, std::string::npos);
    }
    out += 'e';
    out += n - 1 >= 0 ? '+' : '-';
    out += std::to_string(n - 1 >= 0 ? n - 1 : 1 - n);
  }
}

template <class I>
void write_integer(I i, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, i);
  out.append(buf, r.ptr);
}

// Builds a Value straight from RapidJSON's SAX events, with an explicit stack: no recursion, so
// hostile nesting cannot overflow the stack, and nesting beyond kMaxDepth is refused.
//
// The children of open containers wait on one flat stack (per thread, its capacity kept between
// parses) and move into a container of exactly their count when it closes: no growth of each
// array or object one element at a time. For a top-level array it also records where each
// element ends in the text, so its wire text is known without a second pass.
constexpr std::size_t kMaxDepth = 128;

using InStream = rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream>;

struct BuildScratch {
  std::vector<Member> stack;         // a container's key first (when in an object), then its children
  std::vector<std::size_t> frames;   // stack index of each open container's first child
  std::vector<std::size_t> ends;     // end offsets of the root array's elements
  void clear() noexcept {
    stack.clear();
    frames.clear();
    ends.clear();
  }
};

BuildScratch& build_scratch() {
  thread_local BuildScratch scratch;
  scratch.clear();
  return scratch;
}

class Builder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Builder> {
 public:
  Builder(BuildScratch& scratch, const InStream& is) : s_(scratch), is_(is) {}
  ~Builder() {
    // A huge document does not pin its size in the thread's scratch.
    constexpr std::size_t kKeep = 4096;
    s_.clear();
    if (s_.stack.capacity() > kKeep) std::vector<Member>().swap(s_.stack);
    if (s_.ends.capacity() > kKeep) std::vector<std::size_t>().swap(s_.ends);
  }

  Value root;
  std::size_t root_open = 0;  // offset just after the root array's '['

  bool Null() { return put(Value()); }
  bool Bool(bool b) { return put(Value(b)); }
  bool Int(int i) { return put(Value(i)); }
  bool Uint(unsigned u) { return put(Value(u)); }
  bool Int64(int64_t i) { return put(Value(static_cast<long long>(i))); }
  bool Uint64(uint64_t u) { return put(Value(static_cast<unsigned long long>(u))); }
  bool Double(double d) { return put(Value(d)); }
  // Numbers arrive as text (kParseNumbersAsStringsFlag): converted here with std::from_chars,
  // exact for doubles and 64-bit integers, instead of RapidJSON 1.1's full-precision path (which
  // has undefined behaviour on inputs like 0e-44).
  bool RawNumber(const char* str, rapidjson::SizeType len, bool) {
    const char* end = str + len;
    const std::string_view text(str, len);
    if (text.find_first_of(".eE") == std::string_view::npos) {
      if (text.front() == '-') {
        long long i = 0;
        auto r = std::from_chars(str, end, i);
        if (r.ec == std::errc() && r.ptr == end) return put(Value(i));
      } else {
        unsigned long long u = 0;
        auto r = std::from_chars(str, end, u);
        if (r.ec == std::errc() && r.ptr == end) return put(Value(u));
      }
    }
    double d = 0;
    auto r = std::from_chars(str, end, d);
    if (r.ec == std::errc::result_out_of_range) {
      // As JSON.parse: too large is +-Infinity (written back as null), too small is +-0.
      const bool negative = text.front() == '-';
      const bool huge = text.find_first_of("eE") != std::string_view::npos &&
                        text[text.find_first_of("eE") + 1] != '-';
      d = huge ? (negative ? -HUGE_VAL : HUGE_VAL) : (negative ? -0.0 : 0.0);
    } else if (r.ec != std::errc() || r.ptr != end) {
      return false;
    }
    return put(Value(d));
  }
  bool String(const char* str, rapidjson::SizeType len, bool) { return put(Value(std::string(str, len))); }
  bool Key(const char* str, rapidjson::SizeType len, bool) {
    key_.assign(str, len);
    return true;
  }
  bool StartObject() { return open(); }
  bool EndObject(rapidjson::SizeType n) {
    const std::size_t first = s_.frames.back();
    Object o;
    o.reserve(n);
    for (std::size_t i = first; i < s_.stack.size(); ++i) o.push_back(std::move(s_.stack[i]));
    return close(first, Value(std::move(o)));
  }
  bool StartArray() { return open(); }
  bool EndArray(rapidjson::SizeType n) {
    const std::size_t first = s_.frames.back();
    Array a;
    a.reserve(n);
    for (std::size_t i = first; i < s_.stack.size(); ++i) a.push_back(std::move(s_.stack[i].value));
    return close(first, Value(std::move(a)));
  }

  /// End offsets of the root array's elements (valid when the root is an array).
  const std::vector<std::size_t>& element_ends() const noexcept { return s_.ends; }

 private:
  // Adds a scalar to the innermost open container (or makes it the root).
  bool put(Value v) {
    if (s_.frames.empty()) {
      root = std::move(v);
      return true;
    }
    s_.stack.push_back(Member{std::move(key_), std::move(v)});
    key_.clear();
    if (s_.frames.size() == 1) s_.ends.push_back(is_.Tell());
    return true;
  }
  bool open() {
    if (s_.frames.size() >= kMaxDepth) return false;
    if (s_.frames.empty()) {
      root_open = bracket_end();
    } else {
      s_.stack.push_back(Member{std::move(key_), Value()});  // the slot (and key) of this container
      key_.clear();
    }
    s_.frames.push_back(s_.stack.size());
    return true;
  }
  bool close(std::size_t first, Value container) {
    s_.stack.resize(first);
    s_.frames.pop_back();
    if (s_.frames.empty()) {
      root = std::move(container);
      return true;
    }
    s_.stack.back().value = std::move(container);
    if (s_.frames.size() == 1) s_.ends.push_back(bracket_end());
    return true;
  }
  // RapidJSON's iterative parser calls Start*/End* before it takes the bracket (and the scalar
  // handlers after their text): the stream is at the bracket here.
  std::size_t bracket_end() const noexcept { return is_.Tell() + 1; }

  BuildScratch& s_;
  const InStream& is_;
  std::string key_;
};

bool is_json_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Parses `text`; when `raw_buffer` is set and the root is an array, each element keeps a view of
// its exact text (which lies inside *raw_buffer).
bool parse(std::string_view text, Value& out, const TextBuffer* raw_buffer) {
  out = Value();
  // A raw NUL is never valid JSON, and RapidJSON would take it for the end of the input.
  if (text.find('\0') != std::string_view::npos) return false;
  rapidjson::MemoryStream ms(text.data(), text.size());
  InStream is(ms);
  rapidjson::Reader reader;
  Builder builder(build_scratch(), is);
  // Iterative parsing: no recursion in the parser either. Without kParseStopWhenDoneFlag anything
  // but whitespace after the value is an error.
  if (!reader.Parse<rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseIterativeFlag>(is, builder)) return false;
  out = std::move(builder.root);
  if (raw_buffer && out.is_array()) {
    const auto& ends = builder.element_ends();
    Array& a = out.make_array();
    if (ends.size() == a.size()) {
      // Between two elements lie only whitespace and one comma; before the first, whitespace.
      std::size_t start = builder.root_open;
      for (std::size_t i = 0; i < a.size(); ++i) {
        while (start < ends[i] && (is_json_space(text[start]) || text[start] == ',')) ++start;
        ValueAccess::set_raw(a[i], *raw_buffer, text.substr(start, ends[i] - start));
        start = ends[i];
      }
    }
  }
  return true;
}

// 1: a valid placeholder (num set); 0: not a placeholder; -1: claims to be one but is malformed
// (socket.io-parser rejects those as "illegal attachments").
int placeholder(const Value& v, std::size_t& num) {
  if (!v.is_object()) return 0;
  const Value* p = v.find("_placeholder");
  if (!p || !p->is_bool() || !p->as_bool()) return 0;
  const Value* n = v.find("num");
  if (!n || !n->is_integer() || n->as_int(-1) < 0) return -1;
  num = static_cast<std::size_t>(n->as_int());
  return 1;
}

// ---- Validation without building (scan_json) -------------------------------------------------
// Must accept exactly what parse() accepts: RapidJSON 1.1's default grammar (no comments, no
// trailing commas, no NaN/Infinity, unescaped control characters refused, \u escapes with a high
// surrogate requiring a low one, bytes >= 0x80 passed unchecked), numbers by the JSON grammar (the
// conversion in RawNumber cannot fail on them), nesting up to kMaxDepth, whitespace around the
// root, a leading UTF-8 BOM skipped. The sio_decoder fuzzer checks the two against each other on every input.

inline bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

inline int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Four hex digits at p (p + 4 <= end checked by the caller); -1 if not hex.
inline long hex4(const char* p) noexcept {
  long v = 0;
  for (int k = 0; k < 4; ++k) {
    const int h = hex_value(p[k]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

// Skips the bytes of a string's body that need no attention ('"', '\\' and control characters
// end the run) 16 at a time: event payloads are mostly long plain strings, and this was the
// largest user-space cost of an echo (issue 5).
inline const char* skip_plain(const char* p, const char* end) noexcept {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i sign = _mm_set1_epi8(static_cast<char>(0x80));
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // Unsigned c < 0x20 as a signed compare of both sides shifted by 0x80.
    const __m128i control = _mm_cmplt_epi8(_mm_xor_si128(v, sign), _mm_xor_si128(space, sign));
    const __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), control);
    const int mask = _mm_movemask_epi8(stop);
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  while (p < end) {
    const unsigned char c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\' || c < 0x20) break;
    ++p;
  }
  return p;
}

// p at the opening quote; returns the position after the closing quote, or nullptr. Forced inline
// into scan_json's two calls (keys and values): most strings of an event are short, and GCC's
// out-of-line call, with its reload of skip_plain's constants, cost about as much as scanning them.
[[gnu::always_inline]] inline const char* scan_string(const char* p, const char* end) noexcept {
  ++p;
  while ((p = skip_plain(p, end)) < end) {
    const unsigned char c = static_cast<unsigned char>(*p);
    if (c == '"') return p + 1;
    if (c == '\\') {
      if (++p == end) return nullptr;
      switch (*p) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': ++p; break;
        case 'u': {
          if (end - p < 5) return nullptr;
          const long cp = hex4(p + 1);
          if (cp < 0) return nullptr;
          p += 5;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u') return nullptr;
            const long low = hex4(p + 2);
            if (low < 0xDC00 || low > 0xDFFF) return nullptr;
            p += 6;
          }
          break;
        }
        default: return nullptr;
      }
      continue;
    }
    return nullptr;  // a control character: JSON strings must escape them
  }
  return nullptr;
}

// RapidJSON also refuses some grammatical numbers as "too big": an integer part that overflows a
// double while it accumulates, or a positive exponent above 308 minus the fraction digits it
// counted. Those rules depend on its arithmetic, so the rare numbers that can reach them (20+
// integer digits, or a positive exponent) are checked by RapidJSON itself, alone: a number's
// validity does not depend on what surrounds it.
bool rapidjson_accepts_number(const char* begin, const char* end) noexcept {
  rapidjson::MemoryStream ms(begin, static_cast<std::size_t>(end - begin));
  InStream is(ms);
  rapidjson::Reader reader;
  rapidjson::BaseReaderHandler<> ignore;
  return !reader.Parse<rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseIterativeFlag>(is, ignore).IsError();
}

// Skips ASCII digits 8 at a time: timestamps and ids of 13 to 19 digits are common in event
// payloads, and a byte-at-a-time loop was the largest part of scanning the echo benchmark's payload.
inline const char* skip_digits(const char* p, const char* end) noexcept {
  constexpr std::uint64_t kOnes = 0x0101010101010101;
  while (end - p >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    // x = byte ^ '0' is below 10 exactly for the digits. Bit 7 of each byte of `other` is set for
    // x >= 10: by x itself when x >= 0x80, else by (x & 0x7f) + 0x76, which stays within the byte
    // (at most 0xf5): no carry between bytes, so each flag is exact.
    const std::uint64_t x = v ^ (kOnes * '0');
    const std::uint64_t other = (((x & (kOnes * 0x7f)) + kOnes * 0x76) | x) & (kOnes * 0x80);
    if (other != 0) {
      // The first non-digit: p[0] is the low byte of v on a little-endian machine, the high one on a big-endian.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
      return p + __builtin_clzll(other) / 8;
#else
      return p + __builtin_ctzll(other) / 8;
#endif
    }
    p += 8;
  }
  while (p < end && is_digit(*p)) ++p;
  return p;
}

const char* scan_number(const char* p, const char* end) noexcept {
  const char* const begin = p;
  if (*p == '-') ++p;
  if (p == end) return nullptr;
  const char* const digits = p;
  if (*p == '0') {
    ++p;
  } else if (*p >= '1' && *p <= '9') {
    p = skip_digits(p + 1, end);
  } else {
    return nullptr;
  }
  bool ask_rapidjson = p - digits >= 20;
  if (p < end && *p == '.') {
    if (++p == end || !is_digit(*p)) return nullptr;
    p = skip_digits(p + 1, end);
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    if (++p < end && (*p == '+' || *p == '-')) {
      ask_rapidjson |= *p == '+';
      ++p;
    } else {
      ask_rapidjson = true;
    }
    if (p == end || !is_digit(*p)) return nullptr;
    p = skip_digits(p + 1, end);
  }
  if (ask_rapidjson && !rapidjson_accepts_number(begin, p)) return nullptr;
  return p;
}

inline const char* skip_space(const char* p, const char* end) noexcept {
  // Event payloads are written without whitespace (JSON.stringify): one compare usually settles it.
  if (p < end && static_cast<unsigned char>(*p) > ' ') return p;
  while (p < end && is_json_space(*p)) ++p;
  return p;
}

const char* scan_literal(const char* p, const char* end, std::string_view word) noexcept {
  if (static_cast<std::size_t>(end - p) < word.size() || std::string_view(p, word.size()) != word) return nullptr;
  return p + word.size();
}

}  // namespace

bool scan_json(std::string_view text, bool& root_is_array, std::vector<JsonSpan>* elements) {
  const char* const begin = text.data();
  const char* const end = begin + text.size();
  const char* p = begin;
  // RapidJSON skips a UTF-8 BOM: its EncodedInputStream<UTF8, MemoryStream> skips each of the
  // three bytes, in order, where present. All three are >= 0x80, which no JSON value starts with:
  // one compare lets the usual text skip the three.
  if (p < end && static_cast<unsigned char>(*p) >= 0x80) {
    for (const char bom : {'\xef', '\xbb', '\xbf'})
      if (p < end && *p == bom) ++p;
  }
  p = skip_space(p, end);
  root_is_array = p < end && *p == '[';
  bool is_object[kMaxDepth];  // the kind of each open container
  std::size_t depth = 0;
  const char* element_begin = nullptr;
  // The depth whose values are the root array's elements; one no container reaches when no spans are wanted.
  const std::size_t span_depth = elements && root_is_array ? 1 : kMaxDepth + 1;
  for (;;) {
    // A value is expected at p (after whitespace).
    p = skip_space(p, end);
    if (p == end) return false;
    if (depth == span_depth) element_begin = p;
    switch (*p) {
      case '{':
      case '[': {
        if (depth == kMaxDepth) return false;
        const bool object = *p == '{';
        is_object[depth++] = object;
        p = skip_space(p + 1, end);
        if (p < end && *p == (object ? '}' : ']')) {
          ++p;
          --depth;
          break;  // an empty container is a complete value
        }
        if (!object) continue;  // its first element
        goto key;
      }
      case '"': p = scan_string(p, end); break;
      case 't': p = scan_literal(p, end, "true"); break;
      case 'f': p = scan_literal(p, end, "false"); break;
      case 'n': p = scan_literal(p, end, "null"); break;
      default: p = (*p == '-' || is_digit(*p)) ? scan_number(p, end) : nullptr; break;
    }
    if (!p) return false;
  after_value:
    // A value ended at p: the container around it decides what comes next.
    if (depth == span_depth) elements->push_back(JsonSpan{static_cast<std::uint32_t>(element_begin - begin),
                                                          static_cast<std::uint32_t>(p - begin)});
    p = skip_space(p, end);
    if (depth == 0) return p == end;
    if (p == end) return false;
    if (*p == ',') {
      ++p;
      if (!is_object[depth - 1]) continue;
      goto key;
    }
    if (*p != (is_object[depth - 1] ? '}' : ']')) return false;
    ++p;
    --depth;
    goto after_value;
  key:
    p = skip_space(p, end);
    if (p == end || *p != '"' || !(p = scan_string(p, end))) return false;
    p = skip_space(p, end);
    if (p == end || *p != ':') return false;
    ++p;
  }
}

namespace {

// One list per thread: what recycle_array gave back, for the next packet's arguments.
Array& spare_array() noexcept {
  thread_local Array spare;
  return spare;
}

}  // namespace

void recycle_array(Array& a) noexcept {
  // A list grown by a packet with many arguments is not kept for the thread's lifetime.
  constexpr std::size_t kKeep = 16;
  a.clear();
  if (a.capacity() > spare_array().capacity() && a.capacity() <= kKeep) a.swap(spare_array());
}

bool parse_json_lazy_args(const TextBuffer& buffer, std::string_view text, Value& out,
                          bool name_first) {
  thread_local std::vector<JsonSpan> spans;
  spans.clear();
  bool root_is_array = false;
  if (text.size() > std::numeric_limits<std::uint32_t>::max() || !scan_json(text, root_is_array, &spans))
    return false;
  if (!root_is_array) return parse(text, out, nullptr);  // refused by the packet checks anyway
  // Built in place in `out` (a Value move costs a variant visit).
  Array& a = out.make_array();
  a.clear();
  if (a.capacity() < spans.size() && spare_array().capacity() >= spans.size()) a.swap(spare_array());
  a.reserve(spans.size());
  for (const JsonSpan& span : spans) {
    const std::string_view element = text.substr(span.begin, span.end - span.begin);
    if (name_first && a.empty() && element.front() == '"' &&
        element.find('\\') == std::string_view::npos) {
      // The event name is read at once to dispatch: a plain string is taken as is.
      Value& name = a.emplace_back(std::string(element.substr(1, element.size() - 2)));
      ValueAccess::set_raw(name, buffer, element);
    } else {
      a.push_back(ValueAccess::lazy(buffer, element));
      if (name_first && a.size() == 1) static_cast<void>(a.back().type());  // escaped name: parsed now
    }
  }
  if (spans.capacity() > 4096) std::vector<JsonSpan>().swap(spans);
  return true;
}

namespace {

// A size class of received texts: the bytes live in the same allocation as make_shared's
// reference count. Left uninitialized: they are copied in at once.
template <std::size_t N>
struct TextBlock {
  char bytes[N];
  TextBlock() noexcept {}  // NOLINT: no zero-fill
};

template <std::size_t N>
TextBuffer copy_to_block(std::string_view text) {
  auto block = std::make_shared<TextBlock<N>>();
  char* bytes = block->bytes;
  if (!text.empty()) std::memcpy(bytes, text.data(), text.size());
  return TextBuffer(std::move(block), bytes);
}

// The size class of a text up to 2 KiB: classes double, so at most half a block is unused
// while values keep it. 0 above 2 KiB (a string of its own).
std::size_t block_capacity(std::size_t size) noexcept {
  if (size > 2048) return 0;
  std::size_t capacity = 64;
  while (capacity < size) capacity *= 2;
  return capacity;
}

TextBuffer copy_to_fitting_block(std::string_view text) {
  switch (block_capacity(text.size())) {
    case 64: return copy_to_block<64>(text);
    case 128: return copy_to_block<128>(text);
    case 256: return copy_to_block<256>(text);
    case 512: return copy_to_block<512>(text);
    case 1024: return copy_to_block<1024>(text);
    case 2048: return copy_to_block<2048>(text);
    default: break;
  }
  auto s = std::make_shared<const std::string>(text);
  return TextBuffer(s, s->data());
}

// The last small buffer made on this thread and its size class. Reused when its count shows that
// no value references it any more (the packet was dispatched and its arguments dropped).
struct SpareText {
  TextBuffer buffer;
  std::size_t capacity = 0;
};

constexpr std::size_t kSpareTextMax = 256;  // a thread keeps at most this much for reuse

// ThreadSanitizer does not model the fence that orders a value's last read on another thread
// before the reuse, and would report the overwrite: no reuse in such builds.
#if defined(__SANITIZE_THREAD__)
constexpr bool kReuseText = false;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool kReuseText = false;
#else
constexpr bool kReuseText = true;
#endif
#else
constexpr bool kReuseText = true;
#endif

}  // namespace

TextBuffer make_text_buffer(std::string_view text) {
  thread_local SpareText spare;
  if (text.size() <= spare.capacity && spare.buffer.use_count() == 1) {
    // A count of one is exact: other holders are values, which only copies of a holder make. The
    // fence orders their last reads (on another thread, say) before the bytes are overwritten;
    // their release of the count is acq_rel.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (!text.empty()) std::memcpy(const_cast<char*>(spare.buffer.get()), text.data(), text.size());
    return spare.buffer;
  }
  TextBuffer fresh = copy_to_fitting_block(text);
  const std::size_t capacity = block_capacity(text.size());
  if (kReuseText && capacity != 0 && capacity <= kSpareTextMax) spare = SpareText{fresh, capacity};
  return fresh;
}

void write_json_string(std::string_view s, std::string& out) {
  out += '"';
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void write_json(const Value& v, std::string& out, std::vector<std::string>* attachments) {
  if (!v.raw_json().empty() && !v.has_binary()) {
    out += v.raw_json();
    return;
  }
  switch (v.type()) {
    case Value::Type::null: out += "null"; break;
    case Value::Type::boolean: out += v.as_bool() ? "true" : "false"; break;
    case Value::Type::integer: write_integer(v.as_int(), out); break;
    case Value::Type::uinteger: write_integer(v.as_uint(), out); break;
    case Value::Type::number: write_number(v.as_double(), out); break;
    case Value::Type::string: write_json_string(v.as_string(), out); break;
    case Value::Type::binary: {
      out += "{\"_placeholder\":true,\"num\":";
      write_integer(attachments->size(), out);
      out += '}';
      attachments->push_back(v.as_binary());
      break;
    }
    case Value::Type::array: write_json_array(v.as_array(), out, attachments); break;
    case Value::Type::object: {
      out += '{';
      bool first = true;
      for (const auto& m : v.as_object()) {
        if (!first) out += ',';
        first = false;
        write_json_string(m.key, out);
        out += ':';
        write_json(m.value, out, attachments);
      }
      out += '}';
      break;
    }
  }
}

void write_json_array(const Array& a, std::string& out, std::vector<std::string>* attachments) {
  write_json_values(a.data(), a.size(), out, attachments);
}

void write_json_values(const Value* values, std::size_t count, std::string& out, std::vector<std::string>* attachments) {
  out += '[';
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) out += ',';
    write_json(values[i], out, attachments);
  }
  out += ']';
}

bool parse_json(std::string_view text, Value& out) { return parse(text, out, nullptr); }

bool parse_json_keep_raw(const TextBuffer& buffer, std::string_view text, Value& out) {
  return parse(text, out, &buffer);
}

bool fill_placeholders(Value& v, std::vector<std::string>& attachments) {
  std::size_t num = 0;
  const int kind = placeholder(v, num);
  if (kind < 0) return false;
  if (kind > 0) {
    if (num >= attachments.size()) return false;
    v = Value::binary(attachments[num]);
    return true;
  }
  if (v.is_array()) {
    for (auto& e : v.make_array())
      if (!fill_placeholders(e, attachments)) return false;
  } else if (v.is_object()) {
    for (auto& m : v.make_object())
      if (!fill_placeholders(m.value, attachments)) return false;
  }
  return true;
}

}  // namespace courier::detail
