// ShardedRedisAdapter: socket.io-adapter's ClusterAdapter protocol over Redis 7 sharded pub/sub,
// as @socket.io/redis-adapter's createShardedAdapter speaks it:
//   messages  {uid, nsp, type, data}: JSON, or msgpack when binary may be inside
//   channels  SPUBLISH <key>#<nsp>#            everything, and broadcasts to several rooms
//             SPUBLISH <key>#<nsp>#<room>#     broadcasts to one public room (dynamic modes)
//             SPUBLISH <key>#<nsp>#<uid>#      responses to the server <uid>
//   servers   PUBSUB SHARDNUMSUB <key>#<nsp>#
#include <courier/error.hpp>
#include <courier/in_memory_adapter.hpp>
#include <courier/redis_adapter.hpp>

#include <asio/steady_timer.hpp>

#include <unordered_map>

#include "redis/msgpack_value.hpp"
#include "redis/pending_requests.hpp"
#include "redis/redis_cluster.hpp"
#include "redis/sharded_shared.hpp"
#include "redis/wire.hpp"

namespace courier::detail {
namespace {

enum ClusterType {
  kInitialHeartbeat = 1,
  kHeartbeat = 2,
  kClusterBroadcast = 3,
  kSocketsJoin = 4,
  kSocketsLeave = 5,
  kDisconnectSockets = 6,
  kFetchSockets = 7,
  kFetchSocketsResponse = 8,
  kClusterServerSideEmit = 9,
  kServerSideEmitResponse = 10,
  kClusterBroadcastClientCount = 11,
  kClusterBroadcastAck = 12,
  kAdapterClose = 13,
};

std::string random_hex(std::size_t bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string raw(bytes, '\0');
  std::size_t got = 0;
  while (got < bytes) {
    const ssize_t r = ::getrandom(raw.data() + got, bytes - got, 0);
    if (r > 0) got += static_cast<std::size_t>(r);
  }
  std::string out;
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

bool may_carry_binary(int type) {
  return type == kClusterBroadcast || type == kClusterBroadcastAck || type == kFetchSocketsResponse ||
         type == kClusterServerSideEmit || type == kServerSideEmitResponse;
}

}  // namespace

void ShardedShared::route(const RedisReply& r) {
  if (r.elements.size() < 3 || r.elements[0].str != "smessage") return;
  const std::string& channel = r.elements[1].str;
  const std::string& msg = r.elements[2].str;
  auto adapters = adapters_;
  for (ShardedAdapterBase* a : adapters) {
    if (std::find(adapters_.begin(), adapters_.end(), a) == adapters_.end()) continue;
    a->on_raw(channel, msg);
  }
}

class ShardedAdapter final : public InMemoryAdapter, public ShardedAdapterBase {
 public:
  ShardedAdapter(AdapterHost& host, std::shared_ptr<ShardedShared> shared)
      : InMemoryAdapter(host),
        shared_(std::move(shared)),
        uid_(random_hex(8)),
        requests_(shared_->io(), shared_->options().logger, "sharded redis adapter " + host.name()) {
    channel_ = shared_->options().key + "#" + host.name() + "#";
    response_channel_ = channel_ + uid_ + "#";
  }
  ~ShardedAdapter() override { close(); }

  void collect_metrics(AdapterMetrics& out) const override {
    // The cluster client is shared by every namespace: report the totals (assign, not add).
    const RedisAdapterStats& st = shared_->stats();
    out.published = st.published;
    out.lost_publishes = st.lost_publishes;
    out.received = st.received;
    out.malformed = st.malformed;
    out.reconnects = shared_->client().reconnects();
  }

  void init() override {
    shared_->add(this);
    shared_->client().ssubscribe(channel_);
    shared_->client().ssubscribe(response_channel_);
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    shared_->remove(this);
    shared_->client().sunsubscribe(channel_);
    shared_->client().sunsubscribe(response_channel_);
    for (const auto& room : room_channels_) shared_->client().sunsubscribe(room);
    room_channels_.clear();
    requests_.clear();
    ack_requests_.clear();
  }

  // ---- outgoing ---------------------------------------------------------------------------

