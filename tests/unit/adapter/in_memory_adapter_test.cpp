// Unit tests for courier::InMemoryAdapter (include/courier/in_memory_adapter.hpp,
// src/adapter/in_memory_adapter.cpp) against a fake AdapterHost that records what it is asked.

#include <courier/in_memory_adapter.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <vector>

using courier::Adapter;
using courier::AdapterHost;
using courier::Args;
using courier::BroadcastOptions;
using courier::InMemoryAdapter;
using courier::OutPacket;
using courier::RoomName;
using courier::SocketId;
using courier::SocketInfo;
using courier::Value;

namespace {

struct Delivery {
  OutPacket packet;
  std::vector<SocketId> ids;
  bool volatile_ = false;
  std::function<void(Args)> ack;
};

class FakeHost : public AdapterHost {
 public:
  const std::string& name() const noexcept override { return name_; }

  void deliver(const OutPacket& packet, const std::vector<SocketId>& ids, bool volatile_,
               std::function<void(Args)> ack) override {
    deliveries.push_back(Delivery{packet, ids, volatile_, std::move(ack)});
  }

  std::optional<SocketInfo> describe(const SocketId& id) const override {
    ++describe_calls;
    if (connected.count(id) == 0) return std::nullopt;
    SocketInfo info;
    info.id = id;
    if (adapter) info.rooms = adapter->socket_rooms(id);
    std::sort(info.rooms.begin(), info.rooms.end());
    info.request.path = "/socket.io/";
    info.request.remote_address = "10.0.0." + id;
    info.auth = Value::object({{"token", "t-" + id}});
    info.data = Value::object({{"user", id}});
    return info;
  }

  void disconnect(const SocketId& id, bool close) override {
    disconnects.emplace_back(id, close);
    // As courier does: a disconnected socket leaves all its rooms.
    if (adapter && leave_on_disconnect) adapter->del_all(id);
  }

  // Cluster-only hook: the in-memory adapter never calls it.
  void server_side_emit_received(Args, std::function<void(Value)>) override { ++server_side_emits; }

  bool may_join(const SocketId& id, const RoomName& room) override {
    asked.emplace_back(id, room);
    return !admit || admit(id, room);
  }

  std::string name_ = "/chat";
  int server_side_emits = 0;
  std::vector<Delivery> deliveries;
  std::vector<std::pair<SocketId, bool>> disconnects;
  std::set<SocketId> connected;
  mutable int describe_calls = 0;
  Adapter* adapter = nullptr;
  bool leave_on_disconnect = true;
  std::function<bool(const SocketId&, const RoomName&)> admit;  // empty: every join admitted
  std::vector<std::pair<SocketId, RoomName>> asked;               // may_join's calls, in order
};

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

bool unique(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return std::adjacent_find(v.begin(), v.end()) == v.end();
}

BroadcastOptions opts(std::vector<RoomName> rooms = {}, std::vector<RoomName> except = {}) {
  BroadcastOptions o;
  o.rooms = std::move(rooms);
  o.except = std::move(except);
  return o;
}

using Strings = std::vector<std::string>;

// Sockets 1..4, each in its own room, plus:
//   room "a": 1 2      room "b": 2 3      room "c": 4
struct Fixture {
  FakeHost host;
  InMemoryAdapter adapter{host};
  Fixture() {
    host.adapter = &adapter;
    adapter.add_all("1", {"1", "a"});
    adapter.add_all("2", {"2", "a", "b"});
    adapter.add_all("3", {"3", "b"});
    adapter.add_all("4", {"4", "c"});
    host.connected = {"1", "2", "3", "4"};
  }
  Strings members(const RoomName& room) const { return sorted(adapter.local_sockets(opts({room}))); }
};

OutPacket event(std::string name, std::vector<Value> args = {}) {
  OutPacket p;
  p.type = 2;
  p.nsp = "/chat";
  p.data.push_back(Value(std::move(name)));
  for (auto& a : args) p.data.push_back(std::move(a));
  return p;
}

}  // namespace

