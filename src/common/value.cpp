#include <courier/value.hpp>

#include <limits>
#include <thread>

#include "protocol/json.hpp"

namespace courier {
namespace {
const std::string kEmptyString;
const Array kEmptyArray;
const Object kEmptyObject;
const Value kNull;
}  // namespace

Value::Value(const Value& other) : raw_(other.raw_), raw_size_(other.raw_size_) {
  // Still unparsed: the copy shares the text and stays unparsed (no parse for a copy).
  if (other.state_.load(std::memory_order_acquire) == kLazy) {
    state_.store(kLazy, std::memory_order_relaxed);
    return;
  }
  other.materialize();  // waits for a build in progress on another thread
  v_ = other.v_;
}

Value::Value(Value&& other) noexcept
    : v_(std::move(other.v_)),
      raw_(std::move(other.raw_)),
      raw_size_(other.raw_size_),
      state_(other.state_.load(std::memory_order_relaxed)) {
  other.raw_size_ = 0;
  other.state_.store(kParsed, std::memory_order_relaxed);
}

Value& Value::operator=(const Value& other) {
  if (this != &other) *this = Value(other);
  return *this;
}

Value& Value::operator=(Value&& other) noexcept {
  if (this == &other) return *this;
  v_ = std::move(other.v_);
  raw_ = std::move(other.raw_);
  raw_size_ = other.raw_size_;
  state_.store(other.state_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  other.raw_size_ = 0;
  other.state_.store(kParsed, std::memory_order_relaxed);
  return *this;
}

void Value::build() const noexcept {
  std::uint8_t expected = kLazy;
  if (state_.compare_exchange_strong(expected, kBuilding, std::memory_order_acquire)) {
    // The text was validated when the packet arrived, with the same parser and limits.
    Value parsed;
    if (detail::parse_json(raw_json(), parsed)) v_ = std::move(parsed.v_);
    state_.store(kParsed, std::memory_order_release);
    return;
  }
  // Another thread is building it: it is a short parse.
  while (state_.load(std::memory_order_acquire) != kParsed) std::this_thread::yield();
}

void Value::set_unsigned(unsigned long long u) noexcept {
  if (u <= static_cast<unsigned long long>(std::numeric_limits<std::int64_t>::max()))
    v_ = static_cast<std::int64_t>(u);
  else
    v_ = static_cast<std::uint64_t>(u);
}

Value Value::array(std::initializer_list<Value> items) { return Value(Array(items)); }

Value Value::object(std::initializer_list<std::pair<std::string, Value>> members) {
  Object o;
  o.reserve(members.size());
  for (const auto& [k, v] : members) o.push_back(Member{k, v});
  return Value(std::move(o));
}

bool Value::parse_json(std::string_view text, Value& out) { return detail::parse_json(text, out); }

bool Value::as_bool(bool fallback) const noexcept {
  materialize();
  if (auto* b = std::get_if<bool>(&v_)) return *b;
  return fallback;
}

std::int64_t Value::as_int(std::int64_t fallback) const noexcept {
  materialize();
  switch (type()) {
    case Type::integer: return std::get<std::int64_t>(v_);
    case Type::uinteger: return std::numeric_limits<std::int64_t>::max();
    case Type::number: {
      const double d = std::get<double>(v_);
      if (!(d == d)) return fallback;
      if (d >= 9.2233720368547758e18) return std::numeric_limits<std::int64_t>::max();
      if (d <= -9.2233720368547758e18) return std::numeric_limits<std::int64_t>::min();
      return static_cast<std::int64_t>(d);
    }
    default: return fallback;
  }
}

std::uint64_t Value::as_uint(std::uint64_t fallback) const noexcept {
  materialize();
  switch (type()) {
    case Type::integer: {
      const auto i = std::get<std::int64_t>(v_);
      return i < 0 ? fallback : static_cast<std::uint64_t>(i);
    }
    case Type::uinteger: return std::get<std::uint64_t>(v_);
    case Type::number: {
      const double d = std::get<double>(v_);
      if (!(d >= 0)) return fallback;
      if (d >= 1.8446744073709552e19) return std::numeric_limits<std::uint64_t>::max();
      return static_cast<std::uint64_t>(d);
    }
    default: return fallback;
  }
}

double Value::as_double(double fallback) const noexcept {
  materialize();
  switch (type()) {
    case Type::integer: return static_cast<double>(std::get<std::int64_t>(v_));
    case Type::uinteger: return static_cast<double>(std::get<std::uint64_t>(v_));
    case Type::number: return std::get<double>(v_);
    default: return fallback;
  }
}

const std::string& Value::as_string() const noexcept {
  materialize();
  if (auto* s = std::get_if<std::string>(&v_)) return *s;
  return kEmptyString;
}

const std::string& Value::as_binary() const noexcept {
  materialize();
  if (auto* b = std::get_if<Bytes>(&v_)) return b->data;
  return kEmptyString;
}

const Array& Value::as_array() const noexcept {
  materialize();
  if (auto* a = std::get_if<Array>(&v_)) return *a;
  return kEmptyArray;
}

const Object& Value::as_object() const noexcept {
  materialize();
  if (auto* o = std::get_if<Object>(&v_)) return *o;
  return kEmptyObject;
}

Array& Value::make_array() {
  materialize();
  invalidate();
  if (!std::holds_alternative<Array>(v_)) v_ = Array{};
  return std::get<Array>(v_);
}

Object& Value::make_object() {
  materialize();
  invalidate();
  if (!std::holds_alternative<Object>(v_)) v_ = Object{};
  return std::get<Object>(v_);
}

std::size_t Value::size() const noexcept {
  materialize();
  if (auto* a = std::get_if<Array>(&v_)) return a->size();
  if (auto* o = std::get_if<Object>(&v_)) return o->size();
  return 0;
}

const Value& Value::operator[](std::size_t index) const noexcept {
  const Array& a = as_array();
  return index < a.size() ? a[index] : kNull;
}

const Value& Value::operator[](std::string_view key) const noexcept {
  const Value* v = find(key);
  return v ? *v : kNull;
}

const Value* Value::find(std::string_view key) const noexcept {
  for (const auto& m : as_object())
    if (m.key == key) return &m.value;
  return nullptr;
}

Value& Value::set(std::string key, Value value) {
  Object& o = make_object();
  for (auto& m : o) {
    if (m.key == key) {
      m.value = std::move(value);
      return *this;
    }
  }
  o.push_back(Member{std::move(key), std::move(value)});
  return *this;
}

Value& Value::push_back(Value value) {
  make_array().push_back(std::move(value));
  return *this;
}

bool Value::has_binary() const noexcept {
  // Lazily parsed values come from text packets, whose JSON holds no binary.
  if (state_.load(std::memory_order_acquire) != kParsed) return false;
  switch (type()) {
    case Type::binary: return true;
    case Type::array:
      for (const auto& e : std::get<Array>(v_))
        if (e.has_binary()) return true;
      return false;
    case Type::object:
      for (const auto& m : std::get<Object>(v_))
        if (m.value.has_binary()) return true;
      return false;
    default: return false;
  }
}

std::string Value::to_json() const {
  std::string out;
  std::vector<std::string> attachments;
  detail::write_json(*this, out, &attachments);
  return out;
}

void Value::set_raw_json(std::shared_ptr<const std::string> buffer, std::string_view text) noexcept {
  if (text.size() > std::numeric_limits<std::uint32_t>::max()) return;
  materialize();
  raw_ = std::shared_ptr<const char>(std::move(buffer), text.data());
  raw_size_ = static_cast<std::uint32_t>(text.size());
}

}  // namespace courier
