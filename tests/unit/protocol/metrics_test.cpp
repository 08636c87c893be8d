// The Prometheus rendering of a metrics snapshot, and the token bucket behind the per-socket
// event limit.
#include <catch2/catch.hpp>

#include <courier/metrics.hpp>

#include <regex>
#include <sstream>
#include <string>

#include "engine/rate_limiter.hpp"

using namespace courier;
using namespace std::chrono_literals;

TEST_CASE("to_prometheus: every family typed once, labelled samples, valid exposition lines", "[metrics]") {
  Metrics m;
  m.engine.sessions_polling = 3;
  m.engine.sessions_websocket = 7;
  m.engine.bytes_out = 123456789012ull;
  m.engine.handshakes_refused_rate = 4;
  m.engine.closes[static_cast<std::size_t>(CloseReason::ping_timeout)] = 5;
  m.sockets = 9;
  m.volatile_dropped = 11;
  m.rooms_refused = 2;
  m.disconnects[static_cast<std::size_t>(DisconnectReason::server_shutting_down)] = 6;
  m.adapter.lost_publishes = 8;
  m.adapter.reconnects = 1;
  const std::string text = to_prometheus(m);

  CHECK(text.find("courier_sessions{transport=\"polling\"} 3\n") != std::string::npos);
  CHECK(text.find("courier_sessions{transport=\"websocket\"} 7\n") != std::string::npos);
  CHECK(text.find("courier_bytes_sent_total 123456789012\n") != std::string::npos);
  CHECK(text.find("courier_handshakes_refused_total{limit=\"handshakes_per_second\"} 4\n") != std::string::npos);
  CHECK(text.find("courier_session_closes_total{reason=\"ping timeout\"} 5\n") != std::string::npos);
  CHECK(text.find("courier_sockets 9\n") != std::string::npos);
  CHECK(text.find("courier_volatile_dropped_total 11\n") != std::string::npos);
  CHECK(text.find("courier_limit_hits_total{limit=\"max_rooms_per_socket\"} 2\n") != std::string::npos);
  CHECK(text.find("courier_disconnects_total{reason=\"server shutting down\"} 6\n") != std::string::npos);
  CHECK(text.find("courier_adapter_lost_publishes_total 8\n") != std::string::npos);
  CHECK(text.find("courier_adapter_reconnects_total 1\n") != std::string::npos);

  // Every line is a comment (HELP/TYPE) or `name{labels} value`; every sample's family has one TYPE.
  const std::regex sample(R"(^(courier_[a-z_]+)(\{[a-z_]+="[a-z_ ]+"\})? [0-9]+$)");
  const std::regex type(R"(^# TYPE (courier_[a-z_]+) (counter|gauge)$)");
  std::istringstream in(text);
  std::string line, family;
  std::size_t samples = 0, types = 0;
  while (std::getline(in, line)) {
    std::smatch match;
    if (std::regex_match(line, match, type)) {
      family = match[1];
      ++types;
    } else if (line.rfind("# HELP ", 0) == 0) {
      continue;
    } else {
      REQUIRE(std::regex_match(line, match, sample));
      CHECK(match[1] == family);
      ++samples;
    }
  }
  CHECK(types >= 20);
  CHECK(samples >= types);
  CHECK(text.back() == '\n');
}

TEST_CASE("TokenBucket: a burst, then the sustained rate, and rate 0 is unlimited", "[metrics][limits]") {
  using detail::TokenBucket;
  const auto t0 = TokenBucket::Clock::now();
  TokenBucket b(10, 5, t0);  // 10/s, burst 5
  int taken = 0;
  for (int i = 0; i < 20; ++i) taken += b.take(t0) ? 1 : 0;
  CHECK(taken == 5);
  CHECK_FALSE(b.take(t0 + 50ms));  // half a token
  CHECK(b.take(t0 + 100ms));
  // Sustained at the rate: one every 100 ms keeps passing.
  for (int i = 2; i < 30; ++i) CHECK(b.take(t0 + i * 100ms));
  // A long pause refills to the burst, no more.
  taken = 0;
  for (int i = 0; i < 20; ++i) taken += b.take(t0 + 60s) ? 1 : 0;
  CHECK(taken == 5);
  TokenBucket unlimited;
  for (int i = 0; i < 1000; ++i) REQUIRE(unlimited.take(t0));
}
