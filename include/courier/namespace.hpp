#pragma once
/// @file namespace.hpp
/// A Socket.IO namespace: its middlewares, its connection handler, broadcasts to its sockets.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <courier/room.hpp>
#include <courier/socket.hpp>
#include <courier/value.hpp>

namespace courier {

namespace detail {
class NamespaceImpl;
}

/// The error a middleware refuses a connection with; the client gets `connect_error` with an
/// Error whose `message` and `data` are these.
struct ConnectError {
  std::string message;
  Value data;  ///< null: no `data` field is sent
};

/// Continues (no argument) or refuses (a ConnectError) a connection; call it once, from any thread.
class Next {
 public:
  explicit Next(std::function<void(std::optional<ConnectError>)> f) : f_(std::make_shared<decltype(f)>(std::move(f))) {}
  /// Lets the connection proceed to the next middleware.
  void operator()() const { call(std::nullopt); }
  /// Refuses the connection.
  void operator()(ConnectError error) const { call(std::move(error)); }

 private:
  void call(std::optional<ConnectError> e) const {
    if (f_ && *f_) {
      auto f = std::move(*f_);
      *f_ = nullptr;
      f(std::move(e));
    }
  }
  std::shared_ptr<std::function<void(std::optional<ConnectError>)>> f_;
};

/// Runs before a socket joins the namespace: inspect `socket.auth()`, `socket.request()`.
using Middleware = std::function<void(Socket socket, Next next)>;

/// A handle on a namespace (static like "/chat", or the parent of dynamic ones). Copyable.
///
/// Thread-safety: every member may be called from any thread (posted to the server's thread);
/// handlers run on the server's thread.
class Namespace {
 public:
  explicit Namespace(std::shared_ptr<detail::NamespaceImpl> impl) noexcept;

  /// The name, e.g. "/chat" (for a dynamic parent, a description of its pattern).
  const std::string& name() const noexcept;
  /// Adds a middleware; they run in order for every connection.
  void use(Middleware middleware) const;
  /// Sets the handler called for every socket that joined (after the middlewares).
  void on_connection(std::function<void(Socket)> handler) const;

  /// Broadcast to `room`.
  Room to(std::string room) const;
  /// Same as to().
  Room in(std::string room) const { return to(std::move(room)); }
  /// Broadcast to everyone except sockets in `room`.
  Room except(std::string room) const;
  /// Broadcast to this instance's sockets only.
  Room local() const;
  /// Broadcast that may be dropped for clients that cannot take it.
  Room volatile_() const;
  /// Broadcast whose acks are awaited at most `timeout`.
  Room timeout(std::chrono::milliseconds timeout) const;
  /// Everyone in the namespace.
  Room all() const;

  /// Emits to every socket of the namespace.
  void emit_args(std::string_view event, Args args) const;
  /// Emits the given values to every socket of the namespace.
  template <class... A>
  void emit(std::string_view event, A&&... a) const {
    emit_args(event, Args{Value(std::forward<A>(a))...});
  }

  /// Sends an event to the namespace on every other server of the cluster (not to clients).
  void server_side_emit_args(std::string_view event, Args args) const;
  template <class... A>
  void server_side_emit(std::string_view event, A&&... a) const {
    server_side_emit_args(event, Args{Value(std::forward<A>(a))...});
  }
  /// Same, gathering each other server's answer (the first argument of its ack); the callback gets
  /// errc::missing_responses with what arrived when some servers did not answer in time.
  void server_side_emit_with_ack(std::string_view event, Args args,
                                 std::function<void(std::error_code, std::vector<Value>)> callback) const;
  /// Sets the handler of a server-side emit coming from another server; `ack` answers it.
  void on_server_side_emit(std::string event, EventHandler handler) const;

  /// Number of sockets connected here. Exact on the server's thread.
  std::size_t socket_count() const noexcept;

  /// The implementation; used by courier itself.
  const std::shared_ptr<detail::NamespaceImpl>& impl() const noexcept { return impl_; }

 private:
  std::shared_ptr<detail::NamespaceImpl> impl_;
};

}  // namespace courier
