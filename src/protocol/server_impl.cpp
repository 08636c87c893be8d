#include "protocol/server_impl.hpp"

#include <algorithm>

#include "common/random_id.hpp"
#include "engine/engine_core.hpp"
#include "engine/session.hpp"
#include "protocol/json.hpp"

namespace courier::detail {
namespace {

DisconnectReason to_disconnect_reason(CloseReason r) noexcept {
  switch (r) {
    case CloseReason::transport_close: return DisconnectReason::transport_close;
    case CloseReason::ping_timeout: return DisconnectReason::ping_timeout;
    case CloseReason::parse_error: return DisconnectReason::parse_error;
    case CloseReason::transport_error: return DisconnectReason::transport_error;
    case CloseReason::forced_close: return DisconnectReason::forced_close;
  }
  return DisconnectReason::transport_close;
}

Value error_payload(const std::string& message, const Value* data) {
  Value v = Value::object({{"message", message}});
  if (data && !data->is_null()) v.set("data", *data);
  return v;
}

}  // namespace

// =============================================================================================
// Client

Client::Client(std::shared_ptr<ServerImpl> server, EngineSocket conn)
    : server_(server),
      io_(server->io()),
      conn_(std::move(conn)),
      decoder_(server->options().max_attachments),
      connect_timer_(server->io()) {}

void Client::start() {
  std::weak_ptr<Client> weak = shared_from_this();
  conn_.on_message([weak](const EngineMessage& m) {
    if (auto self = weak.lock()) self->on_message(m);
  });
  conn_.on_close([weak](CloseReason reason, std::string_view) {
    if (auto self = weak.lock()) self->on_engine_close(reason);
  });
  auto server = server_.lock();
  connect_timer_.expires_after(server->options().connect_timeout);
  connect_timer_.async_wait([weak](const std::error_code& ec) {
    if (ec) return;
    auto self = weak.lock();
    if (!self || self->closed_ || !self->sockets_.empty() || self->connecting_ > 0) return;
    if (auto s = self->server_.lock()) {
      if (s->logger().enabled(LogLevel::info))
        s->logger().log(LogLevel::info, "socket.io connection " + self->conn_.id() + " joined no namespace within connect_timeout; closing");
    }
    self->close();
  });
}

bool Client::accepts(bool volatile_) {
  if (closed_) return false;
  if (volatile_ && !conn_.session()->writable()) {
    // Dropped, as volatile allows: the connection has data queued (or no poll is waiting).
    if (auto s = server_.lock()) ++s->counters().volatile_dropped;
    return false;
  }
  return true;
}

void Client::write(const EncodedPacket& packet, bool volatile_) {
  if (!accepts(volatile_)) return;
  conn_.send_shared(packet.text, false);
  for (const auto& a : packet.attachments) conn_.send_shared(a, true);
}

void Client::write_values(SioType type, const std::string& nsp, std::optional<std::uint64_t> id, const Value* values,
                          std::size_t count, bool volatile_) {
  if (!accepts(volatile_)) return;
  thread_local std::string text;
  thread_local std::vector<std::string> attachments;
  encode_to(type, nsp, id, values, count, text, attachments);
  // Moved out before anything is sent: a send may close the session, and the close handlers may
  // write to other connections with these same thread-local buffers.
  std::vector<std::string> binary = std::move(attachments);
  conn_.session()->send_text(text);
  if (text.capacity() > 64 * 1024) std::string().swap(text);  // a huge reply does not stay pinned
  for (auto& a : binary) conn_.send_binary(std::move(a));
}

void Client::close() {
  if (closed_) return;
  conn_.session()->close(CloseReason::forced_close, "closed by socket.io server");
}

void Client::remove(const std::string& nsp) { sockets_.erase(nsp); }

void Client::disconnect_all() {
  auto sockets = sockets_;
  for (auto& [nsp, s] : sockets) s->disconnect(false);
}

void Client::fail_parse(const std::string& why) {
  // The engine logs the close once, with `why` as its description.
  conn_.session()->close(CloseReason::parse_error, "invalid socket.io packet: " + why);
}

void Client::on_message(const EngineMessage& m) {
  SioPacket packet;
  const Decoder::Status status = m.binary ? decoder_.feed_binary(m.data, packet) : decoder_.feed_text(m.data, packet);
  if (status == Decoder::Status::error) {
    fail_parse(decoder_.error());
    return;
  }
  if (status == Decoder::Status::ok) on_packet(packet);
}

void Client::on_packet(SioPacket& packet) {
  if (packet.type == SioType::connect) {
    muted_.erase(packet.nsp);
    if (sockets_.count(packet.nsp) != 0) {
      invalid_state("second CONNECT to " + packet.nsp);
      return;
    }
    connect(packet.nsp, packet.has_data ? std::move(packet.data) : Value::object());
    return;
  }
  auto it = sockets_.find(packet.nsp);
  if (it == sockets_.end()) {
    if (muted_.count(packet.nsp) != 0) return;  // a flood still arriving after its disconnect
    invalid_state("packet for namespace " + packet.nsp + " it has not joined");
    return;
  }
  auto socket = it->second;  // the handler may disconnect it
  socket->on_packet(packet);
}

void Client::invalid_state(const std::string& why) {
  // socket.io closes the whole connection on these protocol violations ("invalid state").
  if (auto s = server_.lock()) {
    if (s->logger().enabled(LogLevel::warn))
      s->logger().log(LogLevel::warn, "socket.io connection " + conn_.id() + " (" + conn_.request().remote_address +
                                          "): invalid state: " + why + "; closing");
  }
  conn_.session()->close(CloseReason::forced_close, "invalid state: " + why, /*allow_linger=*/false);
}

void Client::connect(const std::string& nsp, Value auth) {
  auto server = server_.lock();
  if (!server) return;
  SioPacket error;
  error.type = SioType::connect_error;
  error.nsp = nsp;
  error.has_data = true;
  if (sockets_.size() + connecting_ >= server->options().max_namespaces_per_connection) {
    ++server->counters().namespaces_refused;
    server->log(LogLevel::warn, [&] {
      return "socket.io connection " + conn_.id() + " (" + conn_.request().remote_address + "): CONNECT to " +
             nsp.substr(0, 100) + " refused: max_namespaces_per_connection (" +
             std::to_string(server->options().max_namespaces_per_connection) + ") reached";
    });
    error.data = error_payload("Too many namespaces", nullptr);
    write(error);
    return;
  }
  auto ns = server->resolve(nsp, auth);
  if (!ns) {
    error.data = error_payload("Invalid namespace", nullptr);
    write(error);
    return;
  }
  ++connecting_;
  std::weak_ptr<Client> weak = shared_from_this();
  ns->add(shared_from_this(), std::move(auth), [weak, nsp](std::shared_ptr<SocketImpl> socket) {
    auto self = weak.lock();
    if (!self) return;
    --self->connecting_;
    if (!socket) return;
    self->sockets_[nsp] = std::move(socket);
    self->connect_timer_.cancel();
  });
}

void Client::on_engine_close(CloseReason reason) {
  if (closed_) return;
  closed_ = true;
  connect_timer_.cancel();
  decoder_.reset();
  auto sockets = std::move(sockets_);
  sockets_.clear();
  for (auto& [nsp, s] : sockets) s->on_close(to_disconnect_reason(reason));
  if (auto server = server_.lock()) server->remove_client(this);
}

// =============================================================================================
// SocketImpl

SocketImpl::SocketImpl(std::shared_ptr<NamespaceImpl> nsp, std::shared_ptr<Client> client, std::string id, Value auth)
    : nsp_(std::move(nsp)), client_(std::move(client)), io_(nsp_->io()), id_(std::move(id)), auth_(std::move(auth)) {
  if (auto server = nsp_->server()) {
    const ServerOptions& o = server->options();
    if (o.max_events_per_second > 0) {
      const double burst = o.event_burst != 0 ? static_cast<double>(o.event_burst)
                                              : std::max(1.0, 2.0 * o.max_events_per_second);
      events_ = TokenBucket(o.max_events_per_second, burst, TokenBucket::Clock::now());
    }
  }
}

const std::string& SocketImpl::nsp_name() const noexcept { return nsp_->name(); }

void SocketImpl::connect_ack() {
  connected_ = true;
  nsp_->adapter().add_all(id_, {id_});
  SioPacket p;
  p.type = SioType::connect;
  p.nsp = nsp_->name();
  p.data = Value::object({{"sid", id_}});
  p.has_data = true;
  client_->write(p);
}

void SocketImpl::emit(std::string_view event, Args args) {
  if (!connected_) return;
  SioPacket p;
  p.type = SioType::event;
  p.nsp = nsp_->name();
  Array& data = p.data.make_array();
  data.reserve(args.size() + 1);
  data.emplace_back(event);
  for (auto& a : args) data.push_back(std::move(a));
  p.has_data = true;
  client_->write(p);
}

void SocketImpl::emit_with_ack(std::string_view event, Args args, AckCallback cb, std::chrono::milliseconds timeout) {
  if (!connected_) {
    if (cb) cb(std::make_error_code(std::errc::not_connected), {});
    return;
  }
  const std::uint64_t id = nsp_->next_ack_id();
  AckEntry entry;
  entry.cb = [cb](std::error_code ec, Args a) {
    if (cb) cb(ec, std::move(a));
  };
  if (timeout.count() > 0) {
    entry.timer_key = "ack\x1f" + id_ + "\x1f" + std::to_string(id);
    std::weak_ptr<SocketImpl> weak = shared_from_this();
    nsp_->server()->timer().schedule_in(entry.timer_key, timeout, [weak, id] {
      auto self = weak.lock();
      if (!self) return;
      auto it = self->acks_.find(id);
      if (it == self->acks_.end()) return;
      auto expired = std::move(it->second);
      self->acks_.erase(it);
      expired.cb(std::make_error_code(std::errc::timed_out), {});
    });
  }
  acks_[id] = std::move(entry);
  SioPacket p;
  p.type = SioType::event;
  p.nsp = nsp_->name();
  p.id = id;
  Array& data = p.data.make_array();
  data.reserve(args.size() + 1);
  data.emplace_back(event);
  for (auto& a : args) data.push_back(std::move(a));
  p.has_data = true;
  client_->write(p);
}

std::error_code SocketImpl::join(std::string room) {
  if (!connected_) return errc::closed;
  if (!may_join(room)) return errc::too_many_rooms;
  nsp_->adapter().add_all(id_, {std::move(room)});
  return {};
}

bool SocketImpl::may_join(const std::string& room) {
  Adapter& adapter = nsp_->adapter();
  auto server = nsp_->server();
  const std::size_t max = server ? server->options().max_rooms_per_socket : 0;
  if (max == 0 || adapter.socket_room_count(id_) < max || adapter.socket_in_room(id_, room)) return true;
  ++server->counters().rooms_refused;
  server->log(LogLevel::warn, [&] {
    return "socket.io socket " + id_ + " in " + nsp_->name() + " (" + request().remote_address + "): join " +
           room.substr(0, 100) + " refused: max_rooms_per_socket (" + std::to_string(max) + ") reached";
  });
  return false;
}

void SocketImpl::leave(const std::string& room) {
  if (!connected_) return;
  nsp_->adapter().del(id_, room);
}

std::vector<std::string> SocketImpl::rooms() const {
  if (!connected_) return {};
  return nsp_->adapter().socket_rooms(id_);
}

void SocketImpl::disconnect(bool close) {
  if (!connected_) return;
  if (close) {
    // Every namespace of the connection leaves with "server namespace disconnect", then the
    // connection itself is closed (socket.io's client._disconnect()).
    auto client = client_;
    client->disconnect_all();
    client->close();
    return;
  }
  SioPacket p;
  p.type = SioType::disconnect;
  p.nsp = nsp_->name();
  client_->write(p);
  on_close(DisconnectReason::server_namespace_disconnect);
}

void SocketImpl::on_packet(SioPacket& packet) {
  switch (packet.type) {
    case SioType::event:
    case SioType::binary_event: on_event(packet); break;
    case SioType::ack:
    case SioType::binary_ack: on_ack(packet); break;
    case SioType::disconnect: on_close(DisconnectReason::client_namespace_disconnect); break;
    default: break;  // CONNECT is handled by the client; CONNECT_ERROR from a client is meaningless
  }
}

// The ack of one event from a client. On the server's thread the reply is encoded straight from
// the handler's values (no packet, Value or list around them). Reused by its socket (make_ack).
class SocketAck final : public AckTarget {
 public:
  SocketAck(std::weak_ptr<SocketImpl> socket, std::uint64_t id, asio::io_context& io)
      : socket_(std::move(socket)), id_(id), io_(io) {}

