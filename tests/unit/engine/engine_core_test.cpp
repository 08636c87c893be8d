// The Engine.IO session state machine driven through the transport seam with in-process fakes:
// deterministic, no sockets. The real transports are covered by the interop tests.
#include <catch2/catch.hpp>

#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <thread>

#include <courier/engine_server.hpp>

#include "engine/engine_core.hpp"
#include "engine/session.hpp"

using namespace courier;
using namespace courier::detail;
using namespace std::chrono_literals;

namespace {

struct FakeExchange final : HttpExchange {
  HttpRequest req;
  bool responded = false;
  HttpResponse response;
  std::function<void()> abort_cb;
  const HttpRequest& request() const noexcept override { return req; }
  void respond(HttpResponse r) override {
    if (responded) return;
    responded = true;
    response = std::move(r);
  }
  void watch_abort(std::function<void()> cb) override { abort_cb = std::move(cb); }
};

struct FakeLink final : WsLink {
  std::vector<std::string> sent;  // "<digit><data>" for text, "B:<bytes>" for binary
  bool closed = false;
  std::uint16_t close_code = 0;
  void send(PacketType type, std::string_view data, bool binary) override {
    if (binary)
      sent.push_back("B:" + std::string(data));
    else
      sent.push_back(std::string(1, static_cast<char>('0' + static_cast<int>(type))) + std::string(data));
  }
  void close(std::uint16_t code, std::string_view) override {
    closed = true;
    close_code = code;
  }
  std::size_t buffered_amount() const noexcept override { return buffered; }
  std::size_t buffered = 0;  // what the transport would report as not yet written
  bool finished() const noexcept override { return closed; }
};

std::shared_ptr<FakeExchange> request(std::string method, std::string query, std::string body = {}) {
  auto e = std::make_shared<FakeExchange>();
  e->req.method = std::move(method);
  e->req.path = "/engine.io/";
  e->req.query_string = std::move(query);
  e->req.body = std::move(body);
  e->req.remote_address = "127.0.0.1";
  return e;
}

std::string sid_of(const std::string& open_payload) {
  const auto p = open_payload.find("\"sid\":\"");
  REQUIRE(p != std::string::npos);
  return open_payload.substr(p + 7, 20);
}

struct Fixture {
  asio::io_context io;
  EngineOptions options;
  std::shared_ptr<EngineCore> core;
  std::vector<EngineSocket> sockets;
  std::vector<std::string> messages;
  std::vector<std::string> closes;

  explicit Fixture(EngineOptions o = quiet()) : options(std::move(o)) {
    core = std::make_shared<EngineCore>(io, options);
    core->set_connection_handler([this](EngineSocket s) {
      sockets.push_back(s);
      s.on_message([this, s](const EngineMessage& m) {
        messages.push_back((m.binary ? "B:" : "T:") + std::string(m.data));
        if (m.binary)
          s.send_binary(std::string(m.data));
        else
          s.send(std::string(m.data));
      });
      s.on_close([this](CloseReason r, std::string_view) { closes.emplace_back(to_string(r)); });
    });
  }
  // Sessions whose handlers hold their own handle live until closed, as with a real server.
  ~Fixture() { core->close_all(); }
  static EngineOptions quiet() {
    EngineOptions o;
    o.ping_interval = 50ms;
    o.ping_timeout = 40ms;
    o.upgrade_timeout = 200ms;
    o.logger.level = LogLevel::off;
    return o;
  }
  std::string handshake_polling() {
    auto e = request("GET", "EIO=4&transport=polling");
    on_io([&] { core->handle_http(e); });
    REQUIRE(e->responded);
    REQUIRE(e->response.status == 200);
    REQUIRE(e->response.body.rfind("0{", 0) == 0);
    return sid_of(e->response.body);
  }
  // Runs `fn` on the io thread, as the transport would, plus whatever it posts.
  template <class F>
  void on_io(F fn) {
    asio::post(io, fn);
    io.restart();
    io.poll();
  }
  void run_for(std::chrono::milliseconds d) {
    io.restart();
    io.run_for(d);
  }
};

}  // namespace

