// quiz_game: a host runs a quiz for players connected to any instance of a cluster that shares one
// Redis. See README.md for the protocol and how to run three instances.
//
//   lobby --(host: next_question 0)--> question 0 --(timer)--> results --(host: next_question 1)-->
//   question 1 --(timer)--> ... --(timer on the last question)--> finished
//
// What makes it cluster-safe:
//   - the game lives in Redis (hash `quiz:game:<id>`, answers, scores, players); every phase change
//     is a Lua script that refuses a fencing number not larger than the last one it accepted and a
//     change whose starting point (phase, question index) is no longer current;
//   - a phase change runs under a RedisLock on `game:<id>` and writes with the token's fence, so a
//     host pressing "next" on two instances at once starts the question once; the question's
//     timer is armed after the check and before the write that opens it;
//   - each question has a RedisTimer keyed `game:<id>:q<index>`: it fires on one instance, which
//     closes the question and broadcasts the leaderboard to the room `game:<id>` on every instance;
//   - an answer is one script: accepted once per player and question, only while the question is
//     open (Redis's clock), scored with ZINCRBY in the same script.
//
// Env: PORT (3000), REDIS_URL (redis://127.0.0.1:6379), INSTANCE (quiz-<port>), QUESTION_MS
// (15000, default question time), TIMER_LEASE_MS (30000, RedisTimer's lease), LOCK_TTL_MS (5000).
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
// Lua scripts. KEYS[1] = game hash, KEYS[2] = players set, KEYS[3] = scores zset; the answers of
// question i are in `<game hash>:answers:<i>` (built from KEYS[1], one slot-free single Redis).

// Creates the game. ARGV: fence, host, by, question count, then q:<i>/correct:<i> pairs.
const char* const kCreateScript = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
redis.call('HSET', KEYS[1], 'fence', ARGV[1], 'host', ARGV[2], 'by', ARGV[3], 'count', ARGV[4],
           'phase', 'lobby', 'index', '-1', 'reason', 'created', 'attempt', '0')
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return {'ok'}
)lua";

// Opens question ARGV[2]. ARGV: fence, index, by, duration ms, host, mode ("check": only say
// whether it would be accepted; "write"). Returns {"ok", question json} or {"moved", phase,
// index}, {"stale", last fence}, {"not_host"}, {"no_such_question"}, {"no_such_game"}.
const char* const kStartScript = R"lua(
local h = KEYS[1]
if redis.call('EXISTS', h) == 0 then return {'no_such_game'} end
local fence = tonumber(ARGV[1])
local last = tonumber(redis.call('HGET', h, 'fence') or '0')
if fence <= last then return {'stale', tostring(last)} end
if redis.call('HGET', h, 'host') ~= ARGV[5] then return {'not_host'} end
local i = tonumber(ARGV[2])
if i >= tonumber(redis.call('HGET', h, 'count')) then return {'no_such_question'} end
local phase = redis.call('HGET', h, 'phase')
local index = tonumber(redis.call('HGET', h, 'index'))
if (phase ~= 'lobby' and phase ~= 'results') or index + 1 ~= i then return {'moved', phase, tostring(index)} end
if ARGV[6] == 'check' then return {'ok'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', h, 'phase', 'question', 'index', ARGV[2], 'fence', ARGV[1], 'by', ARGV[3],
           'started_ms', tostring(now), 'duration_ms', ARGV[4], 'reason', 'next', 'attempt', '0')
return {'ok', redis.call('HGET', h, 'q:' .. ARGV[2])}
)lua";

