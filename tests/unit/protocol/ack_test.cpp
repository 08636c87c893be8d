// Acks of client events (SocketImpl::make_ack): a socket reuses its ack object for the next
// acked event when no handle to it survived, so these check that every event still gets its own
// ack, once, with its own id: handles kept past their event, called late, called twice, dropped.
// A real Server with a real WebSocket client (mini_client.hpp).

#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include <courier/courier.hpp>

#include "blocking_calls.hpp"
#include "mini_client.hpp"

using courier_test::MiniClient;
using namespace std::chrono_literals;

namespace {

// Reads frames until `n` acks ("43...") arrived; other frames are skipped. A missing ack fails
// after 10 s instead of blocking: the server is closed, which ends the client's read.
std::vector<std::string> read_acks(MiniClient& client, std::size_t n, courier::Server& server) {
  auto reading = std::async(std::launch::async, [&client, n] {
    std::vector<std::string> acks;
    while (acks.size() < n) {
      const std::string frame = client.read_frame();
      if (frame.empty()) break;  // connection closed
      if (frame.rfind("43", 0) == 0) acks.push_back(frame);
    }
    return acks;
  });
  if (reading.wait_for(10s) != std::future_status::ready) {
    FAIL_CHECK("fewer than " << n << " acks within 10 s");
    server.close();
  }
  return reading.get();
}

}  // namespace

TEST_CASE("acks: a handle kept past its event answers that event, late, once", "[protocol][ack]") {
  courier::Server server;
  std::mutex mutex;
  std::vector<courier::Ack> kept;
  server.sockets().on_connection([&](courier::Socket socket) {
    socket.on("keep", [&](courier::Args&, courier::Ack ack) {
      std::lock_guard<std::mutex> lock(mutex);
      kept.push_back(ack);  // not called now
    });
    socket.on("now", [](courier::Args& args, courier::Ack ack) { ack(std::move(args[0])); });
    socket.on("release", [&](courier::Args&, courier::Ack ack) {
      std::vector<courier::Ack> late;
      {
        std::lock_guard<std::mutex> lock(mutex);
        late.swap(kept);
      }
      for (auto& k : late) k("late");
      for (auto& k : late) k("twice");  // already answered: nothing is sent
      ack("released");
    });
    socket.on("drop", [](courier::Args&, courier::Ack) {});  // never answered
  });
  REQUIRE_FALSE(server.listen({}));
  server.start();

  MiniClient client(server.port());
  client.send_text(R"(421["keep"])");
  client.send_text(R"(422["now","a"])");
  client.send_text(R"(423["drop"])");
  client.send_text(R"(424["keep"])");
  client.send_text(R"(425["now","b"])");
  CHECK(read_acks(client, 2, server) == std::vector<std::string>{R"(432["a"])", R"(435["b"])"});
  client.send_text(R"(426["release"])");
  CHECK(read_acks(client, 3, server) == std::vector<std::string>{R"(431["late"])", R"(434["late"])", R"(436["released"])"});
  // A run of events acked at once, each with its own id and arguments.
  for (int i = 0; i < 20; ++i)
    client.send_text("42" + std::to_string(100 + i) + "[\"now\"," + std::to_string(i) + "]");
  std::vector<std::string> expected;
  for (int i = 0; i < 20; ++i) expected.push_back("43" + std::to_string(100 + i) + "[" + std::to_string(i) + "]");
  CHECK(read_acks(client, 20, server) == expected);
  // Nothing more: the second calls and the dropped event sent no ack.
  client.send_text(R"(42999["now","end"])");
  CHECK(read_acks(client, 1, server) == std::vector<std::string>{R"(43999["end"])"});

  auto closed = std::make_shared<std::promise<void>>();
  server.close([closed] { closed->set_value(); });
  CHECK(closed->get_future().wait_for(10s) == std::future_status::ready);
}
