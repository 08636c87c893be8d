// RedisAdapter: InMemoryAdapter for the local half, Redis pub/sub for the rest of the cluster,
// speaking @socket.io/redis-adapter 8.x's protocol:
//   broadcasts   PUBLISH <key>#<nsp>#[<room>#]  msgpack [uid, packet, opts]   (PSUBSCRIBE <key>#<nsp>#*)
//   requests     PUBLISH <key>-request#<nsp>#   JSON, or msgpack for BROADCAST (with acks)
//   responses    PUBLISH <key>-response#<nsp># (or ...#<uid>#)  JSON, or msgpack for BROADCAST_ACK
//   server count PUBSUB NUMSUB <key>-request#<nsp>#
#include <courier/in_memory_adapter.hpp>
#include <courier/error.hpp>
#include <courier/redis_adapter.hpp>

#include <asio/steady_timer.hpp>

#include <sys/random.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "redis/msgpack_value.hpp"
#include "redis/pending_requests.hpp"
#include "redis/redis_connection.hpp"
#include "redis/sharded_shared.hpp"
#include "redis/wire.hpp"

namespace courier::detail {
namespace {

bool decode_message(std::string_view msg, Value& out) {
  if (!msg.empty() && msg.front() == '{') return Value::parse_json(msg, out);
  return msgpack_decode(msg, out);
}

}  // namespace

class RedisAdapter;

class RedisShared : public std::enable_shared_from_this<RedisShared> {
 public:
  RedisShared(asio::io_context& io, RedisAdapterOptions options, RedisUrl url)
      : io_(io),
        options_(std::move(options)),
        pub_(std::make_shared<RedisConnection>(io, url, "publisher", options_.logger)),
        sub_(std::make_shared<RedisConnection>(io, url, "subscriber", options_.logger)) {}

  void start() {
    std::weak_ptr<RedisShared> weak = shared_from_this();
    sub_->set_push_handler([weak](const RedisReply& r) {
      if (auto self = weak.lock()) self->route(r);
    });
    pub_->start();
    sub_->start();
  }
  void close() {
    pub_->close();
    sub_->close();
  }

  asio::io_context& io() noexcept { return io_; }
  const RedisAdapterOptions& options() const noexcept { return options_; }
  RedisConnection& sub() noexcept { return *sub_; }
  RedisConnection& pub() noexcept { return *pub_; }
  RedisAdapterStats& stats() noexcept { return stats_; }
  bool connected() const noexcept { return pub_->ready() && sub_->ready(); }

  /// Publishes, or counts the loss when Redis is away (never buffered).
  void publish(const std::string& channel, std::string message) {
    if (!pub_->ready()) {
      ++stats_.lost_publishes;
      // One line for the first loss of an outage and then every 1000th, so an outage under load
      // is reported without flooding the log.
      if (stats_.lost_publishes % 1000 == 1 && options_.logger.enabled(LogLevel::warn))
        options_.logger.log(LogLevel::warn, "redis adapter: not connected, publish to " + channel + " dropped (" +
                                                std::to_string(stats_.lost_publishes) + " lost so far)");
      return;
    }
    ++stats_.published;
    pub_->command({"PUBLISH", channel, std::move(message)});
  }

  void numsub(const std::string& channel, std::function<void(std::error_code, std::size_t)> done) {
    pub_->command({"PUBSUB", "NUMSUB", channel}, [done](std::error_code ec, RedisReply r) {
      if (ec || r.type != RedisReply::Type::array || r.elements.size() < 2) {
        done(ec ? ec : courier::make_error_code(courier::errc::cluster_unavailable), 0);
        return;
      }
      done({}, static_cast<std::size_t>(r.elements[1].integer));
    });
  }

  void add(RedisAdapter* a) { adapters_.push_back(a); }
  void remove(RedisAdapter* a) { adapters_.erase(std::remove(adapters_.begin(), adapters_.end(), a), adapters_.end()); }

  void malformed(const std::string& what) {
    ++stats_.malformed;
    if (options_.logger.enabled(LogLevel::warn)) options_.logger.log(LogLevel::warn, "redis adapter: ignoring " + what);
  }

 private:
  void route(const RedisReply& r);

