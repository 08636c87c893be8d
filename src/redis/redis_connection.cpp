#include "redis/redis_connection.hpp"

#include <hiredis/hiredis.h>

#include <asio/connect.hpp>
#include <asio/ip/address.hpp>
#include <asio/write.hpp>

#include <algorithm>

namespace courier::detail {
namespace {

constexpr auto kMinBackoff = std::chrono::milliseconds(50);
// Capped low so that cluster delivery resumes within a second of Redis coming back.
constexpr auto kMaxBackoff = std::chrono::milliseconds(500);

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING: out.type = RedisReply::Type::string; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_STATUS: out.type = RedisReply::Type::status; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_ERROR: out.type = RedisReply::Type::error; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_INTEGER: out.type = RedisReply::Type::integer; out.integer = r->integer; break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default: out.type = RedisReply::Type::nil;
  }
  return out;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string pct_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

bool RedisUrl::parse(const std::string& url, RedisUrl& out) {
  out = RedisUrl{};
  const std::string scheme = "redis://";
  if (url.compare(0, scheme.size(), scheme) != 0) return false;
  std::string rest = url.substr(scheme.size());
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) {
    const std::string db = rest.substr(slash + 1);
    if (!db.empty()) {
      if (db.find_first_not_of("0123456789") != std::string::npos || db.size() > 5) return false;
      out.db = std::stoi(db);
    }
  }
  const auto at = authority.rfind('@');
  if (at != std::string::npos) {
    const std::string userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    if (colon == std::string::npos) {
      out.password = pct_decode(userinfo);
    } else {
      out.username = pct_decode(userinfo.substr(0, colon));
      out.password = pct_decode(userinfo.substr(colon + 1));
    }
  }
  std::string host = authority;
  std::string port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos) return false;
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') port = authority.substr(close + 2);
  } else {
    const auto colon = authority.rfind(':');
    if (colon != std::string::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
  }
  if (!host.empty()) out.host = host;
  if (!port.empty()) {
    if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5) return false;
    const int p = std::stoi(port);
    if (p <= 0 || p > 65535) return false;
    out.port = static_cast<std::uint16_t>(p);
  }
  return true;
}

namespace {

// A decimal in [1, max] written with digits only (no sign, no spaces, as Redis writes them).
bool parse_number(const std::string& s, unsigned long max, unsigned long& out) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  out = std::stoul(s);
  return out <= max;
}

}  // namespace

bool RedisRedirect::parse(const RedisReply& reply, RedisRedirect& out) {
  if (reply.type != RedisReply::Type::error) return false;
  const std::string& s = reply.str;
  RedisRedirect r;
  std::size_t at = 0;
  if (s.rfind("MOVED ", 0) == 0) {
    at = 6;
  } else if (s.rfind("ASK ", 0) == 0) {
    r.ask = true;
    at = 4;
  } else {
    return false;
  }
  const auto space = s.find(' ', at);
  if (space == std::string::npos) return false;
  unsigned long slot = 0;
  if (!parse_number(s.substr(at, space - at), 16383, slot)) return false;
  const std::string address = s.substr(space + 1);
  // The last colon: an IPv6 host is written without brackets ("::1:7001").
  const auto colon = address.rfind(':');
  unsigned long port = 0;
  if (colon == std::string::npos || !parse_number(address.substr(colon + 1), 65535, port) || port == 0) return false;
  r.host = address.substr(0, colon);
  if (r.host.size() >= 2 && r.host.front() == '[' && r.host.back() == ']') r.host = r.host.substr(1, r.host.size() - 2);
  r.slot = static_cast<std::uint16_t>(slot);
  r.port = static_cast<std::uint16_t>(port);
  out = std::move(r);
  return true;
}

RedisConnection::RedisConnection(asio::io_context& io, RedisUrl url, std::string name, Logger logger)
    : io_(io),
      url_(url),
      configured_(std::move(url)),
      name_(std::move(name)),
      logger_(std::move(logger)),
      socket_(io),
      resolver_(io),
      retry_timer_(io) {}

RedisConnection::~RedisConnection() {
  if (reader_) redisReaderFree(reader_);
}

void RedisConnection::log(LogLevel l, const std::string& what) const {
  if (logger_.enabled(l)) logger_.log(l, "redis " + name_ + " (" + url_.host + ":" + std::to_string(url_.port) + "): " + what);
}

