#pragma once
/// @file metrics.hpp
/// A snapshot of a server's counters and gauges, and its Prometheus text rendering.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include <courier/adapter_metrics.hpp>
#include <courier/disconnect_reason.hpp>
#include <courier/error.hpp>

namespace courier {

/// Number of CloseReason values (Engine.IO close reasons), for per-reason arrays.
inline constexpr std::size_t close_reason_count = 5;
/// Number of DisconnectReason values (Socket.IO disconnect reasons), for per-reason arrays.
inline constexpr std::size_t disconnect_reason_count = 8;

/// Engine.IO counters (monotonic since start) and gauges (now) of one EngineServer. A plain value
/// (a copy taken by EngineServer::metrics or Server::metrics); no thread-safety concerns of its own.
struct EngineMetrics {
  std::uint64_t sessions_polling = 0;    ///< gauge: open sessions on long-polling
  std::uint64_t sessions_websocket = 0;  ///< gauge: open sessions on WebSocket
  std::uint64_t sessions_opened = 0;     ///< sessions created (handshakes accepted)
  std::uint64_t packets_in = 0;          ///< Engine.IO packets received (heartbeats included)
  std::uint64_t packets_out = 0;         ///< Engine.IO packets queued for sending
  std::uint64_t bytes_in = 0;            ///< payload bytes of packets_in
  std::uint64_t bytes_out = 0;           ///< payload bytes of packets_out
  std::uint64_t handshakes_refused_max_sessions = 0;  ///< answered 503: max_sessions reached
  std::uint64_t handshakes_refused_rate = 0;          ///< answered 429: handshakes_per_second exceeded
  std::uint64_t send_queue_overflows = 0;  ///< sessions closed because their queue exceeded max_buffered_bytes
  /// Sessions closed, per reason, indexed by static_cast<std::size_t>(CloseReason).
  std::array<std::uint64_t, close_reason_count> closes{};
};

/// Everything a Server counts: its Engine.IO layer, Socket.IO layer and adapters.
///
/// Counters are monotonic since the server started; gauges are the value at snapshot time. A plain
/// value (see Server::metrics for how it is taken); no thread-safety concerns of its own.
struct Metrics {
  EngineMetrics engine;                   ///< the Engine.IO layer
  std::uint64_t namespaces = 0;           ///< gauge: namespaces (dynamic children included, parents not)
  std::uint64_t sockets = 0;              ///< gauge: connected sockets, all namespaces
  std::uint64_t rooms = 0;                ///< gauge: local rooms, all namespaces (sockets' own rooms included)
  std::uint64_t events_in = 0;            ///< Socket.IO EVENT packets received
  std::uint64_t volatile_dropped = 0;     ///< volatile packets not written because the connection was busy
  std::uint64_t namespaces_refused = 0;   ///< CONNECTs refused by max_namespaces_per_connection
  std::uint64_t rooms_refused = 0;        ///< joins refused by max_rooms_per_socket
  std::uint64_t rate_limited = 0;         ///< sockets disconnected by max_events_per_second
  /// Sockets disconnected, per reason, indexed by static_cast<std::size_t>(DisconnectReason).
  std::array<std::uint64_t, disconnect_reason_count> disconnects{};
  AdapterMetrics adapter;                 ///< what the adapters report (Redis: reconnects, lost publishes)
};

/// Renders `m` in the Prometheus text exposition format (version 0.0.4), metric names prefixed
/// `courier_`. Thread-safe (a pure function).
std::string to_prometheus(const Metrics& m);

}  // namespace courier