TEST_CASE("polling handshake has exactly the spec's keys", "[engine]") {
  Fixture f;
  auto e = request("GET", "EIO=4&transport=polling");
  f.on_io([&] { f.core->handle_http(e); });
  REQUIRE(e->responded);
  const std::string& body = e->response.body;
  const std::string sid = sid_of(body);
  CHECK(body == "0{\"sid\":\"" + sid +
                    "\",\"upgrades\":[\"websocket\"],\"pingInterval\":50,\"pingTimeout\":40,\"maxPayload\":1000000}");
  CHECK(sid.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos);
  CHECK(f.core->session_count() == 1);
  CHECK(f.sockets.size() == 1);
}

TEST_CASE("verification errors carry Node's codes and statuses", "[engine]") {
  Fixture f;
  struct Case {
    const char* method;
    const char* query;
    int status;
    const char* body;
  };
  const Case cases[] = {
      {"GET", "EIO=4", 400, R"({"code":0,"message":"Transport unknown"})"},
      {"GET", "EIO=4&transport=tobi", 400, R"({"code":0,"message":"Transport unknown"})"},
      {"GET", "EIO=4&transport=polling&sid=nope", 400, R"({"code":1,"message":"Session ID unknown"})"},
      {"POST", "EIO=4&transport=polling&sid=nope", 400, R"({"code":1,"message":"Session ID unknown"})"},
      {"POST", "EIO=4&transport=polling", 400, R"({"code":2,"message":"Bad handshake method"})"},
      {"GET", "EIO=4&transport=websocket", 400, R"({"code":3,"message":"Bad request"})"},
      {"GET", "EIO=3&transport=polling", 400, R"({"code":5,"message":"Unsupported protocol version"})"},
      {"GET", "transport=polling", 400, R"({"code":5,"message":"Unsupported protocol version"})"},
  };
  for (const auto& c : cases) {
    INFO(c.method << " " << c.query);
    auto e = request(c.method, c.query);
    f.on_io([&] { f.core->handle_http(e); });
    REQUIRE(e->responded);
    CHECK(e->response.status == c.status);
    CHECK(e->response.body == c.body);
  }
  CHECK(f.core->session_count() == 0);
}

TEST_CASE("max_sessions refuses further handshakes with 503 and leaves others alone", "[engine]") {
  auto o = Fixture::quiet();
  o.max_sessions = 2;
  Fixture f(o);
  const std::string a = f.handshake_polling();
  f.handshake_polling();
  auto e = request("GET", "EIO=4&transport=polling");
  f.on_io([&] { f.core->handle_http(e); });
  CHECK(e->response.status == 503);
  HttpResponse reject;
  HttpRequest ws = e->req;
  ws.query_string = "EIO=4&transport=websocket";
  ws.upgrade = true;
  CHECK_FALSE(f.core->accept_upgrade(ws, reject));
  CHECK(reject.status == 503);
  // The existing session still works.
  auto post = request("POST", "EIO=4&transport=polling&sid=" + a, "4still here");
  f.on_io([&] { f.core->handle_http(post); });
  CHECK(post->response.body == "ok");
  CHECK(f.messages == std::vector<std::string>{"T:still here"});
}

TEST_CASE("messages echo over polling, binary as base64", "[engine]") {
  Fixture f;
  const std::string sid = f.handshake_polling();
  auto post = request("POST", "EIO=4&transport=polling&sid=" + sid, "4hello\x1e" "bAQIDBA==");
  f.on_io([&] { f.core->handle_http(post); });
  CHECK(post->response.status == 200);
  CHECK(post->response.body == "ok");
  CHECK(f.messages == std::vector<std::string>{"T:hello", std::string("B:\x01\x02\x03\x04")});
  auto get = request("GET", "EIO=4&transport=polling&sid=" + sid);
  f.on_io([&] { f.core->handle_http(get); });
  REQUIRE(get->responded);
  CHECK(get->response.body == "4hello\x1e" "bAQIDBA==");
}

