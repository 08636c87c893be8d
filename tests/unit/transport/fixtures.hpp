#pragma once
// Fixtures of the transport tests over real loopback sockets (listener_test.cpp, tls_test.cpp): an
// echoing Engine.IO server on its own thread, and what the plain and the TLS test clients share.
// The clients block with a 5 s receive timeout, so no test hangs.

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/write.hpp>

#include <courier/engine_server.hpp>
#include <courier/listener.hpp>
#include <courier/log.hpp>

namespace courier_test {

inline courier::EngineOptions engine_options(std::size_t max_size = 1000000) {
  courier::EngineOptions o;
  o.max_http_buffer_size = max_size;
  o.logger.level = courier::LogLevel::off;
  return o;
}

/// Log records captured in memory, for tests that check what was logged.
struct Log {
  std::mutex mutex;
  std::vector<std::string> lines;
  courier::Logger logger(courier::LogLevel level = courier::LogLevel::debug) {
    return courier::Logger{level, [this](courier::LogLevel, std::string_view m) {
                             std::lock_guard<std::mutex> lock(mutex);
                             lines.emplace_back(m);
                           }};
  }
  bool has(const std::string& part) {
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto& l : lines)
      if (l.find(part) != std::string::npos) return true;
    return false;
  }
  bool wait_for(const std::string& part) {
    for (int i = 0; i < 300; ++i) {
      if (has(part)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  std::string all() {
    std::lock_guard<std::mutex> lock(mutex);
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }
};

/// An Engine.IO server that echoes every message, behind a Listener, run on its own thread. `log`
/// holds the listener's records at `log_level`; `close_reasons` why sessions closed.
struct EchoServer {
  Log log;
  asio::io_context io;
  courier::EngineServer engine;
  courier::Listener listener;
  asio::executor_work_guard<asio::io_context::executor_type> guard;
  std::thread thread;
  std::atomic<int> closes{0};
  std::mutex mutex;
  std::vector<std::string> close_reasons;

  explicit EchoServer(courier::ListenOptions lo = {}, courier::EngineOptions eo = engine_options(),
                      courier::LogLevel log_level = courier::LogLevel::off)
      : engine(io, std::move(eo)), listener(io, log.logger(log_level)), guard(io.get_executor()) {
    engine.on_connection([this](courier::EngineSocket s) {
      s.on_message([s](const courier::EngineMessage& m) {
        if (m.binary)
          s.send_binary(std::string(m.data));
        else
          s.send(std::string(m.data));
      });
      s.on_close([this](courier::CloseReason r, std::string_view) {
        std::lock_guard<std::mutex> lock(mutex);
        close_reasons.emplace_back(to_string(r));
        ++closes;
      });
    });
    listener.mount(engine);
    const auto ec = listener.listen(lo);
    INFO(log.all());
    REQUIRE_FALSE(ec);
    thread = std::thread([this] { io.run(); });
  }
  ~EchoServer() {
    asio::post(io, [this] {
      listener.close();
      engine.close();
    });
    guard.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    io.stop();
    thread.join();
  }
  bool wait_closes(int n) {
    for (int i = 0; i < 300 && closes.load() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return closes.load() >= n;
  }
};

struct Response {
  int status = 0;
  std::string head;
  std::string body;
  bool has(const std::string& header_line) const { return head.find(header_line) != std::string::npos; }
};

inline std::string sid_of(const std::string& open) {
  const auto p = open.find("\"sid\":\"");
  REQUIRE(p != std::string::npos);
  return open.substr(p + 7, open.find('"', p + 7) - p - 7);
}

/// A blocking TCP connection to 127.0.0.1:`port`.
struct TcpConnection {
  asio::io_context io;
  asio::ip::tcp::socket sock{io};

  explicit TcpConnection(std::uint16_t port) {
    sock.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    timeval tv{5, 0};
    ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void write(const std::string& s) { asio::write(sock, asio::buffer(s)); }
};

/// HTTP responses and WebSocket frames over whatever stream `Derived` reads with `fill()` (more
/// into `buf`; false on end, error or timeout) and sends with `write()`: plain TCP or TLS.
template <class Derived>
struct WireClient {
  std::string buf;

  bool need(std::size_t n) {
    while (buf.size() < n)
      if (!self().fill()) return false;
    return true;
  }
  /// Reads a response head into `r`; false (and `r` untouched) if the stream ended first.
  bool read_head(Response& r) {
    std::size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos)
      if (!self().fill()) return false;
    r.head = buf.substr(0, end + 4);
    buf.erase(0, end + 4);
    r.status = std::stoi(r.head.substr(9, 3));
    return true;
  }
  Response response() {
    Response r;
    if (!read_head(r)) return r;
    std::size_t length = 0;
    const auto cl = r.head.find("Content-Length: ");
    if (cl != std::string::npos) length = std::stoul(r.head.substr(cl + 16));
    if (!need(length)) return r;
    r.body = buf.substr(0, length);
    buf.erase(0, length);
    return r;
  }

  /// Sends a client frame: masked, as clients must, unless a test sends a bad one on purpose.
  void send_frame(unsigned opcode, const std::string& payload, bool fin = true, bool masked = true) {
    std::string f;
    f += static_cast<char>((fin ? 0x80 : 0) | opcode);
    const char m = masked ? static_cast<char>(0x80) : 0;
    if (payload.size() < 126) {
      f += static_cast<char>(m | static_cast<char>(payload.size()));
    } else if (payload.size() < 65536) {
      f += static_cast<char>(m | 126);
      f += static_cast<char>(payload.size() >> 8);
      f += static_cast<char>(payload.size() & 0xFF);
    } else {
      f += static_cast<char>(m | 127);
      for (int i = 7; i >= 0; --i) f += static_cast<char>((static_cast<std::uint64_t>(payload.size()) >> (8 * i)) & 0xFF);
    }
    const char key[4] = {0x12, 0x34, 0x56, 0x78};
    if (masked) f.append(key, 4);
    for (std::size_t i = 0; i < payload.size(); ++i) f += masked ? static_cast<char>(payload[i] ^ key[i & 3]) : payload[i];
    self().write(f);
  }
  /// Reads one server frame: (opcode, payload); opcode -1 when the stream ended.
  std::pair<int, std::string> frame() {
    if (!need(2)) return {-1, {}};
    const auto b0 = static_cast<unsigned char>(buf[0]), b1 = static_cast<unsigned char>(buf[1]);
    std::size_t len = b1 & 0x7F, header = 2;
    if (len == 126) {
      if (!need(4)) return {-1, {}};
      len = (static_cast<unsigned char>(buf[2]) << 8) | static_cast<unsigned char>(buf[3]);
      header = 4;
    } else if (len == 127) {
      if (!need(10)) return {-1, {}};
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<unsigned char>(buf[2 + i]);
      header = 10;
    }
    if (!need(header + len)) return {-1, {}};
    std::string payload = buf.substr(header, len);
    buf.erase(0, header + len);
    return {static_cast<int>(b0 & 0x0F), payload};
  }
  static int close_code(const std::string& payload) {
    return payload.size() < 2 ? 0 : (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

}  // namespace courier_test
