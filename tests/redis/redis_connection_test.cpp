// courier::detail::RedisConnection against a real redis-server (started here on a free loopback
// port, stopped by PID). Every wait is bounded.
#include <catch2/catch.hpp>

#include <dlfcn.h>
#include <netdb.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <courier/log.hpp>

#include "redis/redis_connection.hpp"
#include "redis_test_support.hpp"

using courier::detail::RedisConnection;
using courier::detail::RedisReply;
using courier::detail::RedisUrl;
using redis_test::quiet;
using redis_test::RedisServer;
using redis_test::run_for;
using redis_test::run_until;
using namespace std::chrono_literals;

namespace {

// A DNS under the test's control, for names under the reserved .invalid TLD only (everything
// else goes to the real getaddrinfo untouched). Those lookups are the real getaddrinfo (which
// fails for them) answering only after slow_dns_delay_ms, the way a DNS server in trouble does;
// the test that uses it also learns on which thread each lookup ran. The Redis side stays real.
std::atomic<int> slow_dns_delay_ms{0};
std::atomic<int> slow_dns_started{0};
std::atomic<int> slow_dns_finished{0};
std::atomic<int> slow_dns_on_watched_thread{0};
std::atomic<std::thread::id> slow_dns_watched_thread{};

bool under_invalid_tld(const char* node) {
  if (!node) return false;
  const std::string_view n(node);
  const std::string_view tld(".invalid");
  return n.size() >= tld.size() && n.substr(n.size() - tld.size()) == tld;
}

// A name that resolves to ::1 first, then 127.0.0.1: what getaddrinfo("localhost") gives on
// many hosts (not necessarily this one), made deterministic.
constexpr const char* kIpv6FirstName = "ipv6-first.invalid";

}  // namespace

// Interposes the C library's getaddrinfo for this test binary (the executable's definition comes
// first in the dynamic symbol lookup), forwarding every call to the next definition.
extern "C" int getaddrinfo(const char* node, const char* service, const addrinfo* hints, addrinfo** res) noexcept {
  using Fn = int (*)(const char*, const char*, const addrinfo*, addrinfo**);
  static const Fn next = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, "getaddrinfo"));
  if (!under_invalid_tld(node)) return next(node, service, hints, res);
  if (std::string_view(node) == kIpv6FirstName) {
    addrinfo numeric{};
    numeric.ai_flags = AI_NUMERICHOST | (hints ? hints->ai_flags & AI_NUMERICSERV : 0);
    numeric.ai_socktype = hints ? hints->ai_socktype : 0;
    numeric.ai_protocol = hints ? hints->ai_protocol : 0;
    addrinfo* v6 = nullptr;
    addrinfo* v4 = nullptr;
    const int rc = next("127.0.0.1", service, &numeric, &v4);
    if (rc != 0) return rc;
    if (next("::1", service, &numeric, &v6) != 0 || !v6) {
      *res = v4;
      return 0;
    }
    addrinfo* tail = v6;
    while (tail->ai_next) tail = tail->ai_next;
    tail->ai_next = v4;  // glibc's freeaddrinfo frees node by node: one chain is freed whole
    *res = v6;
    return 0;
  }
  ++slow_dns_started;
  if (std::this_thread::get_id() == slow_dns_watched_thread.load()) ++slow_dns_on_watched_thread;
  std::this_thread::sleep_for(std::chrono::milliseconds(slow_dns_delay_ms.load()));
  const int rc = next(node, service, hints, res);
  ++slow_dns_finished;
  return rc;
}

namespace {

std::shared_ptr<RedisConnection> make_connection(asio::io_context& io, const std::string& url, const std::string& name,
                                                 bool start = true) {
  RedisUrl u;
  REQUIRE(RedisUrl::parse(url, u));
  auto c = std::make_shared<RedisConnection>(io, u, name, quiet());
  if (start) c->start();
  return c;
}

struct Result {
  bool done = false;
  std::error_code ec;
  RedisReply reply;
};

// Sends one command and runs the loop until its reply (bounded).
Result call(asio::io_context& io, RedisConnection& c, std::vector<std::string> args,
            std::chrono::milliseconds timeout = 5000ms) {
  auto r = std::make_shared<Result>();
  c.command(std::move(args), [r](std::error_code ec, RedisReply reply) {
    r->done = true;
    r->ec = ec;
    r->reply = std::move(reply);
  });
  run_until(io, [&] { return r->done; }, timeout);
  return *r;
}

bool wait_ready(asio::io_context& io, std::initializer_list<RedisConnection*> cs, std::chrono::milliseconds timeout = 5000ms) {
  return run_until(
      io,
      [&] {
        for (auto* c : cs)
          if (!c->ready()) return false;
        return true;
      },
      timeout);
}

// PUBSUB NUMSUB <channel> through `c`, until it reports `n` subscribers (bounded).
bool wait_numsub(asio::io_context& io, RedisConnection& c, const std::string& channel, long long n,
                 std::chrono::milliseconds timeout = 3000ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    Result r = call(io, c, {"PUBSUB", "NUMSUB", channel}, 1000ms);
    if (r.done && !r.ec && r.reply.elements.size() == 2 && r.reply.elements[1].integer == n) return true;
    run_for(io, 10ms);
  }
  return false;
}

