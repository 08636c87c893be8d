// The Socket.IO interop test server: see CONTRACT.md beside this file. The same behaviour is
// implemented with Node's socket.io in tests/interop/node/reference/socketio_server.js.
#include <courier/courier.hpp>
#if COURIER_HAS_REDIS
#include <courier/redis_adapter.hpp>
#endif

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <regex>
#include <string>
#include <vector>

using namespace courier;
using namespace std::chrono_literals;

namespace {

Value sorted_strings(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  Value out = Value::array();
  for (auto& s : v) out.push_back(std::move(s));
  return out;
}

Value sorted_by_json(std::vector<Value> v) {
  std::sort(v.begin(), v.end(), [](const Value& a, const Value& b) { return a.to_json() < b.to_json(); });
  return Value(Array(std::move(v)));
}

// Calls ack(true) when the client asked for an ack.
void ack_true(const Ack& ack) {
  if (ack) ack(true);
}

void add_echo(const Socket& socket) {
  socket.on("echo", [](Args& args, Ack ack) {
    if (ack) ack(args);
  });
}

// A number from the environment, or `fallback` when unset.
double env_number(const char* name, double fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atof(v) : fallback;
}

Value metrics_value(const Metrics& m) {
  Value closes = Value::object();
  for (std::size_t i = 0; i < m.engine.closes.size(); ++i)
    closes.set(std::string(to_string(static_cast<CloseReason>(i))), static_cast<long long>(m.engine.closes[i]));
  Value disconnects = Value::object();
  for (std::size_t i = 0; i < m.disconnects.size(); ++i)
    disconnects.set(std::string(to_string(static_cast<DisconnectReason>(i))), static_cast<long long>(m.disconnects[i]));
  auto n = [](std::uint64_t v) { return static_cast<long long>(v); };
  return Value::object({{"sessions_polling", n(m.engine.sessions_polling)},
                        {"sessions_websocket", n(m.engine.sessions_websocket)},
                        {"packets_in", n(m.engine.packets_in)},
                        {"packets_out", n(m.engine.packets_out)},
                        {"bytes_in", n(m.engine.bytes_in)},
                        {"bytes_out", n(m.engine.bytes_out)},
                        {"handshakes_refused_max_sessions", n(m.engine.handshakes_refused_max_sessions)},
                        {"handshakes_refused_rate", n(m.engine.handshakes_refused_rate)},
                        {"send_queue_overflows", n(m.engine.send_queue_overflows)},
                        {"closes", closes},
                        {"namespaces", n(m.namespaces)},
                        {"sockets", n(m.sockets)},
                        {"rooms", n(m.rooms)},
                        {"events_in", n(m.events_in)},
                        {"volatile_dropped", n(m.volatile_dropped)},
                        {"namespaces_refused", n(m.namespaces_refused)},
                        {"rooms_refused", n(m.rooms_refused)},
                        {"rate_limited", n(m.rate_limited)},
                        {"disconnects", disconnects}});
}

}  // namespace

