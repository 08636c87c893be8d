#pragma once
/// @file cors.hpp
/// Cross-origin settings for the HTTP side of a server.

#include <chrono>
#include <string>
#include <vector>

namespace courier {

/// CORS policy applied to long-polling responses and preflight requests.
/// An aggregate; copy it into EngineOptions. Not used on WebSocket upgrades (browsers do not apply CORS there).
struct CorsOptions {
  /// Allowed origins, exactly as browsers send them ("https://app.example"); "*" allows any.
  /// Empty: no CORS headers at all, so only same-origin pages can poll, the safe default.
  std::vector<std::string> origins;
  /// Sends Access-Control-Allow-Credentials: true; off because cookies across origins are opt-in.
  bool credentials = false;
  /// Headers a preflight may allow; empty reflects what the browser asks for, which is what clients need.
  std::vector<std::string> allowed_headers;
  /// How long browsers may cache a preflight; 0 omits the header and leaves it to the browser.
  std::chrono::seconds max_age{0};
};

}  // namespace courier
