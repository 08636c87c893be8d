// courier::detail::RedisUrl::parse: redis://[user:pass@]host[:port][/db].
#include <catch2/catch.hpp>

#include <string>

#include "redis/redis_connection.hpp"

using courier::detail::RedisUrl;

TEST_CASE("RedisUrl: host and port", "[redis_url]") {
  RedisUrl u;
  REQUIRE(RedisUrl::parse("redis://127.0.0.1:6390", u));
  CHECK(u.host == "127.0.0.1");
  CHECK(u.port == 6390);
  CHECK(u.username.empty());
  CHECK(u.password.empty());
  CHECK(u.db == 0);
}

TEST_CASE("RedisUrl: host only takes the default port", "[redis_url]") {
  RedisUrl u;
  REQUIRE(RedisUrl::parse("redis://localhost", u));
  CHECK(u.host == "localhost");
  CHECK(u.port == 6379);
  CHECK(u.db == 0);
  CHECK(u.password.empty());

  REQUIRE(RedisUrl::parse("redis://localhost/", u));
  CHECK(u.host == "localhost");
  CHECK(u.port == 6379);
  CHECK(u.db == 0);
}

TEST_CASE("RedisUrl: password without user, and a db", "[redis_url]") {
  RedisUrl u;
  REQUIRE(RedisUrl::parse("redis://:secret@h:1/2", u));
  CHECK(u.host == "h");
  CHECK(u.port == 1);
  CHECK(u.username.empty());
  CHECK(u.password == "secret");
  CHECK(u.db == 2);
}

TEST_CASE("RedisUrl: user and percent-encoded password", "[redis_url]") {
  RedisUrl u;
  REQUIRE(RedisUrl::parse("redis://user:p%40ss@h:6379/15", u));
  CHECK(u.host == "h");
  CHECK(u.port == 6379);
  CHECK(u.username == "user");
  CHECK(u.password == "p@ss");
  CHECK(u.db == 15);

  // A percent escape at the very end of the password is decoded too.
  REQUIRE(RedisUrl::parse("redis://user:pass%40@h", u));
  CHECK(u.password == "pass@");
}

TEST_CASE("RedisUrl: bracketed IPv6 literal", "[redis_url]") {
  RedisUrl u;
  REQUIRE(RedisUrl::parse("redis://[::1]:6380", u));
  CHECK(u.host == "::1");
  CHECK(u.port == 6380);

  REQUIRE(RedisUrl::parse("redis://[::1]", u));
  CHECK(u.host == "::1");
  CHECK(u.port == 6379);
}

TEST_CASE("RedisUrl: malformed URLs are refused", "[redis_url]") {
  for (const char* bad : {"http://x", "redis://h:0", "redis://h:99999", "redis://h:12ab", "redis://h/xyz", "rediss://h",
                          "redis://[::1", "redis://h:-1", "redis://h/1x", "", "redis:/h"}) {
    INFO("url '" << bad << "'");
    RedisUrl u;
    CHECK_FALSE(RedisUrl::parse(bad, u));
  }
}

TEST_CASE("RedisUrl: largest valid port and db", "[redis_url]") {
  RedisUrl u;
  REQUIRE(RedisUrl::parse("redis://h:65535/99999", u));
  CHECK(u.port == 65535);
  CHECK(u.db == 99999);
}

TEST_CASE("RedisRedirect: MOVED and ASK error replies", "[redis_url]") {
  using courier::detail::RedisRedirect;
  using courier::detail::RedisReply;
  auto error = [](std::string text) {
    RedisReply r;
    r.type = RedisReply::Type::error;
    r.str = std::move(text);
    return r;
  };
  RedisRedirect to;
  REQUIRE(RedisRedirect::parse(error("MOVED 3999 127.0.0.1:6381"), to));
  CHECK_FALSE(to.ask);
  CHECK(to.slot == 3999);
  CHECK(to.host == "127.0.0.1");
  CHECK(to.port == 6381);
  REQUIRE(RedisRedirect::parse(error("ASK 16383 ::1:7002"), to));  // IPv6, unbracketed
  CHECK(to.ask);
  CHECK(to.slot == 16383);
  CHECK(to.host == "::1");
  CHECK(to.port == 7002);
  REQUIRE(RedisRedirect::parse(error("MOVED 0 :7000"), to));  // a node that does not know its address
  CHECK(to.host.empty());
  CHECK(to.port == 7000);

  for (const char* bad : {"MOVED", "MOVED 3999", "MOVED 16384 h:1", "MOVED x h:1", "MOVED 1 h", "MOVED 1 h:0",
                          "MOVED 1 h:65536", "TRYAGAIN Multiple keys request during rehashing of slot",
                          "ERR MOVED 1 h:1"}) {
    INFO(bad);
    CHECK_FALSE(RedisRedirect::parse(error(bad), to));
  }
  RedisReply status;
  status.type = RedisReply::Type::status;
  status.str = "MOVED 1 h:1";
  CHECK_FALSE(RedisRedirect::parse(status, to));
}
