#pragma once
// A tiny HttpService answering GET/HEAD on one exact path with text a host function produces
// (the metrics endpoint). Transport-independent: any Listener mounts it like the engine.

#include <functional>
#include <memory>
#include <string>

#include "engine/http.hpp"

namespace courier::detail {

/// `handler(respond)` is called on the listener's thread per request; it must call `respond(body)`
/// once, on that thread (now or later).
using TextHandler = std::function<void(std::function<void(std::string)> respond)>;

std::shared_ptr<HttpService> make_text_service(std::string path, std::string content_type, TextHandler handler);

}  // namespace courier::detail
