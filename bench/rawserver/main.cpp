// courier_rawserver: the raw-limit baseline of the benchmarks. A minimal single-threaded epoll
// WebSocket server that speaks just enough Engine.IO v4 / Socket.IO v5 for the bench contract
// (shared/BENCH-CONTRACT.md): the handshake, OPEN, CONNECT, pings, "join", "broadcast" and "echo".
// A broadcast is framed once and the same bytes are appended to every member's output buffer;
// buffers are flushed once per event-loop iteration (one send() per socket per iteration). It is
// what the kernel allows on this machine, not a server: no validation beyond what the contract
// needs, no pong timeouts, no polling transport, no JSON parser.
//
// Env: PORT (default 3100), BACKLOG (default 4096), PING_INTERVAL / PING_TIMEOUT (ms, 25000 /
// 20000; PING_TIMEOUT is only advertised), MAX_LIFETIME_S (default 3600). Stops on SIGTERM/SIGINT.
#include "../common/sha1_base64.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

long env_long(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atol(v) : fallback;
}
std::uint64_t mono_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::uint64_t(ts.tv_sec) * 1000 + std::uint64_t(ts.tv_nsec) / 1000000;
}

constexpr std::size_t kMaxOut = 64u << 20;  // a consumer this far behind is dropped
constexpr std::size_t kMaxMessage = 1000000;

struct Room;
struct Conn {
  int fd = -1;
  std::uint32_t gen = 0;
  bool ws = false;
  bool dirty = false;
  bool want_out = false;
  bool sio = false;
  std::string in, out;
  std::size_t out_off = 0;
  std::string frag;
  bool in_frag = false;
  char sid[21] = {};
  std::size_t ws_pos = 0;  // position in g_ws
  std::vector<std::pair<Room*, std::size_t>> rooms;  // room, position in its member list
};
struct Room {
  std::vector<Conn*> members;
};

int g_ep = -1, g_listen = -1, g_sigfd = -1;
std::vector<Conn*> g_conns;  // by fd
std::vector<Conn*> g_dirty;
std::vector<Conn*> g_ws;     // every WebSocket connection, for the pings (swap-removed)
std::unordered_map<std::string, Room> g_rooms;
std::uint64_t g_sid_counter = 0;
long g_ping_interval = 25000, g_ping_timeout = 20000;
char g_scratch[1 << 18];

void ep_mod(Conn* c, bool want_out) {
  if (c->want_out == want_out) return;
  epoll_event e{};
  e.events = EPOLLIN | (want_out ? EPOLLOUT : 0u);
  e.data.u64 = (std::uint64_t(c->gen) << 32) | std::uint32_t(c->fd);
  epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &e);
  c->want_out = want_out;
}

void leave_all(Conn* c) {
  for (auto& [room, pos] : c->rooms) {
    Conn* last = room->members.back();
    room->members[pos] = last;
    room->members.pop_back();
    if (last != c)
      for (auto& rp : last->rooms)
        if (rp.first == room) { rp.second = pos; break; }
  }
  c->rooms.clear();
}

void close_conn(Conn* c) {
  if (c->fd < 0) return;
  leave_all(c);
  if (c->ws) {
    Conn* last = g_ws.back();
    g_ws[c->ws_pos] = last;
    last->ws_pos = c->ws_pos;
    g_ws.pop_back();
  }
  ::close(c->fd);  // also leaves the epoll set
  g_conns[std::size_t(c->fd)] = nullptr;
  c->fd = -1;
  // Freed after the current batch (it may still be in g_dirty or referenced by a queued event).
}
std::vector<Conn*> g_graveyard;

void queue(Conn* c, const char* p, std::size_t n) {
  if (c->fd < 0) return;
  if (c->out_off == c->out.size()) { c->out.clear(); c->out_off = 0; }
  c->out.append(p, n);
  if (!c->dirty) { c->dirty = true; g_dirty.push_back(c); }
}
// An unmasked text frame.
std::string frame_text(std::string_view payload) {
  std::string f;
  f.reserve(payload.size() + 10);
  f += char(0x81);
  const std::size_t n = payload.size();
  if (n < 126) f += char(n);
  else if (n < 65536) { f += char(126); f += char(n >> 8); f += char(n & 0xFF); }
  else { f += char(127); for (int i = 7; i >= 0; --i) f += char(std::uint64_t(n) >> (8 * i)); }
  f.append(payload.data(), payload.size());
  return f;
}
void send_text(Conn* c, std::string_view payload) {
  const std::string f = frame_text(payload);
  queue(c, f.data(), f.size());
}
void flush_conn(Conn* c) {
  while (c->fd >= 0 && c->out_off < c->out.size()) {
    const ssize_t n = ::send(c->fd, c->out.data() + c->out_off, c->out.size() - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) { c->out_off += std::size_t(n); continue; }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (c->out.size() - c->out_off > kMaxOut) { close_conn(c); return; }
      ep_mod(c, true);
      return;
    }
    close_conn(c);
    return;
  }
  if (c->fd < 0) return;
  c->out.clear();
  c->out_off = 0;
  ep_mod(c, false);
}