TEST_CASE("InMemoryAdapter: add_all maintains both indexes", "[adapter]") {
  FakeHost host;
  InMemoryAdapter adapter(host);
  CHECK(adapter.room_count() == 0);
  CHECK(adapter.local_rooms().empty());
  CHECK(adapter.socket_rooms("x").empty());

  adapter.add_all("s1", {"s1", "room"});
  CHECK(adapter.room_count() == 2);
  CHECK(sorted(adapter.socket_rooms("s1")) == Strings{"room", "s1"});
  CHECK(sorted(adapter.local_rooms()) == Strings{"room", "s1"});
  CHECK(adapter.local_sockets(opts({"room"})) == Strings{"s1"});
  CHECK(adapter.local_sockets(opts({"s1"})) == Strings{"s1"});

  adapter.add_all("s2", {"s2", "room", "other"});
  CHECK(adapter.room_count() == 4);
  CHECK(sorted(adapter.local_sockets(opts({"room"}))) == Strings{"s1", "s2"});
  CHECK(sorted(adapter.socket_rooms("s2")) == Strings{"other", "room", "s2"});

  // Adding again is idempotent.
  adapter.add_all("s2", {"room", "other"});
  CHECK(adapter.room_count() == 4);
  CHECK(adapter.socket_rooms("s2").size() == 3);
  CHECK(adapter.local_sockets(opts({"room"})).size() == 2);

  // Duplicates inside one call.
  adapter.add_all("s3", {"x", "x", "x"});
  CHECK(adapter.socket_rooms("s3") == Strings{"x"});
  CHECK(adapter.local_sockets(opts({"x"})) == Strings{"s3"});
  CHECK(adapter.room_count() == 5);
}

TEST_CASE("InMemoryAdapter: del removes from both indexes and deletes empty rooms", "[adapter]") {
  Fixture f;
  CHECK(f.adapter.room_count() == 7);  // 4 own rooms + a b c

  f.adapter.del("2", "a");
  CHECK(f.members("a") == Strings{"1"});
  CHECK(sorted(f.adapter.socket_rooms("2")) == Strings{"2", "b"});
  CHECK(f.adapter.room_count() == 7);

  f.adapter.del("1", "a");  // last member
  CHECK(f.members("a").empty());
  CHECK(f.adapter.room_count() == 6);
  const auto rooms = f.adapter.local_rooms();
  CHECK(std::find(rooms.begin(), rooms.end(), "a") == rooms.end());
  CHECK(f.adapter.socket_rooms("1") == Strings{"1"});

  f.adapter.del("4", "c");
  CHECK(f.adapter.room_count() == 5);

  SECTION("deleting what is not there changes nothing") {
    f.adapter.del("1", "b");        // room exists, socket not in it
    f.adapter.del("1", "nowhere");  // room does not exist
    f.adapter.del("unknown", "b");  // socket unknown
    f.adapter.del("1", "a");        // already removed
    CHECK(f.adapter.room_count() == 5);
    CHECK(f.members("b") == Strings{"2", "3"});
    CHECK(f.adapter.socket_rooms("1") == Strings{"1"});
  }
  SECTION("a socket that left every room is still known but in no room") {
    f.adapter.del("4", "4");
    CHECK(f.adapter.socket_rooms("4").empty());
    CHECK(f.adapter.room_count() == 4);
    CHECK(f.members("4").empty());
  }
}

TEST_CASE("InMemoryAdapter: del_all removes a socket everywhere", "[adapter]") {
  Fixture f;
  f.adapter.del_all("2");
  CHECK(f.adapter.socket_rooms("2").empty());
  CHECK(f.members("a") == Strings{"1"});
  CHECK(f.members("b") == Strings{"3"});
  CHECK(f.members("2").empty());
  CHECK(f.adapter.room_count() == 6);  // room "2" deleted, "a" and "b" remain
  CHECK(sorted(f.adapter.local_sockets(opts())) == Strings{"1", "3", "4"});

  f.adapter.del_all("3");
  CHECK(f.adapter.room_count() == 4);  // "3" and "b" deleted
  CHECK(sorted(f.adapter.local_rooms()) == Strings{"1", "4", "a", "c"});

  f.adapter.del_all("3");        // twice
  f.adapter.del_all("unknown");  // never added
  CHECK(f.adapter.room_count() == 4);

  f.adapter.del_all("1");
  f.adapter.del_all("4");
  CHECK(f.adapter.room_count() == 0);
  CHECK(f.adapter.local_rooms().empty());
  CHECK(f.adapter.local_sockets(opts()).empty());

  // A socket can come back.
  f.adapter.add_all("1", {"1", "a"});
  CHECK(f.members("a") == Strings{"1"});
  CHECK(f.adapter.room_count() == 2);
}

