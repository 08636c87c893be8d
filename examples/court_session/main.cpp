// court_session: two partners in a session with timed phases, served by any number of instances
// that share one Redis. See README.md for the protocol and how to run three instances.
//
//   pending --(partner joins)--> evidence --(both submitted | a partner ends it | timeout)--> analyzing --(timeout)--> closed
//   pending --(timeout)--> closed
//
// What makes it cluster-safe:
//   - the session state lives in Redis (hash `court:session:<id>`), written only by a Lua script
//     that refuses a fencing number not larger than the last one it accepted, and a transition
//     whose `from` phase is no longer current;
//   - a transition runs under a RedisLock on `session:<id>`: the holder checks it is still due,
//     arms the new phase's timer, writes the state with its token's fence, cancels the old phase's
//     timer and broadcasts the new state, then unlocks;
//   - each phase has one RedisTimer keyed `session:<id>:<phase>`: it fires on one instance, and a
//     transition cancels the timer of the phase it leaves;
//   - the new state goes to the rooms `user:<a>` and `user:<b>` through the Redis adapter, so a
//     partner connected to instance A sees what the other partner did on instance B.
//
// Env: PORT (3000), REDIS_URL (redis://127.0.0.1:6379), INSTANCE (court-<port>), PENDING_MS
// (60000), EVIDENCE_MS (60000), ANALYZING_MS (5000), TIMER_LEASE_MS (30000, RedisTimer's lease),
// LOCK_TTL_MS (5000), CRASH_IN_TIMEOUT (unset; "1": exit abruptly inside the first phase-timeout
// handler, as a crash after claiming would, for the cluster test of re-delivery).
#include <courier/courier.hpp>
#include <courier/redis_adapter.hpp>
#include <courier/redis_lock.hpp>
#include <courier/redis_timer.hpp>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "redis_client.hpp"

using namespace courier;
using example::RedisClient;
using example::RedisReply;
using std::chrono::milliseconds;

namespace {

// ---------------------------------------------------------------------------------------------
// Lua scripts (all on the session hash, KEYS[1])

// A fenced transition. ARGV: fence, from ("" = the session does not exist yet), to, reason, by
// (instance), attempt, keep_ms (how long a closed session stays readable), mode ("check": only
// say whether it would be accepted; "write"), then field/value pairs to set too. Returns
// {"ok", <hash as flat array>} ({"ok"} for a check), {"moved", <current phase>} or
// {"stale", <last fence>}.
const char* const kTransitionScript = R"lua(
local h = KEYS[1]
local fence = tonumber(ARGV[1])
local last = tonumber(redis.call('HGET', h, 'fence') or '0')
if fence <= last then return {'stale', tostring(last)} end
local cur = redis.call('HGET', h, 'phase') or ''
if cur ~= ARGV[2] then return {'moved', cur} end
if ARGV[8] == 'check' then return {'ok'} end
redis.call('HSET', h, 'phase', ARGV[3], 'fence', ARGV[1], 'reason', ARGV[4], 'by', ARGV[5], 'attempt', ARGV[6])
for i = 9, #ARGV, 2 do redis.call('HSET', h, ARGV[i], ARGV[i + 1]) end
if ARGV[3] == 'closed' then
  local n = redis.call('HEXISTS', h, 'evidence:a') + redis.call('HEXISTS', h, 'evidence:b')
  local verdict
  if cur == 'pending' then verdict = 'expired: the partner never joined'
  elseif n == 2 then verdict = 'decided on the evidence of both partners'
  elseif n == 1 then verdict = 'decided on the evidence of one partner'
  else verdict = 'dismissed: no evidence' end
  redis.call('HSET', h, 'verdict', verdict)
  redis.call('PEXPIRE', h, tonumber(ARGV[7]))
end
return {'ok', redis.call('HGETALL', h)}
)lua";

