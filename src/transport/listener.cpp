// courier's own HTTP/1.1 + WebSocket (RFC 6455) transport on Asio, behind the engine's HttpService
// seam (engine/http.hpp). It replaced websocketpp for issue 5 (performance); the design follows
// from where the time and memory went there:
//
// * One Connection object per TCP socket, small: HTTP-only state (parser, request, timer) lives in
//   a separately allocated block that is freed when the connection upgrades to WebSocket, and an
//   idle connection owns no read buffer at all.
// * Reads wait for readability (StreamSocket::async_wait_readable: no epoll_ctl per wait when the
//   last read drained the socket), then read non-blocking into ONE 64 KiB scratch buffer shared
//   by all connections of the listener (single-threaded io_context), as often as data is
//   there (bounded per turn for fairness), parse every complete frame / request in place
//   (unmasking in place, no copy for an unfragmented message) and dispatch. Only the bytes of an
//   incomplete frame are copied into a per-connection buffer, sized to that frame, and released
//   once it is consumed.
// * Writes: a per-connection queue of shared immutable buffers (PreparedFrame). Sending never
//   writes at once; the connection is put on the listener's dirty list and ONE posted handler per
//   io_context turn flushes every dirty connection in one syscall: frames of at most 16 KiB in
//   total copied into one buffer for send(), more as a gather writev (bounded to 64 buffers or
//   1 MiB per call). Only when the kernel buffer is full does the connection wait for writability.
// * Broadcasts: server frames are unmasked, so a frame is the same bytes for every recipient.
//   WsLink::prepare builds it once, the engine caches it for the turn, send_prepared queues the
//   same shared buffer for every recipient: no per-recipient allocation (the small-write copy
//   above happens per connection, into one reused buffer).
// * HTTP/1.1 keep-alive (HTTP/1.0 only with "Connection: keep-alive"), pipelined requests answered
//   in order (one at a time: the next is parsed once the current one is answered), idle and request
//   timeouts, lingering close after an error response so the client reads it instead of a reset.
// * No per-connection timer for an open WebSocket: the engine's heartbeat already ends silent
//   sessions; a timer is allocated only while HTTP requests or a close handshake are pending.
// * TLS (ListenOptions::tls) is a byte transformer beside this I/O (transport/tls.hpp): reads
//   decrypt from a second shared scratch buffer into the usual one, flushes encrypt the queued
//   frames into the session's ciphertext buffer and write that. The hooks are marked "TLS hook"
//   and the TLS paths live in their own section at the end; a plain connection only tests a null
//   pointer and costs no memory.
#include <courier/engine_server.hpp>
#include <courier/listener.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>

#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include "engine/base64.hpp"
#include "engine/engine_core.hpp"
#include "engine/http.hpp"
#include "engine/text_service.hpp"
#include "transport/http_parser.hpp"
#include "transport/sha1.hpp"
#include "transport/static_files.hpp"
#include "transport/stream_socket.hpp"
#include "transport/tls.hpp"
#include "transport/ws_frame.hpp"

namespace courier::detail {

namespace {
constexpr std::size_t kScratchSize = 64 * 1024;
constexpr int kReadsPerTurn = 4;                 // then yield to other connections
constexpr std::size_t kMaxIovecs = 64;           // per writev
constexpr std::size_t kSpareBuffers = 256;       // frame buffers kept for reuse, per listener
constexpr std::size_t kSpareBufferSize = 4096;   // largest one kept (a typical reply is far smaller)
constexpr std::size_t kMaxWriteBytes = 1 << 20;  // per writev
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr std::size_t kTlsRecord = 16 * 1024;        // TLS's largest record plaintext
// Frames queued together that are this small in total are copied into one buffer and sent with
// send(): the kernel's per-iovec import and copy cost more than a user-space memcpy of a few KiB.
// TLS copies small frames into the same staging buffer, one record's worth at a time.
constexpr std::size_t kCoalesceBytes = 16 * 1024;
constexpr std::size_t kStageSize = std::max(kCoalesceBytes, kTlsRecord);
constexpr std::size_t kTlsWriteBatch = 256 * 1024;   // ciphertext encrypted ahead of the socket

// A frame made from bytes already built (HTTP heads, control frames): a mutable string, so that
// TransportContext::give_back may reuse it.
PreparedFrame frame_of(std::string bytes) { return std::make_shared<std::string>(std::move(bytes)); }
}  // namespace

class Connection;

/// What every connection of a listener shares on the hot path. Holds no connection and no service
/// (so nothing forms a reference cycle with the engine's sessions, which hold their links).
class TransportContext : public std::enable_shared_from_this<TransportContext> {
 public:
  TransportContext(asio::io_context& io, Logger logger) : io(io), logger(std::move(logger)), scratch(new char[kScratchSize]), stage(new char[kStageSize]) {}

