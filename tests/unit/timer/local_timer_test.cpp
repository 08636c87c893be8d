// Unit tests for courier::LocalTimer (include/courier/timer.hpp, src/timer/local_timer.cpp): keyed
// timers on an asio::io_context, driven here with run_for/poll on the test's thread.

#include <courier/timer.hpp>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <catch2/catch.hpp>

#include "../child_process.hpp"

#include <fcntl.h>
#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

using courier::LocalTimer;
using courier::TimerEvent;

using courier_test::exit_code_in_child;

namespace {

using namespace std::chrono_literals;
using Sys = std::chrono::system_clock;
using Steady = std::chrono::steady_clock;

struct Fired {
  std::string key;
  std::string payload;
  std::uint32_t attempt = 0;
  std::uint64_t fence = 0;
  Steady::time_point at;
};

// Runs `io` in short slices until `pred` holds or `limit` passes.
template <class Pred>
bool run_until(asio::io_context& io, Pred pred, std::chrono::milliseconds limit = 3000ms) {
  const auto end = Steady::now() + limit;
  while (!pred()) {
    if (Steady::now() >= end) return false;
    io.restart();
    if (io.run_for(2ms) == 0 && io.stopped()) std::this_thread::sleep_for(100us);  // nothing to do
  }
  return true;
}

// Runs `io` for `d` (lets wrongly scheduled timers show up).
void run_for(asio::io_context& io, Steady::duration d) {
  const auto end = Steady::now() + d;
  while (Steady::now() < end) {
    io.restart();
    io.run_until(end);
    if (io.stopped() && Steady::now() < end) std::this_thread::sleep_for(100us);  // out of work
  }
}

// Runs every handler that is ready now (e.g. the schedule/cancel calls posted from outside).
void drain(asio::io_context& io) {
  io.restart();
  io.poll();
}

std::vector<std::string> keys_of(const std::vector<Fired>& fired) {
  std::vector<std::string> out;
  for (const auto& f : fired) out.push_back(f.key);
  return out;
}

auto recorder(std::vector<Fired>& fired) {
  return [&fired](const TimerEvent& e) {
    fired.push_back(Fired{std::string(e.key), std::string(e.payload), e.attempt, e.fence, Steady::now()});
  };
}

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

bool verbose() { return std::getenv("COURIER_TEST_VERBOSE") != nullptr; }


}  // namespace

TEST_CASE("LocalTimer: fires in deadline order", "[timer]") {
  asio::io_context io;
  LocalTimer timer(io);
  std::vector<Fired> fired;
  timer.on_fire(recorder(fired));
  const auto now = Sys::now();
  timer.schedule("c", now + 60ms, "pc");
  timer.schedule("a", now + 20ms, "pa");
  timer.schedule("e", now + 100ms, "pe");
  timer.schedule("b", now + 40ms, "pb");
  timer.schedule("d", now + 80ms, "pd");
  drain(io);
  CHECK(timer.pending() == 5);
  REQUIRE(run_until(io, [&] { return fired.size() == 5; }));
  run_for(io, 20ms);
  CHECK(keys_of(fired) == std::vector<std::string>{"a", "b", "c", "d", "e"});
  for (const auto& f : fired) CHECK(f.payload == "p" + f.key);
  CHECK(timer.pending() == 0);
}

TEST_CASE("LocalTimer: never fires early", "[timer]") {
  asio::io_context io;
  LocalTimer timer(io);
  std::vector<Steady::time_point> at;
  const auto start = Steady::now();
  timer.schedule_in("a", 30ms, [&] { at.push_back(Steady::now()); });
  timer.schedule_in("b", 0ms, [&] { at.push_back(Steady::now()); });
  REQUIRE(run_until(io, [&] { return at.size() == 2; }));
  CHECK(at[0] >= start);
  CHECK(at[1] - start >= 30ms);
}

TEST_CASE("LocalTimer: deadlines in the past fire promptly", "[timer]") {
  asio::io_context io;
  LocalTimer timer(io);
  std::vector<Fired> fired;
  timer.on_fire(recorder(fired));
  timer.schedule("late", Sys::now() - 10s, "x");
  timer.schedule("later", Sys::now() - 5s, "y");
  REQUIRE(run_until(io, [&] { return fired.size() == 2; }, 1000ms));
  CHECK(keys_of(fired) == std::vector<std::string>{"late", "later"});
}