// Evidence of a partner, accepted once per partner and only in the evidence phase. ARGV: user,
// text. Returns {"ok", both submitted 0|1}, {"wrong_phase", phase}, {"not_partner"} or
// {"duplicate"}.
const char* const kEvidenceScript = R"lua(
local h = KEYS[1]
local phase = redis.call('HGET', h, 'phase')
if phase ~= 'evidence' then return {'wrong_phase', phase or ''} end
local side
if redis.call('HGET', h, 'a') == ARGV[1] then side = 'a'
elseif redis.call('HGET', h, 'b') == ARGV[1] then side = 'b'
else return {'not_partner'} end
if redis.call('HSETNX', h, 'evidence:' .. side, ARGV[2]) == 0 then return {'duplicate'} end
local both = redis.call('HEXISTS', h, 'evidence:a') + redis.call('HEXISTS', h, 'evidence:b')
return {'ok', both == 2 and 1 or 0}
)lua";

// ---------------------------------------------------------------------------------------------
// settings

struct Settings {
  std::string instance;
  milliseconds pending{60000};    // waiting for the partner to join
  milliseconds evidence{60000};   // both partners submit evidence
  milliseconds analyzing{5000};   // the "analysis" before the verdict
  milliseconds lock_ttl{5000};    // a transition takes milliseconds; 5 s rides over a slow Redis
  milliseconds keep_closed{3600000};  // a closed session stays readable for an hour
  bool crash_in_timeout = false;
};

long env_long(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtol(v, nullptr, 10) : fallback;
}

std::string env_string(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

/// A user or session id: 1..40 of [A-Za-z0-9_-]. Empty when invalid.
std::string clean_id(const Value& v) {
  const std::string& s = v.as_string();
  if (s.empty() || s.size() > 40) return {};
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return {};
  }
  return s;
}

std::string random_id() {
  static std::mt19937_64 rng{std::random_device{}()};
  static const char* const hex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 12; ++i) id += hex[rng() % 16];
  return id;
}

Value error_reply(const std::string& message) { return Value::object({{"ok", false}, {"error", message}}); }

/// The next phase when `phase` times out, or "" when it has no timeout.
std::string timeout_target(const std::string& phase) {
  if (phase == "pending") return "closed";
  if (phase == "evidence") return "analyzing";
  if (phase == "analyzing") return "closed";
  return {};
}

/// The session as clients see it, from the hash's flat field/value array.
Value session_view(const std::string& id, const RedisReply& flat) {
  Value fields = Value::object();
  for (std::size_t i = 0; i + 1 < flat.elements.size(); i += 2) fields.set(flat[i].str, flat[i + 1].str);
  const auto text = [&](const char* f) { return fields[f].is_string() ? Value(fields[f].as_string()) : Value(); };
  Value evidence = Value::object({{"a", text("evidence:a")}, {"b", text("evidence:b")}});
  return Value::object({{"session", id},
                        {"phase", text("phase")},
                        {"fence", std::strtoull(fields["fence"].as_string().c_str(), nullptr, 10)},
                        {"reason", text("reason")},
                        {"by", text("by")},
                        {"attempt", std::strtol(fields["attempt"].as_string().c_str(), nullptr, 10)},
                        {"a", text("a")},
                        {"b", text("b")},
                        {"evidence", std::move(evidence)},
                        {"verdict", text("verdict")}});
}

// ---------------------------------------------------------------------------------------------
// the court

class Court {
 public:
  Court(asio::io_context& io, const Namespace& nsp, RedisClient& redis, Lock& lock, RedisTimer& timer, Settings settings)
      : io_(io), nsp_(nsp), redis_(redis), lock_(lock), timer_(timer), s_(std::move(settings)) {}

  milliseconds phase_timeout(const std::string& phase) const {
    if (phase == "pending") return s_.pending;
    if (phase == "evidence") return s_.evidence;
    if (phase == "analyzing") return s_.analyzing;
    return milliseconds{0};
  }

