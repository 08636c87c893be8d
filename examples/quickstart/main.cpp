// The README's quick start, compiled so it stays true. Serves Socket.IO on http://127.0.0.1:3000.
#include <courier/courier.hpp>

#include <cstdio>

using namespace courier;

int main() {
  Server io;                                       // owns its io_context (or pass yours: Server io(ctx))
  io.of("/").use([](Socket socket, Next next) {    // middleware: async, next() or next(ConnectError)
    if (socket.auth()["token"].as_string() == "bad")
      return next(ConnectError{"not authorized", Value::object({{"reason", "bad token"}})});
    next();
  });
  io.of("/").on_connection([](Socket socket) {
    socket.join("user:" + socket.auth()["user"].as_string());
    socket.join("lobby");
    socket.on("chat", [socket](Args& args, Ack ack) {
      socket.to("lobby").emit("chat", args[0]);    // everyone in "lobby" but the sender
      if (ack) ack(true);                          // acks may also be answered later, from any thread
    });
    socket.emit_with_ack("ready?", {Value(1)}, [](std::error_code ec, Args answer) {
      if (ec) std::fprintf(stderr, "no answer: %s\n", ec.message().c_str());  // timed_out after 5 s
      (void)answer;
    }, std::chrono::seconds(5));
    socket.on_disconnect([](DisconnectReason why) {
      std::fprintf(stderr, "left: %s\n", std::string(to_string(why)).c_str());
    });
  });
  io.to("user:42").except("muted").emit("news", Value::object({{"title", "hi"}}));
  if (auto ec = io.listen({"127.0.0.1", 3000})) {
    std::fprintf(stderr, "listen: %s\n", ec.message().c_str());
    return 1;
  }
  io.run();                                        // or io.start() for a background thread
}
