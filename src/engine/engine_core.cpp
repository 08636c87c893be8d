#include "engine/engine_core.hpp"

#include <asio/steady_timer.hpp>

#include <algorithm>

#include "common/random_id.hpp"
#include "engine/query.hpp"
#include "engine/session.hpp"

namespace courier::detail {
namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

const char* engine_message(errc e) noexcept {
  switch (e) {
    case errc::unknown_transport: return "Transport unknown";
    case errc::unknown_sid: return "Session ID unknown";
    case errc::bad_handshake_method: return "Bad handshake method";
    case errc::bad_request: return "Bad request";
    case errc::forbidden: return "Forbidden";
    case errc::unsupported_protocol_version: return "Unsupported protocol version";
    case errc::too_many_sessions: return "Too many sessions";
    case errc::too_many_requests: return "Too many requests";
    case errc::closed: return "Server closed";
    default: return "Bad request";
  }
}

int http_status(errc e) noexcept {
  switch (e) {
    case errc::forbidden: return 403;
    case errc::too_many_requests: return 429;
    case errc::too_many_sessions:
    case errc::closed: return 503;
    default: return 400;
  }
}

RequestInfo make_request_info(const HttpRequest& request) {
  RequestInfo info;
  info.path = request.path;
  info.query = parse_query(request.query_string);
  info.headers = request.headers;
  info.remote_address = request.remote_address;
  info.time = std::chrono::system_clock::now();
  return info;
}

}  // namespace

