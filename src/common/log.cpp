#include <courier/log.hpp>

#include <cstdio>
#include <string>

namespace courier {

std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
    case LogLevel::off: return "off";
  }
  return "unknown";
}

void Logger::log(LogLevel l, std::string_view message) const {
  if (!enabled(l)) return;
  if (sink) {
    sink(l, message);
    return;
  }
  std::string line = "courier [";
  line += to_string(l);
  line += "] ";
  line += message;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace courier
