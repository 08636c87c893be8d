// RedisTimer and RedisLock on a real three-master Redis Cluster (started here on free loopback
// ports, stopped by PID), pointed at nodes that do not own the slot of their prefix: they must
// follow MOVED to the owner, and follow it again after the slot moved to another master. Also
// shows that the timer's wake subscription on a non-owner node receives the owner's PUBLISH.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <string>
#include <vector>

#include <asio/io_context.hpp>

#include <courier/error.hpp>
#include <courier/redis_lock.hpp>
#include <courier/redis_timer.hpp>

#include "redis/redis_cluster.hpp"
#include "redis/redis_connection.hpp"
#include "redis_test_support.hpp"

using courier::errc;
using courier::LockToken;
using courier::make_error_code;
using courier::detail::RedisReply;
using redis_test::quiet;
using redis_test::RedisServer;
using redis_test::run_for;
using redis_test::run_until;
using namespace std::chrono_literals;

namespace {

/// One blocking command on a fresh connection (its own io_context: the io_context of the code
/// under test does not run meanwhile, so a cluster change made with it is atomic to that code).
RedisReply command(std::uint16_t port, std::vector<std::string> args) {
  asio::io_context io;
  courier::detail::RedisUrl url;
  url.port = port;
  auto c = std::make_shared<courier::detail::RedisConnection>(io, url, "test", quiet());
  c->start();
  REQUIRE(run_until(io, [&] { return c->ready(); }, 3000ms));
  std::optional<RedisReply> reply;
  c->command(std::move(args), [&](std::error_code ec, RedisReply r) {
    REQUIRE_FALSE(ec);
    reply = std::move(r);
  });
  REQUIRE(run_until(io, [&] { return reply.has_value(); }, 3000ms));
  c->close();
  return *reply;
}

/// A private temporary directory, removed with its files even when a constructor that owns it throws.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/courier-moved-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) path = tmpl;
  }
  ~TempDir() {
    if (!path.empty()) std::system(("rm -rf '" + path + "'").c_str());
  }
};

/// Three masters (no replicas) with the slots split in three, joined with CLUSTER MEET.
struct Cluster {
  TempDir tmp;  // first: outlives the servers, whose cluster config files it holds
  std::string dir = tmp.path;
  std::vector<std::unique_ptr<RedisServer>> nodes;
  std::vector<std::string> ids;
  std::vector<std::uint16_t> bus;

  Cluster() {
    REQUIRE_FALSE(dir.empty());
    for (int i = 0; i < 3; ++i) {
      const auto port = redis_test::free_port();
      // The cluster bus listens on port + 10000 unless told otherwise: ask for a free one.
      bus.push_back(redis_test::free_port());
      nodes.push_back(std::make_unique<RedisServer>(
          std::vector<std::string>{"--cluster-enabled", "yes", "--cluster-config-file",
                                   dir + "/nodes-" + std::to_string(port) + ".conf", "--cluster-port",
                                   std::to_string(bus.back()), "--cluster-node-timeout", "2000",
                                   // The failover below leaves the slots of a dead master uncovered.
                                   "--cluster-require-full-coverage", "no"},
          port));
      REQUIRE(nodes.back()->start());
      ids.push_back(command(port, {"CLUSTER", "MYID"}).str);
    }
    const char* ranges[3][2] = {{"0", "5460"}, {"5461", "10922"}, {"10923", "16383"}};
    for (int i = 0; i < 3; ++i) {
      auto r = command(port(i), {"CLUSTER", "ADDSLOTSRANGE", ranges[i][0], ranges[i][1]});
      REQUIRE(r.str == "OK");
    }
    for (int i = 1; i < 3; ++i) {
      const auto meet = command(port(0), {"CLUSTER", "MEET", "127.0.0.1", std::to_string(port(i)),
                                          std::to_string(bus[static_cast<std::size_t>(i)])});
      REQUIRE(meet.str == "OK");
    }
    wait_agreed();
  }
  ~Cluster() { nodes.clear(); }  // each stopped by PID, before the directory goes