TEST_CASE("LocalTimer: scheduling a pending key replaces it", "[timer]") {
  asio::io_context io;
  LocalTimer timer(io);
  std::vector<Fired> fired;
  timer.on_fire(recorder(fired));

  SECTION("moved earlier") {
    const auto now = Sys::now();
    timer.schedule("x", now + 400ms, "old");
    timer.schedule("y", now + 60ms, "y");
    drain(io);
    timer.schedule("x", now + 20ms, "new");
    drain(io);
    CHECK(timer.pending() == 2);
    REQUIRE(run_until(io, [&] { return fired.size() == 2; }));
    CHECK(keys_of(fired) == std::vector<std::string>{"x", "y"});
    CHECK(fired[0].payload == "new");
    run_for(io, 20ms);
    CHECK(fired.size() == 2);  // the old deadline is gone
    CHECK(timer.pending() == 0);
  }
  SECTION("moved later") {
    const auto start = Steady::now();
    const auto now = Sys::now();
    timer.schedule("x", now + 20ms, "old");
    timer.schedule("y", now + 50ms, "y");
    drain(io);
    timer.schedule("x", now + 100ms, "new");
    drain(io);
    CHECK(timer.pending() == 2);
    REQUIRE(run_until(io, [&] { return fired.size() == 2; }));
    CHECK(keys_of(fired) == std::vector<std::string>{"y", "x"});
    CHECK(fired[1].payload == "new");
    CHECK(fired[1].at - start >= 90ms);  // not at the old deadline (10 ms of slack for clock conversion)
    run_for(io, 20ms);
    CHECK(fired.size() == 2);
  }
  SECTION("replaced before the io_context ran") {
    const auto now = Sys::now();
    timer.schedule("k", now + 10ms, "1");
    timer.schedule("k", now + 30ms, "2");
    timer.schedule("k", now + 20ms, "3");
    drain(io);
    CHECK(timer.pending() == 1);
    REQUIRE(run_until(io, [&] { return fired.size() == 1; }));
    run_for(io, 30ms);
    REQUIRE(fired.size() == 1);
    CHECK(fired[0].payload == "3");
  }
  SECTION("the earliest timer replaced by a later one rearms for the next earliest") {
    const auto now = Sys::now();
    for (int i = 0; i < 10; ++i) timer.schedule("k" + std::to_string(i), now + std::chrono::milliseconds(20 + 5 * i));
    drain(io);
    timer.schedule("k0", now + 200ms, "moved");
    REQUIRE(run_until(io, [&] { return fired.size() == 10; }));
    CHECK(fired.front().key == "k1");
    CHECK(fired.back().key == "k0");
    CHECK(fired.back().payload == "moved");
  }
}

TEST_CASE("LocalTimer: cancel prevents firing", "[timer]") {
  asio::io_context io;
  LocalTimer timer(io);
  std::vector<Fired> fired;
  timer.on_fire(recorder(fired));
  const auto now = Sys::now();
  timer.schedule("a", now + 20ms);
  timer.schedule("b", now + 30ms);
  timer.schedule("c", now + 40ms);
  timer.schedule("d", now + 10ms);
  timer.cancel("b");
  timer.cancel("d");  // the earliest one: the Asio timer must be rearmed
  timer.cancel("missing");  // no-op
  drain(io);
  CHECK(timer.pending() == 2);
  REQUIRE(run_until(io, [&] { return fired.size() == 2; }));
  run_for(io, 30ms);
  CHECK(keys_of(fired) == std::vector<std::string>{"a", "c"});
  CHECK(timer.pending() == 0);

  SECTION("cancel then schedule again fires once") {
    fired.clear();
    timer.schedule("z", Sys::now() + 10ms, "first");
    timer.cancel("z");
    timer.schedule("z", Sys::now() + 20ms, "second");
    REQUIRE(run_until(io, [&] { return fired.size() == 1; }));
    run_for(io, 20ms);
    REQUIRE(fired.size() == 1);
    CHECK(fired[0].payload == "second");
  }
  SECTION("cancelling everything leaves nothing armed") {
    fired.clear();
    timer.schedule("p", Sys::now() + 10ms);
    timer.schedule("q", Sys::now() + 15ms);
    timer.cancel("q");
    timer.cancel("p");
    drain(io);
    CHECK(timer.pending() == 0);
    run_for(io, 40ms);
    CHECK(fired.empty());
  }
  SECTION("cancel after firing is a no-op") {
    timer.cancel("a");
    drain(io);
    CHECK(timer.pending() == 0);
  }
}

