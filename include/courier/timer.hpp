#pragma once
/// @file timer.hpp
/// Keyed timers: schedule, cancel and replace by key. The local implementation serves one process;
/// a cluster-safe implementation over Redis shares this interface.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <asio/io_context.hpp>

namespace courier {

/// What a firing timer hands its handler.
struct TimerEvent {
  std::string_view key;      ///< the key it was scheduled under
  std::string_view payload;  ///< the payload given to schedule()
  std::uint32_t attempt;     ///< 1 on the first delivery; more when a cluster timer is re-delivered
  std::uint64_t fence;       ///< grows with every delivery; guards work done on behalf of the timer
};

/// Keyed timers. Scheduling a key that is pending replaces it.
///
/// Thread-safety: implementations document theirs; LocalTimer's members are safe from any thread.
class Timer {
 public:
  using Clock = std::chrono::system_clock;
  virtual ~Timer() = default;
  /// Schedules (or replaces) timer `key` to fire at `deadline` with `payload`.
  virtual void schedule(std::string key, Clock::time_point deadline, std::string payload = {}) = 0;
  /// Cancels timer `key`; does nothing if it is not pending.
  virtual void cancel(std::string key) = 0;
  /// Sets the handler that fired timers are delivered to (on the timer's executor).
  virtual void on_fire(std::function<void(const TimerEvent&)> handler) = 0;
};

namespace detail {
class LocalTimerImpl;
}

/// A Timer for one process on an io_context: a binary heap under a key index, with one Asio timer
/// armed for the earliest deadline, so a million pending timers cost about 150 bytes each and no
/// system resources. Deadlines use the steady clock internally (wall-clock jumps do not matter).
///
/// Thread-safety: every member is safe from any thread (calls are posted to the io_context, which
/// must be run by one thread); handlers run on that thread. Fires in deadline order; a timer
/// cancelled or replaced before it fires never fires.
class LocalTimer final : public Timer {
 public:
  explicit LocalTimer(asio::io_context& io);
  ~LocalTimer() override;
  LocalTimer(const LocalTimer&) = delete;
  LocalTimer& operator=(const LocalTimer&) = delete;

  void schedule(std::string key, Clock::time_point deadline, std::string payload = {}) override;
  void cancel(std::string key) override;
  void on_fire(std::function<void(const TimerEvent&)> handler) override;

  /// Schedules (or replaces) `key` with its own callback instead of the on_fire handler.
  void schedule_in(std::string key, std::chrono::steady_clock::duration delay, std::function<void()> callback);
  /// Pending timers. Exact on the io_context's thread.
  std::size_t pending() const noexcept;

 private:
  std::shared_ptr<detail::LocalTimerImpl> impl_;
};

}  // namespace courier
