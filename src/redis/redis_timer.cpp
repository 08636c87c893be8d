// RedisTimer: keyed timers shared by the instances of a cluster. Redis holds the truth (a zset of
// due times, a zset of claim leases, a hash of timer data, a fence counter); four Lua scripts
// (schedule, cancel, claim, ack) change it atomically, with Redis's TIME as the only clock. Each
// instance arms one Asio timer for the next deadline it knows (from claim replies and from the
// wake channel, which a schedule publishes on when it becomes the earliest timer), plus a slow
// safety poll for leases that expired on dead instances.
#include <courier/error.hpp>
#include <courier/redis_timer.hpp>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <deque>
#include <list>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/random_id.hpp"
#include "redis/lua_script.hpp"
#include "redis/redis_connection.hpp"

namespace courier::detail {
namespace {

// Timer data in the hash: "<generation> <attempt> <claim fence> <payload>". The generation is a
// fence value taken by the schedule (so it changes on every replace); the claim fence is 0 until
// the timer is claimed. Times are microseconds of Redis's clock: Lua numbers are doubles, exact
// for integers up to 2^53 (year 2255 in microseconds); Redis passes numbers to commands exactly.
// `..` prints with 14 digits, so only counters (far below 1e14) are concatenated.
constexpr const char* kLuaPrelude = R"lua(
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function parse(v)
  local a = string.find(v, ' ', 1, true)
  local b = string.find(v, ' ', a + 1, true)
  local c = string.find(v, ' ', b + 1, true)
  return string.sub(v, 1, a - 1), tonumber(string.sub(v, a + 1, b - 1)), string.sub(v, b + 1, c - 1), string.sub(v, c + 1)
end
)lua";

// KEYS: due, lease, data, fence. ARGV: key, due time (µs of Redis's clock), payload, wake channel.
// Replaces any pending or claimed timer of the key (a claimed one's ack then finds a newer
// generation and deletes nothing). Wakes the instances when the key became the earliest.
constexpr const char* kSchedule = R"lua(
local due = tonumber(ARGV[2])
local gen = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[3], ARGV[1], gen .. ' 0 0 ' .. ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], due, ARGV[1])
local first = redis.call('ZRANGE', KEYS[1], 0, 0)
if first[1] == ARGV[1] then redis.call('PUBLISH', ARGV[4], math.max(0, due - now_us())) end
return gen
)lua";

// KEYS: due, lease, data. ARGV: key. Returns 1 if something was cancelled.
constexpr const char* kCancel = R"lua(
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('HDEL', KEYS[3], ARGV[1])
)lua";

