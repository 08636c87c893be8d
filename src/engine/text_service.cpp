#include "engine/text_service.hpp"

namespace courier::detail {
namespace {

class TextService final : public HttpService {
 public:
  TextService(std::string path, std::string content_type, TextHandler handler)
      : path_(std::move(path)), content_type_(std::move(content_type)), handler_(std::move(handler)) {}

  void handle_http(std::shared_ptr<HttpExchange> exchange) override {
    const HttpRequest& request = exchange->request();
    if (request.path != path_) {  // routed here by prefix; only the exact path is ours
      exchange->respond(HttpResponse{404, {{"Content-Type", "text/plain"}}, "Not Found"});
      return;
    }
    if (request.method != "GET" && request.method != "HEAD") {
      exchange->respond(HttpResponse{405, {{"Content-Type", "text/plain"}, {"Allow", "GET, HEAD"}}, "Method Not Allowed"});
      return;
    }
    const bool head = request.method == "HEAD";
    handler_([exchange, head, type = content_type_](std::string body) {
      HttpResponse r{200, {{"Content-Type", type}, {"Cache-Control", "no-store"}}, head ? std::string() : std::move(body)};
      exchange->respond(std::move(r));
    });
  }
  bool accept_upgrade(const HttpRequest&, HttpResponse& reject) override {
    reject = HttpResponse{404, {{"Content-Type", "text/plain"}}, "Not Found"};
    return false;
  }
  std::shared_ptr<WsHandler> open_websocket(const HttpRequest&, std::shared_ptr<WsLink>) override { return nullptr; }
  const std::string& path() const noexcept override { return path_; }
  std::size_t max_message_size() const noexcept override { return 0; }

 private:
  std::string path_;
  std::string content_type_;
  TextHandler handler_;
};

}  // namespace

std::shared_ptr<HttpService> make_text_service(std::string path, std::string content_type, TextHandler handler) {
  return std::make_shared<TextService>(std::move(path), std::move(content_type), std::move(handler));
}

}  // namespace courier::detail