TEST_CASE("InMemoryAdapter: local_sockets for rooms, except and unions", "[adapter]") {
  Fixture f;
  SECTION("no rooms: every socket") { CHECK(sorted(f.adapter.local_sockets(opts())) == Strings{"1", "2", "3", "4"}); }
  SECTION("one room") {
    CHECK(f.members("a") == Strings{"1", "2"});
    CHECK(f.members("b") == Strings{"2", "3"});
    CHECK(f.members("3") == Strings{"3"});
    CHECK(f.members("nope").empty());
  }
  SECTION("union of rooms without duplicates") {
    const auto ids = f.adapter.local_sockets(opts({"a", "b"}));
    CHECK(unique(ids));
    CHECK(sorted(ids) == Strings{"1", "2", "3"});
    CHECK(sorted(f.adapter.local_sockets(opts({"a", "b", "c", "1", "2"}))) == Strings{"1", "2", "3", "4"});
    CHECK(sorted(f.adapter.local_sockets(opts({"a", "missing", "c"}))) == Strings{"1", "2", "4"});
    CHECK(f.adapter.local_sockets(opts({"missing", "gone"})).empty());
  }
  SECTION("the same room twice") {
    const auto ids = f.adapter.local_sockets(opts({"a", "a"}));
    CHECK(unique(ids));
    CHECK(sorted(ids) == Strings{"1", "2"});
  }
  SECTION("except") {
    CHECK(sorted(f.adapter.local_sockets(opts({}, {"a"}))) == Strings{"3", "4"});
    CHECK(sorted(f.adapter.local_sockets(opts({}, {"1"}))) == Strings{"2", "3", "4"});  // broadcast.except(socket.id)
    CHECK(sorted(f.adapter.local_sockets(opts({}, {"a", "c"}))) == Strings{"3"});
    CHECK(f.adapter.local_sockets(opts({}, {"a", "b", "c"})).empty());
    CHECK(sorted(f.adapter.local_sockets(opts({}, {"missing"}))) == Strings{"1", "2", "3", "4"});
  }
  SECTION("rooms minus except") {
    CHECK(f.adapter.local_sockets(opts({"a"}, {"b"})) == Strings{"1"});
    CHECK(f.adapter.local_sockets(opts({"b"}, {"a"})) == Strings{"3"});
    CHECK(sorted(f.adapter.local_sockets(opts({"a", "b"}, {"2"}))) == Strings{"1", "3"});
    CHECK(f.adapter.local_sockets(opts({"a", "b"}, {"a", "b"})).empty());
    CHECK(f.adapter.local_sockets(opts({"a"}, {"a"})).empty());
    CHECK(sorted(f.adapter.local_sockets(opts({"c", "a"}, {"missing"}))) == Strings{"1", "2", "4"});
  }
}

TEST_CASE("InMemoryAdapter: local_sockets scales without duplicates", "[adapter]") {
  FakeHost host;
  InMemoryAdapter adapter(host);
  // 1000 sockets, socket i in rooms "m<i % 7>" and "n<i % 11>".
  for (int i = 0; i < 1000; ++i) {
    const std::string id = "s" + std::to_string(i);
    adapter.add_all(id, {id, "m" + std::to_string(i % 7), "n" + std::to_string(i % 11)});
  }
  CHECK(adapter.room_count() == 1000 + 7 + 11);
  std::vector<RoomName> all_m;
  for (int k = 0; k < 7; ++k) all_m.push_back("m" + std::to_string(k));
  const auto ids = adapter.local_sockets(opts(all_m, {"n0"}));
  CHECK(unique(ids));
  std::size_t expected = 0;
  for (int i = 0; i < 1000; ++i) expected += (i % 11 != 0);
  CHECK(ids.size() == expected);
  const auto mixed = adapter.local_sockets(opts({"m0", "n0"}));
  CHECK(unique(mixed));
  std::size_t expected_mixed = 0;
  for (int i = 0; i < 1000; ++i) expected_mixed += (i % 7 == 0 || i % 11 == 0);
  CHECK(mixed.size() == expected_mixed);
}

