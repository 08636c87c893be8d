// Conformance server: raw Engine.IO v4 echo at /engine.io/ with the protocol test suite's settings
// (pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1e6, CORS open). PORT from the environment.
#include <courier/engine_server.hpp>
#include <courier/listener.hpp>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

int main() {
  const char* port_env = std::getenv("PORT");
  const int port = port_env ? std::atoi(port_env) : 3000;

  asio::io_context io;

  courier::EngineOptions engine_options;
  engine_options.path = "/engine.io/";
  engine_options.ping_interval = std::chrono::milliseconds(300);
  engine_options.ping_timeout = std::chrono::milliseconds(200);
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

  courier::Listener listener(io);
  listener.mount(engine);
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
    engine.close();
    io.stop();
  });
  io.run();
  return 0;
}
