// A cluster-timer soak instance: run several against one Redis, kill some, and check that every
// timer fired once (or, for those a killed instance had claimed, again with attempt 2).
//   timer_soak --redis URL --instance NAME [--schedule N --spread-ms D]
//              [--prefix P] [--lease-ms L] [--poll-ms P] [--batch B] [--work-ms W]
//              [--start-ms S] [--lateness-out FILE]
// With --schedule it schedules timers t0..t(N-1), due evenly within D ms from now (from now + S
// with --start-ms); each carries its deadline (microseconds since 1970) as payload. Every instance
// prints one line per timer it fires, flushed at once:  fired <key> <instance> <attempt> <fence>
// --work-ms simulates a handler that works W ms after printing (the timer stays claimed and
// unacknowledged meanwhile: a SIGKILL then shows the re-delivery). It runs until SIGTERM (or
// SIGINT). Diagnostics go to stderr. --lateness-out (benchmarks) writes, at exit, one line per
// fire: "<fire time µs> <lateness µs>" (fire time minus the deadline in the payload).
#include <courier/redis_timer.hpp>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: timer_soak --redis URL --instance NAME [--schedule N --spread-ms D]\n"
               "                  [--prefix P] [--lease-ms L] [--poll-ms P] [--batch B] [--work-ms W]\n"
               "                  [--start-ms S] [--lateness-out FILE]\n");
}

bool number(const char* s, long long& out) {
  char* end = nullptr;
  out = std::strtoll(s, &end, 10);
  return end != s && *end == '\0' && out >= 0;
}

}  // namespace

int main(int argc, char** argv) {
  courier::RedisTimerOptions options;
  options.prefix = "timer_soak";
  long long schedule = -1, spread_ms = 0, work_ms = 0, start_ms = 0;
  std::string lateness_out;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    long long n = 0;
    if (a == "--redis" && has_value) options.url = argv[++i];
    else if (a == "--instance" && has_value) options.instance = argv[++i];
    else if (a == "--prefix" && has_value) options.prefix = argv[++i];
    else if (a == "--schedule" && has_value && number(argv[i + 1], n)) { schedule = n; ++i; }
    else if (a == "--spread-ms" && has_value && number(argv[i + 1], n)) { spread_ms = n; ++i; }
    else if (a == "--lease-ms" && has_value && number(argv[i + 1], n)) { options.lease = std::chrono::milliseconds(n); ++i; }
    else if (a == "--poll-ms" && has_value && number(argv[i + 1], n)) { options.safety_poll = std::chrono::milliseconds(n); ++i; }
    else if (a == "--start-ms" && has_value && number(argv[i + 1], n)) { start_ms = n; ++i; }
    else if (a == "--lateness-out" && has_value) lateness_out = argv[++i];
    else if (a == "--work-ms" && has_value && number(argv[i + 1], n)) { work_ms = n; ++i; }
    else if (a == "--batch" && has_value && number(argv[i + 1], n)) { options.claim_batch = static_cast<std::size_t>(n); ++i; }
    else {
      usage();
      return 2;
    }
  }
  if (options.instance.empty()) {
    usage();
    return 2;
  }

  // Every schedule is kept until Redis is connected, however many.
  if (schedule > 0) options.max_queued = std::max<std::size_t>(options.max_queued, static_cast<std::size_t>(schedule));

  asio::io_context io;
  courier::RedisTimer timer(io, options);
  const std::string instance = options.instance;
  std::vector<std::pair<long long, long long>> lateness;  // fire time µs, lateness µs
  const auto micros = [](std::chrono::system_clock::time_point t) {
    return static_cast<long long>(std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
  };
  const bool measure = !lateness_out.empty();
  timer.on_fire([&instance, work_ms, measure, &lateness, &micros](const courier::TimerEvent& e) {
    if (measure) {
      const long long now = micros(std::chrono::system_clock::now());
      lateness.emplace_back(now, now - std::atoll(std::string(e.payload).c_str()));
    }
    // One write and a flush per fire: a line printed is a fire that happened, even if this
    // process is SIGKILLed right after.
    std::printf("fired %.*s %s %u %llu\n", static_cast<int>(e.key.size()), e.key.data(), instance.c_str(), e.attempt,
                static_cast<unsigned long long>(e.fence));
    std::fflush(stdout);
    if (work_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(work_ms));
  });

  const auto began = std::chrono::steady_clock::now();
  asio::steady_timer progress(io);
  std::function<void()> report_scheduled = [&] {
    if (timer.stats().scheduled + timer.stats().dropped >= static_cast<std::uint64_t>(schedule)) {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began);
      std::fprintf(stderr, "timer_soak %s: %llu schedules applied in Redis after %lld ms\n", instance.c_str(),
                   static_cast<unsigned long long>(timer.stats().scheduled), static_cast<long long>(ms.count()));
      return;
    }
    progress.expires_after(std::chrono::milliseconds(5));
    progress.async_wait([&](const std::error_code& ec) {
      if (!ec) report_scheduled();
    });
  };
  if (schedule > 0) {
    const auto start = std::chrono::system_clock::now() + std::chrono::milliseconds(start_ms);
    for (long long i = 0; i < schedule; ++i) {
      const auto deadline = start + std::chrono::milliseconds(spread_ms * i / schedule);
      // Queued until Redis is connected.
      timer.schedule("t" + std::to_string(i), deadline, std::to_string(micros(deadline)));
    }
    std::fprintf(stderr, "timer_soak %s: scheduling %lld timers within %lld ms\n", instance.c_str(), schedule, spread_ms);
    report_scheduled();
  }

  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const std::error_code&, int) {
    const auto s = timer.stats();
    std::fprintf(stderr, "timer_soak %s: fired %llu (redelivered %llu), claims %llu, wakes %llu, dropped %llu\n",
                 instance.c_str(), static_cast<unsigned long long>(s.fired), static_cast<unsigned long long>(s.redelivered),
                 static_cast<unsigned long long>(s.claims), static_cast<unsigned long long>(s.wakes),
                 static_cast<unsigned long long>(s.dropped));
    timer.close();
    progress.cancel();
    io.stop();
  });
  io.run();
  if (measure) {
    std::FILE* f = std::fopen(lateness_out.c_str(), "w");
    if (!f) {
      std::fprintf(stderr, "timer_soak %s: cannot write %s\n", instance.c_str(), lateness_out.c_str());
      return 1;
    }
    for (const auto& [at, late] : lateness) std::fprintf(f, "%lld %lld\n", at, late);
    std::fclose(f);
  }
  return 0;
}
