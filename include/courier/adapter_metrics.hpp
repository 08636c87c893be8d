#pragma once
/// @file adapter_metrics.hpp
/// What an adapter reports about its cluster transport (see Adapter::collect_metrics).

#include <cstdint>

namespace courier {

/// Counters of an adapter's cluster transport, monotonic since it started. Zero for adapters
/// without one (InMemoryAdapter). A plain value; no thread-safety concerns of its own.
struct AdapterMetrics {
  std::uint64_t published = 0;       ///< messages published to the cluster
  std::uint64_t lost_publishes = 0;  ///< publishes dropped because the cluster transport was down
  std::uint64_t received = 0;        ///< messages received from other servers
  std::uint64_t malformed = 0;       ///< received messages that could not be decoded
  std::uint64_t reconnects = 0;      ///< reconnections of the cluster transport
};

}  // namespace courier