TEST_CASE("InMemoryAdapter: broadcast delivers once per matching socket", "[adapter]") {
  Fixture f;
  OutPacket p = event("news", {Value(1), Value::object({{"k", "v"}})});
  p.id = 42;

  SECTION("everyone") {
    f.adapter.broadcast(p, opts());
    REQUIRE(f.host.deliveries.size() == 1);
    const Delivery& d = f.host.deliveries[0];
    CHECK(unique(d.ids));
    CHECK(sorted(d.ids) == Strings{"1", "2", "3", "4"});
    CHECK_FALSE(d.volatile_);
    CHECK_FALSE(d.ack);
    // The packet is passed through untouched.
    CHECK(d.packet.type == 2);
    CHECK(d.packet.nsp == "/chat");
    CHECK(d.packet.id == 42u);
    REQUIRE(d.packet.data.size() == 3);
    CHECK(d.packet.data[0].as_string() == "news");
    CHECK(d.packet.data[2]["k"].as_string() == "v");
  }
  SECTION("rooms and except") {
    f.adapter.broadcast(p, opts({"a", "b"}, {"3"}));
    REQUIRE(f.host.deliveries.size() == 1);
    CHECK(sorted(f.host.deliveries[0].ids) == Strings{"1", "2"});
    CHECK(unique(f.host.deliveries[0].ids));
  }
  SECTION("volatile flag is passed through") {
    BroadcastOptions o = opts({"b"});
    o.flags.volatile_ = true;
    f.adapter.broadcast(p, o);
    REQUIRE(f.host.deliveries.size() == 1);
    CHECK(f.host.deliveries[0].volatile_);
    CHECK(sorted(f.host.deliveries[0].ids) == Strings{"2", "3"});
    o.flags.volatile_ = false;
    f.adapter.broadcast(p, o);
    REQUIRE(f.host.deliveries.size() == 2);
    CHECK_FALSE(f.host.deliveries[1].volatile_);
  }
  SECTION("the local flag changes nothing for the in-memory adapter") {
    BroadcastOptions o = opts({"c"});
    o.flags.local = true;
    f.adapter.broadcast(p, o);
    REQUIRE(f.host.deliveries.size() == 1);
    CHECK(f.host.deliveries[0].ids == Strings{"4"});
  }
  SECTION("no matching socket: nobody gets it") {
    f.adapter.broadcast(p, opts({"missing"}));
    std::size_t total = 0;
    for (const auto& d : f.host.deliveries) total += d.ids.size();
    CHECK(total == 0);
  }
  SECTION("the adapter state is unchanged by broadcasts") {
    f.adapter.broadcast(p, opts({"a"}));
    CHECK(f.adapter.room_count() == 7);
    CHECK(f.members("a") == Strings{"1", "2"});
  }
}

TEST_CASE("InMemoryAdapter: broadcast_with_ack reports the client count and forwards acks", "[adapter]") {
  Fixture f;
  OutPacket p = event("question");
  p.id = 7;
  std::vector<std::size_t> counts;
  std::vector<Args> acks;

  BroadcastOptions o = opts({"a", "c"});
  o.flags.volatile_ = true;
  o.flags.timeout = std::chrono::milliseconds(500);
  f.adapter.broadcast_with_ack(
      p, o, [&](std::size_t n) { counts.push_back(n); }, [&](Args args) { acks.push_back(std::move(args)); });
  REQUIRE(counts.size() == 1);
  CHECK(counts[0] == 3);
  REQUIRE(f.host.deliveries.size() == 1);
  const Delivery& d = f.host.deliveries[0];
  CHECK(sorted(d.ids) == Strings{"1", "2", "4"});
  CHECK(d.volatile_);
  CHECK(d.packet.id == 7u);
  REQUIRE(d.ack);
  CHECK(acks.empty());

  // Each client's ack reaches on_ack with its arguments.
  d.ack(Args{Value("yes"), Value(1)});
  d.ack(Args{Value("no")});
  d.ack(Args{});
  REQUIRE(acks.size() == 3);
  CHECK(acks[0] == Args{Value("yes"), Value(1)});
  CHECK(acks[1] == Args{Value("no")});
  CHECK(acks[2].empty());
  CHECK(counts.size() == 1);  // the count is reported once

  SECTION("no matching socket: count 0") {
    f.adapter.broadcast_with_ack(
        p, opts({"missing"}), [&](std::size_t n) { counts.push_back(n); }, [&](Args) { FAIL("no ack expected"); });
    REQUIRE(counts.size() == 2);
    CHECK(counts[1] == 0);
  }
  SECTION("except is honoured in the count") {
    f.adapter.broadcast_with_ack(
        p, opts({}, {"b"}), [&](std::size_t n) { counts.push_back(n); }, [](Args) {});
    REQUIRE(counts.size() == 2);
    CHECK(counts[1] == 2);  // sockets 1 and 4
    CHECK(sorted(f.host.deliveries.back().ids) == Strings{"1", "4"});
  }
}