  std::uint16_t port(int i) const { return nodes[static_cast<std::size_t>(i)]->port(); }
  std::string url(int i) const { return nodes[static_cast<std::size_t>(i)]->url(); }
  const std::string& id(int i) const { return ids[static_cast<std::size_t>(i)]; }

  /// Which node serves `key`: the one that does not answer MOVED.
  int owner(const std::string& key) const {
    int found = -1;
    for (int i = 0; i < 3; ++i) {
      auto r = command(port(i), {"EXISTS", key});
      if (r.type != RedisReply::Type::error) found = i;
    }
    return found;
  }

  /// Until every node reports a healthy cluster of three and agrees on every slot.
  void wait_agreed() const {
    REQUIRE(run_until_true(
        [&] {
          for (int i = 0; i < 3; ++i) {
            const auto info = command(port(i), {"CLUSTER", "INFO"}).str;
            if (info.find("cluster_state:ok") == std::string::npos ||
                info.find("cluster_known_nodes:3") == std::string::npos ||
                info.find("cluster_slots_ok:16384") == std::string::npos)
              return false;
          }
          return true;
        },
        10s));
  }

  /// Moves `slot` from node `from` to node `to` as redis-cli --cluster reshard does: IMPORTING,
  /// MIGRATING, MIGRATE of every key, then SETSLOT NODE on every master.
  void move_slot(int slot, int from, int to) {
    begin_move(slot, from, to);
    while (true) {
      auto keys = command(port(from), {"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), "100"});
      REQUIRE(keys.type == RedisReply::Type::array);
      if (keys.elements.empty()) break;
      std::vector<std::string> names;
      for (auto& k : keys.elements) names.push_back(k.str);
      migrate(from, to, names);
    }
    end_move(slot, from, to);
  }
  void begin_move(int slot, int from, int to) {
    const auto s = std::to_string(slot);
    REQUIRE(command(port(to), {"CLUSTER", "SETSLOT", s, "IMPORTING", id(from)}).str == "OK");
    REQUIRE(command(port(from), {"CLUSTER", "SETSLOT", s, "MIGRATING", id(to)}).str == "OK");
  }
  void migrate(int from, int to, const std::vector<std::string>& keys) {
    std::vector<std::string> args{"MIGRATE", "127.0.0.1", std::to_string(port(to)), "", "0", "5000", "KEYS"};
    args.insert(args.end(), keys.begin(), keys.end());
    auto r = command(port(from), args);
    INFO(r.str);
    REQUIRE(r.type == RedisReply::Type::status);
  }
  void end_move(int slot, int from, int to) {
    for (int i : {to, from, 3 - to - from})
      REQUIRE(command(port(i), {"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", id(to)}).str == "OK");
  }

  /// A failover without replicas: kills the master `dead` and gives `slot` to `heir` (its data is
  /// lost, as with a replica that had not received it). The others are told directly, as the
  /// winner of an election would tell them through the cluster bus.
  void fail_over(int slot, int dead, int heir) {
    nodes[static_cast<std::size_t>(dead)]->kill();
    for (int i = 0; i < 3; ++i) {
      if (i == dead) continue;
      REQUIRE(command(port(i), {"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", id(heir)}).str == "OK");
    }
  }

  template <class F>
  static bool run_until_true(F done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(50ms);
    }
    return true;
  }
};

struct LockResult {
  bool done = false;
  std::error_code ec;
  LockToken token;
};

LockResult lock(asio::io_context& io, courier::RedisLock& l, const std::string& key) {
  auto r = std::make_shared<LockResult>();
  l.try_lock(key, 10s, [r](std::error_code ec, LockToken t) {
    r->done = true;
    r->ec = ec;
    r->token = std::move(t);
  });
  REQUIRE(run_until(io, [&] { return r->done; }, 5000ms));
  return *r;
}

std::error_code unlock(asio::io_context& io, courier::RedisLock& l, const LockToken& t) {
  auto out = std::make_shared<std::optional<std::error_code>>();
  l.unlock(t, [out](std::error_code ec) { *out = ec; });
  REQUIRE(run_until(io, [&] { return out->has_value(); }, 5000ms));
  return **out;
}

courier::RedisLockOptions lock_options(const std::string& url) {
  courier::RedisLockOptions o;
  o.url = url;
  o.prefix = "movedlock";
  o.logger = quiet();
  return o;
}

// A RedisTimer on node `node` of a cluster, with the errors it reports and the firings per key.
struct TimerOnNode {
  TimerOnNode(asio::io_context& io, const Cluster& cluster, int node, const std::string& prefix,
              std::chrono::milliseconds safety_poll)
      : timer(io, options(cluster.url(node), prefix, safety_poll)) {
    timer.on_fire([this](const courier::TimerEvent& e) { ++fired[std::string(e.key)]; });
  }

