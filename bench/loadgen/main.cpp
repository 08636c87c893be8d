// courier_loadgen: load generator for the bench contract (shared/BENCH-CONTRACT.md).
//
// Own minimal client stack, no courier code: non-blocking TCP sockets on one epoll loop (one
// thread, thousands of connections), HTTP/1.1 + RFC 6455 WebSocket client framing (masked frames),
// Engine.IO v4 over WebSocket and over HTTP long-polling, Socket.IO v5 (main namespace).
//
//   courier_loadgen --scenario storm|idle|fanout|echo|polling --port P [options]
//   courier_loadgen --scenario fanout --ports P1,P2 [options]   # a cluster (contract section 6)
//
// Prints one JSON line on stdout (results, the server's OPEN parameters, failures by kind and the
// load generator's own CPU use) and "@phase NAME T" markers on stderr, so that a harness can sample
// the server's /proc/PID at the right moments. Exit status: 0 = the run met its correctness
// checks, 1 = it did not (see "errors"), 2 = usage.
#include "../common/sha1_base64.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace {

// ---------------------------------------------------------------------------------------------
// Clocks, histogram, JSON output

std::uint64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return std::uint64_t(ts.tv_sec) * 1000000000ull + std::uint64_t(ts.tv_nsec);
}
std::uint64_t mono_ns() { return clock_ns(CLOCK_MONOTONIC); }
std::uint64_t real_ns() { return clock_ns(CLOCK_REALTIME); }
std::uint64_t g_mono_start = 0;

void phase(const char* name) {
  std::fprintf(stderr, "@phase %s %.6f\n", name, double(mono_ns() - g_mono_start) / 1e9);
  std::fflush(stderr);
}

// Log-linear histogram of nanosecond values: exact below 128, then 64 buckets per power of two
// (relative error < 1 %).
class Histogram {
 public:
  Histogram() : buckets_(128 + 57 * 64, 0) {}
  void add(std::uint64_t v) {
    ++buckets_[index(v)];
    ++count_;
    sum_ += double(v);
    if (v > max_) max_ = v;
    if (count_ == 1 || v < min_) min_ = v;
  }
  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }
  std::uint64_t min() const { return count_ ? min_ : 0; }
  double mean() const { return count_ ? sum_ / double(count_) : 0; }
  std::uint64_t percentile(double p) const {
    if (count_ == 0) return 0;
    std::uint64_t rank = std::uint64_t(std::ceil(p / 100.0 * double(count_)));
    if (rank == 0) rank = 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
      seen += buckets_[i];
      if (seen >= rank) return std::min(value(i), max_);
    }
    return max_;
  }

 private:
  static std::size_t index(std::uint64_t v) {
    if (v < 128) return std::size_t(v);
    const int e = 63 - __builtin_clzll(v);
    const std::uint64_t m = v >> (e - 6);  // 64..127
    return 128 + std::size_t(e - 7) * 64 + std::size_t(m - 64);
  }
  static std::uint64_t value(std::size_t i) {
    if (i < 128) return i;
    const int e = int((i - 128) / 64) + 7;
    const std::uint64_t m = (i - 128) % 64 + 64;
    const std::uint64_t w = 1ull << (e - 6);
    return (m << (e - 6)) + w / 2;
  }
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0, max_ = 0, min_ = 0;
  double sum_ = 0;
};

class Json {
 public:
  Json& raw(const std::string& s) { sep(); s_ += s; return *this; }
  Json& key(const char* k) { sep(); s_ += '"'; s_ += k; s_ += "\":"; need_sep_ = false; return *this; }
  Json& open() { sep(); s_ += '{'; need_sep_ = false; return *this; }
  Json& close() { s_ += '}'; need_sep_ = true; return *this; }
  Json& open_arr() { sep(); s_ += '['; need_sep_ = false; return *this; }
  Json& close_arr() { s_ += ']'; need_sep_ = true; return *this; }
  Json& num(double v) {
    sep();
    char b[64];
    if (!std::isfinite(v)) std::snprintf(b, sizeof b, "null");
    else if (v == std::floor(v) && std::fabs(v) < 9e15) std::snprintf(b, sizeof b, "%.0f", v);
    else std::snprintf(b, sizeof b, "%.6g", v);
    s_ += b;
    return *this;
  }
  Json& u(std::uint64_t v) { sep(); s_ += std::to_string(v); return *this; }
  Json& boolean(bool v) { sep(); s_ += v ? "true" : "false"; return *this; }
  Json& str(std::string_view v) {
    sep();
    s_ += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') { s_ += '\\'; s_ += c; }
      else if (static_cast<unsigned char>(c) < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\u%04x", c); s_ += b; }
      else s_ += c;
    }
    s_ += '"';
    return *this;
  }
  Json& kv(const char* k, double v) { return key(k).num(v); }
  Json& kv(const char* k, std::uint64_t v) { return key(k).u(v); }
  Json& kv(const char* k, int v) { return key(k).num(v); }
  Json& kv_str(const char* k, std::string_view v) { return key(k).str(v); }
  Json& kv_bool(const char* k, bool v) { return key(k).boolean(v); }
  const std::string& text() const { return s_; }

 private:
  void sep() {
    if (need_sep_) s_ += ',';
    need_sep_ = true;
  }
  std::string s_;
  bool need_sep_ = false;
};

// Latency summary in milliseconds.
void hist_ms(Json& j, const char* name, const Histogram& h) {
  j.key(name).open();
  j.kv("count", h.count());
  j.kv("p50_ms", double(h.percentile(50)) / 1e6);
  j.kv("p90_ms", double(h.percentile(90)) / 1e6);
  j.kv("p99_ms", double(h.percentile(99)) / 1e6);
  j.kv("p999_ms", double(h.percentile(99.9)) / 1e6);
  j.kv("max_ms", double(h.max()) / 1e6);
  j.kv("mean_ms", h.mean() / 1e6);
  j.close();
}

// ---------------------------------------------------------------------------------------------
// Options

struct Options {
  std::string scenario;
  std::string host = "127.0.0.1";
  int port = 0;
  std::vector<int> ports;  // --ports: servers of one cluster; port == ports[0]
  long clients = -1;
  double rate = -1;        // fanout/polling: broadcasts per second (mode rate)
  int inflight = 1;        // echo: requests in flight per client
  double duration = -1;    // seconds of measurement (storm: deadline for all connects)
  long pad = 64;           // bytes of "x" padding per message
  int src_addrs = 8;       // source addresses 127.0.0.1 .. 127.0.0.N
  long max_pending = -1;   // connects in progress at once (storm: all)
  double connect_timeout = -1;
  double warmup = -1;
  double drain = 5;
  double hold = -1;        // idle: seconds to hold
  std::string mode = "rate";  // fanout: rate | sat
  int window = 8;          // fanout sat: broadcasts not yet delivered to all receivers
  std::string room = "bench";
  bool verify_accept = true;
  double max_runtime = -1;
  bool verbose = false;
  bool no_pong = false;  // idle: never answer pings; the server must drop every connection
};
Options g_opt;

[[noreturn]] void usage(const char* msg) {
  if (msg) std::fprintf(stderr, "courier_loadgen: %s\n", msg);
  std::fprintf(stderr,
               "usage: courier_loadgen --scenario storm|idle|fanout|echo|polling --port P|--ports P1,P2,... [options]\n"
               "  --host A            server address, loopback only (127.0.0.1)\n"
               "  --ports P1,P2,...   instead of --port: instances of one cluster; connections go round-robin\n"
               "                      over them (fanout: the publisher on P1, receivers on P1, P2, ... in turn)\n"
               "  --clients N         connections (storm 1000, idle 1000, fanout/polling receivers 1000, echo 100)\n"
               "  --duration S        seconds measured (storm: deadline for all connects, default 30)\n"
               "  --rate R            fanout/polling: broadcasts per second (mode rate)\n"
               "  --mode rate|sat     fanout: fixed rate, or saturation (--window broadcasts outstanding)\n"
               "  --window W          fanout sat: broadcasts in flight not yet delivered to every receiver (8)\n"
               "  --inflight K        echo: acked events in flight per client (1)\n"
               "  --pad BYTES         padding per message (64, at most 900000)\n"
               "  --hold S            idle: seconds the connections are held (default --duration)\n"
               "  --warmup S          seconds excluded from rates and latencies at the start\n"
               "  --drain S           seconds to wait for the last deliveries / acks (5)\n"
               "  --src-addrs N       spread source addresses over 127.0.0.1..127.0.0.N (8)\n"
               "  --max-pending N     connects in progress at once (storm: all, else 500)\n"
               "  --connect-timeout S deadline for the connection phase (storm: --duration, else 60)\n"
               "  --room NAME         room name (bench)\n"
               "  --no-verify-accept  do not check Sec-WebSocket-Accept\n"
               "  --max-runtime S     hard stop of the whole run (default: computed)\n"
               "  --no-pong           idle: never answer pings (checks that the server drops such clients)\n"
               "  --verbose           progress on stderr\n");
  std::exit(2);
}

// ---------------------------------------------------------------------------------------------
// Failure kinds