TEST_CASE("LocalTimer: the fire handler gets key, payload, attempt 1 and an increasing fence", "[timer]") {
  asio::io_context io;
  LocalTimer timer(io);
  std::vector<Fired> fired;
  timer.on_fire(recorder(fired));
  const auto now = Sys::now();
  const std::string big_payload(10000, 'p');
  timer.schedule("job:1", now + 10ms, "payload-1");
  timer.schedule("job:2", now + 20ms, "");
  timer.schedule("job:3", now + 30ms, big_payload);
  timer.schedule(std::string("bin\0key", 7), now + 40ms, std::string("\0\xff", 2));
  REQUIRE(run_until(io, [&] { return fired.size() == 4; }));
  CHECK(fired[0].key == "job:1");
  CHECK(fired[0].payload == "payload-1");
  CHECK(fired[1].key == "job:2");
  CHECK(fired[1].payload.empty());
  CHECK(fired[2].payload == big_payload);
  CHECK(fired[3].key == std::string("bin\0key", 7));
  CHECK(fired[3].payload == std::string("\0\xff", 2));
  for (const auto& f : fired) CHECK(f.attempt == 1u);
  for (std::size_t i = 1; i < fired.size(); ++i) CHECK(fired[i].fence > fired[i - 1].fence);
  CHECK(fired[0].fence > 0u);

  // Fences keep growing across later deliveries, including the same key again.
  timer.schedule("job:1", Sys::now() + 5ms, "again");
  REQUIRE(run_until(io, [&] { return fired.size() == 5; }));
  CHECK(fired[4].key == "job:1");
  CHECK(fired[4].payload == "again");
  CHECK(fired[4].fence > fired[3].fence);
}

TEST_CASE("LocalTimer: the handler set last is used", "[timer]") {
  asio::io_context io;
  LocalTimer timer(io);
  int first = 0, second = 0;
  timer.on_fire([&](const TimerEvent&) { ++first; });
  timer.on_fire([&](const TimerEvent&) { ++second; });
  timer.schedule("k", Sys::now() + 5ms);
  REQUIRE(run_until(io, [&] { return first + second == 1; }));
  CHECK(first == 0);
  CHECK(second == 1);
}

TEST_CASE("LocalTimer: without a handler timers are dropped quietly", "[timer]") {
  asio::io_context io;
  LocalTimer timer(io);
  timer.schedule("k", Sys::now() + 5ms, "x");
  drain(io);
  CHECK(timer.pending() == 1);
  REQUIRE(run_until(io, [&] { return timer.pending() == 0; }));
  // A handler set afterwards does not get the dropped timer.
  int calls = 0;
  timer.on_fire([&](const TimerEvent&) { ++calls; });
  run_for(io, 20ms);
  CHECK(calls == 0);
}