std::string_view HttpRequest::header(std::string_view name) const noexcept {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

EngineCore::EngineCore(asio::io_context& io, EngineOptions options)
    : io_(io),
      options_(std::move(options)),
      handshake_limiter_(options_.handshakes_per_second, options_.handshake_burst, options_.max_tracked_addresses) {
  // Node's path option is normalised to end with exactly one '/'.
  while (!options_.path.empty() && options_.path.back() == '/') options_.path.pop_back();
  options_.path += '/';
  if (options_.path.front() != '/') options_.path.insert(options_.path.begin(), '/');
}

EngineCore::~EngineCore() = default;

std::string EngineCore::generate_id() { return random_id(); }

void EngineCore::log_refusal(const HttpRequest& request, errc error, std::string_view detail) const {
  const Logger& logger = options_.logger;
  if (!logger.enabled(LogLevel::warn)) return;
  std::string line = "engine.io refused ";
  line += request.method;
  line += ' ';
  line += request.path;
  if (!request.query_string.empty()) {
    line += '?';
    line += request.query_string.substr(0, 200);
  }
  line += " from ";
  line += request.remote_address;
  line += ": ";
  line += engine_message(error);
  if (!detail.empty()) {
    line += " (";
    line += detail;
    line += ')';
  }
  logger.log(LogLevel::warn, line);
}

void EngineCore::add_cors_headers(const HttpRequest& request, HeaderList& headers) const {
  const CorsOptions& cors = options_.cors;
  if (cors.origins.empty()) return;
  const std::string_view origin = request.header("Origin");
  bool any = false, listed = false;
  for (const auto& o : cors.origins) {
    if (o == "*") any = true;
    if (!origin.empty() && o == origin) listed = true;
  }
  if (any && !cors.credentials) {
    headers.emplace_back("Access-Control-Allow-Origin", "*");
  } else if ((any || listed) && !origin.empty()) {
    headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
    headers.emplace_back("Vary", "Origin");
  } else {
    return;  // not allowed: no CORS headers, the browser refuses the response
  }
  if (cors.credentials) headers.emplace_back("Access-Control-Allow-Credentials", "true");
}

HttpResponse EngineCore::error_response(const HttpRequest& request, errc error) const {
  HttpResponse r;
  r.status = http_status(error);
  r.headers.emplace_back("Content-Type", "application/json");
  add_cors_headers(request, r.headers);
  r.body = "{\"code\":";
  r.body += std::to_string(engine_io_code(error) >= 0 ? engine_io_code(error) : 3);
  r.body += ",\"message\":\"";
  r.body += engine_message(error);
  r.body += "\"}";
  return r;
}

std::error_code EngineCore::verify(const HttpRequest& request, std::string& transport, std::string& sid,
                                   std::string& detail) const {
  // The order of checks is Node engine.io's verify() followed by its handshake() check.
  transport = query_param(request.query_string, "transport");
  const bool known = (transport == "polling" && options_.allow_polling) ||
                     (transport == "websocket" && options_.allow_websocket);
  if (!known) {
    detail = "transport \"" + transport.substr(0, 32) + "\"";
    return errc::unknown_transport;
  }
  sid = query_param(request.query_string, "sid");
  if (!sid.empty()) {
    auto it = sessions_.find(sid);
    if (it == sessions_.end()) {
      detail = "sid \"" + sid.substr(0, 40) + "\"";
      return errc::unknown_sid;
    }
    const std::string_view previous = to_string(it->second->transport());
    if (request.upgrade) {
      if (transport != "websocket" || !options_.allow_upgrades) {
        detail = "upgrade not allowed";
        return errc::bad_request;
      }
    } else if (previous != transport) {
      detail = "transport mismatch: session uses " + std::string(previous);
      return errc::bad_request;
    }
    return {};
  }
  if (request.method != "GET") {
    detail = "method " + request.method.substr(0, 16);
    return errc::bad_handshake_method;
  }
  if (transport == "websocket" && !request.upgrade) {
    detail = "websocket transport without upgrade";
    return errc::bad_request;
  }
  if (query_param(request.query_string, "EIO") != "4") {
    detail = "EIO \"" + query_param(request.query_string, "EIO").substr(0, 8) + "\"";
    return errc::unsupported_protocol_version;
  }
  if (closed_) {
    detail = "server closed";
    return errc::closed;
  }
  if (options_.max_sessions != 0 && sessions_.size() >= options_.max_sessions) {
    detail = std::to_string(sessions_.size()) + " sessions open, max_sessions " + std::to_string(options_.max_sessions);
    EngineCounters::add(counters_->refused_max_sessions);
    return errc::too_many_sessions;
  }
  return {};
}

bool EngineCore::admit_handshake(const HttpRequest& request) {
  if (handshake_limiter_.take(request.remote_address)) return true;
  EngineCounters::add(counters_->refused_rate);
  log_refusal(request, errc::too_many_requests, "over handshakes_per_second for this address");
  return false;
}

void EngineCore::metrics(EngineMetrics& out) const {
  counters_->fill(out);
  out.sessions_polling = 0;
  out.sessions_websocket = 0;
  for (const auto& [id, s] : sessions_) {
    if (!s->is_open()) continue;  // lingering after a forced close
    if (s->transport() == TransportKind::websocket)
      ++out.sessions_websocket;
    else
      ++out.sessions_polling;
  }
}

std::shared_ptr<EngineSession> EngineCore::create_session(const HttpRequest& request, TransportKind transport) {
  std::string id = generate_id();
  while (sessions_.count(id) != 0) id = generate_id();
  auto session = std::make_shared<EngineSession>(shared_from_this(), id, make_request_info(request), transport);
  sessions_.emplace(std::move(id), session);
  EngineCounters::add(counters_->sessions_opened);
  session_count_.store(sessions_.size(), std::memory_order_relaxed);
  return session;
}

void EngineCore::handle_http(std::shared_ptr<HttpExchange> exchange) {
  const HttpRequest& request = exchange->request();
  if (request.method == "OPTIONS" && !options_.cors.origins.empty()) {
    HttpResponse r;
    r.status = 204;
    add_cors_headers(request, r.headers);
    r.headers.emplace_back("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE");
    std::string allowed;
    for (const auto& h : options_.cors.allowed_headers) {
      if (!allowed.empty()) allowed += ',';
      allowed += h;
    }
    if (allowed.empty()) allowed = std::string(request.header("Access-Control-Request-Headers"));
    if (!allowed.empty()) r.headers.emplace_back("Access-Control-Allow-Headers", allowed);
    if (options_.cors.max_age.count() > 0)
      r.headers.emplace_back("Access-Control-Max-Age", std::to_string(options_.cors.max_age.count()));
    r.headers.emplace_back("Content-Length", "0");
    exchange->respond(std::move(r));
    return;
  }
  std::string transport, sid, detail;
  if (const std::error_code ec = verify(request, transport, sid, detail)) {
    const auto e = static_cast<errc>(ec.value());
    log_refusal(request, e, detail);
    exchange->respond(error_response(request, e));
    return;
  }
  if (sid.empty()) {
    if (!admit_handshake(request)) {
      exchange->respond(error_response(request, errc::too_many_requests));
      return;
    }
    auto session = create_session(request, TransportKind::polling);
    session->start(nullptr);
    if (on_connection_) on_connection_(EngineSocket(session));
    session->handle_poll(exchange);
    return;
  }
  auto session = sessions_.at(sid);
  if (request.method == "GET") {
    session->handle_poll(exchange);
  } else if (request.method == "POST") {
    session->handle_post(exchange);
  } else {
    log_refusal(request, errc::bad_request, "method " + request.method.substr(0, 16));
    exchange->respond(error_response(request, errc::bad_request));
  }
}

bool EngineCore::accept_upgrade(const HttpRequest& request, HttpResponse& reject) {
  std::string transport, sid, detail;
  if (const std::error_code ec = verify(request, transport, sid, detail)) {
    const auto e = static_cast<errc>(ec.value());
    log_refusal(request, e, detail);
    // Node answers refused upgrades with the bare message as text.
    reject.status = http_status(e);
    reject.headers.emplace_back("Content-Type", "text/html");
    reject.body = engine_message(e);
    return false;
  }
  if (sid.empty() && !admit_handshake(request)) {
    reject.status = http_status(errc::too_many_requests);
    reject.headers.emplace_back("Content-Type", "text/html");
    reject.body = engine_message(errc::too_many_requests);
    return false;
  }
  return true;
}

std::shared_ptr<WsHandler> EngineCore::open_websocket(const HttpRequest& request, std::shared_ptr<WsLink> link) {
  const std::string sid = query_param(request.query_string, "sid");
  if (sid.empty()) {
    if (closed_ || (options_.max_sessions != 0 && sessions_.size() >= options_.max_sessions)) {
      if (!closed_) EngineCounters::add(counters_->refused_max_sessions);
      link->close(1013, "server busy");  // limits changed between accept and open
      return nullptr;
    }
    auto session = create_session(request, TransportKind::websocket);
    session->start(link);
    if (on_connection_) on_connection_(EngineSocket(session));
    return session->main_ws_handler();
  }
  auto it = sessions_.find(sid);
  if (it == sessions_.end()) {
    link->close(1000, "unknown sid");
    return nullptr;
  }
  return it->second->begin_upgrade(std::move(link));
}

void EngineCore::remove_session(const std::string& id) {
  sessions_.erase(id);
  session_count_.store(sessions_.size(), std::memory_order_relaxed);
}

void EngineCore::close_all() {
  closed_ = true;
  // Copy: closing removes sessions from the table.
  std::vector<std::shared_ptr<EngineSession>> all;
  all.reserve(sessions_.size());
  for (auto& [id, s] : sessions_) all.push_back(s);
  for (auto& s : all) s->collect_links(draining_);
  // Polling sessions linger (see EngineSession::close) so their next poll collects what was queued
  // and then the close packet; when_drained waits for them too.
  for (auto& s : all) s->close(CloseReason::forced_close, "server closed");
  session_count_.store(0, std::memory_order_relaxed);
}

void EngineCore::when_drained(std::chrono::milliseconds timeout, std::function<void()> done) {
  struct Drain {
    std::shared_ptr<EngineCore> core;
    asio::steady_timer timer;
    std::chrono::steady_clock::time_point deadline;
    std::function<void()> done;
    Drain(std::shared_ptr<EngineCore> c, std::chrono::steady_clock::time_point d, std::function<void()> f)
        : core(c), timer(c->io()), deadline(d), done(std::move(f)) {}
  };
  auto drain = std::make_shared<Drain>(shared_from_this(), std::chrono::steady_clock::now() + timeout, std::move(done));
  // Polled: close handshakes take a round trip; a 10 ms tick costs nothing at shutdown.
  std::shared_ptr<std::function<void()>> check = std::make_shared<std::function<void()>>();
  *check = [drain, check] {
    auto& core = *drain->core;
    auto& links = core.draining_;
    links.erase(std::remove_if(links.begin(), links.end(), [](const auto& l) { return l->finished(); }), links.end());
    if ((links.empty() && core.sessions_.empty()) || std::chrono::steady_clock::now() >= drain->deadline) {
      links.clear();
      core.sessions_.clear();  // lingering polling sessions whose client never came back
      core.session_count_.store(0, std::memory_order_relaxed);
      auto f = std::move(drain->done);
      *check = nullptr;  // break the self-reference
      if (f) f();
      return;
    }
    drain->timer.expires_after(std::chrono::milliseconds(10));
    drain->timer.async_wait([check](const std::error_code& ec) {
      if (!ec && *check) (*check)();
    });
  };
  (*check)();
}

}  // namespace courier::detail