  void broadcast(const OutPacket& packet, const BroadcastOptions& opts) override {
    if (!opts.flags.local)
      publish(kClusterBroadcast, Value::object({{"packet", packet_value(packet)}, {"opts", opts_value(opts, true)}}));
    InMemoryAdapter::broadcast(packet, opts);
  }

  void broadcast_with_ack(const OutPacket& packet, const BroadcastOptions& opts,
                          std::function<void(std::size_t)> client_count, std::function<void(Args)> on_ack) override {
    if (!opts.flags.local) {
      const std::string request_id = random_hex(8);
      auto timer = std::make_shared<asio::steady_timer>(shared_->io());
      ack_requests_[request_id] = AckRequest{client_count, on_ack};
      publish(kClusterBroadcast, Value::object({{"packet", packet_value(packet)},
                                                {"requestId", request_id},
                                                {"opts", opts_value(opts, true)}}));
      timer->expires_after(opts.flags.timeout.value_or(shared_->options().request_timeout));
      timer->async_wait([this, alive = std::weak_ptr<bool>(alive_), request_id, timer](const std::error_code& ec) {
        if (!ec && !alive.expired()) ack_requests_.erase(request_id);
      });
    }
    InMemoryAdapter::broadcast_with_ack(packet, opts, std::move(client_count), std::move(on_ack));
  }

  void add_sockets(const BroadcastOptions& opts, const std::vector<RoomName>& rooms) override {
    if (!opts.flags.local)
      publish(kSocketsJoin, Value::object({{"opts", opts_value(opts, true)}, {"rooms", strings(rooms)}}));
    InMemoryAdapter::add_sockets(opts, rooms);
  }

  void del_sockets(const BroadcastOptions& opts, const std::vector<RoomName>& rooms) override {
    if (!opts.flags.local)
      publish(kSocketsLeave, Value::object({{"opts", opts_value(opts, true)}, {"rooms", strings(rooms)}}));
    InMemoryAdapter::del_sockets(opts, rooms);
  }

  void disconnect_sockets(const BroadcastOptions& opts, bool close) override {
    if (!opts.flags.local)
      publish(kDisconnectSockets, Value::object({{"opts", opts_value(opts, true)}, {"close", close}}));
    InMemoryAdapter::disconnect_sockets(opts, close);
  }

  void server_count(std::function<void(std::size_t)> done) override {
    shared_->client().shardnumsub(channel_, [done, alive = std::weak_ptr<bool>(alive_)](std::error_code ec, std::size_t n) {
      if (alive.expired()) return;
      done(ec ? 1 : std::max<std::size_t>(n, 1));
    });
  }

  void fetch_sockets(const BroadcastOptions& opts,
                     std::function<void(std::vector<SocketInfo>, std::error_code)> done) override {
    std::vector<SocketInfo> local;
    InMemoryAdapter::fetch_sockets(opts, [&](std::vector<SocketInfo> s, std::error_code) { local = std::move(s); });
    if (opts.flags.local) {
      done(std::move(local), {});
      return;
    }
    server_count([this, alive = std::weak_ptr<bool>(alive_), opts, done, local = std::move(local)](std::size_t n) mutable {
      if (alive.expired()) return;
      if (n <= 1) {
        done(std::move(local), {});
        return;
      }
      PendingRequests::Request r;
      r.type = kFetchSockets;
      r.expected = n - 1;
      r.sockets = std::move(local);
      r.done_sockets = done;
      const std::string id = start_request(std::move(r), opts.flags.timeout.value_or(shared_->options().request_timeout));
      publish(kFetchSockets, Value::object({{"opts", opts_value(opts, true)}, {"requestId", id}}));
    });
  }

  void server_side_emit(const Args& data, std::function<void(std::error_code, std::vector<Value>)> done) override {
    if (!done) {
      publish(kClusterServerSideEmit, Value::object({{"packet", Value(data)}}));
      return;
    }
    server_count([this, alive = std::weak_ptr<bool>(alive_), data, done](std::size_t n) {
      if (alive.expired()) return;
      if (n <= 1) {
        done({}, {});
        return;
      }
      PendingRequests::Request r;
      r.type = kClusterServerSideEmit;
      r.expected = n - 1;
      r.done_values = done;
      const std::string id = start_request(std::move(r), shared_->options().request_timeout);
      publish(kClusterServerSideEmit, Value::object({{"requestId", id}, {"packet", Value(data)}}));
    });
  }

