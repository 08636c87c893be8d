// TLS on the native transport (ListenOptions::tls), over real loopback sockets, with a throwaway
// self-signed certificate that the openssl command line tool makes in a temporary directory (no
// key is committed). The client side is OpenSSL with certificate verification on (the test's
// certificate as the only trusted CA, host name checked).
//
// Covers: listen() errors for bad certificate / key files (nothing bound, the log names the file),
// https polling with keep-alive, wss echo of text, binary, large and many small messages (the
// record slicing and coalescing of the write path), a slow reader (partial writes), ALPN,
// close_notify after "Connection: close", the minimum version, the handshake timeout, and garbage
// / plain HTTP / an untrusting client on the TLS port next to a TLS client that keeps working.

#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <courier/engine_server.hpp>
#include <courier/error.hpp>
#include <courier/listener.hpp>

#include "fixtures.hpp"

using namespace courier;
using namespace courier_test;
using namespace std::chrono_literals;

#ifndef COURIER_OPENSSL_CLI
#define COURIER_OPENSSL_CLI "openssl"
#endif

namespace {

// ---------------------------------------------------------------------------------------------
// Certificates, made once per test process.

struct Certs {
  std::filesystem::path dir;
  std::string cert, key, other_key, encrypted_key, combined, garbage, missing;
  bool ok = false;
  std::string error;

  Certs() {
    std::signal(SIGPIPE, SIG_IGN);  // the OpenSSL client writes with write(2)
    std::string tmpl = (std::filesystem::temp_directory_path() / "courier-tls-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      error = "mkdtemp failed";
      return;
    }
    dir = tmpl;
    cert = (dir / "cert.pem").string();
    key = (dir / "key.pem").string();
    other_key = (dir / "other-key.pem").string();
    encrypted_key = (dir / "encrypted-key.pem").string();
    combined = (dir / "combined.pem").string();
    garbage = (dir / "garbage.pem").string();
    missing = (dir / "does-not-exist.pem").string();
    const std::string cli = COURIER_OPENSSL_CLI;
    const std::vector<std::string> commands = {
        cli + " req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost"
              " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " + key + " -out " + cert,
        cli + " genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out " + other_key,
        cli + " pkey -in " + key + " -aes256 -passout pass:s3cret -out " + encrypted_key,
        "cat " + cert + " " + key + " > " + combined,
    };
    for (const auto& c : commands) {
      if (std::system(("(" + c + ") >/dev/null 2>&1").c_str()) != 0) {
        error = "failed: " + c + " (is the openssl command line tool installed? scripts/install-deps.sh)";
        return;
      }
    }
    std::ofstream(garbage) << "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n";
    ok = true;
  }
  ~Certs() {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }
};

const Certs& certs() {
  static const Certs c;
  REQUIRE(c.error == "");
  REQUIRE(c.ok);
  return c;
}

TlsOptions tls_options() {
  TlsOptions t;
  t.certificate_chain_file = certs().cert;
  t.private_key_file = certs().key;
  return t;
}

// ---------------------------------------------------------------------------------------------
// Server: the echoing Engine.IO server behind a TLS listener, its log captured (tests look for
// the listener's debug records).

struct Server : EchoServer {
  explicit Server(ListenOptions lo) : EchoServer(std::move(lo), engine_options(), LogLevel::debug) {}
  static ListenOptions tls() {
    ListenOptions lo;
    lo.tls = tls_options();
    return lo;
  }
};

// ---------------------------------------------------------------------------------------------
// Clients

std::string ssl_errors() {
  std::string out;
  char buf[256];
  while (const unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof buf);
    out += buf;
    out += "; ";
  }
  return out;
}

struct ClientConfig {
  bool trust = true;  // the test certificate is the trusted CA (else: no CA at all)
  int max_version = 0;
  bool offer_alpn = false;
};

/// A blocking OpenSSL client over loopback (receive timeout 5 s: no test hangs).
struct TlsClient : WireClient<TlsClient> {
  TcpConnection tcp;
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  std::string error;
  int last_ssl_error = 0;