TEST_CASE("a held GET is answered by the ping and the session survives pongs", "[engine]") {
  Fixture f;
  const std::string sid = f.handshake_polling();
  for (int round = 0; round < 3; ++round) {
    auto get = request("GET", "EIO=4&transport=polling&sid=" + sid);
    f.on_io([&] { f.core->handle_http(get); });
    CHECK_FALSE(get->responded);
    f.run_for(70ms);
    REQUIRE(get->responded);
    CHECK(get->response.body == "2");
    auto pong = request("POST", "EIO=4&transport=polling&sid=" + sid, "3");
    f.on_io([&] { f.core->handle_http(pong); });
    CHECK(pong->response.body == "ok");
  }
  CHECK(f.closes.empty());
  CHECK(f.core->session_count() == 1);
}

TEST_CASE("no pong closes with ping timeout and the held GET gets a close packet", "[engine]") {
  Fixture f;
  const std::string sid = f.handshake_polling();
  auto get = request("GET", "EIO=4&transport=polling&sid=" + sid);
  f.on_io([&] { f.core->handle_http(get); });
  f.run_for(70ms);
  REQUIRE(get->response.body == "2");
  auto get2 = request("GET", "EIO=4&transport=polling&sid=" + sid);
  f.on_io([&] { f.core->handle_http(get2); });
  f.run_for(60ms);
  REQUIRE(get2->responded);
  CHECK(get2->response.body == "1");
  CHECK(f.closes == std::vector<std::string>{"ping timeout"});
  CHECK(f.core->session_count() == 0);
}

TEST_CASE("a second concurrent GET closes the session and the held one gets 1", "[engine]") {
  Fixture f;
  const std::string sid = f.handshake_polling();
  auto held = request("GET", "EIO=4&transport=polling&sid=" + sid);
  f.on_io([&] { f.core->handle_http(held); });
  auto second = request("GET", "EIO=4&transport=polling&sid=" + sid);
  f.on_io([&] { f.core->handle_http(second); });
  CHECK(second->response.status == 400);
  CHECK(held->response.body == "1");
  CHECK(f.closes == std::vector<std::string>{"transport error"});
}

TEST_CASE("an aborted held GET ends the session", "[engine]") {
  Fixture f;
  const std::string sid = f.handshake_polling();
  auto held = request("GET", "EIO=4&transport=polling&sid=" + sid);
  f.on_io([&] { f.core->handle_http(held); });
  REQUIRE(held->abort_cb);
  f.on_io([&] { held->abort_cb(); });
  CHECK(f.closes == std::vector<std::string>{"transport error"});
  CHECK(f.core->session_count() == 0);
}

TEST_CASE("malformed payloads close with parse error and get 400", "[engine]") {
  for (const char* body : {"x", "", "4ok\x1e", "b!!!!", "4a\x1e\x1e" "4b", "\xff\xfe"}) {
    Fixture f;
    const std::string sid = f.handshake_polling();
    auto post = request("POST", "EIO=4&transport=polling&sid=" + sid, body);
    f.on_io([&] { f.core->handle_http(post); });
    INFO("body: " << body);
    CHECK(post->response.status == 400);
    CHECK(f.closes == std::vector<std::string>{"parse error"});
    CHECK(f.core->session_count() == 0);
  }
}

TEST_CASE("client close packet ends the session with transport close", "[engine]") {
  Fixture f;
  const std::string sid = f.handshake_polling();
  auto post = request("POST", "EIO=4&transport=polling&sid=" + sid, "1");
  f.on_io([&] { f.core->handle_http(post); });
  CHECK(f.closes == std::vector<std::string>{"transport close"});
  auto get = request("GET", "EIO=4&transport=polling&sid=" + sid);
  f.on_io([&] { f.core->handle_http(get); });
  CHECK(get->response.status == 400);
}

