#pragma once
/// @file value.hpp
/// courier::Value: the JSON-plus-binary value that Socket.IO events carry.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace courier {

class Value;
struct Member;
namespace detail {
struct ValueAccess;
}

/// An array of values.
using Array = std::vector<Value>;
/// An object: members in insertion order, as JavaScript keeps them.
using Object = std::vector<Member>;
class Args;

/// Binary bytes inside a value (a Buffer / ArrayBuffer on the JavaScript side).
struct Bytes {
  std::string data;
  bool operator==(const Bytes& o) const noexcept { return data == o.data; }
};

/// A JSON value that may also hold binary data. Copyable; copies are deep.
///
/// Values that come from the wire remember their JSON text (`raw_json()`), and courier writes that
/// text back unchanged when such a value is emitted again, so a relay never re-serializes.
/// The arguments of received events and acks are parsed lazily: the text is validated when the
/// packet arrives (invalid JSON is refused then, as always), and the value is built on first
/// read. A handler that only forwards or echoes an argument never pays for building it.
///
/// Thread-safety: like std::string (concurrent const access is safe, mutation is not); the lazy
/// first read is synchronized, so concurrent first reads of one value are safe too.
class Value {
 public:
  enum class Type : std::uint8_t { null, boolean, integer, uinteger, number, string, binary, array, object };