  courier::RedisTimerOptions options(std::string url, const std::string& prefix, std::chrono::milliseconds poll) {
    courier::RedisTimerOptions o;
    o.url = std::move(url);
    o.prefix = prefix;
    o.logger = quiet();
    o.safety_poll = poll;
    o.on_error = [this](std::error_code ec, const std::string&) { errors.push_back(ec); };
    return o;
  }

  std::vector<std::error_code> errors;  // before `timer`, whose handlers use them
  std::map<std::string, int> fired;
  courier::RedisTimer timer;
};

}  // namespace

TEST_CASE("RedisLock on a Redis Cluster: pointed at non-owners, follows MOVED, also after the slot moved",
          "[redis][lock][cluster]") {
  REQUIRE_REDIS_SERVER();
  Cluster cluster;
  const int owner = cluster.owner("{movedlock}:probe");
  REQUIRE(owner >= 0);
  const int a = (owner + 1) % 3;  // neither owns the slot
  const int b = (owner + 2) % 3;

  asio::io_context io;
  courier::RedisLock first(io, lock_options(cluster.url(a)));
  courier::RedisLock second(io, lock_options(cluster.url(b)));

  auto exclusive = [&](std::uint64_t fence_above) {
    auto held = lock(io, first, "res");
    REQUIRE_FALSE(held.ec);
    CHECK(held.token.fence > fence_above);
    CHECK(lock(io, second, "res").ec == make_error_code(errc::lock_busy));
    CHECK_FALSE(unlock(io, first, held.token));
    auto next = lock(io, second, "res");
    REQUIRE_FALSE(next.ec);
    CHECK(next.token.fence > held.token.fence);
    CHECK(lock(io, first, "res").ec == make_error_code(errc::lock_busy));
    CHECK_FALSE(unlock(io, second, next.token));
    return next.token.fence;
  };
  const auto fence = exclusive(0);

  // The slot moves to `b` (keys and fence counter with it): `first` was redirected to the old
  // owner and is now redirected again; `second` finds its slot back on the node it was given.
  run_for(io, 100ms);
  cluster.move_slot(courier::detail::key_slot("{movedlock}"), owner, b);
  CHECK(cluster.owner("{movedlock}:probe") == b);
  exclusive(fence);

  // `b` dies and the slot goes back to `owner`: `first`, redirected to `b`, loses it, asks `a` (the
  // node it was given) again, and is redirected to `owner`.
  cluster.fail_over(courier::detail::key_slot("{movedlock}"), b, owner);
  run_for(io, 300ms);  // the loss is seen (a call in flight then would fail: its outcome is unknown)
  auto after = lock(io, first, "res");
  REQUIRE_FALSE(after.ec);
  CHECK(lock(io, first, "res").ec == make_error_code(errc::lock_busy));
  CHECK_FALSE(unlock(io, first, after.token));
}