void RedisConnection::start() {
  if (state_ != State::idle) return;
  connect();
}

void RedisConnection::close() {
  state_ = State::closed;
  retry_timer_.cancel();
  resolver_.cancel();
  std::error_code ec;
  socket_.close(ec);
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& cb : pending)
    if (cb) cb(std::make_error_code(std::errc::operation_canceled), {});
}

// One completion for both connects: to a literal address (called with the error only) and over
// the resolved addresses (also given the endpoint reached, unused).
auto RedisConnection::connect_handler() {
  return [weak = weak_from_this()](const std::error_code& e, const auto&...) {
    auto self = weak.lock();
    if (!self || self->state_ == State::closed) return;
    if (e) {
      self->fail("connect: " + e.message());
      return;
    }
    self->on_connected();
  };
}

void RedisConnection::connect() {
  state_ = State::connecting;
  ++generation_;
  std::error_code ec;
  const auto address = asio::ip::make_address(url_.host, ec);
  if (!ec) {
    socket_ = asio::ip::tcp::socket(io_);
    socket_.async_connect(asio::ip::tcp::endpoint(address, url_.port), connect_handler());
    return;
  }
  // A host name, resolved again on every attempt (the service may have moved) and never
  // synchronously: getaddrinfo can take seconds while DNS is unwell, and this thread serves
  // every session.
  resolver_.async_resolve(url_.host, std::to_string(url_.port),
                          [weak = weak_from_this()](const std::error_code& e,
                                                    const asio::ip::tcp::resolver::results_type& results) {
                            auto self = weak.lock();
                            if (!self || self->state_ == State::closed) return;
                            if (e || results.empty()) {
                              self->fail("cannot resolve host " + self->url_.host + ": " +
                                         (e ? e.message() : std::string("no addresses")));
                              return;
                            }
                            self->connect_to(results);
                          });
}

void RedisConnection::connect_to(const asio::ip::tcp::resolver::results_type& endpoints) {
  // Every address in turn: "localhost" may yield ::1 first while Redis listens on 127.0.0.1 only.
  socket_ = asio::ip::tcp::socket(io_);
  asio::async_connect(socket_, endpoints, connect_handler());
}

void RedisConnection::on_connected() {
  std::error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  subscribed_ = false;  // a new connection: subscriptions are sent again after the handshake
  if (reader_) redisReaderFree(reader_);
  reader_ = redisReaderCreate();
  out_.clear();
  writing_.clear();
  write_in_flight_ = false;
  state_ = State::handshaking;
  read();
  // AUTH and SELECT first; then the subscriptions; the connection is ready when their replies
  // are in (subscription confirmations arrive as pushes and are not counted).
  handshake_left_ = 0;
  auto step = [weak = weak_from_this()](std::error_code e, RedisReply r) {
    auto self = weak.lock();
    if (!self) return;
    if (e || r.type == RedisReply::Type::error) {
      self->fail("handshake refused: " + (e ? e.message() : r.str));
      return;
    }
    if (--self->handshake_left_ == 0) {
      self->state_ = State::ready;
      self->attempt_ = 0;
      if (self->redirected_) {
        self->log(LogLevel::info, "connected (redirected)");
      } else {
        self->log(self->was_ready_ ? LogLevel::warn : LogLevel::info, self->was_ready_ ? "reconnected" : "connected");
        if (self->was_ready_) ++self->reconnects_;
      }
      self->redirected_ = false;
      self->was_ready_ = true;
      for (const auto& [cmd, channels] : self->subscriptions_) {
        if (!channels.empty()) self->send_subscription(cmd, {channels.begin(), channels.end()});
      }
      if (self->on_ready_) self->on_ready_();
    }
  };
  std::vector<std::vector<std::string>> hello;
  if (!url_.password.empty()) {
    if (url_.username.empty())
      hello.push_back({"AUTH", url_.password});
    else
      hello.push_back({"AUTH", url_.username, url_.password});
  }
  if (url_.db != 0) hello.push_back({"SELECT", std::to_string(url_.db)});
  hello.push_back({"PING"});
  handshake_left_ = hello.size();
  for (auto& args : hello) write_raw(std::move(args), step, true);
}