TEST_CASE("InMemoryAdapter: add_sockets acts on matching sockets only", "[adapter]") {
  Fixture f;
  f.adapter.add_sockets(opts({"a"}), {"new", "b"});
  CHECK(f.members("new") == Strings{"1", "2"});
  CHECK(f.members("b") == Strings{"1", "2", "3"});
  CHECK(sorted(f.adapter.socket_rooms("1")) == Strings{"1", "a", "b", "new"});
  CHECK(sorted(f.adapter.socket_rooms("3")) == Strings{"3", "b"});  // untouched
  CHECK(sorted(f.adapter.socket_rooms("4")) == Strings{"4", "c"});  // untouched
  CHECK(f.adapter.room_count() == 8);

  f.adapter.add_sockets(opts({}, {"a"}), {"outsiders"});
  CHECK(f.members("outsiders") == Strings{"3", "4"});

  f.adapter.add_sockets(opts({"missing"}), {"never"});
  CHECK(f.members("never").empty());
  CHECK(f.adapter.room_count() == 9);

  f.adapter.add_sockets(opts(), {"all"});
  CHECK(f.members("all") == Strings{"1", "2", "3", "4"});
}

TEST_CASE("InMemoryAdapter: add_sockets asks the host before each new join and skips refused ones", "[adapter]") {
  using Asked = std::vector<std::pair<SocketId, RoomName>>;
  Fixture f;
  // A host limit of 3 rooms per socket, as ServerOptions::max_rooms_per_socket would be.
  f.host.admit = [&](const SocketId& id, const RoomName&) { return f.adapter.socket_room_count(id) < 3; };

  f.adapter.add_sockets(opts(), {"x"});
  CHECK(f.members("x") == Strings{"1", "3", "4"});                    // 2 was at the limit
  CHECK(sorted(f.adapter.socket_rooms("2")) == Strings{"2", "a", "b"});  // and keeps its rooms
  CHECK(f.host.asked.size() == 4);

  // Rooms a socket is in already are neither asked about nor refused; new ones are refused.
  f.host.asked.clear();
  f.adapter.add_sockets(opts({"a"}), {"a", "y"});
  std::sort(f.host.asked.begin(), f.host.asked.end());
  CHECK(f.host.asked == Asked{{"1", "y"}, {"2", "y"}});
  CHECK(f.members("a") == Strings{"1", "2"});
  CHECK_FALSE(f.adapter.has_room("y"));

  // Several rooms in one call: each join counts for the next.
  f.adapter.add_all("5", {"5"});
  f.host.asked.clear();
  f.adapter.add_sockets(opts({"5"}), {"p", "q", "r"});
  CHECK(sorted(f.adapter.socket_rooms("5")) == Strings{"5", "p", "q"});
  CHECK(f.host.asked == Asked{{"5", "p"}, {"5", "q"}, {"5", "r"}});
  CHECK_FALSE(f.adapter.has_room("r"));
}

TEST_CASE("InMemoryAdapter: del_sockets acts on matching sockets only", "[adapter]") {
  Fixture f;
  f.adapter.del_sockets(opts({"b"}), {"a"});
  CHECK(f.members("a") == Strings{"1"});  // 2 left, 1 (not in b) stays
  CHECK(sorted(f.adapter.socket_rooms("2")) == Strings{"2", "b"});
  CHECK(sorted(f.adapter.socket_rooms("3")) == Strings{"3", "b"});

  f.adapter.del_sockets(opts({"c"}), {"c", "missing"});
  CHECK(f.members("c").empty());
  CHECK(f.adapter.room_count() == 6);  // room c deleted
  CHECK(f.adapter.socket_rooms("4") == Strings{"4"});

  f.adapter.del_sockets(opts({}, {"1"}), {"a", "b"});
  CHECK(f.members("a") == Strings{"1"});
  CHECK(f.members("b").empty());
  CHECK(f.adapter.room_count() == 5);

  // Deleting the room being iterated over is fine (matching is decided first).
  f.adapter.del_sockets(opts({"a"}), {"a"});
  CHECK(f.members("a").empty());
  CHECK(f.adapter.room_count() == 4);
}

