#include "redis/redis_cluster.hpp"

namespace courier::detail {
namespace {

// CRC16/XMODEM (polynomial 0x1021), as Redis Cluster specifies for key slots.
std::uint16_t crc16(std::string_view s) noexcept {
  std::uint16_t crc = 0;
  for (unsigned char c : s) {
    crc ^= static_cast<std::uint16_t>(c << 8);
    for (int i = 0; i < 8; ++i) crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021) : static_cast<std::uint16_t>(crc << 1);
  }
  return crc;
}

std::string node_key(const std::string& host, std::uint16_t port) { return host + ":" + std::to_string(port); }

constexpr auto kRefreshPeriod = std::chrono::seconds(5);

}  // namespace

std::uint16_t key_slot(std::string_view key) noexcept {
  const auto open = key.find('{');
  if (open != std::string_view::npos) {
    const auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) key = key.substr(open + 1, close - open - 1);
  }
  return static_cast<std::uint16_t>(crc16(key) % 16384);
}

RedisShardClient::RedisShardClient(asio::io_context& io, RedisUrl seed, Logger logger)
    : io_(io), seed_(std::move(seed)), logger_(std::move(logger)), refresh_timer_(io) {}

void RedisShardClient::start() {
  probe_ = std::make_shared<RedisConnection>(io_, seed_, "cluster-probe", logger_);
  std::weak_ptr<RedisShardClient> weak = shared_from_this();
  probe_->set_ready_handler([weak] {
    if (auto self = weak.lock()) self->refresh_slots();
  });
  probe_->start();
  schedule_refresh();
}

void RedisShardClient::close() {
  closed_ = true;
  refresh_timer_.cancel();
  if (probe_) probe_->close();
  for (auto& [k, n] : nodes_) {
    n.pub->close();
    n.sub->close();
  }
}

bool RedisShardClient::ready() const {
  if (!have_slots_ || nodes_.empty()) return false;
  for (const auto& [k, n] : nodes_)
    if (!n.pub->ready() || !n.sub->ready()) return false;
  return true;
}

std::uint64_t RedisShardClient::reconnects() const {
  std::uint64_t n = 0;
  for (const auto& [k, node] : nodes_) n += node.pub->reconnects() + node.sub->reconnects();
  return n;
}

void RedisShardClient::schedule_refresh() {
  refresh_timer_.expires_after(kRefreshPeriod);
  refresh_timer_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->closed_) return;
    self->refresh_slots();
    self->schedule_refresh();
  });
}

void RedisShardClient::refresh_slots() {
  if (closed_ || !probe_->ready()) return;
  probe_->command({"CLUSTER", "SLOTS"}, [weak = weak_from_this()](std::error_code ec, RedisReply r) {
    auto self = weak.lock();
    if (!self || self->closed_ || ec) return;
    // "cluster support disabled": a single Redis serves every slot.
    self->apply_slots(r, r.type != RedisReply::Type::error);
  });
}

RedisShardClient::Node& RedisShardClient::node_at(const std::string& host, std::uint16_t port) {
  const std::string key = node_key(host, port);
  auto it = nodes_.find(key);
  if (it != nodes_.end()) return it->second;
  Node node;
  node.url = seed_;
  node.url.host = host;
  node.url.port = port;
  node.url.db = 0;  // clusters have only db 0
  node.pub = std::make_shared<RedisConnection>(io_, node.url, "publisher " + key, logger_);
  node.sub = std::make_shared<RedisConnection>(io_, node.url, "subscriber " + key, logger_);
  std::weak_ptr<RedisShardClient> weak = shared_from_this();
  node.sub->set_push_handler([weak](const RedisReply& r) {
    if (auto self = weak.lock())
      if (self->on_push_) self->on_push_(r);
  });
  node.pub->start();
  node.sub->start();
  return nodes_.emplace(key, std::move(node)).first->second;
}

