#pragma once
// UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).

#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace courier::detail {

/// True when `s` is well-formed UTF-8.
inline bool is_valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    // Fast path: ASCII, sixteen and then eight bytes at a time (most text is ASCII).
#if defined(__SSE2__)
    while (end - p >= 16 && _mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))) == 0) p += 16;
#endif
    while (end - p >= 8) {
      unsigned long long w;
      __builtin_memcpy(&w, p, 8);
      if (w & 0x8080808080808080ULL) break;
      p += 8;
    }
    if (p >= end) break;
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (end - p < len) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (int k = 2; k < len; ++k)
      if (p[k] < 0x80 || p[k] > 0xBF) return false;
    p += len;
  }
  return true;
}

}  // namespace courier::detail