// KEYS: due, lease, data, fence. ARGV: batch size, lease ms.
// Claims up to a batch: first timers whose lease ended without an ack (their instance died), then
// due ones. Each claim takes the next fence and counts an attempt. Returns
// {µs until the next due time or lease end (-1: none), key, payload, attempt, fence, ...}.
constexpr const char* kClaim = R"lua(
local now = now_us()
local n = tonumber(ARGV[1])
local lease_end = now + tonumber(ARGV[2]) * 1000
local out = {-1}
local function claim(k, from_due)
  local v = redis.call('HGET', KEYS[3], k)
  if not v then
    redis.call('ZREM', KEYS[1], k)
    redis.call('ZREM', KEYS[2], k)
    return
  end
  local gen, attempt, _, payload = parse(v)
  attempt = attempt + 1
  local f = redis.call('INCR', KEYS[4])
  redis.call('HSET', KEYS[3], k, gen .. ' ' .. attempt .. ' ' .. f .. ' ' .. payload)
  if from_due then redis.call('ZREM', KEYS[1], k) end
  redis.call('ZADD', KEYS[2], lease_end, k)
  out[#out + 1] = k
  out[#out + 1] = payload
  out[#out + 1] = attempt
  out[#out + 1] = f
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, n)
for _, k in ipairs(expired) do claim(k, false) end
if #expired < n then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, n - #expired)
  for _, k in ipairs(due) do claim(k, true) end
end
local nd = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local nl = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local nxt = -1
if nd[2] then nxt = math.max(0, tonumber(nd[2]) - now) end
if nl[2] then
  local x = math.max(0, tonumber(nl[2]) - now)
  if nxt < 0 or x < nxt then nxt = x end
end
out[1] = nxt
return out
)lua";

// KEYS: lease, data. ARGV: key, fence, key, fence, ... Deletes each timer only if its claim fence
// is still the acknowledged one (not replaced, cancelled or re-claimed meanwhile). Returns how many
// were superseded.
constexpr const char* kAck = R"lua(
local superseded = 0
for i = 1, #ARGV, 2 do
  local k = ARGV[i]
  local v = redis.call('HGET', KEYS[2], k)
  local keep = true
  if v then
    local _, _, f = parse(v)
    if f == ARGV[i + 1] then
      redis.call('HDEL', KEYS[2], k)
      redis.call('ZREM', KEYS[1], k)
      keep = false
    end
  end
  if keep then superseded = superseded + 1 end
end
return superseded
)lua";

using Steady = std::chrono::steady_clock;
using Sys = std::chrono::system_clock;

bool is_error(std::error_code ec, const RedisReply& r) { return ec || r.type == RedisReply::Type::error; }

// Per operation, and per safety poll for claims and acknowledgements.
constexpr int kMaxRedirects = RedisConnection::kMaxMovedRedirects;

// ASK (the slot is migrating and a key is already on the importing node) or TRYAGAIN (a script's
// keys are split between the two nodes during the migration): retried at the next safety poll, by
// which time the migration has usually ended with a MOVED. ASKING on the importing node is not
// used: the scripts touch several keys, which a migration in progress splits anyway.
bool is_migrating(const RedisReply& r) {
  RedisRedirect redirect;
  return (RedisRedirect::parse(r, redirect) && redirect.ask) ||
         (r.type == RedisReply::Type::error && r.str.rfind("TRYAGAIN", 0) == 0);
}

}  // namespace

class RedisTimerImpl : public std::enable_shared_from_this<RedisTimerImpl> {
 public:
  RedisTimerImpl(asio::io_context& io, RedisTimerOptions options, RedisUrl url)
      : io_(io),
        options_(std::move(options)),
        name_(options_.instance.empty() ? random_id() : options_.instance),
        cmd_(std::make_shared<RedisConnection>(io, url, "timer " + name_, options_.logger)),
        sub_(std::make_shared<RedisConnection>(io, url, "timer-sub " + name_, options_.logger)),
        wake_timer_(io),
        poll_timer_(io),
        schedule_(std::string(kLuaPrelude) + kSchedule),
        cancel_(std::string(kLuaPrelude) + kCancel),
        claim_(std::string(kLuaPrelude) + kClaim),
        ack_(std::string(kLuaPrelude) + kAck) {
    const std::string tag = "{" + options_.prefix + "}:";
    due_key_ = tag + "due";
    lease_key_ = tag + "lease";
    data_key_ = tag + "data";
    fence_key_ = tag + "fence";
    wake_channel_ = tag + "wake";
    if (options_.claim_batch == 0) options_.claim_batch = 1;
    if (options_.lease < std::chrono::milliseconds(1)) options_.lease = std::chrono::milliseconds(1);
    if (options_.safety_poll < std::chrono::milliseconds(1)) options_.safety_poll = std::chrono::milliseconds(1);
  }

  void start() {
    std::weak_ptr<RedisTimerImpl> weak = shared_from_this();
    cmd_->set_ready_handler([weak] {
      if (auto self = weak.lock()) self->on_command_ready();
    });
    sub_->set_ready_handler([weak] {
      // A wake may have been published while the subscriber was away: look now.
      if (auto self = weak.lock()) self->claim();
    });
    sub_->set_push_handler([weak](const RedisReply& r) {
      if (auto self = weak.lock()) self->on_wake(r);
    });
    sub_->subscribe("SUBSCRIBE", {wake_channel_});
    cmd_->start();
    sub_->start();
    arm_poll();
  }

  template <class F>
  void run(F&& f) {
    if (io_.get_executor().running_in_this_thread()) {
      f();
    } else {
      asio::post(io_, std::forward<F>(f));
    }
  }
  bool io_stopped_or_here() const { return io_.stopped() || io_.get_executor().running_in_this_thread(); }