TEST_CASE("InMemoryAdapter: disconnect_sockets acts on matching sockets only", "[adapter]") {
  Fixture f;
  SECTION("the host removes sockets from their rooms while the adapter iterates") {
    f.adapter.disconnect_sockets(opts({"b"}), true);
    REQUIRE(f.host.disconnects.size() == 2);
    std::vector<std::string> ids;
    for (const auto& [id, close] : f.host.disconnects) {
      ids.push_back(id);
      CHECK(close);
    }
    CHECK(sorted(ids) == Strings{"2", "3"});
    CHECK(f.members("a") == Strings{"1"});
    CHECK(f.members("b").empty());
    CHECK(sorted(f.adapter.local_sockets(opts())) == Strings{"1", "4"});
  }
  SECTION("close=false is passed through; except is honoured") {
    f.host.leave_on_disconnect = false;
    f.adapter.disconnect_sockets(opts({}, {"a"}), false);
    REQUIRE(f.host.disconnects.size() == 2);
    std::vector<std::string> ids;
    for (const auto& [id, close] : f.host.disconnects) {
      ids.push_back(id);
      CHECK_FALSE(close);
    }
    CHECK(sorted(ids) == Strings{"3", "4"});
  }
  SECTION("nothing matches") {
    f.adapter.disconnect_sockets(opts({"missing"}), true);
    CHECK(f.host.disconnects.empty());
  }
  SECTION("everyone") {
    f.adapter.disconnect_sockets(opts(), false);
    CHECK(f.host.disconnects.size() == 4);
    CHECK(f.adapter.room_count() == 0);
  }
}

TEST_CASE("InMemoryAdapter: fetch_sockets uses describe()", "[adapter]") {
  Fixture f;
  std::vector<SocketInfo> got;
  std::error_code got_ec = std::make_error_code(std::errc::timed_out);
  int calls = 0;
  auto done = [&](std::vector<SocketInfo> infos, std::error_code ec) {
    ++calls;
    got = std::move(infos);
    got_ec = ec;
  };

  f.adapter.fetch_sockets(opts({"b"}), done);
  CHECK(calls == 1);
  CHECK_FALSE(got_ec);
  CHECK(f.host.describe_calls == 2);
  REQUIRE(got.size() == 2);
  std::sort(got.begin(), got.end(), [](const SocketInfo& a, const SocketInfo& b) { return a.id < b.id; });
  CHECK(got[0].id == "2");
  CHECK(got[0].rooms == Strings{"2", "a", "b"});
  CHECK(got[0].request.remote_address == "10.0.0.2");
  CHECK(got[0].auth["token"].as_string() == "t-2");
  CHECK(got[0].data["user"].as_string() == "2");
  CHECK(got[1].id == "3");
  CHECK(got[1].rooms == Strings{"3", "b"});

  SECTION("sockets the host does not know are skipped") {
    f.host.connected.erase("2");
    f.adapter.fetch_sockets(opts(), done);
    CHECK(calls == 2);
    CHECK_FALSE(got_ec);
    std::vector<std::string> ids;
    for (const auto& i : got) ids.push_back(i.id);
    CHECK(sorted(ids) == Strings{"1", "3", "4"});
  }
  SECTION("except and no match") {
    f.adapter.fetch_sockets(opts({}, {"a", "b"}), done);
    REQUIRE(got.size() == 1);
    CHECK(got[0].id == "4");
    f.adapter.fetch_sockets(opts({"missing"}), done);
    CHECK(calls == 3);
    CHECK(got.empty());
    CHECK_FALSE(got_ec);
  }
}

