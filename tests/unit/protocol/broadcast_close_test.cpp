// A broadcast that closes recipients as it goes (their send queue overflows max_buffered_bytes)
// while a disconnect handler, user code, disconnects the rest of the room. The broadcast loop
// walks plain pointers to the room's sockets, so nothing it runs may free one of them before the
// loop is past it: the overflow close is deferred to its own handler.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <courier/courier.hpp>

#include "mini_client.hpp"

using courier_test::MiniClient;
using namespace std::chrono_literals;

TEST_CASE("a broadcast overflowing its recipients while a disconnect handler empties the room", "[protocol][limits]") {
  constexpr int kClients = 12;
  courier::ServerOptions options;
  options.engine.max_buffered_bytes = 16 * 1024;  // the broadcast's one frame is twice that
  options.drain_timeout = 500ms;
  courier::Server server(options);
  std::atomic<int> joined{0};
  std::atomic<int> disconnects{0};
  std::atomic<bool> emptied{false};
  server.sockets().on_connection([&](courier::Socket socket) {
    socket.join("room");
    // The handler holds no Socket (one holding its own would keep it alive).
    socket.on_disconnect([&](courier::DisconnectReason) {
      ++disconnects;
      if (!emptied.exchange(true)) server.to("room").disconnect_sockets(true);
    });
    ++joined;
  });
  REQUIRE_FALSE(server.listen({}));
  server.start();

  std::vector<std::unique_ptr<MiniClient>> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(std::make_unique<MiniClient>(server.port()));
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (joined.load() < kClients && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  REQUIRE(joined.load() == kClients);

  // Every recipient overflows as the frame is queued; the first close's handler disconnects all
  // the others while the loop still has them ahead.
  server.to("room").emit("big", std::string(32 * 1024, 'x'));

  deadline = std::chrono::steady_clock::now() + 10s;
  while (disconnects.load() < kClients && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  CHECK(disconnects.load() == kClients);
  // Every client's connection ends; none got the oversized frame whole after its queue overflowed
  // (a close may still let earlier bytes through, so only the end is checked).
  for (auto& c : clients) {
    for (int frames = 0; frames < 8; ++frames)
      if (c->read_frame().empty()) break;
  }
  // The server keeps serving: a new client connects and gets through the handshake.
  MiniClient late(server.port());
  deadline = std::chrono::steady_clock::now() + 10s;
  while (joined.load() < kClients + 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  CHECK(joined.load() == kClients + 1);
}
