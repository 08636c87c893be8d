#include "redis/msgpack_value.hpp"

#include <cstdio>

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

Value timestamp_string(const char* p, std::uint32_t n) {
  auto be = [p](int from, int len) {
    std::uint64_t v = 0;
    for (int i = 0; i < len; ++i) v = (v << 8) | static_cast<unsigned char>(p[from + i]);
    return v;
  };
  std::int64_t seconds = 0;
  std::uint32_t nanos = 0;
  if (n == 4) {
    seconds = static_cast<std::int64_t>(be(0, 4));
  } else if (n == 8) {
    const std::uint64_t v = be(0, 8);
    nanos = static_cast<std::uint32_t>(v >> 34);
    seconds = static_cast<std::int64_t>(v & 0x3ffffffffULL);
  } else if (n == 12) {
    nanos = static_cast<std::uint32_t>(be(0, 4));
    seconds = static_cast<std::int64_t>(be(4, 8));
  } else {
    return Value();
  }
  // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
  std::int64_t days = seconds / 86400;
  std::int64_t rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  char buf[128];  // room for any 64-bit field the format could produce
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03uZ", static_cast<long long>(y),
                static_cast<long long>(m), static_cast<long long>(d), static_cast<long long>(rem / 3600),
                static_cast<long long>((rem / 60) % 60), static_cast<long long>(rem % 60), nanos / 1000000);
  return Value(std::string(buf));
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
    case msgpack::type::EXT:
      // A timestamp (type -1, a JS Date from notepack) becomes the ISO string Node's JSON gives
      // clients; any other extension (notepack 2's undefined) is null.
      if (o.via.ext.type() == -1) {
        out = timestamp_string(o.via.ext.data(), o.via.ext.size);
        return true;
      }
      out = Value();
      return true;
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
    // No header may claim more elements or bytes than the message holds, so a 5-byte message
    // cannot make msgpack-c allocate gigabytes; nesting is bounded too.
    const std::size_t n = bytes.size();
    const msgpack::unpack_limit limit(n, n, n, n, n, 64);
    msgpack::object_handle handle =
        msgpack::unpack(bytes.data(), n, offset, nullptr, nullptr, limit);
    if (offset != bytes.size()) return false;
    return unpack(handle.get(), out, 0);
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace courier::detail
