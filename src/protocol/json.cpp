#include "protocol/json.hpp"

#include <charconv>
#include <cmath>

#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

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
constexpr std::size_t kMaxDepth = 128;

class Builder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Builder> {
 public:
  Value root;

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
  bool StartObject() { return open(Value(Object{})); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool StartArray() { return open(Value(Array{})); }
  bool EndArray(rapidjson::SizeType) { return close(); }

 private:
  // Adds a scalar or a finished container to the innermost open container (or makes it the root).
  bool put(Value v) {
    if (stack_.empty()) {
      root = std::move(v);
      return true;
    }
    Value& top = *stack_.back();
    if (top.is_array()) {
      top.make_array().push_back(std::move(v));
    } else {
      top.make_object().push_back(Member{std::move(key_), std::move(v)});
      key_.clear();
    }
    return true;
  }
  bool open(Value container) {
    if (stack_.size() >= kMaxDepth) return false;
    if (stack_.empty()) {
      root = std::move(container);
      stack_.push_back(&root);
      return true;
    }
    Value& top = *stack_.back();
    Value* child;
    if (top.is_array()) {
      Array& a = top.make_array();
      a.push_back(std::move(container));
      child = &a.back();
    } else {
      Object& o = top.make_object();
      o.push_back(Member{std::move(key_), std::move(container)});
      key_.clear();
      child = &o.back().value;
    }
    stack_.push_back(child);
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  // Pointers into containers that only grow at their end while their children are open: a
  // child's address is taken after it was appended and nothing is appended to its parent until
  // the child is closed, so it stays valid.
  std::vector<Value*> stack_;
  std::string key_;
};

// Splits valid JSON array text into the exact text of its top-level elements.
std::vector<std::string_view> split_array(std::string_view text) {
  std::vector<std::string_view> parts;
  std::size_t i = text.find('[');
  if (i == std::string_view::npos) return parts;
  ++i;
  int depth = 0;
  bool in_string = false;
  std::size_t start = std::string_view::npos;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    if (depth == 0 && (c == ',' || c == ']')) {
      if (start != std::string_view::npos) {
        std::size_t end = i;
        while (end > start && (text[end - 1] == ' ' || text[end - 1] == '\t' || text[end - 1] == '\n' ||
                               text[end - 1] == '\r'))
          --end;
        parts.push_back(text.substr(start, end - start));
      }
      start = std::string_view::npos;
      if (c == ']') break;
      continue;
    }
    if (start == std::string_view::npos) start = i;
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') ++depth;
    else if (c == ']' || c == '}') --depth;
  }
  return parts;
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

}  // namespace

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
  out += '[';
  bool first = true;
  for (const auto& e : a) {
    if (!first) out += ',';
    first = false;
    write_json(e, out, attachments);
  }
  out += ']';
}

bool parse_json(std::string_view text, Value& out) {
  out = Value();
  // A raw NUL is never valid JSON, and RapidJSON would take it for the end of the input.
  if (text.find('\0') != std::string_view::npos) return false;
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
  rapidjson::Reader reader;
  Builder builder;
  // Iterative parsing: no recursion in the parser either. Without kParseStopWhenDoneFlag anything
  // but whitespace after the value is an error.
  if (!reader.Parse<rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseIterativeFlag>(is, builder)) return false;
  out = std::move(builder.root);
  return true;
}

bool parse_json_keep_raw(const std::shared_ptr<const std::string>& buffer, std::string_view text, Value& out) {
  if (!parse_json(text, out)) return false;
  if (out.is_array()) {
    auto parts = split_array(text);
    if (parts.size() == out.size()) {
      Array& a = out.make_array();
      for (std::size_t i = 0; i < a.size(); ++i) a[i].set_raw_json(buffer, parts[i]);
    }
  }
  return true;
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
