#pragma once
/// @file room.hpp
/// Broadcast operators: who gets an emit (rooms, exceptions) and how (local, volatile, timeout).

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <courier/adapter.hpp>
#include <courier/value.hpp>

namespace courier {

namespace detail {
class NamespaceImpl;
}

/// An immutable description of a broadcast target; each modifier returns a new Room.
/// `io.of("/chat").to("room1").except("muted").emit("news", data)`.
///
/// Thread-safety: a Room is a value; its operations may be called from any thread (posted to the
/// server's thread). Callbacks run on the server's thread.
class Room {
 public:
  Room(std::shared_ptr<detail::NamespaceImpl> nsp, BroadcastOptions opts);

  /// Adds a target room (sockets in any of the rooms get the emit).
  Room to(std::string room) const;
  /// Same as to().
  Room in(std::string room) const { return to(std::move(room)); }
  /// Excludes sockets in `room`.
  Room except(std::string room) const;
  /// Only sockets of this instance (no cluster fan-out).
  Room local() const;
  /// Allows dropping the packet for clients that cannot take it now.
  Room volatile_() const;
  /// Sets the wait for acks of emit_with_ack.
  Room timeout(std::chrono::milliseconds timeout) const;

  /// Emits to every target.
  void emit_args(std::string_view event, Args args) const;
  /// Emits the given values to every target.
  template <class... A>
  void emit(std::string_view event, A&&... a) const {
    emit_args(event, Args{Value(std::forward<A>(a))...});
  }
  /// Emits and gathers every target's ack (the first argument of each); the callback runs once,
  /// when all answered, or at the timeout with std::errc::timed_out and what arrived.
  void emit_with_ack(std::string_view event, Args args,
                     std::function<void(std::error_code, std::vector<Value>)> callback) const;

  /// Describes the target sockets (across the cluster with a remote adapter).
  void fetch_sockets(std::function<void(std::vector<SocketInfo>, std::error_code)> callback) const;
  /// Makes the target sockets join `room` (on every server of the cluster with a remote adapter,
  /// unless local()). ServerOptions::max_rooms_per_socket holds as for Socket::join: a target
  /// socket already at the limit and not in `room` stays out of it, the refusal is logged (warn,
  /// with the socket id and the room) and counted in Metrics::rooms_refused; the other target
  /// sockets join. Nothing reports the refusals to the caller: the call is posted, not awaited.
  /// Thread-safety: any thread, like every Room operation (runs on the server's thread).
  void sockets_join(std::string room) const;
  /// Makes the target sockets leave `room`.
  void sockets_leave(std::string room) const;
  /// Disconnects the target sockets.
  void disconnect_sockets(bool close = false) const;

  /// The targeting this Room describes.
  const BroadcastOptions& options() const noexcept { return opts_; }

 private:
  std::shared_ptr<detail::NamespaceImpl> nsp_;
  BroadcastOptions opts_;
};

}  // namespace courier
