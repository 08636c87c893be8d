#pragma once
/// @file socket.hpp
/// A handle on one Socket.IO socket: a client connected to one namespace.

#include <any>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <courier/disconnect_reason.hpp>
#include <courier/request_info.hpp>
#include <courier/value.hpp>

namespace courier {

class Room;

namespace detail {
class SocketImpl;
class AckTarget;
}  // namespace detail

/// The reply to one event the client sent with an ack callback. Copyable; the first call wins.
///
/// Thread-safety: may be called from any thread, now or later; of concurrent calls exactly one
/// sends.
class Ack {
 public:
  Ack() = default;
  /// An ack that hands its arguments to `send` (once).
  explicit Ack(std::function<void(Args)> send);
  /// Used by courier itself.
  explicit Ack(std::shared_ptr<detail::AckTarget> target) noexcept : target_(std::move(target)) {}
  /// True when the client asked for an ack and it has not been sent yet.
  explicit operator bool() const noexcept;
  /// Sends the ack with these arguments (ignored after the first call or without an ack).
  void operator()(Args args = {}) const;
  /// Sends the ack with the given values: `ack(1, "two")`. Encoded straight from the values when
  /// called on the server's thread (no argument list is allocated).
  template <class A, class... Rest>
  void operator()(A&& a, Rest&&... rest) const {
    Value values[] = {Value(std::forward<A>(a)), Value(std::forward<Rest>(rest))...};
    send_values(values, 1 + sizeof...(Rest));
  }

 private:
  void send_values(Value* values, std::size_t count) const;
  std::shared_ptr<detail::AckTarget> target_;
};

/// Handler of one event: its arguments (without the event name) and the ack (empty if none asked).
using EventHandler = std::function<void(Args& args, Ack ack)>;
/// Handler for any event: the event name, its arguments and the ack.
using AnyHandler = std::function<void(const std::string& event, Args& args, Ack ack)>;
/// Receives the client's ack arguments, or an error (errc::timeout-like: std::errc::timed_out, or
/// "disconnected") when none arrives.
using AckCallback = std::function<void(std::error_code error, Args args)>;

/// A cheap, copyable handle on a socket.
///
/// Thread-safety: every member may be called from any thread; calls off the server's thread are
/// posted to it and take effect in call order. Handlers run on the server's thread. Accessors
/// marked "exact on the server's thread" return a possibly stale view elsewhere.
class Socket {
 public:
  Socket() = default;
  explicit Socket(std::shared_ptr<detail::SocketImpl> impl) noexcept;

  /// Socket id (also its own room); distinct from the Engine.IO session id.
  const std::string& id() const noexcept;
  /// The namespace name.
  const std::string& nsp() const noexcept;
  /// The handshake request of the underlying connection (headers, query, address, time).
  const RequestInfo& request() const noexcept;
  /// The auth payload the client sent with CONNECT (an empty object when none).
  const Value& auth() const noexcept;
  /// False once disconnected. Exact on the server's thread.
  bool connected() const noexcept;

  /// Sets the handler of `event` (replacing any previous one).
  void on(std::string event, EventHandler handler) const;
  /// Sets a handler called for every event before its own handler.
  void on_any(AnyHandler handler) const;
  /// Sets the handler called once on disconnect, with the reason.
  void on_disconnect(std::function<void(DisconnectReason)> handler) const;

  /// Emits `event` with `args` to this client.
  void emit_args(std::string_view event, Args args) const;
  /// Emits `event` with the given values: `socket.emit("news", 1, "two")`.
  template <class... A>
  void emit(std::string_view event, A&&... a) const {
    emit_args(event, Args{Value(std::forward<A>(a))...});
  }
  /// Emits `event` and calls `callback` with the client's ack, or with std::errc::timed_out after
  /// `timeout` (zero: wait as long as the socket lives), or with std::errc::not_connected if the
  /// socket disconnects first.
  void emit_with_ack(std::string_view event, Args args, AckCallback callback,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) const;

  /// Joins a room. Beyond ServerOptions::max_rooms_per_socket the join is refused (and logged).
  void join(std::string room) const;
  /// Joins a room, then calls `done` on the server's thread with the outcome: empty, or
  /// errc::too_many_rooms (max_rooms_per_socket reached), or errc::closed (socket disconnected).
  void join(std::string room, std::function<void(std::error_code)> done) const;
  /// Leaves a room.
  void leave(std::string room) const;
  /// Rooms the socket is in (including its own). From another thread it waits for the server's
  /// thread to answer (so never call it from a thread the server's thread is waiting on).
  std::vector<std::string> rooms() const;

  /// Broadcast to `room`, excluding this socket (socket.to(room) in Node).
  Room to(std::string room) const;
  /// Broadcast to the whole namespace except this socket (socket.broadcast in Node).
  Room broadcast() const;

  /// Disconnects from the namespace ("server namespace disconnect"); with `close`, also closes the
  /// underlying connection and so every namespace on it.
  void disconnect(bool close = false) const;

  /// Host state for this socket; use it on the server's thread only.
  std::any& data() const;
  /// Data shown to the cluster in fetch_sockets results. Server's thread only.
  void set_shared_data(Value value) const;

  explicit operator bool() const noexcept { return static_cast<bool>(impl_); }
  friend bool operator==(const Socket& a, const Socket& b) noexcept { return a.impl_ == b.impl_; }

  /// The implementation; used by courier itself.
  const std::shared_ptr<detail::SocketImpl>& impl() const noexcept { return impl_; }

 private:
  std::shared_ptr<detail::SocketImpl> impl_;
};

}  // namespace courier