enum Fail : int {
  F_REFUSED, F_RESET, F_EOF, F_TIMEOUT_TCP, F_TIMEOUT_HTTP, F_TIMEOUT_OPEN, F_TIMEOUT_SIO,
  F_HTTP_STATUS, F_BAD_ACCEPT, F_WS_CLOSE, F_CONNECT_ERROR, F_PROTOCOL, F_SIO_DISCONNECT,
  F_EIO_CLOSE, F_SOCKET, F_ADDR_UNAVAILABLE, F_TIMEDOUT_KERNEL, F_POST_FAILED, F_JOIN_TIMEOUT, F_OTHER, F_COUNT
};
const char* const kFailNames[F_COUNT] = {
  "refused", "reset", "eof", "timeout_tcp", "timeout_http", "timeout_open", "timeout_sio",
  "http_status", "bad_accept", "ws_close", "connect_error", "protocol", "sio_disconnect",
  "eio_close", "socket_error", "addr_unavailable", "kernel_timeout", "post_failed", "join_timeout", "other"};

Fail errno_fail(int e) {
  switch (e) {
    case ECONNREFUSED: return F_REFUSED;
    case ECONNRESET: case EPIPE: case ECONNABORTED: return F_RESET;
    case ETIMEDOUT: return F_TIMEDOUT_KERNEL;
    case EADDRNOTAVAIL: case EADDRINUSE: return F_ADDR_UNAVAILABLE;
    default: return F_OTHER;
  }
}

struct Stats {
  std::uint64_t connect_fail[F_COUNT] = {};
  std::uint64_t lost[F_COUNT] = {};
  std::uint64_t attempted = 0, connected = 0;
  std::uint64_t first_start = 0, last_connected = 0;  // mono ns
  Histogram connect_latency;
  std::uint64_t pings = 0, ws_pings = 0;
  long ping_interval = -1, ping_timeout = -1, max_payload = -1;
  std::string upgrades;
  std::vector<std::string> errors;
  std::uint64_t protocol_samples = 0;
};
Stats g;

