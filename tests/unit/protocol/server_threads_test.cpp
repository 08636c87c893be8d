// The public API called from several threads at once while real WebSocket clients are connected.
// Built into its own executable so CI can also run it under ThreadSanitizer (COURIER_TSAN): the
// assertions check call order and delivery, TSan checks that the posting underneath is race-free.

#include <catch2/catch.hpp>

#include <array>
#include <condition_variable>
#include <deque>
#include <atomic>
#include <chrono>
#include <future>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <courier/courier.hpp>

#include "blocking_calls.hpp"
#include "mini_client.hpp"

namespace {

using asio::ip::tcp;
using courier_test::Event;
using courier_test::MiniClient;
using courier_test::parse_event;

}  // namespace

TEST_CASE("Server, Namespace, Room and Socket members called from several threads at once", "[threads]") {
  constexpr int kClients = 6;
  constexpr int kThreads = 4;
  constexpr int kRounds = 150;

  courier::Server server;
  const courier_test::ConnectedSockets connected(server);
  REQUIRE_FALSE(server.listen({}));
  server.start();
  const auto port = server.port();

  // Each client reads on its own thread, checks per-thread order and answers acks.
  struct Tally {
    std::map<long, long> next_direct;     // thread -> next expected seq of "m"
    std::map<long, long> last_broadcast;  // thread -> last seq of "b" seen
    long direct = 0;
    long ordered_broadcasts = 0;
    long disorder = 0;
  };
  std::vector<std::unique_ptr<MiniClient>> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(std::make_unique<MiniClient>(port));
  std::vector<Tally> tallies(kClients);
  std::vector<std::thread> readers;
  for (int i = 0; i < kClients; ++i) {
    readers.emplace_back([&, i] {
      auto& tally = tallies[static_cast<std::size_t>(i)];
      for (;;) {
        const std::string frame = clients[static_cast<std::size_t>(i)]->read_frame();
        if (frame.empty()) return;
        const Event e = parse_event(frame);
        if (e.name == "m") {
          if (tally.next_direct[e.a] != e.b) ++tally.disorder;
          tally.next_direct[e.a] = e.b + 1;
          ++tally.direct;
        } else if (e.name == "b") {
          auto it = tally.last_broadcast.find(e.a);
          if (it != tally.last_broadcast.end() && it->second >= e.b) ++tally.disorder;
          tally.last_broadcast[e.a] = e.b;
          ++tally.ordered_broadcasts;
        } else if (e.name == "q" && e.ack_id >= 0) {
          clients[static_cast<std::size_t>(i)]->send_text("43" + std::to_string(e.ack_id) + "[\"ok\"]");
        }
      }
    });
  }
  const std::vector<courier::Socket> sockets = connected.wait(kClients);

  courier::LocalTimer timer(server.context());
  std::atomic<long> acks{0};
  std::atomic<long> ack_errors{0};
  std::atomic<long> fetched{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      const std::string room = "r" + std::to_string(t);
      for (int i = 0; i < kRounds; ++i) {
        for (const auto& s : sockets) s.emit("m", t, i);
        const auto& s = sockets[rng() % sockets.size()];
        if (i % 2 == 0) s.join(room); else s.leave(room);
        server.to(room).emit("b", t, i);
        server.sockets().except(room).volatile_().emit("v", t, i);
        if (i % 10 == 0) {
          s.emit_with_ack("q", courier::Args{courier::Value(t), courier::Value(i)},
                          [&](std::error_code ec, courier::Args) { (ec ? ack_errors : acks)++; },
                          std::chrono::seconds(10));
          server.sockets().all().fetch_sockets([&](std::vector<courier::SocketInfo> found, std::error_code ec) {
            if (!ec && found.size() == kClients) fetched++;
          });
          (void)s.rooms();  // waits for the server's thread
        }
        timer.schedule("k" + std::to_string(t) + "-" + std::to_string(i % 7),
                       courier::Timer::Clock::now() + std::chrono::hours(1));
        if (i % 3 == 0) timer.cancel("k" + std::to_string(t) + "-" + std::to_string(i % 7));
      }
    });
  }
  for (auto& w : workers) w.join();

  const long expected_acks = kThreads * ((kRounds + 9) / 10);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((acks + ack_errors < expected_acks || fetched < expected_acks) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(acks == expected_acks);
  CHECK(ack_errors == 0);
  CHECK(fetched == expected_acks);

  // Close with drain: queued packets are written first, then every client sees the close.
  std::promise<void> closed;
  server.close([&] { closed.set_value(); });
  REQUIRE(closed.get_future().wait_for(std::chrono::seconds(15)) == std::future_status::ready);
  for (auto& r : readers) r.join();

  for (const auto& tally : tallies) {
    CHECK(tally.disorder == 0);
    CHECK(tally.direct == kThreads * kRounds);
    for (int t = 0; t < kThreads; ++t) CHECK(tally.next_direct.at(t) == kRounds);
  }
  long broadcasts = 0;
  for (const auto& tally : tallies) broadcasts += tally.ordered_broadcasts;
  CHECK(broadcasts > 0);
}

