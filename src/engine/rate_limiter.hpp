#pragma once
// Token buckets: one for a socket's events, a bounded table of them for handshakes per address.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>

namespace courier::detail {

/// Allows `rate` actions per second sustained and `burst` at once. rate 0 = unlimited.
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  TokenBucket() = default;
  TokenBucket(double rate, double burst, Clock::time_point now) : rate_(rate), burst_(burst), tokens_(burst), last_(now) {}

  /// False for a bucket without a rate (no limit): callers then need not read the clock at all.
  bool limited() const noexcept { return rate_ > 0; }
  /// Takes one token if there is one.
  bool take(Clock::time_point now) noexcept {
    if (rate_ <= 0) return true;
    refill(now);
    if (tokens_ < 1.0 - 1e-9) return false;  // tolerance: refills are sums of float products
    tokens_ -= 1.0;
    return true;
  }
  /// True when the bucket would be full at `now` (the owner has been idle long enough to forget).
  bool full(Clock::time_point now) noexcept {
    refill(now);
    return tokens_ >= burst_;
  }

 private:
  void refill(Clock::time_point now) noexcept {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    if (elapsed > 0) tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  }
  double rate_ = 0;
  double burst_ = 0;
  double tokens_ = 0;
  Clock::time_point last_{};
};

/// One TokenBucket per key (remote address), at most `max_keys` of them.
class KeyedRateLimiter {
 public:
  using Clock = TokenBucket::Clock;
  KeyedRateLimiter(double rate, std::size_t burst, std::size_t max_keys)
      : rate_(rate), burst_(burst == 0 ? 1 : static_cast<double>(burst)), max_keys_(max_keys == 0 ? 1 : max_keys) {}

  bool enabled() const noexcept { return rate_ > 0; }
  std::size_t size() const noexcept { return buckets_.size(); }

  /// Takes a token for `key`; false when it has none left.
  bool take(const std::string& key, Clock::time_point now = Clock::now()) {
    if (!enabled()) return true;
    auto it = buckets_.find(key);
    if (it == buckets_.end()) {
      if (buckets_.size() >= max_keys_) make_room(now);
      it = buckets_.emplace(key, TokenBucket(rate_, burst_, now)).first;
    }
    return it->second.take(now);
  }

 private:
  void make_room(Clock::time_point now) {
    // Idle addresses (full buckets) carry no information: forget them all. If every address is
    // active (a storm from more addresses than the table holds), forget an arbitrary one: memory
    // stays bounded, and that address merely starts again with a full burst. The sweep is O(n),
    // so it runs at most once a second.
    if (now - last_sweep_ >= std::chrono::seconds(1)) {
      last_sweep_ = now;
      sweep(now);
    }
    if (buckets_.size() >= max_keys_) buckets_.erase(buckets_.begin());
  }

  void sweep(Clock::time_point now) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      if (it->second.full(now))
        it = buckets_.erase(it);
      else
        ++it;
    }
  }

  double rate_;
  double burst_;
  std::size_t max_keys_;
  Clock::time_point last_sweep_{};
  std::unordered_map<std::string, TokenBucket> buckets_;
};

}  // namespace courier::detail