void error_note(const char* fmt, ...) {
  if (g.errors.size() >= 20) return;
  char b[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(b, sizeof b, fmt, ap);
  va_end(ap);
  g.errors.emplace_back(b);
}

// ---------------------------------------------------------------------------------------------
// Event loop: handlers are found through a slot table; the epoll data carries slot and generation
// so that an event queued for a socket closed earlier in the same batch is ignored.

int g_ep = -1;
constexpr std::size_t kScratch = 1 << 18;
char g_scratch[kScratch];

struct Handler {
  int fd = -1;
  std::uint32_t slot = 0;
  std::uint32_t gen = 0;
  std::uint32_t interest = 0;
  std::string out;
  std::size_t out_off = 0;
  virtual ~Handler() = default;
  virtual void on_io(std::uint32_t events) = 0;
  virtual void on_write_error(int err) = 0;
};
std::vector<Handler*> g_handlers;

void register_handler(Handler* h) {
  h->slot = std::uint32_t(g_handlers.size());
  g_handlers.push_back(h);
}

void ep_add(Handler* h, std::uint32_t events) {
  epoll_event e{};
  e.events = events;
  e.data.u64 = (std::uint64_t(h->slot) << 32) | h->gen;
  if (epoll_ctl(g_ep, EPOLL_CTL_ADD, h->fd, &e) != 0) { std::perror("epoll_ctl ADD"); std::exit(1); }
  h->interest = events;
}
void ep_set(Handler* h, std::uint32_t events) {
  if (h->fd < 0 || h->interest == events) return;
  epoll_event e{};
  e.events = events;
  e.data.u64 = (std::uint64_t(h->slot) << 32) | h->gen;
  epoll_ctl(g_ep, EPOLL_CTL_MOD, h->fd, &e);
  h->interest = events;
}
void close_fd(Handler* h, bool rst) {
  if (h->fd < 0) return;
  if (rst) {
    linger l{1, 0};
    setsockopt(h->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  ::close(h->fd);
  h->fd = -1;
  ++h->gen;
  h->interest = 0;
  h->out.clear();
  h->out_off = 0;
}
// Sends what is queued; false after a write error (already reported to the handler).
bool flush(Handler* h) {
  while (h->fd >= 0 && h->out_off < h->out.size()) {
    const ssize_t n = ::send(h->fd, h->out.data() + h->out_off, h->out.size() - h->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) { h->out_off += std::size_t(n); continue; }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) { ep_set(h, EPOLLIN | EPOLLOUT); return true; }
    h->on_write_error(n < 0 ? errno : EPIPE);
    return false;
  }
  if (h->fd < 0) return false;
  h->out.clear();
  h->out_off = 0;
  ep_set(h, EPOLLIN);
  return true;
}

// Opens a non-blocking TCP connection from 127.0.0.(1 + idx % src_addrs) to server g_servers[server];
// -1 and *fail on error.
std::vector<sockaddr_in> g_servers;  // one per --ports entry
int open_tcp(std::uint64_t idx, std::size_t server, Fail* fail) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) { *fail = F_SOCKET; return -1; }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl(0x7F000001u + std::uint32_t(idx % std::uint64_t(g_opt.src_addrs)));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
    *fail = errno_fail(errno);
    if (*fail == F_OTHER) *fail = F_SOCKET;
    ::close(fd);
    return -1;
  }
  const sockaddr_in& dst = g_servers[server];
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst) != 0 && errno != EINPROGRESS) {
    *fail = errno_fail(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

std::uint64_t g_rng = 0x9E3779B97F4A7C15ull;
std::uint64_t rnd() {
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return g_rng * 2685821657736338717ull;
}

// ---------------------------------------------------------------------------------------------
// Small parsers

bool iequal_prefix(std::string_view s, std::string_view lower_prefix) {
  if (s.size() < lower_prefix.size()) return false;
  for (std::size_t i = 0; i < lower_prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    if (c != lower_prefix[i]) return false;
  }
  return true;
}
// Value of header `lower_name` in an HTTP header block, trimmed; empty if absent.
std::string_view header_value(std::string_view head, std::string_view lower_name) {
  std::size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    const std::size_t start = pos + 2;
    std::size_t end = head.find("\r\n", start);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(start, end - start);
    if (iequal_prefix(line, lower_name) && line.size() > lower_name.size() && line[lower_name.size()] == ':') {
      std::string_view v = line.substr(lower_name.size() + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      return v;
    }
    pos = end;
  }
  return {};
}
void skip_ws(const char*& p, const char* e) {
  while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
}
// Finds `"key"` then ':' and leaves p on the value; false if absent.
bool find_key(const char*& p, const char* e, std::string_view quoted_key) {
  const void* hit = memmem(p, std::size_t(e - p), quoted_key.data(), quoted_key.size());
  if (!hit) return false;
  p = static_cast<const char*>(hit) + quoted_key.size();
  skip_ws(p, e);
  if (p >= e || *p != ':') return false;
  ++p;
  skip_ws(p, e);
  return true;
}
// Plain decimal unsigned integer; false if absent or followed by '.', 'e', 'E' (not an integer).
bool parse_uint(const char*& p, const char* e, std::uint64_t& v) {
  if (p >= e || *p < '0' || *p > '9') return false;
  std::uint64_t x = 0;
  while (p < e && *p >= '0' && *p <= '9') { x = x * 10 + std::uint64_t(*p - '0'); ++p; }
  if (p < e && (*p == '.' || *p == 'e' || *p == 'E')) return false;
  v = x;
  return true;
}
long json_long(std::string_view s, std::string_view quoted_key) {
  const char* p = s.data();
  const char* e = s.data() + s.size();
  std::uint64_t v = 0;
  if (!find_key(p, e, quoted_key) || !parse_uint(p, e, v)) return -1;
  return long(v);
}

// ---------------------------------------------------------------------------------------------
// Engine.IO / Socket.IO client, over WebSocket or long-polling

struct Client;
struct Scenario {
  virtual ~Scenario() = default;
  virtual void begin() = 0;
  virtual void on_connected(Client&) {}
  virtual void on_failed(Client&) {}
  virtual void on_lost(Client&) {}
  virtual void on_event(Client&, const char*, const char*) {}
  virtual void on_ack(Client&, std::uint64_t, const char*, const char*) {}
  virtual void tick(std::uint64_t) {}
  virtual std::uint64_t next_wake(std::uint64_t now) { return now + 100000000ull; }
  virtual bool done() const = 0;
  virtual void report(Json&) {}
  virtual bool ok() const = 0;
  virtual std::uint64_t hard_deadline_s() const = 0;
};
Scenario* g_scn = nullptr;

enum class St { Idle, Tcp, Http, Open, Sio, Connected, Closed };

struct Client {
  std::uint64_t idx = 0;
  std::size_t server = 0;  // index into g_opt.ports / g_servers
  St st = St::Idle;
  std::uint64_t t_start = 0;  // mono
  // scenario state
  std::uint64_t next_id = 1;
  bool joined = false, receiver = false, resolved = false;
  std::uint32_t pings = 0;
  std::uint64_t max_seq = 0;
  bool have_seq = false;
  std::uint64_t seen[16] = {};  // the last 1024 sequence numbers, to tell duplicates from late ones
  std::vector<std::pair<std::uint64_t, std::uint64_t>> pending;  // echo: (ack id, sent realtime)

  virtual ~Client() = default;
  virtual void start() = 0;
  virtual void send_eio(std::string_view pkt) = 0;  // queues one Engine.IO packet
  virtual void flush_out() = 0;
  virtual void shutdown(bool rst) = 0;  // closes without callbacks
  virtual bool is_polling() const = 0;

  void fail_or_lose(Fail kind) {
    if (st == St::Closed) return;
    const bool was_connected = st == St::Connected;
    const bool started = st != St::Idle;
    st = St::Closed;
    shutdown(false);
    if (was_connected) {
      ++g.lost[kind];
      g_scn->on_lost(*this);
    } else if (started) {
      ++g.connect_fail[kind];
      g_scn->on_failed(*this);
    }
  }
  Fail timeout_kind() const {
    switch (st) {
      case St::Tcp: return F_TIMEOUT_TCP;
      case St::Http: return F_TIMEOUT_HTTP;
      case St::Open: return F_TIMEOUT_OPEN;
      default: return F_TIMEOUT_SIO;
    }
  }

  // One Engine.IO packet received.
  void on_eio(const char* p, std::size_t n) {
    if (n == 0) { fail_or_lose(F_PROTOCOL); return; }
    switch (p[0]) {
      case '0': {
        if (st != St::Open) { fail_or_lose(F_PROTOCOL); return; }
        std::string_view js(p + 1, n - 1);
        if (js.find("\"sid\"") == std::string_view::npos) { fail_or_lose(F_PROTOCOL); return; }
        if (g.ping_interval < 0) {
          g.ping_interval = json_long(js, "\"pingInterval\"");
          g.ping_timeout = json_long(js, "\"pingTimeout\"");
          g.max_payload = json_long(js, "\"maxPayload\"");
          const std::size_t u = js.find("\"upgrades\"");
          if (u != std::string_view::npos) {
            const std::size_t b = js.find('[', u), e = js.find(']', u);
            if (b != std::string_view::npos && e != std::string_view::npos && e > b) g.upgrades = std::string(js.substr(b, e - b + 1));
          }
        }
        on_open(js);
        st = St::Sio;
        send_eio("40");
        return;
      }
      case '2':
        ++g.pings;
        ++pings;
        if (!g_opt.no_pong) send_eio("3");
        return;
      case '3': case '6': return;
      case '1': fail_or_lose(F_EIO_CLOSE); return;
      case '4': on_sio(p + 1, p + n); return;
      default:
        if (g.protocol_samples++ < 3) error_note("unexpected Engine.IO packet: %.60s", std::string(p, std::min<std::size_t>(n, 60)).c_str());
        fail_or_lose(F_PROTOCOL);
        return;
    }
  }
  virtual void on_open(std::string_view) {}

  void on_sio(const char* p, const char* e) {
    if (p >= e) { fail_or_lose(F_PROTOCOL); return; }
    const char type = *p++;
    if (type == '0') {
      if (st != St::Sio || p >= e || *p != '{' || memmem(p, std::size_t(e - p), "\"sid\"", 5) == nullptr) {
        if (g.protocol_samples++ < 3) error_note("unexpected CONNECT reply: 40%.60s", std::string(p, std::size_t(std::min<long>(e - p, 60))).c_str());
        fail_or_lose(F_PROTOCOL);
        return;
      }
      st = St::Connected;
      const std::uint64_t now = mono_ns();
      ++g.connected;
      g.last_connected = now;
      g.connect_latency.add(now - t_start);
      g_scn->on_connected(*this);
      return;
    }
    if (type == '4') { fail_or_lose(F_CONNECT_ERROR); return; }
    if (type == '1') { fail_or_lose(F_SIO_DISCONNECT); return; }
    if (type != '2' && type != '3') {
      if (g.protocol_samples++ < 3) error_note("unexpected Socket.IO packet type %c", type);
      fail_or_lose(F_PROTOCOL);
      return;
    }
    if (p < e && *p == '/') {  // namespace
      const void* comma = memchr(p, ',', std::size_t(e - p));
      if (!comma) { fail_or_lose(F_PROTOCOL); return; }
      p = static_cast<const char*>(comma) + 1;
    }
    std::uint64_t id = 0;
    bool has_id = false;
    while (p < e && *p >= '0' && *p <= '9') { id = id * 10 + std::uint64_t(*p - '0'); ++p; has_id = true; }
    if (st != St::Connected) { fail_or_lose(F_PROTOCOL); return; }
    if (type == '2') g_scn->on_event(*this, p, e);
    else if (has_id) g_scn->on_ack(*this, id, p, e);
    else fail_or_lose(F_PROTOCOL);
  }

  void begin() {
    t_start = mono_ns();
    if (g.first_start == 0) g.first_start = t_start;
    ++g.attempted;
    start();
  }
};

// ---- WebSocket client -----------------------------------------------------------------------

struct WsClient final : Client, Handler {
  std::string in;    // unparsed input
  std::string frag;  // fragmented message so far
  bool in_frag = false;
  char key[25] = {};

  WsClient() { register_handler(this); }
  bool is_polling() const override { return false; }

  void start() override {
    Fail f = F_OTHER;
    fd = open_tcp(idx, server, &f);
    if (fd < 0) { st = St::Tcp; fail_or_lose(f); return; }
    st = St::Tcp;
    ep_add(this, EPOLLIN | EPOLLOUT);
  }
  void shutdown(bool rst) override { close_fd(this, rst); }
  void on_write_error(int err) override { fail_or_lose(errno_fail(err) == F_OTHER ? F_RESET : errno_fail(err)); }

  void queue_frame(std::uint8_t opcode, const char* p, std::size_t n) {
    char hdr[14];
    std::size_t h = 0;
    hdr[h++] = char(0x80 | opcode);
    if (n < 126) hdr[h++] = char(0x80 | n);
    else if (n < 65536) { hdr[h++] = char(0x80 | 126); hdr[h++] = char(n >> 8); hdr[h++] = char(n); }
    else { hdr[h++] = char(0x80 | 127); for (int i = 7; i >= 0; --i) hdr[h++] = char(std::uint64_t(n) >> (8 * i)); }
    const std::uint32_t m = std::uint32_t(rnd());
    unsigned char mask[4] = {std::uint8_t(m), std::uint8_t(m >> 8), std::uint8_t(m >> 16), std::uint8_t(m >> 24)};
    std::memcpy(hdr + h, mask, 4);
    h += 4;
    if (out_off > 0 && out_off == out.size()) { out.clear(); out_off = 0; }
    out.append(hdr, h);
    const std::size_t base = out.size();
    out.append(p, n);
    // Eight bytes at a time: the mask repeats every four, so a doubled 32-bit mask covers a word.
    char* d = &out[base];
    std::uint64_t m8;
    std::memcpy(&m8, mask, 4);
    std::memcpy(reinterpret_cast<char*>(&m8) + 4, mask, 4);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      std::uint64_t w;
      std::memcpy(&w, d + i, 8);
      w ^= m8;
      std::memcpy(d + i, &w, 8);
    }
    for (; i < n; ++i) d[i] = char(d[i] ^ char(mask[i & 3]));
  }
  void send_eio(std::string_view pkt) override {
    if (fd < 0) return;
    queue_frame(1, pkt.data(), pkt.size());
  }
  void flush_out() override {
    if (fd >= 0 && st != St::Tcp) flush(this);
  }

  void on_io(std::uint32_t ev) override {
    if (st == St::Tcp) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) { fail_or_lose(errno_fail(err)); return; }
      if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
      if (ev & (EPOLLERR | EPOLLHUP)) { fail_or_lose(F_RESET); return; }
      unsigned char rk[16];
      for (int i = 0; i < 16; i += 8) { const std::uint64_t r = rnd(); std::memcpy(rk + i, &r, 8); }
      const std::string k = bench::base64(rk, 16);
      std::memcpy(key, k.data(), 24);
      char req[512];
      const int n = std::snprintf(req, sizeof req,
                                  "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                                  "Host: %s:%d\r\n"
                                  "Upgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n"
                                  "Sec-WebSocket-Key: %s\r\n"
                                  "Sec-WebSocket-Version: 13\r\n\r\n",
                                  g_opt.host.c_str(), g_opt.ports[server], key);
      st = St::Http;
      out.append(req, std::size_t(n));
      flush(this);
      return;
    }
    if (ev & EPOLLOUT) {
      if (!flush(this)) return;
    }
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_some();
  }

  void read_some() {
    const ssize_t n = ::recv(fd, g_scratch, kScratch, 0);
    if (n == 0) { fail_or_lose(F_EOF); return; }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      fail_or_lose(errno_fail(errno) == F_OTHER ? F_RESET : errno_fail(errno));
      return;
    }
    const char* data;
    std::size_t len;
    const bool buffered = !in.empty();
    if (buffered) { in.append(g_scratch, std::size_t(n)); data = in.data(); len = in.size(); }
    else { data = g_scratch; len = std::size_t(n); }
    const std::size_t used = consume(data, len);
    if (st == St::Closed) { in.clear(); frag.clear(); return; }
    if (buffered) in.erase(0, used);
    else if (used < len) in.assign(data + used, len - used);
    flush_out();
  }

  // Parses as much as possible; returns bytes consumed.
  std::size_t consume(const char* data, std::size_t len) {
    std::size_t pos = 0;
    if (st == St::Http) {
      const void* hit = memmem(data, len, "\r\n\r\n", 4);
      if (!hit) {
        if (len > 16384) fail_or_lose(F_PROTOCOL);
        return 0;
      }
      const std::size_t head_len = std::size_t(static_cast<const char*>(hit) - data);
      std::string_view head(data, head_len);
      if (head.substr(0, 12) != "HTTP/1.1 101") {
        if (g.protocol_samples++ < 3) error_note("handshake answered: %.40s", std::string(head.substr(0, 40)).c_str());
        fail_or_lose(F_HTTP_STATUS);
        return len;
      }
      if (g_opt.verify_accept) {
        const std::string_view acc = header_value(head, "sec-websocket-accept");
        if (acc != bench::websocket_accept(std::string_view(key, 24))) { fail_or_lose(F_BAD_ACCEPT); return len; }
      }
      st = St::Open;
      pos = head_len + 4;
    }
    while (st != St::Closed) {
      const std::size_t avail = len - pos;
      if (avail < 2) break;
      const auto* b = reinterpret_cast<const unsigned char*>(data + pos);
      const bool fin = b[0] & 0x80;
      const unsigned opcode = b[0] & 0x0F;
      if ((b[0] & 0x70) != 0 || (b[1] & 0x80) != 0) {  // RSV bits or a masked server frame
        if (g.protocol_samples++ < 3) error_note("bad WebSocket frame header %02x %02x", b[0], b[1]);
        fail_or_lose(F_PROTOCOL);
        return len;
      }
      std::uint64_t plen = b[1] & 0x7F;
      std::size_t hlen = 2;
      if (plen == 126) {
        if (avail < 4) break;
        plen = (std::uint64_t(b[2]) << 8) | b[3];
        hlen = 4;
      } else if (plen == 127) {
        if (avail < 10) break;
        plen = 0;
        for (int i = 0; i < 8; ++i) plen = (plen << 8) | b[2 + i];
        hlen = 10;
      }
      if (plen > (16u << 20)) { fail_or_lose(F_PROTOCOL); return len; }
      if (avail < hlen + plen) break;
      const char* payload = data + pos + hlen;
      pos += hlen + std::size_t(plen);
      switch (opcode) {
        case 1:
          if (in_frag) { fail_or_lose(F_PROTOCOL); return len; }
          if (fin) on_eio(payload, std::size_t(plen));
          else { frag.assign(payload, std::size_t(plen)); in_frag = true; }
          break;
        case 0:
          if (!in_frag) { fail_or_lose(F_PROTOCOL); return len; }
          frag.append(payload, std::size_t(plen));
          if (fin) {
            in_frag = false;
            std::string msg;
            msg.swap(frag);
            on_eio(msg.data(), msg.size());
          }
          break;
        case 8: fail_or_lose(F_WS_CLOSE); return len;
        case 9: ++g.ws_pings; queue_frame(10, payload, std::size_t(plen)); break;
        case 10: break;
        default:  // binary frames are not used by the contract
          fail_or_lose(F_PROTOCOL);
          return len;
      }
    }
    return pos;
  }
};