  /// Runs the transition from -> to of session `id` once cluster-wide. `done` gets the new
  /// session view, or null when this call did not make the transition (already made, or failed).
  /// `extra`: more field/value pairs to write (the partners, on creation).
  void transition(std::string id, std::string from, std::string to, std::string reason, std::uint32_t attempt,
                  std::vector<std::string> extra = {}, std::function<void(Value)> done = {}, int tries = 0) {
    lock_.try_lock("session:" + id, s_.lock_ttl, [=](std::error_code ec, LockToken token) mutable {
      if (ec) {
        // Busy: another instance is changing this session right now; look again shortly (the
        // script then finds the phase moved, or does the transition if the other one failed).
        if (++tries <= 40) {
          auto t = std::make_shared<asio::steady_timer>(io_, milliseconds(25));
          t->async_wait([=](const std::error_code&) mutable {
            (void)t;
            transition(id, from, to, reason, attempt, extra, done, tries);
          });
        } else {
          std::fprintf(stderr, "%s: session %s: %s -> %s abandoned: %s\n", s_.instance.c_str(), id.c_str(), from.c_str(), to.c_str(), ec.message().c_str());
          if (done) done(Value());
        }
        return;
      }
      const auto script = [=](const char* mode) {
        std::vector<std::string> args{"EVAL", kTransitionScript, "1", key(id), std::to_string(token.fence), from, to, reason,
                                      s_.instance, std::to_string(attempt), std::to_string(s_.keep_closed.count()), mode};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
      };
      const auto finish = [=](Value view) {
        lock_.unlock(token);
        if (done) done(std::move(view));
      };
      // 1. Check under the lock that the transition is still due.
      redis_.command(script("check"), [=](std::error_code ec2, RedisReply check) {
        if (ec2 || check.is_error() || check[0].str != "ok") {
          if (!ec2 && check[0].str == "moved" && !from.empty()) timer_.cancel(timer_key(id, from));  // a stale timer of `from`
          if (ec2 || check.is_error()) std::fprintf(stderr, "%s: session %s: transition check failed: %s\n", s_.instance.c_str(), id.c_str(), ec2 ? ec2.message().c_str() : check.str.c_str());
          return finish(Value());
        }
        // 2. Arm the new phase's timer before writing: if this instance dies after the write, the
        //    new phase still times out. If it dies before the write, the timer is a stray that
        //    finds its phase not current when it fires (and the old phase's timer is still there).
        const milliseconds timeout = phase_timeout(to);
        if (timeout.count() > 0) timer_.schedule_in(timer_key(id, to), timeout, id);
        // 3. The fenced write.
        redis_.command(script("write"), [=](std::error_code ec3, RedisReply reply) {
          Value view;
          if (ec3 || reply.is_error()) {
            std::fprintf(stderr, "%s: session %s: transition script failed: %s\n", s_.instance.c_str(), id.c_str(), ec3 ? ec3.message().c_str() : reply.str.c_str());
          } else if (reply[0].str == "ok") {
            // Written with our fence: the old phase's timer is done; tell both partners.
            if (!from.empty()) timer_.cancel(timer_key(id, from));
            view = session_view(id, reply[1]);
            nsp_.to("user:" + view["a"].as_string()).to("user:" + view["b"].as_string()).emit("state", view);
            std::fprintf(stderr, "%s: session %s: %s -> %s (%s, fence %llu)\n", s_.instance.c_str(), id.c_str(), from.empty() ? "(new)" : from.c_str(), to.c_str(), reason.c_str(), static_cast<unsigned long long>(token.fence));
          } else {
            // Only when our lease ran out between check and write and a newer holder wrote.
            std::fprintf(stderr, "%s: session %s: write refused (%s %s), fence %llu\n", s_.instance.c_str(), id.c_str(), reply[0].str.c_str(), reply[1].str.c_str(), static_cast<unsigned long long>(token.fence));
          }
          finish(std::move(view));
        });
      });
    });
  }

  /// A phase timer fired (on this instance only, cluster-wide).
  void on_timeout(const TimerEvent& ev) {
    const std::string key(ev.key);  // session:<id>:<phase>
    const auto first = key.find(':'), last = key.rfind(':');
    if (first == std::string::npos || last == first) return;
    const std::string id = key.substr(first + 1, last - first - 1), phase = key.substr(last + 1);
    const std::string to = timeout_target(phase);
    if (to.empty()) return;
    std::fprintf(stderr, "%s: timeout %s (attempt %u, timer fence %llu)\n", s_.instance.c_str(), key.c_str(), ev.attempt, static_cast<unsigned long long>(ev.fence));
    if (s_.crash_in_timeout) {
      std::fprintf(stderr, "%s: CRASH_IN_TIMEOUT: exiting inside the handler\n", s_.instance.c_str());
      std::fflush(stderr);
      std::_Exit(3);
    }
    // The handler returns (and the timer is acknowledged) before the asynchronous transition is
    // done. Re-arm the same key as a guard first: if this instance dies before the transition,
    // the guard fires on a survivor; the transition (or finding the phase moved) cancels it.
    timer_.schedule_in(key, s_.lock_ttl * 2, id);
    transition(id, phase, to, "timeout", ev.attempt);
  }

