// courier::RedisTimer against a real redis-server (started here on a free loopback port, stopped
// by PID). Each "instance" is a RedisTimer on its own io_context, all driven by the test's thread
// in turn, so an instance can be made to act in the middle of another's handler. Every wait is
// bounded; leases are short so that re-deliveries happen within the test.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <courier/error.hpp>
#include <courier/redis_timer.hpp>

#include "redis/redis_cluster.hpp"
#include "redis/redis_connection.hpp"
#include "redis_test_support.hpp"

using courier::RedisTimer;
using courier::RedisTimerOptions;
using courier::TimerEvent;
using courier::detail::RedisConnection;
using courier::detail::RedisReply;
using courier::detail::RedisUrl;
using redis_test::quiet;
using redis_test::RedisServer;
using namespace std::chrono_literals;

namespace {

using Sys = std::chrono::system_clock;
using Steady = std::chrono::steady_clock;

struct Fire {
  std::string key;
  std::string payload;
  std::uint32_t attempt = 0;
  std::uint64_t fence = 0;
  std::string instance;
  Sys::time_point at;
};

// One cluster instance: a RedisTimer on its own io_context.
struct Instance {
  std::string name;
  asio::io_context io;
  std::unique_ptr<RedisTimer> timer;
};

struct Cluster {
  RedisServer redis;
  std::string prefix = "test";
  std::vector<std::unique_ptr<Instance>> nodes;
  std::vector<Fire> fires;

  Cluster() { REQUIRE(redis.start()); }

  RedisTimerOptions options(const std::string& name) {
    RedisTimerOptions o;
    o.url = redis.url();
    o.prefix = prefix;
    o.instance = name;
    o.lease = 600ms;
    o.safety_poll = 100ms;
    o.logger = quiet();
    return o;
  }

  // Adds an instance; with `handler`, it records its fires into `fires`.
  Instance& add(const std::string& name, bool handler = true, RedisTimerOptions* custom = nullptr) {
    auto n = std::make_unique<Instance>();
    n->name = name;
    n->timer = std::make_unique<RedisTimer>(n->io, custom ? *custom : options(name));
    if (handler) listen(*n);
    nodes.push_back(std::move(n));
    return *nodes.back();
  }
  void listen(Instance& n) {
    n.timer->on_fire([this, name = n.name](const TimerEvent& e) {
      fires.push_back({std::string(e.key), std::string(e.payload), e.attempt, e.fence, name, Sys::now()});
    });
  }

  // Drives every instance's io_context in turn.
  void poll_all() {
    for (auto& n : nodes) {
      n->io.restart();
      n->io.run_for(1ms);
    }
  }
  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit = 5000ms) {
    const auto end = Steady::now() + limit;
    while (!pred()) {
      if (Steady::now() >= end) return false;
      poll_all();
    }
    return true;
  }
  void run_for(std::chrono::milliseconds d) {
    const auto end = Steady::now() + d;
    while (Steady::now() < end) poll_all();
  }
  bool wait_connected(std::chrono::milliseconds limit = 3000ms) {
    return run_until([&] {
      for (auto& n : nodes)
        if (!n->timer->connected()) return false;
      return true;
    }, limit);
  }

  std::vector<Fire> fires_of(const std::string& key) const {
    std::vector<Fire> out;
    for (const auto& f : fires)
      if (f.key == key) out.push_back(f);
    return out;
  }

  // One command on a fresh connection driven on a private io_context.
  RedisReply command(std::vector<std::string> args) {
    asio::io_context io;
    RedisUrl u;
    REQUIRE(RedisUrl::parse(redis.url(), u));
    auto c = std::make_shared<RedisConnection>(io, u, "probe", quiet());
    c->start();
    REQUIRE(redis_test::run_until(io, [&] { return c->ready(); }, 2000ms));
    bool done = false;
    RedisReply out;
    c->command(std::move(args), [&](std::error_code ec, RedisReply r) {
      REQUIRE_FALSE(ec);
      out = std::move(r);
      done = true;
    });
    REQUIRE(redis_test::run_until(io, [&] { return done; }, 2000ms));
    c->close();
    return out;
  }
  // Timer entries left in Redis (data, due, lease).
  long long leftovers() {
    const std::string tag = "{" + prefix + "}:";
    return command({"HLEN", tag + "data"}).integer + command({"ZCARD", tag + "due"}).integer +
           command({"ZCARD", tag + "lease"}).integer;
  }
};

}  // namespace

