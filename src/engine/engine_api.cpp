// The public Engine.IO handles (EngineSocket, EngineServer) over the detail classes.
#include <courier/engine_server.hpp>
#include <courier/engine_socket.hpp>

#include <asio/post.hpp>

#include "engine/engine_core.hpp"
#include "engine/session.hpp"

namespace courier {

std::string_view to_string(TransportKind kind) noexcept {
  return kind == TransportKind::websocket ? "websocket" : "polling";
}

EngineSocket::EngineSocket(std::shared_ptr<detail::EngineSession> session) noexcept : session_(std::move(session)) {}

const std::string& EngineSocket::id() const noexcept {
  static const std::string empty;
  return session_ ? session_->id() : empty;
}

const RequestInfo& EngineSocket::request() const noexcept {
  static const RequestInfo empty;
  return session_ ? session_->request() : empty;
}

TransportKind EngineSocket::transport() const noexcept {
  return session_ ? session_->transport() : TransportKind::polling;
}

bool EngineSocket::is_open() const noexcept { return session_ && session_->is_open(); }

void EngineSocket::send(std::string text) const {
  if (!session_) return;
  detail::QueuedPacket p;
  p.own = std::move(text);
  session_->send(std::move(p));
}

void EngineSocket::send_binary(std::string bytes) const {
  if (!session_) return;
  detail::QueuedPacket p;
  p.binary = true;
  p.own = std::move(bytes);
  session_->send(std::move(p));
}

void EngineSocket::send_shared(const std::shared_ptr<const std::string>& text, bool binary) const {
  if (!session_ || !text) return;
  session_->send_shared(text, binary);
}

void EngineSocket::close() const {
  if (session_) session_->close_by_server();
}

void EngineSocket::on_message(std::function<void(const EngineMessage&)> handler) const {
  if (session_) session_->set_message_handler(std::move(handler));
}

void EngineSocket::on_close(std::function<void(CloseReason, std::string_view)> handler) const {
  if (session_) session_->set_close_handler(std::move(handler));
}

EngineServer::EngineServer(asio::io_context& io, EngineOptions options)
    : core_(std::make_shared<detail::EngineCore>(io, std::move(options))) {}

EngineServer::~EngineServer() { close(); }

void EngineServer::on_connection(std::function<void(EngineSocket)> handler) {
  auto& io = core_->io();
  if (io.get_executor().running_in_this_thread() || io.stopped()) {
    core_->set_connection_handler(std::move(handler));
  } else {
    asio::post(io, [core = core_, h = std::move(handler)]() mutable { core->set_connection_handler(std::move(h)); });
  }
}

std::size_t EngineServer::session_count() const noexcept { return core_->session_count(); }

void EngineServer::metrics(std::function<void(EngineMetrics)> done) const {
  if (!done) return;
  auto work = [core = core_, done = std::move(done)] {
    EngineMetrics m;
    core->metrics(m);
    done(m);
  };
  auto& io = core_->io();
  if (io.get_executor().running_in_this_thread()) {
    work();
  } else {
    asio::post(io, std::move(work));
  }
}

const EngineOptions& EngineServer::options() const noexcept { return core_->options(); }

void EngineServer::close(std::function<void()> done, std::chrono::milliseconds drain_timeout) {
  auto work = [core = core_, done = std::move(done), drain_timeout]() mutable {
    core->close_all();
    core->when_drained(drain_timeout, std::move(done));
  };
  auto& io = core_->io();
  if (io.get_executor().running_in_this_thread() || io.stopped()) {
    work();
  } else {
    asio::post(io, std::move(work));
  }
}

void EngineServer::close() {
  auto& io = core_->io();
  if (io.get_executor().running_in_this_thread() || io.stopped()) {
    core_->close_all();
  } else {
    asio::post(io, [core = core_] { core->close_all(); });
  }
}

}  // namespace courier