  // ---- operations ------------------------------------------------------------------------------

  struct Op {
    bool cancel = false;
    Sys::time_point deadline{};  // on this instance's clock; turned into Redis's when sent
    std::string payload;
    int redirects = 0;  // MOVED followed and ASK/TRYAGAIN retried so far
  };

  void submit(std::string key, Op op) {
    if (closed_) return;
    // Behind a non-empty queue an operation waits its turn, so a queued older operation on the
    // same key can never overtake it. Schedules also wait for the clock offset to Redis.
    if (cmd_->ready() && clock_synced_ && queue_.empty()) {
      send(std::move(key), std::move(op));
      return;
    }
    enqueue(std::move(key), std::move(op));
  }

  void set_handler(std::function<void(const TimerEvent&)> h) {
    if (closed_) return;
    handler_ = std::move(h);
    if (handler_) claim();
  }

  bool connected() const { return cmd_->ready() && sub_->ready(); }
  std::size_t queued() const { return queue_.size() + acks_.size() / 2; }
  RedisTimerStats stats() const {
    RedisTimerStats s = stats_;
    s.reconnects = cmd_->reconnects() + sub_->reconnects();
    return s;
  }

  /// From any thread: no handler call starts after this (the destructor's first step).
  void close_soon() noexcept { closing_ = true; }

  void shutdown() {
    closing_ = true;
    if (closed_) return;
    closed_ = true;
    stats_.dropped += queue_.size();
    queue_.clear();
    order_.clear();
    acks_.clear();
    handler_ = nullptr;
    wake_timer_.cancel();
    poll_timer_.cancel();
    cmd_->close();
    sub_->close();
  }

 private:
  struct Queued {
    Op op;
  };

  std::vector<std::string> keys4() const { return {due_key_, lease_key_, data_key_, fence_key_}; }

  void log(LogLevel level, const std::string& what) const {
    if (options_.logger.enabled(level)) options_.logger.log(level, "redis timer " + name_ + ": " + what);
  }

  void report(std::error_code ec, const std::string& key, const std::string& why) {
    ++stats_.dropped;
    if (stats_.dropped % 1000 == 1) log(LogLevel::warn, why + " (" + std::to_string(stats_.dropped) + " dropped so far)");
    if (options_.on_error) options_.on_error(ec, key);
  }

  // Keeps the last operation per key, in the order keys were first queued. Calls come in the
  // order the operations were issued: the operations that were in flight when the connection
  // broke are handed back (in send order) before any later call can queue, so the later call is
  // always the newer word.
  // `returned`: an operation sent earlier and handed back (connection broke, redirected); anything
  // queued for its key since was issued after it was sent, so that newer operation is kept.
  void enqueue(std::string key, Op op, bool returned = false) {
    auto it = queue_.find(key);
    if (it != queue_.end()) {
      if (!returned) it->second.op = std::move(op);
      return;
    }
    if (queue_.size() >= options_.max_queued) {
      report(make_error_code(errc::cluster_unavailable), key,
             std::string(op.cancel ? "cancel" : "schedule") + " of '" + key + "' dropped: Redis unavailable and " +
                 std::to_string(queue_.size()) + " operations queued");
      return;
    }
    order_.push_back(key);
    queue_.emplace(std::move(key), Queued{std::move(op)});
  }

  void send(std::string key, Op op) {
    std::weak_ptr<RedisTimerImpl> weak = shared_from_this();
    if (op.cancel) {
      cancel_.run(cmd_, {due_key_, lease_key_, data_key_}, {key},
                  [weak, key, op](std::error_code ec, RedisReply r) mutable {
                    if (auto self = weak.lock()) self->on_op_reply(std::move(key), std::move(op), ec, r);
                  });
      return;
    }
    // The deadline in Redis's clock: this instance's deadline plus the measured offset. Not a delay
    // added to Redis's now when the script runs: a long pipeline (a burst of schedules) would
    // then push every deadline back by its time in the queue.
    const auto now = Sys::now();
    // Far-future deadlines are clamped to a century so that Redis's scores stay exact.
    constexpr std::chrono::microseconds kMaxDelay(100LL * 365 * 24 * 3600 * 1000000);
    auto deadline = op.deadline;
    if (deadline > now && deadline - now > kMaxDelay) deadline = now + kMaxDelay;
    const long long due = std::chrono::duration_cast<std::chrono::microseconds>(deadline.time_since_epoch()).count() + offset_us_;
    schedule_.run(cmd_, keys4(), {key, std::to_string(due), op.payload, wake_channel_},
                  [weak, key, op](std::error_code ec, RedisReply r) mutable {
                    if (auto self = weak.lock()) self->on_op_reply(std::move(key), std::move(op), ec, r);
                  });
  }