// ---- long-polling client --------------------------------------------------------------------

struct PollClient;
struct HttpConn final : Handler {
  PollClient* owner = nullptr;
  bool is_get = true;
  enum class S { Closed, Connecting, Idle, Busy } s = S::Closed;
  std::string request;  // sent once connected
  std::string in;
  HttpConn() { register_handler(this); }
  void on_io(std::uint32_t ev) override;
  void on_write_error(int err) override;
  void read_some();
  void conn_failed(Fail f);
};

struct PollClient final : Client {
  HttpConn get, post;
  std::string sid;
  std::string post_queue;  // packets waiting to be POSTed, \x1e separated
  std::string post_body;   // packets of the POST in progress
  std::string path_base;

  PollClient() {
    get.owner = this;
    get.is_get = true;
    post.owner = this;
    post.is_get = false;
  }
  bool is_polling() const override { return true; }

  bool open_conn(HttpConn& c) {
    Fail f = F_OTHER;
    c.fd = open_tcp(idx, server, &f);
    if (c.fd < 0) { fail_or_lose(f); return false; }
    c.s = HttpConn::S::Connecting;
    ep_add(&c, EPOLLIN | EPOLLOUT);
    return true;
  }
  void send_request(HttpConn& c, std::string req) {
    c.request = std::move(req);
    if (c.s == HttpConn::S::Closed) {
      if (!open_conn(c)) return;
      return;  // sent when connected
    }
    c.s = HttpConn::S::Busy;
    c.out += c.request;
    c.request.clear();
    flush(&c);
  }
  std::string poll_get() const {
    char b[300];
    std::snprintf(b, sizeof b, "GET /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
                  sid.c_str(), g_opt.host.c_str(), g_opt.ports[server]);
    return b;
  }
  void start() override {
    st = St::Tcp;
    char b[256];
    std::snprintf(b, sizeof b, "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
                  g_opt.host.c_str(), g_opt.ports[server]);
    send_request(get, b);
  }
  void on_open(std::string_view js) override {
    const char* p = js.data();
    const char* e = js.data() + js.size();
    if (find_key(p, e, "\"sid\"") && p < e && *p == '"') {
      const void* q = memchr(p + 1, '"', std::size_t(e - p - 1));
      if (q) sid.assign(p + 1, static_cast<const char*>(q));
    }
  }
  void send_eio(std::string_view pkt) override {
    if (st == St::Closed) return;
    if (!post_queue.empty()) post_queue += '\x1e';
    post_queue.append(pkt.data(), pkt.size());
  }
  void flush_out() override {
    if (st == St::Closed || post_queue.empty() || !post_body.empty() || sid.empty()) return;
    post_body.swap(post_queue);
    post_queue.clear();
    char b[400];
    std::snprintf(b, sizeof b,
                  "POST /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: %s:%d\r\n"
                  "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %zu\r\n\r\n",
                  sid.c_str(), g_opt.host.c_str(), g_opt.ports[server], post_body.size());
    std::string req(b);
    req += post_body;
    send_request(post, std::move(req));
  }
  void shutdown(bool rst) override {
    close_fd(&get, rst);
    close_fd(&post, rst);
    get.s = post.s = HttpConn::S::Closed;
  }

  void on_response(HttpConn& c, int status, std::string_view body) {
    if (status != 200) {
      if (g.protocol_samples++ < 3) error_note("polling %s answered HTTP %d: %.60s", c.is_get ? "GET" : "POST", status, std::string(body.substr(0, 60)).c_str());
      fail_or_lose(F_HTTP_STATUS);
      return;
    }
    if (!c.is_get) {
      post_body.clear();
      flush_out();
      return;
    }
    if (st == St::Tcp || st == St::Http) st = St::Open;
    std::size_t p = 0;
    while (p <= body.size() && st != St::Closed) {
      std::size_t q = body.find('\x1e', p);
      if (q == std::string_view::npos) q = body.size();
      if (q > p) on_eio(body.data() + p, q - p);
      p = q + 1;
    }
    if (st == St::Closed) return;
    send_request(get, poll_get());
    flush_out();
  }
};

void HttpConn::conn_failed(Fail f) {
  if (!is_get && s == S::Idle) {  // keep-alive POST connection closed by the server while idle
    close_fd(this, false);
    s = S::Closed;
    return;
  }
  owner->fail_or_lose(is_get ? f : F_POST_FAILED);
}
void HttpConn::on_write_error(int err) { conn_failed(errno_fail(err) == F_OTHER ? F_RESET : errno_fail(err)); }

void HttpConn::on_io(std::uint32_t ev) {
  if (s == S::Connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) { conn_failed(errno_fail(err)); return; }
    if (ev & (EPOLLERR | EPOLLHUP)) { conn_failed(F_RESET); return; }
    if (!(ev & EPOLLOUT)) return;
    if (is_get && owner->st == St::Tcp) owner->st = St::Http;
    s = S::Busy;
    out += request;
    request.clear();
    flush(this);
    return;
  }
  if (ev & EPOLLOUT) {
    if (!flush(this)) return;
  }
  if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_some();
}