TEST_CASE("RedisTimer on a Redis Cluster: pointed at a non-owner, fires once, follows the slot when it moves",
          "[redis][timer][cluster]") {
  REQUIRE_REDIS_SERVER();
  Cluster cluster;
  const int owner = cluster.owner("{movedtimer}:probe");
  REQUIRE(owner >= 0);
  const int a = (owner + 1) % 3;
  const int c = (owner + 2) % 3;

  asio::io_context io;
  // A long safety poll: a timer that fires within a second or two was woken by the wake channel,
  // not found by the poll; the subscriber stays on node `a`, which does not own the slot.
  TimerOnNode on_a(io, cluster, a, "movedtimer", 10s);
  auto& timer = on_a.timer;
  auto& fired = on_a.fired;
  auto& errors = on_a.errors;
  REQUIRE(run_until(io, [&] { return timer.connected(); }, 3000ms));
  run_for(io, 300ms);  // the first claim (nothing due) is answered and the next wake is awaited

  timer.schedule_in("t1", 300ms, "one");
  REQUIRE(run_until(io, [&] { return fired["t1"] == 1; }, 3000ms));
  CHECK(timer.stats().wakes >= 1);
  run_for(io, 300ms);
  CHECK(timer.queued() == 0);  // acknowledged

  cluster.move_slot(courier::detail::key_slot("{movedtimer}"), owner, c);
  CHECK(cluster.owner("{movedtimer}:probe") == c);
  const auto wakes = timer.stats().wakes;
  timer.schedule_in("t2", 300ms, "two");
  REQUIRE(run_until(io, [&] { return fired["t2"] == 1; }, 3000ms));
  CHECK(timer.stats().wakes > wakes);
  run_for(io, 500ms);
  CHECK(fired["t1"] == 1);
  CHECK(fired["t2"] == 1);

  // `c` dies and the slot goes back to `owner`: the timer, redirected to `c`, asks `a` again and is
  // redirected to `owner`; its subscription on `a` goes on.
  cluster.fail_over(courier::detail::key_slot("{movedtimer}"), c, owner);
  timer.schedule_in("t3", 300ms, "three");
  REQUIRE(run_until(io, [&] { return fired["t3"] == 1; }, 4000ms));
  run_for(io, 500ms);
  CHECK(fired["t3"] == 1);
  CHECK(errors.empty());
  CHECK(timer.stats().scheduled == 3);
  CHECK(timer.stats().dropped == 0);
  // Nothing left in Redis: the acknowledgement reached the owner.
  CHECK(command(cluster.port(owner), {"ZCARD", "{movedtimer}:lease"}).integer == 0);
  CHECK(command(cluster.port(owner), {"HLEN", "{movedtimer}:data"}).integer == 0);
}

TEST_CASE("RedisTimer on a Redis Cluster: a schedule answered TRYAGAIN during a slot migration waits and goes through",
          "[redis][timer][cluster]") {
  REQUIRE_REDIS_SERVER();
  Cluster cluster;
  const int owner = cluster.owner("{migrating}:probe");
  REQUIRE(owner >= 0);
  const int a = (owner + 1) % 3;
  const int c = (owner + 2) % 3;

  asio::io_context io;
  TimerOnNode on_a(io, cluster, a, "migrating", 200ms);
  auto& timer = on_a.timer;
  auto& fired = on_a.fired;
  auto& errors = on_a.errors;
  timer.schedule_in("later", 60s);
  REQUIRE(run_until(io, [&] { return timer.stats().scheduled == 1; }, 3000ms));

  // Halfway through a migration: the fence counter is on `c`, the rest still on `owner`. A script
  // that touches both is answered TRYAGAIN.
  const auto slot = courier::detail::key_slot("{migrating}");
  cluster.begin_move(slot, owner, c);
  cluster.migrate(owner, c, {"{migrating}:fence"});
  timer.schedule_in("soon", 100ms);
  run_for(io, 600ms);
  CHECK(fired.empty());
  CHECK(timer.stats().scheduled == 1);
  CHECK(timer.queued() == 1);
  CHECK(errors.empty());

  // The migration ends: the schedule goes again at a safety poll, is redirected to `c`, and fires.
  cluster.migrate(owner, c, {"{migrating}:due", "{migrating}:data"});
  cluster.end_move(slot, owner, c);
  REQUIRE(run_until(io, [&] { return fired["soon"] == 1; }, 3000ms));
  CHECK(errors.empty());
  CHECK(timer.stats().scheduled == 2);
  CHECK(fired.count("later") == 0);
  CHECK(command(cluster.port(c), {"ZCARD", "{migrating}:due"}).integer == 1);  // "later" came along
}