  /// Flushes `c` at the end of this io_context turn, with everything else queued in the turn.
  void schedule_flush(Connection* c) {
    dirty_.push_back(c);
    if (flush_posted_) return;
    flush_posted_ = true;
    asio::post(io, [self = shared_from_this()] { self->flush_dirty(); });
  }
  /// An empty frame to fill: one sent earlier when there is one (its reference count and its
  /// buffer are reused, so a reply's frame costs no allocation), else a new one.
  std::shared_ptr<std::string> take_frame() {
    if (spare_.empty()) return std::make_shared<std::string>();
    auto f = std::move(spare_.back());
    spare_.pop_back();
    return f;
  }
  /// Called with a frame a connection has sent: kept for take_frame when the caller held the last
  /// reference (no other recipient of a broadcast still queues it), bounded in count and size so
  /// that a burst or a huge frame does not stay pinned. Every frame is made by this transport
  /// (take_frame, frame_of), as a mutable string: reusing it is legal. Replies and broadcasts
  /// alike come back here and are built again in Connection::prepare.
  void give_back(PreparedFrame&& f) {
    if (f.use_count() != 1 || f->capacity() > kSpareBufferSize || spare_.size() >= kSpareBuffers) return;
    auto mutable_frame = std::const_pointer_cast<std::string>(std::move(f));
    mutable_frame->clear();
    spare_.push_back(std::move(mutable_frame));
  }
  /// A connection destroyed while scheduled.
  void unschedule(Connection* c) noexcept {
    for (auto& d : dirty_)
      if (d == c) d = nullptr;
    for (auto& d : flushing_)
      if (d == c) d = nullptr;
  }
  void flush_dirty();

  asio::io_context& io;
  const Logger logger;
  ListenOptions options;
  std::unique_ptr<char[]> scratch;
  // Small queued frames copied together: into one send() (flush), or into one TLS record
  // (flush_tls). Written and used within one flush, so one buffer serves every connection.
  std::unique_ptr<char[]> stage;
  std::vector<asio::const_buffer> iovecs;
  // TLS hook: the listener's TLS context and a second scratch buffer (ciphertext read from the
  // socket). Both null without TLS.
  std::shared_ptr<TlsContext> tls;
  std::unique_ptr<char[]> tls_scratch;

 private:
  std::vector<Connection*> dirty_, flushing_;
  bool flush_posted_ = false;
  std::vector<std::shared_ptr<std::string>> spare_;  // sent frames kept for reuse (give_back)
};

class ListenerImpl : public std::enable_shared_from_this<ListenerImpl> {
 public:
  ListenerImpl(asio::io_context& io, Logger logger)
      : io_(io), ctx_(std::make_shared<TransportContext>(io, std::move(logger))), acceptor_(io), accept_retry_(io) {}

  void mount(std::shared_ptr<HttpService> service) { services_.push_back(std::move(service)); }

  std::error_code listen(const ListenOptions& options) {
    ctx_->options = options;
    std::error_code ec;
    if ((ec = setup_tls(options.tls))) return ec;  // TLS hook
    auto address = asio::ip::make_address(options.host, ec);
    if (ec) return ec;
    const asio::ip::tcp::endpoint ep(address, options.port);
    acceptor_.open(ep.protocol(), ec);
    if (ec) return ec;
    acceptor_.set_option(asio::socket_base::reuse_address(options.reuse_address), ec);
    if (ec) return ec;
    acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(options.backlog, ec);
    if (ec) {
      std::error_code ignored;
      acceptor_.close(ignored);
      return ec;
    }
    port_ = acceptor_.local_endpoint(ec).port();
    accept();
    return ec;
  }

  std::uint16_t port() const noexcept { return port_; }
  asio::io_context& io() noexcept { return io_; }

  /// Loads the certificate and key before anything is bound (a bad file binds no port); no-op
  /// without TLS options.
  std::error_code setup_tls(const TlsOptions& tls) {
    std::error_code ec;
    ctx_->tls.reset();
    if (!tls.enabled() && tls.private_key_file.empty()) return ec;  // (a lone key is an error)
    std::string detail;
    ctx_->tls = TlsContext::create(tls, ec, detail);
    ctx_->options.tls.private_key_password.clear();  // not kept in memory longer than needed
    if (!ctx_->tls) {
      const Logger& log = ctx_->logger;
      if (log.enabled(LogLevel::error)) log.log(LogLevel::error, "listen: " + detail);
      return ec;
    }
    if (!ctx_->tls_scratch) ctx_->tls_scratch.reset(new char[kScratchSize]);
    return ec;
  }

  void close() {
    std::error_code ec;
    if (acceptor_.is_open()) acceptor_.close(ec);
    accept_retry_.cancel();
  }

  /// The service mounted under the longest prefix of `path`, or null.
  std::shared_ptr<HttpService> route(const std::string& path) const noexcept {
    const std::shared_ptr<HttpService>* best = nullptr;
    for (const auto& s : services_) {
      const std::string& p = s->path();
      if (path.compare(0, p.size(), p) == 0 && (!best || p.size() > (*best)->path().size())) best = &s;
    }
    return best ? *best : nullptr;
  }

 private:
  void accept();

