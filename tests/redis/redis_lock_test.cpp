// courier::RedisLock against a real redis-server (started here on a free loopback port, stopped by
// PID): grants, fences, compare-and-delete/extend, expiry, outage, and contention between several
// instances on their own threads, checked by a protected resource that refuses stale fences and
// detects overlapping holders.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <courier/error.hpp>
#include <courier/redis_lock.hpp>

#include "redis/redis_cluster.hpp"
#include "redis/redis_connection.hpp"
#include "redis_test_support.hpp"

using courier::errc;
using courier::LockToken;
using courier::make_error_code;
using courier::RedisLock;
using courier::RedisLockOptions;
using redis_test::quiet;
using redis_test::RedisServer;
using redis_test::run_for;
using redis_test::run_until;
using namespace std::chrono_literals;

namespace {

RedisLockOptions options(const RedisServer& s) {
  RedisLockOptions o;
  o.url = s.url();
  o.prefix = "locktest";
  o.logger = quiet();
  return o;
}

struct LockResult {
  bool done = false;
  std::error_code ec;
  LockToken token;
};

LockResult lock(asio::io_context& io, RedisLock& l, const std::string& key, std::chrono::milliseconds ttl) {
  auto r = std::make_shared<LockResult>();
  l.try_lock(key, ttl, [r](std::error_code ec, LockToken t) {
    r->done = true;
    r->ec = ec;
    r->token = std::move(t);
  });
  REQUIRE(run_until(io, [&] { return r->done; }, 5000ms));
  return *r;
}

std::error_code extend(asio::io_context& io, RedisLock& l, const LockToken& t, std::chrono::milliseconds ttl) {
  auto out = std::make_shared<std::optional<std::error_code>>();
  l.extend(t, ttl, [out](std::error_code ec) { *out = ec; });
  REQUIRE(run_until(io, [&] { return out->has_value(); }, 5000ms));
  return **out;
}

std::error_code unlock(asio::io_context& io, RedisLock& l, const LockToken& t) {
  auto out = std::make_shared<std::optional<std::error_code>>();
  l.unlock(t, [out](std::error_code ec) { *out = ec; });
  REQUIRE(run_until(io, [&] { return out->has_value(); }, 5000ms));
  return **out;
}

}  // namespace

TEST_CASE("RedisLock: one holder per key across instances, growing fences, compare-and-delete", "[redis][lock]") {
  REQUIRE_REDIS_SERVER();
  RedisServer server;
  REQUIRE(server.start());
  asio::io_context io;
  RedisLock a(io, options(server));
  RedisLock b(io, options(server));

  // Calls made before the connection is up wait for it (connect_wait) instead of failing.
  auto first = lock(io, a, "session:1", 10s);
  REQUIRE_FALSE(first.ec);
  REQUIRE(first.token);
  CHECK(first.token.key == "session:1");

  auto busy = lock(io, b, "session:1", 10s);
  CHECK(busy.ec == make_error_code(errc::lock_busy));
  CHECK_FALSE(busy.token);

  auto other = lock(io, b, "session:2", 10s);
  REQUIRE_FALSE(other.ec);
  CHECK(other.token.fence > first.token.fence);

  // b cannot release or extend a's lock with its own token for another key.
  LockToken wrong = other.token;
  wrong.key = "session:1";
  CHECK(unlock(io, b, wrong) == make_error_code(errc::lock_not_held));
  CHECK(extend(io, b, wrong, 10s) == make_error_code(errc::lock_not_held));
  // A forged fence on the right owner is refused too.
  LockToken forged = first.token;
  forged.fence += 100;
  CHECK(unlock(io, b, forged) == make_error_code(errc::lock_not_held));
  CHECK(lock(io, b, "session:1", 10s).ec == make_error_code(errc::lock_busy));

  // Any instance can release with the right token (it is a value: it may travel).
  CHECK_FALSE(unlock(io, b, first.token));
  CHECK(unlock(io, a, first.token) == make_error_code(errc::lock_not_held));
  auto again = lock(io, b, "session:1", 10s);
  REQUIRE_FALSE(again.ec);
  CHECK(again.token.fence > other.token.fence);
  CHECK(again.token.owner != first.token.owner);

  // An empty token holds nothing.
  CHECK(unlock(io, a, LockToken{}) == make_error_code(errc::lock_not_held));

  // Every key lives under one hash tag: one Redis Cluster slot, as the scripts require.
  courier::detail::RedisUrl u;
  REQUIRE(courier::detail::RedisUrl::parse(server.url(), u));
  auto probe = std::make_shared<courier::detail::RedisConnection>(io, u, "probe", quiet());
  probe->start();
  REQUIRE(run_until(io, [&] { return probe->ready(); }, 2000ms));
  std::optional<courier::detail::RedisReply> keys;
  probe->command({"KEYS", "*"}, [&](std::error_code, courier::detail::RedisReply r) { keys = std::move(r); });
  REQUIRE(run_until(io, [&] { return keys.has_value(); }, 2000ms));
  REQUIRE(keys->elements.size() == 3);  // two locks and the fence counter
  for (const auto& k : keys->elements) {
    INFO(k.str);
    CHECK(courier::detail::key_slot(k.str) == courier::detail::key_slot("{locktest}"));
  }
  probe->close();
}

