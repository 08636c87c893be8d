#pragma once
/// @file server.hpp
/// The Socket.IO v5 server.

#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <system_error>

#include <asio/io_context.hpp>

#include <courier/listener.hpp>
#include <courier/metrics.hpp>
#include <courier/namespace.hpp>
#include <courier/server_options.hpp>

namespace courier {

namespace detail {
class ServerImpl;
}

/// A Socket.IO server: namespaces over one Engine.IO server.
///
/// Either give it your io_context (run by exactly one thread) and `attach` it to a Listener or
/// `listen`, or let it own one and call `run()` / `start()`.
///
/// Thread-safety: members may be called from any thread (posted to the server's thread), except
/// construction and destruction, which happen while the io_context is not running or on its thread.
class Server {
 public:
  /// A server on the host's io_context.
  explicit Server(asio::io_context& io, ServerOptions options = {});
  /// A server that owns its io_context; drive it with run() or start().
  explicit Server(ServerOptions options = {});
  /// Closes the server (see close()).
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// The static namespace `name` ("/chat"), created on first use.
  Namespace of(const std::string& name);
  /// A parent of dynamic namespaces: any name accepted by `accept(name, auth)` is created on first
  /// connection and inherits the parent's middlewares and connection handler.
  Namespace of(std::function<bool(const std::string& name, const Value& auth)> accept);
  /// A parent of dynamic namespaces whose names fully match `pattern`.
  Namespace of(const std::regex& pattern);

  /// The main namespace "/" (io.sockets in Node).
  Namespace sockets() { return of("/"); }
  /// Broadcast helpers on "/".
  Room to(std::string room) { return sockets().to(std::move(room)); }
  Room in(std::string room) { return sockets().to(std::move(room)); }
  template <class... A>
  void emit(std::string_view event, A&&... a) {
    sockets().emit(event, std::forward<A>(a)...);
  }

  /// Serves this server's path on an existing listener (several servers may share one).
  void attach(Listener& listener);
  /// Creates a listener of its own and listens; returns the bind/listen error, if any.
  std::error_code listen(const ListenOptions& options);
  /// The port of the server's own listener (0 without one).
  std::uint16_t port() const noexcept;

  /// Runs the owned io_context on this thread until close(). Only for a server that owns it.
  void run();
  /// Runs the owned io_context on a background thread; close() or the destructor stops it.
  void start();

  /// Graceful shutdown, in this order: stops accepting sessions (handshakes get 503), disconnects
  /// every socket ("server shutting down" on the server side; clients see their connection close,
  /// "transport close", and reconnect, possibly to another server), closes the Engine.IO sessions
  /// after their queued packets, waits up to ServerOptions::drain_timeout for them to be written
  /// (polling clients collect theirs with their next poll) and the close handshakes to finish,
  /// closes the adapters (Redis unsubscribes), closes the server's own listener, then calls
  /// `done` on the server's thread. A second call only calls its `done`.
  void close(std::function<void()> done = {});

  /// A snapshot of the server's counters and gauges, taken on the server's thread and passed to
  /// `done` there (consistent: nothing changes while it is taken). Safe from any thread.
  void metrics(std::function<void(Metrics)> done) const;

  /// Serves metrics() in the Prometheus text format at `path` on `listener` (which must run on
  /// the server's io_context). Mount it on a listener bound to a private address, or put it
  /// behind the host's access control: it tells anyone who asks how loaded the server is.
  void serve_metrics(Listener& listener, std::string path = "/metrics");
  /// Same on the server's own listener (the one listen() binds; call before or after it).
  void serve_metrics(std::string path = "/metrics");

  /// The io_context the server runs on.
  asio::io_context& context() noexcept;

 private:
  std::unique_ptr<asio::io_context> owned_io_;
  std::shared_ptr<detail::ServerImpl> impl_;
  std::shared_ptr<Listener> listener_;  // shared: a pending close() holds it weakly
  struct Runner;
  std::unique_ptr<Runner> runner_;
};

}  // namespace courier
