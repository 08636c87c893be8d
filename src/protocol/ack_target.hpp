#pragma once
// What an Ack sends to: the state behind the public courier::Ack handle.

#include <atomic>
#include <cstddef>
#include <iterator>

#include <courier/value.hpp>

namespace courier::detail {

/// One pending ack. The first claim() wins, so an Ack copied to several threads sends once.
class AckTarget {
 public:
  virtual ~AckTarget() = default;
  /// True for the first caller only.
  bool claim() noexcept { return !used_.exchange(true, std::memory_order_acq_rel); }
  bool used() const noexcept { return used_.load(std::memory_order_acquire); }
  /// Sends the ack (called once, after a successful claim()).
  virtual void send(Args args) = 0;
  /// As send(), from values the caller owns for the call's duration (they may be moved from).
  virtual void send_values(Value* values, std::size_t count) {
    send(Args(std::make_move_iterator(values), std::make_move_iterator(values + count)));
  }

 protected:
  /// Makes a claimed target claimable again: only for its owner, when no handle to it is left.
  void rearm() noexcept { used_.store(false, std::memory_order_relaxed); }

 private:
  std::atomic<bool> used_{false};
};

}  // namespace courier::detail
