#include "engine/session.hpp"

#include <asio/post.hpp>

#include "engine/engine_core.hpp"

namespace courier::detail {
namespace {

constexpr auto kNoopPeriod = std::chrono::milliseconds(100);  // Node's upgrade check interval

// Routes a WebSocket's events to its session; holds it weakly so a connection never pins a
// closed session.
class SessionWsHandler final : public WsHandler {
 public:
  SessionWsHandler(std::weak_ptr<EngineSession> session, const WsLink* link) : session_(std::move(session)), link_(link) {}
  void on_ws_message(std::string_view data, bool binary) override {
    if (auto s = session_.lock()) s->on_ws_message(link_, data, binary);
  }
  void on_ws_close(bool error, std::string_view why) override {
    if (auto s = session_.lock()) s->on_ws_close(link_, error, why);
  }

 private:
  std::weak_ptr<EngineSession> session_;
  const WsLink* link_;
};

// Frames of the shared packets (broadcasts) sent in the current io_context turn. A broadcast
// reaches its recipients one after another with the same shared string, so a few entries catch it
// (the text packet and its attachments): the first recipient's link builds the frame, the others
// queue the same bytes. Per thread, as an io_context is run by one thread. An entry holds its key
// string, so an address match always means the same immutable payload; the cache is emptied at
// the end of the turn only so that it pins no payload longer than needed.
void clear_frame_cache_of_this_thread();

class FrameCache {
 public:
  /// The turn's frame of `data`, built on first use; null when the link has no prepared frames.
  /// Valid until the next call (the caller queues a reference to it at once).
  const PreparedFrame* get(asio::io_context& io, const WsLink& link, PacketType type,
                           const std::shared_ptr<const std::string>& data, bool binary) {
    for (const auto& e : entries_)
      if (e.data == data && e.type == type && e.binary == binary) return &e.frame;
    PreparedFrame frame = link.prepare(type, *data, binary);
    if (!frame) return nullptr;
    Entry& slot = entries_[next_];
    next_ = (next_ + 1) % kSize;
    slot.data = data;
    slot.type = type;
    slot.binary = binary;
    slot.frame = std::move(frame);
    if (!clear_posted_) {
      clear_posted_ = true;
      // Not [this]: the io_context may run this handler after the thread that posted it (and its
      // thread_local cache) ended, e.g. a Server whose own thread stopped and whose io_context the
      // host runs later. Then it clears the running thread's cache, and this one keeps at most
      // kSize entries until they are replaced: correct frames, bounded memory.
      asio::post(io, [] { clear_frame_cache_of_this_thread(); });
    }
    return &slot.frame;
  }

  void clear() {
    for (auto& e : entries_) e = Entry{};
    clear_posted_ = false;
  }