void HttpConn::read_some() {
  const ssize_t n = ::recv(fd, g_scratch, kScratch, 0);
  if (n == 0) { conn_failed(F_EOF); return; }
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    conn_failed(errno_fail(errno) == F_OTHER ? F_RESET : errno_fail(errno));
    return;
  }
  if (s != S::Busy) { owner->fail_or_lose(F_PROTOCOL); return; }
  in.append(g_scratch, std::size_t(n));
  // One complete response? (Content-Length or chunked.)
  const std::size_t he = in.find("\r\n\r\n");
  if (he == std::string::npos) {
    if (in.size() > 65536) owner->fail_or_lose(F_PROTOCOL);
    return;
  }
  std::string_view head(in.data(), he);
  int status = 0;
  if (head.size() > 12 && head.substr(0, 5) == "HTTP/") status = std::atoi(std::string(head.substr(9, 3)).c_str());
  const std::string_view cl = header_value(head, "content-length");
  const std::string_view te = header_value(head, "transfer-encoding");
  const bool close_after = iequal_prefix(header_value(head, "connection"), "close");
  std::string body;
  std::size_t total = 0;
  if (!cl.empty()) {
    const std::size_t blen = std::size_t(std::strtoull(std::string(cl).c_str(), nullptr, 10));
    if (in.size() < he + 4 + blen) return;
    body.assign(in, he + 4, blen);
    total = he + 4 + blen;
  } else if (iequal_prefix(te, "chunked")) {
    std::size_t p = he + 4;
    for (;;) {
      const std::size_t le = in.find("\r\n", p);
      if (le == std::string::npos) return;
      const std::size_t csz = std::size_t(std::strtoull(in.substr(p, le - p).c_str(), nullptr, 16));
      if (csz == 0) {  // last chunk, no trailers
        if (in.size() < le + 4) return;
        total = le + 4;
        break;
      }
      if (in.size() < le + 2 + csz + 2) return;
      body.append(in, le + 2, csz);
      p = le + 2 + csz + 2;
    }
  } else {
    owner->fail_or_lose(F_PROTOCOL);  // responses without a length are not expected
    return;
  }
  if (total < in.size()) { owner->fail_or_lose(F_PROTOCOL); return; }  // no pipelining here
  in.clear();
  s = S::Idle;
  if (close_after) { close_fd(this, false); s = S::Closed; }
  else ep_set(this, EPOLLIN);
  owner->on_response(*this, status, body);
}

// ---------------------------------------------------------------------------------------------
// Connection phase shared by the scenarios: starts clients with at most max_pending in progress.

struct Connector {
  std::vector<Client*> list;
  std::size_t next = 0, pending = 0, resolved = 0;
  std::size_t max_pending = 500;
  std::uint64_t deadline = 0;
  bool finished = false, pumping = false;
  void pump() {
    if (pumping) return;  // a client that fails synchronously resolves inside begin()
    pumping = true;
    while (!finished && next < list.size() && pending < max_pending) {
      Client* c = list[next++];
      ++pending;
      c->begin();
    }
    pumping = false;
  }
  void resolved_one(Client& c) {
    if (c.resolved) return;
    c.resolved = true;
    if (pending > 0) --pending;
    ++resolved;
    pump();
  }
  bool all_resolved() const { return resolved >= list.size(); }
  // At the deadline: every client still connecting fails with a timeout of its phase.
  void expire() {
    finished = true;
    for (Client* c : list) {
      if (c->resolved) continue;
      if (c->st == St::Connected) {  // connected, the join was not acknowledged in time
        ++g.connect_fail[F_JOIN_TIMEOUT];
        resolved_one(*c);
      } else if (c->st != St::Closed && c->st != St::Idle) {
        c->fail_or_lose(c->timeout_kind());
      }
    }
    for (std::size_t i = next; i < list.size(); ++i) {
      ++g.connect_fail[F_TIMEOUT_TCP];
      ++g.attempted;
      ++resolved;
    }
    next = list.size();
  }
};

std::vector<std::unique_ptr<Client>> g_clients;

Client* make_client(bool polling) {
  std::unique_ptr<Client> c;
  if (polling) c = std::make_unique<PollClient>();
  else c = std::make_unique<WsClient>();
  c->idx = g_clients.size();
  c->server = std::size_t(c->idx % g_opt.ports.size());  // round-robin over the cluster's instances
  g_clients.push_back(std::move(c));
  return g_clients.back().get();
}

std::string g_pad;
std::uint64_t secs(double s) { return std::uint64_t(s * 1e9); }

// ---------------------------------------------------------------------------------------------
// storm: every client connects at the same moment.

struct Storm final : Scenario {
  Connector con;
  std::uint64_t end = 0;
  bool over = false;
  Storm() {
    for (long i = 0; i < g_opt.clients; ++i) con.list.push_back(make_client(false));
    con.max_pending = g_opt.max_pending > 0 ? std::size_t(g_opt.max_pending) : con.list.size();
  }
  void begin() override {
    con.deadline = mono_ns() + secs(g_opt.connect_timeout);
    phase("connect_start");
    con.pump();
  }
  void on_connected(Client& c) override { con.resolved_one(c); }
  void on_failed(Client& c) override { con.resolved_one(c); }
  void tick(std::uint64_t now) override {
    if (over) return;
    if (!con.all_resolved() && now >= con.deadline) con.expire();
    if (con.all_resolved() && end == 0) {
      phase("connected");
      end = now + 500000000ull;  // hold half a second, then reset everything
    }
    if (end && now >= end) over = true;
  }
  bool done() const override { return over; }
  bool ok() const override { return g.connected == std::uint64_t(g_opt.clients); }
  std::uint64_t hard_deadline_s() const override { return std::uint64_t(g_opt.connect_timeout) + 30; }
};

// ---------------------------------------------------------------------------------------------
// idle: N WebSocket connections held across several ping intervals.

struct Idle final : Scenario {
  Connector con;
  std::uint64_t hold_end = 0, end = 0;
  bool over = false;
  std::uint64_t lost_total = 0;
  Idle() {
    for (long i = 0; i < g_opt.clients; ++i) con.list.push_back(make_client(false));
    con.max_pending = g_opt.max_pending > 0 ? std::size_t(g_opt.max_pending) : 500;
  }
  void begin() override {
    con.deadline = mono_ns() + secs(g_opt.connect_timeout);
    phase("connect_start");
    con.pump();
  }
  void on_connected(Client& c) override { con.resolved_one(c); }
  void on_failed(Client& c) override { con.resolved_one(c); }
  std::uint64_t connected_at = 0, last_lost_at = 0;
  void on_lost(Client&) override {
    ++lost_total;
    last_lost_at = mono_ns();
  }
  void tick(std::uint64_t now) override {
    if (over) return;
    if (!con.all_resolved() && now >= con.deadline) con.expire();
    if (con.all_resolved() && hold_end == 0) {
      connected_at = now;
      phase("connected");
      for (auto& c : g_clients) c->pings = 0;
      hold_end = now + secs(g_opt.hold);
    }
    if (hold_end && end == 0 && now >= hold_end) {
      phase("hold_end");
      end = now + 300000000ull;  // let the harness sample the server, then reset everything
    }
    if (end && now >= end) over = true;
  }
  bool done() const override { return over; }
  std::uint32_t min_pings() const {
    std::uint32_t m = UINT32_MAX;
    for (auto& c : g_clients)
      if (c->st == St::Connected) m = std::min(m, c->pings);
    return m == UINT32_MAX ? 0 : m;
  }
  std::uint64_t expected_pings() const {
    if (g.ping_interval <= 0) return 0;
    return std::uint64_t(g_opt.hold * 1000.0 / double(g.ping_interval));
  }
  bool ok() const override {
    if (g_opt.no_pong) return g.connected == std::uint64_t(g_opt.clients) && lost_total == g.connected;
    const std::uint64_t exp = expected_pings();
    return g.connected == std::uint64_t(g_opt.clients) && lost_total == 0 && (exp < 2 || min_pings() >= exp - 1);
  }
  void report(Json& j) override {
    std::uint64_t alive = 0, pings = 0;
    for (auto& c : g_clients)
      if (c->st == St::Connected) { ++alive; pings += c->pings; }
    j.key("idle").open();
    j.kv("hold_s", g_opt.hold);
    j.kv("alive_at_end", alive);
    j.kv("lost", lost_total);
    j.kv("pings_answered", pings);
    j.kv("pings_expected_per_conn", expected_pings());
    j.kv("min_pings_per_conn", std::uint64_t(min_pings()));
    j.kv("mean_pings_per_conn", alive ? double(pings) / double(alive) : 0.0);
    j.kv_bool("no_pong", g_opt.no_pong);
    if (g_opt.no_pong) j.kv("all_dropped_after_s", lost_total && last_lost_at > connected_at && connected_at ? double(last_lost_at - connected_at) / 1e9 : 0.0);
    j.close();
  }
  std::uint64_t hard_deadline_s() const override { return std::uint64_t(g_opt.connect_timeout + g_opt.hold) + 30; }
};

// ---------------------------------------------------------------------------------------------
// fanout / polling: receivers join a room, one WebSocket publisher broadcasts to it.

struct Fanout final : Scenario {
  bool polling;
  bool sat;
  Connector con;
  Client* publisher = nullptr;
  std::uint64_t joined = 0, lost_total = 0;
  enum class P { Connecting, Publishing, Draining, Over } ph = P::Connecting;
  std::uint64_t t0 = 0, measure_start = 0, publish_end = 0, drain_end = 0, end_at = 0;
  std::uint64_t measure_start_rt = 0, publish_end_rt = 0;
  std::uint64_t sent = 0, low = 0, stalled = 0;
  std::vector<std::uint32_t> count;    // deliveries per seq
  std::vector<std::uint64_t> sent_at;  // mono ns per seq
  std::uint64_t delivered = 0, dups = 0, ooo = 0, bad = 0, window_deliveries = 0;
  std::uint64_t first_delivery = 0, last_delivery = 0;
  std::uint64_t complete_at = 0;
  Histogram lat;
  std::string msg;
  std::vector<std::uint64_t> delivered_by_server, joined_by_server;  // per --ports entry

