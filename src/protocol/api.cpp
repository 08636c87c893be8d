// Public Socket.IO handles over the detail classes. Each operation runs on the server's thread
// (posted when called elsewhere).
#include <courier/namespace.hpp>
#include <courier/room.hpp>
#include <courier/server.hpp>
#include <courier/socket.hpp>

#include <asio/executor_work_guard.hpp>

#include <future>
#include <thread>

#include "protocol/ack_target.hpp"
#include "protocol/server_impl.hpp"

namespace courier {

std::string_view to_string(DisconnectReason reason) noexcept {
  switch (reason) {
    case DisconnectReason::transport_close: return "transport close";
    case DisconnectReason::transport_error: return "transport error";
    case DisconnectReason::ping_timeout: return "ping timeout";
    case DisconnectReason::parse_error: return "parse error";
    case DisconnectReason::forced_close: return "forced close";
    case DisconnectReason::server_namespace_disconnect: return "server namespace disconnect";
    case DisconnectReason::client_namespace_disconnect: return "client namespace disconnect";
    case DisconnectReason::server_shutting_down: return "server shutting down";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// Ack

namespace {
// An ack answered by a std::function (the public constructor).
class FunctionAck final : public detail::AckTarget {
 public:
  explicit FunctionAck(std::function<void(Args)> f) : f_(std::move(f)) {}
  void send(Args args) override { f_(std::move(args)); }

 private:
  std::function<void(Args)> f_;
};
}  // namespace

Ack::Ack(std::function<void(Args)> send) {
  if (send) target_ = std::make_shared<FunctionAck>(std::move(send));
}

Ack::operator bool() const noexcept { return target_ && !target_->used(); }

void Ack::operator()(Args args) const {
  if (target_ && target_->claim()) target_->send(std::move(args));
}

void Ack::send_values(Value* values, std::size_t count) const {
  if (target_ && target_->claim()) target_->send_values(values, count);
}

// ---------------------------------------------------------------------------------------------
// Socket

Socket::Socket(std::shared_ptr<detail::SocketImpl> impl) noexcept : impl_(std::move(impl)) {}

const std::string& Socket::id() const noexcept { return impl_->id(); }
const std::string& Socket::nsp() const noexcept { return impl_->nsp_name(); }
const RequestInfo& Socket::request() const noexcept { return impl_->request(); }
const Value& Socket::auth() const noexcept { return impl_->auth(); }
bool Socket::connected() const noexcept { return impl_ && impl_->connected(); }

void Socket::on(std::string event, EventHandler handler) const {
  detail::run_on(impl_->io(), [impl = impl_, e = std::move(event), h = std::move(handler)]() mutable {
    impl->on(std::move(e), std::move(h));
  });
}

void Socket::on_any(AnyHandler handler) const {
  detail::run_on(impl_->io(), [impl = impl_, h = std::move(handler)]() mutable { impl->on_any(std::move(h)); });
}

void Socket::on_disconnect(std::function<void(DisconnectReason)> handler) const {
  detail::run_on(impl_->io(), [impl = impl_, h = std::move(handler)]() mutable { impl->on_disconnect(std::move(h)); });
}

void Socket::emit_args(std::string_view event, Args args) const {
  if (impl_->io().get_executor().running_in_this_thread()) {
    impl_->emit(event, std::move(args));
    return;
  }
  asio::post(impl_->io(), [impl = impl_, e = std::string(event), a = std::move(args)]() mutable {
    impl->emit(e, std::move(a));
  });
}

void Socket::emit_with_ack(std::string_view event, Args args, AckCallback callback,
                           std::chrono::milliseconds timeout) const {
  detail::run_on(impl_->io(), [impl = impl_, e = std::string(event), a = std::move(args), cb = std::move(callback),
                               timeout]() mutable { impl->emit_with_ack(e, std::move(a), std::move(cb), timeout); });
}

void Socket::join(std::string room) const {
  detail::run_on(impl_->io(), [impl = impl_, r = std::move(room)]() mutable { impl->join(std::move(r)); });
}

void Socket::join(std::string room, std::function<void(std::error_code)> done) const {
  detail::run_on(impl_->io(), [impl = impl_, r = std::move(room), done = std::move(done)]() mutable {
    const std::error_code ec = impl->join(std::move(r));
    if (done) done(ec);
  });
}

void Socket::leave(std::string room) const {
  detail::run_on(impl_->io(), [impl = impl_, r = std::move(room)] { impl->leave(r); });
}

std::vector<std::string> Socket::rooms() const {
  auto& io = impl_->io();
  if (io.get_executor().running_in_this_thread() || io.stopped()) return impl_->rooms();
  // Another thread: ask the server's thread and wait for its answer.
  std::promise<std::vector<std::string>> answer;
  auto result = answer.get_future();
  asio::post(io, [impl = impl_, &answer] { answer.set_value(impl->rooms()); });
  return result.get();
}

Room Socket::to(std::string room) const {
  BroadcastOptions opts;
  opts.rooms.push_back(std::move(room));
  opts.except.push_back(impl_->id());
  return Room(impl_->nsp(), std::move(opts));
}

Room Socket::broadcast() const {
  BroadcastOptions opts;
  opts.except.push_back(impl_->id());
  return Room(impl_->nsp(), std::move(opts));
}

void Socket::disconnect(bool close) const {
  detail::run_on(impl_->io(), [impl = impl_, close] { impl->disconnect(close); });
}

std::any& Socket::data() const { return impl_->data(); }

void Socket::set_shared_data(Value value) const { impl_->set_shared_data(std::move(value)); }

// ---------------------------------------------------------------------------------------------
// Room

Room::Room(std::shared_ptr<detail::NamespaceImpl> nsp, BroadcastOptions opts) : nsp_(std::move(nsp)), opts_(std::move(opts)) {}

Room Room::to(std::string room) const {
  Room r = *this;
  r.opts_.rooms.push_back(std::move(room));
  return r;
}

Room Room::except(std::string room) const {
  Room r = *this;
  r.opts_.except.push_back(std::move(room));
  return r;
}

Room Room::local() const {
  Room r = *this;
  r.opts_.flags.local = true;
  return r;
}

Room Room::volatile_() const {
  Room r = *this;
  r.opts_.flags.volatile_ = true;
  return r;
}

Room Room::timeout(std::chrono::milliseconds timeout) const {
  Room r = *this;
  r.opts_.flags.timeout = timeout;
  return r;
}

void Room::emit_args(std::string_view event, Args args) const {
  if (nsp_->io().get_executor().running_in_this_thread()) {
    nsp_->broadcast(opts_, event, std::move(args));
    return;
  }
  asio::post(nsp_->io(), [nsp = nsp_, opts = opts_, e = std::string(event), a = std::move(args)]() mutable {
    nsp->broadcast(opts, e, std::move(a));
  });
}

void Room::emit_with_ack(std::string_view event, Args args,
                         std::function<void(std::error_code, std::vector<Value>)> callback) const {
  detail::run_on(nsp_->io(), [nsp = nsp_, opts = opts_, e = std::string(event), a = std::move(args),
                              cb = std::move(callback)]() mutable {
    nsp->broadcast_with_ack(opts, e, std::move(a), std::move(cb));
  });
}

void Room::fetch_sockets(std::function<void(std::vector<SocketInfo>, std::error_code)> callback) const {
  detail::run_on(nsp_->io(), [nsp = nsp_, opts = opts_, cb = std::move(callback)]() mutable {
    nsp->fetch_sockets(opts, std::move(cb));
  });
}

void Room::sockets_join(std::string room) const {
  detail::run_on(nsp_->io(), [nsp = nsp_, opts = opts_, r = std::move(room)]() mutable {
    nsp->sockets_join(opts, std::move(r));
  });
}

void Room::sockets_leave(std::string room) const {
  detail::run_on(nsp_->io(), [nsp = nsp_, opts = opts_, r = std::move(room)]() mutable {
    nsp->sockets_leave(opts, std::move(r));
  });
}

void Room::disconnect_sockets(bool close) const {
  detail::run_on(nsp_->io(), [nsp = nsp_, opts = opts_, close] { nsp->disconnect_sockets(opts, close); });
}

// ---------------------------------------------------------------------------------------------
// Namespace

Namespace::Namespace(std::shared_ptr<detail::NamespaceImpl> impl) noexcept : impl_(std::move(impl)) {}

const std::string& Namespace::name() const noexcept { return impl_->name(); }

void Namespace::use(Middleware middleware) const {
  detail::run_on(impl_->io(), [impl = impl_, m = std::move(middleware)]() mutable { impl->use(std::move(m)); });
}

void Namespace::on_connection(std::function<void(Socket)> handler) const {
  detail::run_on(impl_->io(), [impl = impl_, h = std::move(handler)]() mutable {
    impl->set_connection_handler(std::move(h));
  });
}

Room Namespace::all() const { return Room(impl_, {}); }
Room Namespace::to(std::string room) const { return all().to(std::move(room)); }
Room Namespace::except(std::string room) const { return all().except(std::move(room)); }
Room Namespace::local() const { return all().local(); }
Room Namespace::volatile_() const { return all().volatile_(); }
Room Namespace::timeout(std::chrono::milliseconds timeout) const { return all().timeout(timeout); }
void Namespace::emit_args(std::string_view event, Args args) const { all().emit_args(event, std::move(args)); }
std::size_t Namespace::socket_count() const noexcept { return impl_->socket_count(); }

void Namespace::server_side_emit_args(std::string_view event, Args args) const {
  detail::run_on(impl_->io(), [impl = impl_, e = std::string(event), a = std::move(args)]() mutable {
    impl->server_side_emit(e, std::move(a), nullptr);
  });
}

void Namespace::server_side_emit_with_ack(std::string_view event, Args args,
                                          std::function<void(std::error_code, std::vector<Value>)> callback) const {
  detail::run_on(impl_->io(), [impl = impl_, e = std::string(event), a = std::move(args),
                               cb = std::move(callback)]() mutable { impl->server_side_emit(e, std::move(a), std::move(cb)); });
}

void Namespace::on_server_side_emit(std::string event, EventHandler handler) const {
  detail::run_on(impl_->io(), [impl = impl_, e = std::move(event), h = std::move(handler)]() mutable {
    impl->set_server_side_handler(std::move(e), std::move(h));
  });
}

// ---------------------------------------------------------------------------------------------
// Server

struct Server::Runner {
  explicit Runner(asio::io_context& io) : guard(asio::make_work_guard(io)) {}
  asio::executor_work_guard<asio::io_context::executor_type> guard;
  std::thread thread;
};

Server::Server(asio::io_context& io, ServerOptions options)
    : impl_(std::make_shared<detail::ServerImpl>(io, std::move(options))) {
  impl_->start();
}

Server::Server(ServerOptions options)
    : owned_io_(std::make_unique<asio::io_context>()),
      impl_(std::make_shared<detail::ServerImpl>(*owned_io_, std::move(options))) {
  impl_->start();
}

Server::~Server() {
  close();
  if (runner_ && runner_->thread.joinable()) {
    if (runner_->thread.get_id() == std::this_thread::get_id()) {
      runner_->thread.detach();
    } else {
      runner_->thread.join();
    }
  }
}

asio::io_context& Server::context() noexcept { return impl_->io(); }

Namespace Server::of(const std::string& name) { return Namespace(impl_->of(name)); }

Namespace Server::of(std::function<bool(const std::string&, const Value&)> accept) {
  return Namespace(impl_->add_parent(std::move(accept), "<dynamic>"));
}

Namespace Server::of(const std::regex& pattern) {
  return Namespace(impl_->add_parent([pattern](const std::string& name, const Value&) {
    return std::regex_match(name, pattern);
  }, "<regex>"));
}

void Server::attach(Listener& listener) { listener.mount(impl_->engine()); }

std::error_code Server::listen(const ListenOptions& options) {
  if (!listener_) {
    listener_ = std::make_shared<Listener>(context(), impl_->options().logger);
    attach(*listener_);
  }
  return listener_->listen(options);
}

std::uint16_t Server::port() const noexcept { return listener_ ? listener_->port() : 0; }

void Server::run() {
  if (!owned_io_) return;
  if (!runner_) runner_ = std::make_unique<Runner>(*owned_io_);
  owned_io_->run();
}

void Server::start() {
  if (!owned_io_ || runner_) return;
  runner_ = std::make_unique<Runner>(*owned_io_);
  runner_->thread = std::thread([io = owned_io_.get()] { io->run(); });
}

void Server::metrics(std::function<void(Metrics)> done) const {
  if (!done) return;
  detail::run_on(impl_->io(), [impl = impl_, done = std::move(done)] { done(impl->metrics()); });
}

void Server::serve_metrics(Listener& listener, std::string path) {
  std::weak_ptr<detail::ServerImpl> weak = impl_;
  listener.serve_text(std::move(path), "text/plain; version=0.0.4; charset=utf-8",
                      [weak](std::function<void(std::string)> respond) {
                        auto impl = weak.lock();
                        // The listener runs on the server's thread: a consistent snapshot, now.
                        respond(impl ? to_prometheus(impl->metrics()) : std::string());
                      });
}

void Server::serve_metrics(std::string path) {
  if (!listener_) {
    listener_ = std::make_shared<Listener>(context(), impl_->options().logger);
    attach(*listener_);
  }
  serve_metrics(*listener_, std::move(path));
}

void Server::close(std::function<void()> done) {
  auto& io = context();
  std::weak_ptr<Listener> weak_listener = listener_;  // the Server may be gone when the drain ends
  auto work = [impl = impl_, weak_listener, runner = runner_.get(), done = std::move(done)]() mutable {
    // New sessions are refused at once (503); the port itself stays open until the drain is over,
    // because a polling client fetches what was queued for it (and its close packet) with new
    // HTTP requests.
    impl->close([weak_listener, done = std::move(done)] {
      if (auto listener = weak_listener.lock()) listener->close();
      if (done) done();
    });
    if (runner) runner->guard.reset();  // run() returns once the last connections finished closing
  };
  if (io.get_executor().running_in_this_thread() || io.stopped() || (owned_io_ && !runner_)) {
    work();
  } else {
    asio::post(io, std::move(work));
  }
}

}  // namespace courier
