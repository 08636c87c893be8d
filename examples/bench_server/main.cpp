// Bench server (contract: shared/BENCH-CONTRACT.md): "join" a room (acked once in effect),
// "broadcast" an object to a room as "msg", "echo" acks its argument. One process, one thread.
//
// Env: PORT (default 3100), PING_INTERVAL / PING_TIMEOUT (ms), BACKLOG (default 4096),
// MAX_LIFETIME_S (self-stop, default 3600), REDIS_URL (cluster through courier's Redis adapter).
#include <courier/courier.hpp>
#if COURIER_HAS_REDIS
#include <courier/redis_adapter.hpp>
#endif

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace {

long env_long(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atol(v) : fallback;
}

bool valid_room(const std::string& room) {
  if (room.empty() || room.size() > 64) return false;
  for (char c : room) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

}  // namespace

int main() {
  raise_fd_limit();
  const int port = static_cast<int>(env_long("PORT", 3100));

  asio::io_context io;
  courier::ServerOptions options;
  options.engine.ping_interval = std::chrono::milliseconds(env_long("PING_INTERVAL", 25000));
  options.engine.ping_timeout = std::chrono::milliseconds(env_long("PING_TIMEOUT", 20000));
  options.engine.cors.origins = {"*"};
  // REDIS_URL: join a cluster through Redis (BENCH-CONTRACT.md section 6), with Node servers too.
  const char* redis_url = std::getenv("REDIS_URL");
#if COURIER_HAS_REDIS
  std::unique_ptr<courier::RedisAdapterFactory> redis;
  if (redis_url && *redis_url) {
    courier::RedisAdapterOptions redis_options;
    redis_options.url = redis_url;
    redis = std::make_unique<courier::RedisAdapterFactory>(io, redis_options);
    options.adapter = redis->factory();
  }
#else
  if (redis_url && *redis_url) {
    std::fprintf(stderr, "bench_server: built without courier::redis, REDIS_URL cannot be used\n");
    return 1;
  }
#endif
  courier::Server server(io, options);

  courier::Namespace nsp = server.of("/");
  nsp.on_connection([nsp](courier::Socket socket) {
    socket.on("join", [socket](courier::Args& args, courier::Ack ack) {
      const std::string& room = args[0].as_string();
      if (!valid_room(room)) {
        if (ack) ack(false);
        return;
      }
      socket.join(room);  // on this thread: in effect before the ack is written
      if (ack) ack(true);
    });
    socket.on("broadcast", [nsp](courier::Args& args, courier::Ack ack) {
      const std::string& room = args[0]["room"].as_string();
      if (room.empty()) {  // not an object with a room name
        if (ack) ack(false);
        return;
      }
      // args[0] keeps its wire text: relayed byte for byte, "t" stays exact.
      nsp.to(room).emit("msg", std::move(args[0]));
      if (ack) ack(true);
    });
    socket.on("echo", [](courier::Args& args, courier::Ack ack) {
      if (ack) ack(std::move(args[0]));
    });
  });

  courier::ListenOptions listen_options;
  listen_options.host = "127.0.0.1";
  listen_options.port = static_cast<std::uint16_t>(port);
  listen_options.backlog = static_cast<int>(env_long("BACKLOG", 4096));
  listen_options.reuse_address = true;
  if (auto ec = server.listen(listen_options)) {
    std::fprintf(stderr, "bench_server: cannot listen on 127.0.0.1:%d: %s\n", port, ec.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "bench_server: listening on 127.0.0.1:%u\n", server.port());

  // Close frames and queued packets go out before the process stops (Server::close calls back
  // once the connections finished closing, at most drain_timeout later).
  auto stop = [&] {
    server.close([&] {
#if COURIER_HAS_REDIS
      if (redis) redis->close();
#endif
      io.stop();
    });
  };
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code&, int) { stop(); });
  asio::steady_timer lifetime(io, std::chrono::seconds(env_long("MAX_LIFETIME_S", 3600)));
  lifetime.async_wait([&](const std::error_code& ec) {
    if (!ec) stop();
  });
  io.run();
  return 0;
}
