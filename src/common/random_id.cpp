#include "common/random_id.hpp"

#include <sys/random.h>

#include "engine/base64.hpp"

namespace courier::detail {

std::string random_id() {
  unsigned char bytes[15];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0) got += static_cast<std::size_t>(n);
  }
  std::string id;
  base64_encode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes), id);
  for (char& c : id) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return id;
}

}  // namespace courier::detail