TEST_CASE("LocalTimer: schedule_in callbacks", "[timer]") {
  asio::io_context io;
  LocalTimer timer(io);
  std::vector<Fired> handled;
  timer.on_fire(recorder(handled));
  std::vector<std::string> called;

  SECTION("run instead of the handler, in deadline order") {
    timer.schedule_in("c", 40ms, [&] { called.push_back("c"); });
    timer.schedule_in("a", 10ms, [&] { called.push_back("a"); });
    timer.schedule_in("b", 25ms, [&] { called.push_back("b"); });
    drain(io);
    CHECK(timer.pending() == 3);
    REQUIRE(run_until(io, [&] { return called.size() == 3; }));
    CHECK(called == std::vector<std::string>{"a", "b", "c"});
    CHECK(handled.empty());
  }
  SECTION("mixed with handler timers in one order") {
    const auto now = Sys::now();
    timer.schedule("h1", now + 15ms);
    timer.schedule_in("c1", 30ms, [&] { called.push_back("c1"); });
    timer.schedule("h2", now + 45ms);
    REQUIRE(run_until(io, [&] { return called.size() + handled.size() == 3; }));
    CHECK(keys_of(handled) == std::vector<std::string>{"h1", "h2"});
    CHECK(called == std::vector<std::string>{"c1"});
    CHECK(handled[0].at <= handled[1].at);
  }
  SECTION("replacing a callback timer with schedule() uses the handler") {
    timer.schedule_in("k", 10ms, [&] { called.push_back("callback"); });
    timer.schedule("k", Sys::now() + 15ms, "plain");
    REQUIRE(run_until(io, [&] { return handled.size() == 1; }));
    run_for(io, 20ms);
    CHECK(called.empty());
    CHECK(handled[0].payload == "plain");
  }
  SECTION("replacing a handler timer with schedule_in uses the callback") {
    timer.schedule("k", Sys::now() + 10ms, "plain");
    timer.schedule_in("k", 15ms, [&] { called.push_back("callback"); });
    REQUIRE(run_until(io, [&] { return called.size() == 1; }));
    run_for(io, 20ms);
    CHECK(handled.empty());
  }
  SECTION("cancel works for callbacks") {
    timer.schedule_in("k", 10ms, [&] { called.push_back("k"); });
    timer.schedule_in("m", 20ms, [&] { called.push_back("m"); });
    timer.cancel("k");
    REQUIRE(run_until(io, [&] { return called.size() == 1; }));
    run_for(io, 20ms);
    CHECK(called == std::vector<std::string>{"m"});
  }
  SECTION("the callback's captures are released after it ran or was cancelled") {
    auto token = std::make_shared<int>(1);
    timer.schedule_in("ran", 5ms, [token, &called] { called.push_back("ran"); });
    timer.schedule_in("cancelled", 50ms, [token] {});
    timer.cancel("cancelled");
    REQUIRE(run_until(io, [&] { return called.size() == 1; }));
    drain(io);
    CHECK(token.use_count() == 1);
  }
}

