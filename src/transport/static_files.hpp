#pragma once
// Static files over HTTP for the Listener (a web app next to its Socket.IO endpoint).

#include <memory>
#include <string>

#include "engine/http.hpp"

namespace courier::detail {

std::shared_ptr<HttpService> make_static_service(std::string prefix, std::string directory);

}  // namespace courier::detail