bool wait_numpat(asio::io_context& io, RedisConnection& c, long long n, std::chrono::milliseconds timeout = 3000ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    Result r = call(io, c, {"PUBSUB", "NUMPAT"}, 1000ms);
    if (r.done && !r.ec && r.reply.type == RedisReply::Type::integer && r.reply.integer == n) return true;
    run_for(io, 10ms);
  }
  return false;
}

std::vector<std::string> strings_of(const RedisReply& r) {
  std::vector<std::string> out;
  for (const auto& e : r.elements) out.push_back(e.str);
  return out;
}

}  // namespace

TEST_CASE("RedisConnection: SET/GET/INCR round trips", "[redis][connection]") {
  REQUIRE_REDIS_SERVER();
  RedisServer server;
  REQUIRE(server.start());
  asio::io_context io;
  auto c = make_connection(io, server.url(), "rt");
  REQUIRE(wait_ready(io, {c.get()}));

  Result r = call(io, *c, {"SET", "k", "v"});
  REQUIRE(r.done);
  CHECK_FALSE(r.ec);
  CHECK(r.reply.type == RedisReply::Type::status);
  CHECK(r.reply.str == "OK");

  r = call(io, *c, {"GET", "k"});
  REQUIRE(r.done);
  CHECK(r.reply.type == RedisReply::Type::string);
  CHECK(r.reply.str == "v");

  r = call(io, *c, {"GET", "missing"});
  REQUIRE(r.done);
  CHECK_FALSE(r.ec);
  CHECK(r.reply.type == RedisReply::Type::nil);

  for (long long i = 1; i <= 3; ++i) {
    r = call(io, *c, {"INCR", "n"});
    REQUIRE(r.done);
    CHECK(r.reply.type == RedisReply::Type::integer);
    CHECK(r.reply.integer == i);
  }

  // An error reply is a reply (no error code), with Redis's message.
  r = call(io, *c, {"INCR", "k"});
  REQUIRE(r.done);
  CHECK_FALSE(r.ec);
  CHECK(r.reply.type == RedisReply::Type::error);
  CHECK(r.reply.str.rfind("ERR", 0) == 0);

  // Binary-safe arguments and replies.
  const std::string bin("a\0b\r\n\xff\x00z", 8);
  r = call(io, *c, {"SET", "bin", bin});
  REQUIRE(r.done);
  r = call(io, *c, {"GET", "bin"});
  REQUIRE(r.done);
  CHECK(r.reply.str == bin);

  // Arrays.
  r = call(io, *c, {"RPUSH", "list", "a", "b", "c"});
  REQUIRE(r.done);
  CHECK(r.reply.integer == 3);
  r = call(io, *c, {"LRANGE", "list", "0", "-1"});
  REQUIRE(r.done);
  REQUIRE(r.reply.type == RedisReply::Type::array);
  CHECK(strings_of(r.reply) == std::vector<std::string>{"a", "b", "c"});

  // A 1 MB value: the reply spans many socket reads.
  std::string big(1 << 20, 'x');
  for (std::size_t i = 0; i < big.size(); i += 997) big[i] = static_cast<char>('a' + i % 26);
  r = call(io, *c, {"SET", "big", big});
  REQUIRE(r.done);
  CHECK(r.reply.str == "OK");
  r = call(io, *c, {"GET", "big"});
  REQUIRE(r.done);
  CHECK(r.reply.str.size() == big.size());
  CHECK(r.reply.str == big);
  c->close();
}

TEST_CASE("RedisConnection: 10,000 pipelined INCRs are all answered, in order", "[redis][connection]") {
  REQUIRE_REDIS_SERVER();
  RedisServer server;
  REQUIRE(server.start());
  asio::io_context io;
  auto c = make_connection(io, server.url(), "pipeline");
  REQUIRE(wait_ready(io, {c.get()}));

  constexpr int kN = 10000;
  std::vector<long long> got;
  got.reserve(kN);
  int errors = 0;
  std::vector<int> order;
  order.reserve(kN);
  for (int i = 0; i < kN; ++i) {
    c->command({"INCR", "counter"}, [&, i](std::error_code ec, RedisReply r) {
      if (ec || r.type != RedisReply::Type::integer) ++errors;
      got.push_back(r.integer);
      order.push_back(i);
    });
  }
  REQUIRE(run_until(io, [&] { return got.size() == static_cast<std::size_t>(kN); }, 10000ms));
  CHECK(errors == 0);
  bool in_order = true;
  for (int i = 0; i < kN; ++i)
    if (got[static_cast<std::size_t>(i)] != i + 1 || order[static_cast<std::size_t>(i)] != i) in_order = false;
  CHECK(in_order);
  Result r = call(io, *c, {"GET", "counter"});
  CHECK(r.reply.str == std::to_string(kN));
  c->close();
}