  asio::io_context& io_;
  std::shared_ptr<TransportContext> ctx_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  std::vector<std::shared_ptr<HttpService>> services_;
  std::uint16_t port_ = 0;
};

class Exchange;

/// One TCP connection: HTTP requests, then possibly a WebSocket. Lives while an I/O wait, the
/// engine (as a WsLink) or a pending exchange holds it.
class Connection final : public WsLink, public WsSink, public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<TransportContext> ctx, std::weak_ptr<ListenerImpl> listener, asio::ip::tcp::socket socket)
      : ctx_(std::move(ctx)), listener_(std::move(listener)), socket_(std::move(socket)), reader_(0) {}
  ~Connection() override {
    if (flush_scheduled_) ctx_->unschedule(this);
  }

  void start();

  // WsLink
  void send(PacketType type, std::string_view data, bool binary) override {
    if (mode_ != Mode::websocket || close_sent_) return;
    enqueue(prepare(type, data, binary));
  }
  PreparedFrame prepare(PacketType type, std::string_view data, bool binary) const override {
    // In a frame sent earlier when there is one (no allocation); see give_back.
    auto frame = ctx_->take_frame();
    if (binary)
      append_ws_frame(*frame, WsOpcode::binary, '\0', data);
    else
      append_ws_frame(*frame, WsOpcode::text, static_cast<char>('0' + static_cast<int>(type)), data);
    return frame;
  }
  void send_prepared(const PreparedFrame& frame) override {
    if (mode_ != Mode::websocket || close_sent_ || !frame) return;
    enqueue(frame);
  }
  void close(std::uint16_t code, std::string_view reason) override {
    if (mode_ != Mode::websocket || close_sent_) return;
    send_close_frame(code, reason);
    set_deadline(ctx_->options.close_timeout);
  }
  std::size_t buffered_amount() const noexcept override { return out_bytes_ + (tls_ ? tls_->pending_output() : 0); }  // TLS hook
  bool finished() const noexcept override { return mode_ == Mode::closed; }

  // WsSink
  void on_ws_data(std::string_view data, bool binary) override {
    if (close_sent_) return;  // closing: what the client still sends is dropped
    if (auto h = handler_) h->on_ws_message(data, binary);
  }
  void on_ws_ping(std::string_view payload) override {
    if (close_sent_) return;
    enqueue(frame_of(make_ws_frame(WsOpcode::pong, '\0', payload)));
  }
  void on_ws_pong(std::string_view) override {}
  void on_ws_close_frame(std::uint16_t code, std::string_view reason) override;

  // From Exchange.
  void respond(Exchange* exchange, HttpResponse response);
  void exchange_dropped(Exchange* exchange);

 private:
  enum class Mode : std::uint8_t { http, websocket, lingering, closed };

  struct HttpState {
    HttpRequestParser parser;
    std::string remote_address;
    Exchange* exchange = nullptr;  // the request being answered (the next waits in in_)
    bool keep_alive = true;
    bool http10 = false;
    bool timing_request = false;  // the deadline is the request timeout (else idle timeout)
    bool timing_head = false;     // ... and the head has not arrived yet (head_timeout applies)
    HttpState(HttpParserLimits limits, std::function<std::size_t(const HttpRequest&)> body_limit)
        : parser(limits, std::move(body_limit)) {}
  };

  void arm_read();
  void on_readable();
  void consume(char* data, std::size_t size);
  std::size_t process(char* data, std::size_t size);
  void on_request();
  void upgrade(HttpRequest request, const std::shared_ptr<HttpService>& service);
  void write_response(const HttpResponse& response, bool keep_alive);
  void reply_error(int status, const char* why);
  void resume_http();

  void enqueue(PreparedFrame frame);
  void flush();
  void wait_writable();
  void after_flush();
  void send_close_frame(std::uint16_t code, std::string_view reason);
  void fail_ws(std::uint16_t code, const char* why);
  void linger();
  void close_socket();
  void on_transport_error(const std::error_code& ec);
  void notify_closed(bool error, std::string_view why);

  void set_deadline(std::chrono::milliseconds after);
  void clear_deadline();
  void on_deadline();

  // TLS paths (section "Connection: TLS").
  void on_readable_tls();
  bool flush_tls();
  void schedule_tls_output();
  void tls_goodbye();
  void tls_failed(const char* when);

  friend class TransportContext;

  std::shared_ptr<HttpService> route(const std::string& path) const {
    auto l = listener_.lock();
    return l ? l->route(path) : nullptr;
  }

  std::shared_ptr<TransportContext> ctx_;
  std::weak_ptr<ListenerImpl> listener_;
  StreamSocket socket_;
  std::unique_ptr<HttpState> http_;
  std::unique_ptr<asio::steady_timer> timer_;  // only while HTTP or a close handshake needs one
  std::unique_ptr<TlsSession> tls_;            // TLS hook: null on a plain connection
  std::string in_;  // bytes of an incomplete frame or request, or pipelined requests
  std::vector<PreparedFrame> out_;
  std::size_t out_head_ = 0;    // first unsent buffer
  std::size_t out_offset_ = 0;  // bytes of it already sent
  std::size_t out_bytes_ = 0;   // unsent bytes
  WsReader reader_;
  std::shared_ptr<WsHandler> handler_;
  Mode mode_ = Mode::http;
  bool reading_ = false;
  bool read_paused_ = false;
  bool input_left_ = false;  // the socket may hold unread input: arm_read must not wait for an edge
  bool write_waiting_ = false;
  bool flush_scheduled_ = false;
  bool close_after_flush_ = false;
  bool close_sent_ = false;
  bool processing_ = false;
  bool resume_posted_ = false;
};

class Exchange final : public HttpExchange {
 public:
  Exchange(std::shared_ptr<Connection> con, HttpRequest request) : con_(std::move(con)), request_(std::move(request)) {}
  ~Exchange() override {
    if (!responded_) con_->exchange_dropped(this);
  }
  const HttpRequest& request() const noexcept override { return request_; }
  void respond(HttpResponse response) override {
    if (responded_) return;
    responded_ = true;
    on_abort_ = nullptr;
    con_->respond(this, std::move(response));
  }
  void watch_abort(std::function<void()> on_abort) override {
    if (!responded_) on_abort_ = std::move(on_abort);
  }
  /// The client went away before the response.
  void abort() {
    if (responded_) return;
    responded_ = true;
    auto cb = std::move(on_abort_);
    on_abort_ = nullptr;
    if (cb) cb();
  }

