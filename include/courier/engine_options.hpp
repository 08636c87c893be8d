#pragma once
/// @file engine_options.hpp
/// Settings of an Engine.IO server. Defaults match Node's engine.io 6.6 unless a comment says otherwise.

#include <chrono>
#include <cstddef>
#include <string>

#include <courier/cors.hpp>
#include <courier/log.hpp>

namespace courier {

/// Options of an EngineServer; an aggregate, copied at construction.
struct EngineOptions {
  /// Request path prefix the server answers under; Node's engine.io default (socket.io uses "/socket.io/").
  std::string path = "/engine.io/";
  /// Server ping period; 25 s as in Node keeps proxies from idling the connection out.
  std::chrono::milliseconds ping_interval{25000};
  /// How long after a ping a pong may take before the session closes; Node's 20 s.
  std::chrono::milliseconds ping_timeout{20000};
  /// How long a WebSocket probe may take to complete an upgrade; Node's 10 s.
  std::chrono::milliseconds upgrade_timeout{10000};
  /// Largest POST body or WebSocket message accepted, in bytes; Node's 1e6 bounds memory per request.
  std::size_t max_http_buffer_size = 1000000;
  /// Most concurrent sessions; beyond it handshakes (polling and WebSocket) get HTTP 503 with a
  /// JSON error body. 0 = no limit besides descriptors, as in Node.
  std::size_t max_sessions = 0;
  /// New sessions one remote address may open per second, sustained (token bucket); beyond it the
  /// handshake gets HTTP 429 "Too many requests". 0 = off: clients behind one NAT share an
  /// address, so only the host knows a safe figure (Node has no such limit).
  double handshakes_per_second = 0;
  /// Handshakes an address may make at once before handshakes_per_second applies; 20 lets a page
  /// with several tabs, or a reconnect after a network blip, through.
  std::size_t handshake_burst = 20;
  /// Most remote addresses the handshake limiter remembers; bounds its memory (about 100 bytes
  /// each) under a storm from many addresses. When full, idle addresses are forgotten first.
  std::size_t max_tracked_addresses = 10000;
  /// Largest amount of outgoing data queued for one session, in bytes (WebSocket send queue or
  /// polling buffer), before it is closed ("transport error"). Volatile packets are dropped as soon
  /// as anything is queued. 64 MiB keeps a stalled client from growing memory without bound.
  std::size_t max_buffered_bytes = 64u << 20;
  /// Accept the HTTP long-polling transport; on, as in Node, so clients behind strict proxies connect.
  bool allow_polling = true;
  /// Accept the WebSocket transport; on, as in Node.
  bool allow_websocket = true;
  /// Offer polling sessions the upgrade to WebSocket; on, as in Node.
  bool allow_upgrades = true;
  /// Cross-origin policy for polling; empty by default (no cross-origin access).
  CorsOptions cors;
  /// Where refusals and closes are reported; warnings to stderr by default.
  Logger logger;
};

}  // namespace courier