TEST_CASE("LocalTimer: callbacks that schedule and cancel other timers while firing", "[timer]") {
  asio::io_context io;
  LocalTimer timer(io);
  std::vector<std::string> order;
  std::vector<Fired> handled;
  timer.on_fire(recorder(handled));

  SECTION("cancel, schedule and re-schedule self from a callback") {
    int a_runs = 0;
    std::function<void()> a = [&] {
      order.push_back("A");
      if (++a_runs == 1) {
        timer.cancel("B");
        timer.cancel("C");
        timer.schedule_in("D", 5ms, [&] { order.push_back("D"); });
        timer.schedule_in("A", 10ms, a);  // its own key: it was already removed, so this adds it again
        timer.schedule("E", Sys::now() + 1ms, "from-callback");
      }
    };
    timer.schedule_in("A", 10ms, a);
    timer.schedule_in("B", 10ms + 100us, [&] { order.push_back("B"); });
    timer.schedule_in("C", 40ms, [&] { order.push_back("C"); });
    REQUIRE(run_until(io, [&] { return a_runs == 2 && handled.size() == 1; }));
    run_for(io, 50ms);
    CHECK(a_runs == 2);
    CHECK(std::count(order.begin(), order.end(), "B") == 0);
    CHECK(std::count(order.begin(), order.end(), "C") == 0);
    CHECK(std::count(order.begin(), order.end(), "D") == 1);
    CHECK(order.front() == "A");
    CHECK(order.back() == "A");
    REQUIRE(handled.size() == 1);
    CHECK(handled[0].key == "E");
    CHECK(handled[0].payload == "from-callback");
    CHECK(timer.pending() == 0);
  }
  SECTION("a handler cancels a timer due in the same wake-up") {
    timer.on_fire([&](const TimerEvent& e) {
      order.emplace_back(e.key);
      timer.cancel(e.key == "x" ? "y" : "x");
    });
    const auto deadline = Sys::now() + 20ms;
    timer.schedule("x", deadline);
    timer.schedule("y", deadline);
    REQUIRE(run_until(io, [&] { return order.size() == 1; }));
    run_for(io, 30ms);
    CHECK(order.size() == 1);
    CHECK(timer.pending() == 0);
  }
  SECTION("a handler replaces a timer due in the same wake-up") {
    // Whichever of the two fires first moves the other one 30 ms later.
    timer.on_fire([&](const TimerEvent& e) {
      order.emplace_back(std::string(e.key) + ":" + std::string(e.payload));
      if (order.size() == 1) timer.schedule(e.key == "p" ? "q" : "p", Sys::now() + 30ms, "moved");
    });
    const auto deadline = Sys::now() + 20ms;
    timer.schedule("p", deadline, "1");
    timer.schedule("q", deadline, "1");
    REQUIRE(run_until(io, [&] { return order.size() == 2; }));
    run_for(io, 20ms);
    REQUIRE(order.size() == 2);
    CHECK(order[0].substr(1) == ":1");
    CHECK(order[1].substr(1) == ":moved");
    CHECK(order[0][0] != order[1][0]);
  }
  SECTION("a handler schedules its own key again (periodic timer)") {
    int ticks = 0;
    timer.on_fire([&](const TimerEvent& e) {
      ++ticks;
      if (ticks < 5) timer.schedule(std::string(e.key), Sys::now() + 2ms, std::to_string(ticks));
    });
    timer.schedule("tick", Sys::now() + 2ms, "0");
    REQUIRE(run_until(io, [&] { return ticks == 5; }));
    run_for(io, 20ms);
    CHECK(ticks == 5);
    CHECK(timer.pending() == 0);
  }
  SECTION("a handler schedules timers that are already due") {
    int fired = 0;
    timer.on_fire([&](const TimerEvent& e) {
      ++fired;
      if (e.key == "root")
        for (int i = 0; i < 100; ++i) timer.schedule("child" + std::to_string(i), Sys::now() - 1s);
    });
    timer.schedule("root", Sys::now() + 5ms);
    REQUIRE(run_until(io, [&] { return fired == 101; }));
    CHECK(timer.pending() == 0);
  }
}

TEST_CASE("LocalTimer: bursts larger than one wake-up's budget all fire", "[timer]") {
  asio::io_context io;
  LocalTimer timer(io);
  constexpr int kCount = 10000;  // more than the 4096 fired per wake-up
  std::vector<int> count(kCount, 0);
  std::size_t total = 0;
  timer.on_fire([&](const TimerEvent& e) {
    ++count[std::stoi(std::string(e.key))];
    ++total;
  });
  const auto deadline = Sys::now() + 10ms;
  for (int i = 0; i < kCount; ++i) timer.schedule(std::to_string(i), deadline);
  REQUIRE(run_until(io, [&] { return total == kCount; }, 5000ms));
  run_for(io, 10ms);
  CHECK(total == static_cast<std::size_t>(kCount));
  CHECK(std::all_of(count.begin(), count.end(), [](int c) { return c == 1; }));
  CHECK(timer.pending() == 0);
}

