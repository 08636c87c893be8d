// Publishes one event to a room of a courier/Node Socket.IO cluster, from a process that serves no
// clients (compatible with @socket.io/redis-emitter), then exits.
//   emitter [--redis URL] [--nsp /] [--room R] EVENT JSON_ARG
// e.g.  emitter --redis redis://127.0.0.1:6390 --room lobby notice '{"text":"maintenance at 6"}'
#include <courier/redis_emitter.hpp>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

int main(int argc, char** argv) {
  courier::RedisEmitterOptions options;
  std::string nsp = "/", room, event, json;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--redis" && i + 1 < argc) options.url = argv[++i];
    else if (a == "--nsp" && i + 1 < argc) nsp = argv[++i];
    else if (a == "--room" && i + 1 < argc) room = argv[++i];
    else if (event.empty()) event = a;
    else json = a;
  }
  courier::Value arg;
  if (event.empty() || json.empty() || !courier::Value::parse_json(json, arg)) {
    std::fprintf(stderr, "usage: emitter [--redis URL] [--nsp /] [--room R] EVENT JSON_ARG\n");
    return 2;
  }
  asio::io_context io;
  courier::RedisEmitter emitter(io, options);
  courier::EmitterTarget target = emitter.of(nsp);
  if (!room.empty()) target = target.to(room);
  target.emit(event, arg);  // kept until the connection is up

  // Wait until it went out (or give up after 5 s), then leave.
  asio::steady_timer poll(io);
  int waited_ms = 0;
  std::function<void()> check = [&] {
    if (emitter.stats().published > 0 || waited_ms >= 5000) {
      io.stop();
      return;
    }
    waited_ms += 20;
    poll.expires_after(std::chrono::milliseconds(20));
    poll.async_wait([&](const std::error_code&) { check(); });
  };
  check();
  io.run();
  const bool sent = emitter.stats().published > 0;
  std::fprintf(stderr, sent ? "emitter: published %s\n" : "emitter: could not reach Redis for %s\n", event.c_str());
  return sent ? 0 : 1;
}
