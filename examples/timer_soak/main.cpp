// A cluster-timer soak instance: run several against one Redis, kill some, and check that every
// timer fired once (or, for those a killed instance had claimed, again with attempt 2).
//   timer_soak --redis URL --instance NAME [--schedule N --spread-ms D]
//              [--prefix P] [--lease-ms L] [--poll-ms P] [--batch B] [--work-ms W]
// With --schedule it schedules timers t0..t(N-1), due evenly within D ms from now. Every instance
// prints one line per timer it fires, flushed at once:  fired <key> <instance> <attempt> <fence>
// --work-ms simulates a handler that works W ms after printing (the timer stays claimed and
// unacknowledged meanwhile: a SIGKILL then shows the re-delivery). It runs until SIGTERM (or
// SIGINT). Diagnostics go to stderr.
#include <courier/redis_timer.hpp>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: timer_soak --redis URL --instance NAME [--schedule N --spread-ms D]\n"
               "                  [--prefix P] [--lease-ms L] [--poll-ms P] [--batch B] [--work-ms W]\n");
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
  long long schedule = -1, spread_ms = 0, work_ms = 0;
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

  asio::io_context io;
  courier::RedisTimer timer(io, options);
  const std::string instance = options.instance;
  timer.on_fire([&instance, work_ms](const courier::TimerEvent& e) {
    // One write and a flush per fire: a line printed is a fire that happened, even if this
    // process is SIGKILLed right after.
    std::printf("fired %.*s %s %u %llu\n", static_cast<int>(e.key.size()), e.key.data(), instance.c_str(), e.attempt,
                static_cast<unsigned long long>(e.fence));
    std::fflush(stdout);
    if (work_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(work_ms));
  });

  if (schedule > 0) {
    const auto start = std::chrono::system_clock::now();
    for (long long i = 0; i < schedule; ++i) {
      const auto offset = std::chrono::milliseconds(spread_ms * i / schedule);
      timer.schedule("t" + std::to_string(i), start + offset);  // queued until Redis is connected
    }
    std::fprintf(stderr, "timer_soak %s: scheduled %lld timers within %lld ms\n", instance.c_str(), schedule, spread_ms);
  }

  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const std::error_code&, int) {
    const auto s = timer.stats();
    std::fprintf(stderr, "timer_soak %s: fired %llu (redelivered %llu), claims %llu, wakes %llu, dropped %llu\n",
                 instance.c_str(), static_cast<unsigned long long>(s.fired), static_cast<unsigned long long>(s.redelivered),
                 static_cast<unsigned long long>(s.claims), static_cast<unsigned long long>(s.wakes),
                 static_cast<unsigned long long>(s.dropped));
    timer.close();
    io.stop();
  });
  io.run();
  return 0;
}
