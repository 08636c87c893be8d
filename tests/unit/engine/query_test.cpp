#include <catch2/catch.hpp>

#include "engine/query.hpp"

using courier::detail::parse_query;
using courier::detail::query_param;
using courier::detail::url_decode;

TEST_CASE("url_decode decodes escapes and plus, keeps malformed escapes", "[query]") {
  CHECK(url_decode("a%20b+c") == "a b c");
  CHECK(url_decode("%7B%22k%22%3A1%7D") == "{\"k\":1}");
  CHECK(url_decode("100%") == "100%");
  CHECK(url_decode("%zz%4") == "%zz%4");
  CHECK(url_decode("%e2%82%ac") == "\xe2\x82\xac");
  CHECK(url_decode("") == "");
}

TEST_CASE("parse_query keeps order and repeated keys, skips empty segments", "[query]") {
  auto q = parse_query("EIO=4&transport=polling&&t=N8hyd6w&flag&k=a%26b&k=2");
  REQUIRE(q.size() == 6);
  CHECK(q[0] == std::make_pair(std::string("EIO"), std::string("4")));
  CHECK(q[1].second == "polling");
  CHECK(q[3] == std::make_pair(std::string("flag"), std::string()));
  CHECK(q[4].second == "a&b");
  CHECK(q[5].second == "2");
  CHECK(parse_query("").empty());
}

TEST_CASE("query_param finds the first exact key", "[query]") {
  const std::string q = "EIOx=3&EIO=4&sid=abc%2Dd&EIO=5&empty=";
  CHECK(query_param(q, "EIO") == "4");
  CHECK(query_param(q, "sid") == "abc-d");
  CHECK(query_param(q, "empty") == "");
  CHECK(query_param(q, "missing") == "");
  CHECK(query_param("", "EIO") == "");
}
