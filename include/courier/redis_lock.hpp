#pragma once
/// @file redis_lock.hpp
/// The courier::Lock service across a cluster through one Redis. Target courier::redis.
///
/// try_lock is one Lua script: if the key is free, INCR the fence counter and SET the key to
/// "<owner>:<fence>" with PX ttl. extend is compare-and-PEXPIRE and unlock compare-and-DEL (both
/// scripts), so only the token that holds a key can renew or release it. Fences come from one
/// counter per prefix: they grow globally across all keys of the prefix (hence per key too) and
/// never repeat while Redis keeps its data (a Redis restart without persistence resets them: use
/// persistence, or a new prefix, if a protected resource outlives Redis's data).
///
/// Safety holds while Redis is the single source of truth: a failover to a replica that had not
/// received the last writes can grant a lock twice (Redlock's caveat); the fence still lets the
/// protected resource refuse the stale holder.
///
/// Redis layout: `{prefix}:k:<key>` (lock), `{prefix}:fence` (counter); one hash tag, so on a Redis
/// Cluster all of them live on one slot. `url` may name any node of a cluster: a call answered
/// `MOVED` is sent again to the master named (the connection moves there), at most 5 times, then it
/// fails with errc::cluster_error (logged). A call answered `ASK` or `TRYAGAIN` (the slot is being
/// migrated) fails with errc::cluster_error: `ASKING` is not used; try again once the migration
/// ended. When the node it was redirected to is lost, the connection tries the node `url` names and
/// that node again in turn, so after a failover it finds the new owner through `url`'s node.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <asio/io_context.hpp>

#include <courier/lock.hpp>
#include <courier/log.hpp>

namespace courier {

/// Settings of a RedisLock; an aggregate. Instances sharing locks use the same url and prefix.
struct RedisLockOptions {
  /// redis://[user:pass@]host:port[/db]; a local Redis by default.
  std::string url = "redis://127.0.0.1:6379";
  /// Namespace of the Redis keys; they become `{<prefix>}:...`.
  std::string prefix = "courier:lock";
  /// How long a call made while Redis is not connected (at start-up, or during a reconnect) waits
  /// for the connection before failing with errc::cluster_unavailable. 2 s: rides over a
  /// reconnect (backoff is capped at 0.5 s) without leaving a caller hanging through an outage.
  std::chrono::milliseconds connect_wait{2000};
  /// Most calls that may wait for the connection; further calls fail at once with
  /// errc::cluster_unavailable. 10,000 bounds memory during an outage.
  std::size_t max_waiting = 10000;
  /// Where connection problems and refused commands are reported.
  Logger logger;
};

namespace detail {
class RedisLockImpl;
}

/// A Lock shared by every instance using the same Redis and prefix. Owns one Redis connection
/// driven by the given io_context: no thread of its own.
///
/// Errors: errc::lock_busy (try_lock: held by another owner), errc::lock_not_held (extend/unlock:
/// the lease ended or the key has another owner), errc::cluster_unavailable (no connection within
/// connect_wait, or the connection broke with the call in flight: its outcome is then unknown —
/// a try_lock may have succeeded and will expire after its ttl), errc::cluster_error (Redis refused
/// the script, or a Redis Cluster kept redirecting it: see above).
///
/// Thread-safety: every member is safe from any thread (work is posted to the io_context, which
/// must be run by one thread); callbacks run on that thread, never inside the call itself.
/// Destroying it (or close()) fails the calls still waiting or in flight with
/// errc::cluster_unavailable (on the io_context's thread); locks held in Redis expire after their ttl.
class RedisLock final : public Lock {
 public:
  /// Connects (asynchronously) on `io`. Throws std::invalid_argument on a malformed options.url.
  RedisLock(asio::io_context& io, RedisLockOptions options);
  ~RedisLock() override;
  RedisLock(const RedisLock&) = delete;
  RedisLock& operator=(const RedisLock&) = delete;

  void try_lock(std::string key, std::chrono::milliseconds ttl, LockCallback callback) override;
  void extend(const LockToken& token, std::chrono::milliseconds ttl, DoneCallback callback) override;
  void unlock(const LockToken& token, DoneCallback callback = {}) override;

  /// True when connected to Redis.
  bool connected() const;
  /// Closes the connection; later calls fail with errc::cluster_unavailable.
  void close();

 private:
  std::shared_ptr<detail::RedisLockImpl> impl_;
};

}  // namespace courier