  explicit Fanout(bool poll) : polling(poll), sat(!poll && g_opt.mode == "sat") {
    publisher = make_client(false);
    publisher->server = 0;  // the contract (section 6): the publisher sits on the first instance
    for (long i = 0; i < g_opt.clients; ++i) {
      Client* c = make_client(polling);
      c->receiver = true;
      c->server = std::size_t(i) % g_opt.ports.size();
      con.list.push_back(c);
    }
    con.max_pending = g_opt.max_pending > 0 ? std::size_t(g_opt.max_pending) : 500;
    delivered_by_server.assign(g_opt.ports.size(), 0);
    joined_by_server.assign(g_opt.ports.size(), 0);
  }
  void begin() override {
    con.deadline = mono_ns() + secs(g_opt.connect_timeout);
    phase("connect_start");
    publisher->begin();
    con.pump();
  }
  void on_connected(Client& c) override {
    if (!c.receiver) return;
    char b[160];
    const int n = std::snprintf(b, sizeof b, "42%" PRIu64 "[\"join\",\"%s\"]", c.next_id++, g_opt.room.c_str());
    c.send_eio(std::string_view(b, std::size_t(n)));
  }
  void on_failed(Client& c) override {
    if (c.receiver) con.resolved_one(c);
    else error_note("publisher failed to connect");
  }
  void on_lost(Client& c) override {
    ++lost_total;
    if (c.receiver) con.resolved_one(c);
    else error_note("publisher lost its connection");
  }
  void on_ack(Client& c, std::uint64_t id, const char*, const char*) override {
    if (c.receiver && id == 1 && !c.joined) {
      c.joined = true;
      ++joined;
      ++joined_by_server[c.server];
      con.resolved_one(c);
    }
  }
  void on_event(Client& c, const char* p, const char* e) override {
    const std::uint64_t now_rt = real_ns();
    skip_ws(p, e);
    if (p >= e || *p != '[') { ++bad; return; }
    ++p;
    skip_ws(p, e);
    if (std::size_t(e - p) < 5 || std::memcmp(p, "\"msg\"", 5) != 0) return;  // other events ignored
    const char* q = p;
    std::uint64_t seq = 0, t = 0;
    if (!find_key(q, e, "\"seq\"") || !parse_uint(q, e, seq)) { ++bad; note_bad(p, e); return; }
    q = p;
    if (!find_key(q, e, "\"t\"") || !parse_uint(q, e, t)) { ++bad; note_bad(p, e); return; }
    if (seq >= sent) { ++bad; note_bad(p, e); return; }
    ++delivered;
    ++delivered_by_server[c.server];
    const std::uint64_t now = mono_ns();
    if (first_delivery == 0) first_delivery = now;
    last_delivery = now;
    if (now >= measure_start && now <= publish_end) ++window_deliveries;
    if (t >= measure_start_rt && t <= publish_end_rt) lat.add(now_rt > t ? now_rt - t : 0);
    // order / duplicates for this receiver
    if (!c.have_seq || seq > c.max_seq) {
      if (c.have_seq) {
        if (seq - c.max_seq >= 1024) std::memset(c.seen, 0, sizeof c.seen);
        else for (std::uint64_t s = c.max_seq + 1; s < seq; ++s) c.seen[(s >> 6) & 15] &= ~(1ull << (s & 63));
      }
      c.seen[(seq >> 6) & 15] |= 1ull << (seq & 63);
      c.max_seq = seq;
      c.have_seq = true;
      ++count[seq];
    } else if (c.max_seq - seq >= 1024) {
      ++ooo;
      ++count[seq];
    } else if (c.seen[(seq >> 6) & 15] & (1ull << (seq & 63))) {
      ++dups;
    } else {
      ++ooo;
      c.seen[(seq >> 6) & 15] |= 1ull << (seq & 63);
      ++count[seq];
    }
  }
  void note_bad(const char* p, const char* e) {
    if (g.protocol_samples++ < 3) error_note("unparsable msg: %.80s", std::string(p, std::size_t(std::min<long>(e - p, 80))).c_str());
  }

  void publish_one() {
    const std::uint64_t t = real_ns();
    msg.resize(0);
    char b[200];
    const int n = std::snprintf(b, sizeof b, "42[\"broadcast\",{\"room\":\"%s\",\"seq\":%" PRIu64 ",\"t\":%" PRIu64 ",\"pad\":\"",
                                g_opt.room.c_str(), sent, t);
    msg.append(b, std::size_t(n));
    msg += g_pad;
    msg += "\"}]";
    publisher->send_eio(msg);
    count.push_back(0);
    sent_at.push_back(mono_ns());
    ++sent;
  }
  std::uint64_t receivers_alive() const { return joined - std::min(joined, lost_total); }

  void tick(std::uint64_t now) override {
    if (ph == P::Connecting) {
      if (!con.all_resolved() && now >= con.deadline) con.expire();
      if (publisher->st == St::Closed) { error_note("no publisher"); ph = P::Over; return; }
      if (!con.all_resolved() || publisher->st != St::Connected) return;
      if (joined == 0) { error_note("no receiver joined"); ph = P::Over; return; }
      phase("connected");
      ph = P::Publishing;
      t0 = now;
      measure_start = t0 + secs(g_opt.warmup);
      publish_end = t0 + secs(g_opt.duration);
      measure_start_rt = real_ns() + (measure_start - now);
      publish_end_rt = real_ns() + (publish_end - now);
    }
    if (ph == P::Publishing) {
      if (!warm_marked && now >= measure_start) {
        warm_marked = true;
        phase("measure_start");
      }
      if (now >= publish_end) {
        phase("measure_end");
        ph = P::Draining;
        drain_end = now + secs(g_opt.drain);
      } else if (publisher->st == St::Connected) {
        if (sat) {
          advance_low(now);
          while (sent - low < std::uint64_t(g_opt.window)) publish_one();
        } else {
          const std::uint64_t due = std::uint64_t(double(now - t0) / 1e9 * g_opt.rate) + 1;
          std::uint64_t n = 0;
          while (sent < due && n++ < 10000) publish_one();
        }
        publisher->flush_out();
      }
    }
    if (ph == P::Draining) {
      advance_low(now);
      const bool all = low >= sent;
      if (all && complete_at == 0) complete_at = now;
      if (all || now >= drain_end) {
        phase("drained");
        ph = P::Over;
      }
    }
  }
  bool warm_marked = false;
  void advance_low(std::uint64_t now) {
    const std::uint64_t need = receivers_alive();
    while (low < sent && (count[low] >= need || now - sent_at[low] > 5000000000ull)) {
      if (count[low] < need) ++stalled;
      ++low;
    }
  }
  std::uint64_t next_wake(std::uint64_t now) override {
    if (ph == P::Publishing && !sat && g_opt.rate > 0) {
      const std::uint64_t next_due = t0 + std::uint64_t(double(sent) / g_opt.rate * 1e9);
      return std::max(now, std::min<std::uint64_t>(next_due, now + 100000000ull));
    }
    if (ph == P::Publishing && sat) return now + 1000000ull;
    return now + 10000000ull;
  }
  bool done() const override { return ph == P::Over; }
  std::uint64_t expected() const { return sent * joined; }
  std::uint64_t unique() const { return delivered - dups; }
  std::uint64_t lost_msgs() const { return expected() > unique() ? expected() - unique() : 0; }
  bool ok() const override {
    return joined == std::uint64_t(g_opt.clients) && sent > 0 && lost_msgs() == 0 && dups == 0 && ooo == 0 && bad == 0 &&
           lost_total == 0;
  }
  void report(Json& j) override {
    const double window_s = double(publish_end - std::min(publish_end, measure_start)) / 1e9;
    const double pub_s = double(publish_end - t0) / 1e9;
    j.key(polling ? "polling" : "fanout").open();
    j.kv_str("mode", sat ? "sat" : "rate");
    j.kv("receivers_joined", joined);
    j.kv("broadcasts_sent", sent);
    j.kv("broadcasts_per_s", pub_s > 0 ? double(sent) / pub_s : 0.0);
    j.kv("expected_deliveries", expected());
    j.kv("delivered", delivered);
    j.kv("lost", lost_msgs());
    j.kv("duplicates", dups);
    j.kv("out_of_order", ooo);
    j.kv("malformed", bad);
    j.kv("stalled_broadcasts", stalled);
    j.kv("receivers_lost", lost_total);
    if (g_opt.ports.size() > 1) {  // a cluster: how the load spread over the instances
      j.key("receivers_joined_by_port").open();
      for (std::size_t i = 0; i < g_opt.ports.size(); ++i) j.kv(std::to_string(g_opt.ports[i]).c_str(), joined_by_server[i]);
      j.close();
      j.key("delivered_by_port").open();
      for (std::size_t i = 0; i < g_opt.ports.size(); ++i) j.kv(std::to_string(g_opt.ports[i]).c_str(), delivered_by_server[i]);
      j.close();
    }
    j.kv("window_s", window_s);
    j.kv("window_deliveries", window_deliveries);
    j.kv("deliveries_per_s", window_s > 0 ? double(window_deliveries) / window_s : 0.0);
    j.kv("drain_s", complete_at > publish_end ? double(complete_at - publish_end) / 1e9 : 0.0);
    hist_ms(j, "latency", lat);
    j.close();
  }
  std::uint64_t hard_deadline_s() const override {
    return std::uint64_t(g_opt.connect_timeout + g_opt.duration + g_opt.drain) + 30;
  }
};

