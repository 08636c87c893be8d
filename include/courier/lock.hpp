#pragma once
/// @file lock.hpp
/// Leased locks with fencing numbers, for guarding a session's state transitions. LocalLock serves
/// one process; RedisLock (courier/redis_lock.hpp, target courier::redis) serves a cluster through
/// the same interface.
///
/// A lock is a lease: it ends by itself after its ttl unless extended, so a crashed holder cannot
/// block the others forever. That also means a holder that stalls past its ttl may still believe
/// it holds the lock while another owner already does. The fencing number is the defence: every
/// successful try_lock gets a number larger than every number handed out before it, and a
/// protected resource that remembers the largest fence it has accepted and refuses smaller ones
/// never accepts a stale holder's write after a newer holder's.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include <asio/io_context.hpp>

namespace courier {

/// Proof of holding a lock, handed out by try_lock. A value type: copy it freely.
struct LockToken {
  std::string key;          ///< the key that was locked
  std::string owner;        ///< opaque, unique per acquisition; what extend/unlock compare
  std::uint64_t fence = 0;  ///< fencing number: > every fence handed out before by the same service; 0 = no lock

  /// True for a token that was granted (fence is never 0 then).
  explicit operator bool() const noexcept { return fence != 0; }
};

/// A lock service: asynchronous try_lock / extend / unlock on string keys.
///
/// Callbacks never run inside the call that was given them (always later, on the service's
/// io_context), so a callback may call the service again without re-entrancy surprises.
///
/// Thread-safety: implementations document theirs; LocalLock and RedisLock are safe from any thread.
class Lock {
 public:
  /// Receives the outcome of try_lock: no error and a token whose fence is > 0; or
  /// errc::lock_busy (someone else holds it: the token is empty); or a transport error
  /// (errc::cluster_unavailable, errc::cluster_error) from a cluster implementation.
  using LockCallback = std::function<void(std::error_code, LockToken)>;
  /// Receives the outcome of extend/unlock: no error, errc::lock_not_held (the token's lease
  /// ended: it expired, was released, or another owner took the key), or a transport error.
  using DoneCallback = std::function<void(std::error_code)>;

  virtual ~Lock() = default;
  /// Takes `key` for `ttl` if nobody holds it; never waits for a holder to release (retry, or
  /// schedule a timer, if you need to wait). A ttl below 1 ms counts as 1 ms.
  virtual void try_lock(std::string key, std::chrono::milliseconds ttl, LockCallback callback) = 0;
  /// Renews the lease of `token` to end `ttl` from now, if it still holds its key. The fence
  /// does not change.
  virtual void extend(const LockToken& token, std::chrono::milliseconds ttl, DoneCallback callback) = 0;
  /// Releases `token`'s key if (and only if) the token still holds it: compare-and-delete, so a
  /// holder whose lease expired never releases a newer holder's lock.
  virtual void unlock(const LockToken& token, DoneCallback callback = {}) = 0;
};

namespace detail {
class LocalLockImpl;
}

/// A Lock for one process on an io_context. Fences grow globally across all keys of one LocalLock
/// (hence per key too), starting at 1. Leases use the steady clock; an expired entry is freed by a
/// single Asio timer armed for the earliest expiry, so memory is bounded by the live locks.
///
/// Thread-safety: every member is safe from any thread (calls are posted to the io_context, which
/// must be run by one thread); callbacks run on that thread. Destroying the LocalLock releases
/// every lock; callbacks of calls still queued then are not called.
class LocalLock final : public Lock {
 public:
  explicit LocalLock(asio::io_context& io);
  ~LocalLock() override;
  LocalLock(const LocalLock&) = delete;
  LocalLock& operator=(const LocalLock&) = delete;

  void try_lock(std::string key, std::chrono::milliseconds ttl, LockCallback callback) override;
  void extend(const LockToken& token, std::chrono::milliseconds ttl, DoneCallback callback) override;
  void unlock(const LockToken& token, DoneCallback callback = {}) override;

  /// Locks currently held (not yet expired or released). Exact on the io_context's thread.
  std::size_t held() const noexcept;

 private:
  std::shared_ptr<detail::LocalLockImpl> impl_;
};

}  // namespace courier
