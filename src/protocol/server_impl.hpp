#pragma once
// Socket.IO server internals: ServerImpl (namespaces over an EngineServer), Client (one per
// Engine.IO session: decoding, namespace multiplexing, connect timeout), NamespaceImpl (an
// AdapterHost), SocketImpl. Everything here runs on the server's io_context thread.

#include <any>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <courier/engine_server.hpp>
#include <courier/in_memory_adapter.hpp>
#include <courier/metrics.hpp>
#include <courier/namespace.hpp>
#include <courier/server_options.hpp>
#include <courier/socket.hpp>
#include <courier/timer.hpp>

#include "engine/rate_limiter.hpp"
#include "protocol/ack_target.hpp"
#include "protocol/packet.hpp"

namespace courier::detail {

class ServerImpl;
class NamespaceImpl;
class SocketImpl;
class SocketAck;

/// Runs `f` on `io`'s thread: now if already there, else posted.
template <class F>
void run_on(asio::io_context& io, F&& f) {
  if (io.get_executor().running_in_this_thread()) {
    f();
  } else {
    asio::post(io, std::forward<F>(f));
  }
}

/// One Engine.IO connection and the namespaces it joined.
class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(std::shared_ptr<ServerImpl> server, EngineSocket conn);
  void start();

  const EngineSocket& conn() const noexcept { return conn_; }
  /// Writes an encoded packet (text message, then attachments).
  void write(const EncodedPacket& packet, bool volatile_);
  /// False (and counted) when a packet must not be written now: closed, or volatile with data queued.
  bool accepts(bool volatile_);
  /// Writes a packet of `count` values to this connection alone: encoded into reused buffers, and
  /// the WebSocket frame built straight from them (no shared copy, no broadcast frame cache).
  void write_values(SioType type, const std::string& nsp, std::optional<std::uint64_t> id, const Value* values,
                    std::size_t count, bool volatile_);
  /// Writes a packet built here.
  void write(const SioPacket& packet) { write(encode(packet), false); }
  /// Closes the Engine.IO connection ("forced close" for its sockets... see on_engine_close).
  void close();
  /// A socket left (namespace disconnect): forget it.
  void remove(const std::string& nsp);
  /// Disconnects every socket of this connection ("server namespace disconnect").
  void disconnect_all();
  /// Drops (instead of treating as a protocol violation) the packets still in flight for `nsp`
  /// after the server disconnected its socket for flooding, until the client CONNECTs again.
  void mute(const std::string& nsp) { muted_.insert(nsp); }

 private:
  void on_message(const EngineMessage& m);
  void on_packet(SioPacket& packet);
  void connect(const std::string& nsp, Value auth);
  void on_engine_close(CloseReason reason);
  void fail_parse(const std::string& why);
  void invalid_state(const std::string& why);

  std::weak_ptr<ServerImpl> server_;
  asio::io_context& io_;
  EngineSocket conn_;
  Decoder decoder_;
  std::map<std::string, std::shared_ptr<SocketImpl>> sockets_;  // by namespace
  std::size_t connecting_ = 0;                                  // namespaces in middleware
  std::set<std::string> muted_;  // rate-limited namespaces (at most max_namespaces_per_connection)
  asio::steady_timer connect_timer_;
  bool closed_ = false;
};

class SocketImpl final : public LocalSocket, public std::enable_shared_from_this<SocketImpl> {
 public:
  SocketImpl(std::shared_ptr<NamespaceImpl> nsp, std::shared_ptr<Client> client, std::string id, Value auth);

  const std::string& id() const noexcept { return id_; }
  const SocketId& local_id() const noexcept override { return id_; }
  const std::string& nsp_name() const noexcept;
  const RequestInfo& request() const noexcept { return client_->conn().request(); }
  const Value& auth() const noexcept { return auth_; }
  bool connected() const noexcept { return connected_.load(std::memory_order_relaxed); }
  asio::io_context& io() noexcept { return io_; }
  const std::shared_ptr<NamespaceImpl>& nsp() const noexcept { return nsp_; }
  const std::shared_ptr<Client>& client() const noexcept { return client_; }

