#pragma once
// One Redis connection owned by Asio: hiredis only formats commands and parses replies (its async
// API cannot do sharded pub/sub). Reconnects with capped exponential backoff, restores
// subscriptions, and never buffers commands while Redis is away: they fail at once.

#include <cstdint>
#include <deque>
#include <map>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <courier/log.hpp>

struct redisReader;

namespace courier::detail {

/// A parsed RESP2 reply.
struct RedisReply {
  enum class Type { string, array, integer, nil, status, error } type = Type::nil;
  std::string str;  // string, status, error
  long long integer = 0;
  std::vector<RedisReply> elements;
};

/// Parsed redis://[user:pass@]host:port[/db].
struct RedisUrl {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string username;
  std::string password;
  int db = 0;
  /// False on a malformed URL.
  static bool parse(const std::string& url, RedisUrl& out);
};

class RedisConnection : public std::enable_shared_from_this<RedisConnection> {
 public:
  using Callback = std::function<void(std::error_code, RedisReply)>;
  using PushHandler = std::function<void(const RedisReply&)>;

  RedisConnection(asio::io_context& io, RedisUrl url, std::string name, Logger logger);
  ~RedisConnection();

  /// Connects (and keeps reconnecting until close()).
  void start();
  void close();
  bool ready() const noexcept { return state_ == State::ready; }

  /// Sends a command; `cb` gets the reply, or an error at once when not connected.
  void command(std::vector<std::string> args, Callback cb = {});
  /// Subscriber connections: replies are routed to the push handler (message, pmessage, smessage).
  void set_push_handler(PushHandler h) { on_push_ = std::move(h); }
  /// Called every time the connection becomes ready (first connect and each reconnect).
  void set_ready_handler(std::function<void()> h) { on_ready_ = std::move(h); }
  /// Adds subscriptions that are restored after every reconnect. Commands: SUBSCRIBE, PSUBSCRIBE,
  /// SSUBSCRIBE.
  void subscribe(const std::string& command, const std::vector<std::string>& channels);
  void unsubscribe(const std::string& command, const std::vector<std::string>& channels);

  std::uint64_t reconnects() const noexcept { return reconnects_; }

 private:
  enum class State { idle, connecting, handshaking, ready, closed };
  void connect();
  void connect_to(const asio::ip::tcp::resolver::results_type& endpoints);
  auto connect_handler();
  void on_connected();
  void fail(const std::string& why);
  void schedule_reconnect();
  void write_raw(std::vector<std::string> args, Callback cb, bool internal);
  void send_subscription(const std::string& cmd, const std::vector<std::string>& channels);
  void flush();
  void read();
  void dispatch(RedisReply reply);
  void log(LogLevel l, const std::string& what) const;

  asio::io_context& io_;
  RedisUrl url_;
  std::string name_;
  Logger logger_;
  asio::ip::tcp::socket socket_;
  // A member, not a local: an asynchronous resolve needs its resolver alive until it completes.
  asio::ip::tcp::resolver resolver_;
  asio::steady_timer retry_timer_;
  State state_ = State::idle;
  int attempt_ = 0;
  std::uint64_t reconnects_ = 0;
  bool was_ready_ = false;
  redisReader* reader_ = nullptr;
  char read_buf_[16384];
  std::string out_;      // commands waiting for the current write to finish
  std::string writing_;  // the write in flight
  bool write_in_flight_ = false;
  std::deque<Callback> pending_;  // callbacks of commands sent, in order
  std::size_t handshake_left_ = 0;
  PushHandler on_push_;
  std::function<void()> on_ready_;
  std::map<std::string, std::set<std::string>> subscriptions_;  // command -> channels
  bool subscribed_ = false;  // a subscription was sent: Redis now pushes messages on this connection
};

}  // namespace courier::detail
