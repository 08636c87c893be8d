#pragma once
/// @file log.hpp
/// Logging hook: courier reports why it refused or closed something through a Logger.

#include <functional>
#include <string_view>

namespace courier {

/// Severity of a log record, in increasing order.
enum class LogLevel { debug, info, warn, error, off };

/// The name of a level ("debug", "info", ...). Thread-safe.
std::string_view to_string(LogLevel level) noexcept;

/// Where courier's log records go. A value type; copy it into the options of each component.
/// Thread-safety: `log` may be called from the server's thread; the sink must tolerate that.
struct Logger {
  /// Records below this level are dropped before formatting; warn keeps bad-input reports visible.
  LogLevel level = LogLevel::warn;
  /// Receives each record; empty means one line on stderr, which is what a server log wants by default.
  std::function<void(LogLevel, std::string_view)> sink;

  /// True when a record of `l` would be emitted; check it before building an expensive message.
  bool enabled(LogLevel l) const noexcept { return l >= level && level != LogLevel::off; }
  /// Emits one record if `l` is enabled.
  void log(LogLevel l, std::string_view message) const;
};

}  // namespace courier