TEST_CASE("RedisLock: leases expire, extend renews, a stale token cannot touch the new holder", "[redis][lock]") {
  REQUIRE_REDIS_SERVER();
  RedisServer server;
  REQUIRE(server.start());
  asio::io_context io;
  RedisLock a(io, options(server));
  RedisLock b(io, options(server));

  // Generous margins: a loaded machine may stall the loop for tens of milliseconds.
  auto held = lock(io, a, "k", 500ms);
  REQUIRE_FALSE(held.ec);
  for (int i = 0; i < 5; ++i) {
    run_for(io, 150ms);
    REQUIRE_FALSE(extend(io, a, held.token, 500ms));
  }
  // 250 ms later than its first ttl, still held thanks to extend.
  CHECK(lock(io, b, "k", 500ms).ec == make_error_code(errc::lock_busy));

  run_for(io, 700ms);  // no more extensions: it expires
  auto next = lock(io, b, "k", 10s);
  REQUIRE_FALSE(next.ec);
  CHECK(next.token.fence > held.token.fence);
  CHECK(extend(io, a, held.token, 10s) == make_error_code(errc::lock_not_held));
  CHECK(unlock(io, a, held.token) == make_error_code(errc::lock_not_held));
  CHECK(lock(io, a, "k", 10s).ec == make_error_code(errc::lock_busy));
}

TEST_CASE("RedisLock: while Redis is away calls wait connect_wait, then fail, and they succeed once it is back",
          "[redis][lock]") {
  REQUIRE_REDIS_SERVER();
  RedisServer server;
  REQUIRE(server.start());
  asio::io_context io;
  auto o = options(server);
  o.connect_wait = 300ms;
  RedisLock a(io, o);
  auto held = lock(io, a, "k", 10s);
  REQUIRE_FALSE(held.ec);

  server.kill();
  REQUIRE(run_until(io, [&] { return !a.connected(); }, 2000ms));
  const auto t0 = std::chrono::steady_clock::now();
  auto failed = lock(io, a, "other", 10s);
  CHECK(failed.ec == make_error_code(errc::cluster_unavailable));
  CHECK(std::chrono::steady_clock::now() - t0 >= 250ms);
  CHECK(unlock(io, a, held.token) == make_error_code(errc::cluster_unavailable));

  // A call made while away succeeds when Redis is back within connect_wait (a fresh Redis here:
  // no persistence, so the old lock is gone).
  auto r = std::make_shared<LockResult>();
  a.try_lock("other", 10s, [r](std::error_code ec, LockToken t) {
    r->done = true;
    r->ec = ec;
    r->token = std::move(t);
  });
  run_for(io, 20ms);
  REQUIRE(server.start());
  REQUIRE(run_until(io, [&] { return r->done; }, 3000ms));
  CHECK_FALSE(r->ec);
  CHECK(r->token);
}