  void on_op_reply(std::string key, Op op, std::error_code ec, const RedisReply& r) {
    if (closed_) return;
    if (ec) {
      // The connection broke with it in flight: it may or may not have been applied. Sending it
      // again is safe for a cancel and at-least-once for a schedule (documented).
      enqueue(std::move(key), std::move(op), true);
      return;
    }
    const bool error = r.type == RedisReply::Type::error;
    if (error && op.redirects < kMaxRedirects && (is_migrating(r) || cmd_->follow_moved(r))) {
      // Not applied: sent again once connected to the node named (MOVED), or at the next safety
      // poll (ASK, TRYAGAIN). It waits in the queue, as during an outage.
      ++op.redirects;
      enqueue(std::move(key), std::move(op), true);
      if (!is_migrating(r) && cmd_->ready() && clock_synced_) flush_queue();  // MOVED to this very node
      return;
    }
    if (error) {
      RedisRedirect redirect;
      const bool gave_up = RedisRedirect::parse(r, redirect) || is_migrating(r);
      const std::string why = gave_up ? " (still redirected after " + std::to_string(kMaxRedirects) + " attempts)" : "";
      report(make_error_code(errc::cluster_error), key,
             std::string(op.cancel ? "cancel" : "schedule") + " of '" + key + "' refused by Redis: " + r.str + why);
      return;
    }
    if (op.cancel)
      ++stats_.cancelled;
    else
      ++stats_.scheduled;
  }

  void on_command_ready() {
    if (closed_) return;
    schedule_.load(*cmd_);
    cancel_.load(*cmd_);
    claim_.load(*cmd_);
    ack_.load(*cmd_);
    // Acknowledgements first: they only delete what they claimed, and they spare re-deliveries.
    flush_acks();
    claim_in_flight_ = false;  // a claim sent on the old connection was answered with an error
    claim();
    // Queued operations go once the clock offset is known (it may have changed: a new Redis).
    clock_synced_ = false;
    clock_samples_.clear();
    sync_clock();
  }

  void flush_queue() {
    while (!queue_.empty() && cmd_->ready() && clock_synced_) {
      std::string key = std::move(order_.front());
      order_.pop_front();
      auto it = queue_.find(key);
      Op op = std::move(it->second.op);
      queue_.erase(it);
      send(std::move(key), std::move(op));
    }
  }

  // Measures offset = Redis's clock - this instance's clock with TIME. Redis read its clock
  // somewhere within the round trip; taking the send time as that moment gives the largest offset
  // the sample allows, so a timer may fire late by up to the round trip but never early. The
  // sample with the shortest round trip of the last few wins. Done at every connect and every
  // safety poll, to follow drift.
  void sync_clock() {
    const auto sent = Sys::now();
    std::weak_ptr<RedisTimerImpl> weak = shared_from_this();
    cmd_->command({"TIME"}, [weak, sent](std::error_code ec, RedisReply r) {
      auto self = weak.lock();
      if (!self || self->closed_ || ec) return;
      const auto received = Sys::now();
      if (r.type != RedisReply::Type::array || r.elements.size() != 2) {
        self->log(LogLevel::warn, "unexpected reply to TIME");
        return;
      }
      const long long redis_us = std::atoll(r.elements[0].str.c_str()) * 1000000LL + std::atoll(r.elements[1].str.c_str());
      const auto micros = [](Sys::time_point t) {
        return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
      };
      const long long rtt = micros(received) - micros(sent);
      self->clock_samples_.push_back({rtt, redis_us - micros(sent)});
      constexpr std::size_t kSamples = 8;
      if (self->clock_samples_.size() > kSamples) self->clock_samples_.pop_front();
      const auto best = std::min_element(self->clock_samples_.begin(), self->clock_samples_.end());
      self->offset_us_ = best->second;
      if (!self->clock_synced_) {
        self->clock_synced_ = true;
        self->flush_queue();
      }
    });
  }

