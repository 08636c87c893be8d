#pragma once
// State the sharded adapters of one RedisAdapterFactory share: the shard-aware client, counters,
// and the adapters to route messages to.

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <courier/redis_adapter.hpp>

#include "redis/redis_cluster.hpp"

namespace courier::detail {

class ShardedAdapterBase {
 public:
  virtual ~ShardedAdapterBase() = default;
  virtual void on_raw(const std::string& channel, const std::string& message) = 0;
};

class ShardedShared : public std::enable_shared_from_this<ShardedShared> {
 public:
  ShardedShared(asio::io_context& io, RedisAdapterOptions options, RedisUrl url)
      : io_(io), options_(std::move(options)), client_(std::make_shared<RedisShardClient>(io, url, options_.logger)) {}

  void start() {
    std::weak_ptr<ShardedShared> weak = shared_from_this();
    client_->set_push_handler([weak](const RedisReply& r) {
      if (auto self = weak.lock()) self->route(r);
    });
    client_->start();
  }
  void close() { client_->close(); }

  asio::io_context& io() noexcept { return io_; }
  const RedisAdapterOptions& options() const noexcept { return options_; }
  RedisShardClient& client() noexcept { return *client_; }
  RedisAdapterStats& stats() noexcept { return stats_; }

  void publish(const std::string& channel, std::string message) {
    if (!client_->spublish(channel, std::move(message))) {
      ++stats_.lost_publishes;
      if (stats_.lost_publishes % 1000 == 1 && options_.logger.enabled(LogLevel::warn))
        options_.logger.log(LogLevel::warn, "sharded redis adapter: not connected, publish to " + channel +
                                                " dropped (" + std::to_string(stats_.lost_publishes) + " lost so far)");
      return;
    }
    ++stats_.published;
  }

  void malformed(const std::string& what) {
    ++stats_.malformed;
    if (options_.logger.enabled(LogLevel::warn)) options_.logger.log(LogLevel::warn, "sharded redis adapter: ignoring " + what);
  }

  void add(ShardedAdapterBase* a) { adapters_.push_back(a); }
  void remove(ShardedAdapterBase* a) { adapters_.erase(std::remove(adapters_.begin(), adapters_.end(), a), adapters_.end()); }

 private:
  void route(const RedisReply& r);

  asio::io_context& io_;
  RedisAdapterOptions options_;
  std::shared_ptr<RedisShardClient> client_;
  std::vector<ShardedAdapterBase*> adapters_;
  RedisAdapterStats stats_;
};

std::unique_ptr<Adapter> make_sharded_adapter(AdapterHost& host, std::shared_ptr<ShardedShared> shared);

}  // namespace courier::detail
