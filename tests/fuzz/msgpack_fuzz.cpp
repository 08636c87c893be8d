// libFuzzer: MessagePack from Redis (anyone who can publish to the cluster's channels).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "redis/msgpack_value.hpp"

using namespace courier::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  courier::Value v;
  if (msgpack_decode(std::string_view(reinterpret_cast<const char*>(data), size), v)) {
    std::string out;
    msgpack_encode(v, out);
    courier::Value again;
    if (!msgpack_decode(out, again)) __builtin_trap();
  }
  return 0;
}