TEST_CASE("RedisConnection: PUBLISH reaches SUBSCRIBE'd and PSUBSCRIBE'd connections as pushes", "[redis][connection]") {
  REQUIRE_REDIS_SERVER();
  RedisServer server;
  REQUIRE(server.start());
  asio::io_context io;
  auto pub = make_connection(io, server.url(), "pub");
  auto sub = make_connection(io, server.url(), "sub", false);
  auto psub = make_connection(io, server.url(), "psub", false);
  std::vector<RedisReply> sub_pushes, psub_pushes;
  sub->set_push_handler([&](const RedisReply& r) { sub_pushes.push_back(r); });
  psub->set_push_handler([&](const RedisReply& r) { psub_pushes.push_back(r); });
  // Subscribing before the connection is up: sent once it is.
  sub->subscribe("SUBSCRIBE", {"news", "other"});
  sub->start();
  psub->start();
  REQUIRE(wait_ready(io, {pub.get(), sub.get(), psub.get()}));
  psub->subscribe("PSUBSCRIBE", {"ne*"});
  REQUIRE(wait_numsub(io, *pub, "news", 1));
  REQUIRE(wait_numpat(io, *pub, 1));

  const std::string payload("hello\0world\r\n", 13);
  Result r = call(io, *pub, {"PUBLISH", "news", payload});
  REQUIRE(r.done);
  CHECK_FALSE(r.ec);
  CHECK(r.reply.integer == 2);  // two receivers
  REQUIRE(run_until(io, [&] { return sub_pushes.size() == 1 && psub_pushes.size() == 1; }, 3000ms));

  REQUIRE(sub_pushes[0].type == RedisReply::Type::array);
  CHECK(strings_of(sub_pushes[0]) == std::vector<std::string>{"message", "news", payload});
  REQUIRE(psub_pushes[0].type == RedisReply::Type::array);
  CHECK(strings_of(psub_pushes[0]) == std::vector<std::string>{"pmessage", "ne*", "news", payload});

  // A channel only the pattern matches, and one only the SUBSCRIBE names.
  r = call(io, *pub, {"PUBLISH", "nevermind", "p-only"});
  CHECK(r.reply.integer == 1);
  r = call(io, *pub, {"PUBLISH", "other", "s-only"});
  CHECK(r.reply.integer == 1);
  REQUIRE(run_until(io, [&] { return sub_pushes.size() == 2 && psub_pushes.size() == 2; }, 3000ms));
  CHECK(strings_of(sub_pushes[1]) == std::vector<std::string>{"message", "other", "s-only"});
  CHECK(strings_of(psub_pushes[1]) == std::vector<std::string>{"pmessage", "ne*", "nevermind", "p-only"});

  // Unsubscribe: the channel gets no more pushes on that connection.
  sub->unsubscribe("SUBSCRIBE", {"news"});
  REQUIRE(wait_numsub(io, *pub, "news", 0));
  r = call(io, *pub, {"PUBLISH", "news", "late"});
  CHECK(r.reply.integer == 1);  // the pattern only
  REQUIRE(run_until(io, [&] { return psub_pushes.size() == 3; }, 3000ms));
  run_for(io, 100ms);
  CHECK(sub_pushes.size() == 2);

  // Many pushes in a burst arrive complete and in order.
  constexpr int kBurst = 500;
  for (int i = 0; i < kBurst; ++i) pub->command({"PUBLISH", "other", std::to_string(i)});
  REQUIRE(run_until(io, [&] { return sub_pushes.size() == 2 + kBurst; }, 5000ms));
  bool ordered = true;
  for (int i = 0; i < kBurst; ++i)
    if (sub_pushes[static_cast<std::size_t>(2 + i)].elements.at(2).str != std::to_string(i)) ordered = false;
  CHECK(ordered);
  pub->close();
  sub->close();
  psub->close();
}