int main() {
  const char* port_env = std::getenv("PORT");
  const int port = port_env ? std::atoi(port_env) : 3000;

  asio::io_context io;
  ServerOptions options;
  // LOG_LEVEL: debug, info, warn (default), error or off; info shows why connections were closed.
  if (const char* level = std::getenv("LOG_LEVEL")) {
    const std::string l = level;
    if (l == "debug") options.logger.level = LogLevel::debug;
    if (l == "info") options.logger.level = LogLevel::info;
    if (l == "error") options.logger.level = LogLevel::error;
    if (l == "off") options.logger.level = LogLevel::off;
  }
  options.engine.ping_interval = 300ms;
  options.engine.ping_timeout = 200ms;
  options.engine.cors.origins = {"*"};
  options.connect_timeout = 1000ms;
  // Limits and heartbeat from the environment (CONTRACT.md, "Limits"); unset: the defaults above.
  options.engine.ping_interval = std::chrono::milliseconds(static_cast<long>(env_number("PING_INTERVAL", 300)));
  options.engine.ping_timeout = std::chrono::milliseconds(static_cast<long>(env_number("PING_TIMEOUT", 200)));
  options.engine.max_sessions = static_cast<std::size_t>(env_number("MAX_SESSIONS", 0));
  options.engine.handshakes_per_second = env_number("HANDSHAKES_PER_SECOND", 0);
  options.engine.handshake_burst = static_cast<std::size_t>(env_number("HANDSHAKE_BURST", 20));
  options.engine.max_buffered_bytes =
      static_cast<std::size_t>(env_number("MAX_BUFFERED_BYTES", static_cast<double>(options.engine.max_buffered_bytes)));
  options.max_events_per_second = env_number("MAX_EVENTS_PER_SECOND", 0);
  options.event_burst = static_cast<std::size_t>(env_number("EVENT_BURST", 0));
  options.max_rooms_per_socket = static_cast<std::size_t>(env_number("MAX_ROOMS_PER_SOCKET", 10000));
  options.max_namespaces_per_connection = static_cast<std::size_t>(env_number("MAX_NAMESPACES", 64));
  options.drain_timeout = std::chrono::milliseconds(static_cast<long>(env_number("DRAIN_TIMEOUT_MS", 5000)));
  // LOG_LEVEL=info|debug: show limit hits and closes on stderr (the harness prints it on failure).
  if (const char* level = std::getenv("LOG_LEVEL")) {
    if (std::string(level) == "info") options.logger.level = options.engine.logger.level = LogLevel::info;
    if (std::string(level) == "debug") options.logger.level = options.engine.logger.level = LogLevel::debug;
  }
  // REDIS_URL: this server joins a cluster (courier and Node servers) through the Redis adapter.
  const char* redis_url = std::getenv("REDIS_URL");
#if COURIER_HAS_REDIS
  std::unique_ptr<RedisAdapterFactory> redis;
  if (redis_url && *redis_url) {
    RedisAdapterOptions redis_options;
    redis_options.url = redis_url;
    redis_options.request_timeout = 2000ms;
    // REDIS_SHARDED=1: sharded pub/sub (Node's createShardedAdapter); REDIS_SUBSCRIPTION_MODE:
    // static, dynamic (default) or dynamic-private.
    const char* sharded = std::getenv("REDIS_SHARDED");
    redis_options.sharded = sharded && std::string(sharded) == "1";
    const char* mode = std::getenv("REDIS_SUBSCRIPTION_MODE");
    if (mode && std::string(mode) == "static") redis_options.subscription_mode = RedisAdapterOptions::SubscriptionMode::static_;
    if (mode && std::string(mode) == "dynamic-private")
      redis_options.subscription_mode = RedisAdapterOptions::SubscriptionMode::dynamic_private;
    redis = std::make_unique<RedisAdapterFactory>(io, redis_options);
    options.adapter = redis->factory();
  }
#else
  if (redis_url && *redis_url) {
    std::fprintf(stderr, "socketio_test_server: built without courier::redis\n");
    return 1;
  }
#endif
  Server server(io, options);
  const std::string server_name = std::getenv("SERVER_NAME") ? std::getenv("SERVER_NAME") : "courier";

  auto reasons = std::make_shared<std::vector<std::string>>();
  Namespace main_nsp = server.of("/");

  main_nsp.use([](Socket socket, Next next) {
    if (socket.auth()["token"].as_string() == "bad") {
      next(ConnectError{"not authorized", Value::object({{"reason", "bad token"}})});
    } else {
      next();
    }
  });

  main_nsp.on_connection([main_nsp, reasons, &server, &io](Socket socket) {
    socket.emit("welcome", Value::object({{"id", socket.id()}, {"auth", socket.auth()}}));
    socket.on_disconnect([reasons](DisconnectReason reason) { reasons->emplace_back(to_string(reason)); });
    add_echo(socket);
    socket.on("emit-back", [socket](Args& args, Ack) { socket.emit_args("emit-back", args); });
    socket.on("join", [socket](Args& args, Ack ack) {
      socket.join(args[0].as_string(), [ack](std::error_code ec) {
        if (!ack) return;
        if (ec)
          ack(Value::object({{"error", ec.message()}}));
        else
          ack(true);
      });
    });
    socket.on("leave", [socket](Args& args, Ack ack) {
      socket.leave(args[0].as_string());
      ack_true(ack);
    });
    socket.on("rooms", [socket](Args&, Ack ack) {
      if (ack) ack(sorted_strings(socket.rooms()));
    });
    socket.on("to-room", [main_nsp](Args& args, Ack ack) {
      main_nsp.to(args[0].as_string()).emit(args[1].as_string(), args[2]);
      ack_true(ack);
    });
    socket.on("to-room-except", [main_nsp](Args& args, Ack ack) {
      main_nsp.to(args[0].as_string()).except(args[1].as_string()).emit(args[2].as_string(), args[3]);
      ack_true(ack);
    });
    socket.on("broadcast", [socket](Args& args, Ack ack) {
      socket.broadcast().emit(args[0].as_string(), args[1]);
      ack_true(ack);
    });
    socket.on("volatile", [main_nsp](Args& args, Ack ack) {
      main_nsp.volatile_().emit(args[0].as_string(), args[1]);
      ack_true(ack);
    });
    socket.on("server-ack", [socket](Args& args, Ack ack) {
      const auto timeout = std::chrono::milliseconds(args[1].as_int(1000));
      socket.emit_with_ack("question", {args[0]}, [ack](std::error_code ec, Args answer) {
        if (!ack) return;
        if (ec) {
          ack(Value::object({{"error", "timeout"}}));
        } else {
          ack(Value::object({{"answer", Value(Array(std::move(answer)))}}));
        }
      }, timeout);
    });
    socket.on("server-ack-all", [main_nsp](Args& args, Ack ack) {
      const auto timeout = std::chrono::milliseconds(args[1].as_int(1000));
      main_nsp.to(args[0].as_string()).timeout(timeout).emit_with_ack(
          "question-all", {}, [ack](std::error_code ec, std::vector<Value> responses) {
            if (!ack) return;
            Value out = Value::object();
            if (ec) out.set("error", "timeout");
            out.set("responses", sorted_by_json(std::move(responses)));
            ack(out);
          });
    });
    socket.on("fetch", [main_nsp](Args& args, Ack ack) {
      main_nsp.in(args[0].as_string()).fetch_sockets([ack](std::vector<SocketInfo> sockets, std::error_code) {
        std::vector<std::string> ids;
        for (auto& s : sockets) ids.push_back(s.id);
        if (ack) ack(sorted_strings(std::move(ids)));
      });
    });
    socket.on("sockets-join", [main_nsp](Args& args, Ack ack) {
      main_nsp.in(args[0].as_string()).sockets_join(args[1].as_string());
      ack_true(ack);
    });
    socket.on("sockets-leave", [main_nsp](Args& args, Ack ack) {
      main_nsp.in(args[0].as_string()).sockets_leave(args[1].as_string());
      ack_true(ack);
    });
    socket.on("disconnect-sockets", [main_nsp](Args& args, Ack) {
      main_nsp.in(args[0].as_string()).disconnect_sockets(args[1].as_bool());
    });
    socket.on("disconnect-me", [socket](Args& args, Ack) { socket.disconnect(args[0].as_bool()); });
    socket.on("last-reasons", [reasons](Args&, Ack ack) {
      Value out = Value::array();
      for (const auto& r : *reasons) out.push_back(r);
      if (ack) ack(out);
    });
    socket.on("metrics", [&server](Args&, Ack ack) {
      server.metrics([ack](Metrics m) {
        if (ack) ack(metrics_value(m));
      });
    });
    socket.on("close-server", [&server, &io, main_nsp, reasons](Args& args, Ack) {
      // Queue `count` messages for everyone, then close gracefully; exit once closed.
      const long long count = args.empty() ? 0 : args[0].as_int(0);
      for (long long i = 0; i < count; ++i) main_nsp.emit("queued", i);
      server.close([&io, reasons] {
        std::string list;
        for (const auto& r : *reasons) list += (list.empty() ? "" : ",") + r;
        std::fprintf(stderr, "socketio_test_server: reasons at close: %s\n", list.c_str());
        std::fprintf(stderr, "socketio_test_server: closed gracefully\n");
        io.stop();
      });
    });
    socket.on("count", [main_nsp](Args&, Ack ack) {
      if (ack) ack(static_cast<long long>(main_nsp.socket_count()));
    });
    socket.on("server-side-emit", [main_nsp](Args& args, Ack ack) {
      main_nsp.server_side_emit("hello-servers", args[0]);
      ack_true(ack);
    });
    socket.on("server-side-emit-ack", [main_nsp](Args& args, Ack ack) {
      main_nsp.server_side_emit_with_ack("hello-servers", {args[0]}, [ack](std::error_code ec, std::vector<Value> answers) {
        if (!ack) return;
        Value out = Value::object();
        if (ec) out.set("error", std::string(ec.message()));
        out.set("responses", sorted_by_json(std::move(answers)));
        ack(out);
      });
    });
  });
  // Other servers' server-side emits: tell the clients here, and answer with this server's name.
  main_nsp.on_server_side_emit("hello-servers", [main_nsp, server_name](Args& args, Ack ack) {
    main_nsp.local().emit("server-side", args.empty() ? Value() : args[0]);
    if (ack) ack(server_name);
  });

  Namespace custom = server.of("/custom");
  custom.on_connection([](Socket socket) {
    socket.emit("auth", socket.auth());
    add_echo(socket);
  });

  Namespace admin = server.of("/admin");
  admin.use([](Socket socket, Next next) {
    const Value& role = socket.auth()["role"];
    if (role.as_string() == "admin") {
      next();
    } else {
      next(ConnectError{"forbidden", Value::object({{"role", role}})});
    }
  });
  admin.on_connection([](Socket socket) { socket.emit("hello-admin"); });

  Namespace dynamic = server.of(std::regex(R"(^/dyn-\w+$)"));
  dynamic.on_connection([](Socket socket) {
    socket.emit("nsp", socket.nsp());
    add_echo(socket);
  });

  // METRICS_PATH: Prometheus text on this server's own port.
  if (const char* metrics_path = std::getenv("METRICS_PATH"); metrics_path && *metrics_path)
    server.serve_metrics(metrics_path);
  ListenOptions listen_options;
  listen_options.port = static_cast<std::uint16_t>(port);
  // TLS_CERT / TLS_KEY: https and wss with these PEM files (CONTRACT.md).
  if (const char* cert = std::getenv("TLS_CERT"); cert && *cert) {
    listen_options.tls.certificate_chain_file = cert;
    if (const char* key = std::getenv("TLS_KEY")) listen_options.tls.private_key_file = key;
  }
  if (auto ec = server.listen(listen_options)) {
    std::fprintf(stderr, "socketio_test_server: cannot listen on %d: %s\n", port, ec.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "socketio_test_server: listening on 127.0.0.1:%u%s\n", server.port(),
               listen_options.tls.enabled() ? " (TLS)" : "");

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code&, int) {
    server.close();
#if COURIER_HAS_REDIS
    if (redis) redis->close();
#endif
    io.stop();
  });
  io.run();
  return 0;
}