 private:
  std::shared_ptr<Connection> con_;
  HttpRequest request_;
  bool responded_ = false;
  std::function<void()> on_abort_;
};

// ---------------------------------------------------------------------------------------------
// Accepting and flushing

void ListenerImpl::accept() {
  acceptor_.async_accept([self = shared_from_this()](const std::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors or similar: retry shortly instead of spinning.
      const Logger& log = self->ctx_->logger;
      if (log.enabled(LogLevel::warn)) log.log(LogLevel::warn, "accept failed: " + ec.message());
      self->accept_retry_.expires_after(std::chrono::milliseconds(100));
      self->accept_retry_.async_wait([self](const std::error_code& e) {
        if (!e && self->acceptor_.is_open()) self->accept();
      });
      return;
    }
    std::make_shared<Connection>(self->ctx_, self, std::move(socket))->start();
    self->accept();
  });
}

void TransportContext::flush_dirty() {
  flush_posted_ = false;
  flushing_.swap(dirty_);
  for (std::size_t i = 0; i < flushing_.size(); ++i) {
    Connection* c = flushing_[i];
    if (c) c->flush();  // (null: destroyed since it was scheduled)
  }
  flushing_.clear();
}

// ---------------------------------------------------------------------------------------------
// Connection: reading

void Connection::start() {
  std::error_code ec;
  // Small frames go out at once: Nagle's algorithm would hold them back for up to ~40 ms waiting
  // for an ACK (realtime traffic is many small writes; Node sets this too).
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);
  if (ec) {
    close_socket();
    return;
  }
  if (ctx_->tls) {  // TLS hook
    tls_ = TlsSession::create(*ctx_->tls);
    if (!tls_) {
      close_socket();
      return;
    }
  }
  auto ep = socket_.remote_endpoint(ec);
  std::weak_ptr<Connection> weak = weak_from_this();
  http_ = std::make_unique<HttpState>(HttpParserLimits{}, [weak](const HttpRequest& r) -> std::size_t {
    auto self = weak.lock();
    if (!self) return 0;
    if (!r.header("expect").empty() && self->mode_ == Mode::http) {
      // The client waits for this before sending its body (curl does for large bodies).
      self->enqueue(frame_of("HTTP/1.1 100 Continue\r\n\r\n"));
    }
    auto s = self->route(r.path);
    return s ? s->max_message_size() : 0;
  });
  if (!ec) {
    auto addr = ep.address();
    if (addr.is_v6() && addr.to_v6().is_v4_mapped()) addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
    http_->remote_address = addr.to_string();
  }
  http_->timing_request = true;
  http_->timing_head = true;
  set_deadline(tls_ ? ctx_->options.tls.handshake_timeout  // TLS hook
                    : std::min(ctx_->options.head_timeout, ctx_->options.request_timeout));
  arm_read();
}

void Connection::arm_read() {
  if (reading_ || read_paused_ || mode_ == Mode::closed) return;
  reading_ = true;
  auto on_wait = [self = shared_from_this()](const std::error_code& ec) {
    self->reading_ = false;
    if (self->mode_ == Mode::closed) return;
    if (ec) {
      if (ec != asio::error::operation_aborted) self->on_transport_error(ec);
      return;
    }
    self->on_readable();
  };
  if (input_left_) {
    // The socket may still hold input (the last read stopped before a short read or EAGAIN): an
    // edge-triggered wait would not fire for it, async_wait's re-registration checks the level.
    socket_.async_wait(asio::socket_base::wait_read, std::move(on_wait));
  } else {
    socket_.async_wait_readable(std::move(on_wait));
  }
}

void Connection::on_readable() {
  if (tls_) return on_readable_tls();  // TLS hook
  auto self = shared_from_this();
  char* scratch = ctx_->scratch.get();
  input_left_ = true;  // until a short read or EAGAIN shows the socket drained
  for (int round = 0; round < kReadsPerTurn; ++round) {
    std::error_code ec;
    const std::size_t n = socket_.read_some(asio::buffer(scratch, kScratchSize), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      input_left_ = false;
      break;
    }
    if (ec) {
      on_transport_error(ec);
      return;
    }
    if (mode_ == Mode::lingering) continue;  // discarded: we only wait for the client's FIN
    consume(scratch, n);
    if (mode_ == Mode::closed || read_paused_) return;
    if (n < kScratchSize) {
      input_left_ = false;
      break;
    }
  }
  arm_read();
}

void Connection::consume(char* data, std::size_t size) {
  if (in_.empty()) {
    const std::size_t used = process(data, size);
    if (used < size && (mode_ == Mode::http || mode_ == Mode::websocket)) {
      if (mode_ == Mode::websocket) in_.reserve(WsReader::frame_size(data + used, size - used));
      in_.assign(data + used, size - used);
    }
  } else {
    if (size > 0) in_.append(data, size);
    const std::size_t used = process(in_.data(), in_.size());
    if (mode_ == Mode::closed || mode_ == Mode::lingering) {
      std::string().swap(in_);
      return;
    }
    in_.erase(0, used);
    if (in_.empty()) {
      std::string().swap(in_);  // an idle connection keeps no buffer
    } else if (mode_ == Mode::websocket && in_.capacity() < WsReader::frame_size(in_.data(), in_.size())) {
      in_.reserve(WsReader::frame_size(in_.data(), in_.size()));
    }
  }
  // A client that keeps sending while its request is held is buffered only so far.
  if (mode_ == Mode::http && http_ && http_->exchange && in_.size() > 2 * HttpParserLimits{}.max_head_size)
    read_paused_ = true;
}