TEST_CASE("a client ping is an error in v4", "[engine]") {
  Fixture f;
  const std::string sid = f.handshake_polling();
  f.on_io([&] { f.core->handle_http(request("POST", "EIO=4&transport=polling&sid=" + sid, "2")); });
  CHECK(f.closes == std::vector<std::string>{"transport error"});
}

TEST_CASE("upgrade: probe, noop to the held poll, upgrade, then polling is refused", "[engine]") {
  Fixture f;
  const std::string sid = f.handshake_polling();
  auto held = request("GET", "EIO=4&transport=polling&sid=" + sid);
  f.on_io([&] { f.core->handle_http(held); });

  HttpRequest ws;
  ws.method = "GET";
  ws.path = "/engine.io/";
  ws.query_string = "EIO=4&transport=websocket&sid=" + sid;
  ws.upgrade = true;
  HttpResponse reject;
  REQUIRE(f.core->accept_upgrade(ws, reject));
  auto link = std::make_shared<FakeLink>();
  std::shared_ptr<WsHandler> handler;
  f.on_io([&] { handler = f.core->open_websocket(ws, link); });
  REQUIRE(handler);
  f.on_io([&] { handler->on_ws_message("2probe", false); });
  REQUIRE(link->sent == std::vector<std::string>{"3probe"});
  CHECK(held->response.body == "6");
  f.on_io([&] { handler->on_ws_message("5", false); });
  CHECK(f.sockets[0].transport() == TransportKind::websocket);

  // Messages now flow on the WebSocket.
  f.on_io([&] { handler->on_ws_message("4over ws", false); });
  CHECK(link->sent.back() == "4over ws");
  f.on_io([&] { handler->on_ws_message(std::string("\x00\x01", 2), true); });
  CHECK(link->sent.back() == std::string("B:\x00\x01", 4));

  // Polling for that sid is now a bad request.
  auto late = request("GET", "EIO=4&transport=polling&sid=" + sid);
  f.on_io([&] { f.core->handle_http(late); });
  CHECK(late->response.status == 400);
  CHECK(late->response.body == R"({"code":3,"message":"Bad request"})");

  // A second WebSocket for the sid is closed; the first goes on.
  auto link2 = std::make_shared<FakeLink>();
  REQUIRE(f.core->accept_upgrade(ws, reject));
  CHECK_FALSE(f.core->open_websocket(ws, link2));
  CHECK(link2->closed);
  CHECK_FALSE(link->closed);
  f.on_io([&] { handler->on_ws_message("4still", false); });
  CHECK(link->sent.back() == "4still");
  CHECK(f.closes.empty());
}

TEST_CASE("an upgrade that never completes times out and polling goes on", "[engine]") {
  Fixture f;
  const std::string sid = f.handshake_polling();
  HttpRequest ws;
  ws.method = "GET";
  ws.query_string = "EIO=4&transport=websocket&sid=" + sid;
  ws.upgrade = true;
  auto link = std::make_shared<FakeLink>();
  std::shared_ptr<WsHandler> handler;
  f.on_io([&] { handler = f.core->open_websocket(ws, link); });
  REQUIRE(handler);
  // Keep the session alive with pongs while the upgrade timer (200 ms) runs out.
  for (int i = 0; i < 6; ++i) {
    auto get = request("GET", "EIO=4&transport=polling&sid=" + sid);
    f.on_io([&] { f.core->handle_http(get); });
    f.run_for(60ms);
    if (get->responded && get->response.body == "2")
      f.on_io([&] { f.core->handle_http(request("POST", "EIO=4&transport=polling&sid=" + sid, "3")); });
  }
  CHECK(link->closed);
  CHECK(f.sockets[0].transport() == TransportKind::polling);
  CHECK(f.closes.empty());
}