  explicit TlsClient(std::uint16_t port, ClientConfig config = {}) : tcp(port) {
    ctx = SSL_CTX_new(TLS_client_method());
    REQUIRE(ctx);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (config.trust) REQUIRE(SSL_CTX_load_verify_locations(ctx, certs().cert.c_str(), nullptr) == 1);
    if (config.max_version) SSL_CTX_set_max_proto_version(ctx, config.max_version);
    if (config.offer_alpn) {
      static const unsigned char protos[] = "\x02h2\x08http/1.1";
      SSL_CTX_set_alpn_protos(ctx, protos, sizeof protos - 1);
    }
    ssl = SSL_new(ctx);
    REQUIRE(ssl);
    SSL_set_fd(ssl, tcp.sock.native_handle());
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
  }
  ~TlsClient() {
    if (ssl) SSL_free(ssl);
    if (ctx) SSL_CTX_free(ctx);
  }
  bool handshake() {
    ERR_clear_error();
    if (SSL_connect(ssl) == 1) return true;
    error = ssl_errors();
    return false;
  }
  void write(const std::string& s) {
    std::size_t at = 0;
    while (at < s.size()) {
      std::size_t n = 0;
      REQUIRE(SSL_write_ex(ssl, s.data() + at, s.size() - at, &n) == 1);
      at += n;
    }
  }
  bool fill() {
    char tmp[65536];
    std::size_t n = 0;
    ERR_clear_error();
    if (SSL_read_ex(ssl, tmp, sizeof tmp, &n) != 1) {
      last_ssl_error = SSL_get_error(ssl, 0);
      return false;
    }
    buf.append(tmp, n);
    return true;
  }
  /// True when the server ended the TLS stream with close_notify (a clean TLS close).
  bool closed_with_notify() {
    while (fill()) {
    }
    return last_ssl_error == SSL_ERROR_ZERO_RETURN;
  }
  /// Upgrades to an Engine.IO WebSocket session and reads its open packet.
  void open_websocket() {
    write("GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n"
          "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    std::size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) REQUIRE(fill());
    REQUIRE(buf.compare(0, 12, "HTTP/1.1 101") == 0);
    buf.erase(0, end + 4);
    const auto open = frame();
    REQUIRE(open.first == 1);
    REQUIRE(open.second.compare(0, 8, "0{\"sid\":") == 0);
  }
  /// Sends an Engine.IO message and checks the echo.
  void echo(const std::string& text) {
    send_frame(1, "4" + text);
    const auto f = frame();
    REQUIRE(f.first == 1);
    CHECK((f.second == "4" + text));
  }
};

/// A plain TCP client (for bytes that are not TLS).
struct RawClient : TcpConnection {
  using TcpConnection::TcpConnection;
  /// Reads until the server ends the connection; false on the receive timeout. `received` gets
  /// what came before the end (a TLS alert, at most).
  bool ended(std::string* received = nullptr) {
    char tmp[4096];
    for (;;) {
      std::error_code ec;
      const std::size_t n = sock.read_some(asio::buffer(tmp), ec);
      if (ec) return ec == asio::error::eof || ec == asio::error::connection_reset;
      if (received) received->append(tmp, n);
    }
  }
};

}  // namespace

TEST_CASE("TLS options: a bad certificate or key fails listen with a clear error and binds nothing", "[transport][tls]") {
  const Certs& c = certs();
  struct Case {
    const char* what;
    std::string cert, key, password, ciphers;
    errc expected;
    std::string logged;  // part of the error log line
  };
  const std::vector<Case> cases = {
      {"missing certificate", c.missing, c.key, "", "", errc::tls_certificate, c.missing},
      {"certificate not PEM", c.garbage, c.key, "", "", errc::tls_certificate, c.garbage},
      {"missing key", c.cert, c.missing, "", "", errc::tls_private_key, c.missing},
      {"key file holds no key", c.cert, c.cert, "", "", errc::tls_private_key, c.cert},
      {"key of another certificate", c.cert, c.other_key, "", "", errc::tls_key_mismatch, c.other_key},
      {"encrypted key without password", c.cert, c.encrypted_key, "", "", errc::tls_private_key, c.encrypted_key},
      {"encrypted key, wrong password", c.cert, c.encrypted_key, "wrong", "", errc::tls_private_key, c.encrypted_key},
      {"unknown cipher list", c.cert, c.key, "", "NOT-A-CIPHER", errc::tls_configuration, "NOT-A-CIPHER"},
      {"key without certificate", "", c.key, "", "", errc::tls_configuration, "certificate_chain_file"},
  };
  for (const auto& k : cases) {
    CAPTURE(k.what);
    Log log;
    asio::io_context io;
    Listener listener(io, log.logger());
    ListenOptions lo;
    lo.tls.certificate_chain_file = k.cert;
    lo.tls.private_key_file = k.key;
    lo.tls.private_key_password = k.password;
    lo.tls.cipher_list = k.ciphers;
    const std::error_code ec = listener.listen(lo);
    CHECK(ec == make_error_code(k.expected));
    CHECK(ec.message().find("TLS") != std::string::npos);
    CHECK(listener.port() == 0);  // nothing bound
    INFO(log.all());
    CHECK(log.has(k.logged));
  }
  // The good variants listen: key and certificate apart, an encrypted key with its password, and
  // one combined PEM file.
  for (int variant = 0; variant < 3; ++variant) {
    CAPTURE(variant);
    Log log;
    asio::io_context io;
    Listener listener(io, log.logger());
    ListenOptions lo;
    lo.tls.certificate_chain_file = variant == 2 ? c.combined : c.cert;
    lo.tls.private_key_file = variant == 0 ? c.key : variant == 1 ? c.encrypted_key : "";
    lo.tls.private_key_password = variant == 1 ? "s3cret" : "";
    const std::error_code ec = listener.listen(lo);
    CAPTURE(log.all());
    CHECK_FALSE(ec);
    CHECK(listener.port() != 0);
  }
}