  // Server thread only.
  void on(std::string event, EventHandler h) {
    handlers_[std::move(event)] = std::make_shared<const EventHandler>(std::move(h));
  }
  void on_any(AnyHandler h) { any_ = std::move(h); }
  void on_disconnect(std::function<void(DisconnectReason)> h) { on_disconnect_ = std::move(h); }
  void emit(std::string_view event, Args args);
  void emit_with_ack(std::string_view event, Args args, AckCallback cb, std::chrono::milliseconds timeout);
  /// Joins `room`; errc::too_many_rooms (logged) beyond ServerOptions::max_rooms_per_socket.
  std::error_code join(std::string room);
  /// False (logged, counted in Metrics::rooms_refused) when joining `room` would take the socket
  /// beyond ServerOptions::max_rooms_per_socket; rooms it is in already are always allowed.
  bool may_join(const std::string& room);
  void leave(const std::string& room);
  std::vector<std::string> rooms() const;
  void disconnect(bool close);
  std::any& data() noexcept { return data_; }
  const Value& shared_data() const noexcept { return shared_data_; }
  void set_shared_data(Value v) { shared_data_ = std::move(v); }
  /// Registers an ack awaited for a packet id (broadcast with acks).
  void expect_ack(std::uint64_t id, std::function<void(Args)> cb) {
    // A broadcast's gatherer has its own timeout; a disconnect simply never answers it.
    acks_[id] = AckEntry{[cb = std::move(cb)](std::error_code ec, Args a) {
                           if (!ec) cb(std::move(a));
                         },
                         {}};
  }

  // From the client.
  void on_packet(SioPacket& packet);
  void on_close(DisconnectReason reason);
  /// Marks the socket connected and sends CONNECT; the namespace then announces it.
  void connect_ack();
  /// Writes the ACK packet of event `id` with these arguments. Server's thread.
  void write_ack(std::uint64_t id, const Value* values, std::size_t count);

 private:
  void on_event(SioPacket& packet);
  void on_ack(SioPacket& packet);
  Ack make_ack(std::uint64_t id);
  /// Over max_events_per_second: tells the client ("error" event), logs, disconnects.
  void rate_limited();

  struct AckEntry {
    std::function<void(std::error_code, Args)> cb;  // error: timed out or disconnected
    std::string timer_key;
  };

  std::shared_ptr<NamespaceImpl> nsp_;
  std::shared_ptr<Client> client_;
  asio::io_context& io_;
  const std::string id_;
  const Value auth_;
  std::atomic<bool> connected_{false};
  // Shared so that dispatch holds a handler (which may replace itself) without copying its state.
  std::unordered_map<std::string, std::shared_ptr<const EventHandler>> handlers_;
  AnyHandler any_;
  std::function<void(DisconnectReason)> on_disconnect_;
  std::unordered_map<std::uint64_t, AckEntry> acks_;
  // The ack object of the last acked event, reused by the next one when no handle to it survived
  // (the handler acked at once or dropped it): no allocation per acked event.
  std::shared_ptr<SocketAck> spare_ack_;
  std::any data_;
  Value shared_data_;
  TokenBucket events_;  // max_events_per_second
};

class NamespaceImpl final : public AdapterHost, public std::enable_shared_from_this<NamespaceImpl> {
 public:
  NamespaceImpl(std::shared_ptr<ServerImpl> server, std::string name);
  ~NamespaceImpl() override;

  // AdapterHost
  const std::string& name() const noexcept override { return name_; }
  void deliver(const OutPacket& packet, const std::vector<SocketId>& ids, bool volatile_,
               std::function<void(Args)> ack) override;
  LocalSocket* local_socket(const SocketId& id) noexcept override;
  void deliver_to(const OutPacket& packet, const std::vector<LocalSocket*>& sockets, bool volatile_,
                  std::function<void(Args)> ack) override;
  std::optional<SocketInfo> describe(const SocketId& id) const override;
  void disconnect(const SocketId& id, bool close) override;
  void server_side_emit_received(Args data, std::function<void(Value)> reply) override;
  /// ServerOptions::max_rooms_per_socket for bulk and remote joins (SocketImpl::may_join).
  bool may_join(const SocketId& id, const RoomName& room) override;

  /// `local_only`: an InMemoryAdapter whatever the options say (parents of dynamic namespaces,
  /// whose broadcasts go through their children's adapters).
  void init_adapter(bool local_only = false);
  void set_server_side_handler(std::string event, EventHandler h) { server_side_handlers_[std::move(event)] = std::move(h); }
  void server_side_emit(std::string_view event, Args args,
                        std::function<void(std::error_code, std::vector<Value>)> done);
  Adapter& adapter() noexcept { return *adapter_; }
  asio::io_context& io() noexcept;
  std::shared_ptr<ServerImpl> server() const { return server_.lock(); }

  // Server thread only.
  void use(Middleware m) { middlewares_.push_back(std::move(m)); }
  void set_connection_handler(std::function<void(Socket)> h) { on_connection_ = std::move(h); }
  /// Runs the middlewares for a new socket, then connects it or sends CONNECT_ERROR.
  void add(const std::shared_ptr<Client>& client, Value auth, std::function<void(std::shared_ptr<SocketImpl>)> done);
  void remove(const std::string& id);
  std::size_t socket_count() const noexcept { return socket_count_.load(std::memory_order_relaxed); }
  std::uint64_t next_ack_id() noexcept { return ++ack_ids_; }
  void close_all(DisconnectReason reason);
  /// Drops every handler and middleware: breaks cycles through handlers that captured a handle
  /// of this namespace, so a closed server frees everything.
  void shutdown();
  /// Lets the adapter release its cluster resources (Redis subscriptions); at the end of a shutdown.
  void release_adapter();