  // ---- claiming and firing -----------------------------------------------------------------------

  void claim() {
    if (closed_ || !handler_ || claim_in_flight_ || !cmd_->ready()) return;
    claim_in_flight_ = true;
    claim_sent_at_ = Steady::now();
    wake_during_claim_.reset();
    ++stats_.claims;
    std::weak_ptr<RedisTimerImpl> weak = shared_from_this();
    claim_.run(cmd_, keys4(), {std::to_string(options_.claim_batch), std::to_string(options_.lease.count())},
               [weak](std::error_code ec, RedisReply r) {
                 if (auto self = weak.lock()) self->on_claimed(ec, std::move(r));
               });
  }

  void on_claimed(std::error_code ec, RedisReply r) {
    claim_in_flight_ = false;
    if (closed_) return;
    if (!ec && follow(r)) return;  // claimed again once connected to the slot's node (on_command_ready)
    if (is_error(ec, r) || r.type != RedisReply::Type::array || r.elements.empty() || (r.elements.size() - 1) % 4 != 0) {
      if (!ec) log(LogLevel::warn, "claim refused: " + (r.type == RedisReply::Type::error ? r.str : "unexpected reply"));
      return;  // the safety poll (or the next ready) tries again
    }
    const std::size_t n = (r.elements.size() - 1) / 4;
    // The handler of this batch, even if a handler call replaces or clears it. Without one (it was
    // cleared while the claim was in flight) nothing is delivered or acknowledged: the timers are
    // re-delivered after their lease.
    const auto handler = handler_;
    if (!handler || closing_) return;
    std::vector<std::string> acks;
    acks.reserve(n * 2);
    for (std::size_t i = 0; i < n; ++i) {
      RedisReply& key = r.elements[1 + i * 4];
      const RedisReply& payload = r.elements[2 + i * 4];
      const auto attempt = static_cast<std::uint32_t>(r.elements[3 + i * 4].integer);
      const auto fence = static_cast<std::uint64_t>(r.elements[4 + i * 4].integer);
      ++stats_.fired;
      if (attempt > 1) ++stats_.redelivered;
      // A handler that throws must not lose the rest of the batch (they were claimed): report
      // and go on; the thrower's timer is acknowledged like the others (it was delivered).
      try {
        handler(TimerEvent{key.str, payload.str, attempt, fence});
      } catch (const std::exception& e) {
        log(LogLevel::error, "on_fire handler threw for '" + key.str + "': " + e.what());
      } catch (...) {
        log(LogLevel::error, "on_fire handler threw for '" + key.str + "'");
      }
      // The handler closed the timer (or another thread is destroying it): what is not
      // acknowledged is re-delivered.
      if (closed_ || closing_) return;
      acks.push_back(std::move(key.str));
      acks.push_back(std::to_string(fence));
    }
    if (!acks.empty()) send_acks(std::move(acks));
    if (n >= options_.claim_batch) {
      // More may be due: claim again at once, after letting other handlers on the loop run.
      asio::post(io_, [weak = weak_from_this()] {
        if (auto self = weak.lock()) self->claim();
      });
      return;
    }
    // "next" is counted from Redis's now during the script, somewhere between sending and now:
    // counting from the send errs early (a claim that finds nothing yet just re-arms), never late
    // by the reply's latency and the handlers' run time.
    std::optional<Steady::time_point> next;
    if (r.elements[0].integer >= 0) next = claim_sent_at_ + std::chrono::microseconds(r.elements[0].integer);
    if (wake_during_claim_ && (!next || *wake_during_claim_ < *next)) next = wake_during_claim_;
    if (next)
      arm_at(*next, true);
    else
      disarm();
  }

