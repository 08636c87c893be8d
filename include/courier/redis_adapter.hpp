#pragma once
/// @file redis_adapter.hpp
/// Rooms and broadcasts across instances through Redis, wire-compatible with Node's
/// `@socket.io/redis-adapter` 8.x (classic pub/sub), so courier and Node servers can form one cluster.
/// Target courier::redis.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <asio/io_context.hpp>

#include <courier/adapter.hpp>
#include <courier/log.hpp>

namespace courier {

/// Settings of the Redis adapter; an aggregate.
struct RedisAdapterOptions {
  /// redis://[user:pass@]host:port[/db]; a local Redis by default.
  std::string url = "redis://127.0.0.1:6379";
  /// Channel prefix; "socket.io" as Node's adapter, so both kinds of server meet on the same channels.
  std::string key = "socket.io";
  /// How long cluster requests (fetch_sockets, server_side_emit with ack, ...) wait for every
  /// server; Node's 5 s.
  std::chrono::milliseconds request_timeout{5000};
  /// Answer requests on the requester's own response channel instead of the shared one; off as in
  /// Node 8.x (both sides listen on both). Classic mode only.
  bool publish_on_specific_response_channel = false;
  /// Sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7), as Node's createShardedAdapter: scales with a
  /// Redis Cluster because each channel lives on one shard. Off: classic pub/sub, Node's default.
  bool sharded = false;
  /// Which channels the sharded adapter subscribes to.
  enum class SubscriptionMode {
    static_,          ///< two channels per namespace (suits many dynamic namespaces)
    dynamic,          ///< plus one per public room: servers hear only rooms they have members in
    dynamic_private,  ///< plus one per socket's own room too (much 1:1 traffic)
  };
  /// Node's default, "dynamic".
  SubscriptionMode subscription_mode = SubscriptionMode::dynamic;
  /// Where connection losses, lost publishes and malformed messages are reported.
  Logger logger;
};

/// Counters of one RedisAdapter factory (all namespaces). Read them on the server's thread.
struct RedisAdapterStats {
  std::uint64_t published = 0;         ///< messages published to Redis
  std::uint64_t lost_publishes = 0;    ///< publishes dropped because Redis was not connected
  std::uint64_t received = 0;          ///< messages received from other servers
  std::uint64_t malformed = 0;         ///< messages that could not be decoded (ignored)
  std::uint64_t reconnects = 0;        ///< reconnections of either Redis connection
};

namespace detail {
class RedisShared;
class ShardedShared;
}

/// Makes RedisAdapters for a Server. Owns two Redis connections (publish, subscribe) shared by all
/// namespaces, driven by the server's io_context: no thread of its own. While Redis is away, local
/// delivery goes on, remote publishes are dropped and counted (never buffered), and requests fail
/// fast; the connections come back with capped exponential backoff and resubscribe.
///
/// Thread-safety: create it before the server runs; `factory()` is for ServerOptions::adapter;
/// `stats()` on the server's thread.
class RedisAdapterFactory {
 public:
  RedisAdapterFactory(asio::io_context& io, RedisAdapterOptions options);
  ~RedisAdapterFactory();
  RedisAdapterFactory(const RedisAdapterFactory&) = delete;
  RedisAdapterFactory& operator=(const RedisAdapterFactory&) = delete;

  /// The factory for ServerOptions::adapter. It keeps the connections alive.
  AdapterFactory factory() const;
  /// Counters so far.
  RedisAdapterStats stats() const;
  /// True when both connections are up.
  bool connected() const;
  /// Closes both connections (adapters then work locally only).
  void close();

 private:
  std::shared_ptr<detail::RedisShared> shared_;
  std::shared_ptr<detail::ShardedShared> sharded_;
};

}  // namespace courier
