// ServerOptions::max_rooms_per_socket on the bulk join (Room::sockets_join): a real Server with
// real WebSocket clients (mini_client.hpp), checked through the public API, the metrics and the log.

#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <courier/courier.hpp>

#include "blocking_calls.hpp"
#include "mini_client.hpp"

using courier_test::ids_of;
using courier_test::join;
using courier_test::metrics_of;
using courier_test::MiniClient;
using namespace std::chrono_literals;

TEST_CASE("Room::sockets_join leaves sockets at max_rooms_per_socket out, the others join", "[protocol][rooms]") {
  std::mutex log_mutex;
  std::vector<std::string> warnings;
  courier::ServerOptions options;
  options.max_rooms_per_socket = 3;
  options.drain_timeout = 500ms;  // the clients stop reading at the end
  options.logger.sink = [&](courier::LogLevel level, std::string_view message) {
    std::lock_guard<std::mutex> lock(log_mutex);
    if (level == courier::LogLevel::warn) warnings.emplace_back(message);
  };
  courier::Server server(options);
  const courier_test::ConnectedSockets connected(server);
  REQUIRE_FALSE(server.listen({}));
  server.start();

  // Each client is connected before the next one starts: sockets[i] belongs to the i-th client.
  MiniClient below(server.port());
  MiniClient at_limit(server.port());
  const std::vector<courier::Socket> sockets = connected.wait(2);
  const courier::Socket two = sockets[0];    // own room + "a"
  const courier::Socket three = sockets[1];  // own room + "b" + "c": at the limit
  join(two, "a");
  join(three, "b");
  join(three, "c");
  REQUIRE(metrics_of(server).rooms_refused == 0);

  server.sockets().all().sockets_join("x");
  CHECK(metrics_of(server).rooms_refused == 1);  // `three` only
  CHECK(ids_of(server.to("x")) == std::vector<std::string>{two.id()});
  CHECK(ids_of(server.to("c")) == std::vector<std::string>{three.id()});  // its rooms are untouched
  {
    std::lock_guard<std::mutex> lock(log_mutex);
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find(three.id()) != std::string::npos);
    CHECK(warnings[0].find("join x refused: max_rooms_per_socket (3) reached") != std::string::npos);
  }

  // `two` is now at the limit too, but in "x" already: joining it again is no refusal.
  server.sockets().all().sockets_join("x");
  CHECK(metrics_of(server).rooms_refused == 2);  // `three` again
  CHECK(ids_of(server.to("x")) == std::vector<std::string>{two.id()});

  server.to("x").emit("hit");
  server.sockets().emit("end");
  CHECK(courier_test::events_until_end(below) == std::vector<std::string>{"hit"});
  CHECK(courier_test::events_until_end(at_limit).empty());

  auto closed = std::make_shared<std::promise<void>>();
  server.close([closed] { closed->set_value(); });
  CHECK(closed->get_future().wait_for(10s) == std::future_status::ready);
}
