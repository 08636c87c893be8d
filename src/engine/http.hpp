#pragma once
// The seam between the transport (src/transport: courier's own HTTP/WebSocket on Asio) and the engine. The engine sees HTTP
// exchanges and WebSocket links only through these interfaces, so it can be driven by a fake in
// unit tests and by another transport later.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/packet.hpp"

namespace courier::detail {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// A complete HTTP request (body included) as the transport parsed it.
struct HttpRequest {
  std::string method;
  std::string path;          // before '?', not decoded
  std::string query_string;  // after '?', not decoded
  HeaderList headers;
  std::string body;
  std::string remote_address;
  bool upgrade = false;  // a WebSocket upgrade request

  /// First header value for `name` (case-insensitive), or empty.
  std::string_view header(std::string_view name) const noexcept;
};

struct HttpResponse {
  int status = 200;
  HeaderList headers;
  std::string body;
};

/// One HTTP request awaiting its single response. The engine may answer at once or hold it.
class HttpExchange {
 public:
  virtual ~HttpExchange() = default;
  virtual const HttpRequest& request() const noexcept = 0;
  /// Sends the response (the connection stays open for the next request when HTTP keep-alive
  /// allows); later calls do nothing.
  virtual void respond(HttpResponse response) = 0;
  /// While the exchange is held, calls `on_abort` once if the client closes its end first.
  virtual void watch_abort(std::function<void()> on_abort) = 0;
};

/// A message already encoded as the transport's wire bytes (for WebSocket: one whole frame, which
/// a server sends unmasked, so the same bytes serve every recipient). Immutable; shared freely.
using PreparedFrame = std::shared_ptr<const std::string>;

/// An open WebSocket connection. Sends are queued by the transport in order.
class WsLink {
 public:
  virtual ~WsLink() = default;
  /// Sends one Engine.IO packet: a text frame "<type><data>", or a binary frame of `data`.
  virtual void send(PacketType type, std::string_view data, bool binary) = 0;
  /// Encodes one packet as send() would, once, for send_prepared() on any link of this transport
  /// (a broadcast builds its frame once for all recipients). Null when the transport has no such
  /// form; callers then use send().
  virtual PreparedFrame prepare(PacketType /*type*/, std::string_view /*data*/, bool /*binary*/) const { return nullptr; }
  /// Queues a frame made by prepare() (of this transport); shares it, copies nothing.
  virtual void send_prepared(const PreparedFrame& /*frame*/) {}
  /// Starts a close handshake with the given WebSocket status code.
  virtual void close(std::uint16_t code, std::string_view reason) = 0;
  /// Bytes queued and not yet written.
  virtual std::size_t buffered_amount() const noexcept = 0;
  /// True once the connection is gone (closed and released by the transport).
  virtual bool finished() const noexcept = 0;
};

/// What the engine receives from one WebSocket connection.
class WsHandler {
 public:
  virtual ~WsHandler() = default;
  virtual void on_ws_message(std::string_view data, bool binary) = 0;
  /// The connection ended (either side); `error` is true when it failed rather than closed cleanly.
  virtual void on_ws_close(bool error, std::string_view why) = 0;
};

/// What a transport routes to: implemented by the engine core.
class HttpService {
 public:
  virtual ~HttpService() = default;
  /// A plain HTTP request under the service's path.
  virtual void handle_http(std::shared_ptr<HttpExchange> exchange) = 0;
  /// An upgrade request: returns false and fills `reject` to refuse it.
  virtual bool accept_upgrade(const HttpRequest& request, HttpResponse& reject) = 0;
  /// An accepted upgrade completed; returns the handler for the connection's events.
  virtual std::shared_ptr<WsHandler> open_websocket(const HttpRequest& request, std::shared_ptr<WsLink> link) = 0;
  /// The path prefix this service answers under.
  virtual const std::string& path() const noexcept = 0;
  /// Largest body or message accepted.
  virtual std::size_t max_message_size() const noexcept = 0;
};

}  // namespace courier::detail
