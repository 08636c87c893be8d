// Acks in every direction:
//  - client -> server: "add" is answered through the ack with the sum;
//  - server -> client: on connection the server asks "name?" and waits up to 5 s;
//  - broadcast with acks: "poll" asks every socket in the room and gathers all answers.
// Try it with the Node client in README.md. PORT from the environment (default 3000).
#include <courier/courier.hpp>

#include <cstdio>
#include <cstdlib>

using namespace courier;

int main() {
  const char* port = std::getenv("PORT");
  Server io;
  Namespace nsp = io.of("/");
  nsp.on_connection([nsp](Socket socket) {
    socket.join("voters");
    socket.on("add", [](Args& args, Ack ack) {
      if (ack) ack(args[0].as_double() + args[1].as_double());
    });
    socket.emit_with_ack("name?", {}, [socket](std::error_code ec, Args answer) {
      if (ec) {
        std::printf("%s did not say its name (%s)\n", socket.id().c_str(), ec.message().c_str());
      } else {
        std::printf("%s is called %s\n", socket.id().c_str(), answer[0].to_json().c_str());
      }
    }, std::chrono::seconds(5));
    socket.on("poll", [nsp](Args& args, Ack ack) {
      nsp.to("voters").timeout(std::chrono::seconds(2)).emit_with_ack(
          "vote", {args[0]}, [ack](std::error_code ec, std::vector<Value> votes) {
            Value result = Value::object({{"complete", !ec}, {"votes", Value(Array(votes))}});
            if (ack) ack(result);
          });
    });
  });
  ListenOptions options;
  options.port = static_cast<std::uint16_t>(port ? std::atoi(port) : 3000);
  if (auto ec = io.listen(options)) {
    std::fprintf(stderr, "listen: %s\n", ec.message().c_str());
    return 1;
  }
  std::printf("acks example on http://127.0.0.1:%u\n", io.port());
  std::fflush(stdout);
  io.run();
}
