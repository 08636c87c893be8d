// RedisAdapterFactory: two courier::Servers on one io_context (one thread), both on the same real
// redis-server, checked through the public API and, at the Redis level, by a spy connection
// PSUBSCRIBE'd to the broadcast channels. Every wait is bounded.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <courier/error.hpp>
#include <courier/redis_adapter.hpp>
#include <courier/server.hpp>
#include <courier/value.hpp>

#include "../unit/protocol/blocking_calls.hpp"
#include "../unit/protocol/mini_client.hpp"
#include "redis/msgpack_value.hpp"
#include "value_printer.hpp"
#include "redis/redis_connection.hpp"
#include "redis_test_support.hpp"

using courier::Args;
using courier::RedisAdapterFactory;
using courier::RedisAdapterOptions;
using courier::Value;
using courier::detail::RedisConnection;
using courier::detail::RedisReply;
using courier::detail::RedisUrl;
using redis_test::quiet;
using redis_test::RedisServer;
using redis_test::run_for;
using redis_test::run_until;
using namespace std::chrono_literals;

namespace {

struct Spied {
  std::string pattern;
  std::string channel;
  std::string message;
};

// Two servers "A" and "B" with Redis adapters, a control connection and a spy.
struct Cluster {
  RedisServer redis;
  asio::io_context io;
  std::unique_ptr<RedisAdapterFactory> fa, fb;
  std::unique_ptr<courier::Server> a, b;
  std::shared_ptr<RedisConnection> ctl, spy;
  std::vector<Spied> spied;     // broadcasts
  std::vector<Spied> requests;  // on the request channel of "/"
  std::vector<Spied> responses;  // on the response channels of "/"

  // `so`: the servers' options, but for the logger and the adapter.
  explicit Cluster(bool specific_response_channel = false, courier::ServerOptions so = {}) {
    REQUIRE(redis.start());
    RedisAdapterOptions ro;
    ro.publish_on_specific_response_channel = specific_response_channel;
    ro.url = redis.url();
    ro.logger = quiet();
    ro.request_timeout = 500ms;
    fa = std::make_unique<RedisAdapterFactory>(io, ro);
    fb = std::make_unique<RedisAdapterFactory>(io, ro);
    so.logger = quiet();
    so.adapter = fa->factory();
    a = std::make_unique<courier::Server>(io, so);
    so.adapter = fb->factory();
    b = std::make_unique<courier::Server>(io, so);
    a->sockets();
    b->sockets();
    a->of("/chat");
    b->of("/chat");

    RedisUrl u;
    REQUIRE(RedisUrl::parse(redis.url(), u));
    ctl = std::make_shared<RedisConnection>(io, u, "ctl", quiet());
    spy = std::make_shared<RedisConnection>(io, u, "spy", quiet());
    spy->set_push_handler([this](const RedisReply& r) {
      if (r.elements.size() == 4 && r.elements[0].str == "pmessage") {
        if (r.elements[1].str == "socket.io-request#/#*")
          requests.push_back({r.elements[1].str, r.elements[2].str, r.elements[3].str});
        else if (r.elements[1].str == "socket.io-response#/#*")
          responses.push_back({r.elements[1].str, r.elements[2].str, r.elements[3].str});
        else
          spied.push_back({r.elements[1].str, r.elements[2].str, r.elements[3].str});
      }
    });
    // Patterns only: a SUBSCRIBE to the request channel would count as one more server in NUMSUB.
    spy->subscribe("PSUBSCRIBE",
                   {"socket.io#/#*", "socket.io#/chat#*", "socket.io-request#/#*", "socket.io-response#/#*"});
    spy->subscribe("SUBSCRIBE", {"spy-ready"});  // after the patterns: NUMSUB 1 means all are in
    ctl->start();
    spy->start();
    REQUIRE(wait_cluster());
  }

  // Both factories connected, both servers subscribed to the request channels, spy subscribed.
  bool wait_cluster(std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto left = [&] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    };
    if (!run_until(io, [&] { return fa->connected() && fb->connected() && ctl->ready() && spy->ready(); }, left()))
      return false;
    return wait_numsub("socket.io-request#/#", 2, left()) && wait_numsub("socket.io-request#/chat#", 2, left()) &&
           wait_numsub("spy-ready", 1, left());
  }