// Closes question ARGV[2]. ARGV: fence, index, by, attempt, keep ms. Returns {"ok", new phase,
// correct choice, answer count, leaderboard (name, score, ...)} or {"moved", phase, index},
// {"stale", last fence}.
const char* const kCloseScript = R"lua(
local h = KEYS[1]
local fence = tonumber(ARGV[1])
local last = tonumber(redis.call('HGET', h, 'fence') or '0')
if fence <= last then return {'stale', tostring(last)} end
local phase = redis.call('HGET', h, 'phase') or ''
local index = redis.call('HGET', h, 'index') or ''
if phase ~= 'question' or index ~= ARGV[2] then return {'moved', phase, index} end
local final = tonumber(ARGV[2]) + 1 >= tonumber(redis.call('HGET', h, 'count'))
local next_phase = final and 'finished' or 'results'
redis.call('HSET', h, 'phase', next_phase, 'fence', ARGV[1], 'by', ARGV[3], 'attempt', ARGV[4], 'reason', 'timeout')
local answers = h .. ':answers:' .. ARGV[2]
local count = redis.call('HLEN', answers)
local board = redis.call('ZREVRANGE', KEYS[3], 0, 9, 'WITHSCORES')
if final then
  local keep = tonumber(ARGV[5])
  redis.call('PEXPIRE', h, keep)
  redis.call('PEXPIRE', KEYS[2], keep)
  redis.call('PEXPIRE', KEYS[3], keep)
  for i = 0, tonumber(ARGV[2]) do redis.call('PEXPIRE', h .. ':answers:' .. i, keep) end
end
return {'ok', next_phase, redis.call('HGET', h, 'correct:' .. ARGV[2]), count, board}
)lua";

// A player's answer. ARGV: name, index, choice. Scored here, atomically: 500 points for a correct
// answer plus up to 500 for speed. Returns {"ok", points, answer count} or {"closed"},
// {"late"}, {"not_player"}, {"duplicate"}.
const char* const kAnswerScript = R"lua(
local h = KEYS[1]
if redis.call('HGET', h, 'phase') ~= 'question' or redis.call('HGET', h, 'index') ~= ARGV[2] then return {'closed'} end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return {'not_player'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local started = tonumber(redis.call('HGET', h, 'started_ms'))
local duration = tonumber(redis.call('HGET', h, 'duration_ms'))
local left = started + duration - now
if left < 0 then return {'late'} end
local answers = h .. ':answers:' .. ARGV[2]
if redis.call('HSETNX', answers, ARGV[1], ARGV[3]) == 0 then return {'duplicate'} end
local points = 0
if redis.call('HGET', h, 'correct:' .. ARGV[2]) == ARGV[3] then
  points = 500 + math.floor(500 * left / duration)
  redis.call('ZINCRBY', KEYS[3], points, ARGV[1])
end
return {'ok', points, redis.call('HLEN', answers)}
)lua";

// A player joins (before the game is finished); the host (from another tab or instance) only
// follows it. ARGV: name. Returns {"ok", phase, index, "player"|"host"} or {"no_such_game"},
// {"finished"}.
const char* const kJoinScript = R"lua(
local phase = redis.call('HGET', KEYS[1], 'phase')
if not phase then return {'no_such_game'} end
if phase == 'finished' then return {'finished'} end
local index = redis.call('HGET', KEYS[1], 'index')
if redis.call('HGET', KEYS[1], 'host') == ARGV[1] then return {'ok', phase, index, 'host'} end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], 'NX', 0, ARGV[1])
return {'ok', phase, index, 'player'}
)lua";

// ---------------------------------------------------------------------------------------------
// settings and helpers

struct Settings {
  std::string instance;
  milliseconds question{15000};        // default time per question; create_game may set its own
  milliseconds lock_ttl{5000};         // a phase change takes milliseconds; 5 s rides over a slow Redis
  milliseconds keep_finished{3600000}; // a finished game's data stays readable for an hour
};

long env_long(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtol(v, nullptr, 10) : fallback;
}

std::string env_string(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

/// A player or game id: 1..40 of [A-Za-z0-9_-]. Empty when invalid.
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
  for (int i = 0; i < 10; ++i) id += hex[rng() % 16];
  return id;
}

Value error_reply(const std::string& message) { return Value::object({{"ok", false}, {"error", message}}); }

