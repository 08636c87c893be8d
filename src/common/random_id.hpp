#pragma once
#include <string>

namespace courier::detail {
/// 15 random bytes from the kernel's CSPRNG, base64url: 20 characters, the shape of Node's
/// base64id, unguessable so a sid or socket id cannot be hijacked.
std::string random_id();
}  // namespace courier::detail