void RedisShardClient::apply_slots(const RedisReply& reply, bool cluster) {
  std::array<std::string, 16384> slots{};
  if (!cluster) {
    Node& n = node_at(seed_.host, seed_.port);
    (void)n;
    slots.fill(node_key(seed_.host, seed_.port));
  } else {
    for (const auto& range : reply.elements) {
      if (range.elements.size() < 3 || range.elements[2].elements.size() < 2) continue;
      const auto from = static_cast<std::size_t>(range.elements[0].integer);
      const auto to = static_cast<std::size_t>(range.elements[1].integer);
      std::string host = range.elements[2].elements[0].str;
      if (host.empty()) host = seed_.host;  // "" means "the address you reached me on"
      const auto port = static_cast<std::uint16_t>(range.elements[2].elements[1].integer);
      node_at(host, port);
      for (std::size_t s = from; s <= to && s < slots.size(); ++s) slots[s] = node_key(host, port);
    }
  }
  slots_ = slots;
  have_slots_ = true;
  // (Re)place every wanted subscription on the node that owns its slot now.
  for (const auto& channel : channels_) {
    const std::string& owner = slots_[key_slot(channel)];
    auto at = subscribed_on_.find(channel);
    if (at != subscribed_on_.end() && at->second == owner) continue;
    if (at != subscribed_on_.end()) {
      auto old = nodes_.find(at->second);
      if (old != nodes_.end()) old->second.sub->unsubscribe("SSUBSCRIBE", {channel});
    }
    auto n = nodes_.find(owner);
    if (n == nodes_.end()) continue;
    n->second.sub->subscribe("SSUBSCRIBE", {channel});
    subscribed_on_[channel] = owner;
  }
}

RedisShardClient::Node* RedisShardClient::node_for(const std::string& channel) {
  if (!have_slots_) return nullptr;
  auto it = nodes_.find(slots_[key_slot(channel)]);
  return it == nodes_.end() ? nullptr : &it->second;
}

bool RedisShardClient::spublish(const std::string& channel, std::string message) {
  Node* n = node_for(channel);
  if (!n || !n->pub->ready()) return false;
  n->pub->command({"SPUBLISH", channel, std::move(message)}, [weak = weak_from_this()](std::error_code, RedisReply r) {
    // MOVED: the cluster changed; learn the new map (this message is lost, as a publish during a
    // failover is with Node's client too).
    RedisRedirect moved;
    if (RedisRedirect::parse(r, moved) && !moved.ask)
      if (auto self = weak.lock()) self->refresh_slots();
  });
  return true;
}

void RedisShardClient::ssubscribe(const std::string& channel) {
  if (!channels_.insert(channel).second) return;
  Node* n = node_for(channel);
  if (!n) return;  // placed when the slot map arrives
  n->sub->subscribe("SSUBSCRIBE", {channel});
  subscribed_on_[channel] = slots_[key_slot(channel)];
}

void RedisShardClient::sunsubscribe(const std::string& channel) {
  if (channels_.erase(channel) == 0) return;
  auto at = subscribed_on_.find(channel);
  if (at == subscribed_on_.end()) return;
  auto n = nodes_.find(at->second);
  if (n != nodes_.end()) n->second.sub->unsubscribe("SSUBSCRIBE", {channel});
  subscribed_on_.erase(at);
}

void RedisShardClient::shardnumsub(const std::string& channel, std::function<void(std::error_code, std::size_t)> done) {
  Node* n = node_for(channel);
  if (!n || !n->pub->ready()) {
    done(std::make_error_code(std::errc::not_connected), 0);
    return;
  }
  n->pub->command({"PUBSUB", "SHARDNUMSUB", channel}, [done](std::error_code ec, RedisReply r) {
    if (ec || r.type != RedisReply::Type::array || r.elements.size() < 2) {
      done(ec ? ec : std::make_error_code(std::errc::protocol_error), 0);
      return;
    }
    done({}, static_cast<std::size_t>(r.elements[1].integer));
  });
}

}  // namespace courier::detail
