// courier's chat demo: a browser chat served by one C++ process on one port.
//
// The page (www/, with the official socket.io client bundle) and Socket.IO share a Listener:
// `listener.serve_static("/", www)` and `server.attach(listener)`.
//
// What it shows:
//   - nickname from the CONNECT auth payload ({nick, room}) or the `set-nick` event;
//   - rooms: `join` a named room (one at a time, "lobby" by default), `leave` goes back to "lobby";
//   - `message`: broadcast to the room except the sender (socket.to(room)), then acked to the
//     sender, whose page marks it delivered;
//   - `typing`: a volatile broadcast to the room except the sender;
//   - the user list of a room from `fetch_sockets`, the nickname travelling in SocketInfo::data
//     (Socket::set_shared_data); pushed to the room as `users` when it changes, or asked with `who`;
//   - join/leave/rename notices.
//
// Env: PORT (default 3000), CHAT_WWW (default: the www folder the build assembled), TLS_CERT and
// TLS_KEY (PEM certificate chain and key: https/wss).
#include <courier/courier.hpp>

#include <memory>
#if COURIER_HAS_REDIS
#include <courier/redis_adapter.hpp>
#endif

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#ifndef CHAT_WWW_DIR
#define CHAT_WWW_DIR "www"
#endif

using namespace courier;

namespace {

const char* const kDefaultRoom = "lobby";
constexpr std::size_t kMaxNick = 24;
constexpr std::size_t kMaxRoom = 32;
constexpr std::size_t kMaxMessage = 2000;

/// What the server keeps per socket (in Socket::data(), used on the server's thread only).
struct ChatUser {
  std::string nick;
  std::string room;
};

ChatUser& member(const Socket& socket) { return std::any_cast<ChatUser&>(socket.data()); }

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

/// A nickname: trimmed, 1..24 bytes, no control characters. Empty when invalid.
std::string clean_nick(const Value& v) {
  std::string nick = trim(v.as_string());
  if (nick.size() > kMaxNick) return {};
  for (unsigned char c : nick)
    if (c < 0x20 || c == 0x7f) return {};
  return nick;
}

/// A room name: trimmed, 1..32 of [A-Za-z0-9_.-]. Empty when invalid.
std::string clean_room(const Value& v) {
  std::string room = trim(v.as_string());
  if (room.empty() || room.size() > kMaxRoom) return {};
  for (char c : room) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '-';
    if (!ok) return {};
  }
  return room;
}

std::string guest_name() {
  static unsigned counter = 0;
  return "guest-" + std::to_string(++counter);
}

Value error_reply(const char* message) { return Value::object({{"ok", false}, {"error", message}}); }

/// Nicknames in `room`, from fetch_sockets (each socket's shared data carries its nickname).
void room_users(const Namespace& nsp, const std::string& room, std::function<void(Value)> done) {
  nsp.in(room).fetch_sockets([done = std::move(done)](std::vector<SocketInfo> sockets, std::error_code ec) {
    Value users = Value::array();
    if (!ec) {
      for (const SocketInfo& s : sockets) users.push_back(Value::object({{"id", s.id}, {"nick", s.data["nick"]}}));
    }
    done(std::move(users));
  });
}

/// Pushes the room's user list to everyone in it.
void publish_users(const Namespace& nsp, const std::string& room) {
  room_users(nsp, room, [nsp, room](Value users) {
    nsp.to(room).emit("users", Value::object({{"room", room}, {"users", std::move(users)}}));
  });
}

void notice(const Room& to, const std::string& room, const std::string& text) {
  to.emit("notice", Value::object({{"room", room}, {"text", text}, {"ts", now_ms()}}));
}

/// Moves `socket` into `room` (leaving its current one), with notices and user lists.
void move_to(const Namespace& nsp, const Socket& socket, const std::string& room) {
  ChatUser& m = member(socket);
  if (m.room == room) return;
  const std::string old = m.room;
  if (!old.empty()) {
    socket.leave(old);
    notice(nsp.to(old), old, m.nick + " left");
    publish_users(nsp, old);
  }
  m.room = room;
  socket.join(room);
  notice(socket.to(room), room, m.nick + " joined");
  publish_users(nsp, room);
}