TEST_CASE("websocket sessions: open packet, echo, parse error, close reasons", "[engine]") {
  Fixture f;
  HttpRequest ws;
  ws.method = "GET";
  ws.query_string = "EIO=4&transport=websocket";
  ws.upgrade = true;
  HttpResponse reject;
  REQUIRE(f.core->accept_upgrade(ws, reject));
  auto link = std::make_shared<FakeLink>();
  std::shared_ptr<WsHandler> handler;
  f.on_io([&] { handler = f.core->open_websocket(ws, link); });
  REQUIRE(handler);
  REQUIRE(link->sent.size() == 1);
  CHECK(link->sent[0].find("\"upgrades\":[]") != std::string::npos);
  f.on_io([&] { handler->on_ws_message("4hi", false); });
  CHECK(link->sent.back() == "4hi");
  f.on_io([&] { handler->on_ws_message("9", false); });
  CHECK(f.closes == std::vector<std::string>{"parse error"});
  CHECK(link->closed);

  auto link2 = std::make_shared<FakeLink>();
  std::shared_ptr<WsHandler> h2;
  f.on_io([&] { h2 = f.core->open_websocket(ws, link2); });
  f.on_io([&] { h2->on_ws_close(false, "transport close"); });
  CHECK(f.closes.back() == "transport close");
  CHECK(f.core->session_count() == 0);
}

TEST_CASE("websocket heartbeat: ping, pong keeps it, silence times it out", "[engine]") {
  Fixture f;
  HttpRequest ws;
  ws.query_string = "EIO=4&transport=websocket";
  ws.upgrade = true;
  auto link = std::make_shared<FakeLink>();
  std::shared_ptr<WsHandler> handler;
  f.on_io([&] { handler = f.core->open_websocket(ws, link); });
  for (int i = 0; i < 3; ++i) {
    f.run_for(60ms);
    REQUIRE(link->sent.back() == "2");
    link->sent.push_back("-");
    f.on_io([&] { handler->on_ws_message("3", false); });
  }
  CHECK(f.closes.empty());
  f.run_for(150ms);
  CHECK(f.closes == std::vector<std::string>{"ping timeout"});
}

TEST_CASE("server close on polling delivers queued data, then a close packet on the next poll", "[engine]") {
  // As Node: the write buffer drains before the transport closes, so the data and the close
  // packet never share a payload (socket.io-client would see the close first).
  Fixture f;
  const std::string sid = f.handshake_polling();
  f.on_io([&] { f.sockets[0].send("last words"); });
  f.on_io([&] { f.sockets[0].close(); });
  CHECK(f.closes == std::vector<std::string>{"forced close"});
  auto get = request("GET", "EIO=4&transport=polling&sid=" + sid);
  f.on_io([&] { f.core->handle_http(get); });
  CHECK(get->response.body == "4last words");
  CHECK(f.core->session_count() == 1);
  auto get2 = request("GET", "EIO=4&transport=polling&sid=" + sid);
  f.on_io([&] { f.core->handle_http(get2); });
  CHECK(get2->response.body == "1");
  CHECK(f.core->session_count() == 0);
}

TEST_CASE("server close with a held poll and queued data: data now, close packet next", "[engine]") {
  Fixture f;
  const std::string sid = f.handshake_polling();
  auto held = request("GET", "EIO=4&transport=polling&sid=" + sid);
  f.on_io([&] {
    f.core->handle_http(held);
    // Queued and closed in the same turn: the held poll must not carry both.
    f.sockets[0].send("bye");
    f.sockets[0].close();
  });
  CHECK(held->response.body == "4bye");
  auto next = request("GET", "EIO=4&transport=polling&sid=" + sid);
  f.on_io([&] { f.core->handle_http(next); });
  CHECK(next->response.body == "1");
  CHECK(f.core->session_count() == 0);
}

