#pragma once
/// @file redis_timer.hpp
/// Cluster-safe keyed timers through Redis: the courier::Timer interface, where a due timer fires on
/// exactly one instance of the cluster and a timer whose instance died mid-fire is fired again by a
/// survivor. Target courier::redis.
///
/// ## Guarantee (read this before relying on it)
/// - **At least once.** A scheduled timer that is not cancelled or replaced fires, as long as one
///   instance with an on_fire handler runs and Redis keeps its data (a Redis restart without
///   persistence, or a failover that loses writes, loses timers: that is Redis's durability).
/// - **Never concurrently, while handlers finish within the lease.** An instance claims due timers
///   atomically (one Lua script) and holds each under a lease of `RedisTimerOptions::lease`. Only
///   when the lease ends without an acknowledgement (the instance died, hung, or lost Redis) may
///   another instance claim it again. A handler that runs longer than the lease can therefore
///   overlap with the re-delivery: guard its side effects with `TimerEvent::fence`.
/// - **Exactly once while no instance dies mid-handler.** The acknowledgement is sent when the
///   handler returns. An instance that dies (or loses Redis for longer than the lease) after
///   claiming and before acknowledging causes a re-delivery to a survivor, after the lease ends,
///   with `attempt` + 1 and a larger fence. Such a timer may have fired fully, partly or not at
///   all on the dead instance.
/// - **Fences only grow:** every claim takes the next value of one Redis counter (INCR), so a
///   re-delivery carries a larger fence than any earlier delivery of any timer of the same
///   prefix, and a resource that refuses fences smaller than the largest it has seen refuses the
///   late writes of a stale handler.
/// - **Replace and cancel are atomic** across instances (Lua scripts), including against a fire in
///   progress: the acknowledgement of a delivery deletes the timer only if it was not replaced
///   meanwhile (it compares the claim's fence), so a newer schedule of the key is never lost. A
///   handler already running is not interrupted by a cancel or replace (it may still run to its
///   end), and a cancel that reaches Redis after the claim cannot stop that delivery.
/// - **Time** is Redis's: due times and leases are compared with `TIME` inside the scripts. Each
///   instance measures the offset between its clock and Redis's (TIME round trips at each connect
///   and each safety poll, keeping the one with the shortest round trip, rounded so that a timer
///   fires late by up to that round trip rather than early) and sends deadlines in Redis's clock.
///   So clock skew between instances changes neither which instance fires nor when (a deadline
///   means "this long from now" on the instance that set it), and a burst of schedules waiting in
///   the pipeline is not pushed back by its time in the queue.
///   Lateness: a new earliest timer is PUBLISHed on a wake channel and every instance arms one Asio
///   timer for the next deadline it knows; expired leases are found by a slow safety poll
///   (`safety_poll`), so a re-delivery is late by up to lease + safety_poll.
///
/// ## While Redis is away
/// schedule/cancel are not lost: they are queued in memory (the last operation per key wins, so
/// the queue holds at most one entry per key) and applied in order once the connection is back;
/// an operation that was in flight when the connection broke is sent again (a schedule sent twice
/// can fire twice when its deadline passed in between: at least once). Beyond `max_queued` keys,
/// further operations are refused: logged, counted (`RedisTimerStats::dropped`) and reported to
/// `RedisTimerOptions::on_error` with errc::cluster_unavailable. Acknowledgements are queued too
/// (they are idempotent), so an outage shorter than the lease does not turn into re-deliveries. No
/// timer fires while Redis is away.
///
/// ## Redis layout (all under one hash tag, so a Redis Cluster keeps them on one slot)
/// `{prefix}:due` (zset key -> due time, µs of Redis's clock), `{prefix}:lease` (zset key -> lease end),
/// `{prefix}:data` (hash key -> generation, attempt, claim fence, payload), `{prefix}:fence`
/// (counter), channel `{prefix}:wake`. Redis 5 or newer (scripts call TIME, which needs effects
/// replication).
///
/// ## Redis Cluster
/// `url` may name any node. The command connection follows `MOVED` replies to the master that owns
/// the slot of `{prefix}`, at start and whenever the slot moves (resharding, failover): the
/// command is sent again there, at most 5 redirections per schedule/cancel (then it is refused:
/// logged, counted and reported to `on_error` with errc::cluster_error) and per safety poll for
/// claims and acknowledgements. While the slot migrates, commands answered `ASK` or `TRYAGAIN` are
/// not sent to the importing node (no `ASKING`): they wait in the queue and go again at the next
/// safety poll, within the same bound of 5. When the node it was redirected to is lost, the
/// connection tries the node `url` names and that node again in turn, so after a failover it
/// finds the new owner through `url`'s node (it does not learn other nodes: if both are down, it
/// waits for one of them). The wake subscription stays on `url`'s node (classic PUBLISH reaches
/// every node of a cluster); while that node is down, timers are found by the safety poll.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include <asio/io_context.hpp>

#include <courier/log.hpp>
#include <courier/timer.hpp>

