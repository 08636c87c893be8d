// RedisLock: SET NX PX with a fence from INCR in one script; compare-and-PEXPIRE and
// compare-and-DEL scripts for extend and unlock. The value stored is "<owner>:<fence>", so only
// the acquisition that wrote it matches.
#include <courier/error.hpp>
#include <courier/redis_lock.hpp>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <deque>
#include <stdexcept>
#include <utility>

#include "common/random_id.hpp"
#include "redis/lua_script.hpp"
#include "redis/redis_connection.hpp"

namespace courier::detail {
namespace {

// KEYS: lock key, fence counter. ARGV: owner, ttl ms. Returns the fence, or 0 when held.
constexpr const char* kLock = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local f = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. f, 'PX', ARGV[2])
return f
)lua";

// KEYS: lock key. ARGV: expected value, ttl ms. Returns 1 when renewed.
constexpr const char* kExtend = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
)lua";

// KEYS: lock key. ARGV: expected value. Returns 1 when released.
constexpr const char* kUnlock = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
)lua";

using Steady = std::chrono::steady_clock;

constexpr int kMaxRedirects = RedisConnection::kMaxMovedRedirects;  // per call

long long ttl_ms(std::chrono::milliseconds ttl) {
  constexpr long long kMax = 100LL * 365 * 24 * 3600 * 1000;  // a century: PX stays in range
  return std::min(std::max<long long>(ttl.count(), 1), kMax);
}

}  // namespace

class RedisLockImpl : public std::enable_shared_from_this<RedisLockImpl> {
 public:
  RedisLockImpl(asio::io_context& io, RedisLockOptions options, RedisUrl url)
      : io_(io),
        options_(std::move(options)),
        conn_(std::make_shared<RedisConnection>(io, url, "lock", options_.logger)),
        wait_timer_(io),
        lock_(kLock),
        extend_(kExtend),
        unlock_(kUnlock),
        tag_("{" + options_.prefix + "}:") {}