  Value() noexcept = default;
  /// Deep copy (a value not yet parsed is copied as its text, still unparsed).
  Value(const Value& other);
  Value(Value&& other) noexcept;
  Value& operator=(const Value& other);
  Value& operator=(Value&& other) noexcept;
  ~Value() = default;
  Value(std::nullptr_t) noexcept {}
  Value(bool b) noexcept : v_(b) {}
  Value(int i) noexcept : v_(static_cast<std::int64_t>(i)) {}
  Value(long i) noexcept : v_(static_cast<std::int64_t>(i)) {}
  Value(long long i) noexcept : v_(static_cast<std::int64_t>(i)) {}
  Value(unsigned i) noexcept : v_(static_cast<std::int64_t>(i)) {}
  Value(unsigned long i) noexcept { set_unsigned(i); }
  Value(unsigned long long i) noexcept { set_unsigned(i); }
  Value(double d) noexcept : v_(d) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) noexcept : v_(std::move(s)) {}
  Value(std::string_view s) : v_(std::string(s)) {}
  Value(Bytes b) noexcept : v_(std::move(b)) {}
  Value(Array a) noexcept : v_(std::move(a)) {}
  Value(Object o) noexcept : v_(std::move(o)) {}

  /// Binary value from bytes.
  static Value binary(std::string bytes) { return Value(Bytes{std::move(bytes)}); }
  /// Array value: `Value::array({1, "two", nullptr})`.
  static Value array(std::initializer_list<Value> items = {});
  /// Object value: `Value::object({{"name", "ada"}, {"age", 36}})`.
  static Value object(std::initializer_list<std::pair<std::string, Value>> members = {});
  /// Parses JSON text (no binary). Returns false and leaves `out` null on invalid JSON.
  static bool parse_json(std::string_view text, Value& out);

  Type type() const noexcept {
    materialize();
    return static_cast<Type>(v_.index());
  }
  bool is_null() const noexcept { return type() == Type::null; }
  bool is_bool() const noexcept { return type() == Type::boolean; }
  /// True for integers (signed or unsigned) and other numbers.
  bool is_number() const noexcept {
    return type() == Type::integer || type() == Type::uinteger || type() == Type::number;
  }
  /// True for numbers with an exact 64-bit integer value.
  bool is_integer() const noexcept { return type() == Type::integer || type() == Type::uinteger; }
  bool is_string() const noexcept { return type() == Type::string; }
  bool is_binary() const noexcept { return type() == Type::binary; }
  bool is_array() const noexcept { return type() == Type::array; }
  bool is_object() const noexcept { return type() == Type::object; }

  /// The boolean, or `fallback` for other types.
  bool as_bool(bool fallback = false) const noexcept;
  /// The number as int64 (doubles truncated, out-of-range clamped), or `fallback` for non-numbers.
  std::int64_t as_int(std::int64_t fallback = 0) const noexcept;
  /// The number as uint64 (negative values give `fallback`).
  std::uint64_t as_uint(std::uint64_t fallback = 0) const noexcept;
  /// The number as double, or `fallback`.
  double as_double(double fallback = 0.0) const noexcept;
  /// The string, or an empty string for other types.
  const std::string& as_string() const noexcept;
  /// The binary bytes, or an empty string for other types.
  const std::string& as_binary() const noexcept;
  /// The array, or an empty array for other types.
  const Array& as_array() const noexcept;
  /// The object members, or none for other types.
  const Object& as_object() const noexcept;
  /// Mutable array; turns a null value into an empty array first.
  Array& make_array();
  /// Mutable object; turns a null value into an empty object first.
  Object& make_object();

  /// Number of elements (array) or members (object); 0 otherwise.
  std::size_t size() const noexcept;
  /// Array element, or a null value when out of range or not an array.
  const Value& operator[](std::size_t index) const noexcept;
  /// First member named `key`, or a null value.
  const Value& operator[](std::string_view key) const noexcept;
  /// Pointer to the first member named `key`, or nullptr.
  const Value* find(std::string_view key) const noexcept;
  /// Sets member `key` (replacing the first one of that name); makes the value an object if null.
  Value& set(std::string key, Value value);
  /// Appends to an array; makes the value an array if null.
  Value& push_back(Value value);

  /// True when binary data appears anywhere inside.
  bool has_binary() const noexcept;
  /// Compact JSON. Binary is written as {"_placeholder":true,"num":N} with N counting from 0
  /// in document order, as Socket.IO's wire format does.
  std::string to_json() const;
  /// The JSON text this value was parsed from, when it came from the wire unchanged; else empty.
  std::string_view raw_json() const noexcept { return std::string_view(raw_.get(), raw_size_); }
  /// Attaches wire text to the value without copying it: `text` must point into `buffer`
  /// (used by courier's decoder; the buffer is kept alive by the value).
  void set_raw_json(std::shared_ptr<const std::string> buffer, std::string_view text) noexcept;

  friend bool operator==(const Value& a, const Value& b) noexcept {
    a.materialize();
    b.materialize();
    return a.v_ == b.v_;
  }
  friend bool operator!=(const Value& a, const Value& b) noexcept { return !(a == b); }

 private:
  friend struct detail::ValueAccess;
  enum : std::uint8_t { kParsed = 0, kLazy = 1, kBuilding = 2 };

  void set_unsigned(unsigned long long u) noexcept;
  void invalidate() noexcept {
    raw_.reset();
    raw_size_ = 0;
  }
  // Builds v_ from raw_ if that has not happened yet (a lazily parsed wire value).
  void materialize() const noexcept {
    if (state_.load(std::memory_order_acquire) != kParsed) build();
  }
  void build() const noexcept;

  mutable std::variant<std::monostate, bool, std::int64_t, std::uint64_t, double, std::string, Bytes, Array, Object> v_;
  std::shared_ptr<const char> raw_;  // aliases the received packet's buffer
  std::uint32_t raw_size_ = 0;       // wire text longer than 4 GiB is simply not kept
  mutable std::atomic<std::uint8_t> state_{kParsed};
};

/// The arguments of an event or an ack: a std::vector<Value> whose operator[] never reads out of
/// range. A client decides how many arguments it sends, so `args[2]` on a shorter list gives a
/// null value instead of undefined behaviour; use size() when the count matters.
class Args : public std::vector<Value> {
 public:
  using std::vector<Value>::vector;
  Args() = default;
  Args(const Array& a) : std::vector<Value>(a) {}
  Args(Array&& a) noexcept : std::vector<Value>(std::move(a)) {}

  /// The element, or a null value when out of range.
  const Value& operator[](size_type i) const noexcept {
    static const Value null;
    return i < size() ? std::vector<Value>::operator[](i) : null;
  }
  /// The element, or a scratch null value (reset at each out-of-range access) when out of range.
  Value& operator[](size_type i) noexcept {
    if (i < size()) return std::vector<Value>::operator[](i);
    missing_ = Value();
    return missing_;
  }

 private:
  Value missing_;
};

/// One member of an object.
struct Member {
  std::string key;
  Value value;
  bool operator==(const Member& o) const noexcept { return key == o.key && value == o.value; }
};

}  // namespace courier
