#include "redis/msgpack_value.hpp"

#include <msgpack.hpp>

namespace courier::detail {
namespace {

struct StringBuffer {
  std::string& s;
  void write(const char* data, std::size_t n) { s.append(data, n); }
};

void pack(msgpack::packer<StringBuffer>& pk, const Value& v) {
  switch (v.type()) {
    case Value::Type::null: pk.pack_nil(); break;
    case Value::Type::boolean: v.as_bool() ? pk.pack_true() : pk.pack_false(); break;
    case Value::Type::integer: pk.pack_int64(v.as_int()); break;
    case Value::Type::uinteger: pk.pack_uint64(v.as_uint()); break;
    case Value::Type::number: pk.pack_double(v.as_double()); break;
    case Value::Type::string: {
      const std::string& s = v.as_string();
      pk.pack_str(static_cast<std::uint32_t>(s.size()));
      pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
      break;
    }
    case Value::Type::binary: {
      const std::string& b = v.as_binary();
      pk.pack_bin(static_cast<std::uint32_t>(b.size()));
      pk.pack_bin_body(b.data(), static_cast<std::uint32_t>(b.size()));
      break;
    }
    case Value::Type::array:
      pk.pack_array(static_cast<std::uint32_t>(v.size()));
      for (const auto& e : v.as_array()) pack(pk, e);
      break;
    case Value::Type::object:
      pk.pack_map(static_cast<std::uint32_t>(v.size()));
      for (const auto& m : v.as_object()) {
        pk.pack_str(static_cast<std::uint32_t>(m.key.size()));
        pk.pack_str_body(m.key.data(), static_cast<std::uint32_t>(m.key.size()));
        pack(pk, m.value);
      }
      break;
  }
}

bool unpack(const msgpack::object& o, Value& out, int depth) {
  if (depth > 64) return false;  // deeper than any Socket.IO payload needs
  switch (o.type) {
    case msgpack::type::NIL: out = Value(); return true;
    case msgpack::type::BOOLEAN: out = Value(o.via.boolean); return true;
    case msgpack::type::POSITIVE_INTEGER: out = Value(static_cast<unsigned long long>(o.via.u64)); return true;
    case msgpack::type::NEGATIVE_INTEGER: out = Value(static_cast<long long>(o.via.i64)); return true;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: out = Value(o.via.f64); return true;
    case msgpack::type::STR: out = Value(std::string(o.via.str.ptr, o.via.str.size)); return true;
    case msgpack::type::BIN: out = Value::binary(std::string(o.via.bin.ptr, o.via.bin.size)); return true;
    case msgpack::type::EXT: out = Value(); return true;  // notepack's undefined
    case msgpack::type::ARRAY: {
      Array a;
      a.reserve(o.via.array.size);
      for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
        Value e;
        if (!unpack(o.via.array.ptr[i], e, depth + 1)) return false;
        a.push_back(std::move(e));
      }
      out = Value(std::move(a));
      return true;
    }
    case msgpack::type::MAP: {
      Object m;
      m.reserve(o.via.map.size);
      for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
        const auto& kv = o.via.map.ptr[i];
        std::string key;
        if (kv.key.type == msgpack::type::STR) {
          key.assign(kv.key.via.str.ptr, kv.key.via.str.size);
        } else if (kv.key.type == msgpack::type::POSITIVE_INTEGER) {
          key = std::to_string(kv.key.via.u64);
        } else {
          return false;
        }
        Value val;
        if (!unpack(kv.val, val, depth + 1)) return false;
        m.push_back(Member{std::move(key), std::move(val)});
      }
      out = Value(std::move(m));
      return true;
    }
  }
  return false;
}

}  // namespace

void msgpack_encode(const Value& v, std::string& out) {
  StringBuffer buf{out};
  msgpack::packer<StringBuffer> pk(buf);
  pack(pk, v);
}

bool msgpack_decode(std::string_view bytes, Value& out) {
  try {
    std::size_t offset = 0;
    msgpack::object_handle handle = msgpack::unpack(bytes.data(), bytes.size(), offset);
    if (offset != bytes.size()) return false;
    return unpack(handle.get(), out, 0);
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace courier::detail
