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

/// A Redis Cluster redirection: the error reply `MOVED <slot> <host>:<port>` (the slot lives on
/// that node now) or `ASK <slot> <host>:<port>` (this one command, preceded by ASKING, goes there
/// while the slot migrates).
struct RedisRedirect {
  bool ask = false;
  std::uint16_t slot = 0;
  std::string host;  // empty: the host of the node that answered (it does not know its address)
  std::uint16_t port = 0;
  /// False when `reply` is not a well-formed MOVED or ASK error. Thread-safety: a pure function.
  static bool parse(const RedisReply& reply, RedisRedirect& out);
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

  /// Moves this connection to another node of a Redis Cluster (on a MOVED reply): the replies to
  /// the commands already sent still come from the current node and reach their callbacks; new
  /// commands fail with not_connected (ready() is false) until the connection to `host:port` is
  /// ready, when the ready handler runs again (subscriptions are restored there). The database
  /// becomes 0, the only one a cluster has; credentials are kept. An empty `host` keeps the current
  /// one. Doing nothing when already on (or moving to) that node. Not counted in reconnects().
  /// Once redirected, a connection that is lost alternates its reconnection attempts between the
  /// node it was redirected to and the node it was created for: after a failover the old owner may
  /// never come back, and any node answers MOVED to the new one.
  /// Thread-safety: like every member, on the io_context's thread only.
  void redirect(const std::string& host, std::uint16_t port);
  /// When `reply` is a MOVED redirection: redirect() to the node it names and true (the caller
  /// sends its command again, once ready; it bounds how often). False for any other reply, ASK
  /// included (that one-off redirection is not followed). Thread-safety: as redirect().
  bool follow_moved(const RedisReply& reply);
  /// How many MOVED redirections a caller follows for one command (timers and locks alike) before
  /// failing it: a slot moves once per failover or resharding step, so more than a few in a row
  /// means the cluster is still changing its mind.
  static constexpr int kMaxMovedRedirects = 5;
  /// "host:port" this connection uses (or is moving to).
  std::string address() const { return url_.host + ":" + std::to_string(url_.port); }

  std::uint64_t reconnects() const noexcept { return reconnects_; }

 private:
  // draining: redirected, waiting for the replies of the commands already sent before it moves.
  enum class State { idle, connecting, handshaking, ready, draining, closed };
  void connect();
  void connect_to(const asio::ip::tcp::resolver::results_type& endpoints);
  auto connect_handler();
  void on_connected();
  void fail(const std::string& why);
  void schedule_reconnect();
  void switch_node();
  void write_raw(std::vector<std::string> args, Callback cb, bool internal);
  void send_subscription(const std::string& cmd, const std::vector<std::string>& channels);
  void flush();
  void read();
  void dispatch(RedisReply reply);
  void log(LogLevel l, const std::string& what) const;

  asio::io_context& io_;
  RedisUrl url_;
  RedisUrl configured_;       // as constructed: a redirected connection that is lost goes back to it
  std::string moved_host_;    // the last redirection's node; empty: never redirected
  std::uint16_t moved_port_ = 0;
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
  bool redirected_ = false;  // the next connect follows a redirection, not a failure
  // Which socket an asynchronous read or write was started on: a completion from a socket that a
  // redirection closed must not fail the next one.
  std::uint64_t generation_ = 0;
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
