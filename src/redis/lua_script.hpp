#pragma once
// A Lua script run with EVALSHA once Redis has told us its SHA1 (SCRIPT LOAD after every connect),
// EVAL with the body before that, and again with the body on NOSCRIPT (after SCRIPT FLUSH or a
// Redis restart that our reconnect has not noticed yet): the script text crosses the wire rarely.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "redis/redis_connection.hpp"

namespace courier::detail {

class LuaScript {
 public:
  explicit LuaScript(std::string body) : body_(std::move(body)) {}

  /// Sends SCRIPT LOAD on `conn` (call it from the connection's ready handler). Commands sent
  /// after it on the same connection can use the SHA as soon as it is known.
  void load(RedisConnection& conn) {
    conn.command({"SCRIPT", "LOAD", body_}, [sha = sha_](std::error_code ec, RedisReply r) {
      if (!ec && r.type == RedisReply::Type::string) *sha = r.str;
    });
  }

  /// Runs the script with `keys` and `args`; `cb` gets the reply (an error reply is passed on as is,
  /// except NOSCRIPT, which is retried once with the body).
  void run(const std::shared_ptr<RedisConnection>& conn, const std::vector<std::string>& keys,
           std::vector<std::string> args, RedisConnection::Callback cb) {
    if (sha_->empty()) {
      conn->command(command("EVAL", body_, keys, args), std::move(cb));
      return;
    }
    auto retry_args = command("EVAL", body_, keys, args);
    std::weak_ptr<RedisConnection> weak = conn;
    conn->command(command("EVALSHA", *sha_, keys, std::move(args)),
                  [weak, retry = std::move(retry_args), cb = std::move(cb)](std::error_code ec, RedisReply r) mutable {
                    if (!ec && r.type == RedisReply::Type::error && r.str.rfind("NOSCRIPT", 0) == 0) {
                      if (auto c = weak.lock()) {
                        c->command(std::move(retry), std::move(cb));
                        return;
                      }
                    }
                    if (cb) cb(ec, std::move(r));
                  });
  }

  const std::string& body() const noexcept { return body_; }

 private:
  static std::vector<std::string> command(const char* verb, const std::string& script, const std::vector<std::string>& keys,
                                          std::vector<std::string> args) {
    std::vector<std::string> out;
    out.reserve(3 + keys.size() + args.size());
    out.emplace_back(verb);
    out.push_back(script);
    out.push_back(std::to_string(keys.size()));
    out.insert(out.end(), keys.begin(), keys.end());
    for (auto& a : args) out.push_back(std::move(a));
    return out;
  }

  std::string body_;
  std::shared_ptr<std::string> sha_ = std::make_shared<std::string>();  // shared with SCRIPT LOAD's callback
};

}  // namespace courier::detail