  bool wait_numsub(const std::string& channel, long long n, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      bool done = false, match = false;
      ctl->command({"PUBSUB", "NUMSUB", channel}, [&](std::error_code ec, RedisReply r) {
        done = true;
        match = !ec && r.elements.size() == 2 && r.elements[1].integer == n;
      });
      run_until(io, [&] { return done; }, 1000ms);
      if (match) return true;
      run_for(io, 10ms);
    }
    return false;
  }

  ~Cluster() {
    int closed = 0;
    if (a) a->close([&] { ++closed; });
    if (b) b->close([&] { ++closed; });
    run_until(io, [&] { return closed == 2; }, 3000ms);
    if (fa) fa->close();
    if (fb) fb->close();
    if (ctl) ctl->close();
    if (spy) spy->close();
    a.reset();
    b.reset();
    fa.reset();
    fb.reset();
    run_for(io, 20ms);
  }
};

// An AdapterHost with a room limit, as courier's namespaces have (ServerOptions::max_rooms_per_socket),
// that records what it refused: adapters built on it without a courier::Server.
class LimitHost : public courier::AdapterHost {
 public:
  LimitHost(std::string name, std::size_t max) : name_(std::move(name)), max_(max) {}
  const std::string& name() const noexcept override { return name_; }
  void deliver(const courier::OutPacket&, const std::vector<courier::SocketId>&, bool,
               std::function<void(Args)>) override {}
  std::optional<courier::SocketInfo> describe(const courier::SocketId& id) const override {
    auto rooms = adapter->socket_rooms(id);
    if (rooms.empty()) return std::nullopt;  // every socket here is in its own room
    return courier::SocketInfo{id, std::move(rooms), {}, {}, {}};
  }
  void disconnect(const courier::SocketId&, bool) override {}
  void server_side_emit_received(Args, std::function<void(Value)>) override {}
  bool may_join(const courier::SocketId& id, const courier::RoomName& room) override {
    if (adapter->socket_room_count(id) < max_) return true;
    refused.emplace_back(id, room);
    return false;
  }

  courier::Adapter* adapter = nullptr;
  std::vector<std::pair<std::string, std::string>> refused;

 private:
  std::string name_;
  std::size_t max_;
};