  asio::io_context& io_;
  RedisAdapterOptions options_;
  std::shared_ptr<RedisConnection> pub_;
  std::shared_ptr<RedisConnection> sub_;
  std::vector<RedisAdapter*> adapters_;
  RedisAdapterStats stats_;
};

class RedisAdapter final : public InMemoryAdapter {
 public:
  RedisAdapter(AdapterHost& host, std::shared_ptr<RedisShared> shared)
      : InMemoryAdapter(host),
        shared_(std::move(shared)),
        uid_(random_token(6)),
        requests_(shared_->io(), shared_->options().logger, "redis adapter " + host.name()) {
    const std::string& key = shared_->options().key;
    channel_ = key + "#" + host.name() + "#";
    request_channel_ = key + "-request#" + host.name() + "#";
    response_channel_ = key + "-response#" + host.name() + "#";
    specific_response_channel_ = response_channel_ + uid_ + "#";
  }
  ~RedisAdapter() override { close(); }

  void collect_metrics(AdapterMetrics& out) const override {
    // The connections are shared by every namespace: report the totals (assign, not add).
    const RedisAdapterStats& st = shared_->stats();
    out.published = st.published;
    out.lost_publishes = st.lost_publishes;
    out.received = st.received;
    out.malformed = st.malformed;
    out.reconnects = shared_->pub().reconnects() + shared_->sub().reconnects();
  }

  void init() override {
    shared_->add(this);
    shared_->sub().subscribe("PSUBSCRIBE", {channel_ + "*"});
    shared_->sub().subscribe("SUBSCRIBE", {request_channel_, response_channel_, specific_response_channel_});
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    shared_->remove(this);
    shared_->sub().unsubscribe("PSUBSCRIBE", {channel_ + "*"});
    shared_->sub().unsubscribe("SUBSCRIBE", {request_channel_, response_channel_, specific_response_channel_});
    requests_.clear();
    ack_requests_.clear();
  }

  bool owns_broadcast_channel(const std::string& ch) const { return ch.compare(0, channel_.size(), channel_) == 0; }
  bool owns_request_channel(const std::string& ch) const {
    return ch.compare(0, request_channel_.size(), request_channel_) == 0 ||
           ch.compare(0, response_channel_.size(), response_channel_) == 0;
  }

  // ---- outgoing ---------------------------------------------------------------------------

  void broadcast(const OutPacket& packet, const BroadcastOptions& opts) override {
    if (!opts.flags.local) {
      std::string msg;
      msgpack_encode(Value::array({uid_, packet_value(packet), opts_value(opts, true)}), msg);
      std::string channel = channel_;
      if (opts.rooms.size() == 1) channel += opts.rooms.front() + "#";
      shared_->publish(channel, std::move(msg));
    }
    InMemoryAdapter::broadcast(packet, opts);
  }

  void broadcast_with_ack(const OutPacket& packet, const BroadcastOptions& opts,
                          std::function<void(std::size_t)> client_count, std::function<void(Args)> on_ack) override {
    if (!opts.flags.local) {
      const std::string request_id = random_token(6);
      std::string msg;
      msgpack_encode(Value::object({{"uid", uid_},
                                    {"requestId", request_id},
                                    {"type", kBroadcast},
                                    {"packet", packet_value(packet)},
                                    {"opts", opts_value(opts, true)}}),
                     msg);
      shared_->publish(request_channel_, std::move(msg));
      auto timer = std::make_shared<asio::steady_timer>(shared_->io());
      ack_requests_[request_id] = AckRequest{client_count, on_ack, timer};
      // Nothing tells us when every remote ack is in: forget the request after the wait.
      timer->expires_after(opts.flags.timeout.value_or(shared_->options().request_timeout));
      timer->async_wait([this, alive = std::weak_ptr<bool>(alive_), request_id](const std::error_code& ec) {
        if (!ec && !alive.expired()) ack_requests_.erase(request_id);
      });
    }
    InMemoryAdapter::broadcast_with_ack(packet, opts, std::move(client_count), std::move(on_ack));
  }

