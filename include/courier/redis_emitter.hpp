#pragma once
/// @file redis_emitter.hpp
/// Emit to the rooms of a courier/Node Socket.IO cluster from a process that serves no clients,
/// compatible with Node's `@socket.io/redis-emitter`. Target courier::redis.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <asio/io_context.hpp>

#include <courier/log.hpp>
#include <courier/value.hpp>

namespace courier {

/// Settings of a RedisEmitter; an aggregate.
struct RedisEmitterOptions {
  /// redis://[user:pass@]host:port[/db] of the cluster's Redis.
  std::string url = "redis://127.0.0.1:6379";
  /// Channel prefix; must match the servers' adapter key ("socket.io" by default on both sides).
  std::string key = "socket.io";
  /// Messages kept while Redis is not connected yet (or reconnecting); beyond it they are dropped
  /// and counted. 10,000 covers a burst at start-up without letting an outage grow memory.
  std::size_t max_pending = 10000;
  /// Where connection problems and drops are reported.
  Logger logger;
};

namespace detail {
class EmitterShared;
}

/// A broadcast target of an emitter: namespace, rooms, exceptions, flags. Immutable; each modifier
/// returns a new one. Thread-safety: any thread (work is posted to the emitter's io_context).
class EmitterTarget {
 public:
  EmitterTarget(std::shared_ptr<detail::EmitterShared> shared, std::string nsp);

  /// Adds a target room.
  EmitterTarget to(std::string room) const;
  /// Same as to().
  EmitterTarget in(std::string room) const { return to(std::move(room)); }
  /// Excludes sockets in `room`.
  EmitterTarget except(std::string room) const;
  /// May be dropped for clients that cannot take it now.
  EmitterTarget volatile_() const;

  /// Emits `event` with `args` to the targets on every server.
  void emit_args(std::string_view event, Args args) const;
  template <class... A>
  void emit(std::string_view event, A&&... a) const {
    emit_args(event, Args{Value(std::forward<A>(a))...});
  }
  /// Makes the target sockets join `room`, on every server.
  void sockets_join(std::string room) const;
  /// Makes the target sockets leave `room`, on every server.
  void sockets_leave(std::string room) const;
  /// Disconnects the target sockets, on every server.
  void disconnect_sockets(bool close = false) const;
  /// Sends a server-side emit to the namespace on every server (no ack: an emitter is not a server).
  void server_side_emit_args(std::string_view event, Args args) const;

 private:
  std::shared_ptr<detail::EmitterShared> shared_;
  std::string nsp_;
  std::vector<std::string> rooms_;
  std::vector<std::string> except_;
  bool volatile_flag_ = false;
};

/// Counters of an emitter.
struct RedisEmitterStats {
  std::uint64_t published = 0;  ///< messages handed to Redis
  std::uint64_t dropped = 0;    ///< messages dropped (more than max_pending while disconnected)
};

/// Publishes to a cluster's Redis. One Redis connection owned by Asio on the given io_context.
///
/// Thread-safety: all members are safe from any thread; the io_context must be run (one thread).
class RedisEmitter {
 public:
  RedisEmitter(asio::io_context& io, RedisEmitterOptions options);
  ~RedisEmitter();
  RedisEmitter(const RedisEmitter&) = delete;
  RedisEmitter& operator=(const RedisEmitter&) = delete;

  /// Targets namespace `nsp` ("/" for the main one).
  EmitterTarget of(std::string nsp) const;
  /// Shortcuts on "/".
  EmitterTarget to(std::string room) const { return of("/").to(std::move(room)); }
  template <class... A>
  void emit(std::string_view event, A&&... a) const {
    of("/").emit(event, std::forward<A>(a)...);
  }
  /// True when connected to Redis.
  bool connected() const;
  /// Messages not yet published (waiting for the connection). Exact on the io_context's thread.
  std::size_t pending() const;
  /// Counters. Exact on the io_context's thread.
  RedisEmitterStats stats() const;
  /// Closes the connection (pending messages are dropped and counted).
  void close();

 private:
  std::shared_ptr<detail::EmitterShared> shared_;
};

}  // namespace courier
