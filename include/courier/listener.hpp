#pragma once
/// @file listener.hpp
/// The TCP/HTTP/WebSocket front door: accepts connections and routes them to mounted servers by path.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include <asio/io_context.hpp>

#include <courier/log.hpp>

namespace courier {

class EngineServer;

namespace detail {
class ListenerImpl;
}

/// TLS (https / wss) for a listener; an aggregate. An empty `certificate_chain_file` means plain
/// TCP. The files are read once by Listener::listen (PEM); rotating them needs a new listener.
/// Only server authentication is offered (no client certificates).
struct TlsOptions {
  /// Lowest protocol version accepted.
  enum class Version { tls1_2, tls1_3 };

  /// PEM file with the server certificate first, then any intermediates; empty disables TLS,
  /// so plain listeners need no configuration.
  std::string certificate_chain_file;
  /// PEM file with the private key of the certificate; empty means it is in
  /// `certificate_chain_file` (one combined PEM, as some tools write it).
  std::string private_key_file;
  /// Passphrase of an encrypted private key; empty for an unencrypted key (the common case with
  /// keys managed by the deployment).
  std::string private_key_password;
  /// TLS 1.2 is the lowest version that has no known protocol-level break and that every current
  /// browser, Node and Python client speaks; 1.0/1.1 are refused.
  Version min_version = Version::tls1_2;
  /// OpenSSL cipher list for TLS 1.2; empty selects ECDHE key exchange with AEAD ciphers only
  /// (forward secrecy, no CBC), which every TLS 1.2 client of the last decade offers.
  std::string cipher_list;
  /// OpenSSL TLS 1.3 cipher suites; empty keeps OpenSSL's default (all three are sound).
  std::string cipher_suites;
  /// Time a new connection has to complete the TLS handshake before it is closed; 10 s is many
  /// round trips on a slow mobile link but bounds how long a silent client holds a socket.
  std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10);

  /// True when TLS is configured.
  bool enabled() const noexcept { return !certificate_chain_file.empty(); }
};

/// Where and how to listen; an aggregate.
struct ListenOptions {
  /// Address to bind; loopback by default so nothing is exposed until the host says so.
  std::string host = "127.0.0.1";
  /// TCP port; 0 picks a free one (read it back with Listener::port()).
  std::uint16_t port = 0;
  /// listen(2) backlog; 4096 so a connect storm is not dropped by the kernel (it caps at somaxconn).
  int backlog = 4096;
  /// SO_REUSEADDR, so a restarted server can bind the port at once.
  bool reuse_address = true;
  /// Time for a whole HTTP request (head and body) to arrive once it started, and for the first
  /// request of a new connection; 30 s lets a 1 MB body through a slow link but no silent client
  /// hold a connection forever (answered with 408).
  std::chrono::milliseconds request_timeout = std::chrono::seconds(30);
  /// Time for the request head (request line and headers, at most 16 KiB) to arrive, on a new
  /// connection and for each request; 5 s is many round trips of a slow mobile link, yet a
  /// half-sent request (slowloris) or a silent connection costs a descriptor for 5 s only.
  std::chrono::milliseconds head_timeout = std::chrono::seconds(5);
  /// Idle time allowed between HTTP requests of a keep-alive connection; 5 s as Node's default
  /// keepAliveTimeout (polling clients send their next request well within it).
  std::chrono::milliseconds keep_alive_timeout = std::chrono::seconds(5);
  /// Time the client has to answer the server's WebSocket close frame before the TCP connection is
  /// dropped; 5 s, the usual close handshake bound of browsers and WebSocket libraries.
  std::chrono::milliseconds close_timeout = std::chrono::seconds(5);
  /// TLS for every connection of the listener (https / wss); off by default because TLS is often
  /// terminated by a proxy in front and it needs a certificate only the host can provide.
  TlsOptions tls;
};

/// Accepts HTTP and WebSocket connections on one port and hands each request to the server
/// mounted under the longest matching path prefix; other paths get 404.
///
/// Thread-safety: like EngineServer, it lives on one io_context run by a single thread; `listen`,
/// `mount` and `port` are meant for setup before or on that thread, `close` and the destructor are
/// safe from any thread (off that thread while it runs, the close is posted to it).
class Listener {
 public:
  /// A listener on the host's io_context.
  explicit Listener(asio::io_context& io, Logger logger = {});
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  /// Routes requests under `server.options().path` to `server`. The server must outlive the listener.
  void mount(EngineServer& server);
  /// Serves the files under `directory` for GET/HEAD requests under `prefix` ("/" for a web app):
  /// `prefix + "x/y.js"` maps to `directory + "/x/y.js"`, a directory to its index.html. Paths
  /// that try to leave the directory ("..") get 404; files are read per request (no cache).
  void serve_static(std::string prefix, std::string directory);
  /// Answers GET/HEAD requests for exactly `path` with `content_type` text: per request,
  /// `handler(respond)` runs on the listener's thread and must call `respond(body)` once, on that
  /// thread (at once or later). For small host endpoints such as metrics (Server::serve_metrics).
  void serve_text(std::string path, std::string content_type,
                  std::function<void(std::function<void(std::string body)> respond)> handler);
  /// Binds and starts accepting. Returns the bind/listen error, if any. With `options.tls`, the
  /// certificate and key are loaded first: a failure returns errc::tls_certificate,
  /// errc::tls_private_key, errc::tls_key_mismatch or errc::tls_configuration (the logger gets
  /// OpenSSL's reason and the file name, at error level) and nothing is bound.
  std::error_code listen(const ListenOptions& options);
  /// The bound port (after a successful listen), 0 otherwise.
  std::uint16_t port() const noexcept;
  /// Stops accepting; open sessions are left to their servers.
  void close();

 private:
  std::shared_ptr<detail::ListenerImpl> impl_;
};

}  // namespace courier
