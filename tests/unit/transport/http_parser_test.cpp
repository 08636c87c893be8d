// Unit tests for the incremental HTTP/1.1 request parser: splits at every byte, limits, framing
// (Content-Length, chunked), keep-alive rules, pipelining, and the status codes of bad input.

#include "transport/http_parser.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace courier::detail;

namespace {

struct Parsed {
  HttpRequestParser::Status status = HttpRequestParser::Status::need_more;
  std::vector<HttpRequest> requests;
  std::vector<bool> keep_alive;
  int error_status = 0;
  std::size_t consumed = 0;  // of the whole input
};

// Feeds `input` in pieces of `step` bytes (0: all at once), collecting every complete request.
Parsed parse(const std::string& input, std::size_t step = 0, std::size_t body_limit = 1000, HttpParserLimits limits = {}) {
  HttpRequestParser parser(limits, [body_limit](const HttpRequest&) { return body_limit; });
  Parsed out;
  std::string pending;  // bytes handed over but not consumed (the next request)
  std::size_t at = 0;
  while (at < input.size() || !pending.empty()) {
    const std::size_t n = step == 0 ? input.size() - at : std::min(step, input.size() - at);
    pending.append(input, at, n);
    at += n;
    std::size_t used = 0;
    out.status = parser.feed(pending, used);
    out.consumed += used;
    pending.erase(0, used);
    if (out.status == HttpRequestParser::Status::error) {
      out.error_status = parser.error_status();
      return out;
    }
    if (out.status == HttpRequestParser::Status::complete) {
      out.requests.push_back(std::move(parser.request()));
      out.keep_alive.push_back(parser.keep_alive());
      parser.reset();
      continue;
    }
    REQUIRE(pending.empty());  // need_more consumes everything it was given
    if (at == input.size()) break;
  }
  return out;
}

const std::string kGet =
    "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";

}  // namespace

TEST_CASE("a simple GET parses, split at every byte", "[transport][http]") {
  for (std::size_t step : {0, 1, 2, 3, 7}) {
    CAPTURE(step);
    const Parsed p = parse(kGet, step);
    REQUIRE(p.requests.size() == 1);
    const HttpRequest& r = p.requests[0];
    CHECK(r.method == "GET");
    CHECK(r.path == "/engine.io/");
    CHECK(r.query_string == "EIO=4&transport=polling");
    CHECK(r.header("host") == "localhost");
    CHECK(r.header("ACCEPT") == "*/*");
    CHECK(r.body.empty());
    CHECK_FALSE(r.upgrade);
    CHECK(p.keep_alive[0]);
    CHECK(p.consumed == kGet.size());
  }
}

TEST_CASE("Content-Length bodies, split at every byte", "[transport][http]") {
  const std::string req = "POST /x HTTP/1.1\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world";
  for (std::size_t step = 0; step <= req.size(); ++step) {
    const Parsed p = parse(req, step);
    REQUIRE(p.requests.size() == 1);
    CHECK(p.requests[0].body == "hello world");
  }
}

TEST_CASE("chunked bodies are decoded, split at every byte", "[transport][http]") {
  const std::string req =
      "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n";
  for (std::size_t step = 0; step <= req.size(); ++step) {
    CAPTURE(step);
    const Parsed p = parse(req, step);
    REQUIRE(p.requests.size() == 1);
    CHECK(p.requests[0].body == "hello 0123456789");
    CHECK(p.consumed == req.size());
  }
}

TEST_CASE("pipelined requests come out one by one, in order", "[transport][http]") {
  const std::string two = kGet + "POST /b?x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc" + "GET /c HTTP/1.1\r\nConnection: close\r\n\r\n";
  for (std::size_t step : {0, 1, 5}) {
    const Parsed p = parse(two, step);
    REQUIRE(p.requests.size() == 3);
    CHECK(p.requests[0].path == "/engine.io/");
    CHECK(p.requests[1].path == "/b");
    CHECK(p.requests[1].query_string == "x");
    CHECK(p.requests[1].body == "abc");
    CHECK(p.requests[2].path == "/c");
    CHECK(p.keep_alive == std::vector<bool>{true, true, false});
  }
}

TEST_CASE("a request stops at its end: the rest is left for the next one", "[transport][http]") {
  HttpRequestParser parser({}, [](const HttpRequest&) { return std::size_t{100}; });
  const std::string both = kGet + "\x81\x85garbage";  // e.g. WebSocket bytes after an upgrade
  std::size_t used = 0;
  REQUIRE(parser.feed(both, used) == HttpRequestParser::Status::complete);
  CHECK(used == kGet.size());
}