// ---------------------------------------------------------------------------------------------
// echo: acked events, K in flight per client.

struct Echo final : Scenario {
  Connector con;
  enum class P { Connecting, Running, Draining, Over } ph = P::Connecting;
  std::uint64_t t0 = 0, measure_start = 0, run_end = 0, drain_end = 0;
  std::uint64_t sent = 0, acks = 0, window_acks = 0, unknown = 0, t_mismatch = 0, pad_mismatch = 0, lost_total = 0;
  Histogram rtt;
  bool warm_marked = false;
  std::string msg;
  Echo() {
    for (long i = 0; i < g_opt.clients; ++i) con.list.push_back(make_client(false));
    con.max_pending = g_opt.max_pending > 0 ? std::size_t(g_opt.max_pending) : 500;
  }
  void begin() override {
    con.deadline = mono_ns() + secs(g_opt.connect_timeout);
    phase("connect_start");
    con.pump();
  }
  void on_connected(Client& c) override { con.resolved_one(c); }
  void on_failed(Client& c) override { con.resolved_one(c); }
  void on_lost(Client&) override { ++lost_total; }
  // `t` is the wall clock now (the caller may pass the reading it just took).
  void send_echo(Client& c, std::uint64_t t = real_ns()) {
    const std::uint64_t id = c.next_id++;
    // to_chars, not snprintf: this runs once per ack, and the load generator must stay the cheaper side.
    char num[24];
    msg.assign("42");
    msg.append(num, std::size_t(std::to_chars(num, num + sizeof num, id).ptr - num));
    msg += "[\"echo\",{\"t\":";
    msg.append(num, std::size_t(std::to_chars(num, num + sizeof num, t).ptr - num));
    msg += ",\"pad\":\"";
    msg += g_pad;
    msg += "\"}]";
    c.send_eio(msg);
    c.pending.emplace_back(id, t);
    ++sent;
  }
  void on_ack(Client& c, std::uint64_t id, const char* p, const char* e) override {
    const std::uint64_t now_rt = real_ns();
    auto it = std::find_if(c.pending.begin(), c.pending.end(), [id](const auto& x) { return x.first == id; });
    if (it == c.pending.end()) { ++unknown; return; }
    const std::uint64_t t_sent = it->second;
    *it = c.pending.back();
    c.pending.pop_back();
    ++acks;
    const char* q = p;
    std::uint64_t t = 0;
    if (!find_key(q, e, "\"t\"") || !parse_uint(q, e, t) || (t > t_sent ? t - t_sent : t_sent - t) > 1000) {
      if (t_mismatch++ == 0) error_note("echo t mismatch: sent %" PRIu64 ", got %.80s", t_sent, std::string(p, std::size_t(std::min<long>(e - p, 80))).c_str());
    } else {
      q = p;
      if (!find_key(q, e, "\"pad\"") || q >= e || *q != '"') ++pad_mismatch;
      else {
        const char* s = q + 1;
        const void* close_q = memchr(s, '"', std::size_t(e - s));
        if (!close_q || std::size_t(static_cast<const char*>(close_q) - s) != g_pad.size()) ++pad_mismatch;
      }
    }
    const std::uint64_t now = mono_ns();
    if (now >= measure_start && now <= run_end) {
      ++window_acks;
      rtt.add(now_rt > t_sent ? now_rt - t_sent : 0);
    }
    if (ph == P::Running && now < run_end) send_echo(c, now_rt);
  }
  void tick(std::uint64_t now) override {
    if (ph == P::Connecting) {
      if (!con.all_resolved() && now >= con.deadline) con.expire();
      if (!con.all_resolved()) return;
      if (g.connected == 0) { error_note("no client connected"); ph = P::Over; return; }
      phase("connected");
      ph = P::Running;
      t0 = now;
      measure_start = t0 + secs(g_opt.warmup);
      run_end = t0 + secs(g_opt.duration);
      if (g_opt.warmup <= 0) { phase("measure_start"); warm_marked = true; }
      for (auto& c : g_clients) {
        if (c->st != St::Connected) continue;
        for (int k = 0; k < g_opt.inflight; ++k) send_echo(*c);
        c->flush_out();
      }
      return;
    }
    if (ph == P::Running) {
      if (!warm_marked && now >= measure_start) { warm_marked = true; phase("measure_start"); }
      if (now >= run_end) {
        phase("measure_end");
        ph = P::Draining;
        drain_end = now + secs(g_opt.drain);
      }
    }
    if (ph == P::Draining) {
      bool any = false;
      for (auto& c : g_clients)
        if (c->st == St::Connected && !c->pending.empty()) { any = true; break; }
      if (!any || now >= drain_end) { phase("drained"); ph = P::Over; }
    }
  }
  std::uint64_t next_wake(std::uint64_t now) override { return now + 5000000ull; }
  bool done() const override { return ph == P::Over; }
  std::uint64_t unanswered() const {
    std::uint64_t n = 0;
    for (auto& c : g_clients)
      if (c->st == St::Connected) n += c->pending.size();
    return n;
  }
  bool ok() const override {
    return g.connected == std::uint64_t(g_opt.clients) && acks > 0 && unknown == 0 && t_mismatch == 0 && pad_mismatch == 0 &&
           lost_total == 0 && unanswered() == 0;
  }
  void report(Json& j) override {
    const double window_s = double(run_end - std::min(run_end, measure_start)) / 1e9;
    j.key("echo").open();
    j.kv("inflight", g_opt.inflight);
    j.kv("sent", sent);
    j.kv("acks", acks);
    j.kv("window_s", window_s);
    j.kv("window_acks", window_acks);
    j.kv("acks_per_s", window_s > 0 ? double(window_acks) / window_s : 0.0);
    j.kv("unknown_ack_ids", unknown);
    j.kv("t_mismatch", t_mismatch);
    j.kv("pad_mismatch", pad_mismatch);
    j.kv("unanswered", unanswered());
    j.kv("clients_lost", lost_total);
    hist_ms(j, "rtt", rtt);
    j.close();
  }
  std::uint64_t hard_deadline_s() const override {
    return std::uint64_t(g_opt.connect_timeout + g_opt.duration + g_opt.drain) + 30;
  }
};

// ---------------------------------------------------------------------------------------------

void raise_nofile() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

double num_arg(const char* name, const char* v) {
  char* end = nullptr;
  const double d = std::strtod(v, &end);
  if (!end || *end != '\0' || !std::isfinite(d)) {
    std::fprintf(stderr, "courier_loadgen: bad value for %s: %s\n", name, v);
    std::exit(2);
  }
  return d;
}