TEST_CASE("CORS: configured origins, preflight, credentials", "[engine]") {
  auto o = Fixture::quiet();
  o.cors.origins = {"https://app.example"};
  o.cors.credentials = true;
  Fixture f(o);
  auto pre = request("OPTIONS", "EIO=4&transport=polling");
  pre->req.headers = {{"Origin", "https://app.example"}, {"Access-Control-Request-Headers", "x-token"}};
  f.on_io([&] { f.core->handle_http(pre); });
  CHECK(pre->response.status == 204);
  auto has = [](const HttpResponse& r, const char* k, const char* v) {
    for (const auto& [hk, hv] : r.headers)
      if (hk == k && hv == v) return true;
    return false;
  };
  CHECK(has(pre->response, "Access-Control-Allow-Origin", "https://app.example"));
  CHECK(has(pre->response, "Access-Control-Allow-Credentials", "true"));
  CHECK(has(pre->response, "Access-Control-Allow-Headers", "x-token"));

  auto other = request("GET", "EIO=4&transport=polling");
  other->req.headers = {{"Origin", "https://evil.example"}};
  f.on_io([&] { f.core->handle_http(other); });
  for (const auto& [k, v] : other->response.headers) CHECK(k.rfind("Access-Control", 0) != 0);
}

// ---------------------------------------------------------------------------------------------
// Limits and metrics (issue 8)

namespace {
std::shared_ptr<FakeExchange> request_from(std::string address, std::string query) {
  auto e = request("GET", std::move(query));
  e->req.remote_address = std::move(address);
  return e;
}
EngineMetrics metrics_of(Fixture& f) {
  EngineMetrics m;
  f.on_io([&] { f.core->metrics(m); });
  return m;
}
}  // namespace

TEST_CASE("handshakes_per_second: a burst passes, the excess gets 429, other addresses are unaffected", "[engine][limits]") {
  auto o = Fixture::quiet();
  o.handshakes_per_second = 0.5;  // a token every 2 s: the burst below is over long before one comes back
  o.handshake_burst = 3;
  Fixture f(o);
  std::vector<int> statuses;
  for (int i = 0; i < 5; ++i) {
    auto e = request_from("10.0.0.1", "EIO=4&transport=polling");
    f.on_io([&] { f.core->handle_http(e); });
    statuses.push_back(e->response.status);
    if (e->response.status == 429) {
      CHECK(e->response.body == "{\"code\":3,\"message\":\"Too many requests\"}");
      bool json = false;
      for (const auto& [k, v] : e->response.headers) json = json || (k == "Content-Type" && v == "application/json");
      CHECK(json);
    }
  }
  CHECK(statuses == std::vector<int>{200, 200, 200, 429, 429});
  // WebSocket handshakes draw from the same bucket.
  HttpRequest ws;
  ws.method = "GET";
  ws.query_string = "EIO=4&transport=websocket";
  ws.upgrade = true;
  ws.remote_address = "10.0.0.1";
  HttpResponse reject;
  CHECK_FALSE(f.core->accept_upgrade(ws, reject));
  CHECK(reject.status == 429);
  // Another address has its own bucket.
  auto other = request_from("10.0.0.2", "EIO=4&transport=polling");
  f.on_io([&] { f.core->handle_http(other); });
  CHECK(other->response.status == 200);
  // Requests of an existing session are not handshakes: never limited.
  const std::string sid = sid_of(other->response.body);
  for (int i = 0; i < 5; ++i) {
    auto post = request("POST", "EIO=4&transport=polling&sid=" + sid, "4x");
    post->req.remote_address = "10.0.0.2";
    f.on_io([&] { f.core->handle_http(post); });
    CHECK(post->response.body == "ok");
  }
  // Tokens come back at the configured rate.
  std::this_thread::sleep_for(2100ms);
  auto later = request_from("10.0.0.1", "EIO=4&transport=polling");
  f.on_io([&] { f.core->handle_http(later); });
  CHECK(later->response.status == 200);
  const EngineMetrics m = metrics_of(f);
  CHECK(m.handshakes_refused_rate == 3);
  CHECK(m.sessions_opened == 5);
}