  void fetch_sockets(const BroadcastOptions& opts,
                     std::function<void(std::vector<SocketInfo>, std::error_code)> done) override {
    std::vector<SocketInfo> local;
    InMemoryAdapter::fetch_sockets(opts, [&](std::vector<SocketInfo> s, std::error_code) { local = std::move(s); });
    if (opts.flags.local) {
      done(std::move(local), {});
      return;
    }
    auto alive = std::weak_ptr<bool>(alive_);
    shared_->numsub(request_channel_, [this, alive, opts, done, local = std::move(local)](std::error_code ec,
                                                                                            std::size_t n) mutable {
      if (alive.expired()) return;
      if (ec) {
        done(std::move(local), courier::make_error_code(courier::errc::cluster_unavailable));
        return;
      }
      if (n <= 1) {
        done(std::move(local), {});
        return;
      }
      PendingRequests::Request r;
      r.type = kRemoteFetch;
      r.expected = n - 1;  // the other servers
      r.sockets = std::move(local);
      r.done_sockets = done;
      send_request(std::move(r), Value::object({{"uid", uid_},
                                                {"type", kRemoteFetch},
                                                {"opts", opts_value(opts, false)}}));
    });
  }

  void add_sockets(const BroadcastOptions& opts, const std::vector<RoomName>& rooms) override {
    InMemoryAdapter::add_sockets(opts, rooms);
    if (opts.flags.local) return;
    publish_json(request_channel_, Value::object({{"uid", uid_},
                                                  {"type", kRemoteJoin},
                                                  {"opts", opts_value(opts, false)},
                                                  {"rooms", strings(rooms)}}));
  }

  void del_sockets(const BroadcastOptions& opts, const std::vector<RoomName>& rooms) override {
    InMemoryAdapter::del_sockets(opts, rooms);
    if (opts.flags.local) return;
    publish_json(request_channel_, Value::object({{"uid", uid_},
                                                  {"type", kRemoteLeave},
                                                  {"opts", opts_value(opts, false)},
                                                  {"rooms", strings(rooms)}}));
  }

  void disconnect_sockets(const BroadcastOptions& opts, bool close) override {
    if (!opts.flags.local) {
      publish_json(request_channel_, Value::object({{"uid", uid_},
                                                    {"type", kRemoteDisconnect},
                                                    {"opts", opts_value(opts, false)},
                                                    {"close", close}}));
    }
    InMemoryAdapter::disconnect_sockets(opts, close);
  }

  void server_count(std::function<void(std::size_t)> done) override {
    shared_->numsub(request_channel_, [done, alive = std::weak_ptr<bool>(alive_)](std::error_code ec, std::size_t n) {
      if (alive.expired()) return;
      done(ec ? 1 : std::max<std::size_t>(n, 1));
    });
  }

  void server_side_emit(const Args& data, std::function<void(std::error_code, std::vector<Value>)> done) override {
    if (!done) {
      publish_json(request_channel_, Value::object({{"uid", uid_}, {"type", kServerSideEmit}, {"data", Value(data)}}));
      return;
    }
    auto alive = std::weak_ptr<bool>(alive_);
    shared_->numsub(request_channel_, [this, alive, data, done](std::error_code ec, std::size_t n) {
      if (alive.expired()) return;
      if (ec) {
        done(courier::make_error_code(courier::errc::cluster_unavailable), {});
        return;
      }
      if (n <= 1) {
        done({}, {});
        return;
      }
      PendingRequests::Request r;
      r.type = kServerSideEmit;
      r.expected = n - 1;  // the others
      r.done_values = done;
      send_request(std::move(r), Value::object({{"uid", uid_}, {"type", kServerSideEmit}, {"data", Value(data)}}));
    });
  }

  // ---- incoming ---------------------------------------------------------------------------

  void on_broadcast(const std::string& channel, const std::string& msg) {
    if (channel.size() > channel_.size() + 1) {
      const std::string room = channel.substr(channel_.size(), channel.size() - channel_.size() - 1);
      if (!has_room(room)) return;  // nobody here is in that room
    }
    Value v;
    if (!msgpack_decode(msg, v) || !v.is_array() || v.size() < 3) {
      shared_->malformed("malformed broadcast on " + channel);
      return;
    }
    if (v[0].as_string() == uid_) return;
    OutPacket packet = packet_from(v[1]);
    if (packet.nsp != host().name()) return;
    ++shared_->stats().received;
    InMemoryAdapter::broadcast(packet, opts_from(v[2]));
  }