void RedisConnection::fail(const std::string& why) {
  if (state_ == State::closed) return;
  const bool was = state_ == State::ready || state_ == State::draining;
  if (was || attempt_ == 0)
    log(LogLevel::warn, "connection lost: " + why + "; reconnecting");
  else
    log(LogLevel::debug, "still unreachable: " + why);  // each retry, for whoever debugs an outage
  redirected_ = false;
  if (!moved_host_.empty()) {
    // Redirected once: the next attempt goes to the other of the two nodes. A failover's new owner
    // is named by the configured node; while that one is down, the redirection's node may serve.
    if (url_.host == moved_host_ && url_.port == moved_port_) {
      url_ = configured_;
    } else {
      url_.host = moved_host_;
      url_.port = moved_port_;
      url_.db = 0;
    }
  }
  std::error_code ec;
  socket_.close(ec);
  ++generation_;  // completions still due on the closed socket are stale
  state_ = State::connecting;
  auto pending = std::move(pending_);
  pending_.clear();
  out_.clear();
  writing_.clear();
  write_in_flight_ = false;
  for (auto& cb : pending)
    if (cb) cb(std::make_error_code(std::errc::connection_reset), {});
  schedule_reconnect();
}

void RedisConnection::schedule_reconnect() {
  auto delay = kMinBackoff * (1 << std::min(attempt_, 4));
  if (delay > kMaxBackoff) delay = kMaxBackoff;
  ++attempt_;
  retry_timer_.expires_after(delay);
  retry_timer_.async_wait([weak = weak_from_this()](const std::error_code& e) {
    if (e) return;
    if (auto self = weak.lock())
      if (self->state_ != State::closed) self->connect();
  });
}

void RedisConnection::redirect(const std::string& host, std::uint16_t port) {
  if (state_ == State::closed) return;
  const std::string to = host.empty() ? url_.host : host;
  if (to == url_.host && port == url_.port) return;  // here already, or on the way
  log(LogLevel::info, "redirected to " + to + ":" + std::to_string(port) + " (the cluster slot moved)");
  url_.host = to;
  url_.port = port;
  url_.db = 0;
  moved_host_ = to;
  moved_port_ = port;
  redirected_ = true;
  if ((state_ == State::ready || state_ == State::draining) && !pending_.empty()) {
    // The replies to what was sent are on their way (more redirections, or answers): let them in.
    state_ = State::draining;
    return;
  }
  // Connecting or handshaking (the next attempt goes to the new node), or nothing awaits a reply.
  if (state_ == State::ready || state_ == State::draining) switch_node();
}

bool RedisConnection::follow_moved(const RedisReply& reply) {
  RedisRedirect to;
  if (!RedisRedirect::parse(reply, to) || to.ask) return false;
  redirect(to.host, to.port);
  return true;
}

void RedisConnection::switch_node() {
  std::error_code ec;
  socket_.close(ec);
  ++generation_;
  state_ = State::connecting;
  attempt_ = 0;
  out_.clear();
  writing_.clear();
  write_in_flight_ = false;
  // Connects from a handler of its own: this runs inside the read loop of the old socket.
  retry_timer_.expires_after(std::chrono::milliseconds(0));
  retry_timer_.async_wait([weak = weak_from_this()](const std::error_code& e) {
    if (e) return;
    if (auto self = weak.lock())
      if (self->state_ != State::closed) self->connect();
  });
}

void RedisConnection::command(std::vector<std::string> args, Callback cb) {
  if (state_ != State::ready) {
    if (cb) cb(std::make_error_code(std::errc::not_connected), {});
    return;
  }
  write_raw(std::move(args), std::move(cb), false);
}

void RedisConnection::subscribe(const std::string& cmd, const std::vector<std::string>& channels) {
  auto& set = subscriptions_[cmd];
  std::vector<std::string> fresh;
  for (const auto& c : channels)
    if (set.insert(c).second) fresh.push_back(c);
  if (fresh.empty() || state_ != State::ready) return;  // restored on (re)connect otherwise
  send_subscription(cmd, fresh);
}

void RedisConnection::send_subscription(const std::string& cmd, const std::vector<std::string>& channels) {
  // A Redis Cluster refuses a sharded (un)subscription whose channels hash to different slots
  // (CROSSSLOT): those go one channel per command. Classic ones are batched.
  if (cmd[0] == 'S') {
    for (const auto& c : channels) write_raw({cmd, c}, nullptr, true);
    return;
  }
  std::vector<std::string> args{cmd};
  args.insert(args.end(), channels.begin(), channels.end());
  write_raw(std::move(args), nullptr, true);
}