TEST_CASE("keep-alive follows HTTP/1.1 and HTTP/1.0 rules", "[transport][http]") {
  CHECK(parse("GET / HTTP/1.1\r\n\r\n").keep_alive[0]);
  CHECK_FALSE(parse("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").keep_alive[0]);
  CHECK_FALSE(parse("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n").keep_alive[0]);
  CHECK_FALSE(parse("GET / HTTP/1.0\r\n\r\n").keep_alive[0]);
  CHECK(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive[0]);
}

TEST_CASE("a WebSocket upgrade is recognised", "[transport][http]") {
  const Parsed p = parse(
      "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n"
      "Upgrade: WebSocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  REQUIRE(p.requests.size() == 1);
  CHECK(p.requests[0].upgrade);
  CHECK_FALSE(parse("GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n").requests[0].upgrade);  // no Connection: upgrade
}

TEST_CASE("leading empty lines are ignored", "[transport][http]") {
  const Parsed p = parse("\r\n\r\n" + kGet, 1);
  REQUIRE(p.requests.size() == 1);
  CHECK(p.requests[0].method == "GET");
}

TEST_CASE("limits: head size (431), header count (431), body size (413)", "[transport][http]") {
  HttpParserLimits small;
  small.max_head_size = 256;
  small.max_headers = 4;
  const std::string big_header = "GET / HTTP/1.1\r\nX: " + std::string(300, 'a') + "\r\n\r\n";
  for (std::size_t step : {0, 1, 64}) {
    CHECK(parse(big_header, step, 1000, small).error_status == 431);
  }
  // Never terminated: fails once over the limit, without buffering more.
  CHECK(parse("GET / HTTP/1.1\r\n" + std::string(1000, 'a'), 10, 1000, small).error_status == 431);
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 5; ++i) many += "H" + std::to_string(i) + ": v\r\n";
  CHECK(parse(many + "\r\n", 0, 1000, small).error_status == 431);
  CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", 0, 1000).error_status == 413);
  CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'x'), 0, 1000).requests.size() == 1);
  CHECK(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3E9\r\n", 0, 1000).error_status == 413);
  CHECK(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1F4\r\n" + std::string(500, 'x') + "\r\n1F5\r\n", 0, 1000)
            .error_status == 413);
}

TEST_CASE("malformed requests fail with 400 (or 501 / 505)", "[transport][http]") {
  const std::vector<std::pair<std::string, int>> cases = {
      {"GET\r\n\r\n", 400},
      {"GET / \r\n\r\n", 400},
      {"GET  / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1 x\r\n\r\n", 400},
      {"G(T / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTX/1.1\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"GET /\x01 HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nNo colon\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nBad Name: v\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(2000, '0'), 400},
      {"GET / HTTP/1.1\r\nExpect: something\r\n\r\n", 417},
  };
  for (const auto& [req, status] : cases) {
    for (std::size_t step : {0, 1}) {
      CAPTURE(req, step);
      CHECK(parse(req, step).error_status == status);
    }
  }
}

TEST_CASE("duplicate identical Content-Length is accepted, and Expect: 100-continue is reported", "[transport][http]") {
  CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok").requests.at(0).body == "ok");
  HttpRequestParser parser({}, [](const HttpRequest&) { return std::size_t{100}; });
  std::size_t used = 0;
  CHECK(parser.feed("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", used) ==
        HttpRequestParser::Status::need_more);
  CHECK(parser.head_done());
  CHECK(parser.expect_continue());
}

TEST_CASE("header_has_token", "[transport][http]") {
  CHECK(header_has_token("keep-alive, Upgrade", "upgrade"));
  CHECK(header_has_token(" close ", "close"));
  CHECK_FALSE(header_has_token("closed", "close"));
  CHECK_FALSE(header_has_token("", "close"));
}

TEST_CASE("a method that is not a token fails before its line is complete", "[transport][http]") {
  for (const std::string& bad : {std::string("\x16\x03\x01", 3), std::string("GE\x01"), std::string("{\"json\""),
                                std::string(40, 'A')}) {
    HttpRequestParser parser(HttpParserLimits{}, [](const HttpRequest&) { return std::size_t{0}; });
    std::size_t used = 0;
    CHECK(parser.feed(bad, used) == HttpRequestParser::Status::error);
    CHECK(parser.error_status() == 400);
  }
  // A valid method split anywhere still waits for more.
  HttpRequestParser parser(HttpParserLimits{}, [](const HttpRequest&) { return std::size_t{0}; });
  std::size_t used = 0;
  CHECK(parser.feed("GE", used) == HttpRequestParser::Status::need_more);
  CHECK(parser.feed("T / HTTP/1.1\r\n", used) == HttpRequestParser::Status::need_more);
}
