#pragma once
// TLS for the native transport (issue 8 item 5): an OpenSSL server context built from TlsOptions,
// and a per-connection session that is a pure byte transformer. The session never touches the
// socket: the connection reads ciphertext from the socket and feeds it in, gets plaintext out for
// its HTTP / WebSocket parsing, hands plaintext frames in and writes the ciphertext the session
// collected. That keeps the reactor-style I/O of listener.cpp (non-blocking reads into a shared
// scratch buffer, batched writes) unchanged, and TLS confined to this file pair.
//
// Memory: the session's BIO is not an OpenSSL memory BIO (whose buffer only ever grows) but a
// small custom one that reads straight from the caller's span and appends ciphertext to a string
// released once written, and the context sets SSL_MODE_RELEASE_BUFFERS, so an idle TLS
// connection holds only OpenSSL's session state (a few KiB), no record buffers.
//
// Thread-safety: a TlsContext is immutable after create() and may be shared by the sessions of
// several threads (OpenSSL's SSL_CTX is thread-safe for that); a TlsSession belongs to one
// connection and is used on its thread only.

#include <courier/listener.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <system_error>

// OpenSSL's types, forward-declared so that listener.cpp does not compile OpenSSL's headers.
struct ssl_ctx_st;
struct ssl_st;

namespace courier::detail {

/// The server's SSL_CTX: certificate chain, private key and protocol policy.
class TlsContext {
 public:
  /// Loads the files of `options` and applies the policy. On failure returns null, sets `ec`
  /// (errc::tls_*) and `detail` (the file and OpenSSL's reason, for the log).
  static std::shared_ptr<TlsContext> create(const TlsOptions& options, std::error_code& ec, std::string& detail);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  ssl_ctx_st* native() const noexcept { return ctx_; }

 private:
  explicit TlsContext(ssl_ctx_st* ctx) noexcept : ctx_(ctx) {}
  ssl_ctx_st* ctx_;
};

/// One connection's TLS state (server side).
class TlsSession {
 public:
  /// What stopped TlsSession::read.
  enum class ReadStatus {
    full,         ///< `out` is full: consume it and call read again (more may be decrypted)
    need_input,   ///< every fed byte is used: wait for the socket
    peer_closed,  ///< the client sent close_notify: treat as end of stream
    failed,       ///< a fatal TLS error (bad bytes, failed handshake); see error()
  };

  /// A session on `context`, or null when OpenSSL cannot allocate one.
  static std::unique_ptr<TlsSession> create(const TlsContext& context);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  /// Ciphertext read from the socket. It is only borrowed: drain it with read() (until it returns
  /// something other than `full`) before the bytes go away; feed(nullptr, 0) forgets the rest.
  void feed(const char* data, std::size_t size) noexcept {
    in_ = data;
    in_size_ = size;
  }
  /// Runs the handshake and decrypts into `out` (up to `capacity` bytes, `produced` set). The
  /// handshake's answers and alerts are queued as output.
  ReadStatus read(char* out, std::size_t capacity, std::size_t& produced);
  /// Encrypts `size` bytes of plaintext (after the handshake) into the output; false on a fatal
  /// error (see error()).
  bool write(const char* data, std::size_t size);
  /// Queues close_notify once (only after a completed handshake and no fatal error).
  void close_notify();

  /// True once the handshake completed.
  bool handshake_done() const noexcept;
  /// Ciphertext waiting for the socket.
  std::size_t pending_output() const noexcept { return out_.size() - out_offset_; }
  const char* output() const noexcept { return out_.data() + out_offset_; }
  /// `n` bytes of output were written to the socket.
  void consume_output(std::size_t n) noexcept;
  /// Drops the written prefix of the output buffer so more can be appended without growing it.
  void compact_output();
  /// Why the session failed (OpenSSL's reason), or empty.
  const std::string& error() const noexcept { return error_; }

 private:
  TlsSession() = default;
  friend struct TlsBio;

  ssl_st* ssl_ = nullptr;
  const char* in_ = nullptr;
  std::size_t in_size_ = 0;
  std::string out_;
  std::size_t out_offset_ = 0;
  std::string error_;
  bool failed_ = false;
  bool close_notify_sent_ = false;
};

}  // namespace courier::detail