 private:
  struct Entry {
    std::shared_ptr<const std::string> data;  // holds the key: its address is not reused meanwhile
    PacketType type = PacketType::message;
    bool binary = false;
    PreparedFrame frame;
  };
  static constexpr std::size_t kSize = 4;
  Entry entries_[kSize];
  std::size_t next_ = 0;
  bool clear_posted_ = false;
};

thread_local FrameCache frame_cache;

void clear_frame_cache_of_this_thread() { frame_cache.clear(); }

HttpResponse text_response(std::string body, const char* content_type) {
  HttpResponse r;
  r.status = 200;
  r.headers.emplace_back("Content-Type", content_type);
  r.body = std::move(body);
  return r;
}

}  // namespace

EngineSession::EngineSession(std::shared_ptr<EngineCore> core, std::string id, RequestInfo request,
                             TransportKind transport)
    : core_(core),
      io_(core->io()),
      id_(std::move(id)),
      request_(std::move(request)),
      transport_(transport),
      max_buffered_bytes_(core->options().max_buffered_bytes),
      counters_(core->counters()),
      heartbeat_(core->io()),
      upgrade_timer_(core->io()),
      noop_timer_(core->io()) {}

EngineSession::~EngineSession() = default;

template <class F>
void EngineSession::run_on_thread(F&& f) {
  if (io_.get_executor().running_in_this_thread()) {
    f();
  } else {
    asio::post(io_, std::forward<F>(f));
  }
}

void EngineSession::log(LogLevel level, std::string_view what) const {
  if (auto core = core_.lock()) {
    const Logger& logger = core->logger();
    if (!logger.enabled(level)) return;
    std::string line = "engine.io session ";
    line += id_;
    line += " (";
    line += request_.remote_address;
    line += "): ";
    line += what;
    logger.log(level, line);
  }
}

void EngineSession::set_message_handler(std::function<void(const EngineMessage&)> handler) {
  run_on_thread([self = shared_from_this(), h = std::move(handler)]() mutable { self->on_message_ = std::move(h); });
}

void EngineSession::set_close_handler(std::function<void(CloseReason, std::string_view)> handler) {
  run_on_thread([self = shared_from_this(), h = std::move(handler)]() mutable { self->on_close_ = std::move(h); });
}

void EngineSession::start(std::shared_ptr<WsLink> websocket) {
  ws_ = std::move(websocket);
  auto core = core_.lock();
  const EngineOptions& o = core->options();
  // Exactly the keys of the spec, in its order.
  std::string open = "{\"sid\":\"";
  open += id_;
  open += "\",\"upgrades\":[";
  if (!ws_ && o.allow_upgrades && o.allow_websocket) open += "\"websocket\"";
  open += "],\"pingInterval\":";
  open += std::to_string(o.ping_interval.count());
  open += ",\"pingTimeout\":";
  open += std::to_string(o.ping_timeout.count());
  open += ",\"maxPayload\":";
  open += std::to_string(o.max_http_buffer_size);
  open += '}';
  QueuedPacket p;
  p.type = PacketType::open;
  p.own = std::move(open);
  send_now(std::move(p));
  schedule_ping();
}

// ---------------------------------------------------------------------------------------------
// Sending

void EngineSession::send(QueuedPacket packet) {
  if (io_.get_executor().running_in_this_thread()) {
    send_now(std::move(packet));
  } else {
    asio::post(io_, [self = shared_from_this(), p = std::move(packet)]() mutable { self->send_now(std::move(p)); });
  }
}

bool EngineSession::on_thread_over_ws() const {
  // Short-circuit order matters: ws_ may only be read on the thread.
  return io_.get_executor().running_in_this_thread() && ws_;
}

void EngineSession::send_text(std::string_view text) {
  // Off the thread or polling: queued as an owned packet, as send() does.
  if (!on_thread_over_ws()) {
    QueuedPacket p;
    p.own.assign(text);
    send(std::move(p));
    return;
  }
  if (!is_open() || overflowed_) return;
  EngineCounters::add(counters_->packets_out);
  EngineCounters::add(counters_->bytes_out, text.size());
  ws_->send(PacketType::message, text, false);
  check_ws_backlog();
}

void EngineSession::send_shared(const std::shared_ptr<const std::string>& data, bool binary) {
  // Off the thread or polling: queued as a packet, as send() does.
  if (!on_thread_over_ws()) {
    QueuedPacket p;
    p.binary = binary;
    p.shared = data;
    send(std::move(p));
    return;
  }
  if (!is_open() || overflowed_) return;
  EngineCounters::add(counters_->packets_out);
  EngineCounters::add(counters_->bytes_out, data->size());
  send_ws_shared(PacketType::message, data, binary);
}

void EngineSession::send_ws_shared(PacketType type, const std::shared_ptr<const std::string>& data, bool binary) {
  if (const PreparedFrame* frame = frame_cache.get(io_, *ws_, type, data, binary)) {
    ws_->send_prepared(*frame);
  } else {
    ws_->send(type, *data, binary);
  }
  check_ws_backlog();
}

void EngineSession::check_ws_backlog() {
  if (ws_ && ws_->buffered_amount() > max_buffered_bytes_) {
    overflow("send queue of " + std::to_string(ws_->buffered_amount()) +
             " bytes over max_buffered_bytes (client not reading)");
  }
}

void EngineSession::overflow(std::string why) {
  if (overflowed_) return;
  overflowed_ = true;
  EngineCounters::add(counters_->send_queue_overflows);
  // Not closed here: this runs inside a send, maybe a broadcast still walking its recipients by
  // plain pointers, and the close handlers (the host's code) may disconnect any of them.
  asio::post(io_, [self = shared_from_this(), why = std::move(why)] { self->close(CloseReason::transport_error, why); });
}

void EngineSession::send_now(QueuedPacket packet) {
  if (!is_open() || overflowed_) return;
  EngineCounters::add(counters_->packets_out);
  EngineCounters::add(counters_->bytes_out, packet.data().size());
  if (ws_) {
    if (packet.shared) {
      send_ws_shared(packet.type, packet.shared, packet.binary);
      return;
    }
    ws_->send(packet.type, packet.own, packet.binary);
    check_ws_backlog();
    return;
  }
  buffered_bytes_ += packet.data().size() + 1;
  write_buffer_.push_back(std::move(packet));
  if (buffered_bytes_ > max_buffered_bytes_) {
    overflow("polling buffer of " + std::to_string(buffered_bytes_) +
             " bytes over max_buffered_bytes (client not polling)");
    return;
  }
  if (poll_) flush_poll();
}

void EngineSession::flush_poll() {
  if (!poll_ || write_buffer_.empty()) return;
  std::string payload;
  std::size_t size = 0;
  for (const auto& p : write_buffer_) size += p.data().size() + 2;
  payload.reserve(size);
  for (const auto& p : write_buffer_) append_to_payload(p.type, p.data(), p.binary, payload);
  write_buffer_.clear();
  buffered_bytes_ = 0;
  respond_poll(std::move(payload));
}

void EngineSession::respond_poll(std::string payload) {
  auto exchange = std::move(poll_);
  poll_.reset();
  if (!exchange) return;
  HttpResponse r = text_response(std::move(payload), "text/plain; charset=UTF-8");
  if (auto core = core_.lock()) core->add_cors_headers(exchange->request(), r.headers);
  exchange->respond(std::move(r));
}

// ---------------------------------------------------------------------------------------------
// Heartbeat

void EngineSession::schedule_ping() {
  auto core = core_.lock();
  if (!core) return;
  awaiting_pong_ = false;
  heartbeat_.expires_after(core->options().ping_interval);
  heartbeat_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->on_heartbeat_timer();
  });
}

