#include "protocol/json.hpp"

#include <charconv>
#include <cmath>

#include <rapidjson/document.h>

namespace courier::detail {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void write_number(double d, std::string& out) {
  if (!std::isfinite(d)) {
    out += "null";  // what JSON.stringify does with NaN and Infinity
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, r.ptr);
}

template <class I>
void write_integer(I i, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, i);
  out.append(buf, r.ptr);
}

Value from_rapidjson(const rapidjson::Value& j) {
  switch (j.GetType()) {
    case rapidjson::kNullType: return Value();
    case rapidjson::kFalseType: return Value(false);
    case rapidjson::kTrueType: return Value(true);
    case rapidjson::kNumberType:
      if (j.IsInt64()) return Value(static_cast<long long>(j.GetInt64()));
      if (j.IsUint64()) return Value(static_cast<unsigned long long>(j.GetUint64()));
      return Value(j.GetDouble());
    case rapidjson::kStringType: return Value(std::string(j.GetString(), j.GetStringLength()));
    case rapidjson::kArrayType: {
      Array a;
      a.reserve(j.Size());
      for (const auto& e : j.GetArray()) a.push_back(from_rapidjson(e));
      return Value(std::move(a));
    }
    case rapidjson::kObjectType: {
      Object o;
      o.reserve(j.MemberCount());
      for (const auto& m : j.GetObject())
        o.push_back(Member{std::string(m.name.GetString(), m.name.GetStringLength()), from_rapidjson(m.value)});
      return Value(std::move(o));
    }
  }
  return Value();
}

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

bool is_placeholder(const Value& v, std::size_t& num) {
  if (!v.is_object() || v.size() != 2) return false;
  const Value* p = v.find("_placeholder");
  const Value* n = v.find("num");
  if (!p || !n || !p->as_bool() || !n->is_integer()) return false;
  if (n->as_int(-1) < 0) return false;
  num = static_cast<std::size_t>(n->as_int());
  return true;
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
    case Value::Type::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.as_array()) {
        if (!first) out += ',';
        first = false;
        write_json(e, out, attachments);
      }
      out += ']';
      break;
    }
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

bool parse_json(std::string_view text, Value& out) {
  rapidjson::Document doc;
  // Without kParseStopWhenDoneFlag, anything but whitespace after the value is an error.
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(text.data(), text.size());
  if (doc.HasParseError()) {
    out = Value();
    return false;
  }
  out = from_rapidjson(doc);
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
  if (is_placeholder(v, num)) {
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