/// The quiz used when the host brings none.
Value default_questions() {
  const auto q = [](const char* text, std::initializer_list<Value> choices, int answer) {
    Value c = Value::array();
    for (const Value& v : choices) c.push_back(v);
    return Value::object({{"text", text}, {"choices", std::move(c)}, {"answer", answer}});
  };
  return Value::array({q("Which protocol version does Socket.IO v4 speak?", {"3", "4", "5"}, 2),
                       q("What does a fencing number do?", {"Sorts locks", "Refuses stale writers", "Counts users"}, 1),
                       q("Where does a cluster timer fire?", {"On every instance", "On exactly one instance", "Nowhere"}, 1)});
}

/// Validated questions: 1..50 of {text: 1..300 bytes, choices: 2..6 strings, answer: index}.
bool clean_questions(const Value& in, Value& out) {
  if (!in.is_array() || in.size() == 0 || in.size() > 50) return false;
  out = Value::array();
  for (const Value& q : in.as_array()) {
    const std::string& text = q["text"].as_string();
    const Value& choices = q["choices"];
    if (text.empty() || text.size() > 300 || !choices.is_array() || choices.size() < 2 || choices.size() > 6) return false;
    Value c = Value::array();
    for (const Value& ch : choices.as_array()) {
      if (!ch.is_string() || ch.as_string().empty() || ch.as_string().size() > 100) return false;
      c.push_back(ch);
    }
    const std::int64_t answer = q["answer"].as_int(-1);
    if (!q["answer"].is_integer() || answer < 0 || answer >= static_cast<std::int64_t>(choices.size())) return false;
    out.push_back(Value::object({{"text", text}, {"choices", std::move(c)}, {"answer", answer}}));
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// the quiz

class Quiz {
 public:
  Quiz(asio::io_context& io, const Namespace& nsp, RedisClient& redis, Lock& lock, RedisTimer& timer, Settings settings)
      : io_(io), nsp_(nsp), redis_(redis), lock_(lock), timer_(timer), s_(std::move(settings)) {}

  /// Runs `step(token, release)` holding the lock of game `id`, retrying a busy lock for about a
  /// second; `step` calls `release()` when its fenced write is done. `failed` runs when the lock
  /// could not be had.
  void locked(const std::string& id, std::function<void(LockToken, std::function<void()>)> step,
              std::function<void()> failed, int tries = 0) {
    lock_.try_lock("game:" + id, s_.lock_ttl, [=](std::error_code ec, LockToken token) {
      if (ec) {
        if (tries < 40) {
          auto t = std::make_shared<asio::steady_timer>(io_, milliseconds(25));
          t->async_wait([=](const std::error_code&) {
            (void)t;
            locked(id, step, failed, tries + 1);
          });
        } else {
          std::fprintf(stderr, "%s: game %s: lock not taken: %s\n", s_.instance.c_str(), id.c_str(), ec.message().c_str());
          if (failed) failed();
        }
        return;
      }
      step(token, [this, token] { lock_.unlock(token); });
    });
  }

  /// Closes question `index` of game `id` once cluster-wide (the question timer fired).
  void close_question(const std::string& id, int index, std::uint32_t attempt) {
    locked(id, [=](LockToken token, std::function<void()> release) {
      redis_.command({"EVAL", kCloseScript, "3", key(id), key(id) + ":players", key(id) + ":scores", std::to_string(token.fence),
                      std::to_string(index), s_.instance, std::to_string(attempt), std::to_string(s_.keep_finished.count())},
                     [=](std::error_code ec, RedisReply reply) {
                       release();
                       if (ec || reply.is_error()) {
                         std::fprintf(stderr, "%s: game %s: close script failed: %s\n", s_.instance.c_str(), id.c_str(), ec ? ec.message().c_str() : reply.str.c_str());
                         return;  // the guard timer set by on_timeout tries again
                       }
                       // Closed now, or already closed: either way the question's timer is done.
                       if (reply[0].str == "ok" || reply[0].str == "moved") timer_.cancel(timer_key(id, index));
                       if (reply[0].str != "ok") return;
                       Value board = Value::array();
                       const RedisReply& flat = reply[4];
                       for (std::size_t i = 0; i + 1 < flat.elements.size(); i += 2)
                         board.push_back(Value::object({{"name", flat[i].str}, {"score", std::strtoll(flat[i + 1].str.c_str(), nullptr, 10)}}));
                       const bool final = reply[1].str == "finished";
                       nsp_.to("game:" + id).emit("question_closed", Value::object({{"game", id},
                                                                                    {"index", index},
                                                                                    {"correct", std::strtol(reply[2].str.c_str(), nullptr, 10)},
                                                                                    {"answers", reply[3].integer},
                                                                                    {"leaderboard", std::move(board)},
                                                                                    {"final", final},
                                                                                    {"fence", token.fence},
                                                                                    {"by", s_.instance},
                                                                                    {"attempt", attempt}}));
                       std::fprintf(stderr, "%s: game %s: question %d closed (fence %llu, attempt %u)\n", s_.instance.c_str(), id.c_str(), index, static_cast<unsigned long long>(token.fence), attempt);
                     });
    }, {});
  }

  /// A question timer fired (on this instance only, cluster-wide).
  void on_timeout(const TimerEvent& ev) {
    const std::string key(ev.key);  // game:<id>:q<index>
    const auto first = key.find(':'), last = key.rfind(":q");
    if (first == std::string::npos || last == std::string::npos || last <= first) return;
    const std::string id = key.substr(first + 1, last - first - 1);
    const int index = static_cast<int>(std::strtol(key.c_str() + last + 2, nullptr, 10));
    std::fprintf(stderr, "%s: timeout %s (attempt %u, timer fence %llu)\n", s_.instance.c_str(), key.c_str(), ev.attempt, static_cast<unsigned long long>(ev.fence));
    // The handler returns (and the timer is acknowledged) before the asynchronous close is done.
    // Re-arm the key as a guard: if this instance dies before closing, a survivor closes it; the
    // close (or finding it already closed) cancels the guard.
    timer_.schedule_in(key, s_.lock_ttl * 2, id);
    close_question(id, index, ev.attempt);
  }

  void on_connection(Socket socket) {
    const std::string name = clean_id(socket.auth()["name"]);
    if (name.empty()) {
      socket.emit("error_message", "auth.name is required: 1 to 40 of A-Z a-z 0-9 _ -");
      socket.disconnect();
      return;
    }
    socket.emit("welcome", Value::object({{"name", name}, {"instance", s_.instance}}));

    socket.on("create_game", [this, socket, name](Args& args, Ack ack) {
      Value questions;
      if (!clean_questions(args[0]["questions"].is_null() ? default_questions() : args[0]["questions"], questions)) {
        if (ack) ack(error_reply("questions: 1 to 50 of {text, choices: 2 to 6 strings, answer: index}"));
        return;
      }
      const std::int64_t ms = args[0]["question_ms"].as_int(s_.question.count());
      if (ms < 200 || ms > 600000) {
        if (ack) ack(error_reply("question_ms: 200 to 600000"));
        return;
      }
      const std::string id = random_id();
      locked(id, [=](LockToken token, std::function<void()> release) {
        std::vector<std::string> cmd{"EVAL", kCreateScript, "1", key(id), std::to_string(token.fence), name, s_.instance,
                                     std::to_string(questions.size())};
        for (std::size_t i = 0; i < questions.size(); ++i) {
          const Value& q = questions[i];
          cmd.push_back("q:" + std::to_string(i));
          cmd.push_back(Value::object({{"text", q["text"]}, {"choices", q["choices"]}}).to_json());
          cmd.push_back("correct:" + std::to_string(i));
          cmd.push_back(std::to_string(q["answer"].as_int()));
        }
        cmd.push_back("duration_ms");
        cmd.push_back(std::to_string(ms));
        redis_.command(std::move(cmd), [=](std::error_code ec, RedisReply reply) {
          release();
          const bool ok = !ec && !reply.is_error() && reply[0].str == "ok";
          if (ok) socket.join("game:" + id);  // the host follows the game too
          if (ack) ack(ok ? Value::object({{"ok", true}, {"game", id}, {"count", questions.size()}, {"question_ms", ms}}) : error_reply("could not create the game"));
        });
      }, [ack] { if (ack) ack(error_reply("storage unavailable")); });
    });

    socket.on("join_game", [this, socket, name](Args& args, Ack ack) {
      const std::string id = clean_id(args[0]["game"]);
      if (id.empty()) {
        if (ack) ack(error_reply("game is required"));
        return;
      }
      redis_.command({"EVAL", kJoinScript, "3", key(id), key(id) + ":players", key(id) + ":scores", name},
                     [this, socket, name, id, ack](std::error_code ec, RedisReply reply) {
                       if (ec || reply.is_error() || reply[0].str != "ok") {
                         if (ack) ack(error_reply(ec || reply.is_error() ? "storage unavailable" : reply[0].str));
                         return;
                       }
                       socket.join("game:" + id);
                       const bool host = reply[3].str == "host";
                       if (ack) ack(Value::object({{"ok", true}, {"phase", reply[1].str}, {"index", std::strtol(reply[2].str.c_str(), nullptr, 10)}, {"role", reply[3].str}}));
                       if (!host) nsp_.to("game:" + id).emit("player_joined", Value::object({{"game", id}, {"name", name}, {"instance", s_.instance}}));
                     });
    });

    socket.on("next_question", [this, name](Args& args, Ack ack) {
      const std::string id = clean_id(args[0]["game"]);
      const Value& index_value = args[0]["index"];
      if (id.empty() || !index_value.is_integer() || index_value.as_int() < 0) {
        if (ack) ack(error_reply("game and index (the question to open) are required"));
        return;
      }
      const int index = static_cast<int>(index_value.as_int());
      start_question(id, index, name, [ack](Value result) {
        if (ack) ack(std::move(result));
      });
    });

    socket.on("answer", [this, name](Args& args, Ack ack) {
      const std::string id = clean_id(args[0]["game"]);
      const Value& index = args[0]["index"];
      const Value& choice = args[0]["choice"];
      if (id.empty() || !index.is_integer() || !choice.is_integer()) {
        if (ack) ack(error_reply("game, index and choice are required"));
        return;
      }
      redis_.command({"EVAL", kAnswerScript, "3", key(id), key(id) + ":players", key(id) + ":scores", name,
                      std::to_string(index.as_int()), std::to_string(choice.as_int())},
                     [this, ack, id, i = index.as_int()](std::error_code ec, RedisReply reply) {
                       if (ec || reply.is_error()) {
                         if (ack) ack(error_reply("storage unavailable"));
                         return;
                       }
                       if (reply[0].str != "ok") {
                         if (ack) ack(error_reply(reply[0].str));
                         return;
                       }
                       // Correctness is revealed when the question closes, not in the ack.
                       if (ack) ack(Value::object({{"ok", true}}));
                       nsp_.to("game:" + id).emit("answered", Value::object({{"game", id}, {"index", i}, {"count", reply[2].integer}}));
                     });
    });
  }

 private:
  static std::string key(const std::string& id) { return "quiz:game:" + id; }
  static std::string timer_key(const std::string& id, int index) { return "game:" + id + ":q" + std::to_string(index); }

  /// Opens question `index` once cluster-wide: the host may press "next" on several instances.
  void start_question(const std::string& id, int index, const std::string& host, std::function<void(Value)> done) {
    locked(id, [=](LockToken token, std::function<void()> release) {
      const auto fail = [=](const std::string& why) {
        release();
        done(error_reply(why));
      };
      redis_.command({"HGET", key(id), "duration_ms"}, [=](std::error_code ec, RedisReply duration) {
        const long long ms = ec ? 0 : std::strtoll(duration.str.c_str(), nullptr, 10);
        if (ms <= 0) return fail("no such game");
        const auto script = [=](const char* mode) {
          return std::vector<std::string>{"EVAL", kStartScript, "1", key(id), std::to_string(token.fence), std::to_string(index),
                                          s_.instance, std::to_string(ms), host, mode};
        };
        const auto refused = [=](const RedisReply& reply) {
          return reply[0].str == "moved" ? "question " + std::to_string(index) + " cannot open now (phase " + reply[1].str + ", index " + reply[2].str + ")" : reply[0].str;
        };
        // 1. Check under the lock that this question is the next one.
        redis_.command(script("check"), [=](std::error_code ec2, RedisReply check) {
          if (ec2 || check.is_error()) return fail("storage unavailable");
          if (check[0].str != "ok") return fail(refused(check));
          // 2. Arm the question's timer before opening it: if this instance dies after the write,
          //    the question still closes. If it dies before, the timer finds the question not
          //    open when it fires and does nothing.
          timer_.schedule_in(timer_key(id, index), milliseconds(ms), id);
          // 3. The fenced write.
          redis_.command(script("write"), [=](std::error_code ec3, RedisReply reply) {
            if (ec3 || reply.is_error()) return fail("storage unavailable");
            if (reply[0].str != "ok") return fail(refused(reply));  // our lease ran out meanwhile
            Value q;
            Value::parse_json(reply[1].str, q);
            nsp_.to("game:" + id).emit("question", Value::object({{"game", id},
                                                                 {"index", index},
                                                                 {"text", q["text"]},
                                                                 {"choices", q["choices"]},
                                                                 {"duration_ms", ms},
                                                                 {"fence", token.fence},
                                                                 {"by", s_.instance}}));
            std::fprintf(stderr, "%s: game %s: question %d open (fence %llu)\n", s_.instance.c_str(), id.c_str(), index, static_cast<unsigned long long>(token.fence));
            release();
            done(Value::object({{"ok", true}, {"index", index}, {"fence", token.fence}}));
          });
        });
      });
    }, [done] { done(error_reply("game busy, try again")); });
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
    std::fprintf(stderr, "quiz_game: bad PORT\n");
    return 1;
  }
  const std::string redis_url = env_string("REDIS_URL", "redis://127.0.0.1:6379");
  Settings settings;
  settings.instance = env_string("INSTANCE", "quiz-" + std::to_string(port));
  settings.question = milliseconds(env_long("QUESTION_MS", 15000));
  settings.lock_ttl = milliseconds(env_long("LOCK_TTL_MS", 5000));

  asio::io_context io;
  RedisAdapterOptions adapter_options;
  adapter_options.url = redis_url;
  RedisAdapterFactory adapter(io, adapter_options);
  RedisLockOptions lock_options;
  lock_options.url = redis_url;
  lock_options.prefix = "quiz:lock";
  RedisLock lock(io, lock_options);
  RedisTimerOptions timer_options;
  timer_options.url = redis_url;
  timer_options.prefix = "quiz:timer";
  timer_options.lease = milliseconds(env_long("TIMER_LEASE_MS", 30000));
  timer_options.instance = settings.instance;
  RedisTimer timer(io, timer_options);
  RedisClient redis(io, redis_url);

  ServerOptions server_options;
  server_options.adapter = adapter.factory();
  Server server(io, server_options);
  Listener listener(io);  // declared after the server: destroyed first
  Namespace nsp = server.of("/");
  Quiz quiz(io, nsp, redis, lock, timer, settings);
  nsp.on_connection([&quiz](Socket socket) { quiz.on_connection(std::move(socket)); });
  timer.on_fire([&quiz](const TimerEvent& ev) { quiz.on_timeout(ev); });

  server.attach(listener);
  ListenOptions options;
  options.host = "127.0.0.1";
  options.port = static_cast<std::uint16_t>(port);
  if (auto ec = listener.listen(options)) {
    std::fprintf(stderr, "quiz_game: cannot listen on 127.0.0.1:%ld: %s\n", port, ec.message().c_str());
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