  void send_acks(std::vector<std::string> acks) {
    if (!cmd_->ready()) {
      for (auto& a : acks) acks_.push_back(std::move(a));
      return;
    }
    std::weak_ptr<RedisTimerImpl> weak = shared_from_this();
    auto copy = acks;  // kept to queue again if the connection breaks with them in flight
    ack_.run(cmd_, {lease_key_, data_key_}, std::move(acks), [weak, copy = std::move(copy)](std::error_code ec, RedisReply r) mutable {
      auto self = weak.lock();
      if (!self || self->closed_) return;
      if (ec) {
        for (auto& a : copy) self->acks_.push_back(std::move(a));
        return;
      }
      if (self->follow(r) || is_migrating(r)) {
        // Not applied: sent again once connected to the slot's node, or at the next safety poll.
        for (auto& a : copy) self->acks_.push_back(std::move(a));
        return;
      }
      if (r.type == RedisReply::Type::error) {
        self->log(LogLevel::warn, "acknowledgement refused (timers will be re-delivered): " + r.str);
        return;
      }
      self->stats_.superseded += static_cast<std::uint64_t>(std::max(0LL, r.integer));
    });
  }

  void flush_acks() {
    if (acks_.empty()) return;
    std::vector<std::string> acks = std::move(acks_);
    acks_.clear();
    // In batches, so that one script call stays short.
    const std::size_t step = std::max<std::size_t>(2, options_.claim_batch * 2);
    for (std::size_t i = 0; i < acks.size(); i += step) {
      const std::size_t end = std::min(acks.size(), i + step);
      send_acks(std::vector<std::string>(std::make_move_iterator(acks.begin() + static_cast<std::ptrdiff_t>(i)),
                                         std::make_move_iterator(acks.begin() + static_cast<std::ptrdiff_t>(end))));
    }
  }

  void on_wake(const RedisReply& r) {
    if (closed_ || r.elements.size() < 3) return;
    ++stats_.wakes;
    const std::string& text = r.elements[2].str;
    char* end = nullptr;
    const long long us = std::strtoll(text.c_str(), &end, 10);
    if (end == text.c_str() || us < 0) return;
    const auto at = Steady::now() + std::chrono::microseconds(us);
    if (claim_in_flight_) {
      // The claim's reply may predate this schedule: remember it so that reply cannot arm later.
      if (!wake_during_claim_ || at < *wake_during_claim_) wake_during_claim_ = at;
    }
    arm_at(at, false);
  }

  // Arms the wake-up timer for `at`; unless `replace`, only when that is earlier than the one armed.
  void arm_at(Steady::time_point at, bool replace) {
    if (!handler_) return;
    if (armed_ && !replace && armed_for_ <= at) return;
    armed_ = true;
    armed_for_ = at;
    wake_timer_.expires_at(at);
    wake_timer_.async_wait([weak = weak_from_this(), at](const std::error_code& ec) {
      if (ec) return;
      auto self = weak.lock();
      if (!self || !self->armed_ || self->armed_for_ != at) return;
      self->armed_ = false;
      self->claim();
    });
  }

  // Follows a MOVED reply to a claim or an acknowledgement (they are sent again once connected to
  // the node named: on_command_ready), at most kMaxRedirects times per safety poll.
  bool follow(const RedisReply& r) {
    RedisRedirect to;
    if (!RedisRedirect::parse(r, to) || to.ask) return false;
    if (moves_ >= kMaxRedirects) {
      log(LogLevel::error, "still redirected after " + std::to_string(kMaxRedirects) + " MOVED redirections: " + r.str);
      return false;
    }
    ++moves_;
    return cmd_->follow_moved(r);
  }

  void disarm() {
    armed_ = false;
    wake_timer_.cancel();
  }