  void on_connection(Socket socket) {
    const std::string user = clean_id(socket.auth()["user"]);
    if (user.empty()) {
      socket.emit("error_message", "auth.user is required: 1 to 40 of A-Z a-z 0-9 _ -");
      socket.disconnect();
      return;
    }
    socket.join("user:" + user);
    socket.emit("welcome", Value::object({{"user", user}, {"instance", s_.instance}}));

    socket.on("create_session", [this, user](Args& args, Ack ack) {
      const std::string partner = clean_id(args[0]["partner"]);
      if (partner.empty() || partner == user) {
        if (ack) ack(error_reply("partner: another user's id"));
        return;
      }
      const std::string id = random_id();
      transition(id, "", "pending", "created", 0, {"a", user, "b", partner}, [ack](Value view) {
        if (!ack) return;
        ack(view.is_null() ? error_reply("could not create the session") : Value::object({{"ok", true}, {"state", view}}));
      });
    });

    socket.on("get_session", [this](Args& args, Ack ack) {
      if (!ack) return;
      const std::string id = clean_id(args[0]["session"]);
      read(id, [ack](Value view) { ack(view.is_null() ? error_reply("no such session") : Value::object({{"ok", true}, {"state", view}})); });
    });

    socket.on("join_session", [this, user](Args& args, Ack ack) {
      const std::string id = clean_id(args[0]["session"]);
      read(id, [this, ack, user, id](Value view) {
        if (view.is_null() || view["b"].as_string() != user) {
          if (ack) ack(error_reply(view.is_null() ? "no such session" : "only the invited partner joins"));
          return;
        }
        if (view["phase"].as_string() != "pending") {
          if (ack) ack(Value::object({{"ok", true}, {"state", view}}));
          return;
        }
        transition(id, "pending", "evidence", "joined", 0, {}, [this, ack, id](Value moved) {
          if (!ack) return;
          if (!moved.is_null()) return ack(Value::object({{"ok", true}, {"state", moved}}));
          read(id, [ack](Value now) { ack(Value::object({{"ok", !now.is_null()}, {"state", now}})); });
        });
      });
    });

    // Either partner may end the evidence phase early; both pressing at once on two instances
    // make one transition (`made` tells the caller whether its call was the one).
    socket.on("end_evidence", [this, user](Args& args, Ack ack) {
      const std::string id = clean_id(args[0]["session"]);
      read(id, [this, ack, user, id](Value view) {
        if (view.is_null() || (view["a"].as_string() != user && view["b"].as_string() != user)) {
          if (ack) ack(error_reply(view.is_null() ? "no such session" : "not a partner of this session"));
          return;
        }
        transition(id, "evidence", "analyzing", "ended_by_" + user, 0, {}, [ack](Value moved) {
          if (ack) ack(Value::object({{"ok", true}, {"made", !moved.is_null()}}));
        });
      });
    });

    socket.on("submit_evidence", [this, user](Args& args, Ack ack) {
      const std::string id = clean_id(args[0]["session"]);
      const std::string text = args[0]["text"].as_string();
      if (id.empty() || text.empty() || text.size() > 2000) {
        if (ack) ack(error_reply("session and text (1 to 2000 bytes) are required"));
        return;
      }
      redis_.command({"EVAL", kEvidenceScript, "1", key(id), user, text}, [this, ack, user, id](std::error_code ec, RedisReply reply) {
        if (ec || reply.is_error()) {
          if (ack) ack(error_reply("storage unavailable"));
          return;
        }
        const std::string status = reply[0].str;
        if (status != "ok") {
          if (ack) ack(error_reply(status == "wrong_phase" ? "not in the evidence phase (" + reply[1].str + ")" : status));
          return;
        }
        const bool both = reply[1].integer == 1;
        if (ack) ack(Value::object({{"ok", true}, {"both", both}}));
        // Both partners see it, wherever they are connected.
        read(id, [this, user, id](Value view) {
          if (view.is_null()) return;
          nsp_.to("user:" + view["a"].as_string()).to("user:" + view["b"].as_string())
              .emit("evidence", Value::object({{"session", id}, {"from", user}, {"instance", s_.instance}}));
        });
        if (both) transition(id, "evidence", "analyzing", "all_evidence", 0);
      });
    });
  }