TEST_CASE("RedisTimer: each timer fires once across three instances, attempt 1, not early, growing fences",
          "[redis][timer]") {
  REQUIRE_REDIS_SERVER();
  Cluster c;
  auto& a = c.add("a");
  c.add("b");
  c.add("c");
  REQUIRE(c.wait_connected());

  constexpr int kTimers = 300;
  std::map<std::string, Sys::time_point> deadlines;
  const auto start = Sys::now();
  for (int i = 0; i < kTimers; ++i) {
    const std::string key = "k" + std::to_string(i);
    deadlines[key] = start + 100ms + std::chrono::milliseconds(i);
    a.timer->schedule(key, deadlines[key], "p" + std::to_string(i));
  }
  REQUIRE(c.run_until([&] { return c.fires.size() >= kTimers; }));
  c.run_for(300ms);  // no duplicate shows up later

  CHECK(c.fires.size() == kTimers);
  std::set<std::string> keys;
  std::set<std::uint64_t> fences;
  std::map<std::string, int> per_instance;
  for (const auto& f : c.fires) {
    keys.insert(f.key);
    fences.insert(f.fence);
    ++per_instance[f.instance];
    CHECK(f.attempt == 1);
    CHECK(f.payload == "p" + f.key.substr(1));
    // Redis's clock is read in milliseconds: allow one of rounding.
    CHECK(f.at >= deadlines[f.key] - 1ms);
    CHECK(f.fence > 0);
  }
  CHECK(keys.size() == kTimers);
  CHECK(fences.size() == kTimers);  // every delivery its own fence
  CHECK(c.leftovers() == 0);
  // The instance that scheduled them has no special role: the fires are shared.
  CHECK(per_instance.size() >= 2);
}

TEST_CASE("RedisTimer: replace by key from another instance moves deadline and payload, and cancel stops it",
          "[redis][timer]") {
  REQUIRE_REDIS_SERVER();
  Cluster c;
  auto& a = c.add("a");
  auto& b = c.add("b");
  REQUIRE(c.wait_connected());

  const auto start = Sys::now();
  a.timer->schedule("moved", start + 150ms, "first");
  a.timer->schedule("cancelled", start + 150ms, "x");
  a.timer->schedule("kept", start + 150ms, "k");
  c.run_for(20ms);
  b.timer->schedule("moved", start + 400ms, "second");
  b.timer->cancel("cancelled");
  REQUIRE(c.run_until([&] { return c.fires_of("moved").size() == 1 && c.fires_of("kept").size() == 1; }));
  c.run_for(300ms);

  const auto moved = c.fires_of("moved");
  REQUIRE(moved.size() == 1);
  CHECK(moved[0].payload == "second");
  CHECK(moved[0].at >= start + 399ms);
  CHECK(c.fires_of("cancelled").empty());
  CHECK(c.fires_of("kept").size() == 1);
  // Cancelling what is not pending does nothing (and reports nothing).
  b.timer->cancel("never-scheduled");
  c.run_for(50ms);
  CHECK(b.timer->stats().dropped == 0);
  CHECK(c.leftovers() == 0);
}

TEST_CASE("RedisTimer: an acknowledgement never deletes a schedule made while the timer was firing",
          "[redis][timer]") {
  REQUIRE_REDIS_SERVER();
  Cluster c;
  auto& x = c.add("x", false);
  auto& y = c.add("y", false);
  REQUIRE(c.wait_connected());

  int rescheduled = 0;
  x.timer->on_fire([&](const TimerEvent& e) {
    c.fires.push_back({std::string(e.key), std::string(e.payload), e.attempt, e.fence, "x", Sys::now()});
    if (e.payload == "old") {
      // In the middle of x's delivery, y replaces the key; y's script is applied before x's
      // acknowledgement is even sent.
      const auto before = y.timer->stats().scheduled;
      y.timer->schedule("k", Sys::now() + 200ms, "new");
      REQUIRE(redis_test::run_until(y.io, [&] { return y.timer->stats().scheduled == before + 1; }, 2000ms));
      ++rescheduled;
    }
  });
  y.timer->schedule("k", Sys::now() + 50ms, "old");
  REQUIRE(c.run_until([&] { return c.fires_of("k").size() == 2; }, 3000ms));
  c.run_for(300ms);

  const auto fires = c.fires_of("k");
  REQUIRE(rescheduled == 1);
  REQUIRE(fires.size() == 2);
  CHECK(fires[0].payload == "old");
  CHECK(fires[1].payload == "new");
  CHECK(fires[1].attempt == 1);  // a new schedule starts over
  CHECK(fires[1].fence > fires[0].fence);
  CHECK(x.timer->stats().superseded == 1);
  CHECK(c.leftovers() == 0);
}