void on_connection(const Namespace& nsp, Socket socket) {
  const Value& auth = socket.auth();
  std::string first_nick = clean_nick(auth["nick"]);
  if (first_nick.empty()) first_nick = guest_name();
  std::string first_room = clean_room(auth["room"]);
  if (first_room.empty()) first_room = kDefaultRoom;

  socket.data() = ChatUser{first_nick, ""};
  socket.set_shared_data(Value::object({{"nick", first_nick}}));
  socket.emit("welcome", Value::object({{"id", socket.id()}, {"nick", first_nick}, {"room", first_room}}));
  move_to(nsp, socket, first_room);

  socket.on("set-nick", [nsp, socket](Args& args, Ack ack) {
    const std::string nick = clean_nick(args[0]);
    if (nick.empty()) {
      if (ack) ack(error_reply("a nickname is 1 to 24 characters"));
      return;
    }
    ChatUser& m = member(socket);
    const std::string old = m.nick;
    m.nick = nick;
    socket.set_shared_data(Value::object({{"nick", nick}}));
    if (ack) ack(Value::object({{"ok", true}, {"nick", nick}}));
    if (old != nick) {
      notice(socket.to(m.room), m.room, old + " is now " + nick);
      publish_users(nsp, m.room);
    }
  });

  socket.on("join", [nsp, socket](Args& args, Ack ack) {
    const std::string room = clean_room(args[0]);
    if (room.empty()) {
      if (ack) ack(error_reply("a room name is 1 to 32 of A-Z a-z 0-9 _ . -"));
      return;
    }
    move_to(nsp, socket, room);
    if (ack) ack(Value::object({{"ok", true}, {"room", room}}));
  });

  socket.on("leave", [nsp, socket](Args&, Ack ack) {
    move_to(nsp, socket, kDefaultRoom);
    if (ack) ack(Value::object({{"ok", true}, {"room", kDefaultRoom}}));
  });

  socket.on("message", [socket](Args& args, Ack ack) {
    const std::string text = trim(args[0].as_string());
    if (text.empty() || text.size() > kMaxMessage) {
      if (ack) ack(error_reply("a message is 1 to 2000 characters"));
      return;
    }
    static std::int64_t next_id = 0;
    const ChatUser& m = member(socket);
    const std::int64_t id = ++next_id;
    const std::int64_t ts = now_ms();
    socket.to(m.room).emit("message", Value::object({{"id", id},
                                                     {"room", m.room},
                                                     {"from", socket.id()},
                                                     {"nick", m.nick},
                                                     {"text", text},
                                                     {"ts", ts}}));
    // Acked once the broadcast is queued to everyone in the room: the page marks it delivered.
    if (ack) ack(Value::object({{"ok", true}, {"id", id}, {"ts", ts}}));
  });

  socket.on("typing", [socket](Args& args, Ack) {
    const ChatUser& m = member(socket);
    // Volatile: a client that cannot take it right now simply misses one typing hint.
    socket.to(m.room).volatile_().emit("typing", Value::object({{"id", socket.id()},
                                                                {"nick", m.nick},
                                                                {"typing", args[0].as_bool()}}));
  });

  socket.on("who", [nsp, socket](Args&, Ack ack) {
    if (!ack) return;
    const std::string room = member(socket).room;
    room_users(nsp, room, [ack, room](Value users) {
      ack(Value::object({{"room", room}, {"users", std::move(users)}}));
    });
  });

  socket.on_disconnect([nsp, socket](DisconnectReason) {
    // The socket has already left its rooms: the user list no longer has it.
    const ChatUser& m = member(socket);
    notice(nsp.to(m.room), m.room, m.nick + " left");
    publish_users(nsp, m.room);
  });
}

}  // namespace

int main() {
  const char* port_env = std::getenv("PORT");
  const long port = port_env && *port_env ? std::strtol(port_env, nullptr, 10) : 3000;
  if (port < 0 || port > 65535) {
    std::fprintf(stderr, "chat: bad PORT %s\n", port_env);
    return 1;
  }
  const char* www_env = std::getenv("CHAT_WWW");
  const std::string www = www_env && *www_env ? www_env : CHAT_WWW_DIR;

  asio::io_context io;
  ServerOptions server_options;
  // REDIS_URL: several chat instances form one cluster (examples/cluster_chat): rooms, messages and
  // user lists span every instance. Without it, the in-memory adapter: no Redis needed.
  const char* redis_url = std::getenv("REDIS_URL");
#if COURIER_HAS_REDIS
  std::unique_ptr<RedisAdapterFactory> redis;
  if (redis_url && *redis_url) {
    RedisAdapterOptions redis_options;
    redis_options.url = redis_url;
    redis = std::make_unique<RedisAdapterFactory>(io, redis_options);
    server_options.adapter = redis->factory();
    std::fprintf(stderr, "chat: cluster mode through %s\n", redis_url);
  }
#else
  if (redis_url && *redis_url) {
    std::fprintf(stderr, "chat: built without courier::redis, REDIS_URL cannot be used\n");
    return 1;
  }
#endif
  Server server(io, server_options);
  Listener listener(io);  // declared after the server: destroyed first

  Namespace nsp = server.of("/");
  // By reference, not by copy: a Namespace handle stored in its own connection handler would keep
  // the namespace alive forever (a shared_ptr cycle that LeakSanitizer reports at exit). `nsp`
  // outlives io.run(). (Socket handlers may hold copies: courier drops them on disconnect.)
  nsp.on_connection([&nsp](Socket socket) { on_connection(nsp, std::move(socket)); });

  server.attach(listener);           // Socket.IO under /socket.io/
  listener.serve_static("/", www);   // the page everywhere else
  ListenOptions options;
  options.host = "127.0.0.1";
  options.port = static_cast<std::uint16_t>(port);
  // TLS_CERT / TLS_KEY (PEM files): serve https and wss instead (the page's io() follows the
  // page's scheme, so nothing changes on the browser side).
  if (const char* cert = std::getenv("TLS_CERT"); cert && *cert) {
    options.tls.certificate_chain_file = cert;
    if (const char* key = std::getenv("TLS_KEY")) options.tls.private_key_file = key;
  }
  if (auto ec = listener.listen(options)) {
    std::fprintf(stderr, "chat: cannot listen on 127.0.0.1:%ld: %s\n", port, ec.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "chat: serving %s\n", www.c_str());
  std::fprintf(stderr, "chat: open %s://127.0.0.1:%u\n", options.tls.enabled() ? "https" : "http",
               static_cast<unsigned>(listener.port()));

  // SIGINT/SIGTERM: stop accepting, disconnect every socket, let the closing WebSocket frames go
  // out (Server::close calls back once the close handshakes finished), then stop.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code& ec, int) {
    if (ec) return;
    std::fprintf(stderr, "chat: shutting down\n");
    listener.close();
    server.close([&] {
#if COURIER_HAS_REDIS
      if (redis) redis->close();
#endif
      io.stop();
    });
  });
  io.run();
  std::fprintf(stderr, "chat: stopped\n");
  return 0;
}
