#pragma once
// Lets Catch print courier::Value in failed assertions (as JSON; binary as a placeholder plus
// the bytes in hex, so that msgpack differences are visible).
#include <catch2/catch.hpp>

#include <string>

#include <courier/value.hpp>

namespace Catch {
template <>
struct StringMaker<courier::Value> {
  static std::string convert(const courier::Value& v) {
    std::string out = v.to_json();
    if (v.is_binary()) {
      static constexpr char kDigits[] = "0123456789abcdef";
      out += " <bytes ";
      for (unsigned char c : v.as_binary().substr(0, 64)) {
        out.push_back(kDigits[c >> 4]);
        out.push_back(kDigits[c & 15]);
      }
      if (v.as_binary().size() > 64) out += "...";
      out += ">";
    }
    if (out.size() > 300) out = out.substr(0, 300) + "...";
    return out;
  }
};
}  // namespace Catch
