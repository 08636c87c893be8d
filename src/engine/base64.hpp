#pragma once
// Standard base64 (RFC 4648 section 4, with padding), as Engine.IO's polling payloads carry binary.

#include <string>
#include <string_view>

namespace courier::detail {

/// Appends the base64 encoding of `bytes` to `out`.
void base64_encode(std::string_view bytes, std::string& out);

/// Decodes padded base64 into `out` (replacing it). False on any invalid character, misplaced
/// padding or a length that is not a multiple of 4; `out` is then unspecified. Unused low bits of
/// the last character before '=' are ignored (RFC 4648 3.5 allows it; Node's Buffer does it).
bool base64_decode(std::string_view text, std::string& out);

}  // namespace courier::detail
