#pragma once
// URL query parsing for handshakes: lenient like Node's querystring (a malformed %-escape is kept
// verbatim rather than refusing the request), '+' means space.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace courier::detail {

/// Decodes %XX escapes and '+'; malformed escapes are copied as they are.
std::string url_decode(std::string_view text);

/// Splits "a=1&b=2" into decoded pairs, in order; empty segments are skipped.
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);

/// Value of the first `key` in a raw (undecoded) query, decoded; empty when absent.
std::string query_param(std::string_view query, std::string_view key);

}  // namespace courier::detail
