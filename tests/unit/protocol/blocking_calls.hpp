#pragma once
// Blocking forms of courier's posted calls, for tests whose server runs on another thread: each
// waits (bounded) for the server's thread to run the call, so it also waits for earlier calls.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include <courier/courier.hpp>

namespace courier_test {

// Promises are shared: a callback that comes after a failed wait must not outlive theirs.
inline courier::Metrics metrics_of(const courier::Server& server) {
  auto p = std::make_shared<std::promise<courier::Metrics>>();
  auto f = p->get_future();
  server.metrics([p](courier::Metrics m) { p->set_value(std::move(m)); });
  REQUIRE(f.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  return f.get();
}

/// Sorted ids of the sockets `room` targets (fetch_sockets: across the cluster unless local()).
inline std::vector<std::string> ids_of(const courier::Room& room) {
  auto p = std::make_shared<std::promise<std::vector<std::string>>>();
  auto f = p->get_future();
  room.fetch_sockets([p](std::vector<courier::SocketInfo> sockets, std::error_code) {
    std::vector<std::string> ids;
    for (const auto& s : sockets) ids.push_back(s.id);
    std::sort(ids.begin(), ids.end());
    p->set_value(std::move(ids));
  });
  REQUIRE(f.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  return f.get();
}

/// The sockets a Server's default namespace accepts, in connection order. Install it before the
/// server starts; the handler shares the state, so a late connection never outlives it.
class ConnectedSockets {
 public:
  explicit ConnectedSockets(courier::Server& server) : state_(std::make_shared<State>()) {
    server.sockets().on_connection([state = state_](courier::Socket socket) {
      std::lock_guard<std::mutex> lock(state->mutex);
      state->sockets.push_back(std::move(socket));
      state->cv.notify_all();
    });
  }
  /// The sockets once `n` have connected (required within 10 s).
  std::vector<courier::Socket> wait(std::size_t n) const {
    std::unique_lock<std::mutex> lock(state_->mutex);
    REQUIRE(state_->cv.wait_for(lock, std::chrono::seconds(10), [&] { return state_->sockets.size() >= n; }));
    return state_->sockets;
  }

 private:
  struct State {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<courier::Socket> sockets;
  };
  std::shared_ptr<State> state_;
};

/// Socket::join, required to succeed.
inline void join(const courier::Socket& socket, const std::string& room) {
  auto p = std::make_shared<std::promise<std::error_code>>();
  auto f = p->get_future();
  socket.join(room, [p](std::error_code ec) { p->set_value(ec); });
  REQUIRE(f.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  REQUIRE_FALSE(f.get());
}

}  // namespace courier_test
