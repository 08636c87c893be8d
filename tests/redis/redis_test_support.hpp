#pragma once

#include <courier/log.hpp>
// Test support for the real-Redis tests: a redis-server child process on a free loopback port
// (RAII, stopped by PID; killed with the test process), and bounded ways to drive an io_context.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <asio/io_context.hpp>

namespace redis_test {

constexpr const char* kRedisServer = "/usr/bin/redis-server";

inline bool redis_available() { return ::access(kRedisServer, X_OK) == 0; }

/// A port that was free on 127.0.0.1 a moment ago (bind to port 0, read it, close).
inline std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    socklen_t len = sizeof a;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

/// Sends PING on a fresh blocking connection; true when the server answers (+PONG, or -NOAUTH
/// when a password is required: either way it is up and serving).
inline bool ping(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::milliseconds(200)) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const char cmd[] = "*1\r\n$4\r\nPING\r\n";
    if (::send(fd, cmd, sizeof cmd - 1, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof cmd - 1)) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
        char buf[64];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        ok = n > 0 && (std::string(buf, static_cast<std::size_t>(n)).rfind("+PONG", 0) == 0 ||
                       std::string(buf, static_cast<std::size_t>(n)).rfind("-NOAUTH", 0) == 0);
      }
    }
  }
  ::close(fd);
  return ok;
}

/// PING over [::1] (false when the host has no IPv6 loopback or nothing listens there).
inline bool ping6(std::uint16_t port) {
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  a.sin6_port = htons(port);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const char cmd[] = "*1\r\n$4\r\nPING\r\n";
    if (::send(fd, cmd, sizeof cmd - 1, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof cmd - 1)) {
      pollfd p{fd, POLLIN, 0};
      char buf[16];
      ok = ::poll(&p, 1, 200) == 1 && ::recv(fd, buf, sizeof buf, 0) > 0 && buf[0] == '+';
    }
  }
  ::close(fd);
  return ok;
}

/// redis-server on 127.0.0.1:<port>, no persistence; killed (and reaped) by PID on destruction.
class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extra_args = {}, std::uint16_t port = 0)
      : port_(port ? port : free_port()), extra_(std::move(extra_args)) {}
  ~RedisServer() { stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  pid_t pid() const noexcept { return pid_; }
  bool running() const noexcept { return pid_ > 0; }
  std::string url(const std::string& userinfo = {}, const std::string& db = {}) const {
    return "redis://" + (userinfo.empty() ? std::string() : userinfo + "@") + "127.0.0.1:" + std::to_string(port_) +
           (db.empty() ? std::string() : "/" + db);
  }

  /// Starts the server and waits (bounded) until it answers PING. False on failure.
  bool start(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    if (pid_ > 0 || port_ == 0) return false;
    std::vector<std::string> args{kRedisServer,     "--port",       std::to_string(port_), "--bind", "127.0.0.1",
                                  "--save",         "",             "--appendonly",        "no",     "--daemonize",
                                  "no",             "--protected-mode", "no",              "--dir",  "/tmp",
                                  "--loglevel",     "warning"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    // fork/exec rather than posix_spawn so that the child can ask to be SIGKILLed when this
    // process dies: a test process killed from outside (a ctest timeout, Ctrl-C) must not leave a
    // redis-server behind. Only async-signal-safe calls between fork and exec.
    const pid_t parent = ::getpid();
    rlimit nofile{};
    const int max_fd = ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 65536
                           ? static_cast<int>(nofile.rlim_cur)
                           : 65536;
    const pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
      const int devnull = ::open("/dev/null", O_RDWR);
      if (devnull >= 0) {
        ::dup2(devnull, STDIN_FILENO);
        ::dup2(devnull, STDOUT_FILENO);
        ::dup2(devnull, STDERR_FILENO);
      }
      for (int fd = STDERR_FILENO + 1; fd < max_fd; ++fd) ::close(fd);  // not the test's sockets
      ::execv(kRedisServer, argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (ping(port_)) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // exited (port taken?)
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop();
    return false;
  }

  /// SIGKILL (a crash: no goodbye to the clients) and reap.
  void kill() { signal_and_reap(SIGKILL); }
  /// SIGTERM and reap (falls back to SIGKILL after 3 s).
  void stop() { signal_and_reap(SIGTERM); }

 private:
  void signal_and_reap(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
  }

  std::uint16_t port_;
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
};

/// Runs `io` in small slices until `done()` or the timeout; true when `done()` became true.
inline bool run_until(asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    if (io.run_for(std::chrono::milliseconds(5)) == 0 && io.stopped()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// Runs `io` for `d` (to let things happen, or to show that nothing more does).
inline void run_for(asio::io_context& io, std::chrono::milliseconds d) {
  const auto deadline = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < deadline) {
    if (io.stopped()) io.restart();
    if (io.run_for(std::chrono::milliseconds(5)) == 0 && io.stopped()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace redis_test

/// redis-server is a required test dependency (scripts/install-deps.sh installs it): a test that
/// needs it fails when it is missing instead of passing without testing anything.
#define REQUIRE_REDIS_SERVER()                                                                   \
  do {                                                                                           \
    if (!redis_test::redis_available())                                                          \
      FAIL(redis_test::kRedisServer << " is not installed: run scripts/install-deps.sh");       \
  } while (0)

namespace redis_test {
/// A logger that keeps the tests' output quiet.
inline courier::Logger quiet() {
  courier::Logger l;
  l.level = courier::LogLevel::off;
  return l;
}
}  // namespace redis_test