void parse_args(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--scenario") g_opt.scenario = val();
    else if (a == "--host") g_opt.host = val();
    else if (a == "--port") g_opt.port = int(num_arg("--port", val()));
    else if (a == "--ports") {
      std::string list = val();
      for (std::size_t b = 0; b <= list.size();) {
        std::size_t e = list.find(',', b);
        if (e == std::string::npos) e = list.size();
        const std::string one = list.substr(b, e - b);
        const double v = num_arg("--ports", one.c_str());
        if (v <= 0 || v > 65535 || v != double(int(v))) usage("--ports: each port is 1..65535");
        g_opt.ports.push_back(int(v));
        b = e + 1;
      }
    }
    else if (a == "--clients") g_opt.clients = long(num_arg("--clients", val()));
    else if (a == "--rate") g_opt.rate = num_arg("--rate", val());
    else if (a == "--inflight") g_opt.inflight = int(num_arg("--inflight", val()));
    else if (a == "--duration") g_opt.duration = num_arg("--duration", val());
    else if (a == "--pad") g_opt.pad = long(num_arg("--pad", val()));
    else if (a == "--src-addrs") g_opt.src_addrs = int(num_arg("--src-addrs", val()));
    else if (a == "--max-pending") g_opt.max_pending = long(num_arg("--max-pending", val()));
    else if (a == "--connect-timeout") g_opt.connect_timeout = num_arg("--connect-timeout", val());
    else if (a == "--warmup") g_opt.warmup = num_arg("--warmup", val());
    else if (a == "--drain") g_opt.drain = num_arg("--drain", val());
    else if (a == "--hold") g_opt.hold = num_arg("--hold", val());
    else if (a == "--mode") g_opt.mode = val();
    else if (a == "--window") g_opt.window = int(num_arg("--window", val()));
    else if (a == "--room") g_opt.room = val();
    else if (a == "--no-verify-accept") g_opt.verify_accept = false;
    else if (a == "--max-runtime") g_opt.max_runtime = num_arg("--max-runtime", val());
    else if (a == "--verbose") g_opt.verbose = true;
    else if (a == "--no-pong") g_opt.no_pong = true;
    else if (a == "-h" || a == "--help") usage(nullptr);
    else usage(("unknown option " + a).c_str());
  }
  const std::string& s = g_opt.scenario;
  if (s != "storm" && s != "idle" && s != "fanout" && s != "echo" && s != "polling") usage("--scenario is required");
  if (!g_opt.ports.empty() && g_opt.port > 0) usage("--port and --ports exclude each other");
  if (g_opt.ports.empty()) {
    if (g_opt.port <= 0 || g_opt.port > 65535) usage("--port (or --ports) is required");
    g_opt.ports.push_back(g_opt.port);
  }
  g_opt.port = g_opt.ports[0];
  if (g_opt.clients < 0) g_opt.clients = s == "echo" ? 100 : 1000;
  if (g_opt.clients < 1 || g_opt.clients > 1000000) usage("--clients out of range");
  if (g_opt.duration < 0) g_opt.duration = s == "storm" ? 30 : 10;
  if (g_opt.hold < 0) g_opt.hold = g_opt.duration;
  if (g_opt.connect_timeout < 0) g_opt.connect_timeout = s == "storm" ? g_opt.duration : 60;
  if (g_opt.warmup < 0) g_opt.warmup = 0;
  if (g_opt.warmup >= g_opt.duration && (s == "fanout" || s == "echo" || s == "polling")) usage("--warmup must be below --duration");
  if (g_opt.rate < 0) g_opt.rate = s == "polling" ? 10 : 100;
  if (g_opt.mode != "rate" && g_opt.mode != "sat") usage("--mode is rate or sat");
  if (g_opt.pad < 0 || g_opt.pad > 900000) usage("--pad is 0..900000");
  if (g_opt.inflight < 1 || g_opt.inflight > 1024) usage("--inflight is 1..1024");
  if (g_opt.window < 1) usage("--window is at least 1");
  if (g_opt.src_addrs < 1 || g_opt.src_addrs > 250) usage("--src-addrs is 1..250");
  if (g_opt.room.empty() || g_opt.room.size() > 64) usage("--room is 1..64 characters");
  for (char c : g_opt.room)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
      usage("--room: [A-Za-z0-9_.-] only");
  // Load goes to loopback only.
  in_addr a{};
  if (inet_pton(AF_INET, g_opt.host.c_str(), &a) != 1 || (ntohl(a.s_addr) >> 24) != 127) usage("--host must be a 127.x.y.z address");
  for (int p : g_opt.ports) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(std::uint16_t(p));
    sa.sin_addr = a;
    g_servers.push_back(sa);
  }
}

}  // namespace

int main(int argc, char** argv) {
  g_mono_start = mono_ns();
  parse_args(argc, argv);
  raise_nofile();
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  g_rng ^= real_ns() ^ (std::uint64_t(getpid()) << 32);
  g_pad.assign(std::size_t(g_opt.pad), 'x');
  g_ep = epoll_create1(EPOLL_CLOEXEC);
  if (g_ep < 0) { std::perror("epoll_create1"); return 1; }

  const std::string& s = g_opt.scenario;
  std::unique_ptr<Scenario> scn;
  g_clients.reserve(std::size_t(g_opt.clients) + 1);
  if (s == "storm") scn = std::make_unique<Storm>();
  else if (s == "idle") scn = std::make_unique<Idle>();
  else if (s == "echo") scn = std::make_unique<Echo>();
  else scn = std::make_unique<Fanout>(s == "polling");
  g_scn = scn.get();
  scn->begin();

  const double hard = g_opt.max_runtime > 0 ? g_opt.max_runtime : double(scn->hard_deadline_s());
  const std::uint64_t hard_deadline = g_mono_start + secs(hard);
  bool aborted = false;
  std::vector<epoll_event> evs(4096);
  std::uint64_t next_progress = mono_ns() + 1000000000ull;
  while (!scn->done()) {
    std::uint64_t now = mono_ns();
    scn->tick(now);
    if (scn->done()) break;
    if (g_stop) { error_note("interrupted by a signal"); aborted = true; break; }
    if (now >= hard_deadline) { error_note("hard deadline of %.0f s reached", hard); aborted = true; break; }
    const std::uint64_t wake = scn->next_wake(now);
    int timeout_ms = wake <= now ? 0 : int((wake - now + 999999) / 1000000);
    if (timeout_ms > 100) timeout_ms = 100;
    const int n = epoll_wait(g_ep, evs.data(), int(evs.size()), timeout_ms);
    if (n < 0 && errno != EINTR) { std::perror("epoll_wait"); return 1; }
    for (int i = 0; i < n; ++i) {
      const std::uint32_t slot = std::uint32_t(evs[std::size_t(i)].data.u64 >> 32);
      const std::uint32_t gen = std::uint32_t(evs[std::size_t(i)].data.u64);
      Handler* h = g_handlers[slot];
      if (h->fd < 0 || h->gen != gen) continue;
      h->on_io(evs[std::size_t(i)].events);
    }
    if (g_opt.verbose && mono_ns() >= next_progress) {
      next_progress += 1000000000ull;
      std::fprintf(stderr, "progress: attempted %" PRIu64 " connected %" PRIu64 "\n", g.attempted, g.connected);
    }
  }
  phase("done");
  // Every connection ends with a TCP RST (SO_LINGER 0), as the contract says.
  for (Handler* h : g_handlers) close_fd(h, true);
  const std::uint64_t wall = mono_ns() - g_mono_start;

  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double cpu_user = double(ru.ru_utime.tv_sec) + double(ru.ru_utime.tv_usec) / 1e6;
  const double cpu_sys = double(ru.ru_stime.tv_sec) + double(ru.ru_stime.tv_usec) / 1e6;

  bool ok = !aborted && scn->ok();
  Json j;
  j.open();
  j.kv_str("scenario", s);
  j.kv_str("transport", s == "polling" ? "polling" : "websocket");
  j.key("params").open();
  j.kv("port", g_opt.port);
  j.key("ports").open_arr();
  for (int p : g_opt.ports) j.num(double(p));
  j.close_arr();
  j.kv("clients", std::uint64_t(g_opt.clients));
  j.kv("duration_s", g_opt.duration);
  j.kv("rate", g_opt.rate);
  j.kv_str("mode", g_opt.mode);
  j.kv("window", g_opt.window);
  j.kv("inflight", g_opt.inflight);
  j.kv("pad", std::uint64_t(g_opt.pad));
  j.kv("warmup_s", g_opt.warmup);
  j.kv("hold_s", g_opt.hold);
  j.kv("src_addrs", g_opt.src_addrs);
  j.close();
  j.key("server_open").open();
  j.kv("pingInterval", double(g.ping_interval));
  j.kv("pingTimeout", double(g.ping_timeout));
  j.kv("maxPayload", double(g.max_payload));
  j.key("upgrades").raw(g.upgrades.empty() ? "null" : g.upgrades);
  j.close();
  j.key("connect").open();
  j.kv("attempted", g.attempted);
  j.kv("connected", g.connected);
  j.kv("success_rate", g_opt.clients > 0 ? double(g.connected) / double(g_opt.clients + (s == "fanout" || s == "polling" ? 1 : 0)) : 0.0);
  j.kv("all_connected_s", g.last_connected > g.first_start ? double(g.last_connected - g.first_start) / 1e9 : 0.0);
  hist_ms(j, "latency", g.connect_latency);
  j.key("failures").open();
  for (int k = 0; k < F_COUNT; ++k)
    if (g.connect_fail[k]) j.kv(kFailNames[k], g.connect_fail[k]);
  j.close();
  j.close();
  j.key("lost_connections").open();
  for (int k = 0; k < F_COUNT; ++k)
    if (g.lost[k]) j.kv(kFailNames[k], g.lost[k]);
  j.close();
  j.kv("pings_answered", g.pings);
  j.kv("ws_pings_answered", g.ws_pings);
  scn->report(j);
  j.key("loadgen").open();
  j.kv("cpu_user_s", cpu_user);
  j.kv("cpu_sys_s", cpu_sys);
  j.kv("cpu_s", cpu_user + cpu_sys);
  j.kv("wall_s", double(wall) / 1e9);
  j.kv("cpu_util", (cpu_user + cpu_sys) / (double(wall) / 1e9));
  j.kv("max_rss_kb", double(ru.ru_maxrss));
  j.close();
  j.kv_bool("ok", ok);
  j.key("errors").open_arr();
  for (const auto& e : g.errors) j.str(e);
  if (!ok && g.errors.empty()) j.str("correctness checks failed (see the counters)");
  j.close_arr();
  j.close();
  std::printf("%s\n", j.text().c_str());
  std::fflush(stdout);
  return ok ? 0 : 1;
}