TEST_CASE("RedisConnection: commands fail at once while Redis is down (no buffering)", "[redis][connection]") {
  REQUIRE_REDIS_SERVER();
  asio::io_context io;

  SECTION("never connected") {
    const std::uint16_t port = redis_test::free_port();  // nothing listens there
    auto c = make_connection(io, "redis://127.0.0.1:" + std::to_string(port), "down");
    run_for(io, 200ms);
    CHECK_FALSE(c->ready());
    bool called = false;
    std::error_code got;
    c->command({"PING"}, [&](std::error_code ec, RedisReply) {
      called = true;
      got = ec;
    });
    CHECK(called);  // synchronously, before any loop iteration
    CHECK(got == std::make_error_code(std::errc::not_connected));
    c->close();
  }

  SECTION("after Redis died: in-flight commands fail, new ones fail at once, none replayed later") {
    RedisServer server;
    REQUIRE(server.start());
    auto c = make_connection(io, server.url(), "dies");
    REQUIRE(wait_ready(io, {c.get()}));

    // A command in flight when Redis dies gets an error, not silence.
    Result blocked;
    c->command({"BLPOP", "nothing", "30"}, [&](std::error_code ec, RedisReply r) {
      blocked.done = true;
      blocked.ec = ec;
      blocked.reply = std::move(r);
    });
    run_for(io, 50ms);
    CHECK_FALSE(blocked.done);
    server.kill();
    REQUIRE(run_until(io, [&] { return blocked.done; }, 2000ms));
    CHECK(blocked.ec);
    REQUIRE(run_until(io, [&] { return !c->ready(); }, 2000ms));

    bool called = false;
    std::error_code got;
    c->command({"INCR", "x"}, [&](std::error_code ec, RedisReply) {
      called = true;
      got = ec;
    });
    CHECK(called);
    CHECK(got == std::make_error_code(std::errc::not_connected));
    // A command without callback while down is dropped quietly.
    c->command({"INCR", "x"});

    // Back on the same port (empty, no persistence): the failed INCRs were not replayed.
    REQUIRE(server.start());
    REQUIRE(wait_ready(io, {c.get()}, 3000ms));
    Result r = call(io, *c, {"GET", "x"});
    REQUIRE(r.done);
    CHECK_FALSE(r.ec);
    CHECK(r.reply.type == RedisReply::Type::nil);
    c->close();
  }
}

TEST_CASE("RedisConnection: reconnects on its own after a crash and restores subscriptions", "[redis][connection]") {
  REQUIRE_REDIS_SERVER();
  RedisServer server;
  REQUIRE(server.start());
  asio::io_context io;
  auto pub = make_connection(io, server.url(), "pub");
  auto sub = make_connection(io, server.url(), "sub", false);
  std::vector<RedisReply> pushes;
  int ready_calls = 0;
  sub->set_push_handler([&](const RedisReply& r) { pushes.push_back(r); });
  sub->set_ready_handler([&] { ++ready_calls; });
  sub->subscribe("SUBSCRIBE", {"news"});
  sub->subscribe("PSUBSCRIBE", {"ev*"});
  sub->start();
  REQUIRE(wait_ready(io, {pub.get(), sub.get()}));
  CHECK(ready_calls == 1);
  REQUIRE(wait_numsub(io, *pub, "news", 1));
  REQUIRE(wait_numpat(io, *pub, 1));
  Result r = call(io, *pub, {"PUBLISH", "news", "before"});
  CHECK(r.reply.integer == 1);
  REQUIRE(run_until(io, [&] { return pushes.size() == 1; }, 2000ms));

  server.kill();
  REQUIRE(run_until(io, [&] { return !sub->ready() && !pub->ready(); }, 2000ms));
  // Stay down long enough for the backoff to reach its cap.
  run_for(io, 2000ms);
  CHECK_FALSE(sub->ready());

  REQUIRE(server.start());
  const auto up = std::chrono::steady_clock::now();
  REQUIRE(wait_ready(io, {pub.get(), sub.get()}, 3000ms));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - up);
  INFO("reconnected " << took.count() << " ms after Redis answered PING again");
  CHECK(took < 1000ms);
  CHECK(sub->reconnects() == 1);
  CHECK(pub->reconnects() == 1);
  CHECK(ready_calls == 2);

  // The subscriptions came back by themselves: a publish after the restart is received.
  REQUIRE(wait_numsub(io, *pub, "news", 1));
  REQUIRE(wait_numpat(io, *pub, 1));
  r = call(io, *pub, {"PUBLISH", "news", "after"});
  CHECK(r.reply.integer == 1);
  r = call(io, *pub, {"PUBLISH", "events", "pattern-after"});
  CHECK(r.reply.integer == 1);
  REQUIRE(run_until(io, [&] { return pushes.size() == 3; }, 2000ms));
  CHECK(strings_of(pushes[1]) == std::vector<std::string>{"message", "news", "after"});
  CHECK(strings_of(pushes[2]) == std::vector<std::string>{"pmessage", "ev*", "events", "pattern-after"});
  pub->close();
  sub->close();
}

