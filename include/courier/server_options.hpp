#pragma once
/// @file server_options.hpp
/// Settings of a Socket.IO server. Defaults match Node's socket.io 4.8 unless a comment says why not.

#include <chrono>

#include <courier/adapter.hpp>
#include <courier/engine_options.hpp>
#include <courier/log.hpp>

namespace courier {

/// The Engine.IO defaults with socket.io's path.
inline EngineOptions socket_io_engine_defaults() {
  EngineOptions o;
  o.path = "/socket.io/";
  return o;
}

/// Options of a Server; an aggregate copied at construction.
struct ServerOptions {
  /// Engine.IO settings (path "/socket.io/", ping 25 s / 20 s, 1 MB messages, CORS off, ...).
  EngineOptions engine = socket_io_engine_defaults();
  /// How long a connection may stay without joining any namespace; socket.io's 45 s.
  std::chrono::milliseconds connect_timeout{45000};
  /// Most namespaces one connection may join; bounds what one client can allocate (socket.io has none).
  std::size_t max_namespaces_per_connection = 64;
  /// Most binary attachments one packet may carry; socket.io-parser's default of 10 (each is
  /// buffered until the packet is complete).
  std::size_t max_attachments = 10;
  /// How long close() waits for connections to finish their close handshakes before calling its
  /// callback; 5 s covers a slow client without holding a shutdown for long.
  std::chrono::milliseconds drain_timeout{5000};
  /// Makes each namespace's adapter; empty: InMemoryAdapter.
  AdapterFactory adapter;
  /// Where the Socket.IO layer reports refusals; warnings to stderr by default.
  Logger logger;
};

}  // namespace courier