  void arm_poll() {
    poll_timer_.expires_after(options_.safety_poll);
    poll_timer_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
      if (ec) return;
      auto self = weak.lock();
      if (!self || self->closed_) return;
      self->moves_ = 0;
      if (self->cmd_->ready()) {
        // What waits for a cluster slot migration to end (ASK, TRYAGAIN) goes again.
        self->flush_acks();
        if (self->clock_synced_) self->flush_queue();
      }
      self->claim();
      if (self->cmd_->ready()) self->sync_clock();
      self->arm_poll();
    });
  }

  asio::io_context& io_;
  RedisTimerOptions options_;
  std::string name_;
  std::shared_ptr<RedisConnection> cmd_;
  std::shared_ptr<RedisConnection> sub_;
  asio::steady_timer wake_timer_;
  asio::steady_timer poll_timer_;
  LuaScript schedule_;
  LuaScript cancel_;
  LuaScript claim_;
  LuaScript ack_;
  std::string due_key_, lease_key_, data_key_, fence_key_, wake_channel_;

  std::function<void(const TimerEvent&)> handler_;
  bool closed_ = false;
  std::atomic<bool> closing_{false};  // set by the destructor on any thread
  bool claim_in_flight_ = false;
  bool clock_synced_ = false;                          // offset_us_ measured on this connection
  long long offset_us_ = 0;                            // Redis's clock minus this instance's
  std::deque<std::pair<long long, long long>> clock_samples_;  // (round trip, offset) in µs
  Steady::time_point claim_sent_at_{};
  std::optional<Steady::time_point> wake_during_claim_;
  bool armed_ = false;
  Steady::time_point armed_for_{};
  int moves_ = 0;  // MOVED redirections of claims and acknowledgements followed since the last safety poll

  std::unordered_map<std::string, Queued> queue_;  // key -> last operation while Redis is away
  std::list<std::string> order_;                   // keys of queue_ in the order they were queued
  std::vector<std::string> acks_;                  // key, fence, key, fence ... waiting for Redis
  RedisTimerStats stats_;
};

}  // namespace courier::detail

namespace courier {

RedisTimer::RedisTimer(asio::io_context& io, RedisTimerOptions options) {
  detail::RedisUrl url;
  if (!detail::RedisUrl::parse(options.url, url)) throw std::invalid_argument("RedisTimer: malformed Redis URL: " + options.url);
  impl_ = std::make_shared<detail::RedisTimerImpl>(io, std::move(options), std::move(url));
  // Connections are started on the io_context's thread (they are not thread-safe).
  impl_->run([impl = impl_] { impl->start(); });
}

RedisTimer::~RedisTimer() {
  impl_->close_soon();
  if (impl_->io_stopped_or_here()) {
    impl_->shutdown();
  } else {
    impl_->run([impl = impl_] { impl->shutdown(); });
  }
}

void RedisTimer::schedule(std::string key, Clock::time_point deadline, std::string payload) {
  detail::RedisTimerImpl::Op op;
  op.deadline = deadline;
  op.payload = std::move(payload);
  impl_->run([impl = impl_, k = std::move(key), op = std::move(op)]() mutable { impl->submit(std::move(k), std::move(op)); });
}

void RedisTimer::schedule_in(std::string key, std::chrono::milliseconds delay, std::string payload) {
  detail::RedisTimerImpl::Op op;
  // Far futures are clamped when sent; here only the overflow of now + delay is avoided.
  constexpr std::chrono::hours kCentury(24 * 365 * 100);
  op.deadline = Clock::now() + std::min<Clock::duration>(std::max(delay, std::chrono::milliseconds(0)), kCentury);
  op.payload = std::move(payload);
  impl_->run([impl = impl_, k = std::move(key), op = std::move(op)]() mutable { impl->submit(std::move(k), std::move(op)); });
}

void RedisTimer::cancel(std::string key) {
  detail::RedisTimerImpl::Op op;
  op.cancel = true;
  impl_->run([impl = impl_, k = std::move(key), op = std::move(op)]() mutable { impl->submit(std::move(k), std::move(op)); });
}

void RedisTimer::on_fire(std::function<void(const TimerEvent&)> handler) {
  impl_->run([impl = impl_, h = std::move(handler)]() mutable { impl->set_handler(std::move(h)); });
}

bool RedisTimer::connected() const { return impl_->connected(); }
std::size_t RedisTimer::queued() const { return impl_->queued(); }
RedisTimerStats RedisTimer::stats() const { return impl_->stats(); }

void RedisTimer::close() {
  impl_->run([impl = impl_] { impl->shutdown(); });
}

}  // namespace courier