// Runs a cluster's io_context on a thread of its own while the test's thread blocks (real clients
// connecting, blocking_calls.hpp); stopped and joined on destruction, before the Cluster goes.
class BackgroundRun {
 public:
  explicit BackgroundRun(asio::io_context& io) : io_(io), guard_(asio::make_work_guard(io)) {
    io_.restart();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~BackgroundRun() {
    guard_.reset();
    io_.stop();
    thread_.join();
  }

 private:
  asio::io_context& io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

Value decode(const std::string& msg) {
  Value v;
  REQUIRE(courier::detail::msgpack_decode(msg, v));
  return v;
}

}  // namespace

TEST_CASE("Redis adapter: a broadcast publishes exactly one notepack-style message on the right channel",
          "[redis][adapter]") {
  REQUIRE_REDIS_SERVER();
  Cluster c;

  SECTION("to everyone") {
    c.a->sockets().emit("ev", Value::object({{"a", 1}}), Value::binary("\x01\x02\x03"));
    REQUIRE(run_until(c.io, [&] { return !c.spied.empty(); }, 2000ms));
    run_for(c.io, 200ms);
    REQUIRE(c.spied.size() == 1);
    CHECK(c.spied[0].channel == "socket.io#/#");
    const Value v = decode(c.spied[0].message);
    REQUIRE(v.is_array());
    REQUIRE(v.size() == 3);
    CHECK(v[0].is_string());
    CHECK(v[0].as_string().size() == 6);  // uid
    CHECK(v[1] == Value::object({{"type", 2},
                                 {"data", Value::array({"ev", Value::object({{"a", 1}}), Value::binary("\x01\x02\x03")})},
                                 {"nsp", "/"}}));
    CHECK(v[2] == Value::object({{"rooms", Value::array()}, {"except", Value::array()}, {"flags", Value::object()}}));
    // B took it (A ignored its own copy).
    REQUIRE(run_until(c.io, [&] { return c.fb->stats().received == 1; }, 2000ms));
    CHECK(c.fa->stats().received == 0);
    CHECK(c.fa->stats().published == 1);
    CHECK(c.fa->stats().lost_publishes == 0);
    CHECK(c.fb->stats().malformed == 0);
  }

  SECTION("to one room: the room's channel") {
    c.a->sockets().to("room1").emit("x", 1);
    REQUIRE(run_until(c.io, [&] { return !c.spied.empty(); }, 2000ms));
    run_for(c.io, 200ms);
    REQUIRE(c.spied.size() == 1);
    CHECK(c.spied[0].channel == "socket.io#/#room1#");
    const Value v = decode(c.spied[0].message);
    CHECK(v[1]["data"] == Value::array({"x", 1}));
    CHECK(v[2]["rooms"] == Value::array({"room1"}));
    CHECK(v[2]["except"] == Value::array());
  }

  SECTION("to two rooms, except one, volatile: the namespace channel with all options") {
    c.a->sockets().to("r1").to("r2").except("r3").volatile_().emit("y");
    REQUIRE(run_until(c.io, [&] { return !c.spied.empty(); }, 2000ms));
    run_for(c.io, 200ms);
    REQUIRE(c.spied.size() == 1);
    CHECK(c.spied[0].channel == "socket.io#/#");
    const Value v = decode(c.spied[0].message);
    CHECK(v[1]["data"] == Value::array({"y"}));
    CHECK(v[2] == Value::object({{"rooms", Value::array({"r1", "r2"})},
                                 {"except", Value::array({"r3"})},
                                 {"flags", Value::object({{"volatile", true}})}}));
  }

  SECTION("another namespace: its own channel and nsp") {
    c.a->of("/chat").emit("hi", "there");
    REQUIRE(run_until(c.io, [&] { return !c.spied.empty(); }, 2000ms));
    run_for(c.io, 200ms);
    REQUIRE(c.spied.size() == 1);
    CHECK(c.spied[0].pattern == "socket.io#/chat#*");
    CHECK(c.spied[0].channel == "socket.io#/chat#");
    const Value v = decode(c.spied[0].message);
    CHECK(v[1]["nsp"] == Value("/chat"));
    CHECK(v[1]["data"] == Value::array({"hi", "there"}));
  }

  SECTION("local(): nothing is published") {
    c.a->sockets().local().emit("z");
    run_for(c.io, 300ms);
    CHECK(c.spied.empty());
    CHECK(c.fa->stats().published == 0);
  }
}

TEST_CASE("Redis adapter: messages written by Node's adapter are taken, malformed ones counted", "[redis][adapter]") {
  REQUIRE_REDIS_SERVER();
  Cluster c;
  // The bytes notepack.io writes for ["Xy7Qz1", {type:2, data:["ev",{a:1},<Buffer 01 02 03>], nsp:"/"},
  // {rooms:[], except:[], flags:{}}] (courier's encoder is byte-identical, see msgpack_test.cpp).
  std::string msg;
  courier::detail::msgpack_encode(
      Value::array({"Xy7Qz1",
                    Value::object({{"type", 2},
                                   {"data", Value::array({"ev", Value::object({{"a", 1}}), Value::binary("\x01\x02\x03")})},
                                   {"nsp", "/"}}),
                    Value::object({{"rooms", Value::array()}, {"except", Value::array()}, {"flags", Value::object()}})}),
      msg);
  bool done = false;
  c.ctl->command({"PUBLISH", "socket.io#/#", msg}, [&](std::error_code, RedisReply) { done = true; });
  REQUIRE(run_until(c.io, [&] { return c.fa->stats().received == 1 && c.fb->stats().received == 1; }, 2000ms));

  done = false;
  c.ctl->command({"PUBLISH", "socket.io#/#", std::string("\x93\xa1", 2)}, [&](std::error_code, RedisReply) { done = true; });
  REQUIRE(run_until(c.io, [&] { return c.fa->stats().malformed == 1 && c.fb->stats().malformed == 1; }, 2000ms));
  CHECK(c.fa->stats().received == 1);
}

TEST_CASE("Redis adapter: server_side_emit reaches the other server, with and without ack", "[redis][adapter]") {
  REQUIRE_REDIS_SERVER();
  Cluster c;
  std::vector<Args> got_b, got_a;
  c.b->sockets().on_server_side_emit("hello", [&](Args& args, courier::Ack ack) {
    got_b.push_back(args);
    if (ack) ack(Value("pong:" + args.at(0).as_string()));
  });
  c.a->sockets().on_server_side_emit("hello", [&](Args& args, courier::Ack) { got_a.push_back(args); });
  run_for(c.io, 20ms);

  // Without ack.
  c.a->sockets().server_side_emit("hello", "plain", 42);
  REQUIRE(run_until(c.io, [&] { return got_b.size() == 1; }, 2000ms));
  CHECK(got_b[0] == Args{Value("plain"), Value(42)});

  // With ack: A gets B's answer (and only B's: the sender does not answer itself).
  bool done = false;
  std::error_code ec;
  std::vector<Value> answers;
  const auto t0 = std::chrono::steady_clock::now();
  c.a->sockets().server_side_emit_with_ack("hello", {Value("x")}, [&](std::error_code e, std::vector<Value> v) {
    done = true;
    ec = e;
    answers = std::move(v);
  });
  REQUIRE(run_until(c.io, [&] { return done; }, 3000ms));
  CHECK_FALSE(ec);
  CHECK(answers == std::vector<Value>{Value("pong:x")});
  CHECK(std::chrono::steady_clock::now() - t0 < 1000ms);  // answered, not timed out
  CHECK(got_a.empty());

  // fetch_sockets across the cluster (no sockets anywhere): B answers, no error, no timeout.
  bool fetched = false;
  std::error_code fetch_ec;
  std::size_t count = 99;
  c.a->sockets().all().fetch_sockets([&](std::vector<courier::SocketInfo> s, std::error_code e) {
    fetched = true;
    fetch_ec = e;
    count = s.size();
  });
  REQUIRE(run_until(c.io, [&] { return fetched; }, 3000ms));
  CHECK_FALSE(fetch_ec);
  CHECK(count == 0);
}

TEST_CASE("Redis adapter: with Redis down, broadcasts are counted as lost without blocking, then it recovers",
          "[redis][adapter]") {
  REQUIRE_REDIS_SERVER();
  Cluster c;
  c.redis.kill();
  REQUIRE(run_until(c.io, [&] { return !c.fa->connected() && !c.fb->connected(); }, 2000ms));

  const auto before = c.fa->stats();
  const auto t0 = std::chrono::steady_clock::now();
  c.a->sockets().emit("lost", 1);
  c.a->sockets().to("room").emit("lost", 2);
  REQUIRE(run_until(c.io, [&] { return c.fa->stats().lost_publishes == before.lost_publishes + 2; }, 1000ms));
  CHECK(std::chrono::steady_clock::now() - t0 < 500ms);
  CHECK(c.fa->stats().published == before.published);

  // Requests fail fast too.
  bool done = false;
  std::error_code ec;
  c.a->sockets().server_side_emit_with_ack("hello", {}, [&](std::error_code e, std::vector<Value>) {
    done = true;
    ec = e;
  });
  REQUIRE(run_until(c.io, [&] { return done; }, 500ms));
  CHECK(ec == courier::make_error_code(courier::errc::cluster_unavailable));

  bool fetched = false;
  std::error_code fetch_ec;
  c.a->sockets().all().fetch_sockets([&](std::vector<courier::SocketInfo>, std::error_code e) {
    fetched = true;
    fetch_ec = e;
  });
  REQUIRE(run_until(c.io, [&] { return fetched; }, 500ms));
  CHECK(fetch_ec == courier::make_error_code(courier::errc::cluster_unavailable));

  // Redis comes back: both factories reconnect and resubscribe on their own.
  REQUIRE(c.redis.start());
  REQUIRE(c.wait_cluster(4000ms));
  CHECK(c.fa->stats().reconnects == 2);  // publisher + subscriber
  CHECK(c.fb->stats().reconnects == 2);
  c.spied.clear();
  const auto received_b = c.fb->stats().received;
  c.a->sockets().emit("back", true);
  REQUIRE(run_until(c.io, [&] { return c.spied.size() == 1 && c.fb->stats().received == received_b + 1; }, 2000ms));
  CHECK(c.spied[0].channel == "socket.io#/#");
  CHECK(decode(c.spied[0].message)[1]["data"] == Value::array({"back", true}));

  // The same counters through Server::metrics (Adapter::collect_metrics): factory totals, not
  // multiplied by the number of namespaces ("/" and "/chat" here).
  bool got = false;
  courier::Metrics m;
  c.a->metrics([&](courier::Metrics x) {
    m = x;
    got = true;
  });
  REQUIRE(run_until(c.io, [&] { return got; }, 1000ms));
  const auto st = c.fa->stats();
  CHECK(m.adapter.lost_publishes == st.lost_publishes);
  CHECK(m.adapter.lost_publishes >= 2);
  CHECK(m.adapter.reconnects == 2);
  CHECK(m.adapter.published == st.published);
  CHECK(m.adapter.received == st.received);
}

TEST_CASE("Redis adapter: Server::close releases the Redis subscriptions", "[redis][adapter]") {
  REQUIRE_REDIS_SERVER();
  Cluster c;
  REQUIRE(c.wait_numsub("socket.io-request#/#", 2, 2000ms));
  bool closed = false;
  c.a->close([&] { closed = true; });
  REQUIRE(run_until(c.io, [&] { return closed; }, 3000ms));
  // Only B is still subscribed; A's namespaces unsubscribed before `done`.
  CHECK(c.wait_numsub("socket.io-request#/#", 1, 2000ms));
  CHECK(c.wait_numsub("socket.io-request#/chat#", 1, 2000ms));
}

TEST_CASE("Redis adapter: emit_with_ack across the cluster completes once every server reported", "[redis][adapter]") {
  REQUIRE_REDIS_SERVER();
  Cluster c;
  bool done = false;
  std::error_code ec;
  std::vector<Value> acks{Value("sentinel")};
  const auto t0 = std::chrono::steady_clock::now();
  c.a->sockets().timeout(3000ms).emit_with_ack("q", {Value(1)}, [&](std::error_code e, std::vector<Value> v) {
    done = true;
    ec = e;
    acks = std::move(v);
  });
  // No client anywhere: A counts 0, B reports a client count of 0, NUMSUB says 2 servers.
  REQUIRE(run_until(c.io, [&] { return done; }, 4000ms));
  CHECK_FALSE(ec);
  CHECK(acks.empty());
  CHECK(std::chrono::steady_clock::now() - t0 < 1000ms);

  // The request is msgpack, as Node's adapter writes it: {uid, requestId, type: 7, packet, opts}.
  REQUIRE(run_until(c.io, [&] { return !c.requests.empty(); }, 1000ms));
  CHECK(c.requests[0].channel == "socket.io-request#/#");
  const Value req = decode(c.requests[0].message);
  CHECK(req["type"] == Value(7));
  CHECK(req["uid"].as_string().size() == 6);
  CHECK(req["requestId"].is_string());
  CHECK(req["packet"]["type"] == Value(2));
  CHECK(req["packet"]["nsp"] == Value("/"));
  CHECK(req["packet"]["data"] == Value::array({"q", 1}));
  CHECK(req["packet"]["id"].is_integer());
  CHECK(req["opts"]["rooms"] == Value::array());
  CHECK(req["opts"]["flags"]["timeout"] == Value(3000));
}

TEST_CASE("Redis adapter: a server that never answers a server_side_emit_with_ack -> missing_responses",
          "[redis][adapter]") {
  REQUIRE_REDIS_SERVER();
  Cluster c;  // B has no handler for "nobody": it does not answer
  bool done = false;
  std::error_code ec;
  std::vector<Value> answers{Value("sentinel")};
  const auto t0 = std::chrono::steady_clock::now();
  c.a->sockets().server_side_emit_with_ack("nobody", {}, [&](std::error_code e, std::vector<Value> v) {
    done = true;
    ec = e;
    answers = std::move(v);
  });
  REQUIRE(run_until(c.io, [&] { return done; }, 3000ms));
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(ec == courier::make_error_code(courier::errc::missing_responses));
  CHECK(answers.empty());
  CHECK(took >= 450ms);  // request_timeout is 500 ms
  CHECK(took < 2000ms);
}

TEST_CASE("Redis adapter: a closed server leaves the cluster (unsubscribes)", "[redis][adapter]") {
  REQUIRE_REDIS_SERVER();
  Cluster c;
  bool closed = false;
  c.b->close([&] { closed = true; });
  REQUIRE(run_until(c.io, [&] { return closed; }, 3000ms));
  REQUIRE(c.wait_numsub("socket.io-request#/#", 1, 2000ms));
  CHECK(c.wait_numsub("socket.io-request#/chat#", 1, 2000ms));
  // A alone: a cluster request completes at once with nobody to ask.
  bool done = false;
  std::error_code ec;
  std::vector<Value> answers{Value("sentinel")};
  c.a->sockets().server_side_emit_with_ack("hello", {}, [&](std::error_code e, std::vector<Value> v) {
    done = true;
    ec = e;
    answers = std::move(v);
  });
  REQUIRE(run_until(c.io, [&] { return done; }, 1000ms));
  CHECK_FALSE(ec);
  CHECK(answers.empty());
}

TEST_CASE("Redis adapter: a malformed URL is refused at construction", "[adapter_url]") {
  asio::io_context io;
  RedisAdapterOptions ro;
  ro.url = "http://127.0.0.1:6379";
  ro.logger = quiet();
  CHECK_THROWS_AS(RedisAdapterFactory(io, ro), std::invalid_argument);
  ro.url = "redis://127.0.0.1:0";
  CHECK_THROWS_AS(RedisAdapterFactory(io, ro), std::invalid_argument);
}

TEST_CASE("Redis adapter: responses go to the shared or the requester's own response channel", "[redis][adapter]") {
  REQUIRE_REDIS_SERVER();
  const bool specific = GENERATE(false, true);
  INFO("publish_on_specific_response_channel = " << specific);
  Cluster c(specific);
  bool fetched = false;
  std::error_code ec;
  c.a->sockets().all().fetch_sockets([&](std::vector<courier::SocketInfo>, std::error_code e) {
    fetched = true;
    ec = e;
  });
  REQUIRE(run_until(c.io, [&] { return fetched; }, 3000ms));
  CHECK_FALSE(ec);  // B's answer arrived before the 500 ms request timeout
  REQUIRE(run_until(c.io, [&] { return !c.requests.empty() && !c.responses.empty(); }, 1000ms));
  Value req;
  REQUIRE(Value::parse_json(c.requests[0].message, req));  // REMOTE_FETCH is JSON, as in Node
  CHECK(req["type"] == Value(5));
  const std::string uid = req["uid"].as_string();
  REQUIRE(c.responses.size() == 1);
  CHECK(c.responses[0].channel == (specific ? "socket.io-response#/#" + uid + "#" : std::string("socket.io-response#/#")));
  Value res;
  REQUIRE(Value::parse_json(c.responses[0].message, res));
  CHECK(res["requestId"] == req["requestId"]);
  CHECK(res["sockets"] == Value::array());
}

TEST_CASE("Redis adapter: joins requested by another server ask the host first (room limit)", "[redis][adapter]") {
  REQUIRE_REDIS_SERVER();
  const bool sharded = GENERATE(false, true);
  INFO("sharded = " << sharded);
  RedisServer redis;
  REQUIRE(redis.start());
  asio::io_context io;
  RedisAdapterOptions ro;
  ro.url = redis.url();
  ro.logger = quiet();
  ro.sharded = sharded;
  auto fa = std::make_unique<RedisAdapterFactory>(io, ro);
  auto fb = std::make_unique<RedisAdapterFactory>(io, ro);
  LimitHost ha("/rooms", 3), hb("/rooms", 3);
  auto a = fa->factory()(ha);
  auto b = fb->factory()(hb);
  ha.adapter = a.get();
  hb.adapter = b.get();
  a->init();
  b->init();
  REQUIRE(run_until(io, [&] { return fa->connected() && fb->connected(); }, 5000ms));
  // Both subscribed: B counts two servers.
  const auto subscribed_by = std::chrono::steady_clock::now() + 5s;
  for (std::size_t servers = 0; servers != 2;) {
    REQUIRE(std::chrono::steady_clock::now() < subscribed_by);
    bool counted = false;
    b->server_count([&](std::size_t n) {
      servers = n;
      counted = true;
    });
    REQUIRE(run_until(io, [&] { return counted; }, 1000ms));
    if (servers != 2) run_for(io, 10ms);
  }

  a->add_all("s2", {"s2", "a"});
  a->add_all("s3", {"s3", "b", "c"});  // at the limit
  b->add_sockets(courier::BroadcastOptions{}, {"x"});
  REQUIRE(run_until(io, [&] { return a->socket_in_room("s2", "x"); }, 2000ms));
  run_for(io, 50ms);  // time for a wrong join of s3 to show
  CHECK_FALSE(a->socket_in_room("s3", "x"));
  CHECK(a->socket_room_count("s3") == 3);
  CHECK(ha.refused == std::vector<std::pair<std::string, std::string>>{{"s3", "x"}});

  if (!sharded) {
    // The single-socket form older Node senders use: {"sid", "room"}, answered either way.
    RedisUrl u;
    REQUIRE(RedisUrl::parse(redis.url(), u));
    auto ctl = std::make_shared<RedisConnection>(io, u, "ctl", quiet());
    ctl->start();
    REQUIRE(run_until(io, [&] { return ctl->ready(); }, 2000ms));
    a->add_all("s4", {"s4"});
    for (const char* sid : {"s3", "s4"}) {
      ctl->command({"PUBLISH", "socket.io-request#/rooms#",
                    Value::object({{"uid", "node"}, {"type", 2}, {"sid", sid}, {"room", "y"},
                                   {"requestId", std::string("r-") + sid}})
                        .to_json()});
    }
    REQUIRE(run_until(io, [&] { return a->socket_in_room("s4", "y"); }, 2000ms));  // after s3's, in order
    CHECK_FALSE(a->socket_in_room("s3", "y"));
    CHECK(ha.refused == std::vector<std::pair<std::string, std::string>>{{"s3", "x"}, {"s3", "y"}});
    ctl->close();
  }

  a->close();
  b->close();
  fa->close();
  fb->close();
  run_for(io, 20ms);
}

TEST_CASE("Redis adapter: sockets_join from another server respects max_rooms_per_socket", "[redis][adapter]") {
  REQUIRE_REDIS_SERVER();
  courier::ServerOptions so;
  so.max_rooms_per_socket = 3;
  so.drain_timeout = 500ms;  // the clients stop reading at the end
  Cluster c(false, so);
  REQUIRE_FALSE(c.b->listen({}));
  std::mutex sockets_mutex;
  std::vector<courier::Socket> on_b;
  c.b->sockets().on_connection([&](courier::Socket s) {
    std::lock_guard<std::mutex> lock(sockets_mutex);
    on_b.push_back(s);
  });
  BackgroundRun running(c.io);
  // Each client is connected before the next one starts: on_b[i] belongs to the i-th client.
  courier_test::MiniClient below(c.b->port());
  courier_test::MiniClient at_limit(c.b->port());
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(sockets_mutex);
      if (on_b.size() == 2) break;
    }
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(5ms);
  }
  const courier::Socket two = on_b[0];
  const courier::Socket three = on_b[1];
  courier_test::join(two, "a");
  courier_test::join(three, "b");
  courier_test::join(three, "c");

  c.a->sockets().all().sockets_join("x");  // applied on B when B receives A's request
  const auto refused_by = std::chrono::steady_clock::now() + 3s;
  while (courier_test::metrics_of(*c.b).rooms_refused == 0 && std::chrono::steady_clock::now() < refused_by)
    std::this_thread::sleep_for(20ms);
  CHECK(courier_test::metrics_of(*c.b).rooms_refused == 1);
  CHECK(courier_test::ids_of(c.b->sockets().local().to("x")) == std::vector<std::string>{two.id()});
  CHECK(courier_test::ids_of(c.a->sockets().to("x")) == std::vector<std::string>{two.id()});  // A asks B
  CHECK(courier_test::ids_of(c.b->sockets().local().to("c")) == std::vector<std::string>{three.id()});

  // Through Redis in publish order: "end" comes after "hit".
  c.a->to("x").emit("hit");
  c.a->sockets().emit("end");
  CHECK(courier_test::events_until_end(below) == std::vector<std::string>{"hit"});
  CHECK(courier_test::events_until_end(at_limit).empty());
}