void EngineSession::on_heartbeat_timer() {
  auto core = core_.lock();
  if (!core) return;
  if (!is_open()) {
    // A forced close whose last poll never came: give up waiting.
    core->remove_session(id_);
    return;
  }
  if (awaiting_pong_) {
    close(CloseReason::ping_timeout, "no pong within pingTimeout");
    return;
  }
  QueuedPacket ping;
  ping.type = PacketType::ping;
  send_now(std::move(ping));
  if (!is_open()) return;
  awaiting_pong_ = true;
  heartbeat_.expires_after(core->options().ping_timeout);
  heartbeat_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->on_heartbeat_timer();
  });
}

// ---------------------------------------------------------------------------------------------
// Receiving

void EngineSession::deliver_message(std::string_view data, bool binary) {
  EngineCounters::add(counters_->packets_in);
  EngineCounters::add(counters_->bytes_in, data.size());
  if (on_message_) {
    EngineMessage m{data, binary};
    on_message_(m);
  }
}

void EngineSession::handle_packet(Packet& packet) {
  if (packet.type == PacketType::message) return deliver_message(packet.data, packet.binary);
  EngineCounters::add(counters_->packets_in);
  EngineCounters::add(counters_->bytes_in, packet.data.size());
  switch (packet.type) {
    case PacketType::message: break;  // above
    case PacketType::pong:
      if (awaiting_pong_) schedule_ping();
      break;
    case PacketType::ping:
      // In v4 only the server pings (a "probe" belongs on an upgrading WebSocket).
      close(CloseReason::transport_error, "invalid heartbeat direction (client sent ping)");
      break;
    case PacketType::close:
      close(CloseReason::transport_close, "client sent close packet");
      break;
    case PacketType::open:
    case PacketType::upgrade:
    case PacketType::noop:
      break;  // ignored, as Node does
  }
}

void EngineSession::handle_poll(const std::shared_ptr<HttpExchange>& exchange) {
  auto core = core_.lock();
  if (!core) return;
  if (!is_open()) {
    // Lingering after a forced close: first what was queued, then (on the next poll) the close
    // packet. Never both in one payload: socket.io-client handles a decoded packet on the next
    // tick but a close packet at once, so "41" followed by "1" would read as "transport close".
    poll_ = exchange;
    if (!write_buffer_.empty()) {
      flush_poll();
      return;
    }
    respond_poll("1");
    heartbeat_.cancel();
    core->remove_session(id_);
    return;
  }
  if (poll_) {
    log(LogLevel::warn, "second concurrent GET (overlap from client); closing session");
    exchange->respond(core->error_response(exchange->request(), errc::bad_request));
    close(CloseReason::transport_error, "overlap from client");
    return;
  }
  poll_ = exchange;
  if (!write_buffer_.empty()) {
    flush_poll();
    return;
  }
  if (probe_done_) {
    // An upgrade is under way: release the poll at once so the client can send "5".
    QueuedPacket noop;
    noop.type = PacketType::noop;
    send_now(std::move(noop));
    return;
  }
  exchange->watch_abort([weak = weak_from_this(), raw = exchange.get()] {
    auto self = weak.lock();
    if (!self || self->poll_.get() != raw) return;
    self->poll_.reset();
    self->close(CloseReason::transport_error, "poll connection closed prematurely");
  });
}