  void start() {
    std::weak_ptr<RedisLockImpl> weak = shared_from_this();
    conn_->set_ready_handler([weak] {
      if (auto self = weak.lock()) self->on_ready();
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
  bool io_stopped_or_here() const { return io_.stopped() || io_.get_executor().running_in_this_thread(); }

  void try_lock(std::string key, std::chrono::milliseconds ttl, Lock::LockCallback cb) {
    lock_with(std::move(key), random_id(), ttl_ms(ttl), std::move(cb), 0);
  }

  // `redirects`: MOVED redirections this call followed so far.
  void lock_with(std::string key, std::string owner, long long ms, Lock::LockCallback cb, int redirects) {
    when_ready(
        [self = shared_from_this(), key, owner, ms, cb, redirects]() {
          self->lock_.run(self->conn_, {self->lock_key(key), self->tag_ + "fence"}, {owner, std::to_string(ms)},
                          [self, key, owner, ms, cb, redirects](std::error_code ec, RedisReply r) {
                            // Not run on the old node: nothing was written, the same owner can try again.
                            if (self->follow(ec, r, redirects))
                              return self->lock_with(key, owner, ms, cb, redirects + 1);
                            if (!cb) return;
                            if (auto e = self->failure(ec, r, "try_lock")) return cb(e, LockToken{});
                            if (r.type != RedisReply::Type::integer) return cb(make_error_code(errc::cluster_error), LockToken{});
                            if (r.integer == 0) return cb(make_error_code(errc::lock_busy), LockToken{});
                            const auto fence = static_cast<std::uint64_t>(r.integer);
                            cb({}, LockToken{key, owner, fence});
                          });
        },
        [cb] {
          if (cb) cb(make_error_code(errc::cluster_unavailable), LockToken{});
        });
  }

  void extend(const LockToken& token, std::chrono::milliseconds ttl, Lock::DoneCallback cb) {
    const auto ms = ttl_ms(ttl);
    compare(extend_, token, {stored(token), std::to_string(ms)}, std::move(cb), "extend");
  }

  void unlock(const LockToken& token, Lock::DoneCallback cb) { compare(unlock_, token, {stored(token)}, std::move(cb), "unlock"); }

  bool connected() const { return conn_->ready(); }

  void shutdown() {
    if (closed_) return;
    closed_ = true;
    wait_timer_.cancel();
    auto waiting = std::move(waiting_);
    waiting_.clear();
    conn_->close();  // in-flight calls get operation_canceled -> cluster_unavailable
    for (auto& w : waiting) w.fail();
  }

 private:
  struct Waiting {
    Steady::time_point until;
    std::function<void()> go;
    std::function<void()> fail;
  };

  std::string lock_key(const std::string& key) const { return tag_ + "k:" + key; }
  // What the lock script stored for this token: owner and fence must both match.
  static std::string stored(const LockToken& t) { return t.owner + ":" + std::to_string(t.fence); }

  // True when the reply is a MOVED redirection this call may still follow: the connection is then
  // on its way to the node named, and the caller sends the call again (it waits for the connection
  // like any call). Past kMaxRedirects the reply goes on to failure(), which reports it.
  bool follow(std::error_code ec, const RedisReply& r, int redirects) {
    if (ec || closed_ || redirects >= kMaxRedirects) return false;
    return conn_->follow_moved(r);
  }

  // The error of a failed call, logged; none when the reply is usable.
  std::error_code failure(std::error_code ec, const RedisReply& r, const char* what) const {
    if (ec) return make_error_code(errc::cluster_unavailable);
    if (r.type == RedisReply::Type::error) {
      RedisRedirect moved;
      const bool redirected = RedisRedirect::parse(r, moved);
      const auto level = redirected ? LogLevel::error : LogLevel::warn;
      std::string why;
      if (redirected)
        why = moved.ask ? " (ASK redirections are not followed)"
                        : " (after " + std::to_string(kMaxRedirects) + " MOVED redirections)";
      if (options_.logger.enabled(level))
        options_.logger.log(level, std::string("redis lock: ") + what + " refused: " + r.str + why);
      return make_error_code(errc::cluster_error);
    }
    return {};
  }

  void compare(LuaScript& script, const LockToken& token, std::vector<std::string> args, Lock::DoneCallback cb,
               const char* what, int redirects = 0) {
    if (!token) {
      // Never granted: nothing to compare. Posted, as every callback.
      if (cb) asio::post(io_, [cb = std::move(cb)] { cb(make_error_code(errc::lock_not_held)); });
      return;
    }
    when_ready(
        [self = shared_from_this(), &script, token, args, cb, what, redirects]() mutable {
          auto done = [self, &script, token, args, cb, what, redirects](std::error_code ec, RedisReply r) {
            if (self->follow(ec, r, redirects)) return self->compare(script, token, args, cb, what, redirects + 1);
            if (!cb) return;
            if (auto e = self->failure(ec, r, what)) return cb(e);
            cb(r.type == RedisReply::Type::integer && r.integer == 1 ? std::error_code{} : make_error_code(errc::lock_not_held));
          };
          script.run(self->conn_, {self->lock_key(token.key)}, args, std::move(done));
        },
        [cb] {
          if (cb) cb(make_error_code(errc::cluster_unavailable));
        });
  }

  // Runs `go` now if connected, else when the connection is ready within connect_wait; `fail`
  // (posted, never inside the caller) otherwise.
  void when_ready(std::function<void()> go, std::function<void()> fail) {
    if (closed_) {
      asio::post(io_, std::move(fail));
      return;
    }
    if (conn_->ready() && waiting_.empty()) {
      go();
      return;
    }
    if (waiting_.size() >= options_.max_waiting) {
      if (options_.logger.enabled(LogLevel::warn))
        options_.logger.log(LogLevel::warn, "redis lock: not connected and " + std::to_string(waiting_.size()) + " calls waiting; refusing");
      asio::post(io_, std::move(fail));
      return;
    }
    waiting_.push_back({Steady::now() + options_.connect_wait, std::move(go), std::move(fail)});
    if (waiting_.size() == 1) arm_wait();
  }

  void arm_wait() {
    if (waiting_.empty()) return;
    wait_timer_.expires_at(waiting_.front().until);
    wait_timer_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
      if (ec) return;
      auto self = weak.lock();
      if (!self || self->closed_) return;
      // Deadlines are in call order (one connect_wait for all): expired ones are at the front.
      const auto now = Steady::now();
      while (!self->waiting_.empty() && self->waiting_.front().until <= now) {
        auto w = std::move(self->waiting_.front());
        self->waiting_.pop_front();
        w.fail();
      }
      self->arm_wait();
    });
  }

  void on_ready() {
    if (closed_) return;
    lock_.load(*conn_);
    extend_.load(*conn_);
    unlock_.load(*conn_);
    wait_timer_.cancel();
    while (!waiting_.empty() && conn_->ready()) {
      auto w = std::move(waiting_.front());
      waiting_.pop_front();
      w.go();
    }
  }

  asio::io_context& io_;
  RedisLockOptions options_;
  std::shared_ptr<RedisConnection> conn_;
  asio::steady_timer wait_timer_;
  LuaScript lock_;
  LuaScript extend_;
  LuaScript unlock_;
  std::string tag_;
  std::deque<Waiting> waiting_;
  bool closed_ = false;
};

}  // namespace courier::detail

namespace courier {

RedisLock::RedisLock(asio::io_context& io, RedisLockOptions options) {
  detail::RedisUrl url;
  if (!detail::RedisUrl::parse(options.url, url)) throw std::invalid_argument("RedisLock: malformed Redis URL: " + options.url);
  impl_ = std::make_shared<detail::RedisLockImpl>(io, std::move(options), std::move(url));
  impl_->run([impl = impl_] { impl->start(); });
}

RedisLock::~RedisLock() {
  if (impl_->io_stopped_or_here()) {
    impl_->shutdown();
  } else {
    impl_->run([impl = impl_] { impl->shutdown(); });
  }
}

void RedisLock::try_lock(std::string key, std::chrono::milliseconds ttl, LockCallback callback) {
  impl_->run([impl = impl_, k = std::move(key), ttl, cb = std::move(callback)]() mutable { impl->try_lock(std::move(k), ttl, std::move(cb)); });
}

void RedisLock::extend(const LockToken& token, std::chrono::milliseconds ttl, DoneCallback callback) {
  impl_->run([impl = impl_, t = token, ttl, cb = std::move(callback)]() mutable { impl->extend(t, ttl, std::move(cb)); });
}

void RedisLock::unlock(const LockToken& token, DoneCallback callback) {
  impl_->run([impl = impl_, t = token, cb = std::move(callback)]() mutable { impl->unlock(t, std::move(cb)); });
}

bool RedisLock::connected() const { return impl_->connected(); }

void RedisLock::close() {
  impl_->run([impl = impl_] { impl->shutdown(); });
}

}  // namespace courier