namespace courier {

/// Settings of a RedisTimer; an aggregate. Every instance of one cluster must use the same
/// `prefix` (and should use the same lease).
struct RedisTimerOptions {
  /// redis://[user:pass@]host:port[/db]; a local Redis by default.
  std::string url = "redis://127.0.0.1:6379";
  /// Namespace of the Redis keys; they become `{<prefix>}:...`. One prefix = one timer space.
  std::string prefix = "courier:timer";
  /// How long a claimed timer belongs to the instance that claimed it before another may fire it
  /// again. 30 s: far above any sane handler, short enough that a crash delays a timeout by
  /// seconds, not minutes. Handlers must return well within it.
  std::chrono::milliseconds lease{30000};
  /// Most due timers one claim takes. 256 keeps one script run under a millisecond while a burst
  /// of due timers is drained in few round trips; other instances claim the rest in parallel.
  std::size_t claim_batch = 256;
  /// Slow poll that finds expired leases of dead instances (and covers a wake message lost while
  /// the subscriber reconnected). 1 s: negligible load, adds at most 1 s to a re-delivery.
  std::chrono::milliseconds safety_poll{1000};
  /// Most keys whose schedule/cancel may wait in memory while Redis is away. 100,000 covers a
  /// long outage of a busy instance (about 100 bytes each) without unbounded growth.
  std::size_t max_queued = 100000;
  /// This instance's name in log records; a random id when empty.
  std::string instance;
  /// Where connection problems, refused commands and dropped operations are reported.
  Logger logger;
  /// Called on the io_context's thread for a schedule/cancel that did not take effect: dropped
  /// because the queue was full (errc::cluster_unavailable) or refused by Redis
  /// (errc::cluster_error). Empty: logged and counted only.
  std::function<void(std::error_code, const std::string& key)> on_error;
};

/// Counters of one RedisTimer instance. Read them on the io_context's thread.
struct RedisTimerStats {
  std::uint64_t scheduled = 0;     ///< schedules applied in Redis by this instance
  std::uint64_t cancelled = 0;     ///< cancels applied in Redis by this instance
  std::uint64_t fired = 0;         ///< deliveries to this instance's handler
  std::uint64_t redelivered = 0;   ///< of which with attempt > 1 (an earlier claim's lease had ended)
  std::uint64_t superseded = 0;    ///< acknowledgements that found the key replaced or cancelled meanwhile
  std::uint64_t claims = 0;        ///< claim scripts run
  std::uint64_t wakes = 0;         ///< wake messages received
  std::uint64_t dropped = 0;       ///< schedules/cancels refused (queue full or Redis error)
  std::uint64_t reconnects = 0;    ///< reconnections of either Redis connection
};

namespace detail {
class RedisTimerImpl;
}

/// A Timer shared by every instance that uses the same Redis and prefix. Owns two Redis
/// connections (commands, wake subscription) driven by the given io_context: no thread of its own.
/// An instance claims due timers only while it has an on_fire handler; instances without one can
/// still schedule and cancel. The handler runs on the io_context's thread; the timer is
/// acknowledged when it returns (see the guarantee in this file's documentation).
///
/// Thread-safety: every member is safe from any thread (work is posted to the io_context, which
/// must be run by one thread). stats() and queued() are exact on that thread. Destroying it (or
/// close()) stops claiming; timers it had claimed and not yet acknowledged are re-delivered by
/// another instance after their lease. No handler call starts after the destructor began (one
/// already running on the io_context's thread finishes: destroy it on that thread, or once the
/// io_context stopped, when the handler uses state destroyed with it).
class RedisTimer final : public Timer {
 public:
  /// Connects (asynchronously) on `io`. Throws std::invalid_argument on a malformed options.url.
  RedisTimer(asio::io_context& io, RedisTimerOptions options);
  ~RedisTimer() override;
  RedisTimer(const RedisTimer&) = delete;
  RedisTimer& operator=(const RedisTimer&) = delete;

  /// Schedules (or replaces, cluster-wide) `key` to fire at `deadline` on one instance.
  void schedule(std::string key, Clock::time_point deadline, std::string payload = {}) override;
  /// Cancels `key` cluster-wide; does nothing if it is not pending.
  void cancel(std::string key) override;
  /// Sets the handler, and starts (non-empty) or stops (empty) claiming due timers.
  void on_fire(std::function<void(const TimerEvent&)> handler) override;

  /// Schedules (or replaces) `key` to fire `delay` from now; the same as schedule(key, now + delay).
  void schedule_in(std::string key, std::chrono::milliseconds delay, std::string payload = {});

  /// True when both Redis connections are up.
  bool connected() const;
  /// Operations waiting for Redis (schedules/cancels by key, plus acknowledgements).
  std::size_t queued() const;
  /// Counters so far.
  RedisTimerStats stats() const;
  /// Stops claiming and closes the connections; queued operations are dropped (and counted).
  void close();

 private:
  std::shared_ptr<detail::RedisTimerImpl> impl_;
};

}  // namespace courier