  // Broadcasts (server thread).
  void broadcast(const BroadcastOptions& opts, std::string_view event, Args args);
  void broadcast_with_ack(const BroadcastOptions& opts, std::string_view event, Args args,
                          std::function<void(std::error_code, std::vector<Value>)> cb);
  void fetch_sockets(const BroadcastOptions& opts, std::function<void(std::vector<SocketInfo>, std::error_code)> cb);
  void sockets_join(const BroadcastOptions& opts, std::string room);
  void sockets_leave(const BroadcastOptions& opts, std::string room);
  void disconnect_sockets(const BroadcastOptions& opts, bool close);

  // Dynamic namespaces: a parent holds the matcher and its children.
  bool is_parent() const noexcept { return static_cast<bool>(matcher_); }
  void set_matcher(std::function<bool(const std::string&, const Value&)> m) { matcher_ = std::move(m); }
  bool matches(const std::string& name, const Value& auth) const { return matcher_ && matcher_(name, auth); }
  void adopt(const std::shared_ptr<NamespaceImpl>& child);
  const std::vector<std::weak_ptr<NamespaceImpl>>& children() const noexcept { return children_; }
  void set_parent(std::weak_ptr<NamespaceImpl> p) { parent_ = std::move(p); }
  std::shared_ptr<NamespaceImpl> parent() const { return parent_.lock(); }

 private:
  /// Encodes a delivered packet once (its id: ours when acks are awaited, see deliver()).
  EncodedPacket encode_delivery(const OutPacket& packet, std::optional<std::uint64_t> id) const;
  void run_middlewares(std::size_t index, std::shared_ptr<SocketImpl> socket, std::function<void(std::optional<ConnectError>)> done);

  std::weak_ptr<ServerImpl> server_;
  asio::io_context& io_;
  std::string name_;
  std::unique_ptr<Adapter> adapter_;
  std::vector<Middleware> middlewares_;
  std::function<void(Socket)> on_connection_;
  std::unordered_map<std::string, std::shared_ptr<SocketImpl>> sockets_;
  std::atomic<std::size_t> socket_count_{0};  // mirrors sockets_.size() for other threads
  std::uint64_t ack_ids_ = 0;
  std::unordered_map<std::string, EventHandler> server_side_handlers_;
  std::function<bool(const std::string&, const Value&)> matcher_;
  std::vector<std::weak_ptr<NamespaceImpl>> children_;
  std::weak_ptr<NamespaceImpl> parent_;
};

class ServerImpl : public std::enable_shared_from_this<ServerImpl> {
 public:
  ServerImpl(asio::io_context& io, ServerOptions options);
  void start();  // after construction, when shared_from_this works

  asio::io_context& io() noexcept { return io_; }
  const ServerOptions& options() const noexcept { return options_; }
  const Logger& logger() const noexcept { return options_.logger; }
  EngineServer& engine() noexcept { return engine_; }
  LocalTimer& timer() noexcept { return timer_; }

  std::shared_ptr<NamespaceImpl> of(const std::string& name);
  std::shared_ptr<NamespaceImpl> add_parent(std::function<bool(const std::string&, const Value&)> matcher, std::string label);
  /// The namespace a client may connect to (creating a dynamic child), or null.
  std::shared_ptr<NamespaceImpl> resolve(const std::string& name, const Value& auth);
  std::string generate_id();
  void remove_client(Client* c);
  void close(std::function<void()> done);
  bool closing() const noexcept { return closing_; }
  /// Counters of the Socket.IO layer (server thread only; gauges are filled by metrics()).
  Metrics& counters() noexcept { return counters_; }
  /// A snapshot of everything (server thread only).
  Metrics metrics();
  /// Logs at `level` if enabled (the message is built only then).
  template <class F>
  void log(LogLevel level, F&& make_message) const {
    if (options_.logger.enabled(level)) options_.logger.log(level, make_message());
  }

 private:
  asio::io_context& io_;
  ServerOptions options_;
  EngineServer engine_;
  LocalTimer timer_;
  std::mutex namespaces_mutex_;  // of() may be called from any thread during setup
  std::map<std::string, std::shared_ptr<NamespaceImpl>> namespaces_;
  std::vector<std::shared_ptr<NamespaceImpl>> parents_;
  std::unordered_map<Client*, std::shared_ptr<Client>> clients_;
  bool closing_ = false;
  Metrics counters_;
};

}  // namespace courier::detail
