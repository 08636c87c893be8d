// RedisEmitter: publishes what @socket.io/redis-emitter publishes (uid "emitter"), so courier and
// Node servers with the Redis adapter deliver it.
#include <courier/redis_emitter.hpp>

#include <asio/post.hpp>

#include <deque>
#include <stdexcept>

#include "redis/msgpack_value.hpp"
#include "redis/redis_connection.hpp"
#include "redis/wire.hpp"

namespace courier::detail {

class EmitterShared : public std::enable_shared_from_this<EmitterShared> {
 public:
  EmitterShared(asio::io_context& io, RedisEmitterOptions options, RedisUrl url)
      : io_(io), options_(std::move(options)), conn_(std::make_shared<RedisConnection>(io, url, "emitter", options_.logger)) {}

  void start() {
    std::weak_ptr<EmitterShared> weak = shared_from_this();
    conn_->set_ready_handler([weak] {
      if (auto self = weak.lock()) self->flush();
    });
    conn_->start();
  }

  template <class F>
  void run(F&& f) {
    if (io_.get_executor().running_in_this_thread()) {
      f();
    } else {
      asio::post(io_, std::forward<F>(f));
    }
  }

  const std::string& key() const noexcept { return options_.key; }

  void publish(std::string channel, std::string message) {
    if (conn_->ready() && pending_.empty()) {
      send(std::move(channel), std::move(message));
      return;
    }
    if (pending_.size() >= options_.max_pending) {
      ++stats_.dropped;
      if (stats_.dropped % 1000 == 1 && options_.logger.enabled(LogLevel::warn))
        options_.logger.log(LogLevel::warn, "redis emitter: not connected and " + std::to_string(pending_.size()) +
                                                " messages pending; dropping (" + std::to_string(stats_.dropped) +
                                                " dropped so far)");
      return;
    }
    pending_.emplace_back(std::move(channel), std::move(message));
  }

  void close() {
    stats_.dropped += pending_.size();
    pending_.clear();
    conn_->close();
  }

  bool connected() const { return conn_->ready(); }
  std::size_t pending() const { return pending_.size(); }
  RedisEmitterStats stats() const { return stats_; }

 private:
  void send(std::string channel, std::string message) {
    ++stats_.published;
    conn_->command({"PUBLISH", std::move(channel), std::move(message)});
  }
  void flush() {
    while (!pending_.empty() && conn_->ready()) {
      auto [channel, message] = std::move(pending_.front());
      pending_.pop_front();
      send(std::move(channel), std::move(message));
    }
  }

  asio::io_context& io_;
  RedisEmitterOptions options_;
  std::shared_ptr<RedisConnection> conn_;
  std::deque<std::pair<std::string, std::string>> pending_;
  RedisEmitterStats stats_;
};

}  // namespace courier::detail

namespace courier {

namespace {
const char kEmitterUid[] = "emitter";  // what @socket.io/redis-emitter sends as its uid
}

EmitterTarget::EmitterTarget(std::shared_ptr<detail::EmitterShared> shared, std::string nsp)
    : shared_(std::move(shared)), nsp_(std::move(nsp)) {}

EmitterTarget EmitterTarget::to(std::string room) const {
  EmitterTarget t = *this;
  t.rooms_.push_back(std::move(room));
  return t;
}

EmitterTarget EmitterTarget::except(std::string room) const {
  EmitterTarget t = *this;
  t.except_.push_back(std::move(room));
  return t;
}

EmitterTarget EmitterTarget::volatile_() const {
  EmitterTarget t = *this;
  t.volatile_flag_ = true;
  return t;
}

void EmitterTarget::emit_args(std::string_view event, Args args) const {
  OutPacket packet;
  packet.nsp = nsp_;
  packet.data.reserve(args.size() + 1);
  packet.data.emplace_back(event);
  for (auto& a : args) packet.data.push_back(std::move(a));
  BroadcastOptions opts;
  opts.rooms = rooms_;
  opts.except = except_;
  opts.flags.volatile_ = volatile_flag_;
  std::string msg;
  detail::msgpack_encode(Value::array({kEmitterUid, detail::packet_value(packet), detail::opts_value(opts, true)}), msg);
  std::string channel = shared_->key() + "#" + nsp_ + "#";
  if (rooms_.size() == 1) channel += rooms_.front() + "#";
  shared_->run([s = shared_, c = std::move(channel), m = std::move(msg)]() mutable { s->publish(std::move(c), std::move(m)); });
}

namespace {
void publish_request(const std::shared_ptr<detail::EmitterShared>& shared, const std::string& nsp, Value request) {
  std::string channel = shared->key() + "-request#" + nsp + "#";
  shared->run([s = shared, c = std::move(channel), m = request.to_json()]() mutable { s->publish(std::move(c), std::move(m)); });
}
}  // namespace

void EmitterTarget::sockets_join(std::string room) const {
  BroadcastOptions opts{rooms_, except_, {}};
  publish_request(shared_, nsp_, Value::object({{"type", detail::kRemoteJoin},
                                                {"opts", detail::opts_value(opts, false)},
                                                {"rooms", Value::array({std::move(room)})}}));
}

void EmitterTarget::sockets_leave(std::string room) const {
  BroadcastOptions opts{rooms_, except_, {}};
  publish_request(shared_, nsp_, Value::object({{"type", detail::kRemoteLeave},
                                                {"opts", detail::opts_value(opts, false)},
                                                {"rooms", Value::array({std::move(room)})}}));
}

void EmitterTarget::disconnect_sockets(bool close) const {
  BroadcastOptions opts{rooms_, except_, {}};
  publish_request(shared_, nsp_, Value::object({{"type", detail::kRemoteDisconnect},
                                                {"opts", detail::opts_value(opts, false)},
                                                {"close", close}}));
}

void EmitterTarget::server_side_emit_args(std::string_view event, Args args) const {
  Array data;
  data.reserve(args.size() + 1);
  data.emplace_back(event);
  for (auto& a : args) data.push_back(std::move(a));
  publish_request(shared_, nsp_, Value::object({{"uid", kEmitterUid},
                                                {"type", detail::kServerSideEmit},
                                                {"data", Value(std::move(data))}}));
}

RedisEmitter::RedisEmitter(asio::io_context& io, RedisEmitterOptions options) {
  detail::RedisUrl url;
  if (!detail::RedisUrl::parse(options.url, url)) throw std::invalid_argument("courier: malformed Redis URL: " + options.url);
  shared_ = std::make_shared<detail::EmitterShared>(io, std::move(options), url);
  shared_->start();
}

RedisEmitter::~RedisEmitter() { shared_->close(); }

EmitterTarget RedisEmitter::of(std::string nsp) const {
  if (nsp.empty() || nsp.front() != '/') nsp.insert(nsp.begin(), '/');
  return EmitterTarget(shared_, std::move(nsp));
}

bool RedisEmitter::connected() const { return shared_->connected(); }
std::size_t RedisEmitter::pending() const { return shared_->pending(); }
RedisEmitterStats RedisEmitter::stats() const { return shared_->stats(); }
void RedisEmitter::close() {
  shared_->run([s = shared_] { s->close(); });
}

}  // namespace courier
