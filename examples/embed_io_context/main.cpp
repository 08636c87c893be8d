// Embedding courier in a host that owns its io_context and threads.
//
// The host runs its io_context on its own thread (courier requires one thread per io_context; the
// host can run other work there too: here a periodic host timer). Slow work ("compute") goes to a
// pool of worker threads, which answer the client's ack from their own thread: courier's handles
// are safe from any thread and post to the server's thread.
#include <courier/courier.hpp>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>

using namespace courier;

int main() {
  const char* port = std::getenv("PORT");
  asio::io_context io;        // the host's
  asio::thread_pool workers(2);  // the host's worker threads

  Server server(io);
  server.of("/").on_connection([&workers](Socket socket) {
    socket.on("compute", [&workers](Args& args, Ack ack) {
      const long n = static_cast<long>(args[0].as_int());
      asio::post(workers, [n, ack] {
        long sum = 0;
        for (long i = 1; i <= n; ++i) sum += i;  // "slow" work off the server's thread
        ack(sum);                                 // answered from a worker thread
      });
    });
  });

  // Host work on the same io_context: a heartbeat broadcast every second.
  asio::steady_timer tick(io);
  long ticks = 0;
  std::function<void()> arm = [&] {
    tick.expires_after(std::chrono::seconds(1));
    tick.async_wait([&](const std::error_code& ec) {
      if (ec) return;
      server.emit("tick", ++ticks);
      arm();
    });
  };
  arm();

  ListenOptions options;
  options.port = static_cast<std::uint16_t>(port ? std::atoi(port) : 3000);
  if (auto ec = server.listen(options)) {
    std::fprintf(stderr, "listen: %s\n", ec.message().c_str());
    return 1;
  }
  std::printf("embed_io_context on http://127.0.0.1:%u\n", server.port());
  std::fflush(stdout);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code&, int) {
    tick.cancel();
    server.close([&io] { io.stop(); });
  });
  std::thread host_thread([&io] { io.run(); });  // the host's thread for the io_context
  host_thread.join();
  workers.join();
}
