#pragma once
// Engine.IO counters, shared by the core and its sessions. Written on the server's thread, read
// from any thread (EngineServer::metrics), hence relaxed atomics: each is exact on its own, the
// set is not a consistent cut (Server::metrics reads them on the server's thread, where it is).

#include <array>
#include <atomic>
#include <cstdint>

#include <courier/error.hpp>
#include <courier/metrics.hpp>

namespace courier::detail {

struct EngineCounters {
  using Counter = std::atomic<std::uint64_t>;
  Counter sessions_opened{0};
  Counter packets_in{0};
  Counter packets_out{0};
  Counter bytes_in{0};
  Counter bytes_out{0};
  Counter refused_max_sessions{0};
  Counter refused_rate{0};
  Counter send_queue_overflows{0};
  std::array<Counter, close_reason_count> closes{};

  // Only the core's thread writes (the io_context has one thread), so a plain load and store do:
  // a fetch_add's locked instruction cost ~20 cycles on every packet, twice per recipient of a
  // broadcast. Readers on other threads (metrics()) still see whole values.
  static void add(Counter& c, std::uint64_t n = 1) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void closed(CloseReason r) noexcept { add(closes[static_cast<std::size_t>(r)]); }
  /// The counters into `out` (gauges are filled by the core).
  void fill(EngineMetrics& out) const noexcept {
    auto get = [](const Counter& c) { return c.load(std::memory_order_relaxed); };
    out.sessions_opened = get(sessions_opened);
    out.packets_in = get(packets_in);
    out.packets_out = get(packets_out);
    out.bytes_in = get(bytes_in);
    out.bytes_out = get(bytes_out);
    out.handshakes_refused_max_sessions = get(refused_max_sessions);
    out.handshakes_refused_rate = get(refused_rate);
    out.send_queue_overflows = get(send_queue_overflows);
    for (std::size_t i = 0; i < closes.size(); ++i) out.closes[i] = get(closes[i]);
  }
};

}  // namespace courier::detail