  // ---- incoming ---------------------------------------------------------------------------

  void on_raw(const std::string& channel, const std::string& raw) override {
    if (channel.compare(0, channel_.size(), channel_) != 0) return;
    Value message;
    const bool ok = !raw.empty() && raw.front() == '{' ? Value::parse_json(raw, message) : msgpack_decode(raw, message);
    if (!ok || !message.is_object()) {
      shared_->malformed("malformed sharded message on " + channel);
      return;
    }
    if (channel == response_channel_) {
      on_response(message);
      return;
    }
    if (channel.size() > channel_.size() && channel.compare(channel_.size(), std::string::npos, uid_ + "#") != 0) {
      // A room channel or another server's response channel: only room channels concern us.
      const std::string room = channel.substr(channel_.size(), channel.size() - channel_.size() - 1);
      if (room_channels_.count(channel) == 0) return;
      (void)room;
    }
    on_message(message);
  }

 private:
  struct AckRequest {
    std::function<void(std::size_t)> client_count;
    std::function<void(Args)> ack;
  };

  void room_created(const RoomName& room) override {
    if (!separate_channel(room)) return;
    const std::string ch = channel_ + room + "#";
    if (room_channels_.insert(ch).second) shared_->client().ssubscribe(ch);
  }
  void room_deleted(const RoomName& room) override {
    const std::string ch = channel_ + room + "#";
    if (room_channels_.erase(ch) != 0) shared_->client().sunsubscribe(ch);
  }
  bool separate_channel(const RoomName& room) const {
    using Mode = RedisAdapterOptions::SubscriptionMode;
    const Mode mode = shared_->options().subscription_mode;
    return mode == Mode::dynamic_private || (mode == Mode::dynamic && !is_socket_room(room));
  }
  static bool looks_like_socket_id(const std::string& room) { return room.size() == 20; }

  std::string channel_for(int type, const Value& data) const {
    using Mode = RedisAdapterOptions::SubscriptionMode;
    const Mode mode = shared_->options().subscription_mode;
    const Value& rooms = data["opts"]["rooms"];
    // Broadcasts with acks use the main channel: every server must report its client count.
    const bool dynamic = type == kClusterBroadcast && !data.find("requestId") && rooms.size() == 1 &&
                         ((mode == Mode::dynamic && !looks_like_socket_id(rooms[0].as_string())) ||
                          mode == Mode::dynamic_private);
    return dynamic ? channel_ + rooms[0].as_string() + "#" : channel_;
  }

  std::string encode(int type, const Value& message) const {
    if (may_carry_binary(type) && message["data"].has_binary()) {
      std::string out;
      msgpack_encode(message, out);
      return out;
    }
    return message.to_json();
  }

  void publish(int type, Value data) {
    const std::string channel = channel_for(type, data);
    Value message = Value::object({{"uid", uid_}, {"nsp", host().name()}, {"type", type}, {"data", std::move(data)}});
    shared_->publish(channel, encode(type, message));
  }

  void publish_response(const std::string& requester, int type, Value data) {
    Value message = Value::object({{"uid", uid_}, {"nsp", host().name()}, {"type", type}, {"data", std::move(data)}});
    shared_->publish(channel_ + requester + "#", encode(type, message));
  }

  std::string start_request(PendingRequests::Request r, std::chrono::milliseconds timeout) {
    const std::string id = random_hex(8);
    requests_.start(id, std::move(r), timeout);
    return id;
  }