 private:
  static std::string key(const std::string& id) { return "court:session:" + id; }
  static std::string timer_key(const std::string& id, const std::string& phase) { return "session:" + id + ":" + phase; }

  void read(const std::string& id, std::function<void(Value)> done) {
    if (id.empty()) return done(Value());
    redis_.command({"HGETALL", key(id)}, [id, done = std::move(done)](std::error_code ec, RedisReply reply) {
      if (ec || reply.type != RedisReply::Type::array || reply.elements.empty()) return done(Value());
      done(session_view(id, reply));
    });
  }

  asio::io_context& io_;
  const Namespace& nsp_;
  RedisClient& redis_;
  Lock& lock_;
  RedisTimer& timer_;
  Settings s_;
};

}  // namespace

int main() {
  const long port = env_long("PORT", 3000);
  if (port < 0 || port > 65535) {
    std::fprintf(stderr, "court_session: bad PORT\n");
    return 1;
  }
  const std::string redis_url = env_string("REDIS_URL", "redis://127.0.0.1:6379");
  Settings settings;
  settings.instance = env_string("INSTANCE", "court-" + std::to_string(port));
  settings.pending = milliseconds(env_long("PENDING_MS", 60000));
  settings.evidence = milliseconds(env_long("EVIDENCE_MS", 60000));
  settings.analyzing = milliseconds(env_long("ANALYZING_MS", 5000));
  settings.lock_ttl = milliseconds(env_long("LOCK_TTL_MS", 5000));
  settings.crash_in_timeout = env_string("CRASH_IN_TIMEOUT", "") == "1";

  asio::io_context io;
  RedisAdapterOptions adapter_options;
  adapter_options.url = redis_url;
  RedisAdapterFactory adapter(io, adapter_options);
  RedisLockOptions lock_options;
  lock_options.url = redis_url;
  lock_options.prefix = "court:lock";
  RedisLock lock(io, lock_options);
  RedisTimerOptions timer_options;
  timer_options.url = redis_url;
  timer_options.prefix = "court:timer";
  timer_options.lease = milliseconds(env_long("TIMER_LEASE_MS", 30000));
  timer_options.instance = settings.instance;
  RedisTimer timer(io, timer_options);
  RedisClient redis(io, redis_url);

  ServerOptions server_options;
  server_options.adapter = adapter.factory();
  Server server(io, server_options);
  Listener listener(io);  // declared after the server: destroyed first
  Namespace nsp = server.of("/");
  Court court(io, nsp, redis, lock, timer, settings);
  nsp.on_connection([&court](Socket socket) { court.on_connection(std::move(socket)); });
  timer.on_fire([&court](const TimerEvent& ev) { court.on_timeout(ev); });

  server.attach(listener);
  ListenOptions options;
  options.host = "127.0.0.1";
  options.port = static_cast<std::uint16_t>(port);
  if (auto ec = listener.listen(options)) {
    std::fprintf(stderr, "court_session: cannot listen on 127.0.0.1:%ld: %s\n", port, ec.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "%s: listening on 127.0.0.1:%u, Redis %s\n", settings.instance.c_str(), static_cast<unsigned>(listener.port()), redis_url.c_str());

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code& ec, int) {
    if (ec) return;
    listener.close();
    timer.on_fire({});  // stop claiming: what this instance has not claimed goes to the others
    server.close([&] {
      timer.close();
      lock.close();
      redis.close();
      adapter.close();
      io.stop();
    });
  });
  io.run();
  std::fprintf(stderr, "%s: stopped\n", settings.instance.c_str());
  return 0;
}