TEST_CASE("RedisTimer: a timer claimed by an instance that dies before acknowledging is re-delivered after the lease",
          "[redis][timer]") {
  REQUIRE_REDIS_SERVER();
  Cluster c;
  auto& x = c.add("x", false);
  auto& y = c.add("y", false);
  REQUIRE(c.wait_connected());

  // x "dies" inside its handler: it closes, so nothing it was delivered is acknowledged.
  std::vector<Fire> on_x;
  Steady::time_point died{};
  x.timer->on_fire([&](const TimerEvent& e) {
    on_x.push_back({std::string(e.key), std::string(e.payload), e.attempt, e.fence, "x", Sys::now()});
    died = Steady::now();
    x.timer->close();
  });
  x.timer->schedule("job", Sys::now() + 30ms, "payload");
  REQUIRE(c.run_until([&] { return !on_x.empty(); }));
  c.listen(y);  // only now does a survivor claim
  REQUIRE(c.run_until([&] { return c.fires.size() == 1; }, 3000ms));
  const auto redelivered_after = Steady::now() - died;
  c.run_for(200ms);

  REQUIRE(on_x.size() == 1);
  REQUIRE(c.fires.size() == 1);
  CHECK(on_x[0].attempt == 1);
  CHECK(c.fires[0].instance == "y");
  CHECK(c.fires[0].key == "job");
  CHECK(c.fires[0].payload == "payload");
  CHECK(c.fires[0].attempt == 2);
  CHECK(c.fires[0].fence > on_x[0].fence);
  CHECK(redelivered_after >= 550ms);  // not before the 600 ms lease ended (less what passed before)
  CHECK(y.timer->stats().redelivered == 1);
  CHECK(c.leftovers() == 0);
}

TEST_CASE("RedisTimer: cancel and replace are race-free against fires on other instances", "[redis][timer]") {
  REQUIRE_REDIS_SERVER();
  Cluster c;
  auto& a = c.add("a");
  auto& b = c.add("b");
  REQUIRE(c.wait_connected());

  // a schedules every key (v1); b, at a random moment around its deadline, either replaces it (v2)
  // or cancels it. Whatever the interleaving: v2 fires exactly once when it was the last word, v1
  // at most once, nothing fires twice with the same payload, and Redis ends empty.
  constexpr int kKeys = 400;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> due_ms(40, 140), op_ms(0, 150), new_due_ms(0, 100);
  std::vector<bool> replaced(kKeys);
  const auto start = Sys::now();
  for (int i = 0; i < kKeys; ++i)
    a.timer->schedule("r" + std::to_string(i), start + std::chrono::milliseconds(due_ms(rng)), "v1");
  // b's word must come after a's (else a's schedule would be the last word, legitimately).
  REQUIRE(c.run_until([&] { return a.timer->stats().scheduled == static_cast<std::uint64_t>(kKeys); }));
  std::vector<std::unique_ptr<asio::steady_timer>> ops;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "r" + std::to_string(i);
    replaced[static_cast<std::size_t>(i)] = (rng() % 2) == 0;
    auto t = std::make_unique<asio::steady_timer>(b.io, std::chrono::milliseconds(op_ms(rng)));
    const bool replace = replaced[static_cast<std::size_t>(i)];
    const auto new_due = std::chrono::milliseconds(new_due_ms(rng));
    t->async_wait([&b, key, replace, new_due](const std::error_code&) {
      if (replace)
        b.timer->schedule(key, Sys::now() + new_due, "v2");
      else
        b.timer->cancel(key);
    });
    ops.push_back(std::move(t));
  }
  REQUIRE(c.run_until([&] {
    return b.timer->stats().scheduled + b.timer->stats().cancelled == static_cast<std::uint64_t>(kKeys);
  }));
  c.run_for(600ms);  // everything due has fired (and any duplicate would have shown up)

  int v1_fired = 0, v2_fired = 0;
  for (int i = 0; i < kKeys; ++i) {
    const auto fires = c.fires_of("r" + std::to_string(i));
    int v1 = 0, v2 = 0;
    std::uint64_t last_fence = 0;
    for (const auto& f : fires) {
      (f.payload == "v1" ? v1 : v2) += 1;
      CHECK(f.attempt == 1);
      CHECK(f.fence > last_fence);
      last_fence = f.fence;
    }
    CHECK(v1 <= 1);
    if (replaced[static_cast<std::size_t>(i)]) {
      CHECK(v2 == 1);
    } else {
      CHECK(v2 == 0);
    }
    v1_fired += v1;
    v2_fired += v2;
  }
  INFO("v1 fired " << v1_fired << ", v2 fired " << v2_fired);
  // Both orders happened: some keys fired before b's operation, some were changed first.
  CHECK(v1_fired > 0);
  CHECK(v1_fired < kKeys);
  CHECK(c.leftovers() == 0);
}

