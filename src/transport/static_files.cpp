#include "transport/static_files.hpp"

#include <fstream>
#include <sstream>
#include <sys/stat.h>

#include "engine/query.hpp"

namespace courier::detail {
namespace {

const char* content_type(const std::string& path) {
  const auto dot = path.rfind('.');
  const std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  if (ext == "html" || ext == "htm") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "json" || ext == "map") return "application/json";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "ico") return "image/x-icon";
  if (ext == "txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

class StaticService final : public HttpService {
 public:
  StaticService(std::string prefix, std::string directory) : prefix_(std::move(prefix)), dir_(std::move(directory)) {
    if (prefix_.empty() || prefix_.back() != '/') prefix_ += '/';
    while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  }

  void handle_http(std::shared_ptr<HttpExchange> exchange) override {
    const HttpRequest& req = exchange->request();
    if (req.method != "GET" && req.method != "HEAD") {
      exchange->respond(HttpResponse{405, {{"Allow", "GET, HEAD"}, {"Content-Type", "text/plain"}}, "Method Not Allowed"});
      return;
    }
    std::string rel = url_decode(req.path.substr(std::min(prefix_.size(), req.path.size())));
    // Refuse anything that could leave the directory, and NULs.
    if (rel.find("..") != std::string::npos || rel.find('\0') != std::string::npos || rel.find('\\') != std::string::npos) {
      exchange->respond(not_found());
      return;
    }
    std::string path = dir_ + "/" + rel;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      if (!path.empty() && path.back() != '/') path += '/';
      path += "index.html";
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      exchange->respond(not_found());
      return;
    }
    std::ostringstream body;
    body << in.rdbuf();
    HttpResponse r;
    r.status = 200;
    r.headers.emplace_back("Content-Type", content_type(path));
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.body = req.method == "HEAD" ? std::string() : body.str();
    exchange->respond(std::move(r));
  }

  bool accept_upgrade(const HttpRequest&, HttpResponse& reject) override {
    reject = not_found();
    return false;
  }
  std::shared_ptr<WsHandler> open_websocket(const HttpRequest&, std::shared_ptr<WsLink>) override { return nullptr; }
  const std::string& path() const noexcept override { return prefix_; }
  std::size_t max_message_size() const noexcept override { return 0; }

 private:
  static HttpResponse not_found() { return HttpResponse{404, {{"Content-Type", "text/plain"}}, "Not Found"}; }
  std::string prefix_;
  std::string dir_;
};

}  // namespace

std::shared_ptr<HttpService> make_static_service(std::string prefix, std::string directory) {
  return std::make_shared<StaticService>(std::move(prefix), std::move(directory));
}

}  // namespace courier::detail