  void on_message(const Value& m) {
    const std::string from = m["uid"].as_string();
    if (from == uid_) return;
    const Value& data = m["data"];
    ++shared_->stats().received;
    switch (m["type"].as_int(-1)) {
      case kClusterBroadcast: {
        const OutPacket packet = packet_from(data["packet"]);
        const BroadcastOptions opts = opts_from(data["opts"]);
        if (!data.find("requestId")) {
          InMemoryAdapter::broadcast(packet, opts);
          break;
        }
        const std::string request_id = data["requestId"].as_string();
        auto alive = std::weak_ptr<bool>(alive_);
        InMemoryAdapter::broadcast_with_ack(
            packet, opts,
            [this, alive, from, request_id](std::size_t count) {
              if (alive.expired()) return;
              publish_response(from, kClusterBroadcastClientCount,
                               Value::object({{"requestId", request_id}, {"clientCount", static_cast<long long>(count)}}));
            },
            [this, alive, from, request_id](Args a) {
              if (alive.expired()) return;
              publish_response(from, kClusterBroadcastAck,
                               Value::object({{"requestId", request_id}, {"packet", a.empty() ? Value() : std::move(a.front())}}));
            });
        break;
      }
      case kSocketsJoin: InMemoryAdapter::add_sockets(opts_from(data["opts"]), to_strings(data["rooms"])); break;
      case kSocketsLeave: InMemoryAdapter::del_sockets(opts_from(data["opts"]), to_strings(data["rooms"])); break;
      case kDisconnectSockets: InMemoryAdapter::disconnect_sockets(opts_from(data["opts"]), data["close"].as_bool()); break;
      case kFetchSockets: {
        std::vector<SocketInfo> local;
        InMemoryAdapter::fetch_sockets(opts_from(data["opts"]), [&](std::vector<SocketInfo> s, std::error_code) {
          local = std::move(s);
        });
        Value sockets = Value::array();
        for (const auto& s : local) sockets.push_back(socket_value(s));
        publish_response(from, kFetchSocketsResponse,
                         Value::object({{"requestId", data["requestId"]}, {"sockets", sockets}}));
        break;
      }
      case kClusterServerSideEmit: {
        std::function<void(Value)> reply;
        if (data.find("requestId")) {
          auto called = std::make_shared<bool>(false);
          reply = [this, alive = std::weak_ptr<bool>(alive_), from, id = data["requestId"].as_string(), called](Value arg) {
            if (alive.expired() || *called) return;
            *called = true;
            publish_response(from, kServerSideEmitResponse, Value::object({{"requestId", id}, {"packet", std::move(arg)}}));
          };
        }
        host().server_side_emit_received(data["packet"].as_array(), std::move(reply));
        break;
      }
      case kFetchSocketsResponse:
      case kServerSideEmitResponse:
      case kClusterBroadcastClientCount:
      case kClusterBroadcastAck: on_response(m); break;
      case kInitialHeartbeat:
      case kHeartbeat:
      case kAdapterClose: break;  // heartbeats belong to ClusterAdapterWithHeartbeat, not used here
      default: shared_->malformed("sharded message of unknown type " + m["type"].to_json());
    }
  }

  void on_response(const Value& m) {
    const Value& data = m["data"];
    const std::string id = data["requestId"].as_string();
    const auto type = m["type"].as_int(-1);
    if (type == kClusterBroadcastClientCount || type == kClusterBroadcastAck) {
      auto a = ack_requests_.find(id);
      if (a == ack_requests_.end()) return;
      if (type == kClusterBroadcastClientCount) {
        if (a->second.client_count) a->second.client_count(static_cast<std::size_t>(data["clientCount"].as_uint()));
      } else if (a->second.ack) {
        a->second.ack(Args{data["packet"]});
      }
      return;
    }
    PendingRequests::Request* r = requests_.find(id);
    if (!r) return;
    if (type == kFetchSocketsResponse) {
      for (const auto& s : data["sockets"].as_array()) r->sockets.push_back(socket_from(s));
    } else if (type == kServerSideEmitResponse) {
      r->values.push_back(data["packet"]);
    }
    requests_.answered(id);
  }

  std::shared_ptr<ShardedShared> shared_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::string uid_;
  std::string channel_, response_channel_;
  std::set<std::string> room_channels_;
  PendingRequests requests_;
  std::unordered_map<std::string, AckRequest> ack_requests_;
  bool closed_ = false;
};

std::unique_ptr<Adapter> make_sharded_adapter(AdapterHost& host, std::shared_ptr<ShardedShared> shared) {
  return std::make_unique<ShardedAdapter>(host, std::move(shared));
}

}  // namespace courier::detail
