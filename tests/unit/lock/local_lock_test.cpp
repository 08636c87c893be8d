// Unit tests for courier::LocalLock (include/courier/lock.hpp, src/lock/local_lock.cpp): leases,
// fencing numbers, compare-and-delete, expiry, and contention from several threads checked by a
// protected resource that refuses stale fences and detects overlapping holders.

#include <courier/error.hpp>
#include <courier/lock.hpp>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using courier::errc;
using courier::LocalLock;
using courier::LockToken;
using courier::make_error_code;

namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

template <class Pred>
bool run_until(asio::io_context& io, Pred pred, std::chrono::milliseconds limit = 3000ms) {
  const auto end = Steady::now() + limit;
  while (!pred()) {
    if (Steady::now() >= end) return false;
    io.restart();
    if (io.run_for(2ms) == 0 && io.stopped()) std::this_thread::sleep_for(100us);
  }
  return true;
}

void run_for(asio::io_context& io, std::chrono::milliseconds d) {
  const auto end = Steady::now() + d;
  while (Steady::now() < end) {
    io.restart();
    if (io.run_for(2ms) == 0 && io.stopped()) std::this_thread::sleep_for(100us);
  }
}

struct LockResult {
  bool done = false;
  std::error_code ec;
  LockToken token;
};

LockResult lock(asio::io_context& io, LocalLock& l, const std::string& key, std::chrono::milliseconds ttl) {
  auto r = std::make_shared<LockResult>();
  l.try_lock(key, ttl, [r](std::error_code ec, LockToken t) {
    r->done = true;
    r->ec = ec;
    r->token = std::move(t);
  });
  REQUIRE(run_until(io, [&] { return r->done; }));
  return *r;
}

std::error_code extend(asio::io_context& io, LocalLock& l, const LockToken& t, std::chrono::milliseconds ttl) {
  std::optional<std::error_code> out;
  l.extend(t, ttl, [&](std::error_code ec) { out = ec; });
  REQUIRE(run_until(io, [&] { return out.has_value(); }));
  return *out;
}

std::error_code unlock(asio::io_context& io, LocalLock& l, const LockToken& t) {
  std::optional<std::error_code> out;
  l.unlock(t, [&](std::error_code ec) { out = ec; });
  REQUIRE(run_until(io, [&] { return out.has_value(); }));
  return *out;
}

}  // namespace

TEST_CASE("LocalLock grants a free key once, with growing fences, and releases by token") {
  asio::io_context io;
  LocalLock locks(io);

  auto a = lock(io, locks, "session:1", 10s);
  REQUIRE_FALSE(a.ec);
  REQUIRE(a.token);
  CHECK(a.token.key == "session:1");
  CHECK(a.token.fence == 1);
  CHECK_FALSE(a.token.owner.empty());
  CHECK(locks.held() == 1);

  auto busy = lock(io, locks, "session:1", 10s);
  CHECK(busy.ec == make_error_code(errc::lock_busy));
  CHECK_FALSE(busy.token);

  // Another key is independent, and its fence is larger (fences grow across keys).
  auto other = lock(io, locks, "session:2", 10s);
  REQUIRE_FALSE(other.ec);
  CHECK(other.token.fence > a.token.fence);

  CHECK_FALSE(unlock(io, locks, a.token));
  CHECK(locks.held() == 1);
  // Released: a second unlock with the same token finds nothing to release.
  CHECK(unlock(io, locks, a.token) == make_error_code(errc::lock_not_held));

  auto again = lock(io, locks, "session:1", 10s);
  REQUIRE_FALSE(again.ec);
  CHECK(again.token.fence > other.token.fence);
  CHECK(again.token.owner != a.token.owner);
}

TEST_CASE("LocalLock callbacks never run inside the call") {
  asio::io_context io;
  LocalLock locks(io);
  bool inside = true;
  bool called_inside = false;
  bool called = false;
  // Called from the io_context's own thread (inside a handler), where the call runs at once.
  asio::post(io, [&] {
    locks.try_lock("k", 1s, [&](std::error_code, LockToken) {
      called = true;
      called_inside = inside;
    });
    inside = false;
  });
  REQUIRE(run_until(io, [&] { return called; }));
  CHECK_FALSE(called_inside);
}

TEST_CASE("LocalLock leases expire, and a stale token can neither extend nor release the new holder") {
  asio::io_context io;
  LocalLock locks(io);
  auto first = lock(io, locks, "k", 200ms);
  REQUIRE_FALSE(first.ec);
  CHECK(lock(io, locks, "k", 200ms).ec == make_error_code(errc::lock_busy));

  run_for(io, 300ms);
  CHECK(locks.held() == 0);
  auto second = lock(io, locks, "k", 10s);
  REQUIRE_FALSE(second.ec);
  CHECK(second.token.fence > first.token.fence);

  CHECK(extend(io, locks, first.token, 10s) == make_error_code(errc::lock_not_held));
  CHECK(unlock(io, locks, first.token) == make_error_code(errc::lock_not_held));
  // The new holder still holds it.
  CHECK(lock(io, locks, "k", 10s).ec == make_error_code(errc::lock_busy));
  CHECK_FALSE(unlock(io, locks, second.token));
}

