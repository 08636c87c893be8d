#pragma once
// The Engine.IO server core: request verification, handshakes, the session table.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio/io_context.hpp>

#include <courier/engine_options.hpp>
#include <courier/engine_socket.hpp>
#include <courier/error.hpp>

#include "engine/counters.hpp"
#include "engine/http.hpp"
#include "engine/rate_limiter.hpp"

namespace courier::detail {

class EngineSession;

class EngineCore final : public HttpService, public std::enable_shared_from_this<EngineCore> {
 public:
  EngineCore(asio::io_context& io, EngineOptions options);
  ~EngineCore() override;

  // HttpService
  void handle_http(std::shared_ptr<HttpExchange> exchange) override;
  bool accept_upgrade(const HttpRequest& request, HttpResponse& reject) override;
  std::shared_ptr<WsHandler> open_websocket(const HttpRequest& request, std::shared_ptr<WsLink> link) override;
  const std::string& path() const noexcept override { return options_.path; }
  std::size_t max_message_size() const noexcept override { return options_.max_http_buffer_size; }

  void set_connection_handler(std::function<void(EngineSocket)> handler) { on_connection_ = std::move(handler); }
  std::size_t session_count() const noexcept { return session_count_.load(std::memory_order_relaxed); }
  void close_all();
  /// Calls `done` once every WebSocket closed by close_all() has finished its close handshake, or
  /// after `timeout`, whichever comes first.
  void when_drained(std::chrono::milliseconds timeout, std::function<void()> done);

  /// Counters and gauges; server thread (the gauges walk the session table).
  void metrics(EngineMetrics& out) const;
  const std::shared_ptr<EngineCounters>& counters() const noexcept { return counters_; }
  /// Addresses the handshake limiter tracks (bounded by max_tracked_addresses).
  std::size_t tracked_addresses() const noexcept { return handshake_limiter_.size(); }

  // Used by sessions.
  asio::io_context& io() noexcept { return io_; }
  const EngineOptions& options() const noexcept { return options_; }
  const Logger& logger() const noexcept { return options_.logger; }
  void remove_session(const std::string& id);
  void add_cors_headers(const HttpRequest& request, HeaderList& headers) const;
  HttpResponse error_response(const HttpRequest& request, errc error) const;
  void log_refusal(const HttpRequest& request, errc error, std::string_view detail) const;

 private:
  /// Checks a request against Node's engine.io rules; returns the error to answer with, if any.
  std::error_code verify(const HttpRequest& request, std::string& transport, std::string& sid, std::string& detail) const;
  /// Applies the per-address handshake rate to a new session's request; false (logged, counted)
  /// when over it.
  bool admit_handshake(const HttpRequest& request);
  std::shared_ptr<EngineSession> create_session(const HttpRequest& request, TransportKind transport);
  std::string generate_id();

  asio::io_context& io_;
  EngineOptions options_;
  std::function<void(EngineSocket)> on_connection_;
  std::unordered_map<std::string, std::shared_ptr<EngineSession>> sessions_;
  std::atomic<std::size_t> session_count_{0};  // mirrors sessions_.size() for other threads
  bool closed_ = false;
  std::shared_ptr<EngineCounters> counters_ = std::make_shared<EngineCounters>();
  KeyedRateLimiter handshake_limiter_;
  std::vector<std::shared_ptr<WsLink>> draining_;  // links closed by close_all()
};

}  // namespace courier::detail
