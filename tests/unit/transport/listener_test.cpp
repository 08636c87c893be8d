// The transport over real loopback sockets: HTTP/1.1 keep-alive and pipelining, Connection: close,
// error statuses, chunked bodies, timeouts, abort of a held poll, and the WebSocket handshake,
// echo, ping/pong, fragmentation, close handshake and protocol-error close codes. The server runs
// on its own thread; the test drives it with blocking sockets (receive timeout: no test hangs).

#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>

#include <courier/engine_server.hpp>
#include <courier/listener.hpp>

#include "fixtures.hpp"
#include "transport/sha1.hpp"

using namespace courier;
using namespace courier_test;
using namespace std::chrono_literals;

namespace {

using Server = EchoServer;

/// A plain TCP client speaking HTTP and WebSocket.
struct Client : TcpConnection, WireClient<Client> {
  explicit Client(std::uint16_t port) : TcpConnection(port) {}
  // While `batch` is set, frames are collected there and sent later in one write, so that the
  // server reads them in one turn and queues all the replies before it flushes.
  std::string* batch = nullptr;
  void write(const std::string& s) {
    if (batch)
      *batch += s;
    else
      TcpConnection::write(s);
  }
  bool fill() {
    char tmp[65536];
    std::error_code ec;
    const std::size_t n = sock.read_some(asio::buffer(tmp), ec);
    if (ec) return false;
    buf.append(tmp, n);
    return true;
  }
  // True when the server ends the connection (EOF) with nothing more to read.
  bool closed_by_server() {
    char tmp[256];
    std::error_code ec;
    const std::size_t n = sock.read_some(asio::buffer(tmp), ec);
    return n == 0 && (ec == asio::error::eof || ec == asio::error::connection_reset);
  }
  // WireClient::frame, failing first on a masked server frame: these tests are about the framing.
  std::pair<int, std::string> frame() {
    if (!need(2)) return {-1, {}};
    REQUIRE((static_cast<unsigned char>(buf[1]) & 0x80) == 0);  // server frames are not masked
    return WireClient::frame();
  }
  // Upgrade to a WebSocket Engine.IO session; returns the 101 response.
  Response upgrade(const std::string& key = "dGhlIHNhbXBsZSBub25jZQ==") {
    write("GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + "\r\n\r\n");
    Response r;
    read_head(r);
    return r;
  }
};

const std::string kHandshake = "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n";

}  // namespace

TEST_CASE("HTTP keep-alive: one connection serves a whole polling session, pipelined too", "[transport][listener]") {
  Server server;
  Client c(server.listener.port());
  c.write(kHandshake);
  const Response open = c.response();
  REQUIRE(open.status == 200);
  CHECK_FALSE(open.has("Connection: close"));
  const std::string sid = sid_of(open.body);
  const std::string q = "/engine.io/?EIO=4&transport=polling&sid=" + sid;
  // POST then GET in one write: answered in order on the same connection.
  c.write("POST " + q + " HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n4hello" + "GET " + q + " HTTP/1.1\r\nHost: x\r\n\r\n");
  const Response posted = c.response();
  CHECK(posted.status == 200);
  CHECK(posted.body == "ok");
  const Response polled = c.response();
  CHECK(polled.status == 200);
  CHECK(polled.body == "4hello");
  // A chunked body is decoded.
  c.write("POST " + q + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n4c\r\n4\r\nhunk\r\n0\r\n\r\n");
  CHECK(c.response().body == "ok");
  c.write("GET " + q + " HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(c.response().body == "4chunk");
}

TEST_CASE("Connection: close and HTTP/1.0 end the connection after the response", "[transport][listener]") {
  Server server;
  {
    Client c(server.listener.port());
    c.write("GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nConnection: close\r\n\r\n");
    const Response r = c.response();
    CHECK(r.status == 200);
    CHECK(r.has("Connection: close"));
    CHECK(c.closed_by_server());
  }
  {
    Client c(server.listener.port());
    c.write("GET /nope HTTP/1.0\r\n\r\n");
    const Response r = c.response();
    CHECK(r.status == 404);
    CHECK(c.closed_by_server());
  }
  {
    Client c(server.listener.port());
    c.write("GET /nope HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK(c.response().has("Connection: keep-alive"));
    c.write("GET /nope HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK(c.response().status == 404);
  }
}

TEST_CASE("bad requests get 400 / 404 / 413 / 431 and the connection ends", "[transport][listener]") {
  Server server(ListenOptions{}, engine_options(1000));
  struct Case {
    std::string request;
    int status;
  };
  const std::vector<Case> cases = {
      {"HELLO\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400},
      {"GET /elsewhere HTTP/1.1\r\n\r\n", 404},
      {"POST /engine.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 413},
      {"POST /engine.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n", 413},
      {"GET / HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n", 431},
      {"GET / HTTP/2.0\r\n\r\n", 505},
  };
  for (const auto& k : cases) {
    CAPTURE(k.request.substr(0, 60));
    Client c(server.listener.port());
    c.write(k.request);
    const Response r = c.response();
    CHECK(r.status == k.status);
    if (k.status != 404) {
      CHECK(r.has("Connection: close"));
      CHECK(c.closed_by_server());
    }
  }
  // The server still serves others.
  Client ok(server.listener.port());
  ok.write(kHandshake);
  CHECK(ok.response().status == 200);
}

TEST_CASE("a silent client is timed out: 408 mid-request, quiet close when idle", "[transport][listener]") {
  ListenOptions lo;
  lo.request_timeout = 300ms;
  lo.keep_alive_timeout = 200ms;
  Server server(lo);
  Client partial(server.listener.port());
  partial.write("GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost:");
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(partial.response().status == 408);
  CHECK(partial.closed_by_server());
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);

  Client idle(server.listener.port());
  idle.write("GET /nope HTTP/1.1\r\n\r\n");
  CHECK(idle.response().status == 404);
  CHECK(idle.closed_by_server());  // after keep_alive_timeout, not the 5 s receive timeout

  Client silent(server.listener.port());  // connects and never sends
  CHECK(silent.closed_by_server());
}

TEST_CASE("a half-sent head gets 408 after head_timeout, while a body keeps the longer request_timeout", "[transport][listener]") {
  ListenOptions lo;
  lo.head_timeout = 300ms;
  lo.request_timeout = 5s;
  Server server(lo);
  Client slowloris(server.listener.port());
  slowloris.write("GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(slowloris.response().status == 408);
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);

  // Head complete, body trickling: head_timeout no longer applies.
  Client slow_body(server.listener.port());
  slow_body.write("POST /engine.io/?EIO=4&transport=polling&sid=nope HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab");
  std::this_thread::sleep_for(600ms);
  slow_body.write("cd");
  CHECK(slow_body.response().status == 400);  // the engine's answer (unknown sid), not a 408
}

TEST_CASE("bytes that cannot start a request (a TLS hello, binary noise) get 400 at once", "[transport][listener]") {
  Server server;
  Client tls(server.listener.port());
  tls.write(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(tls.response().status == 400);
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
}

TEST_CASE("a held poll whose client goes away closes the session", "[transport][listener]") {
  Server server;
  Client c(server.listener.port());
  c.write(kHandshake);
  const std::string sid = sid_of(c.response().body);
  c.write("GET /engine.io/?EIO=4&transport=polling&sid=" + sid + " HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(100ms);  // the poll is held (nothing to send)
  CHECK(server.closes.load() == 0);
  c.sock.close();
  REQUIRE(server.wait_closes(1));
  std::lock_guard<std::mutex> lock(server.mutex);
  CHECK(server.close_reasons[0] == "transport error");
}

TEST_CASE("WebSocket: handshake, echo, ping/pong, fragments, close handshake", "[transport][listener][ws]") {
  Server server;
  Client c(server.listener.port());
  const Response r = c.upgrade("x3JJHMbDL1EzLkh9GBhXDw==");
  REQUIRE(r.status == 101);
  CHECK(r.has("Sec-WebSocket-Accept: " + detail::websocket_accept("x3JJHMbDL1EzLkh9GBhXDw==") + "\r\n"));
  CHECK(r.has("Upgrade: websocket"));
  auto open = c.frame();
  REQUIRE(open.first == 1);
  CHECK(open.second.rfind("0{\"sid\":", 0) == 0);

  c.send_frame(1, "4hello");
  CHECK(c.frame() == std::make_pair(1, std::string("4hello")));
  c.send_frame(2, std::string("\x00\xFF", 2));
  CHECK(c.frame() == std::make_pair(2, std::string("\x00\xFF", 2)));
  c.send_frame(9, "are you there");
  CHECK(c.frame() == std::make_pair(10, std::string("are you there")));
  // Fragmented with a ping in between: the pong comes first, then the whole message.
  c.send_frame(1, "4fr", false);
  c.send_frame(9, "p");
  c.send_frame(0, "ag", false);
  c.send_frame(0, "ment", true);
  CHECK(c.frame() == std::make_pair(10, std::string("p")));
  CHECK(c.frame() == std::make_pair(1, std::string("4fragment")));
  // A large message (16-bit length) both ways.
  const std::string big = "4" + std::string(40000, 'b');
  c.send_frame(1, big);
  CHECK(c.frame() == std::make_pair(1, big));

  c.send_frame(8, std::string("\x03\xE8", 2));
  const auto close = c.frame();
  CHECK(close.first == 8);
  CHECK(Client::close_code(close.second) == 1000);
  CHECK(c.closed_by_server());
  REQUIRE(server.wait_closes(1));
  std::lock_guard<std::mutex> lock(server.mutex);
  CHECK(server.close_reasons[0] == "transport close");
}

TEST_CASE("WebSocket: replies queued in one turn arrive whole and in order, small ones copied together or not", "[transport][listener][ws]") {
  // A flush copies queued frames of at most 16 KiB in total into one buffer and sends that; more
  // goes out as a gather write. Both, and the switch between them, must keep every byte in order.
  Server server;
  Client c(server.listener.port());
  REQUIRE(c.upgrade().status == 101);
  REQUIRE(c.frame().first == 1);  // open

  const std::vector<std::vector<std::size_t>> bursts = {
      {1, 2, 3, 125, 126, 200, 7},           // small: one copied buffer
      {5000, 5000, 5000, 1000, 380, 1},      // just under and around 16 KiB
      {20, 9000, 9000, 30, 40000, 10, 3},    // over: gathered
      std::vector<std::size_t>(300, 60),     // more frames than one write takes
  };
  int n = 0;
  for (const auto& sizes : bursts) {
    std::string burst;
    std::vector<std::string> sent;
    c.batch = &burst;
    for (std::size_t size : sizes) {
      std::string m = "4" + std::to_string(n++) + ":";
      m.resize(std::max(size, m.size()), static_cast<char>('a' + n % 26));
      c.send_frame(1, m);
      sent.push_back(std::move(m));
    }
    c.batch = nullptr;
    c.write(burst);
    for (const auto& m : sent) REQUIRE(c.frame() == std::make_pair(1, m));
  }
}

TEST_CASE("WebSocket protocol errors close with 1002 / 1007 / 1009", "[transport][listener][ws]") {
  Server server(ListenOptions{}, engine_options(1000));
  struct Case {
    const char* what;
    unsigned opcode;
    std::string payload;
    bool masked;
    int code;
  };
  const std::vector<Case> cases = {
      {"unmasked frame", 1, "4hi", false, 1002},
      {"control frame over 125 bytes", 9, std::string(126, 'p'), true, 1002},
      {"unknown opcode", 3, "x", true, 1002},
      {"invalid UTF-8", 1, "4\xC0\xAF", true, 1007},
      {"message over max_http_buffer_size", 2, std::string(1001, 'x'), true, 1009},
  };
  int expected_closes = 0;
  for (const auto& k : cases) {
    CAPTURE(k.what);
    Client c(server.listener.port());
    REQUIRE(c.upgrade().status == 101);
    REQUIRE(c.frame().first == 1);  // open packet
    c.send_frame(k.opcode, k.payload, true, k.masked);
    const auto close = c.frame();
    CHECK(close.first == 8);
    CHECK(Client::close_code(close.second) == k.code);
    CHECK(c.closed_by_server());
    REQUIRE(server.wait_closes(++expected_closes));
  }
  std::lock_guard<std::mutex> lock(server.mutex);
  for (const auto& reason : server.close_reasons) CHECK(reason == "transport error");
}

TEST_CASE("WebSocket upgrades that cannot be accepted are answered over HTTP", "[transport][listener][ws]") {
  Server server;
  {
    Client c(server.listener.port());
    c.write("GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    const Response r = c.response();
    CHECK(r.status == 426);
    CHECK(r.has("Sec-WebSocket-Version: 13"));
  }
  {
    Client c(server.listener.port());
    c.write("GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n");
    CHECK(c.response().status == 400);
  }
  {
    Client c(server.listener.port());  // the engine refuses (unknown protocol version)
    c.write("GET /engine.io/?EIO=3&transport=websocket HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    CHECK(c.response().status == 400);
    CHECK(c.closed_by_server());
  }
}

TEST_CASE("server-initiated close waits for the client's close frame", "[transport][listener][ws]") {
  Server server;
  Client c(server.listener.port());
  REQUIRE(c.upgrade().status == 101);
  REQUIRE(c.frame().first == 1);
  asio::post(server.io, [&server] { server.engine.close(); });
  const auto close = c.frame();
  REQUIRE(close.first == 8);
  CHECK(Client::close_code(close.second) == 1000);
  c.send_frame(8, close.second);
  CHECK(c.closed_by_server());
}

TEST_CASE("a response still being written is not cut by the keep-alive timeout", "[transport][listener]") {
  // A body far larger than the loopback socket buffers, read only after the idle timeout passed.
  const std::string dir = "/tmp/courier-listener-test-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string body(24u << 20, 'z');
  {
    std::ofstream(dir + "/big.txt", std::ios::binary) << body;
  }
  ListenOptions lo;
  lo.keep_alive_timeout = 100ms;
  Server server(lo);
  server.listener.serve_static("/files/", dir);
  Client c(server.listener.port());
  c.write("GET /files/big.txt HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(500ms);
  const Response r = c.response();
  CHECK(r.status == 200);
  CHECK(r.body.size() == body.size());
  CHECK(c.closed_by_server());  // idle afterwards: then the keep-alive timeout applies
  std::filesystem::remove_all(dir);
}