TEST_CASE("LocalTimer: 100,000 random deadlines fire once each, in deadline order", "[timer]") {
  asio::io_context io;
  LocalTimer timer(io);
  constexpr std::size_t kCount = 100000;
  std::vector<Sys::time_point> deadline(kCount);
  std::vector<Steady::duration> call(kCount);
  std::vector<Sys::time_point> called_at(kCount);
  std::vector<std::uint32_t> fire_count(kCount, 0);
  std::vector<std::uint32_t> order;
  order.reserve(kCount);
  std::uint64_t last_fence = 0;
  bool fences_increase = true;
  timer.on_fire([&](const TimerEvent& e) {
    const auto i = static_cast<std::uint32_t>(std::stoul(std::string(e.payload)));
    ++fire_count[i];
    order.push_back(i);
    if (e.fence <= last_fence) fences_increase = false;
    last_fence = e.fence;
  });

  std::mt19937_64 rng(20240601);
  std::uniform_int_distribution<long> offset_us(0, 200000);
  // The first deadline is 150 ms away. Even if applying the schedule() calls takes longer, they
  // were all posted before the io_context ran, so every one is applied before the first firing.
  const auto base = Sys::now() + 150ms;
  for (std::size_t i = 0; i < kCount; ++i) {
    deadline[i] = base + std::chrono::microseconds(offset_us(rng));
    called_at[i] = Sys::now();
    const auto t0 = Steady::now();
    timer.schedule("t" + std::to_string(i), deadline[i], std::to_string(i));
    call[i] = Steady::now() - t0;
  }
  drain(io);
  // (On a slow build some timers may already have fired during drain().)
  CHECK(timer.pending() + order.size() == kCount);
  REQUIRE(run_until(io, [&] { return order.size() >= kCount; }, 5000ms));
  run_for(io, 10ms);

  CHECK(order.size() == kCount);
  CHECK(std::all_of(fire_count.begin(), fire_count.end(), [](std::uint32_t c) { return c == 1; }));
  CHECK(fences_increase);
  CHECK(timer.pending() == 0);

  // Internally a deadline becomes steady_now + (deadline - system_now), both read inside
  // schedule(); so the effective deadline differs from the requested one by at most the duration
  // of that call. A deadline already past when schedule() runs (a slow build can take longer than
  // the 150 ms head start to schedule them all) is due at once, i.e. at the call. Order is checked
  // against those effective deadlines within exactly that bound.
  std::size_t violations = 0, raw_inversions = 0;
  Sys::time_point max_lower{};  // max over fired timers of (effective deadline - call duration)
  Sys::time_point max_deadline{};
  for (std::size_t n = 0; n < order.size(); ++n) {
    const std::uint32_t i = order[n];
    const auto effective = std::max(deadline[i], called_at[i]);
    const auto jitter = std::chrono::duration_cast<Sys::duration>(call[i]);
    const auto upper = effective + jitter + 1us;
    if (n > 0 && upper < max_lower) ++violations;
    if (n > 0 && effective < max_deadline) ++raw_inversions;
    max_lower = std::max(max_lower, effective - jitter);
    max_deadline = std::max(max_deadline, effective);
  }
  INFO("inversions against requested deadlines (within clock-conversion jitter): " << raw_inversions);
  CHECK(violations == 0);
}

TEST_CASE("LocalTimer: 1,000,000 pending timers can be scheduled and cancelled", "[timer]") {
  asio::io_context io;
  LocalTimer timer(io);
  int fired = 0;
  timer.on_fire([&](const TimerEvent&) { ++fired; });
  constexpr std::size_t kCount = 1000000;

  std::vector<std::uint32_t> ids(kCount);
  std::iota(ids.begin(), ids.end(), 0u);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> offset_ms(0, 3600 * 1000);
  const auto far = Sys::now() + 1h;

  // Scheduled and cancelled from the io_context's thread, as a server's handlers do (calls from
  // other threads would be posted one by one).
  const long rss_before = rss_kib();
  const auto t0 = Steady::now();
  asio::post(io, [&] {
    for (std::size_t i = 0; i < kCount; ++i)
      timer.schedule("timer:" + std::to_string(i), far + std::chrono::milliseconds(offset_ms(rng)));
  });
  drain(io);
  const auto t1 = Steady::now();
  const long rss_full = rss_kib();
  REQUIRE(timer.pending() == kCount);

  std::shuffle(ids.begin(), ids.end(), rng);  // cancel from all over the heap
  const auto t2 = Steady::now();
  std::size_t pending_half = 0;
  asio::post(io, [&] {
    for (std::size_t n = 0; n < kCount; ++n) {
      timer.cancel("timer:" + std::to_string(ids[n]));
      if (n + 1 == kCount / 2) pending_half = timer.pending();
    }
  });
  drain(io);
  const auto t3 = Steady::now();
  CHECK(pending_half == kCount / 2);
  CHECK(timer.pending() == 0);
  CHECK(fired == 0);

  using ms = std::chrono::duration<double, std::milli>;
  const double per_timer = rss_full > 0 && rss_before > 0 ? (rss_full - rss_before) * 1024.0 / kCount : -1;
  if (verbose())
    WARN("1M timers: schedule " << ms(t1 - t0).count() << " ms, cancel " << ms(t3 - t2).count() << " ms, RSS +"
                                << (rss_full - rss_before) << " KiB (" << per_timer << " B/timer), after cancel "
                                << rss_kib() << " KiB");
#if !defined(__SANITIZE_ADDRESS__)
  CHECK(per_timer < 1024);  // generous: ~150 B/timer is the design figure
#else
  CHECK(per_timer < 4096);  // ASan's redzones and quarantine inflate RSS
#endif
}