TEST_CASE("RedisConnection: a connection closed by the server (CLIENT KILL) comes back at once, resubscribed",
          "[redis][connection]") {
  REQUIRE_REDIS_SERVER();
  RedisServer server;
  REQUIRE(server.start());
  asio::io_context io;
  auto ctl = make_connection(io, server.url(), "ctl");
  auto sub = make_connection(io, server.url(), "sub", false);
  std::vector<RedisReply> pushes;
  sub->set_push_handler([&](const RedisReply& r) { pushes.push_back(r); });
  sub->subscribe("SUBSCRIBE", {"news"});
  sub->start();
  REQUIRE(wait_ready(io, {ctl.get(), sub.get()}));
  REQUIRE(wait_numsub(io, *ctl, "news", 1));

  Result r = call(io, *ctl, {"CLIENT", "KILL", "TYPE", "pubsub"});
  REQUIRE(r.done);
  CHECK(r.reply.integer == 1);
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(run_until(io, [&] { return sub->reconnects() == 1 && sub->ready(); }, 2000ms));
  CHECK(std::chrono::steady_clock::now() - t0 < 500ms);
  REQUIRE(wait_numsub(io, *ctl, "news", 1));
  r = call(io, *ctl, {"PUBLISH", "news", "again"});
  CHECK(r.reply.integer == 1);
  REQUIRE(run_until(io, [&] { return pushes.size() == 1; }, 2000ms));
  CHECK(strings_of(pushes[0]) == std::vector<std::string>{"message", "news", "again"});
  ctl->close();
  sub->close();
}

TEST_CASE("RedisConnection: sharded pub/sub (SSUBSCRIBE) delivers smessage pushes", "[redis][connection]") {
  REQUIRE_REDIS_SERVER();
  RedisServer server;
  REQUIRE(server.start());
  asio::io_context io;
  auto pub = make_connection(io, server.url(), "pub");
  auto sub = make_connection(io, server.url(), "ssub");
  std::vector<RedisReply> pushes;
  sub->set_push_handler([&](const RedisReply& r) { pushes.push_back(r); });
  REQUIRE(wait_ready(io, {pub.get(), sub.get()}));
  sub->subscribe("SSUBSCRIBE", {"shard"});
  const auto deadline = std::chrono::steady_clock::now() + 3000ms;
  bool subscribed = false;
  while (!subscribed && std::chrono::steady_clock::now() < deadline) {
    Result r = call(io, *pub, {"PUBSUB", "SHARDNUMSUB", "shard"}, 1000ms);
    subscribed = r.done && r.reply.elements.size() == 2 && r.reply.elements[1].integer == 1;
    if (!subscribed) run_for(io, 10ms);
  }
  REQUIRE(subscribed);
  Result r = call(io, *pub, {"SPUBLISH", "shard", "s1"});
  CHECK(r.reply.integer == 1);
  REQUIRE(run_until(io, [&] { return pushes.size() == 1; }, 2000ms));
  CHECK(strings_of(pushes[0]) == std::vector<std::string>{"smessage", "shard", "s1"});
  // The connection still answers ordinary commands in between.
  r = call(io, *sub, {"PING"});
  CHECK(r.done);
  pub->close();
  sub->close();
}

TEST_CASE("RedisConnection: host names and IPv6 literals", "[redis][connection]") {
  REQUIRE_REDIS_SERVER();
  RedisServer server({"--bind", "127.0.0.1 -::1"});  // ::1 when the host has it
  REQUIRE(server.start());
  asio::io_context io;
  auto by_name = make_connection(io, "redis://localhost:" + std::to_string(server.port()), "localhost");
  REQUIRE(wait_ready(io, {by_name.get()}));
  Result r = call(io, *by_name, {"PING"});
  CHECK(r.reply.str == "PONG");
  by_name->close();

  if (redis_test::ping6(server.port())) {
    auto v6 = make_connection(io, "redis://[::1]:" + std::to_string(server.port()), "v6");
    REQUIRE(wait_ready(io, {v6.get()}));
    r = call(io, *v6, {"PING"});
    CHECK(r.reply.str == "PONG");
    v6->close();
  } else {
    WARN("redis-server is not reachable on [::1] here: IPv6 part skipped");
  }
}

