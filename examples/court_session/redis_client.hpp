#pragma once
// A minimal asynchronous Redis client on Asio, for the example's own data (courier's public API
// has no general Redis client: its adapter, timer and lock keep their connections private).
// One TCP connection, commands pipelined in order, replies parsed by hiredis's RESP reader (the
// library courier::redis links anyway). Enough for EVAL and a few reads; not a production client:
// no AUTH/SELECT, no reconnect backoff (the next command after a failure connects again).
//
// Thread-safety: none; use it on the io_context's thread (the examples run one thread).
// This file is the same in examples/court_session and examples/quiz_game so each folder stays
// self-contained (copy one out of the tree and it builds alone).

#include <hiredis/hiredis.h>

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/write.hpp>

#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace example {

/// A reply, copied out of hiredis's reply tree.
struct RedisReply {
  enum class Type { nil, integer, string, status, error, array };
  Type type = Type::nil;
  long long integer = 0;
  std::string str;                  ///< string, status or error text
  std::vector<RedisReply> elements; ///< array elements

  bool is_error() const { return type == Type::error; }
  /// Element `i` of an array, or a nil reply.
  const RedisReply& operator[](std::size_t i) const {
    static const RedisReply nil;
    return i < elements.size() ? elements[i] : nil;
  }
};

class RedisClient {
 public:
  /// Gets the reply; `ec` is set when the connection failed (the command may or may not have run).
  using Callback = std::function<void(std::error_code ec, RedisReply reply)>;

  /// `url`: redis://host:port (user, password and db are not supported by this small client).
  RedisClient(asio::io_context& io, const std::string& url) : impl_(std::make_shared<Impl>(io)) {
    std::string rest = url.rfind("redis://", 0) == 0 ? url.substr(8) : url;
    rest = rest.substr(0, rest.find('/'));
    const auto colon = rest.rfind(':');
    impl_->host = colon == std::string::npos ? rest : rest.substr(0, colon);
    impl_->port = colon == std::string::npos ? "6379" : rest.substr(colon + 1);
    if (impl_->host.empty()) impl_->host = "127.0.0.1";
  }
  ~RedisClient() { close(); }
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  /// Sends one command (`args` as Redis sees them: {"HGETALL", "key"}); `done` runs on the
  /// io_context's thread, never inside this call.
  void command(std::vector<std::string> args, Callback done) { impl_->send(std::move(args), std::move(done)); }

  /// Closes the connection; commands in flight fail with asio::error::operation_aborted.
  void close() { impl_->fail(asio::error::operation_aborted); }

 private:
  struct Impl : std::enable_shared_from_this<Impl> {
    explicit Impl(asio::io_context& io) : io(io), socket(io), resolver(io) {}
    ~Impl() {
      if (reader) redisReaderFree(reader);
    }

    asio::io_context& io;
    asio::ip::tcp::socket socket;
    asio::ip::tcp::resolver resolver;
    std::string host, port;
    enum class State { closed, connecting, open } state = State::closed;
    std::string out;            // encoded commands not yet written
    bool writing = false;
    std::deque<Callback> waiting;  // one per command sent or queued, in order
    redisReader* reader = nullptr;
    unsigned generation = 0;  // of the connection: handlers of an earlier one are ignored
    char buf[16384];

    void send(std::vector<std::string> args, Callback done) {
      out += "*" + std::to_string(args.size()) + "\r\n";
      for (const std::string& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
      waiting.push_back(std::move(done));
      if (state == State::closed) connect();
      else if (state == State::open) write();
    }

    void connect() {
      state = State::connecting;
      if (reader) redisReaderFree(reader);
      reader = redisReaderCreate();
      const unsigned gen = ++generation;
      resolver.async_resolve(host, port, [self = shared_from_this(), gen](std::error_code ec, asio::ip::tcp::resolver::results_type r) {
        if (gen != self->generation) return;
        if (ec) return self->fail(ec);
        asio::async_connect(self->socket, r, [self, gen](std::error_code ec2, const asio::ip::tcp::endpoint&) {
          if (gen != self->generation) return;
          if (ec2) return self->fail(ec2);
          self->socket.set_option(asio::ip::tcp::no_delay(true));
          self->state = State::open;
          self->read();
          self->write();
        });
      });
    }

    void write() {
      if (writing || out.empty() || state != State::open) return;
      writing = true;
      auto data = std::make_shared<std::string>(std::move(out));
      out.clear();
      asio::async_write(socket, asio::buffer(*data), [self = shared_from_this(), data, gen = generation](std::error_code ec, std::size_t) {
        if (gen != self->generation) return;
        self->writing = false;
        if (ec) return self->fail(ec);
        self->write();
      });
    }

    void read() {
      socket.async_read_some(asio::buffer(buf), [self = shared_from_this(), gen = generation](std::error_code ec, std::size_t n) {
        if (gen != self->generation) return;
        if (ec) return self->fail(ec);
        redisReaderFeed(self->reader, self->buf, n);
        for (;;) {
          void* raw = nullptr;
          if (redisReaderGetReply(self->reader, &raw) != REDIS_OK) return self->fail(std::make_error_code(std::errc::protocol_error));
          if (!raw) break;
          RedisReply reply = convert(static_cast<redisReply*>(raw));
          freeReplyObject(raw);
          if (self->waiting.empty()) return self->fail(std::make_error_code(std::errc::protocol_error));
          Callback done = std::move(self->waiting.front());
          self->waiting.pop_front();
          if (done) done({}, std::move(reply));
        }
        self->read();
      });
    }

    /// Drops the connection and fails every command sent or queued: their outcome is unknown.
    void fail(std::error_code ec) {
      if (state == State::closed && waiting.empty()) return;
      if (ec != asio::error::operation_aborted) std::fprintf(stderr, "redis client: %s:%s: %s\n", host.c_str(), port.c_str(), ec.message().c_str());
      state = State::closed;
      ++generation;
      writing = false;
      std::error_code ignored;
      socket.close(ignored);
      resolver.cancel();
      out.clear();
      std::deque<Callback> failed;
      failed.swap(waiting);
      // Later, not inside the caller's stack: a callback may send a command again.
      asio::post(io, [failed = std::move(failed), ec]() mutable {
        for (Callback& done : failed)
          if (done) done(ec, RedisReply{});
      });
    }

    static RedisReply convert(const redisReply* r) {
      RedisReply out;
      switch (r->type) {
        case REDIS_REPLY_INTEGER: out.type = RedisReply::Type::integer; out.integer = r->integer; break;
        case REDIS_REPLY_STRING: out.type = RedisReply::Type::string; out.str.assign(r->str, r->len); break;
        case REDIS_REPLY_STATUS: out.type = RedisReply::Type::status; out.str.assign(r->str, r->len); break;
        case REDIS_REPLY_ERROR: out.type = RedisReply::Type::error; out.str.assign(r->str, r->len); break;
        case REDIS_REPLY_ARRAY:
          out.type = RedisReply::Type::array;
          for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
          break;
        default: break;  // nil
      }
      return out;
    }
  };

  std::shared_ptr<Impl> impl_;
};

}  // namespace example