std::size_t Connection::process(char* data, std::size_t size) {
  processing_ = true;
  std::size_t at = 0;
  while (at < size) {
    if (mode_ == Mode::http) {
      if (http_->exchange) break;  // answered in order: the next request waits
      const bool was_idle = http_->parser.idle();
      std::size_t used = 0;
      const auto status = http_->parser.feed(std::string_view(data + at, size - at), used);
      at += used;
      if (was_idle && !http_->parser.idle() && !http_->timing_request) {
        http_->timing_request = true;
        http_->timing_head = true;
        set_deadline(std::min(ctx_->options.head_timeout, ctx_->options.request_timeout));
      }
      if (http_->timing_head && http_->parser.head_done() && status == HttpRequestParser::Status::need_more) {
        http_->timing_head = false;  // a body is on its way: it gets the whole request_timeout
        set_deadline(ctx_->options.request_timeout);
      }
      if (status == HttpRequestParser::Status::need_more) break;
      if (status == HttpRequestParser::Status::error) {
        reply_error(http_->parser.error_status(), http_->parser.error_reason());
        at = size;
        break;
      }
      on_request();
    } else if (mode_ == Mode::websocket) {
      at += reader_.parse(data + at, size - at, *this);
      if (reader_.status() != 0 && mode_ == Mode::websocket && !close_sent_) fail_ws(reader_.status(), reader_.error());
      if (reader_.status() != 0 || reader_.stopped()) at = size;  // nothing more is read
      break;
    } else {
      at = size;  // lingering or closed: discarded
    }
  }
  processing_ = false;
  return at;
}

void Connection::on_request() {
  HttpRequest request = std::move(http_->parser.request());
  request.remote_address = http_->remote_address;
  http_->keep_alive = http_->parser.keep_alive();
  http_->http10 = http_->parser.http10();
  http_->parser.reset();
  http_->timing_request = false;
  http_->timing_head = false;
  clear_deadline();
  auto service = route(request.path);
  if (request.upgrade) {
    upgrade(std::move(request), service);
    return;
  }
  auto exchange = std::make_shared<Exchange>(shared_from_this(), std::move(request));
  http_->exchange = exchange.get();
  if (!service) {
    exchange->respond(HttpResponse{404, {{"Content-Type", "text/plain"}}, "Not Found"});
    return;
  }
  service->handle_http(std::move(exchange));
}

void Connection::upgrade(HttpRequest request, const std::shared_ptr<HttpService>& service) {
  if (!service) {
    http_->keep_alive = false;
    write_response(HttpResponse{404, {{"Content-Type", "text/plain"}}, "Not Found"}, false);
    return;
  }
  const std::string_view key = request.header("sec-websocket-key");
  std::string decoded;
  if (request.method != "GET" || http_->http10) {
    reply_error(400, "WebSocket upgrade must be an HTTP/1.1 GET");
    return;
  }
  if (request.header("sec-websocket-version") != "13") {
    write_response(HttpResponse{426, {{"Sec-WebSocket-Version", "13"}, {"Content-Type", "text/plain"}}, "Upgrade Required"},
                   false);
    return;
  }
  if (!base64_decode(key, decoded) || decoded.size() != 16) {
    reply_error(400, "missing or malformed Sec-WebSocket-Key");
    return;
  }
  HttpResponse reject;
  if (!service->accept_upgrade(request, reject)) {
    write_response(reject, false);
    return;
  }
  std::string head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
  head += websocket_accept(key);
  head += "\r\n\r\n";
  enqueue(frame_of(std::move(head)));
  mode_ = Mode::websocket;
  reader_.set_max_message_size(service->max_message_size());
  clear_deadline();
  timer_.reset();
  http_.reset();  // the HTTP state is not needed any more: an open WebSocket stays small
  auto handler = service->open_websocket(request, shared_from_this());
  if (mode_ == Mode::websocket && !close_sent_) handler_ = std::move(handler);
}