TEST_CASE("InMemoryAdapter: factory and Adapter defaults", "[adapter]") {
  FakeHost host;
  auto factory = InMemoryAdapter::factory();
  REQUIRE(factory);
  std::unique_ptr<Adapter> adapter = factory(host);
  REQUIRE(adapter != nullptr);
  CHECK(dynamic_cast<InMemoryAdapter*>(adapter.get()) != nullptr);
  adapter->init();
  adapter->add_all("s", {"s", "r"});
  adapter->broadcast(event("e"), opts({"r"}));
  REQUIRE(host.deliveries.size() == 1);
  CHECK(host.deliveries[0].ids == Strings{"s"});
  adapter->close();
  CHECK(host.name() == "/chat");
  // Single-process defaults of the cluster operations.
  std::size_t servers = 0;
  adapter->server_count([&](std::size_t n) { servers = n; });
  CHECK(servers == 1);
  int answered = 0;
  adapter->server_side_emit(Args{Value("ping")}, [&](std::error_code ec, std::vector<Value> replies) {
    ++answered;
    CHECK_FALSE(ec);
    CHECK(replies.empty());
  });
  CHECK(answered == 1);
  CHECK(host.server_side_emits == 0);
}

namespace {

// A host that hands out socket references (as courier's namespaces do): broadcasts then reach
// sockets through deliver_to, without ids.
struct RefSocket final : courier::LocalSocket {
  explicit RefSocket(SocketId i) : id(std::move(i)) {}
  const SocketId& local_id() const noexcept override { return id; }
  SocketId id;
};

class RefHost : public FakeHost {
 public:
  courier::LocalSocket* local_socket(const SocketId& id) noexcept override {
    auto it = sockets.find(id);
    return it == sockets.end() ? nullptr : &it->second;
  }
  void deliver_to(const OutPacket& packet, const std::vector<courier::LocalSocket*>& refs, bool volatile_,
                  std::function<void(Args)> ack) override {
    std::vector<SocketId> ids;
    for (const auto* r : refs) {
      // Only references this host handed out, and only of sockets still here.
      const auto* s = dynamic_cast<const RefSocket*>(r);
      REQUIRE(s != nullptr);
      REQUIRE(sockets.count(s->id) == 1);
      CHECK(&sockets.at(s->id) == s);
      ids.push_back(s->id);
    }
    by_ref.push_back(Delivery{packet, ids, volatile_, std::move(ack)});
  }
  std::map<SocketId, RefSocket> sockets;
  std::vector<Delivery> by_ref;
};

}  // namespace

TEST_CASE("InMemoryAdapter: broadcasts reach sockets by the host's references", "[adapter]") {
  RefHost host;
  InMemoryAdapter adapter{host};
  host.adapter = &adapter;
  for (const char* id : {"1", "2", "3"}) host.sockets.emplace(id, RefSocket(id));
  adapter.add_all("1", {"1", "a"});
  adapter.add_all("2", {"2", "a", "b"});
  adapter.add_all("3", {"3", "b"});
  OutPacket p = event("news", {Value(1)});

  adapter.broadcast(p, opts({"a", "b"}, {"3"}));
  REQUIRE(host.by_ref.size() == 1);
  CHECK(host.deliveries.empty());
  CHECK(sorted(host.by_ref[0].ids) == Strings{"1", "2"});
  CHECK(host.by_ref[0].packet.data == p.data);

  std::size_t count = 0;
  adapter.broadcast_with_ack(p, opts({"b"}), [&](std::size_t n) { count = n; }, [](Args) {});
  REQUIRE(host.by_ref.size() == 2);
  CHECK(count == 2);
  CHECK(host.by_ref[1].ack);
  CHECK(sorted(host.by_ref[1].ids) == Strings{"2", "3"});

  // A socket that left is no longer referenced (its reference may then be destroyed).
  adapter.del_all("2");
  host.sockets.erase("2");
  adapter.broadcast(p, opts());
  REQUIRE(host.by_ref.size() == 3);
  CHECK(sorted(host.by_ref[2].ids) == Strings{"1", "3"});

  // No match: nothing to deliver, and the ack gatherer is told so.
  count = 7;
  adapter.broadcast_with_ack(p, opts({"nobody"}), [&](std::size_t n) { count = n; }, [](Args) {});
  CHECK(count == 0);

  CHECK(host.by_ref.size() == 3);

  // A socket the host did not know when it joined has no reference: delivery falls back to ids,
  // still exactly the matching sockets.
  adapter.add_all("9", {"9", "a"});
  host.deliveries.clear();
  adapter.broadcast(p, opts({"a"}));
  CHECK(host.by_ref.size() == 3);
  REQUIRE(host.deliveries.size() == 1);
  CHECK(sorted(host.deliveries[0].ids) == Strings{"1", "9"});
}
