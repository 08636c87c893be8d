#pragma once
// One Engine.IO session: heartbeat, transports (polling, WebSocket), the upgrade between them.
// Lives on the server's io_context thread; public entry points post themselves there.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <courier/engine_socket.hpp>
#include <courier/error.hpp>
#include <courier/log.hpp>
#include <courier/request_info.hpp>

#include "engine/counters.hpp"
#include "engine/http.hpp"
#include "engine/packet.hpp"

namespace courier::detail {

class EngineCore;

/// A packet waiting to be written. Shared data lets a broadcast reach many sessions without copies.
struct QueuedPacket {
  PacketType type = PacketType::message;
  bool binary = false;
  std::string own;
  std::shared_ptr<const std::string> shared;

  std::string_view data() const noexcept { return shared ? std::string_view(*shared) : std::string_view(own); }
};

class EngineSession final : public std::enable_shared_from_this<EngineSession> {
 public:
  EngineSession(std::shared_ptr<EngineCore> core, std::string id, RequestInfo request, TransportKind transport);
  ~EngineSession();

  const std::string& id() const noexcept { return id_; }
  const RequestInfo& request() const noexcept { return request_; }
  TransportKind transport() const noexcept { return transport_.load(std::memory_order_relaxed); }
  bool is_open() const noexcept { return open_.load(std::memory_order_relaxed); }
  /// Starts loading the WebSocket link's memory (a broadcast to a large room prefetches the next
  /// recipients' objects while it writes to this one). On the server's thread.
  void prefetch_link() const noexcept {
    if (const WsLink* link = ws_.get()) {
      __builtin_prefetch(link);
      __builtin_prefetch(reinterpret_cast<const char*>(link) + 64);
      __builtin_prefetch(reinterpret_cast<const char*>(link) + 128);
    }
  }
  asio::io_context& io() noexcept { return io_; }

  // Public API (any thread).
  void send(QueuedPacket packet);
  /// Sends a text message whose bytes the caller keeps (a reply encoded into a reused buffer): the
  /// WebSocket frame is built from them at once, with no intermediate copy. Any thread.
  void send_text(std::string_view text);
  /// Sends a message many sessions share (a broadcast). On the thread over WebSocket it queues the
  /// turn's one frame of these bytes without building a packet. Any thread.
  void send_shared(const std::shared_ptr<const std::string>& data, bool binary);
  void close_by_server();
  void set_message_handler(std::function<void(const EngineMessage&)> handler);
  void set_close_handler(std::function<void(CloseReason, std::string_view)> handler);

  // From the core (server thread).
  void start(std::shared_ptr<WsLink> websocket);  // sends the open packet, starts the heartbeat
  void handle_poll(const std::shared_ptr<HttpExchange>& exchange);
  void handle_post(const std::shared_ptr<HttpExchange>& exchange);
  std::shared_ptr<WsHandler> begin_upgrade(std::shared_ptr<WsLink> link);
  std::shared_ptr<WsHandler> main_ws_handler();
  /// The WebSocket links of this session (to wait for their close handshakes on shutdown).
  void collect_links(std::vector<std::shared_ptr<WsLink>>& out) const {
    if (ws_) out.push_back(ws_);
    if (upgrade_link_) out.push_back(upgrade_link_);
  }
  bool upgraded_or_upgrading() const noexcept { return transport() == TransportKind::websocket || upgrade_link_; }

  /// Ends the session: stops timers, answers a held poll with a close packet, closes the WebSocket,
  /// leaves the core's table and tells the host once.
  void close(CloseReason reason, std::string_view description, bool allow_linger = true);
  /// True when a packet written now goes out at once (a poll is held, or the WebSocket's send
  /// queue is empty); volatile packets are dropped otherwise.
  bool writable() const noexcept;

  // From WebSocket handlers (server thread).
  void on_ws_message(const WsLink* link, std::string_view data, bool binary);
  void on_ws_close(const WsLink* link, bool error, std::string_view why);

 private:
  template <class F>
  void run_on_thread(F&& f);
  void send_now(QueuedPacket packet);
  /// True on the server's thread with a WebSocket: a send can frame its bytes at once.
  bool on_thread_over_ws() const;
  /// Queues the turn's shared frame of `data` on the WebSocket (on the thread, ws_ set).
  void send_ws_shared(PacketType type, const std::shared_ptr<const std::string>& data, bool binary);
  /// Closes the session when the WebSocket's unsent bytes exceed max_buffered_bytes.
  void check_ws_backlog();
  /// Counts an overflow of max_buffered_bytes and closes the session from a handler of its own.
  void overflow(std::string why);
  void handle_packet(Packet& packet);
  /// Counts a received message and hands it to the message handler.
  void deliver_message(std::string_view data, bool binary);
  void flush_poll();
  void respond_poll(std::string payload);
  void schedule_ping();
  void on_heartbeat_timer();
  void on_upgrade_message(std::string_view data, bool binary);
  void finish_upgrade();
  void cancel_upgrade(std::string_view why);
  void log(LogLevel level, std::string_view what) const;

  std::weak_ptr<EngineCore> core_;
  asio::io_context& io_;
  const std::string id_;
  const RequestInfo request_;
  std::atomic<TransportKind> transport_;
  std::atomic<bool> open_{true};
  std::size_t max_buffered_bytes_;
  std::shared_ptr<EngineCounters> counters_;  // shared with the core, which may go first

  std::function<void(const EngineMessage&)> on_message_;
  std::function<void(CloseReason, std::string_view)> on_close_;

  // Heartbeat: one timer, alternating between "next ping" and "pong deadline".
  asio::steady_timer heartbeat_;
  bool awaiting_pong_ = false;
  // Over max_buffered_bytes: further sends are dropped until the posted close runs.
  bool overflowed_ = false;

  // Polling.
  std::shared_ptr<HttpExchange> poll_;
  std::vector<QueuedPacket> write_buffer_;
  std::size_t buffered_bytes_ = 0;

  // WebSocket.
  std::shared_ptr<WsLink> ws_;

  // Upgrade in progress.
  std::shared_ptr<WsLink> upgrade_link_;
  bool probe_done_ = false;
  asio::steady_timer upgrade_timer_;
  asio::steady_timer noop_timer_;
};

}  // namespace courier::detail