void Connection::write_response(const HttpResponse& r, bool keep_alive) {
  std::string head;
  head.reserve(160 + 64 * r.headers.size());
  head += "HTTP/1.1 ";
  head += std::to_string(r.status);
  head += ' ';
  head += http_reason(r.status);
  head += "\r\n";
  for (const auto& [k, v] : r.headers) {
    // The transport owns framing and connection management.
    if (header_has_token(k, "content-length") || header_has_token(k, "connection") ||
        header_has_token(k, "transfer-encoding"))
      continue;
    head += k;
    head += ": ";
    head += v;
    head += "\r\n";
  }
  head += "Content-Length: ";
  head += std::to_string(r.body.size());
  head += keep_alive ? (http_ && http_->http10 ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\n\r\n") : "\r\nConnection: close\r\n\r\n";
  if (r.body.size() <= 4096) {
    head += r.body;
    enqueue(frame_of(std::move(head)));
  } else {
    enqueue(frame_of(std::move(head)));
    enqueue(frame_of(r.body));
  }
  if (!keep_alive) {
    close_after_flush_ = true;
    read_paused_ = false;
    arm_read();  // keeps the connection alive until the response is out
  }
}

void Connection::reply_error(int status, const char* why) {
  const Logger& log = ctx_->logger;
  if (log.enabled(LogLevel::info))
    log.log(LogLevel::info, "bad HTTP request from " + (http_ ? http_->remote_address : std::string()) + ": " +
                                std::to_string(status) + " (" + why + ")");
  write_response(HttpResponse{status, {{"Content-Type", "text/plain"}}, http_reason(status)}, false);
}

void Connection::respond(Exchange* exchange, HttpResponse response) {
  if (mode_ != Mode::http || !http_ || http_->exchange != exchange) return;
  http_->exchange = nullptr;
  write_response(response, http_->keep_alive);
  if (!http_->keep_alive) return;
  // The response has request_timeout to get out (a client that stops reading is dropped); the
  // keep-alive idle time starts once it is written (see flush()).
  set_deadline(ctx_->options.request_timeout);
  resume_http();
}

void Connection::exchange_dropped(Exchange* exchange) {
  if (mode_ != Mode::http || !http_ || http_->exchange != exchange) return;
  http_->exchange = nullptr;
  write_response(HttpResponse{500, {{"Content-Type", "text/plain"}}, "Internal Server Error"}, false);
}

void Connection::resume_http() {
  // Pipelined requests that waited for this answer are parsed now (after the current handler).
  read_paused_ = false;
  if (in_.empty()) {
    arm_read();
    return;
  }
  if (resume_posted_) return;
  resume_posted_ = true;
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    self->resume_posted_ = false;
    if (self->mode_ == Mode::closed) return;
    self->consume(nullptr, 0);
    if (self->mode_ != Mode::closed) self->arm_read();
  });
}

// ---------------------------------------------------------------------------------------------
// Connection: WebSocket closing

void Connection::on_ws_close_frame(std::uint16_t code, std::string_view) {
  if (!close_sent_) send_close_frame(code == ws_close::no_status ? ws_close::normal : code, "");
  close_after_flush_ = true;
  std::string why = "transport close";
  if (code != ws_close::normal && code != ws_close::going_away && code != ws_close::no_status)
    why = "websocket closed with code " + std::to_string(code);
  notify_closed(false, why);
  if (out_bytes_ == 0 && !flush_scheduled_ && !write_waiting_) after_flush();
}

void Connection::send_close_frame(std::uint16_t code, std::string_view reason) {
  enqueue(frame_of(make_ws_close_frame(code, reason)));
  close_sent_ = true;
}

void Connection::fail_ws(std::uint16_t code, const char* why) {
  send_close_frame(code, why);
  close_after_flush_ = true;
  notify_closed(true, why);
}

void Connection::notify_closed(bool error, std::string_view why) {
  auto handler = std::move(handler_);
  handler_.reset();
  if (handler) handler->on_ws_close(error, why);
}

// ---------------------------------------------------------------------------------------------
// Connection: writing

void Connection::enqueue(PreparedFrame frame) {
  if (mode_ == Mode::closed || mode_ == Mode::lingering) return;
  out_bytes_ += frame->size();
  out_.push_back(std::move(frame));
  if (flush_scheduled_ || write_waiting_) return;
  flush_scheduled_ = true;
  ctx_->schedule_flush(this);
}

void Connection::flush() {
  flush_scheduled_ = false;
  // No reference is taken here (this runs for every recipient of a broadcast): the paths that may
  // release the connection's last owner (errors, the end of a close) take their own.
  if (mode_ == Mode::closed || write_waiting_) return;
  if (tls_ && !flush_tls()) return;  // TLS hook: on true, out_ is encrypted and written
  auto& iov = ctx_->iovecs;
  while (out_head_ < out_.size()) {
    iov.clear();
    std::size_t bytes = 0;
    for (std::size_t i = out_head_; i < out_.size() && iov.size() < kMaxIovecs && bytes < kMaxWriteBytes; ++i) {
      const std::string& s = *out_[i];
      const std::size_t off = i == out_head_ ? out_offset_ : 0;
      iov.emplace_back(s.data() + off, s.size() - off);
      bytes += s.size() - off;
    }
    std::error_code ec;
    // One buffer (a reply with nothing else queued, or small frames copied together) goes out
    // with send(), which the kernel takes faster than sendmsg's message header and iovec import.
    std::size_t n;
    if (iov.size() == 1) {
      n = socket_.write_some(iov.front(), ec);
    } else if (bytes <= kCoalesceBytes) {
      char* p = ctx_->stage.get();
      for (const auto& b : iov) {
        std::memcpy(p, b.data(), b.size());
        p += b.size();
      }
      n = socket_.write_some(asio::const_buffer(ctx_->stage.get(), bytes), ec);
    } else {
      n = socket_.write_some(iov, ec);
    }
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      wait_writable();
      return;
    }
    if (ec) {
      auto self = shared_from_this();
      on_transport_error(ec);
      return;
    }
    out_bytes_ -= n;
    while (n > 0) {
      const std::size_t left = out_[out_head_]->size() - out_offset_;
      if (n >= left) {
        n -= left;
        ctx_->give_back(std::move(out_[out_head_++]));
        out_offset_ = 0;
      } else {
        out_offset_ += n;
        n = 0;
      }
    }
    if (out_head_ < out_.size() && out_offset_ > 0) {
      wait_writable();  // partial write: the kernel buffer is full
      return;
    }
  }
  out_.clear();
  out_head_ = out_offset_ = 0;
  if (out_.capacity() > 32) std::vector<PreparedFrame>().swap(out_);  // a burst's queue is not kept
  if (close_after_flush_) {
    auto self = shared_from_this();
    after_flush();
  } else if (mode_ == Mode::http && http_ && !http_->exchange && http_->parser.idle()) {
    set_deadline(ctx_->options.keep_alive_timeout);  // all answered and written: idle from now
  }
}

