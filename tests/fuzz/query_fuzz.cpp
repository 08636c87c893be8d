// libFuzzer: handshake query strings.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/query.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view q(reinterpret_cast<const char*>(data), size);
  auto pairs = courier::detail::parse_query(q);
  (void)pairs;
  (void)courier::detail::query_param(q, "sid");
  return 0;
}
