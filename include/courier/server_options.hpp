#pragma once
/// @file server_options.hpp
/// Settings of a Socket.IO server. Defaults match Node's socket.io 4.8 unless a comment says why not.

#include <chrono>
#include <cstddef>

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
  /// Most rooms one socket may be in (its own room included); 0 = no limit. Every way into a room
  /// counts: Socket::join beyond it is refused with errc::too_many_rooms; Room::sockets_join and
  /// joins requested by other servers of a cluster (remote adapters) leave a socket at the limit
  /// out of the new room while the call's other sockets join. Each refusal is logged (warn) and
  /// counted in Metrics::rooms_refused; rooms a socket is in already are never refused. 10,000
  /// bounds what one client, or one bulk join, can make the server allocate while being far above
  /// any sane application (socket.io has no limit). Read on the server's thread only, like the
  /// rest of these options once the Server has copied them.
  std::size_t max_rooms_per_socket = 10000;
  /// Events one socket may send per second, sustained (token bucket); 0 = off, as in socket.io.
  /// When exceeded, the socket gets an "error" event ({"message":"rate limit exceeded"}) and is
  /// disconnected ("server namespace disconnect"; the client sees "io server disconnect"). The rest
  /// of the flood still in flight is dropped; the connection and its other namespaces go on.
  double max_events_per_second = 0;
  /// Events a socket may send in a burst before max_events_per_second applies; 0 means twice the
  /// rate (one second of headroom), so short bursts are tolerated.
  std::size_t event_burst = 0;
  /// Most binary attachments one packet may carry; socket.io-parser's default of 10 (each is
  /// buffered until the packet is complete).
  std::size_t max_attachments = 10;
  /// How long close() waits for queued packets to be written and connections to finish their close
  /// handshakes before releasing the adapters and calling its callback; 5 s covers a slow client
  /// without holding a shutdown for long.
  std::chrono::milliseconds drain_timeout{5000};
  /// Makes each namespace's adapter; empty: InMemoryAdapter.
  AdapterFactory adapter;
  /// Where the Socket.IO layer reports refusals; warnings to stderr by default.
  Logger logger;
};

}  // namespace courier