bool iprefix(std::string_view s, std::string_view lower) {
  if (s.size() < lower.size()) return false;
  for (std::size_t i = 0; i < lower.size(); ++i) {
    char ch = s[i];
    if (ch >= 'A' && ch <= 'Z') ch = char(ch - 'A' + 'a');
    if (ch != lower[i]) return false;
  }
  return true;
}

// --- Socket.IO ---------------------------------------------------------------------------------

bool valid_room(std::string_view r) {
  if (r.empty() || r.size() > 64) return false;
  for (char ch : r)
    if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
      return false;
  return true;
}

void send_ack(Conn* c, std::string_view id, std::string_view args) {
  std::string p = "43";
  p.append(id.data(), id.size());
  p += '[';
  p.append(args.data(), args.size());
  p += ']';
  send_text(c, p);
}

// A Socket.IO EVENT "2[<id>]["name",arg]" (the leading '4' of Engine.IO already stripped).
void on_event(Conn* c, std::string_view pkt) {
  std::size_t p = 1;  // after '2'
  const std::size_t id_begin = p;
  while (p < pkt.size() && pkt[p] >= '0' && pkt[p] <= '9') ++p;
  const std::string_view id = pkt.substr(id_begin, p - id_begin);
  std::string_view rest = pkt.substr(p);
  if (rest.size() < 4 || rest.front() != '[' || rest.back() != ']') return;
  rest = rest.substr(1, rest.size() - 2);  // "name",arg
  if (rest.substr(0, 12) == "\"broadcast\",") {
    const std::string_view obj = rest.substr(12);
    const std::size_t k = obj.find("\"room\":\"");
    if (k == std::string_view::npos) return;
    const std::size_t b = k + 8, e = obj.find('"', b);
    if (e == std::string_view::npos) return;
    const auto it = g_rooms.find(std::string(obj.substr(b, e - b)));
    if (it != g_rooms.end() && !it->second.members.empty()) {
      std::string payload = "42[\"msg\",";
      payload.append(obj.data(), obj.size());
      payload += ']';
      const std::string f = frame_text(payload);  // framed once, the same bytes to every member
      for (Conn* m : it->second.members) queue(m, f.data(), f.size());
    }
    if (!id.empty()) send_ack(c, id, "true");
  } else if (rest.substr(0, 7) == "\"echo\",") {
    if (!id.empty()) send_ack(c, id, rest.substr(7));
  } else if (rest.substr(0, 8) == "\"join\",\"" && rest.back() == '"') {
    const std::string_view name = rest.substr(8, rest.size() - 9);
    if (!valid_room(name)) { if (!id.empty()) send_ack(c, id, "false"); return; }
    Room& room = g_rooms[std::string(name)];
    bool member = false;
    for (auto& rp : c->rooms) member = member || rp.first == &room;
    if (!member) {
      c->rooms.emplace_back(&room, room.members.size());
      room.members.push_back(c);
    }
    if (!id.empty()) send_ack(c, id, "true");
  }
}

// One Engine.IO packet from a client.
void on_packet(Conn* c, std::string_view pkt) {
  if (pkt.empty()) return;
  switch (pkt[0]) {
    case '3': case '6': return;  // pong, noop
    case '2': send_text(c, pkt.size() > 1 ? "3" + std::string(pkt.substr(1)) : "3"); return;
    case '1': close_conn(c); return;
    case '4': break;
    default: return;
  }
  const std::string_view s = pkt.substr(1);
  if (s.empty()) return;
  if (s[0] == '0') {
    if (!c->sio) {
      c->sio = true;
      std::string r = "40{\"sid\":\"";
      r += c->sid;
      r += "s\"}";
      send_text(c, r);
    }
  } else if (s[0] == '2' && c->sio) {
    on_event(c, s);
  } else if (s[0] == '1') {
    c->sio = false;
    leave_all(c);
  }
}

// --- WebSocket / HTTP --------------------------------------------------------------------------

void send_close(Conn* c, std::uint16_t code) {
  const char f[4] = {char(0x88), 2, char(code >> 8), char(code & 0xFF)};
  queue(c, f, 4);
  flush_conn(c);
  close_conn(c);
}

