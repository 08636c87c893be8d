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

  main_nsp.on_connection([main_nsp, reasons](Socket socket) {
    socket.emit("welcome", Value::object({{"id", socket.id()}, {"auth", socket.auth()}}));
    socket.on_disconnect([reasons](DisconnectReason reason) { reasons->emplace_back(to_string(reason)); });
    add_echo(socket);
    socket.on("emit-back", [socket](Args& args, Ack) { socket.emit_args("emit-back", args); });
    socket.on("join", [socket](Args& args, Ack ack) {
      socket.join(args[0].as_string());
      ack_true(ack);
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
