#pragma once
// Sharded pub/sub over a Redis Cluster (or a single Redis 7): SPUBLISH, SSUBSCRIBE, SUNSUBSCRIBE
// and PUBSUB SHARDNUMSUB go to the node owning the channel's hash slot. Each master gets a
// publishing and a subscribing RedisConnection; the slot map comes from CLUSTER SLOTS (a server
// without cluster support serves every slot) and is refreshed on MOVED and periodically.

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "redis/redis_connection.hpp"

namespace courier::detail {

/// Redis Cluster key slot (CRC16/XMODEM of the key or of its {hash tag}, modulo 16384).
std::uint16_t key_slot(std::string_view key) noexcept;

class RedisShardClient : public std::enable_shared_from_this<RedisShardClient> {
 public:
  RedisShardClient(asio::io_context& io, RedisUrl seed, Logger logger);
  void start();
  void close();

  /// True once the slot map is known and every node's connections are up.
  bool ready() const;
  /// Publishes; `done` gets false when it could not be sent (not connected).
  bool spublish(const std::string& channel, std::string message);
  void ssubscribe(const std::string& channel);
  void sunsubscribe(const std::string& channel);
  void shardnumsub(const std::string& channel, std::function<void(std::error_code, std::size_t)> done);
  /// Receives ["smessage", channel, message] pushes from every node.
  void set_push_handler(std::function<void(const RedisReply&)> h) { on_push_ = std::move(h); }
  std::uint64_t reconnects() const;

 private:
  struct Node {
    RedisUrl url;
    std::shared_ptr<RedisConnection> pub;
    std::shared_ptr<RedisConnection> sub;
  };
  void refresh_slots();
  void apply_slots(const RedisReply& reply, bool cluster);
  Node* node_for(const std::string& channel);
  Node& node_at(const std::string& host, std::uint16_t port);
  void schedule_refresh();

  asio::io_context& io_;
  RedisUrl seed_;
  Logger logger_;
  std::shared_ptr<RedisConnection> probe_;  // asks CLUSTER SLOTS
  std::map<std::string, Node> nodes_;       // "host:port" -> connections
  std::array<std::string, 16384> slots_{};  // slot -> "host:port"
  bool have_slots_ = false;
  std::set<std::string> channels_;          // wanted subscriptions
  std::map<std::string, std::string> subscribed_on_;  // channel -> node key
  std::function<void(const RedisReply&)> on_push_;
  asio::steady_timer refresh_timer_;
  bool closed_ = false;
};

}  // namespace courier::detail