void EngineSession::handle_post(const std::shared_ptr<HttpExchange>& exchange) {
  auto core = core_.lock();
  if (!core) return;
  auto self = shared_from_this();  // a handler may close us; stay alive until the end
  if (!is_open()) {
    HttpResponse r = text_response("ok", "text/html");
    core->add_cors_headers(exchange->request(), r.headers);
    exchange->respond(std::move(r));
    return;
  }
  std::vector<Packet> packets;
  const DecodeStatus status = decode_payload(exchange->request().body, packets);
  if (status != DecodeStatus::ok) {
    exchange->respond(core->error_response(exchange->request(), errc::bad_request));
  } else {
    HttpResponse r = text_response("ok", "text/html");
    core->add_cors_headers(exchange->request(), r.headers);
    exchange->respond(std::move(r));
  }
  for (auto& p : packets) {
    if (!is_open()) return;
    handle_packet(p);
  }
  if (status != DecodeStatus::ok && is_open()) {
    log(LogLevel::warn, std::string("bad payload: ") + describe(status));
    close(CloseReason::parse_error, describe(status));
  }
}

std::shared_ptr<WsHandler> EngineSession::main_ws_handler() {
  return std::make_shared<SessionWsHandler>(weak_from_this(), ws_.get());
}

void EngineSession::on_ws_message(const WsLink* link, std::string_view data, bool binary) {
  if (!is_open()) return;
  if (upgrade_link_ && link == upgrade_link_.get()) {
    on_upgrade_message(data, binary);
    return;
  }
  if (!ws_ || link != ws_.get()) return;
  auto self = shared_from_this();
  if (!binary && !data.empty() && data.front() == '4') {
    // A text message, the common case, goes up as a view of the frame: no Packet, no copy (the
    // transport has checked its UTF-8).
    deliver_message(data.substr(1), false);
    return;
  }
  Packet packet;
  const DecodeStatus status = decode_ws_message(data, binary, packet);
  if (status != DecodeStatus::ok) {
    log(LogLevel::warn, std::string("bad packet: ") + describe(status));
    close(CloseReason::parse_error, describe(status));
    return;
  }
  handle_packet(packet);
}

void EngineSession::on_ws_close(const WsLink* link, bool error, std::string_view why) {
  if (upgrade_link_ && link == upgrade_link_.get()) {
    cancel_upgrade(why);
    return;
  }
  if (!ws_ || link != ws_.get()) return;
  ws_.reset();  // gone: nothing more can be written to it
  if (!is_open()) return;
  if (error) {
    log(LogLevel::info, std::string("websocket failed: ") + std::string(why));
    close(CloseReason::transport_error, why);
  } else {
    close(CloseReason::transport_close, why);
  }
}

// ---------------------------------------------------------------------------------------------
// Upgrade (polling -> WebSocket)

std::shared_ptr<WsHandler> EngineSession::begin_upgrade(std::shared_ptr<WsLink> link) {
  auto core = core_.lock();
  if (!core || !is_open() || upgraded_or_upgrading()) {
    log(LogLevel::info, "refusing a second websocket for this session");
    link->close(1000, "session already upgraded or upgrading");
    return nullptr;
  }
  upgrade_link_ = std::move(link);
  probe_done_ = false;
  upgrade_timer_.expires_after(core->options().upgrade_timeout);
  upgrade_timer_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->cancel_upgrade("upgrade timeout");
  });
  return std::make_shared<SessionWsHandler>(weak_from_this(), upgrade_link_.get());
}