void Connection::wait_writable() {
  write_waiting_ = true;
  socket_.async_wait(asio::socket_base::wait_write, [self = shared_from_this()](const std::error_code& ec) {
    self->write_waiting_ = false;
    if (self->mode_ == Mode::closed) return;
    if (ec) {
      if (ec != asio::error::operation_aborted) self->on_transport_error(ec);
      return;
    }
    self->flush();
  });
}

void Connection::after_flush() {
  if (!close_after_flush_ || out_head_ < out_.size()) return;
  if (mode_ == Mode::websocket) {
    // Our close frame is out. If the client's close came first, we are done; otherwise wait for
    // it (the close timeout is running) unless we failed the connection.
    if (handler_ && reader_.status() == 0) return;
    if (reader_.status() == 0) {
      close_socket();
      return;
    }
  }
  linger();
}

void Connection::linger() {
  // Half-close and read until the client's FIN: closing with unread input would send a reset
  // that can destroy the response we just wrote.
  std::error_code ec;
  if (tls_) tls_goodbye();  // TLS hook
  socket_.shutdown(asio::socket_base::shutdown_send, ec);
  if (ec) {
    close_socket();
    return;
  }
  mode_ = Mode::lingering;
  read_paused_ = false;
  if (!processing_) std::string().swap(in_);
  set_deadline(std::chrono::duration_cast<std::chrono::milliseconds>(kLingerTimeout));
  arm_read();
}

void Connection::close_socket() {
  if (mode_ == Mode::closed) return;
  const Mode was = mode_;
  mode_ = Mode::closed;
  std::error_code ec;
  if (tls_) tls_goodbye();  // TLS hook
  socket_.close(ec);
  if (timer_) timer_->cancel();
  out_.clear();
  out_head_ = out_offset_ = out_bytes_ = 0;
  if (!processing_) std::string().swap(in_);
  if (was == Mode::websocket) notify_closed(false, "transport close");
  if (http_ && http_->exchange) {
    Exchange* ex = http_->exchange;
    http_->exchange = nullptr;
    ex->abort();
  }
}

void Connection::on_transport_error(const std::error_code& ec) {
  const Logger& log = ctx_->logger;
  if (mode_ == Mode::websocket && ec != asio::error::eof && log.enabled(LogLevel::debug))
    log.log(LogLevel::debug, "websocket connection error: " + ec.message());
  close_socket();
}

// ---------------------------------------------------------------------------------------------
// Connection: deadlines

void Connection::set_deadline(std::chrono::milliseconds after) {
  if (!timer_) timer_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
  timer_->expires_after(after);
  timer_->async_wait([weak = weak_from_this()](const std::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->on_deadline();
  });
}

void Connection::clear_deadline() {
  if (timer_) timer_->cancel();
}