// Parses client frames in [data, data+len) (unmasking in place); returns bytes consumed.
std::size_t parse_frames(Conn* c, char* data, std::size_t len) {
  std::size_t pos = 0;
  while (c->fd >= 0) {
    const std::size_t avail = len - pos;
    if (avail < 2) break;
    auto* b = reinterpret_cast<unsigned char*>(data + pos);
    const bool fin = b[0] & 0x80;
    const unsigned op = b[0] & 0x0F;
    if (!(b[1] & 0x80) || (b[0] & 0x70)) { send_close(c, 1002); break; }
    std::uint64_t plen = b[1] & 0x7F;
    std::size_t h = 2;
    if (plen == 126) { if (avail < 4) break; plen = (std::uint64_t(b[2]) << 8) | b[3]; h = 4; }
    else if (plen == 127) { if (avail < 10) break; plen = 0; for (int i = 0; i < 8; ++i) plen = (plen << 8) | b[2 + i]; h = 10; }
    if (plen > kMaxMessage) { send_close(c, 1009); break; }
    if (avail < h + 4 + plen) break;
    const unsigned char* mask = b + h;
    char* p = data + pos + h + 4;
    for (std::size_t i = 0; i < plen; ++i) p[i] = char(p[i] ^ char(mask[i & 3]));
    pos += h + 4 + std::size_t(plen);
    const std::string_view payload(p, std::size_t(plen));
    if (op == 1 || op == 2) {
      if (fin) on_packet(c, payload);
      else { c->frag.assign(payload.data(), payload.size()); c->in_frag = true; }
    } else if (op == 0) {
      if (!c->in_frag) { send_close(c, 1002); break; }
      c->frag.append(payload.data(), payload.size());
      if (c->frag.size() > kMaxMessage) { send_close(c, 1009); break; }
      if (fin) { c->in_frag = false; std::string m; m.swap(c->frag); on_packet(c, m); }
    } else if (op == 8) {
      send_close(c, 1000);
      break;
    } else if (op == 9) {
      std::string f;
      f += char(0x8A);
      f += char(plen);
      f.append(payload.data(), payload.size());
      queue(c, f.data(), f.size());
    }
  }
  return pos;
}

// The opening handshake; true once upgraded (pos = bytes consumed).
bool handshake(Conn* c, const char* data, std::size_t len, std::size_t& pos) {
  const void* hit = memmem(data, len, "\r\n\r\n", 4);
  if (!hit) {
    if (len > 8192) close_conn(c);
    return false;
  }
  const std::size_t hl = std::size_t(static_cast<const char*>(hit) - data);
  const std::string_view head(data, hl);
  const std::size_t le = head.find("\r\n");
  const std::string_view line = head.substr(0, le);
  std::string_view key;
  std::size_t p = le;
  while (p != std::string_view::npos && p + 2 < head.size()) {
    const std::size_t s = p + 2;
    std::size_t e = head.find("\r\n", s);
    if (e == std::string_view::npos) e = head.size();
    const std::string_view h = head.substr(s, e - s);
    if (iprefix(h, "sec-websocket-key:")) {
      key = h.substr(18);
      while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
      while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
    }
    p = e;
  }
  const bool ok = line.substr(0, 16) == "GET /socket.io/?" && line.find("EIO=4") != std::string_view::npos &&
                  line.find("transport=websocket") != std::string_view::npos && !key.empty();
  if (!ok) {
    static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    queue(c, bad, sizeof bad - 1);
    flush_conn(c);
    close_conn(c);
    return false;
  }
  std::snprintf(c->sid, sizeof c->sid, "raw%017" PRIu64, ++g_sid_counter);
  std::string r = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
  r += bench::websocket_accept(key);
  r += "\r\n\r\n";
  char open[200];
  std::snprintf(open, sizeof open,
                "0{\"sid\":\"%s\",\"upgrades\":[],\"pingInterval\":%ld,\"pingTimeout\":%ld,\"maxPayload\":%zu}", c->sid,
                g_ping_interval, g_ping_timeout, kMaxMessage);
  r += frame_text(open);
  queue(c, r.data(), r.size());
  c->ws = true;
  c->ws_pos = g_ws.size();
  g_ws.push_back(c);
  pos = hl + 4;
  return true;
}

