// The public API called from several threads at once while real WebSocket clients are connected.
// Built into its own executable so CI can also run it under ThreadSanitizer (COURIER_TSAN): the
// assertions check call order and delivery, TSan checks that the posting underneath is race-free.

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/streambuf.hpp>
#include <asio/write.hpp>

#include <courier/courier.hpp>

namespace {

using asio::ip::tcp;

// A deliberately small blocking WebSocket client: just enough Engine.IO/Socket.IO to join "/",
// count events and answer acks. It is test code; the server under test never sees it as special.
class MiniClient {
 public:
  explicit MiniClient(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    const std::string request =
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n";
    asio::write(socket_, asio::buffer(request));
    asio::read_until(socket_, buffer_, "\r\n\r\n");
    std::string head(asio::buffers_begin(buffer_.data()), asio::buffers_end(buffer_.data()));
    const auto end = head.find("\r\n\r\n") + 4;
    buffer_.consume(end);
    if (head.rfind("HTTP/1.1 101", 0) != 0) throw std::runtime_error("upgrade refused: " + head.substr(0, end));
    if (read_frame().rfind("0{", 0) != 0) throw std::runtime_error("no Engine.IO open packet");
    send_text("40");
    if (read_frame().rfind("40{", 0) != 0) throw std::runtime_error("no Socket.IO connect packet");
  }

  // Reads one text frame; "" when the server closed.
  std::string read_frame() {
    for (;;) {
      unsigned char head[2];
      if (!read_exact(head, 2)) return {};
      const int opcode = head[0] & 0x0f;
      std::uint64_t length = head[1] & 0x7f;
      if (length == 126) {
        unsigned char ext[2];
        if (!read_exact(ext, 2)) return {};
        length = (std::uint64_t{ext[0]} << 8) | ext[1];
      } else if (length == 127) {
        unsigned char ext[8];
        if (!read_exact(ext, 8)) return {};
        length = 0;
        for (unsigned char b : ext) length = (length << 8) | b;
      }
      std::string payload(length, '\0');
      if (length != 0 && !read_exact(payload.data(), length)) return {};
      if (opcode == 0x8) {  // answer the close handshake (masked, empty), as a browser would
        const unsigned char close_frame[6] = {0x88, 0x80, 0, 0, 0, 0};
        std::lock_guard<std::mutex> lock(write_mutex_);
        asio::error_code ignored;
        asio::write(socket_, asio::buffer(close_frame), ignored);
        return {};
      }
      if (opcode == 0x1 && payload == "2") {  // Engine.IO ping: answer so a slow run is not timed out
        send_text("3");
        continue;
      }
      if (opcode == 0x1) return payload;
    }
  }

  void send_text(const std::string& text) {
    std::string frame;
    frame.push_back(static_cast<char>(0x81));
    if (text.size() < 126) {
      frame.push_back(static_cast<char>(0x80 | text.size()));
    } else {
      frame.push_back(static_cast<char>(0x80 | 126));
      frame.push_back(static_cast<char>(text.size() >> 8));
      frame.push_back(static_cast<char>(text.size() & 0xff));
    }
    const std::array<unsigned char, 4> mask{0x12, 0x34, 0x56, 0x78};
    frame.append(reinterpret_cast<const char*>(mask.data()), mask.size());
    for (std::size_t i = 0; i < text.size(); ++i) frame.push_back(static_cast<char>(text[i] ^ mask[i % 4]));
    std::lock_guard<std::mutex> lock(write_mutex_);
    asio::error_code ignored;
    asio::write(socket_, asio::buffer(frame), ignored);
  }

 private:
  bool read_exact(void* out, std::size_t n) {
    auto* dst = static_cast<char*>(out);
    while (n != 0) {
      if (buffer_.size() == 0) {
        asio::error_code ec;
        asio::read(socket_, buffer_, asio::transfer_at_least(1), ec);
        if (ec) return false;
      }
      const std::size_t take = std::min(n, buffer_.size());
      asio::buffer_copy(asio::buffer(dst, take), buffer_.data());
      buffer_.consume(take);
      dst += take;
      n -= take;
    }
    return true;
  }

  asio::io_context io_;
  tcp::socket socket_;
  asio::streambuf buffer_;
  std::mutex write_mutex_;
};

// "42[\"m\",3,17]" -> {"m", 3, 17}; acks "42<id>[\"q\",...]" carry their id.
struct Event {
  std::string name;
  long a = -1;
  long b = -1;
  long ack_id = -1;
};

Event parse_event(const std::string& frame) {
  Event e;
  if (frame.rfind("42", 0) != 0) return e;
  std::size_t pos = 2;
  if (pos < frame.size() && frame[pos] != '[') {
    e.ack_id = std::stol(frame.substr(pos));
    pos = frame.find('[', pos);
  }
  const auto q1 = frame.find('"', pos);
  const auto q2 = frame.find('"', q1 + 1);
  e.name = frame.substr(q1 + 1, q2 - q1 - 1);
  const auto c1 = frame.find(',', q2);
  const auto c2 = frame.find(',', c1 + 1);
  if (c1 != std::string::npos) e.a = std::stol(frame.substr(c1 + 1));
  if (c2 != std::string::npos) e.b = std::stol(frame.substr(c2 + 1));
  return e;
}

}  // namespace

TEST_CASE("Server, Namespace, Room and Socket members called from several threads at once", "[threads]") {
  constexpr int kClients = 6;
  constexpr int kThreads = 4;
  constexpr int kRounds = 150;

  courier::Server server;
  std::mutex sockets_mutex;
  std::condition_variable sockets_cv;
  std::vector<courier::Socket> sockets;
  server.sockets().on_connection([&](courier::Socket socket) {
    std::lock_guard<std::mutex> lock(sockets_mutex);
    sockets.push_back(socket);
    sockets_cv.notify_all();
  });
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
  {
    std::unique_lock<std::mutex> lock(sockets_mutex);
    REQUIRE(sockets_cv.wait_for(lock, std::chrono::seconds(10), [&] { return sockets.size() == kClients; }));
  }

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