TEST_CASE("RedisConnection: unsubscribe with no channels leaves the subscriptions alone", "[redis][connection][bug]") {
  // UNSUBSCRIBE without arguments means "from everything" to Redis; an empty list handed to
  // unsubscribe() must not send that, or the connection silently stops receiving while it still
  // believes (and restores after a reconnect) that it is subscribed.
  REQUIRE_REDIS_SERVER();
  RedisServer server;
  REQUIRE(server.start());
  asio::io_context io;
  auto pub = make_connection(io, server.url(), "pub");
  auto sub = make_connection(io, server.url(), "sub", false);
  std::vector<RedisReply> pushes;
  sub->set_push_handler([&](const RedisReply& r) { pushes.push_back(r); });
  sub->subscribe("SUBSCRIBE", {"news"});
  sub->start();
  REQUIRE(wait_ready(io, {pub.get(), sub.get()}));
  REQUIRE(wait_numsub(io, *pub, "news", 1));
  sub->unsubscribe("SUBSCRIBE", {});
  run_for(io, 100ms);
  Result r = call(io, *pub, {"PUBSUB", "NUMSUB", "news"});
  REQUIRE(r.reply.elements.size() == 2);
  CHECK(r.reply.elements[1].integer == 1);
  r = call(io, *pub, {"PUBLISH", "news", "still here"});
  CHECK(r.reply.integer == 1);
  run_until(io, [&] { return pushes.size() == 1; }, 1000ms);
  CHECK(pushes.size() == 1);
  pub->close();
  sub->close();
}

TEST_CASE("RedisConnection: AUTH with --requirepass and the URL's password", "[redis][connection]") {
  REQUIRE_REDIS_SERVER();
  RedisServer server({"--requirepass", "s3cret"});
  REQUIRE(server.start());
  asio::io_context io;

  auto good = make_connection(io, server.url(":s3cret"), "auth");
  auto with_user = make_connection(io, server.url("default:s3cret"), "auth-user");
  auto encoded = make_connection(io, server.url(":s3cre%74"), "auth-pct");
  auto none = make_connection(io, server.url(), "no-auth");
  auto wrong = make_connection(io, server.url(":nope"), "wrong-auth");
  REQUIRE(wait_ready(io, {good.get(), with_user.get(), encoded.get()}));

  Result r = call(io, *good, {"SET", "k", "v"});
  CHECK(r.reply.str == "OK");
  r = call(io, *with_user, {"GET", "k"});
  CHECK(r.reply.str == "v");
  r = call(io, *encoded, {"ACL", "WHOAMI"});
  CHECK(r.reply.str == "default");

  // Without (or with a wrong) password the handshake is refused: never ready, commands fail fast.
  run_for(io, 500ms);
  CHECK_FALSE(none->ready());
  CHECK_FALSE(wrong->ready());
  bool called = false;
  none->command({"PING"}, [&](std::error_code ec, RedisReply) { called = static_cast<bool>(ec); });
  CHECK(called);
  for (auto* c : {good.get(), with_user.get(), encoded.get(), none.get(), wrong.get()}) c->close();
}

TEST_CASE("RedisConnection: the URL's db is SELECTed, also after a reconnect", "[redis][connection]") {
  REQUIRE_REDIS_SERVER();
  RedisServer server;
  REQUIRE(server.start());
  asio::io_context io;
  auto db5 = make_connection(io, server.url({}, "5"), "db5");
  auto db5b = make_connection(io, server.url({}, "5"), "db5b");
  auto db0 = make_connection(io, server.url(), "db0");
  REQUIRE(wait_ready(io, {db5.get(), db5b.get(), db0.get()}));

  Result r = call(io, *db5, {"SET", "k", "five"});
  CHECK(r.reply.str == "OK");
  r = call(io, *db0, {"GET", "k"});
  CHECK(r.reply.type == RedisReply::Type::nil);
  r = call(io, *db5b, {"GET", "k"});
  CHECK(r.reply.str == "five");
  r = call(io, *db5, {"CLIENT", "INFO"});
  CHECK(r.reply.str.find(" db=5 ") != std::string::npos);
  r = call(io, *db0, {"CLIENT", "INFO"});
  CHECK(r.reply.str.find(" db=0 ") != std::string::npos);

  server.kill();
  REQUIRE(run_until(io, [&] { return !db5->ready(); }, 2000ms));
  REQUIRE(server.start());
  REQUIRE(wait_ready(io, {db5.get()}, 3000ms));
  r = call(io, *db5, {"CLIENT", "INFO"});
  CHECK(r.reply.str.find(" db=5 ") != std::string::npos);
  for (auto* c : {db5.get(), db5b.get(), db0.get()}) c->close();
}

TEST_CASE("RedisConnection: close() fails pending commands and refuses new ones", "[redis][connection]") {
  REQUIRE_REDIS_SERVER();
  RedisServer server;
  REQUIRE(server.start());
  asio::io_context io;
  auto c = make_connection(io, server.url(), "closing");
  REQUIRE(wait_ready(io, {c.get()}));
  Result pending;
  c->command({"BLPOP", "nothing", "30"}, [&](std::error_code ec, RedisReply) {
    pending.done = true;
    pending.ec = ec;
  });
  run_for(io, 20ms);
  c->close();
  CHECK(pending.done);
  CHECK(pending.ec == std::make_error_code(std::errc::operation_canceled));
  CHECK_FALSE(c->ready());
  bool refused = false;
  c->command({"PING"}, [&](std::error_code ec, RedisReply) { refused = static_cast<bool>(ec); });
  CHECK(refused);
  // And it does not come back by itself.
  run_for(io, 300ms);
  CHECK_FALSE(c->ready());
}