TEST_CASE("LocalLock extend renews the lease and keeps the fence") {
  asio::io_context io;
  LocalLock locks(io);
  // Generous margins: a loaded machine may stall the loop for tens of milliseconds.
  auto t = lock(io, locks, "k", 500ms);
  REQUIRE_FALSE(t.ec);
  for (int i = 0; i < 5; ++i) {
    run_for(io, 150ms);
    REQUIRE_FALSE(extend(io, locks, t.token, 500ms));
  }
  // 250 ms after the first ttl ran out, it is still held thanks to the extensions.
  CHECK(lock(io, locks, "k", 500ms).ec == make_error_code(errc::lock_busy));
  CHECK(locks.held() == 1);
  // A token with the right owner but a forged fence is refused.
  LockToken forged = t.token;
  forged.fence += 1;
  CHECK(extend(io, locks, forged, 60ms) == make_error_code(errc::lock_not_held));
  CHECK(unlock(io, locks, forged) == make_error_code(errc::lock_not_held));
  CHECK_FALSE(unlock(io, locks, t.token));
}

TEST_CASE("LocalLock frees expired leases without being touched again (bounded memory)") {
  asio::io_context io;
  LocalLock locks(io);
  for (int i = 0; i < 1000; ++i) locks.try_lock("k" + std::to_string(i), 20ms, nullptr);
  REQUIRE(run_until(io, [&] { return locks.held() == 1000; }));
  run_for(io, 60ms);
  CHECK(locks.held() == 0);
  // Every key is free again: try_lock succeeds on each.
  int granted = 0;
  for (int i = 0; i < 1000; ++i)
    locks.try_lock("k" + std::to_string(i), 10s, [&](std::error_code ec, LockToken) { granted += ec ? 0 : 1; });
  REQUIRE(run_until(io, [&] { return granted == 1000; }));
}

TEST_CASE("LocalLock under contention from several threads: never two holders, fences only grow", "[threads]") {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  LocalLock locks(io);
  std::thread loop([&] { io.run(); });

  // The protected resource: refuses a fence smaller than the largest it has accepted, and counts
  // overlapping holders. Checked on the io_context's thread and from the workers.
  std::mutex m;
  std::uint64_t largest_fence = 0;
  int inside = 0;
  int overlaps = 0;
  int stale = 0;
  int grants = 0;

  constexpr int kWorkers = 4;
  constexpr int kRounds = 200;
  std::atomic<int> finished{0};
  std::atomic<int> unexpected{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      for (int r = 0; r < kRounds; ++r) {
        std::promise<std::pair<std::error_code, LockToken>> p;
        auto f = p.get_future();
        locks.try_lock("resource", 5s, [&p](std::error_code ec, LockToken t) { p.set_value({ec, std::move(t)}); });
        auto [ec, token] = f.get();
        if (ec) {
          if (ec != make_error_code(errc::lock_busy)) ++unexpected;  // Catch2 asserts are not thread-safe
          std::this_thread::yield();
          continue;
        }
        {
          std::lock_guard<std::mutex> g(m);
          ++grants;
          if (++inside > 1) ++overlaps;
          if (token.fence <= largest_fence) ++stale;
          largest_fence = std::max(largest_fence, token.fence);
        }
        std::this_thread::sleep_for(50us);  // the critical section
        {
          std::lock_guard<std::mutex> g(m);
          --inside;
        }
        std::promise<std::error_code> u;
        auto uf = u.get_future();
        locks.unlock(token, [&u](std::error_code e) { u.set_value(e); });
        if (uf.get()) ++unexpected;
      }
      ++finished;
    });
  }
  for (auto& t : workers) t.join();
  work.reset();
  io.stop();
  loop.join();
  CHECK(finished == kWorkers);
  CHECK(unexpected == 0);
  CHECK(grants > 0);
  CHECK(overlaps == 0);
  CHECK(stale == 0);
}

TEST_CASE("LocalLock destroyed: later posted calls do nothing and call nothing") {
  asio::io_context io;
  bool called = false;
  {
    LocalLock locks(io);
    std::thread other([&] { locks.try_lock("k", 1s, [&](std::error_code, LockToken) { called = true; }); });
    other.join();  // posted, not run yet
  }
  run_for(io, 20ms);
  CHECK_FALSE(called);
}