TEST_CASE("https polling keep-alive, ALPN http/1.1 and close_notify after Connection: close", "[transport][tls]") {
  Server server(Server::tls());
  TlsClient c(server.listener.port(), {true, 0, true});
  INFO(c.error);
  REQUIRE(c.handshake());
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(c.ssl, &alpn, &alpn_len);
  CHECK(std::string(reinterpret_cast<const char*>(alpn), alpn_len) == "http/1.1");
  c.write("GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\n\r\n");
  const Response open = c.response();
  REQUIRE(open.status == 200);
  const std::string q = "/engine.io/?EIO=4&transport=polling&sid=" + sid_of(open.body);
  // POST and GET pipelined in one TLS write, answered in order on the same connection.
  c.write("POST " + q + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: 6\r\n\r\n4hello" + "GET " + q +
          " HTTP/1.1\r\nHost: localhost\r\n\r\n");
  CHECK(c.response().body == "ok");
  CHECK(c.response().body == "4hello");
  // A body larger than a TLS record (several records, decrypted into one request).
  const std::string big(100000, 'x');
  c.write("POST " + q + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + std::to_string(big.size() + 1) +
          "\r\n\r\n4" + big);
  CHECK(c.response().body == "ok");
  c.write("GET " + q + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
  CHECK((c.response().body == "4" + big));

  TlsClient closing(server.listener.port());
  REQUIRE(closing.handshake());
  closing.write("GET /nope HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  const Response r = closing.response();
  CHECK(r.status == 404);
  CHECK(r.has("Connection: close"));
  CHECK(closing.closed_with_notify());
}

TEST_CASE("wss: text, binary, large and many small messages, and a slow reader", "[transport][tls]") {
  Server server(Server::tls());
  TlsClient c(server.listener.port());
  INFO(c.error);
  REQUIRE(c.handshake());
  c.open_websocket();
  c.echo("hello over wss");
  // Binary.
  std::string bin;
  for (int i = 0; i < 256; ++i) bin += static_cast<char>(i);
  c.send_frame(2, bin);
  auto f = c.frame();
  CHECK(f.first == 2);
  CHECK(f.second == bin);
  // Larger than a record and than the write slices: split and reassembled intact.
  std::string large(300000, '\0');
  for (std::size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>('a' + i % 26);
  c.echo(large);
  // Many small messages in one write: answered in order (coalesced into shared records).
  std::string burst;
  std::string expected_all;
  {
    TlsClient& w = c;
    for (int i = 0; i < 500; ++i) {
      const std::string m = "4m" + std::to_string(i);
      std::string one;
      one += static_cast<char>(0x81);
      one += static_cast<char>(0x80 | m.size());
      one.append("\0\0\0\0", 4);  // zero mask: the payload as is
      one += m;
      burst += one;
    }
    w.write(burst);
  }
  for (int i = 0; i < 500; ++i) {
    f = c.frame();
    REQUIRE(f.first == 1);
    REQUIRE(f.second == "4m" + std::to_string(i));
  }
  // A slow reader: 40 x 100 KB echoed while the client does not read, then read at once (the
  // server waits for writability with ciphertext pending, and loses nothing).
  const std::string chunk(100000, 'z');
  for (int i = 0; i < 40; ++i) c.send_frame(1, "4" + std::to_string(i) + chunk);
  std::this_thread::sleep_for(200ms);
  for (int i = 0; i < 40; ++i) {
    f = c.frame();
    REQUIRE(f.first == 1);
    REQUIRE((f.second == "4" + std::to_string(i) + chunk));
  }
}

TEST_CASE("TLS minimum version: TLS 1.2 by default, 1.3 when asked", "[transport][tls]") {
  {
    Server server(Server::tls());
    TlsClient modern(server.listener.port());
    REQUIRE(modern.handshake());
    CHECK(SSL_version(modern.ssl) == TLS1_3_VERSION);
    TlsClient tls12(server.listener.port(), {true, TLS1_2_VERSION, false});
    INFO(tls12.error);
    REQUIRE(tls12.handshake());
    CHECK(SSL_version(tls12.ssl) == TLS1_2_VERSION);
    tls12.write("GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n");
    CHECK(tls12.response().status == 404);
  }
  {
    ListenOptions lo = Server::tls();
    lo.tls.min_version = TlsOptions::Version::tls1_3;
    Server server(lo);
    TlsClient tls12(server.listener.port(), {true, TLS1_2_VERSION, false});
    CHECK_FALSE(tls12.handshake());
    CHECK(server.log.wait_for("TLS handshake error"));
    TlsClient modern(server.listener.port());
    REQUIRE(modern.handshake());
    CHECK(SSL_version(modern.ssl) == TLS1_3_VERSION);
  }
}

TEST_CASE("a client that never completes the TLS handshake is closed after handshake_timeout", "[transport][tls]") {
  ListenOptions lo = Server::tls();
  lo.tls.handshake_timeout = 300ms;
  lo.request_timeout = 30s;  // not what ends these connections
  Server server(lo);
  const auto t0 = std::chrono::steady_clock::now();
  RawClient silent(server.listener.port());
  RawClient partial(server.listener.port());
  partial.write(std::string("\x16\x03\x01\x01\x00\x01", 6));  // a ClientHello record that never completes
  CHECK(silent.ended());
  CHECK(partial.ended());
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  CHECK(server.log.wait_for("not completed within handshake_timeout"));
  // A completed handshake is not cut by it: the connection lives on past handshake_timeout.
  TlsClient c(server.listener.port());
  REQUIRE(c.handshake());
  std::this_thread::sleep_for(600ms);
  c.write("GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n");
  CHECK(c.response().status == 404);
}

TEST_CASE("garbage, plain HTTP and an untrusting client on the TLS port are closed, a TLS client is unaffected",
          "[transport][tls]") {
  Server server(Server::tls());
  TlsClient good(server.listener.port());
  REQUIRE(good.handshake());
  good.open_websocket();
  good.echo("before");

  {
    RawClient plain(server.listener.port());
    plain.write("GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\n\r\n");
    std::string got;
    CHECK(plain.ended(&got));
    CHECK(got.find("HTTP/1.1") == std::string::npos);  // no plaintext answer
  }
  {
    RawClient garbage(server.listener.port());
    std::string bytes;
    for (int i = 0; i < 2000; ++i) bytes += static_cast<char>((i * 7919) & 0xFF);
    garbage.write(bytes);
    CHECK(garbage.ended());
  }
  {
    RawClient bad_record(server.listener.port());
    bad_record.write(std::string("\x16\x03\x01\x00\x05hello", 10));  // a handshake record with nonsense
    CHECK(bad_record.ended());
  }
  {
    TlsClient untrusting(server.listener.port(), {false, 0, false});
    CHECK_FALSE(untrusting.handshake());
    CHECK(untrusting.error.find("certificate verify failed") != std::string::npos);
  }
  CHECK(server.log.wait_for("TLS handshake error"));
  CHECK(server.log.wait_for("http request"));  // OpenSSL recognises plain HTTP and says so
  good.echo("after");
  // The server still accepts new TLS clients.
  TlsClient late(server.listener.port());
  REQUIRE(late.handshake());
  late.open_websocket();
  late.echo("late");
}