TEST_CASE("a Listener destroyed on another thread while its io_context runs stops accepting", "[threads]") {
  // The destructor used to close the acceptor on the calling thread while the io thread was
  // accepting with it: a data race (TSan reports it). It now closes on the io thread.
  asio::io_context io;
  courier::EngineServer engine(io);
  auto listener = std::make_unique<courier::Listener>(io);
  listener->mount(engine);
  REQUIRE_FALSE(listener->listen({}));
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), listener->port());
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });

  // Connections come and go while the listener is dropped, so its accept path is busy then.
  auto try_connect = [&endpoint] {
    asio::io_context client_io;
    tcp::socket s(client_io);
    std::error_code ec;
    s.connect(endpoint, ec);
    return ec;
  };
  std::atomic<bool> stop{false};
  std::atomic<int> connected{0};
  std::thread connector([&] {
    while (!stop.load())
      if (!try_connect()) ++connected;
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (connected.load() < 50 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(connected.load() >= 50);

  listener.reset();  // here, on the test's thread, while the io thread runs

  bool refused = false;
  while (!refused && std::chrono::steady_clock::now() < deadline + std::chrono::seconds(5)) {
    refused = try_connect() == asio::error::connection_refused;
    if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop = true;
  connector.join();
  CHECK(refused);
  guard.reset();
  io.stop();
  runner.join();
}

TEST_CASE("acks answered on another thread while the socket's next events are acked on its own", "[threads]") {
  // A socket reuses its ack object once no handle to it is left (SocketImpl::make_ack): handles
  // released on a worker thread must still answer their own event, once.
  constexpr int kEvents = 300;
  courier::Server server;
  std::mutex mutex;
  std::condition_variable ready;
  std::deque<courier::Ack> far;
  bool done = false;
  server.sockets().on_connection([&](courier::Socket socket) {
    socket.on("far", [&](courier::Args&, courier::Ack ack) {
      std::lock_guard<std::mutex> lock(mutex);
      far.push_back(std::move(ack));
      ready.notify_one();
    });
    socket.on("near", [](courier::Args& args, courier::Ack ack) { ack(std::move(args[0])); });
  });
  std::thread worker([&] {
    for (;;) {
      courier::Ack ack;
      {
        std::unique_lock<std::mutex> lock(mutex);
        ready.wait(lock, [&] { return done || !far.empty(); });
        if (far.empty()) return;
        ack = std::move(far.front());
        far.pop_front();
      }
      ack("far");
      ack("again");  // a second call sends nothing
    }
  });
  REQUIRE_FALSE(server.listen({}));
  server.start();

  MiniClient client(server.port());
  auto reading = std::async(std::launch::async, [&client] {
    std::map<long, std::vector<std::string>> acks;  // id -> payloads received
    for (int received = 0; received < kEvents;) {
      const std::string frame = client.read_frame();
      if (frame.empty()) break;
      if (frame.rfind("43", 0) != 0) continue;
      const std::size_t open = frame.find('[');
      acks[std::stol(frame.substr(2, open - 2))].push_back(frame.substr(open));
      ++received;
    }
    return acks;
  });
  for (int id = 1; id <= kEvents; ++id)
    client.send_text("42" + std::to_string(id) + (id % 2 ? R"(["far"])" : "[\"near\"," + std::to_string(id) + "]"));
  if (reading.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    FAIL_CHECK("not every event was acked within 20 s");
    server.close();
  }
  const auto acks = reading.get();
  CHECK(acks.size() == static_cast<std::size_t>(kEvents));
  for (const auto& [id, payloads] : acks) {
    INFO("ack id " << id);
    CHECK(payloads == std::vector<std::string>{id % 2 ? R"(["far"])" : "[" + std::to_string(id) + "]"});
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    done = true;
  }
  ready.notify_one();
  worker.join();
  std::promise<void> closed;
  server.close([&] { closed.set_value(); });
  CHECK(closed.get_future().wait_for(std::chrono::seconds(10)) == std::future_status::ready);
}
