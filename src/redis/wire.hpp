#pragma once
// The wire shapes of @socket.io/redis-adapter / redis-emitter 8.x shared by courier's adapter and
// emitter: request types, packet and option objects, random ids.

#include <sys/random.h>

#include <chrono>
#include <string>
#include <vector>

#include <courier/adapter.hpp>
#include <courier/value.hpp>

namespace courier::detail {

enum RequestType {
  kSockets = 0,
  kAllRooms = 1,
  kRemoteJoin = 2,
  kRemoteLeave = 3,
  kRemoteDisconnect = 4,
  kRemoteFetch = 5,
  kServerSideEmit = 6,
  kBroadcast = 7,
  kBroadcastClientCount = 8,
  kBroadcastAck = 9,
};

// uid2-like: `n` random alphanumerics.
inline std::string random_token(std::size_t n) {
  static constexpr char kAlnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string bytes(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::getrandom(bytes.data() + got, n - got, 0);
    if (r > 0) got += static_cast<std::size_t>(r);
  }
  for (char& c : bytes) c = kAlnum[static_cast<unsigned char>(c) % 62];
  return bytes;
}

inline Value strings(const std::vector<std::string>& v) {
  Value out = Value::array();
  for (const auto& s : v) out.push_back(s);
  return out;
}

inline std::vector<std::string> to_strings(const Value& v) {
  std::vector<std::string> out;
  for (const auto& e : v.as_array()) out.push_back(e.is_string() ? e.as_string() : e.to_json());
  return out;
}

inline Value opts_value(const BroadcastOptions& opts, bool with_flags) {
  Value o = Value::object({{"rooms", strings(opts.rooms)}, {"except", strings(opts.except)}});
  if (with_flags) {
    Value flags = Value::object();
    if (opts.flags.volatile_) flags.set("volatile", true);
    if (opts.flags.timeout) flags.set("timeout", static_cast<long long>(opts.flags.timeout->count()));
    o.set("flags", flags);
  }
  return o;
}

inline BroadcastOptions opts_from(const Value& v) {
  BroadcastOptions o;
  o.rooms = to_strings(v["rooms"]);
  o.except = to_strings(v["except"]);
  o.flags.volatile_ = v["flags"]["volatile"].as_bool();
  if (v["flags"]["timeout"].is_number()) o.flags.timeout = std::chrono::milliseconds(v["flags"]["timeout"].as_int());
  o.flags.local = true;  // received from the cluster: deliver here only
  return o;
}

inline Value packet_value(const OutPacket& p) {
  Value v = Value::object({{"type", p.type}, {"data", Value(p.data)}, {"nsp", p.nsp}});
  if (p.id) v.set("id", static_cast<unsigned long long>(*p.id));
  return v;
}

inline OutPacket packet_from(const Value& v) {
  OutPacket p;
  p.type = static_cast<int>(v["type"].as_int(2));
  p.nsp = v["nsp"].is_string() ? v["nsp"].as_string() : "/";
  p.data = v["data"].as_array();
  if (v["id"].is_integer()) p.id = v["id"].as_uint();
  return p;
}

inline std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// The socket shape of a REMOTE_FETCH response: {id, handshake, rooms, data} with socket.io's handshake.
inline Value socket_value(const SocketInfo& s) {
  Value headers = Value::object();
  for (const auto& [k, v] : s.request.headers) headers.set(lower(k), v);
  Value query = Value::object();
  std::string url = s.request.path;
  for (std::size_t i = 0; i < s.request.query.size(); ++i) {
    query.set(s.request.query[i].first, s.request.query[i].second);
    url += i == 0 ? '?' : '&';
    url += s.request.query[i].first + "=" + s.request.query[i].second;
  }
  const auto issued = std::chrono::duration_cast<std::chrono::milliseconds>(s.request.time.time_since_epoch()).count();
  Value handshake = Value::object({{"headers", headers},
                                   {"time", std::to_string(issued)},
                                   {"address", s.request.remote_address},
                                   {"xdomain", !s.request.header("origin").empty()},
                                   {"secure", false},
                                   {"issued", static_cast<long long>(issued)},
                                   {"url", url},
                                   {"query", query},
                                   {"auth", s.auth.is_null() ? Value::object() : s.auth}});
  return Value::object({{"id", s.id}, {"handshake", handshake}, {"rooms", strings(s.rooms)}, {"data", s.data}});
}

inline SocketInfo socket_from(const Value& v) {
  SocketInfo s;
  s.id = v["id"].as_string();
  s.rooms = to_strings(v["rooms"]);
  s.data = v["data"];
  const Value& h = v["handshake"];
  s.auth = h["auth"];
  s.request.remote_address = h["address"].as_string();
  for (const auto& m : h["headers"].as_object())
    s.request.headers.emplace_back(m.key, m.value.is_string() ? m.value.as_string() : m.value.to_json());
  for (const auto& m : h["query"].as_object())
    s.request.query.emplace_back(m.key, m.value.is_string() ? m.value.as_string() : m.value.to_json());
  const std::string& url = h["url"].as_string();
  s.request.path = url.substr(0, url.find('?'));
  s.request.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(h["issued"].as_int()));
  return s;
}

}  // namespace courier::detail