TEST_CASE("RedisConnection: array replies that look like pub/sub pushes still answer their command",
          "[redis][connection][bug]") {
  // A plain command connection must not mistake a reply for a push because its first element
  // happens to be "message"/"subscribe"/...: that loses the reply and shifts every later
  // callback onto the wrong reply.
  REQUIRE_REDIS_SERVER();
  RedisServer server;
  REQUIRE(server.start());
  asio::io_context io;
  auto c = make_connection(io, server.url(), "lookalike");
  REQUIRE(wait_ready(io, {c.get()}));
  call(io, *c, {"RPUSH", "l1", "message", "chan", "payload"});
  call(io, *c, {"RPUSH", "l2", "subscribe", "chan", "1"});

  Result lrange1, lrange2, ping;
  c->command({"LRANGE", "l1", "0", "-1"}, [&](std::error_code ec, RedisReply r) {
    lrange1 = {true, ec, std::move(r)};
  });
  c->command({"LRANGE", "l2", "0", "-1"}, [&](std::error_code ec, RedisReply r) {
    lrange2 = {true, ec, std::move(r)};
  });
  c->command({"PING"}, [&](std::error_code ec, RedisReply r) { ping = {true, ec, std::move(r)}; });
  run_until(io, [&] { return lrange1.done && lrange2.done && ping.done; }, 2000ms);

  CHECK(lrange1.done);
  CHECK(lrange1.reply.type == RedisReply::Type::array);
  CHECK(strings_of(lrange1.reply) == std::vector<std::string>{"message", "chan", "payload"});
  CHECK(lrange2.done);
  CHECK(lrange2.reply.type == RedisReply::Type::array);
  CHECK(strings_of(lrange2.reply) == std::vector<std::string>{"subscribe", "chan", "1"});
  CHECK(ping.done);
  CHECK(ping.reply.type == RedisReply::Type::status);
  CHECK(ping.reply.str == "PONG");
  c->close();
}

TEST_CASE("RedisConnection: a host name reaches Redis listening on 127.0.0.1 only", "[redis][connection]") {
  // getaddrinfo("localhost") may give ::1 before 127.0.0.1; a connection that tries only the
  // first address is refused forever when Redis binds IPv4 only. Every address must be tried.
  REQUIRE_REDIS_SERVER();
  RedisServer server({"--bind", "127.0.0.1"});
  REQUIRE(server.start());
  REQUIRE_FALSE(redis_test::ping6(server.port()));  // really IPv4 only
  asio::io_context io;
  // Where localhost resolves to 127.0.0.1 first (as in /etc/hosts here) this part passes with
  // the first address alone; the name below lists ::1 first everywhere.
  auto c = make_connection(io, "redis://localhost:" + std::to_string(server.port()), "localhost-v4");
  REQUIRE(wait_ready(io, {c.get()}));
  Result r = call(io, *c, {"SET", "k", "via localhost"});
  CHECK_FALSE(r.ec);
  CHECK(r.reply.str == "OK");
  r = call(io, *c, {"GET", "k"});
  CHECK(r.reply.str == "via localhost");
  c->close();

  // The same with a name that certainly lists ::1 first.
  {
    std::error_code ec;
    asio::ip::tcp::resolver resolver(io);
    const auto results = resolver.resolve(kIpv6FirstName, std::to_string(server.port()), ec);
    REQUIRE_FALSE(ec);
    REQUIRE(results.size() == 2);
    CHECK(results.begin()->endpoint().address() == asio::ip::make_address("::1"));
    CHECK(std::next(results.begin())->endpoint().address() == asio::ip::make_address("127.0.0.1"));
  }
  auto v6_first = make_connection(io, "redis://" + std::string(kIpv6FirstName) + ":" + std::to_string(server.port()),
                                  "ipv6-first");
  REQUIRE(wait_ready(io, {v6_first.get()}));
  r = call(io, *v6_first, {"GET", "k"});
  CHECK_FALSE(r.ec);
  CHECK(r.reply.str == "via localhost");
  v6_first->close();
}