TEST_CASE("handshake limiter memory is bounded by max_tracked_addresses", "[engine][limits]") {
  KeyedRateLimiter limiter(1, 1, 100);
  const auto t0 = KeyedRateLimiter::Clock::now();
  for (int i = 0; i < 10000; ++i) limiter.take("addr" + std::to_string(i), t0);
  CHECK(limiter.size() <= 100);
  // An address that used its burst is refused until it refills...
  CHECK(limiter.take("x", t0));
  CHECK_FALSE(limiter.take("x", t0));
  CHECK(limiter.take("x", t0 + 1100ms));
  // ...and idle addresses are forgotten first when the table is full.
  KeyedRateLimiter small(1, 1, 3);
  small.take("a", t0);
  small.take("b", t0);
  small.take("c", t0 + 5s);
  CHECK_FALSE(small.take("c", t0 + 5s));
  small.take("d", t0 + 5s);  // full: a and b are idle (refilled) and go
  CHECK(small.size() == 2);
  CHECK_FALSE(small.take("c", t0 + 5s));  // c's state was kept
}

TEST_CASE("max_sessions refusals are counted, for polling and websocket", "[engine][limits]") {
  auto o = Fixture::quiet();
  o.max_sessions = 1;
  Fixture f(o);
  f.handshake_polling();
  auto e = request("GET", "EIO=4&transport=polling");
  f.on_io([&] { f.core->handle_http(e); });
  CHECK(e->response.status == 503);
  CHECK(e->response.body == "{\"code\":3,\"message\":\"Too many sessions\"}");
  HttpRequest ws;
  ws.query_string = "EIO=4&transport=websocket";
  ws.upgrade = true;
  ws.method = "GET";
  HttpResponse reject;
  CHECK_FALSE(f.core->accept_upgrade(ws, reject));
  CHECK(reject.status == 503);
  CHECK(metrics_of(f).handshakes_refused_max_sessions == 2);
}

TEST_CASE("max_buffered_bytes: a websocket whose queue exceeds it closes with transport error", "[engine][limits]") {
  auto o = Fixture::quiet();
  o.max_buffered_bytes = 1000;
  o.ping_interval = 10s;  // no pings in the way
  Fixture f(o);
  HttpRequest ws;
  ws.query_string = "EIO=4&transport=websocket";
  ws.upgrade = true;
  auto link = std::make_shared<FakeLink>();
  f.on_io([&] { f.core->open_websocket(ws, link); });
  REQUIRE(f.sockets.size() == 1);
  auto session = f.sockets[0].session();
  f.on_io([&] { CHECK(session->writable()); });
  link->buffered = 10;  // something queued: volatile packets would be dropped now
  f.on_io([&] { CHECK_FALSE(session->writable()); });
  link->buffered = 999;
  f.on_io([&] { f.sockets[0].send("still fits"); });
  CHECK(f.closes.empty());
  link->buffered = 1001;
  f.on_io([&] { f.sockets[0].send("one too many"); });
  CHECK(f.closes == std::vector<std::string>{"transport error"});
  CHECK(link->closed);
  const EngineMetrics m = metrics_of(f);
  CHECK(m.send_queue_overflows == 1);
  CHECK(m.closes[static_cast<std::size_t>(CloseReason::transport_error)] == 1);
  CHECK(m.sessions_websocket == 0);
}

TEST_CASE("max_buffered_bytes: a polling client that stops polling is closed", "[engine][limits]") {
  auto o = Fixture::quiet();
  o.max_buffered_bytes = 1000;
  o.ping_interval = 10s;
  Fixture f(o);
  f.handshake_polling();
  for (int i = 0; i < 9; ++i) f.on_io([&] { f.sockets[0].send(std::string(100, 'x')); });
  CHECK(f.closes.empty());
  f.on_io([&] { f.sockets[0].send(std::string(100, 'x')); });
  CHECK(f.closes == std::vector<std::string>{"transport error"});
  CHECK(f.core->session_count() == 0);
  CHECK(metrics_of(f).send_queue_overflows == 1);
}

