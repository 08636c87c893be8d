#pragma once
/// @file engine_socket.hpp
/// A handle on one Engine.IO session (one client connection, whatever its transport).

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <courier/error.hpp>
#include <courier/request_info.hpp>

namespace courier {

namespace detail {
class EngineSession;
}

/// Transport a session currently uses.
enum class TransportKind { polling, websocket };

/// Node's name of a transport ("polling", "websocket"). Thread-safe.
std::string_view to_string(TransportKind kind) noexcept;

/// One Engine.IO message as received: text or binary bytes. The view is valid during the callback only.
struct EngineMessage {
  std::string_view data;  ///< the message bytes (UTF-8 text unless binary)
  bool binary = false;    ///< true when the client sent binary data
};

/// A cheap, copyable handle on a session; the session lives while it is open or a handle exists.
///
/// Thread-safety: every member function may be called from any thread. Calls made off the server's
/// thread are posted to it, so they take effect in call order. Callbacks run on the server's thread.
class EngineSocket {
 public:
  /// An empty handle; every operation on it is a no-op.
  EngineSocket() = default;
  /// Wraps a session; used by courier itself.
  explicit EngineSocket(std::shared_ptr<detail::EngineSession> session) noexcept;

  /// The session id (sid) sent to the client in the handshake.
  const std::string& id() const noexcept;
  /// The handshake request; immutable.
  const RequestInfo& request() const noexcept;
  /// The transport in use now (changes once, on upgrade). Exact on the server's thread.
  TransportKind transport() const noexcept;
  /// False once the session closed. Exact on the server's thread.
  bool is_open() const noexcept;

  /// Sends a text message (must be UTF-8).
  void send(std::string text) const;
  /// Sends a binary message.
  void send_binary(std::string bytes) const;
  /// Sends a text message that many sessions may share without copying (broadcast: encode once).
  /// On the server's thread over WebSocket, the frame is built once per turn for every session
  /// sent the same buffer, and each session queues a reference to it.
  void send_shared(const std::shared_ptr<const std::string>& text, bool binary = false) const;

  /// Closes the session after queued messages are written; the close reason is "forced close".
  void close() const;

  /// Sets the handler for incoming messages; replaces any previous one.
  void on_message(std::function<void(const EngineMessage&)> handler) const;
  /// Sets the handler called once when the session closes, with Node's reason and a description.
  void on_close(std::function<void(CloseReason, std::string_view description)> handler) const;

  /// True for a non-empty handle.
  explicit operator bool() const noexcept { return static_cast<bool>(session_); }
  /// The session; used by courier itself.
  const std::shared_ptr<detail::EngineSession>& session() const noexcept { return session_; }

 private:
  std::shared_ptr<detail::EngineSession> session_;
};

}  // namespace courier