  void on_request_channel(const std::string& channel, const std::string& msg) {
    if (channel.compare(0, response_channel_.size(), response_channel_) == 0) {
      on_response(msg);
      return;
    }
    Value req;
    if (!decode_message(msg, req) || !req.is_object()) {
      shared_->malformed("malformed request on " + channel);
      return;
    }
    ++shared_->stats().received;
    const std::string request_id = req["requestId"].as_string();
    const bool own = req["uid"].as_string() == uid_;
    switch (req["type"].as_int(-1)) {
      case kSockets: {
        if (requests_.contains(request_id)) return;
        BroadcastOptions o;
        o.rooms = to_strings(req["rooms"]);
        respond(req, Value::object({{"requestId", request_id}, {"sockets", strings(local_sockets(o))}}));
        break;
      }
      case kAllRooms:
        if (requests_.contains(request_id)) return;
        respond(req, Value::object({{"requestId", request_id}, {"rooms", strings(local_rooms())}}));
        break;
      case kRemoteJoin:
      case kRemoteLeave:
      case kRemoteDisconnect: on_remote_change(req, own); break;
      case kRemoteFetch: {
        if (requests_.contains(request_id) || own) return;
        std::vector<SocketInfo> local;
        InMemoryAdapter::fetch_sockets(opts_from(req["opts"]), [&](std::vector<SocketInfo> s, std::error_code) {
          local = std::move(s);
        });
        Value sockets = Value::array();
        for (const auto& s : local) sockets.push_back(socket_value(s));
        respond(req, Value::object({{"requestId", request_id}, {"sockets", sockets}}));
        break;
      }
      case kServerSideEmit: {
        if (own) return;
        Args data = req["data"].as_array();
        std::function<void(Value)> reply;
        if (req.find("requestId")) {
          auto called = std::make_shared<bool>(false);
          reply = [this, alive = std::weak_ptr<bool>(alive_), request_id, called](Value arg) {
            if (alive.expired() || *called) return;
            *called = true;
            // Node answers server-side emits on the shared response channel.
            publish_json(response_channel_, Value::object({{"type", kServerSideEmit},
                                                           {"requestId", request_id},
                                                           {"data", std::move(arg)}}));
          };
        }
        host().server_side_emit_received(std::move(data), std::move(reply));
        break;
      }
      case kBroadcast: {
        if (ack_requests_.count(request_id) != 0 || own) return;
        const OutPacket packet = packet_from(req["packet"]);
        auto alive = std::weak_ptr<bool>(alive_);
        InMemoryAdapter::broadcast_with_ack(
            packet, opts_from(req["opts"]),
            [this, alive, req, request_id](std::size_t count) {
              if (alive.expired()) return;
              respond(req, Value::object({{"type", kBroadcastClientCount},
                                          {"requestId", request_id},
                                          {"clientCount", static_cast<long long>(count)}}));
            },
            [this, alive, req, request_id](Args a) {
              if (alive.expired()) return;
              std::string out;
              msgpack_encode(Value::object({{"type", kBroadcastAck},
                                            {"requestId", request_id},
                                            {"packet", a.empty() ? Value() : std::move(a.front())}}),
                             out);
              shared_->publish(response_channel_for(req), std::move(out));
            });
        break;
      }
      default: shared_->malformed("request of unknown type " + req["type"].to_json());
    }
  }

 private:
  struct AckRequest {
    std::function<void(std::size_t)> client_count;
    std::function<void(Args)> ack;
    std::shared_ptr<asio::steady_timer> timer;
  };

  void publish_json(const std::string& channel, const Value& v) { shared_->publish(channel, v.to_json()); }

  std::string response_channel_for(const Value& req) const {
    return shared_->options().publish_on_specific_response_channel
               ? response_channel_ + req["uid"].as_string() + "#"
               : response_channel_;
  }
  void respond(const Value& req, const Value& response) { publish_json(response_channel_for(req), response); }

  void send_request(PendingRequests::Request r, Value message) {
    const std::string id = random_token(6);
    message.set("requestId", id);
    requests_.start(id, std::move(r), shared_->options().request_timeout);
    publish_json(request_channel_, message);
  }

  void on_response(const std::string& msg) {
    Value res;
    if (!decode_message(msg, res) || !res.is_object()) {
      shared_->malformed("malformed response");
      return;
    }
    const std::string id = res["requestId"].as_string();
    if (auto a = ack_requests_.find(id); a != ack_requests_.end()) {
      const auto type = res["type"].as_int(-1);
      if (type == kBroadcastClientCount && a->second.client_count) {
        a->second.client_count(static_cast<std::size_t>(res["clientCount"].as_uint()));
      } else if (type == kBroadcastAck && a->second.ack) {
        a->second.ack(Args{res["packet"]});
      }
      return;
    }
    PendingRequests::Request* r = requests_.find(id);
    if (!r) return;  // not ours, or already complete
    if (r->type == kRemoteFetch) {
      for (const auto& s : res["sockets"].as_array()) r->sockets.push_back(socket_from(s));
    } else if (r->type == kServerSideEmit) {
      r->values.push_back(res["data"]);
    }
    requests_.answered(id);
  }