void EngineSession::on_upgrade_message(std::string_view data, bool binary) {
  Packet packet;
  if (decode_ws_message(data, binary, packet) != DecodeStatus::ok) {
    cancel_upgrade("invalid packet during upgrade");
    return;
  }
  if (packet.type == PacketType::ping && packet.data == "probe" && !probe_done_) {
    upgrade_link_->send(PacketType::pong, "probe", false);
    probe_done_ = true;
    // Release a held poll with a noop so the client can finish the upgrade; keep doing it until then.
    if (poll_ && write_buffer_.empty()) {
      QueuedPacket noop;
      noop.type = PacketType::noop;
      send_now(std::move(noop));
    }
    noop_timer_.expires_after(kNoopPeriod);
    noop_timer_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
      if (ec) return;
      auto self = weak.lock();
      if (!self || !self->probe_done_ || !self->upgrade_link_ || !self->poll_) return;
      QueuedPacket noop;
      noop.type = PacketType::noop;
      self->send_now(std::move(noop));
    });
    return;
  }
  if (packet.type == PacketType::upgrade && probe_done_) {
    finish_upgrade();
    return;
  }
  cancel_upgrade("unexpected packet during upgrade");
}

void EngineSession::finish_upgrade() {
  upgrade_timer_.cancel();
  noop_timer_.cancel();
  probe_done_ = false;
  // The polling transport is discarded: a poll still held gets a noop, queued packets move over.
  if (poll_) respond_poll("6");
  ws_ = std::move(upgrade_link_);
  upgrade_link_.reset();
  transport_.store(TransportKind::websocket, std::memory_order_relaxed);
  auto pending = std::move(write_buffer_);
  write_buffer_.clear();
  buffered_bytes_ = 0;
  for (auto& p : pending) send_now(std::move(p));
  log(LogLevel::debug, "upgraded to websocket");
}

void EngineSession::cancel_upgrade(std::string_view why) {
  if (!upgrade_link_) return;
  log(LogLevel::info, std::string("upgrade abandoned: ") + std::string(why));
  upgrade_timer_.cancel();
  noop_timer_.cancel();
  probe_done_ = false;
  auto link = std::move(upgrade_link_);
  upgrade_link_.reset();
  link->close(1000, why);
}

// ---------------------------------------------------------------------------------------------
// Closing

void EngineSession::close_by_server() {
  // Queued packets still go out: the transport writes them before the close frame, and on polling
  // close() delivers them with the close packet (now, or on the next poll).
  run_on_thread([self = shared_from_this()] { self->close(CloseReason::forced_close, "closed by server"); });
}

bool EngineSession::writable() const noexcept {
  if (!is_open()) return false;
  if (ws_) return ws_->buffered_amount() == 0;
  return static_cast<bool>(poll_);
}

void EngineSession::close(CloseReason reason, std::string_view description, bool allow_linger) {
  if (!is_open()) return;
  auto self = shared_from_this();
  open_.store(false, std::memory_order_relaxed);
  counters_->closed(reason);
  awaiting_pong_ = false;
  heartbeat_.cancel();
  upgrade_timer_.cancel();
  noop_timer_.cancel();
  if (upgrade_link_) {
    upgrade_link_->close(1000, "session closed");
    upgrade_link_.reset();
  }
  auto core = core_.lock();
  bool linger = false;
  // (A held poll never coexists with queued packets: queuing flushes it at once.)
  if (poll_) {
    // The client closed: its held poll just ends (noop), as in Node. Otherwise tell it with "1".
    write_buffer_.clear();
    respond_poll(reason == CloseReason::transport_close ? "6" : "1");
  } else if (allow_linger && !ws_ && reason == CloseReason::forced_close && transport() == TransportKind::polling) {
    // Keep the sid known for the next polls so the client gets what was queued and then the close
    // packet ("1"), as Node does.
    linger = true;
  }
  if (ws_) {
    auto link = std::move(ws_);
    ws_.reset();
    link->close(1000, to_string(reason));
  }
  if (!linger) {
    write_buffer_.clear();
    if (core) core->remove_session(id_);
  } else if (core) {
    heartbeat_.expires_after(core->options().ping_interval + core->options().ping_timeout);
    heartbeat_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
      if (ec) return;
      if (auto s = weak.lock()) s->on_heartbeat_timer();
    });
  }
  const LogLevel level = (reason == CloseReason::transport_close || reason == CloseReason::forced_close)
                             ? LogLevel::debug
                             : (reason == CloseReason::ping_timeout ? LogLevel::info : LogLevel::warn);
  log(level, std::string("closed: ") + std::string(to_string(reason)) + " (" + std::string(description) + ")");
  auto handler = std::move(on_close_);
  on_close_ = nullptr;
  on_message_ = nullptr;
  if (handler) handler(reason, description);
}

}  // namespace courier::detail