TEST_CASE("RedisTimer: a new earliest timer wakes idle instances (no polling needed)", "[redis][timer]") {
  REQUIRE_REDIS_SERVER();
  Cluster c;
  auto o = c.options("idle");
  o.safety_poll = 60s;  // the safety poll cannot be what finds it
  auto& idle = c.add("idle", true, &o);
  auto o2 = c.options("scheduler");
  o2.safety_poll = 60s;
  auto& scheduler = c.add("scheduler", false, &o2);
  REQUIRE(c.wait_connected());
  c.run_for(100ms);  // the idle instance's first claim found nothing: it is not armed

  const auto due = Sys::now() + 150ms;
  scheduler.timer->schedule("wake", due, "w");
  REQUIRE(c.run_until([&] { return c.fires.size() == 1; }, 2000ms));
  CHECK(c.fires[0].instance == "idle");
  CHECK(c.fires[0].at >= due - 1ms);
  CHECK(c.fires[0].at - due < 500ms);
  CHECK(idle.timer->stats().wakes >= 1);
}

TEST_CASE("RedisTimer: an instance without a handler never claims, and setting one starts it", "[redis][timer]") {
  REQUIRE_REDIS_SERVER();
  Cluster c;
  auto& a = c.add("a", false);
  REQUIRE(c.wait_connected());
  a.timer->schedule("k", Sys::now(), "p");
  c.run_for(300ms);
  CHECK(c.fires.empty());
  CHECK(a.timer->stats().claims == 0);
  c.listen(a);
  REQUIRE(c.run_until([&] { return c.fires.size() == 1; }, 2000ms));
  CHECK(c.fires[0].attempt == 1);
  // Clearing the handler stops claiming again.
  a.timer->on_fire(nullptr);
  c.run_for(20ms);
  a.timer->schedule("later", Sys::now() + 20ms, "p");
  c.run_for(300ms);
  CHECK(c.fires.size() == 1);
}

TEST_CASE("RedisTimer: schedules and cancels made while Redis is away are applied when it is back", "[redis][timer]") {
  REQUIRE_REDIS_SERVER();
  Cluster c;
  auto& a = c.add("a");
  REQUIRE(c.wait_connected());

  c.redis.kill();
  REQUIRE(c.run_until([&] { return !a.timer->connected(); }, 2000ms));
  a.timer->schedule("during", Sys::now() + 100ms, "d");
  a.timer->schedule("undone", Sys::now() + 100ms, "u");
  a.timer->cancel("undone");  // the last word per key wins
  c.run_for(50ms);
  CHECK(a.timer->queued() == 2);
  CHECK(c.fires.empty());

  REQUIRE(c.redis.start());
  REQUIRE(c.run_until([&] { return c.fires.size() == 1; }, 4000ms));
  c.run_for(300ms);
  CHECK(c.fires.size() == 1);
  CHECK(c.fires[0].key == "during");
  CHECK(a.timer->queued() == 0);
  CHECK(a.timer->stats().dropped == 0);
  CHECK(a.timer->stats().reconnects >= 2);
}

TEST_CASE("RedisTimer: beyond max_queued while Redis is away, operations are refused and reported", "[redis][timer]") {
  REQUIRE_REDIS_SERVER();
  Cluster c;
  auto o = c.options("a");
  o.max_queued = 2;
  std::vector<std::pair<std::error_code, std::string>> errors;
  o.on_error = [&](std::error_code ec, const std::string& key) { errors.emplace_back(ec, key); };
  auto& a = c.add("a", true, &o);
  REQUIRE(c.wait_connected());
  c.redis.kill();
  REQUIRE(c.run_until([&] { return !a.timer->connected(); }, 2000ms));

  a.timer->schedule("one", Sys::now() + 50ms);
  a.timer->schedule("two", Sys::now() + 50ms);
  a.timer->schedule("two", Sys::now() + 60ms);  // same key: replaces the queued one, no new room
  a.timer->schedule("three", Sys::now() + 50ms);
  c.run_for(20ms);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].first == courier::make_error_code(courier::errc::cluster_unavailable));
  CHECK(errors[0].second == "three");
  CHECK(a.timer->stats().dropped == 1);
  CHECK(a.timer->queued() == 2);

  REQUIRE(c.redis.start());
  REQUIRE(c.run_until([&] { return c.fires.size() == 2; }, 4000ms));
  c.run_for(200ms);
  std::set<std::string> keys;
  for (const auto& f : c.fires) keys.insert(f.key);
  CHECK(keys == std::set<std::string>{"one", "two"});
}