  /// Serves event `id` afresh. Only when the socket holds the sole reference.
  void reuse(std::uint64_t id) noexcept {
    rearm();
    id_.store(id, std::memory_order_relaxed);
  }

  void send(Args args) override {
    run_on(io_, [socket = socket_, id = id_.load(std::memory_order_relaxed), args = std::move(args)] {
      write(socket, id, args.data(), args.size());
    });
  }
  void send_values(Value* values, std::size_t count) override {
    if (!io_.get_executor().running_in_this_thread()) return AckTarget::send_values(values, count);
    write(socket_, id_.load(std::memory_order_relaxed), values, count);
  }

 private:
  static void write(const std::weak_ptr<SocketImpl>& socket, std::uint64_t id, const Value* values, std::size_t count) {
    auto self = socket.lock();
    if (!self || !self->connected()) return;
    self->write_ack(id, values, count);
  }

  std::weak_ptr<SocketImpl> socket_;
  // Atomic only so that a reuse is no data race even for tools that do not model the fence in
  // make_ack (ThreadSanitizer): a handle sent from another thread reads it there.
  std::atomic<std::uint64_t> id_;
  asio::io_context& io_;
};

void SocketImpl::write_ack(std::uint64_t id, const Value* values, std::size_t count) {
  client_->write_values(SioType::ack, nsp_->name(), id, values, count, false);
}

Ack SocketImpl::make_ack(std::uint64_t id) {
  // A count of one is exact: any other holder would be an Ack handle, and a handle is only made
  // by copying one. The acquire fence orders the last holder's use (a claim and send on another
  // thread, say) before the reuse; its release of the count is acq_rel.
  if (spare_ack_ && spare_ack_.use_count() == 1) {
    std::atomic_thread_fence(std::memory_order_acquire);
    spare_ack_->reuse(id);
  } else {
    spare_ack_ = std::make_shared<SocketAck>(weak_from_this(), id, io_);
  }
  return Ack(spare_ack_);
}

void SocketImpl::rate_limited() {
  auto server = nsp_->server();
  if (server) {
    ++server->counters().rate_limited;
    server->log(LogLevel::warn, [&] {
      return "socket.io socket " + id_ + " in " + nsp_->name() + " (" + request().remote_address +
             "): over max_events_per_second (" + std::to_string(server->options().max_events_per_second) +
             "); disconnecting";
    });
  }
  SioPacket p;
  p.type = SioType::event;
  p.nsp = nsp_->name();
  p.data = Value(Array{Value("error"), Value::object({{"message", "rate limit exceeded"}})});
  p.has_data = true;
  client_->write(p);
  client_->mute(nsp_->name());
  disconnect(false);
}

void SocketImpl::on_event(SioPacket& packet) {
  if (auto server = nsp_->server()) ++server->counters().events_in;
  if (events_.limited() && !events_.take(TokenBucket::Clock::now())) {  // no clock read per event without a limit
    rate_limited();
    return;
  }
  // The arguments take over the decoded array (its first element, the event name, taken out):
  // no second array is allocated.
  Args args(std::move(packet.data.make_array()));
  const std::string event = args.front().as_string();
  args.erase(args.begin());
  Ack ack = packet.id ? make_ack(*packet.id) : Ack();
  auto self = shared_from_this();  // handlers may disconnect us
  if (any_) any_(event, args, ack);
  if (connected_) {
    auto it = handlers_.find(event);
    if (it != handlers_.end()) {
      auto handler = it->second;  // the handler may replace itself
      (*handler)(args, std::move(ack));
    }
  }
  recycle_array(args);  // the next packet's arguments reuse the list
}

void SocketImpl::on_ack(SioPacket& packet) {
  if (!packet.id) return;
  auto it = acks_.find(*packet.id);
  if (it == acks_.end()) return;  // unknown or already timed out
  AckEntry entry = std::move(it->second);
  acks_.erase(it);
  if (!entry.timer_key.empty()) nsp_->server()->timer().cancel(entry.timer_key);
  entry.cb({}, std::move(packet.data.make_array()));
}

void SocketImpl::on_close(DisconnectReason reason) {
  if (!connected_) return;
  connected_ = false;
  auto self = shared_from_this();
  if (auto server = nsp_->server()) ++server->counters().disconnects[static_cast<std::size_t>(reason)];
  nsp_->adapter().del_all(id_);
  nsp_->remove(id_);
  client_->remove(nsp_->name());
  // Acks that can no longer arrive fail now rather than at their timeout.
  auto acks = std::move(acks_);
  acks_.clear();
  for (auto& [id, entry] : acks) {
    if (!entry.timer_key.empty()) nsp_->server()->timer().cancel(entry.timer_key);
    entry.cb(std::make_error_code(std::errc::not_connected), {});
  }
  auto handler = std::move(on_disconnect_);
  on_disconnect_ = nullptr;
  if (handler) handler(reason);
  // Break cycles through handlers that captured this socket's handle.
  handlers_.clear();
  any_ = nullptr;
}

// =============================================================================================
// NamespaceImpl

NamespaceImpl::NamespaceImpl(std::shared_ptr<ServerImpl> server, std::string name)
    : server_(server), io_(server->io()), name_(std::move(name)) {}

NamespaceImpl::~NamespaceImpl() {
  if (adapter_) adapter_->close();
}

asio::io_context& NamespaceImpl::io() noexcept { return io_; }

void NamespaceImpl::init_adapter(bool local_only) {
  auto server = server_.lock();
  if (!local_only && server && server->options().adapter) {
    adapter_ = server->options().adapter(*this);
  } else {
    adapter_ = std::make_unique<InMemoryAdapter>(*this);
  }
  adapter_->init();
}

void NamespaceImpl::add(const std::shared_ptr<Client>& client, Value auth,
                        std::function<void(std::shared_ptr<SocketImpl>)> done) {
  auto server = server_.lock();
  if (!server) return;
  auto socket = std::make_shared<SocketImpl>(shared_from_this(), client, server->generate_id(), std::move(auth));
  std::weak_ptr<NamespaceImpl> weak = shared_from_this();
  run_middlewares(0, socket, [weak, socket, client, done](std::optional<ConnectError> error) {
    auto self = weak.lock();
    if (!self || !client->conn().is_open()) {
      done(nullptr);
      return;
    }
    if (error) {
      SioPacket p;
      p.type = SioType::connect_error;
      p.nsp = self->name_;
      p.data = error_payload(error->message, &error->data);
      p.has_data = true;
      client->write(p);
      done(nullptr);
      return;
    }
    self->sockets_[socket->id()] = socket;
    self->socket_count_.store(self->sockets_.size(), std::memory_order_relaxed);
    socket->connect_ack();
    done(socket);
    auto handler = self->on_connection_;
    if (!handler) {
      if (auto parent = self->parent()) handler = parent->on_connection_;
    }
    if (handler && socket->connected()) handler(Socket(socket));
  });
}

void NamespaceImpl::run_middlewares(std::size_t index, std::shared_ptr<SocketImpl> socket,
                                    std::function<void(std::optional<ConnectError>)> done) {
  // A dynamic child runs its parent's middlewares first.
  const std::vector<Middleware>* list = &middlewares_;
  std::vector<Middleware> combined;
  if (auto parent = this->parent()) {
    combined = parent->middlewares_;
    combined.insert(combined.end(), middlewares_.begin(), middlewares_.end());
    list = &combined;
  }
  if (index >= list->size()) {
    done(std::nullopt);
    return;
  }
  Middleware mw = (*list)[index];
  std::weak_ptr<NamespaceImpl> weak = shared_from_this();
  asio::io_context* io = &io_;
  mw(Socket(socket), Next([weak, index, socket, done, io](std::optional<ConnectError> error) {
    run_on(*io, [weak, index, socket, done, error = std::move(error)]() mutable {
      auto self = weak.lock();
      if (!self) return;
      if (error) {
        done(std::move(error));
      } else {
        self->run_middlewares(index + 1, socket, done);
      }
    });
  }));
}

void NamespaceImpl::remove(const std::string& id) {
  sockets_.erase(id);
  socket_count_.store(sockets_.size(), std::memory_order_relaxed);
}

void NamespaceImpl::close_all(DisconnectReason reason) {
  auto sockets = sockets_;
  for (auto& [id, s] : sockets) s->on_close(reason);
}

void NamespaceImpl::shutdown() {
  on_connection_ = nullptr;
  middlewares_.clear();
  server_side_handlers_.clear();
  matcher_ = nullptr;
  children_.clear();
}

void NamespaceImpl::release_adapter() {
  if (adapter_) adapter_->close();
}

EncodedPacket NamespaceImpl::encode_delivery(const OutPacket& packet, std::optional<std::uint64_t> id) const {
  return encode(static_cast<SioType>(packet.type), name_, id, packet.data);  // no copy of the data
}

void NamespaceImpl::deliver(const OutPacket& packet, const std::vector<SocketId>& ids, bool volatile_,
                            std::function<void(Args)> ack) {
  if (ids.empty()) return;
  // Acks are routed by an id this server hands out: a packet from another server carries none
  // (Node's adapter) or one from that server's own sequence, which could clash with ours.
  const std::optional<std::uint64_t> id = ack ? std::optional<std::uint64_t>(next_ack_id()) : packet.id;
  const EncodedPacket encoded = encode_delivery(packet, id);  // once, shared by every recipient
  for (const auto& sid : ids) {
    auto it = sockets_.find(sid);
    if (it == sockets_.end() || !it->second->connected()) continue;
    if (ack) it->second->expect_ack(*id, ack);
    it->second->client()->write(encoded, volatile_);
  }
}

LocalSocket* NamespaceImpl::local_socket(const SocketId& id) noexcept {
  auto it = sockets_.find(id);
  return it == sockets_.end() ? nullptr : it->second.get();
}

void NamespaceImpl::deliver_to(const OutPacket& packet, const std::vector<LocalSocket*>& sockets, bool volatile_,
                               std::function<void(Args)> ack) {
  if (sockets.empty()) return;
  const std::optional<std::uint64_t> id = ack ? std::optional<std::uint64_t>(next_ack_id()) : packet.id;
  if (sockets.size() == 1) {  // to one socket: nothing to share
    auto* socket = static_cast<SocketImpl*>(sockets.front());
    if (!socket->connected()) return;
    if (ack) socket->expect_ack(*id, ack);
    socket->client()->write_values(static_cast<SioType>(packet.type), name_, id, packet.data.data(),
                                   packet.data.size(), volatile_);
    return;
  }
  const EncodedPacket encoded = encode_delivery(packet, id);
  // A large room does not fit in the caches: each recipient is a chain of objects (socket, client,
  // engine session, connection), and a miss on each link costs more than the send itself. So the
  // loop loads ahead, one link deeper the closer a recipient gets, each stage reading a pointer the
  // previous stage brought in. Every LocalSocket this host hands out is a SocketImpl, referenced
  // until its del_all.
  const std::size_t n = sockets.size();
  auto at = [&sockets](std::size_t k) { return static_cast<SocketImpl*>(sockets[k]); };
  for (std::size_t i = 0; i < n; ++i) {
    if (i + 12 < n) {
      __builtin_prefetch(at(i + 12));
      __builtin_prefetch(reinterpret_cast<const char*>(at(i + 12)) + 64);
    }
    if (i + 8 < n) __builtin_prefetch(at(i + 8)->client().get());
    if (i + 4 < n)
      if (const Client* c = at(i + 4)->client().get()) __builtin_prefetch(c->conn().session().get());
    if (i + 2 < n)
      if (const Client* c = at(i + 2)->client().get())
        if (const auto& session = c->conn().session()) session->prefetch_link();
    auto* socket = at(i);
    if (!socket->connected()) continue;
    if (ack) socket->expect_ack(*id, ack);
    socket->client()->write(encoded, volatile_);
  }
}

bool NamespaceImpl::may_join(const SocketId& id, const RoomName& room) {
  auto it = sockets_.find(id);
  // sockets_ gets a socket before the adapter does and loses it after: an unknown id is not ours.
  return it != sockets_.end() && it->second->may_join(room);
}

std::optional<SocketInfo> NamespaceImpl::describe(const SocketId& id) const {
  auto it = sockets_.find(id);
  if (it == sockets_.end()) return std::nullopt;
  const auto& s = it->second;
  return SocketInfo{s->id(), s->rooms(), s->request(), s->auth(), s->shared_data()};
}

void NamespaceImpl::disconnect(const SocketId& id, bool close) {
  auto it = sockets_.find(id);
  if (it == sockets_.end()) return;
  auto s = it->second;
  s->disconnect(close);
}

void NamespaceImpl::adopt(const std::shared_ptr<NamespaceImpl>& child) {
  children_.erase(std::remove_if(children_.begin(), children_.end(), [](const auto& w) { return w.expired(); }),
                  children_.end());
  children_.push_back(child);
}

namespace {
OutPacket event_packet(const std::string& nsp, std::string_view event, Args args) {
  OutPacket p;
  p.type = 2;
  p.nsp = nsp;
  p.data.reserve(args.size() + 1);
  p.data.emplace_back(event);
  for (auto& a : args) p.data.push_back(std::move(a));
  return p;
}
}  // namespace

void NamespaceImpl::broadcast(const BroadcastOptions& opts, std::string_view event, Args args) {
  if (is_parent()) {
    for (auto& w : children_)
      if (auto c = w.lock()) c->broadcast(opts, event, args);
    return;
  }
  adapter_->broadcast(event_packet(name_, event, std::move(args)), opts);
}

void NamespaceImpl::broadcast_with_ack(const BroadcastOptions& opts, std::string_view event, Args args,
                                       std::function<void(std::error_code, std::vector<Value>)> cb) {
  // As socket.io's BroadcastOperator: every server reports how many clients it sent the packet
  // to; complete once all servers reported and that many acks arrived.
  struct State {
    std::size_t expected_clients = 0;
    std::size_t servers_reported = 0;
    std::optional<std::size_t> servers;
    std::vector<Value> responses;
    bool done = false;
    std::string timer_key;
    std::function<void(std::error_code, std::vector<Value>)> cb;
  };
  auto server = server_.lock();
  if (!server) return;
  auto state = std::make_shared<State>();
  state->cb = std::move(cb);
  OutPacket packet = event_packet(name_, event, std::move(args));
  packet.id = next_ack_id();
  auto finish = [state, server](std::error_code ec) {
    if (state->done) return;
    state->done = true;
    if (!state->timer_key.empty()) server->timer().cancel(state->timer_key);
    if (state->cb) state->cb(ec, std::move(state->responses));
  };
  auto check = [state, finish] {
    if (state->servers && state->servers_reported >= *state->servers &&
        state->responses.size() >= state->expected_clients)
      finish({});
  };
  if (opts.flags.timeout) {
    state->timer_key = "bcast-ack\x1f" + name_ + "\x1f" + std::to_string(*packet.id);
    server->timer().schedule_in(state->timer_key, *opts.flags.timeout,
                                [finish] { finish(std::make_error_code(std::errc::timed_out)); });
  }
  if (opts.flags.local) {
    state->servers = 1;
  } else {
    adapter_->server_count([state, check](std::size_t n) {
      state->servers = std::max<std::size_t>(n, 1);
      check();
    });
  }
  adapter_->broadcast_with_ack(
      packet, opts,
      [state, check](std::size_t count) {
        state->expected_clients += count;
        ++state->servers_reported;
        check();
      },
      [state, check](Args a) {
        if (state->done) return;
        state->responses.push_back(a.empty() ? Value() : std::move(a.front()));
        check();
      });
}

void NamespaceImpl::server_side_emit(std::string_view event, Args args,
                                     std::function<void(std::error_code, std::vector<Value>)> done) {
  Args data;
  data.reserve(args.size() + 1);
  data.emplace_back(event);
  for (auto& a : args) data.push_back(std::move(a));
  adapter_->server_side_emit(data, std::move(done));
}

void NamespaceImpl::server_side_emit_received(Args data, std::function<void(Value)> reply) {
  if (data.empty() || !data.front().is_string()) return;
  const std::string event = data.front().as_string();
  auto it = server_side_handlers_.find(event);
  if (it == server_side_handlers_.end()) return;
  Args args(std::make_move_iterator(data.begin() + 1), std::make_move_iterator(data.end()));
  Ack ack;
  if (reply) {
    ack = Ack([reply, io = &io_](Args a) {
      run_on(*io, [reply, a = std::move(a)]() mutable { reply(a.empty() ? Value() : std::move(a.front())); });
    });
  }
  auto handler = it->second;
  handler(args, ack);
}

void NamespaceImpl::fetch_sockets(const BroadcastOptions& opts,
                                  std::function<void(std::vector<SocketInfo>, std::error_code)> cb) {
  if (!is_parent()) {
    adapter_->fetch_sockets(opts, std::move(cb));
    return;
  }
  struct Gather {
    std::size_t left = 0;
    std::vector<SocketInfo> all;
    std::error_code ec;
    std::function<void(std::vector<SocketInfo>, std::error_code)> cb;
  };
  auto g = std::make_shared<Gather>();
  g->cb = std::move(cb);
  std::vector<std::shared_ptr<NamespaceImpl>> kids;
  for (auto& w : children_)
    if (auto c = w.lock()) kids.push_back(c);
  g->left = kids.size();
  if (kids.empty()) {
    g->cb({}, {});
    return;
  }
  for (auto& c : kids) {
    c->fetch_sockets(opts, [g](std::vector<SocketInfo> part, std::error_code ec) {
      for (auto& s : part) g->all.push_back(std::move(s));
      if (ec) g->ec = ec;
      if (--g->left == 0) g->cb(std::move(g->all), g->ec);
    });
  }
}

void NamespaceImpl::sockets_join(const BroadcastOptions& opts, std::string room) {
  if (is_parent()) {
    for (auto& w : children_)
      if (auto c = w.lock()) c->sockets_join(opts, room);
    return;
  }
  adapter_->add_sockets(opts, {std::move(room)});
}

void NamespaceImpl::sockets_leave(const BroadcastOptions& opts, std::string room) {
  if (is_parent()) {
    for (auto& w : children_)
      if (auto c = w.lock()) c->sockets_leave(opts, room);
    return;
  }
  adapter_->del_sockets(opts, {std::move(room)});
}

void NamespaceImpl::disconnect_sockets(const BroadcastOptions& opts, bool close) {
  if (is_parent()) {
    for (auto& w : children_)
      if (auto c = w.lock()) c->disconnect_sockets(opts, close);
    return;
  }
  adapter_->disconnect_sockets(opts, close);
}

// =============================================================================================
// ServerImpl

ServerImpl::ServerImpl(asio::io_context& io, ServerOptions options)
    : io_(io), options_(std::move(options)), engine_(io, options_.engine), timer_(io) {}

void ServerImpl::start() {
  std::weak_ptr<ServerImpl> weak = shared_from_this();
  engine_.on_connection([weak](EngineSocket conn) {
    auto self = weak.lock();
    if (!self || self->closing_) {
      conn.close();
      return;
    }
    auto client = std::make_shared<Client>(self, conn);
    self->clients_[client.get()] = client;
    client->start();
  });
  of("/");
}

std::shared_ptr<NamespaceImpl> ServerImpl::of(const std::string& raw) {
  std::string name = raw.empty() || raw.front() != '/' ? "/" + raw : raw;
  std::lock_guard<std::mutex> lock(namespaces_mutex_);
  auto it = namespaces_.find(name);
  if (it != namespaces_.end()) return it->second;
  auto ns = std::make_shared<NamespaceImpl>(shared_from_this(), name);
  ns->init_adapter();
  namespaces_.emplace(name, ns);
  return ns;
}

std::shared_ptr<NamespaceImpl> ServerImpl::add_parent(std::function<bool(const std::string&, const Value&)> matcher,
                                                      std::string label) {
  auto ns = std::make_shared<NamespaceImpl>(shared_from_this(), std::move(label));
  ns->set_matcher(std::move(matcher));
  ns->init_adapter(/*local_only=*/true);
  std::lock_guard<std::mutex> lock(namespaces_mutex_);
  parents_.push_back(ns);
  return ns;
}

std::shared_ptr<NamespaceImpl> ServerImpl::resolve(const std::string& name, const Value& auth) {
  std::vector<std::shared_ptr<NamespaceImpl>> parents;
  {
    std::lock_guard<std::mutex> lock(namespaces_mutex_);
    auto it = namespaces_.find(name);
    if (it != namespaces_.end()) return it->second;
    parents = parents_;
  }
  for (auto& parent : parents) {
    if (!parent->matches(name, auth)) continue;
    auto child = of(name);
    child->set_parent(parent);
    parent->adopt(child);
    return child;
  }
  return nullptr;
}

std::string ServerImpl::generate_id() { return random_id(); }

void ServerImpl::remove_client(Client* c) { clients_.erase(c); }

void ServerImpl::close(std::function<void()> done) {
  if (closing_) {
    if (done) done();
    return;
  }
  closing_ = true;
  std::vector<std::shared_ptr<NamespaceImpl>> all;
  {
    std::lock_guard<std::mutex> lock(namespaces_mutex_);
    for (auto& [n, ns] : namespaces_) all.push_back(ns);
    for (auto& ns : parents_) all.push_back(ns);
  }
  log(LogLevel::info, [&] {
    return "socket.io server shutting down: " + std::to_string(clients_.size()) + " connections, drain_timeout " +
           std::to_string(options_.drain_timeout.count()) + " ms";
  });
  // 1. Every socket leaves with "server shutting down" (no packet: as in socket.io, the client
  //    sees its connection close, "transport close", and reconnects, possibly to another server).
  for (auto& ns : all) ns->close_all(DisconnectReason::server_shutting_down);
  for (auto& ns : all) ns->shutdown();
  // 2. Engine.IO sessions close after their queued packets (WebSocket close frames follow the data;
  //    polling clients collect the rest on their next poll); the drain waits up to drain_timeout.
  // 3. Then the adapters let go of the cluster (Redis unsubscribes), and `done` runs.
  std::weak_ptr<ServerImpl> weak = shared_from_this();
  engine_.close(
      [weak, all = std::move(all), done = std::move(done)] {
        for (auto& ns : all) ns->release_adapter();
        if (auto self = weak.lock()) self->log(LogLevel::info, [] { return std::string("socket.io server closed"); });
        if (done) done();
      },
      options_.drain_timeout);
}

Metrics ServerImpl::metrics() {
  Metrics m = counters_;
  engine_.core()->metrics(m.engine);
  std::vector<std::shared_ptr<NamespaceImpl>> all;
  {
    std::lock_guard<std::mutex> lock(namespaces_mutex_);
    for (auto& [n, ns] : namespaces_) all.push_back(ns);
  }
  m.namespaces = all.size();
  for (auto& ns : all) {
    m.sockets += ns->socket_count();
    m.rooms += ns->adapter().local_room_count();
    ns->adapter().collect_metrics(m.adapter);
  }
  return m;
}

}  // namespace courier::detail
