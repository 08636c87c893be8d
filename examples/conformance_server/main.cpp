// Conformance server (contract: shared/CONFORMANCE.md), both endpoints on one port:
//   /engine.io/  raw Engine.IO v4 echo
//   /socket.io/  Socket.IO v5: "/" emits "auth", echoes "message" as "message-back" and acks
//                "message-with-ack"; "/custom" emits "auth"; other namespaces are unknown.
// Settings of the official test suites: pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1e6,
// connectTimeout 1 s, CORS open. PORT from the environment (default 3000); PING_INTERVAL and
// PING_TIMEOUT (ms) override the heartbeat for load tests that are not about heartbeats.
#include <courier/courier.hpp>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {
std::chrono::milliseconds env_ms(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return std::chrono::milliseconds(v ? std::atol(v) : fallback);
}
}  // namespace

int main() {
  const char* port_env = std::getenv("PORT");
  const int port = port_env ? std::atoi(port_env) : 3000;

  asio::io_context io;

  courier::EngineOptions engine_options;
  engine_options.path = "/engine.io/";
  engine_options.ping_interval = env_ms("PING_INTERVAL", 300);
  engine_options.ping_timeout = env_ms("PING_TIMEOUT", 200);
  engine_options.max_http_buffer_size = 1000000;
  engine_options.cors.origins = {"*"};
  courier::EngineServer engine(io, engine_options);
  engine.on_connection([](courier::EngineSocket socket) {
    // Echo: text as text, binary as binary, on the same session.
    socket.on_message([socket](const courier::EngineMessage& m) {
      if (m.binary) {
        socket.send_binary(std::string(m.data));
      } else {
        socket.send(std::string(m.data));
      }
    });
  });

  courier::ServerOptions sio_options;
  sio_options.engine = engine_options;
  sio_options.engine.path = "/socket.io/";
  sio_options.connect_timeout = std::chrono::milliseconds(1000);
  courier::Server io_server(io, sio_options);

  auto emit_auth = [](courier::Socket socket) {
    socket.emit("auth", socket.auth());
  };
  io_server.of("/").on_connection([emit_auth](courier::Socket socket) {
    emit_auth(socket);
    socket.on("message", [socket](courier::Args& args, courier::Ack) { socket.emit_args("message-back", args); });
    socket.on("message-with-ack", [](courier::Args& args, courier::Ack ack) { ack(args); });
  });
  io_server.of("/custom").on_connection(emit_auth);

  courier::Listener listener(io);
  listener.mount(engine);
  io_server.attach(listener);
  courier::ListenOptions listen_options;
  listen_options.host = "127.0.0.1";
  listen_options.port = static_cast<std::uint16_t>(port);
  if (auto ec = listener.listen(listen_options)) {
    std::fprintf(stderr, "conformance_server: cannot listen on 127.0.0.1:%d: %s\n", port, ec.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "conformance_server: listening on 127.0.0.1:%u\n", listener.port());

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code&, int) {
    listener.close();
    io_server.close();
    engine.close();
    io.stop();
  });
  io.run();
  return 0;
}
