// LocalLock: a key -> holder map plus an expiry index (ordered set) swept by one Asio timer armed
// for the earliest expiry, so expired leases free their memory without being touched again.
#include <courier/error.hpp>
#include <courier/lock.hpp>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <set>
#include <unordered_map>
#include <utility>

#include "common/random_id.hpp"

namespace courier::detail {

class LocalLockImpl : public std::enable_shared_from_this<LocalLockImpl> {
 public:
  using Steady = std::chrono::steady_clock;

  explicit LocalLockImpl(asio::io_context& io) : io_(io), timer_(io) {}

  bool io_stopped_or_here() const { return io_.stopped() || io_.get_executor().running_in_this_thread(); }

  template <class F>
  void run(F&& f) {
    if (io_.get_executor().running_in_this_thread()) {
      f();
    } else {
      asio::post(io_, std::forward<F>(f));
    }
  }

  void try_lock(std::string key, std::chrono::milliseconds ttl, Lock::LockCallback cb) {
    if (closed_) return;
    const auto now = Steady::now();
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.expires <= now) {
      // Expired but not swept yet: the lease is over, the key is free.
      expiries_.erase({it->second.expires, &it->first});
      entries_.erase(it);
      it = entries_.end();
    }
    if (it != entries_.end()) {
      reply(std::move(cb), make_error_code(errc::lock_busy), LockToken{});
      return;
    }
    auto [pos, inserted] = entries_.try_emplace(std::move(key));
    (void)inserted;
    Entry& e = pos->second;
    e.owner = random_id();
    e.fence = ++fence_;
    e.expires = now + clamp(ttl);
    expiries_.insert({e.expires, &pos->first});
    arm();
    reply(std::move(cb), {}, LockToken{pos->first, e.owner, e.fence});
  }

  void extend(const LockToken& token, std::chrono::milliseconds ttl, Lock::DoneCallback cb) {
    if (closed_) return;
    Entry* e = holder(token);
    if (!e) {
      done(std::move(cb), make_error_code(errc::lock_not_held));
      return;
    }
    auto it = entries_.find(token.key);
    expiries_.erase({e->expires, &it->first});
    e->expires = Steady::now() + clamp(ttl);
    expiries_.insert({e->expires, &it->first});
    arm();
    done(std::move(cb), {});
  }

  void unlock(const LockToken& token, Lock::DoneCallback cb) {
    if (closed_) return;
    Entry* e = holder(token);
    if (!e) {
      done(std::move(cb), make_error_code(errc::lock_not_held));
      return;
    }
    auto it = entries_.find(token.key);
    expiries_.erase({e->expires, &it->first});
    entries_.erase(it);
    arm();
    done(std::move(cb), {});
  }

  std::size_t held() const noexcept {
    const auto now = Steady::now();
    // The expiry index is ordered: count the leases that end after now (not yet swept ones do not).
    return static_cast<std::size_t>(
        std::distance(expiries_.lower_bound({now + Steady::duration(1), nullptr}), expiries_.end()));
  }

  /// From any thread: calls and callbacks that run after this do nothing.
  void close_soon() noexcept { closed_ = true; }
  void shutdown() {
    closed_ = true;
    entries_.clear();
    expiries_.clear();
    timer_.cancel();
  }

 private:
  struct Entry {
    std::string owner;
    std::uint64_t fence = 0;
    Steady::time_point expires{};
  };
  // Keys point into the map's nodes (stable until erased), so the index stores no copies.
  using Expiry = std::pair<Steady::time_point, const std::string*>;
  struct ExpiryLess {
    bool operator()(const Expiry& a, const Expiry& b) const noexcept {
      if (a.first != b.first) return a.first < b.first;
      return std::less<const std::string*>()(a.second, b.second);
    }
  };

  static Steady::duration clamp(std::chrono::milliseconds ttl) {
    // A ttl below 1 ms counts as 1 ms (documented); longer than a century is a century, so the
    // time point cannot overflow.
    constexpr std::chrono::hours kMax(24 * 365 * 100);
    if (ttl < std::chrono::milliseconds(1)) return std::chrono::milliseconds(1);
    if (ttl > kMax) return kMax;
    return ttl;
  }

  Entry* holder(const LockToken& token) {
    auto it = entries_.find(token.key);
    if (it == entries_.end()) return nullptr;
    Entry& e = it->second;
    if (e.expires <= Steady::now() || e.owner != token.owner || e.fence != token.fence) return nullptr;
    return &e;
  }

  // Callbacks are posted (never run inside the call) and dropped if the LocalLock died meanwhile.
  void reply(Lock::LockCallback cb, std::error_code ec, LockToken token) {
    if (!cb) return;
    asio::post(io_, [self = shared_from_this(), cb = std::move(cb), ec, token = std::move(token)] {
      if (!self->closed_) cb(ec, token);
    });
  }
  void done(Lock::DoneCallback cb, std::error_code ec) {
    if (!cb) return;
    asio::post(io_, [self = shared_from_this(), cb = std::move(cb), ec] {
      if (!self->closed_) cb(ec);
    });
  }

  void arm() {
    if (expiries_.empty()) {
      if (armed_) timer_.cancel();
      armed_ = false;
      return;
    }
    const auto first = expiries_.begin()->first;
    if (armed_ && armed_for_ <= first) return;  // an earlier wake-up re-arms for the rest
    armed_ = true;
    armed_for_ = first;
    timer_.expires_at(first);
    timer_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->sweep();
    });
  }

  void sweep() {
    armed_ = false;
    if (closed_) return;
    const auto now = Steady::now();
    while (!expiries_.empty() && expiries_.begin()->first <= now) {
      const std::string* key = expiries_.begin()->second;
      expiries_.erase(expiries_.begin());
      entries_.erase(*key);
    }
    arm();
  }

  asio::io_context& io_;
  asio::steady_timer timer_;
  bool armed_ = false;
  Steady::time_point armed_for_{};
  std::unordered_map<std::string, Entry> entries_;
  std::set<Expiry, ExpiryLess> expiries_;
  std::uint64_t fence_ = 0;
  std::atomic<bool> closed_{false};  // set by the destructor's thread, read on the io_context's
};

}  // namespace courier::detail

namespace courier {

LocalLock::LocalLock(asio::io_context& io) : impl_(std::make_shared<detail::LocalLockImpl>(io)) {}

LocalLock::~LocalLock() {
  impl_->close_soon();
  if (impl_->io_stopped_or_here()) {
    impl_->shutdown();
  } else {
    impl_->run([impl = impl_] { impl->shutdown(); });
  }
}

void LocalLock::try_lock(std::string key, std::chrono::milliseconds ttl, LockCallback callback) {
  impl_->run([impl = impl_, k = std::move(key), ttl, cb = std::move(callback)]() mutable {
    impl->try_lock(std::move(k), ttl, std::move(cb));
  });
}

void LocalLock::extend(const LockToken& token, std::chrono::milliseconds ttl, DoneCallback callback) {
  impl_->run([impl = impl_, t = token, ttl, cb = std::move(callback)]() mutable { impl->extend(t, ttl, std::move(cb)); });
}

void LocalLock::unlock(const LockToken& token, DoneCallback callback) {
  impl_->run([impl = impl_, t = token, cb = std::move(callback)]() mutable { impl->unlock(t, std::move(cb)); });
}

std::size_t LocalLock::held() const noexcept { return impl_->held(); }

}  // namespace courier
