#pragma once
/// @file request_info.hpp
/// What courier keeps of the HTTP request that opened a session.

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace courier {

/// The request that opened an Engine.IO session (its handshake). Immutable once the session exists,
/// so reading it is safe from any thread.
struct RequestInfo {
  /// Request path without the query, e.g. "/socket.io/".
  std::string path;
  /// Decoded query parameters in order of appearance (keys may repeat).
  std::vector<std::pair<std::string, std::string>> query;
  /// Header fields in order of appearance; names as the client sent them.
  std::vector<std::pair<std::string, std::string>> headers;
  /// Peer address without port, e.g. "127.0.0.1" or "::1".
  std::string remote_address;
  /// When the handshake arrived.
  std::chrono::system_clock::time_point time;

  /// First query value for `key`, or an empty view. Case-sensitive, as URLs are.
  std::string_view query_value(std::string_view key) const noexcept;
  /// First header value for `name`, compared case-insensitively, or an empty view.
  std::string_view header(std::string_view name) const noexcept;
};

}  // namespace courier