void RedisConnection::unsubscribe(const std::string& cmd, const std::vector<std::string>& channels) {
  if (channels.empty()) return;  // a bare UNSUBSCRIBE would mean "all of them"
  auto& set = subscriptions_[cmd];
  for (const auto& c : channels) set.erase(c);
  if (state_ != State::ready) return;
  send_subscription(cmd == "SUBSCRIBE" ? "UNSUBSCRIBE" : cmd == "PSUBSCRIBE" ? "PUNSUBSCRIBE" : "SUNSUBSCRIBE", channels);
}

void RedisConnection::write_raw(std::vector<std::string> args, Callback cb, bool internal) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  char* cmd = nullptr;
  const int n = redisFormatCommandArgv(&cmd, static_cast<int>(argv.size()), argv.data(), lens.data());
  if (n < 0 || !cmd) {
    if (cb) cb(std::make_error_code(std::errc::not_enough_memory), {});
    return;
  }
  out_.append(cmd, static_cast<std::size_t>(n));
  redisFreeCommand(cmd);
  // Subscription commands on a subscriber connection answer with pushes, not replies.
  const bool pushes = !args.empty() && (args[0].find("SUBSCRIBE") != std::string::npos);
  if (pushes) subscribed_ = true;
  if (!pushes) pending_.push_back(std::move(cb));
  (void)internal;
  flush();
}

void RedisConnection::flush() {
  if (write_in_flight_ || out_.empty()) return;
  write_in_flight_ = true;
  writing_.swap(out_);
  out_.clear();
  auto done = [weak = weak_from_this(), gen = generation_](const std::error_code& e, std::size_t) {
    auto self = weak.lock();
    if (!self || self->state_ == State::closed || gen != self->generation_) return;
    self->write_in_flight_ = false;
    self->writing_.clear();
    if (e) {
      self->fail("write: " + e.message());
      return;
    }
    self->flush();
  };
  asio::async_write(socket_, asio::buffer(writing_), std::move(done));
}

void RedisConnection::read() {
  auto on_read = [weak = weak_from_this(), gen = generation_](const std::error_code& e, std::size_t n) {
    auto self = weak.lock();
    if (!self || self->state_ == State::closed || gen != self->generation_) return;
    if (e) {
      self->fail(e == asio::error::eof ? "closed by server" : "read: " + e.message());
      return;
    }
    if (redisReaderFeed(self->reader_, self->read_buf_, n) != REDIS_OK) {
      self->fail("protocol error");
      return;
    }
    while (true) {
      void* reply = nullptr;
      if (redisReaderGetReply(self->reader_, &reply) != REDIS_OK) {
        self->fail("protocol error");
        return;
      }
      if (!reply) break;
      RedisReply r = convert(static_cast<redisReply*>(reply));
      freeReplyObject(reply);
      self->dispatch(std::move(r));
      if (self->state_ == State::closed || !self->socket_.is_open() || gen != self->generation_) return;
    }
    self->read();
  };
  socket_.async_read_some(asio::buffer(read_buf_), std::move(on_read));
}

void RedisConnection::dispatch(RedisReply reply) {
  // Pub/sub pushes: arrays whose first element names the kind, only on a connection that
  // subscribed (elsewhere such an array is an ordinary reply, e.g. LRANGE of a list).
  if (subscribed_ && reply.type == RedisReply::Type::array && !reply.elements.empty() &&
      reply.elements[0].type == RedisReply::Type::string) {
    const std::string& kind = reply.elements[0].str;
    if (kind == "message" || kind == "pmessage" || kind == "smessage") {
      if (on_push_) on_push_(reply);
      return;
    }
    if (kind == "subscribe" || kind == "psubscribe" || kind == "ssubscribe" || kind == "unsubscribe" ||
        kind == "punsubscribe" || kind == "sunsubscribe") {
      return;
    }
  }
  if (pending_.empty()) {
    // Nothing awaits a reply: an error here answers a (un)subscription. Say so, never silently.
    if (reply.type == RedisReply::Type::error) log(LogLevel::warn, "refused: " + reply.str);
    return;
  }
  auto cb = std::move(pending_.front());
  pending_.pop_front();
  if (cb) cb({}, std::move(reply));
  // Redirected, and the last reply from the old node is in: move now.
  if (state_ == State::draining && pending_.empty()) switch_node();
}

}  // namespace courier::detail