  void on_remote_change(const Value& req, bool own) {
    const auto type = req["type"].as_int();
    if (req.find("opts")) {
      if (own) return;  // already applied here when it was sent
      const BroadcastOptions opts = opts_from(req["opts"]);
      if (type == kRemoteJoin) InMemoryAdapter::add_sockets(opts, to_strings(req["rooms"]));
      if (type == kRemoteLeave) InMemoryAdapter::del_sockets(opts, to_strings(req["rooms"]));
      if (type == kRemoteDisconnect) InMemoryAdapter::disconnect_sockets(opts, req["close"].as_bool());
      return;
    }
    // The single-socket form (older senders): act only if the socket is here, then answer.
    const std::string sid = req["sid"].as_string();
    if (!host().describe(sid)) return;
    if (type == kRemoteJoin) add_admitted(sid, {req["room"].as_string()});
    if (type == kRemoteLeave) del(sid, req["room"].as_string());
    if (type == kRemoteDisconnect) host().disconnect(sid, req["close"].as_bool());
    respond(req, Value::object({{"requestId", req["requestId"].as_string()}}));
  }

  std::shared_ptr<RedisShared> shared_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::string uid_;
  std::string channel_, request_channel_, response_channel_, specific_response_channel_;
  PendingRequests requests_;
  std::unordered_map<std::string, AckRequest> ack_requests_;
  bool closed_ = false;
};

void RedisShared::route(const RedisReply& r) {
  const std::string& kind = r.elements[0].str;
  std::string channel, msg;
  if (kind == "pmessage" && r.elements.size() >= 4) {
    channel = r.elements[2].str;
    msg = r.elements[3].str;
  } else if ((kind == "message" || kind == "smessage") && r.elements.size() >= 3) {
    channel = r.elements[1].str;
    msg = r.elements[2].str;
  } else {
    return;
  }
  // Copy: a handler may close a namespace and so remove its adapter.
  auto adapters = adapters_;
  for (RedisAdapter* a : adapters) {
    if (std::find(adapters_.begin(), adapters_.end(), a) == adapters_.end()) continue;
    if (kind == "pmessage") {
      if (a->owns_broadcast_channel(channel)) a->on_broadcast(channel, msg);
    } else if (a->owns_request_channel(channel)) {
      a->on_request_channel(channel, msg);
    }
  }
}

}  // namespace courier::detail

namespace courier {

RedisAdapterFactory::RedisAdapterFactory(asio::io_context& io, RedisAdapterOptions options) {
  detail::RedisUrl url;
  if (!detail::RedisUrl::parse(options.url, url)) {
    throw std::invalid_argument("courier: malformed Redis URL: " + options.url);
  }
  if (options.sharded) {
    sharded_ = std::make_shared<detail::ShardedShared>(io, std::move(options), url);
    sharded_->start();
  } else {
    shared_ = std::make_shared<detail::RedisShared>(io, std::move(options), url);
    shared_->start();
  }
}

RedisAdapterFactory::~RedisAdapterFactory() = default;

AdapterFactory RedisAdapterFactory::factory() const {
  if (sharded_) {
    return [sharded = sharded_](AdapterHost& host) -> std::unique_ptr<Adapter> {
      return detail::make_sharded_adapter(host, sharded);
    };
  }
  return [shared = shared_](AdapterHost& host) -> std::unique_ptr<Adapter> {
    return std::make_unique<detail::RedisAdapter>(host, shared);
  };
}

RedisAdapterStats RedisAdapterFactory::stats() const {
  if (sharded_) {
    RedisAdapterStats s = sharded_->stats();
    s.reconnects = sharded_->client().reconnects();
    return s;
  }
  RedisAdapterStats s = shared_->stats();
  s.reconnects = shared_->pub().reconnects() + shared_->sub().reconnects();
  return s;
}

bool RedisAdapterFactory::connected() const { return sharded_ ? sharded_->client().ready() : shared_->connected(); }

void RedisAdapterFactory::close() {
  if (sharded_) sharded_->close();
  if (shared_) shared_->close();
}

}  // namespace courier