TEST_CASE("RedisLock: contending instances on their own threads never overlap, and stale holders are fenced off",
          "[redis][lock]") {
  REQUIRE_REDIS_SERVER();
  RedisServer server;
  REQUIRE(server.start());

  // The protected resource. A write carries the writer's fence: refused if smaller than the
  // largest fence accepted so far. `inside` counts holders in the critical section of well-behaved
  // holders (who finish within their ttl): it must never exceed one.
  struct Resource {
    std::mutex m;
    std::uint64_t largest = 0;
    int inside = 0;
    int overlaps = 0;
    int accepted = 0;
    int refused = 0;
    bool write(std::uint64_t fence) {
      std::lock_guard<std::mutex> g(m);
      if (fence < largest) {
        ++refused;
        return false;
      }
      largest = fence;
      ++accepted;
      return true;
    }
  } resource;

  constexpr int kInstances = 4;
  const auto run_time = 1500ms;
  std::atomic<int> grants{0}, unexpected{0}, stale_refused{0}, stale_attempts{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      asio::io_context io;
      auto work = asio::make_work_guard(io);
      RedisLock locks(io, options(server));
      std::thread loop([&] { io.run(); });
      const auto end = std::chrono::steady_clock::now() + run_time;
      int round = 0;
      while (std::chrono::steady_clock::now() < end) {
        ++round;
        // Instance 0 sometimes stalls past its ttl (a GC pause, a swapped-out process): its lease
        // ends, another instance takes the lock, and its late write must be refused by the fence.
        // (Not near the end, when the others stop contending and nobody would write meanwhile.)
        const bool stall = i == 0 && round % 5 == 0 && end - std::chrono::steady_clock::now() > 500ms;
        const auto ttl = stall ? 30ms : 2000ms;
        std::promise<std::pair<std::error_code, LockToken>> p;
        auto f = p.get_future();
        locks.try_lock("resource", ttl, [&p](std::error_code ec, LockToken t) { p.set_value({ec, std::move(t)}); });
        auto [ec, token] = f.get();
        if (ec) {
          if (ec != make_error_code(errc::lock_busy)) ++unexpected;  // Catch2 asserts are not thread-safe
          std::this_thread::sleep_for(200us);
          continue;
        }
        ++grants;
        if (stall) {
          ++stale_attempts;
          std::this_thread::sleep_for(120ms);  // far past the 30 ms ttl; others got the lock meanwhile
          if (!resource.write(token.fence)) ++stale_refused;
          continue;  // its unlock would find the lock not held; it just leaves
        }
        {
          std::lock_guard<std::mutex> g(resource.m);
          if (++resource.inside > 1) ++resource.overlaps;
        }
        if (!resource.write(token.fence)) ++unexpected;  // a live holder is never refused
        std::this_thread::sleep_for(300us);
        {
          std::lock_guard<std::mutex> g(resource.m);
          --resource.inside;
        }
        std::promise<std::error_code> u;
        auto uf = u.get_future();
        locks.unlock(token, [&u](std::error_code e) { u.set_value(e); });
        if (uf.get()) ++unexpected;
      }
      work.reset();
      locks.close();
      loop.join();
    });
  }
  for (auto& t : threads) t.join();

  INFO("grants " << grants << ", accepted " << resource.accepted << ", stale attempts " << stale_attempts
                 << ", stale refused " << stale_refused);
  CHECK(unexpected == 0);
  CHECK(resource.overlaps == 0);
  CHECK(grants > 20);
  CHECK(stale_attempts > 0);
  // Every stalled holder found a newer holder had written meanwhile: its write was refused.
  CHECK(stale_refused == stale_attempts);
}

TEST_CASE("RedisLock: a malformed URL is refused at construction", "[lock]") {
  asio::io_context io;
  RedisLockOptions o;
  o.url = "http://nope";
  CHECK_THROWS_AS(RedisLock(io, o), std::invalid_argument);
}
