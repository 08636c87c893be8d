// Builds and runs against courier as a user would: a Socket.IO server on a free port, an event
// handler, a broadcast, a clean close. Exits 0 on success.
#include <courier/courier.hpp>

#include <cstdio>

int main() {
  asio::io_context io;
  courier::Server server(io);
  server.of("/").on_connection([](courier::Socket socket) {
    socket.on("ping", [](courier::Args& args, courier::Ack ack) {
      if (ack) ack(args);
    });
  });
  courier::ListenOptions options;  // 127.0.0.1, any free port
  if (auto ec = server.listen(options)) {
    std::fprintf(stderr, "listen failed: %s\n", ec.message().c_str());
    return 1;
  }
  if (server.port() == 0) return 2;
  server.to("room").emit("news", courier::Value::object({{"n", 1}}));
  const courier::Value v = courier::Value::object({{"big", 1795329446586541802LL}, {"s", "x"}});
  if (v.to_json() != R"({"big":1795329446586541802,"s":"x"})") return 3;
  bool closed = false;
  server.close([&] { closed = true; });
  io.run_for(std::chrono::milliseconds(200));
  std::printf("consumer ok: listened on port %u\n", server.port());
  return closed ? 0 : 4;
}