TEST_CASE("RedisTimer: a malformed URL is refused at construction", "[timer]") {
  asio::io_context io;
  RedisTimerOptions o;
  o.url = "http://nope";
  CHECK_THROWS_AS(RedisTimer(io, o), std::invalid_argument);
}

TEST_CASE("RedisTimer and its scripts keep every key on one Redis Cluster slot (one hash tag)", "[redis][timer]") {
  REQUIRE_REDIS_SERVER();
  Cluster c;
  auto& a = c.add("a", false);
  REQUIRE(c.wait_connected());
  a.timer->schedule("x", Sys::now() + 60s, "p");
  a.timer->schedule("y", Sys::now() + 60s, "p");
  c.listen(a);
  a.timer->schedule("z", Sys::now(), "p");
  REQUIRE(c.run_until([&] { return c.fires.size() == 1; }));
  const RedisReply keys = c.command({"KEYS", "*"});
  REQUIRE(keys.elements.size() >= 3);  // due, data, fence (lease is empty again after the ack)
  const auto slot = courier::detail::key_slot("{test}");
  for (const auto& k : keys.elements) {
    INFO(k.str);
    CHECK(courier::detail::key_slot(k.str) == slot);
  }
}

TEST_CASE("RedisTimer: keys and payloads are opaque bytes (spaces, newlines, NUL, empty)", "[redis][timer]") {
  REQUIRE_REDIS_SERVER();
  Cluster c;
  auto& a = c.add("a");
  REQUIRE(c.wait_connected());
  static const char kKey[] = "user 42:\nphase\0x";
  static const char kPayload[] = "a b  c\r\n\0\xff end ";
  const std::string odd_key(kKey, sizeof kKey - 1);
  const std::string odd_payload(kPayload, sizeof kPayload - 1);
  a.timer->schedule(odd_key, Sys::now() + 20ms, odd_payload);
  a.timer->schedule("empty", Sys::now() + 20ms);
  REQUIRE(c.run_until([&] { return c.fires.size() == 2; }));
  const auto odd = c.fires_of(odd_key);
  REQUIRE(odd.size() == 1);
  CHECK(odd[0].payload == odd_payload);
  const auto empty = c.fires_of("empty");
  REQUIRE(empty.size() == 1);
  CHECK(empty[0].payload.empty());
  c.run_for(100ms);
  CHECK(c.leftovers() == 0);
}

TEST_CASE("RedisTimer: an operation in flight when the connection breaks is sent again", "[redis][timer]") {
  REQUIRE_REDIS_SERVER();
  Cluster c;
  auto& a = c.add("a");
  REQUIRE(c.wait_connected());
  // A first round trip, so that the timer is fully set up (clock offset measured) before the pause.
  a.timer->schedule("warm-up", Sys::now() + 1h);
  REQUIRE(c.run_until([&] { return a.timer->stats().scheduled == 1; }));
  // Redis holds every client's commands (CLIENT PAUSE): the schedule is sent but not executed
  // when Redis dies, so its reply never comes.
  const RedisReply paused = c.command({"CLIENT", "PAUSE", "3000", "ALL"});
  REQUIRE(paused.type == RedisReply::Type::status);
  const auto before = a.timer->stats().scheduled;
  a.timer->schedule("inflight", Sys::now() + 50ms, "again");
  c.run_for(100ms);
  CHECK(a.timer->stats().scheduled == before);  // not answered
  CHECK(a.timer->queued() == 0);                 // but sent, not queued

  c.redis.kill();
  REQUIRE(c.run_until([&] { return !a.timer->connected(); }, 2000ms));
  CHECK(a.timer->queued() == 1);  // handed back by the broken connection
  REQUIRE(c.redis.start());
  REQUIRE(c.run_until([&] { return c.fires.size() == 1; }, 4000ms));
  c.run_for(200ms);
  CHECK(c.fires.size() == 1);
  CHECK(c.fires[0].key == "inflight");
  CHECK(c.fires[0].payload == "again");
  CHECK(a.timer->queued() == 0);
}