void on_readable(Conn* c) {
  const ssize_t n = ::recv(c->fd, g_scratch, sizeof g_scratch, 0);
  if (n == 0) { close_conn(c); return; }
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) close_conn(c);
    return;
  }
  char* data;
  std::size_t len;
  const bool buffered = !c->in.empty();
  if (buffered) { c->in.append(g_scratch, std::size_t(n)); data = &c->in[0]; len = c->in.size(); }
  else { data = g_scratch; len = std::size_t(n); }
  std::size_t pos = 0;
  if (!c->ws) {
    if (!handshake(c, data, len, pos)) {
      if (c->fd >= 0 && !buffered) c->in.assign(data, len);
      return;
    }
  }
  if (c->fd >= 0) pos += parse_frames(c, data + pos, len - pos);
  if (c->fd < 0) { c->in.clear(); return; }
  if (buffered) c->in.erase(0, pos);
  else if (pos < len) c->in.assign(data + pos, len - pos);
}

void accept_all() {
  for (int k = 0; k < 4096; ++k) {
    const int fd = ::accept4(g_listen, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) std::fprintf(stderr, "rawserver: accept: %s\n", std::strerror(errno));
      return;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (std::size_t(fd) >= g_conns.size()) g_conns.resize(std::size_t(fd) * 2 + 64, nullptr);
    Conn* c = new Conn();
    c->fd = fd;
    static std::uint32_t gen = 0;
    c->gen = ++gen;
    g_conns[std::size_t(fd)] = c;
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = (std::uint64_t(c->gen) << 32) | std::uint32_t(fd);
    epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &e);
  }
}

}  // namespace

int main() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  const long port = env_long("PORT", 3100);
  const long backlog = env_long("BACKLOG", 4096);
  g_ping_interval = env_long("PING_INTERVAL", 25000);
  g_ping_timeout = env_long("PING_TIMEOUT", 20000);
  const long lifetime_s = env_long("MAX_LIFETIME_S", 3600);
  signal(SIGPIPE, SIG_IGN);

  g_listen = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(g_listen, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(std::uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(g_listen, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(g_listen, int(backlog)) != 0) {
    std::fprintf(stderr, "rawserver: cannot listen on 127.0.0.1:%ld: %s\n", port, std::strerror(errno));
    return 1;
  }
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  g_sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

  g_ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event e{};
  e.events = EPOLLIN;
  e.data.u64 = ~std::uint64_t(0);
  epoll_ctl(g_ep, EPOLL_CTL_ADD, g_listen, &e);
  e.data.u64 = ~std::uint64_t(0) - 1;
  epoll_ctl(g_ep, EPOLL_CTL_ADD, g_sigfd, &e);
  std::fprintf(stderr, "rawserver: listening on 127.0.0.1:%ld (backlog %ld)\n", port, backlog);

  const std::uint64_t start = mono_ms();
  std::uint64_t next_ping = start + std::uint64_t(g_ping_interval);
  const std::string ping = frame_text("2");
  std::vector<epoll_event> evs(4096);
  for (;;) {
    const std::uint64_t now = mono_ms();
    if (now - start >= std::uint64_t(lifetime_s) * 1000) { std::fprintf(stderr, "rawserver: MAX_LIFETIME_S reached\n"); break; }
    if (now >= next_ping) {
      for (Conn* c : g_ws) queue(c, ping.data(), ping.size());
      next_ping = now + std::uint64_t(g_ping_interval);
    }
    int timeout = int(next_ping > now ? next_ping - now : 0);
    if (g_dirty.size()) timeout = 0;
    if (timeout > 1000) timeout = 1000;
    const int n = epoll_wait(g_ep, evs.data(), int(evs.size()), g_dirty.empty() ? timeout : 0);
    bool stop = false;
    for (int i = 0; i < n; ++i) {
      const std::uint64_t d = evs[std::size_t(i)].data.u64;
      if (d == ~std::uint64_t(0)) { accept_all(); continue; }
      if (d == ~std::uint64_t(0) - 1) { stop = true; continue; }
      const int fd = int(std::uint32_t(d));
      Conn* c = std::size_t(fd) < g_conns.size() ? g_conns[std::size_t(fd)] : nullptr;
      if (!c || c->gen != std::uint32_t(d >> 32)) continue;
      const std::uint32_t ev = evs[std::size_t(i)].events;
      if (ev & EPOLLOUT) flush_conn(c);
      if (c->fd >= 0 && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable(c);
      if (c->fd < 0) g_graveyard.push_back(c);
    }
    // One send() per connection per iteration, however many frames it got.
    for (std::size_t i = 0; i < g_dirty.size(); ++i) {
      Conn* c = g_dirty[i];
      c->dirty = false;
      if (c->fd >= 0) {
        flush_conn(c);
        if (c->fd < 0) g_graveyard.push_back(c);
      }
    }
    g_dirty.clear();
    for (Conn* c : g_graveyard) delete c;
    g_graveyard.clear();
    if (stop) { std::fprintf(stderr, "rawserver: signal, stopping\n"); break; }
  }
  return 0;
}
