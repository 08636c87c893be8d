#pragma once
// courier::Value <-> MessagePack, as Node's notepack.io writes it for @socket.io/redis-adapter:
// Buffers are bin, strings str, integers the smallest int family, other numbers float64, and
// JavaScript's undefined (fixext type 0) reads as null.

#include <string>
#include <string_view>

#include <courier/value.hpp>

namespace courier::detail {

/// Appends the MessagePack encoding of `v` to `out`.
void msgpack_encode(const Value& v, std::string& out);
/// Decodes one MessagePack document; false when malformed or when anything follows it.
bool msgpack_decode(std::string_view bytes, Value& out);

}  // namespace courier::detail