TEST_CASE("metrics: sessions by transport, packets and bytes both ways, closes by reason", "[engine][metrics]") {
  auto o = Fixture::quiet();
  o.ping_interval = 10s;  // exact packet counts: no ping in between, however slow the machine
  Fixture f(o);
  const std::string sid = f.handshake_polling();
  HttpRequest ws;
  ws.query_string = "EIO=4&transport=websocket";
  ws.upgrade = true;
  auto link = std::make_shared<FakeLink>();
  std::shared_ptr<WsHandler> handler;
  f.on_io([&] { handler = f.core->open_websocket(ws, link); });
  EngineMetrics m = metrics_of(f);
  CHECK(m.sessions_polling == 1);
  CHECK(m.sessions_websocket == 1);
  CHECK(m.sessions_opened == 2);
  CHECK(m.packets_out == 2);  // the two open packets
  const auto bytes_before = m.bytes_out;
  f.on_io([&] { handler->on_ws_message("4hello", false); });  // echoed
  m = metrics_of(f);
  CHECK(m.packets_in == 1);
  CHECK(m.bytes_in == 5);
  CHECK(m.packets_out == 3);
  CHECK(m.bytes_out == bytes_before + 5);
  f.on_io([&] { handler->on_ws_close(false, "transport close"); });
  auto close = request("POST", "EIO=4&transport=polling&sid=" + sid, "1");
  f.on_io([&] { f.core->handle_http(close); });
  m = metrics_of(f);
  CHECK(m.sessions_polling == 0);
  CHECK(m.sessions_websocket == 0);
  CHECK(m.closes[static_cast<std::size_t>(CloseReason::transport_close)] == 2);
}

TEST_CASE("close_all drains polling sessions: queued data, then the close packet, then done", "[engine][shutdown]") {
  Fixture f;
  const std::string sid = f.handshake_polling();
  bool done = false;
  f.on_io([&] {
    f.sockets[0].send("queued before close");
    f.core->close_all();
    f.core->when_drained(5s, [&] { done = true; });
  });
  CHECK_FALSE(done);  // the polling client has not collected its data yet
  auto refused = request("GET", "EIO=4&transport=polling");
  f.on_io([&] { f.core->handle_http(refused); });
  CHECK(refused->response.status == 503);  // no new sessions while closing
  auto get = request("GET", "EIO=4&transport=polling&sid=" + sid);
  f.on_io([&] { f.core->handle_http(get); });
  CHECK(get->response.body == "4queued before close");
  auto get2 = request("GET", "EIO=4&transport=polling&sid=" + sid);
  f.on_io([&] { f.core->handle_http(get2); });
  CHECK(get2->response.body == "1");
  f.run_for(50ms);
  CHECK(done);
}

TEST_CASE("close_all: a polling client that never comes back does not hold the drain past its timeout", "[engine][shutdown]") {
  Fixture f;
  f.handshake_polling();
  bool done = false;
  const auto start = std::chrono::steady_clock::now();
  f.on_io([&] {
    f.sockets[0].send("never collected");
    f.core->close_all();
    f.core->when_drained(100ms, [&] { done = true; });
  });
  while (!done && std::chrono::steady_clock::now() - start < 2s) f.run_for(20ms);
  CHECK(done);
  CHECK(std::chrono::steady_clock::now() - start < 1s);
  CHECK(f.core->session_count() == 0);
}

TEST_CASE("EngineServer::metrics: a snapshot delivered on the server's thread", "[engine][metrics]") {
  asio::io_context io;
  auto o = Fixture::quiet();
  EngineServer server(io, o);
  auto e = request("GET", "EIO=4&transport=polling");
  asio::post(io, [&] { server.core()->handle_http(e); });
  io.poll();  // not run(): the heartbeat would time the session out
  io.restart();
  bool got = false;
  std::thread other([&] {
    server.metrics([&](EngineMetrics m) {
      CHECK(io.get_executor().running_in_this_thread());
      CHECK(m.sessions_polling == 1);
      CHECK(m.sessions_opened == 1);
      got = true;
    });
  });
  other.join();
  io.poll();
  CHECK(got);
  server.close();
  io.restart();
  io.poll();
}