TEST_CASE("RedisConnection: an unresolvable host is retried without ever blocking the io_context",
          "[redis][connection]") {
  // During an outage the name is resolved again on every retry; a lookup on the io thread would
  // freeze every session for as long as DNS takes. DNS here is made slow (300 ms per lookup).
  asio::io_context io;
  slow_dns_delay_ms = 300;
  slow_dns_started = 0;
  slow_dns_finished = 0;
  slow_dns_on_watched_thread = 0;
  slow_dns_watched_thread = std::this_thread::get_id();  // the thread that runs `io`

  auto records = std::make_shared<std::vector<std::pair<courier::LogLevel, std::string>>>();
  courier::Logger logger;
  logger.level = courier::LogLevel::debug;
  logger.sink = [records](courier::LogLevel l, std::string_view m) { records->emplace_back(l, std::string(m)); };
  auto resolve_failures = [&] {
    int n = 0;
    for (const auto& [level, msg] : *records)
      if (msg.find("cannot resolve host no-such-host.invalid: ") != std::string::npos) ++n;
    return n;
  };

  // Other work on the same io_context: a 10 ms ticker, recording the longest gap between ticks.
  asio::steady_timer ticker(io);
  int ticks = 0;
  auto last_tick = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration longest_gap{};
  std::function<void()> arm = [&] {
    ticker.expires_after(10ms);
    ticker.async_wait([&](const std::error_code& e) {
      if (e) return;
      const auto now = std::chrono::steady_clock::now();
      longest_gap = std::max(longest_gap, now - last_tick);
      last_tick = now;
      ++ticks;
      arm();
    });
  };

  SECTION("retries with a logged reason while the ticker keeps ticking; close() ends it") {
    RedisUrl u;
    REQUIRE(RedisUrl::parse("redis://no-such-host.invalid:6379", u));
    auto c = std::make_shared<RedisConnection>(io, u, "nxdomain", logger);
    bool became_ready = false;
    c->set_ready_handler([&] { became_ready = true; });

    const auto t0 = std::chrono::steady_clock::now();
    last_tick = t0;
    arm();
    c->start();
    CHECK(records->empty());  // start() only began the lookup: nothing resolved (or failed) yet

    REQUIRE(run_until(io, [&] { return resolve_failures() >= 3; }, 5000ms));
    const auto window = std::chrono::steady_clock::now() - t0;
    const auto window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(window).count();
    INFO("window " << window_ms << " ms, " << ticks << " ticks, longest gap "
                   << std::chrono::duration_cast<std::chrono::milliseconds>(longest_gap).count() << " ms");
    CHECK(slow_dns_on_watched_thread == 0);
    CHECK(slow_dns_started >= 3);
    // Three 300 ms lookups took at least 900 ms; a 10 ms ticker not held up by them fires at
    // least every few tens of milliseconds throughout (one held up stalls for 300 ms at a time;
    // the margins are for a loaded machine and sanitizers).
    CHECK(window_ms >= 900);
    CHECK(ticks >= window_ms / 30);
    CHECK(longest_gap < 250ms);
    // The first failure is a warning naming the host; the retries are logged at debug level.
    REQUIRE_FALSE(records->empty());
    CHECK(records->front().first == courier::LogLevel::warn);
    CHECK(records->front().second.find("cannot resolve host no-such-host.invalid: ") != std::string::npos);
    CHECK_FALSE(c->ready());

    // close() while a lookup is under way: its late completion changes nothing.
    REQUIRE(run_until(io, [&] { return slow_dns_started > slow_dns_finished; }, 2000ms));
    c->close();
    const auto logged = records->size();
    const int started = slow_dns_started;
    REQUIRE(run_until(io, [&] { return slow_dns_finished == started; }, 2000ms));
    run_for(io, 700ms);  // longer than the longest backoff: a retry would have started by now
    CHECK(records->size() == logged);
    CHECK(slow_dns_started == started);
    CHECK_FALSE(became_ready);
    CHECK_FALSE(c->ready());
    bool refused = false;
    c->command({"PING"}, [&](std::error_code ec, RedisReply) { refused = static_cast<bool>(ec); });
    CHECK(refused);
  }

  SECTION("closed and destroyed while its first lookup is under way") {
    RedisUrl u;
    REQUIRE(RedisUrl::parse("redis://no-such-host.invalid:6379", u));
    auto c = std::make_shared<RedisConnection>(io, u, "nxdomain-gone", logger);
    last_tick = std::chrono::steady_clock::now();
    arm();
    c->start();
    REQUIRE(run_until(io, [&] { return slow_dns_started == 1; }, 2000ms));
    c->close();
    c.reset();
    REQUIRE(run_until(io, [&] { return slow_dns_finished == 1; }, 2000ms));
    const int before = ticks;
    run_for(io, 200ms);
    CHECK(ticks > before);  // the loop still runs other work
    CHECK(records->empty());
    CHECK(slow_dns_started == 1);
    CHECK(slow_dns_on_watched_thread == 0);
  }

  ticker.cancel();
  run_for(io, 20ms);
  slow_dns_delay_ms = 0;
  slow_dns_watched_thread = std::thread::id{};
}