void Connection::on_deadline() {
  switch (mode_) {
    case Mode::http:
      if (tls_ && !tls_->handshake_done()) {  // TLS hook
        const Logger& log = ctx_->logger;
        if (log.enabled(LogLevel::info))
          log.log(LogLevel::info, "TLS handshake from " + (http_ ? http_->remote_address : std::string()) +
                                      " not completed within handshake_timeout; closed");
        close_socket();
        return;
      }
      if (!http_ || http_->exchange) return;  // the engine holds the request; it answers in time
      if (!http_->parser.idle()) {
        const bool head = http_->timing_head;
        http_->parser.reset();
        reply_error(408, head ? "request head not received within head_timeout"
                              : "request not received within request_timeout");
        return;
      }
      close_socket();  // idle keep-alive connection
      return;
    case Mode::websocket:
      if (close_sent_) close_socket();  // the client never answered our close frame
      return;
    case Mode::lingering:
      close_socket();
      return;
    case Mode::closed:
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Connection: TLS (only with ListenOptions::tls; see transport/tls.hpp)

void Connection::on_readable_tls() {
  auto self = shared_from_this();
  char* cipher = ctx_->tls_scratch.get();
  char* plain = ctx_->scratch.get();
  input_left_ = true;  // until a short read or EAGAIN shows the socket drained
  for (int round = 0; round < kReadsPerTurn; ++round) {
    std::error_code ec;
    const std::size_t n = socket_.read_some(asio::buffer(cipher, kScratchSize), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      input_left_ = false;
      break;
    }
    if (ec) {
      on_transport_error(ec);
      return;
    }
    if (mode_ == Mode::lingering) continue;  // discarded: we only wait for the client's FIN
    bool handshaking = !tls_->handshake_done();
    tls_->feed(cipher, n);
    // Everything fed is decrypted now (at most one scratch of ciphertext, so a paused HTTP reader
    // buffers at most that much more): the next readiness wait must not leave data in OpenSSL.
    TlsSession::ReadStatus status;
    do {
      std::size_t got = 0;
      status = tls_->read(plain, kScratchSize, got);
      if (handshaking && tls_->handshake_done()) {
        handshaking = false;
        // The first request's head time starts now.
        set_deadline(std::min(ctx_->options.head_timeout, ctx_->options.request_timeout));
      }
      if (got > 0) consume(plain, got);
      if (mode_ == Mode::closed || mode_ == Mode::lingering) {
        tls_->feed(nullptr, 0);
        if (mode_ == Mode::closed) return;
        status = TlsSession::ReadStatus::need_input;
      }
    } while (status == TlsSession::ReadStatus::full);
    if (status == TlsSession::ReadStatus::failed) {
      tls_failed("read");
      return;
    }
    if (status == TlsSession::ReadStatus::peer_closed) {
      on_transport_error(asio::error::eof);  // close_notify: the client's end of stream
      return;
    }
    schedule_tls_output();  // handshake messages, session tickets, key updates
    if (read_paused_) return;
    if (n < kScratchSize) {
      input_left_ = false;
      break;
    }
  }
  arm_read();
}

bool Connection::flush_tls() {
  char* stage = ctx_->stage.get();
  auto advance = [this](std::size_t len) {
    out_offset_ += len;
    if (out_offset_ == out_[out_head_]->size()) {
      ctx_->give_back(std::move(out_[out_head_++]));
      out_offset_ = 0;
    }
  };
  for (;;) {
    if (tls_->handshake_done() && out_head_ < out_.size() && tls_->pending_output() < kTlsWriteBatch) {
      tls_->compact_output();
      while (out_head_ < out_.size() && tls_->pending_output() < kTlsWriteBatch) {
        const std::string& frame = *out_[out_head_];
        std::size_t len = frame.size() - out_offset_;
        bool ok;
        if (len >= kTlsRecord) {
          len = std::min(len, 4 * kTlsRecord);  // large frames: encrypted in place, in slices
          ok = tls_->write(frame.data() + out_offset_, len);
          advance(len);  // (after the write: it may release the frame)
        } else {
          // Small frames (a broadcast's usual case) share records: one header, one tag and one
          // cipher call per 16 KiB instead of per frame, for a copy into the staging buffer.
          len = 0;
          while (out_head_ < out_.size() && len < kTlsRecord) {
            const std::string& f = *out_[out_head_];
            const std::size_t take = std::min(f.size() - out_offset_, kTlsRecord - len);
            std::memcpy(stage + len, f.data() + out_offset_, take);
            len += take;
            advance(take);
          }
          ok = tls_->write(stage, len);
        }
        out_bytes_ -= len;
        if (!ok) {
          auto self = shared_from_this();
          tls_failed("write");
          return false;
        }
      }
    }
    if (tls_->pending_output() == 0) break;
    std::error_code ec;
    const std::size_t n = socket_.write_some(asio::buffer(tls_->output(), tls_->pending_output()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      wait_writable();
      return false;
    }
    if (ec) {
      auto self = shared_from_this();
      on_transport_error(ec);
      return false;
    }
    tls_->consume_output(n);
    if (tls_->pending_output() > 0) {
      wait_writable();  // partial write: the kernel buffer is full
      return false;
    }
  }
  return out_head_ == out_.size();  // (frames queued before the handshake wait for it)
}

void Connection::schedule_tls_output() {
  if (mode_ == Mode::closed || flush_scheduled_ || write_waiting_) return;
  if (tls_->pending_output() == 0 && out_head_ == out_.size()) return;
  flush_scheduled_ = true;
  ctx_->schedule_flush(this);
}

void Connection::tls_goodbye() {
  // Our close_notify (or the alert of a failed handshake) is sent best effort: one non-blocking
  // write of what is pending, then the buffer is dropped. TLS clients treat a missing one after
  // a complete HTTP response or WebSocket close as a normal end.
  tls_->close_notify();
  if (tls_->pending_output() == 0) return;
  std::error_code ec;
  socket_.write_some(asio::buffer(tls_->output(), tls_->pending_output()), ec);
  tls_->consume_output(tls_->pending_output());
}

void Connection::tls_failed(const char* when) {
  const Logger& log = ctx_->logger;
  if (log.enabled(LogLevel::info)) {
    std::string where = http_ ? http_->remote_address : std::string("websocket peer");
    log.log(LogLevel::info, std::string("TLS ") + (tls_->handshake_done() ? "" : "handshake ") + "error (" + when +
                                ") from " + where + ": " + tls_->error() + "; connection closed");
  }
  close_socket();
}

}  // namespace courier::detail

namespace courier {

Listener::Listener(asio::io_context& io, Logger logger)
    : impl_(std::make_shared<detail::ListenerImpl>(io, std::move(logger))) {}

// As close(): the acceptor belongs to the io_context's thread, and a host may drop the Listener
// on another one while that thread runs (the posted close keeps the implementation alive).
Listener::~Listener() { close(); }

void Listener::mount(EngineServer& server) { impl_->mount(server.core()); }

void Listener::serve_text(std::string path, std::string content_type,
                          std::function<void(std::function<void(std::string)>)> handler) {
  impl_->mount(detail::make_text_service(std::move(path), std::move(content_type), std::move(handler)));
}

void Listener::serve_static(std::string prefix, std::string directory) {
  impl_->mount(detail::make_static_service(std::move(prefix), std::move(directory)));
}

std::error_code Listener::listen(const ListenOptions& options) { return impl_->listen(options); }

std::uint16_t Listener::port() const noexcept { return impl_->port(); }

void Listener::close() {
  auto& io = impl_->io();
  if (io.get_executor().running_in_this_thread() || io.stopped()) {
    impl_->close();
  } else {
    asio::post(io, [impl = impl_] { impl->close(); });
  }
}

}  // namespace courier
