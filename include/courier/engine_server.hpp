#pragma once
/// @file engine_server.hpp
/// A raw Engine.IO v4 server: sessions over HTTP long-polling and WebSocket, with upgrade.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

#include <asio/io_context.hpp>

#include <courier/engine_options.hpp>
#include <courier/engine_socket.hpp>
#include <courier/metrics.hpp>

namespace courier {

namespace detail {
class EngineCore;
}

/// Serves Engine.IO sessions under one path. Mount it on a Listener to receive requests.
///
/// Thread-safety: the server's state lives on the io_context's thread. Construct and destroy it on any
/// thread while that context is not running, or on the context's thread; other members are safe from
/// any thread. The io_context must be run by exactly one thread (see README, "Threading").
class EngineServer {
 public:
  /// Creates a server whose sessions run on `io`.
  explicit EngineServer(asio::io_context& io, EngineOptions options = {});
  /// Closes every session ("forced close").
  ~EngineServer();
  EngineServer(const EngineServer&) = delete;
  EngineServer& operator=(const EngineServer&) = delete;

  /// Sets the handler called on the server's thread for every new session, before any message.
  void on_connection(std::function<void(EngineSocket)> handler);
  /// Number of open sessions. Exact on the server's thread.
  std::size_t session_count() const noexcept;
  /// A snapshot of the Engine.IO counters and gauges, taken on the server's thread and passed to
  /// `done` there. Safe from any thread.
  void metrics(std::function<void(EngineMetrics)> done) const;
  /// The options the server was created with.
  const EngineOptions& options() const noexcept;
  /// Closes every session ("forced close") and refuses new ones.
  void close();
  /// Same, then calls `done` on the server's thread once the WebSocket close handshakes finished
  /// (or after `drain_timeout`).
  void close(std::function<void()> done, std::chrono::milliseconds drain_timeout);

  /// The shared core a Listener routes requests to; used by courier itself.
  const std::shared_ptr<detail::EngineCore>& core() const noexcept { return core_; }

 private:
  std::shared_ptr<detail::EngineCore> core_;
};

}  // namespace courier