TEST_CASE("LocalTimer: members are safe from another thread", "[timer][threads]") {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  const std::thread::id runner_id = runner.get_id();
  constexpr int kCount = 10000;
  std::vector<int> count(kCount, 0);  // touched on the io thread only
  std::atomic<int> total{0};
  std::thread::id handler_thread;
  {
    LocalTimer timer(io);
    timer.on_fire([&](const TimerEvent& e) {
      handler_thread = std::this_thread::get_id();
      ++count[std::stoi(std::string(e.key))];
      ++total;
    });
    const auto base = Sys::now() + 200ms;
    for (int i = 0; i < kCount; ++i) {
      timer.schedule(std::to_string(i), base + std::chrono::microseconds(i * 5));
      if (i % 2 == 0) timer.cancel(std::to_string(i));
    }
    const auto end = Steady::now() + 5s;
    while (total.load() < kCount / 2 && Steady::now() < end) std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(20ms);
    std::promise<std::size_t> pending;
    asio::post(io, [&] { pending.set_value(timer.pending()); });
    CHECK(pending.get_future().get() == 0u);
  }
  guard.reset();
  io.stop();
  runner.join();
  CHECK(total.load() == kCount / 2);
  CHECK(handler_thread == runner_id);
  for (int i = 0; i < kCount; ++i) {
    if (count[i] != (i % 2 == 0 ? 0 : 1)) {
      FAIL_CHECK("timer " << i << " fired " << count[i] << " times");
      break;
    }
  }
}

TEST_CASE("LocalTimer: destroying the timer drops its pending timers", "[timer]") {
  asio::io_context io;
  int fired = 0;
  {
    LocalTimer timer(io);
    timer.on_fire([&](const TimerEvent&) { ++fired; });
    // Deadlines far enough out that a sanitizer build's slow drain() cannot reach them.
    timer.schedule("a", Sys::now() + 200ms);
    timer.schedule_in("b", 200ms, [&] { ++fired; });
    drain(io);
    CHECK(timer.pending() == 2);
  }
  run_for(io, 400ms);
  CHECK(fired == 0);

  // Destroyed before its posted calls ran: they run harmlessly later.
  {
    LocalTimer timer(io);
    timer.on_fire([&](const TimerEvent&) { ++fired; });
    timer.schedule("c", Sys::now() + 5ms);
  }
  run_for(io, 100ms);
  CHECK(fired == 0);
}

TEST_CASE("LocalTimer: very long delays do not wrap around and fire at once", "[timer]") {
  // steady_clock::now() + delay must not overflow: a "never" delay such as duration::max() has to
  // stay pending, not wrap around into the past.
  // (Run in a child: the overflow is undefined behaviour, which UBSan builds abort on.)
  const auto check = [](Steady::duration delay) {
    return exit_code_in_child([delay] {
      asio::io_context io;
      LocalTimer timer(io);
      int fired = 0;
      timer.schedule_in("long", delay, [&] { ++fired; });
      run_for(io, 50ms);
      return fired == 0 && timer.pending() == 1 ? 0 : 1;
    });
  };
  CHECK(check(std::chrono::hours(24 * 365)) == 0);        // control: one year
  CHECK(check(std::chrono::hours(24 * 365 * 100)) == 0);  // control: a century still fits
  CHECK(check(Steady::duration::max()) == 0);              // the usual "never" sentinel
}
