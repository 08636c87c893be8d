#include "transport/tls.hpp"

#include <courier/error.hpp>

#include <algorithm>
#include <climits>
#include <cstring>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

namespace courier::detail {

namespace {

// TLS 1.2 suites when the host gives none: ECDHE (forward secrecy) with AEAD ciphers only, the
// TLS 1.2 part of Mozilla's "intermediate" profile (no CBC, no static RSA, no DHE whose
// parameters clients cannot check).
constexpr const char* kDefaultCipherList =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/// OpenSSL's queued errors of this thread as one line (and the queue emptied).
std::string drain_errors() {
  std::string out;
  char buf[256];
  while (const unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

std::string failure(const std::string& what, const std::string& file) {
  std::string reason = drain_errors();
  std::string out = what;
  if (!file.empty()) out += " '" + file + "'";
  if (!reason.empty()) out += ": " + reason;
  return out;
}

// Supplies the private key's passphrase; never prompts on a terminal (OpenSSL's default would).
int password_callback(char* buf, int size, int, void* user) {
  const auto* password = static_cast<const std::string*>(user);
  if (!password || password->empty() || size <= 0) return 0;
  const int n = static_cast<int>(std::min<std::size_t>(password->size(), static_cast<std::size_t>(size)));
  std::memcpy(buf, password->data(), static_cast<std::size_t>(n));
  return n;
}

// ALPN: courier speaks HTTP/1.1 only; a client offering h2 and http/1.1 (browsers) gets http/1.1,
// a client offering neither gets no ALPN answer and goes on (as with a server without ALPN).
int alpn_select(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen, void*) {
  static constexpr unsigned char kHttp11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
  for (unsigned int i = 0; i < inlen;) {
    const unsigned int len = in[i];
    if (i + 1 + len > inlen) break;
    if (len == sizeof kHttp11 && std::memcmp(in + i + 1, kHttp11, len) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct BioDeleter {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// The session's BIO: reads from the span given to feed(), appends writes to the output string.

struct TlsBio {
  static TlsSession* session(BIO* b) noexcept { return static_cast<TlsSession*>(BIO_get_data(b)); }

  static int write(BIO* b, const char* data, int len) {
    BIO_clear_retry_flags(b);
    if (len <= 0) return 0;
    session(b)->out_.append(data, static_cast<std::size_t>(len));
    return len;
  }
  static int read(BIO* b, char* out, int len) {
    BIO_clear_retry_flags(b);
    TlsSession* s = session(b);
    if (s->in_size_ == 0) {
      BIO_set_retry_read(b);  // "no data yet", not end of stream: the socket has more later
      return -1;
    }
    const std::size_t n = std::min(s->in_size_, static_cast<std::size_t>(std::max(len, 0)));
    std::memcpy(out, s->in_, n);
    s->in_ += n;
    s->in_size_ -= n;
    return static_cast<int>(n);
  }
  static long ctrl(BIO*, int cmd, long, void*) {
    // Writes land in memory at once, so flushing always succeeds; every other control (pending
    // counts, kTLS queries...) is "not supported", which OpenSSL handles.
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
  }
  static int create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
  }
  static int destroy(BIO*) { return 1; }

  /// The method, made once per process and kept (it is immutable and shared by every session).
  static BIO_METHOD* method() {
    static BIO_METHOD* const m = [] {
      BIO_METHOD* meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "courier transport");
      if (meth) {
        BIO_meth_set_write(meth, &TlsBio::write);
        BIO_meth_set_read(meth, &TlsBio::read);
        BIO_meth_set_ctrl(meth, &TlsBio::ctrl);
        BIO_meth_set_create(meth, &TlsBio::create);
        BIO_meth_set_destroy(meth, &TlsBio::destroy);
      }
      return meth;
    }();
    return m;
  }
};

// ---------------------------------------------------------------------------------------------
// TlsContext

std::shared_ptr<TlsContext> TlsContext::create(const TlsOptions& options, std::error_code& ec, std::string& detail) {
  ERR_clear_error();
  auto fail = [&](errc code, std::string why) -> std::shared_ptr<TlsContext> {
    ec = make_error_code(code);
    detail = std::move(why);
    return nullptr;
  };
  if (options.certificate_chain_file.empty())
    return fail(errc::tls_configuration, "TLS options without certificate_chain_file");

  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (!raw) return fail(errc::tls_configuration, failure("cannot create an OpenSSL context", ""));
  std::shared_ptr<TlsContext> context(new TlsContext(raw));

  const int min_version = options.min_version == TlsOptions::Version::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (SSL_CTX_set_min_proto_version(raw, min_version) != 1)
    return fail(errc::tls_configuration, failure("cannot set the minimum TLS version", ""));
  // No compression (CRIME), no renegotiation (a client-driven CPU cost and a history of bugs; TLS
  // 1.3 has none), the server's cipher order (ours is strongest first).
  SSL_CTX_set_options(raw, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Idle connections keep no record buffers (up to ~34 KiB each otherwise); OpenSSL may read
  // ahead whole records from what the transport feeds it (fewer BIO calls).
  SSL_CTX_set_mode(raw, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_read_ahead(raw, 1);
  // Resumption through stateless tickets only: a server-side session cache would grow with every
  // client of a connect storm.
  SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_dh_auto(raw, 1);  // only used if the host's cipher list enables DHE
  SSL_CTX_set_alpn_select_cb(raw, &alpn_select, nullptr);

  const std::string& ciphers = options.cipher_list.empty() ? std::string(kDefaultCipherList) : options.cipher_list;
  if (SSL_CTX_set_cipher_list(raw, ciphers.c_str()) != 1)
    return fail(errc::tls_configuration, failure("TLS cipher_list refused", ciphers));
  if (!options.cipher_suites.empty() && SSL_CTX_set_ciphersuites(raw, options.cipher_suites.c_str()) != 1)
    return fail(errc::tls_configuration, failure("TLS cipher_suites refused", options.cipher_suites));

  if (SSL_CTX_use_certificate_chain_file(raw, options.certificate_chain_file.c_str()) != 1)
    return fail(errc::tls_certificate, failure("cannot load TLS certificate chain file", options.certificate_chain_file));

  // The key is parsed here (not with SSL_CTX_use_PrivateKey_file) to tell an unreadable key from
  // one that does not match the certificate.
  const std::string& key_file = options.private_key_file.empty() ? options.certificate_chain_file : options.private_key_file;
  std::unique_ptr<BIO, BioDeleter> key_bio(BIO_new_file(key_file.c_str(), "r"));
  if (!key_bio) return fail(errc::tls_private_key, failure("cannot open TLS private key file", key_file));
  std::string password = options.private_key_password;
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, &password_callback, &password));
  std::fill(password.begin(), password.end(), '\0');
  if (!key) return fail(errc::tls_private_key, failure("cannot read the private key (not PEM, or wrong password) in", key_file));
  if (SSL_CTX_use_PrivateKey(raw, key.get()) != 1 || SSL_CTX_check_private_key(raw) != 1)
    return fail(errc::tls_key_mismatch,
                failure("TLS private key '" + key_file + "' does not match the certificate in", options.certificate_chain_file));
  ERR_clear_error();
  return context;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

// ---------------------------------------------------------------------------------------------
// TlsSession

std::unique_ptr<TlsSession> TlsSession::create(const TlsContext& context) {
  std::unique_ptr<TlsSession> s(new TlsSession());
  BIO_METHOD* method = TlsBio::method();
  s->ssl_ = method ? SSL_new(context.native()) : nullptr;
  BIO* bio = s->ssl_ ? BIO_new(method) : nullptr;
  if (!bio) {
    ERR_clear_error();
    return nullptr;
  }
  BIO_set_data(bio, s.get());
  SSL_set_bio(s->ssl_, bio, bio);  // one BIO both ways; the SSL owns it
  SSL_set_accept_state(s->ssl_);
  return s;
}

TlsSession::~TlsSession() {
  if (ssl_) SSL_free(ssl_);
}

bool TlsSession::handshake_done() const noexcept { return SSL_is_init_finished(ssl_) == 1; }

TlsSession::ReadStatus TlsSession::read(char* out, std::size_t capacity, std::size_t& produced) {
  produced = 0;
  if (failed_) return ReadStatus::failed;
  ERR_clear_error();
  while (produced < capacity) {
    std::size_t n = 0;
    const std::size_t before = in_size_;
    const int r = SSL_read_ex(ssl_, out + produced, capacity - produced, &n);
    if (r == 1) {
      produced += n;
      continue;
    }
    switch (SSL_get_error(ssl_, r)) {
      case SSL_ERROR_WANT_READ:
        if (in_size_ > 0 && in_size_ < before) continue;  // a non-data record was handled; go on
        in_ = nullptr;
        in_size_ = 0;
        return ReadStatus::need_input;
      case SSL_ERROR_ZERO_RETURN:
        in_ = nullptr;
        in_size_ = 0;
        return ReadStatus::peer_closed;
      default:
        failed_ = true;
        error_ = drain_errors();
        if (error_.empty()) error_ = "TLS connection failed";
        in_ = nullptr;
        in_size_ = 0;
        return ReadStatus::failed;
    }
  }
  return ReadStatus::full;
}

bool TlsSession::write(const char* data, std::size_t size) {
  if (failed_) return false;
  ERR_clear_error();
  std::size_t n = 0;
  // The BIO never blocks, so SSL_write_ex either takes everything or fails for good.
  if (SSL_write_ex(ssl_, data, size, &n) == 1 && n == size) return true;
  failed_ = true;
  error_ = drain_errors();
  if (error_.empty()) error_ = "TLS write failed";
  return false;
}

void TlsSession::close_notify() {
  if (failed_ || close_notify_sent_ || !handshake_done()) return;
  close_notify_sent_ = true;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // queues our close_notify; we do not wait for the client's
  ERR_clear_error();
}

void TlsSession::consume_output(std::size_t n) noexcept {
  out_offset_ += n;
  if (out_offset_ >= out_.size()) {
    std::string().swap(out_);  // all written: an idle connection keeps no ciphertext buffer
    out_offset_ = 0;
  }
}

void TlsSession::compact_output() {
  if (out_offset_ == 0) return;
  out_.erase(0, out_offset_);
  out_offset_ = 0;
}

}  // namespace courier::detail
