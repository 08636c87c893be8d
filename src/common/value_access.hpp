#pragma once
// courier's own access to Value internals (the decoder's lazily parsed arguments).

#include <limits>
#include <memory>
#include <string>
#include <string_view>

#include <courier/value.hpp>

namespace courier::detail {

struct ValueAccess {
  /// A value parsed on first read from `text`, which lies inside `buffer` and MUST already be
  /// known valid JSON (scan_json) with no binary: the read cannot report an error.
  static Value lazy(const std::shared_ptr<const char>& buffer, std::string_view text) {
    Value v;
    v.raw_ = std::shared_ptr<const char>(buffer, text.data());
    v.raw_size_ = static_cast<std::uint32_t>(text.size());
    v.state_.store(Value::kLazy, std::memory_order_relaxed);
    return v;
  }
  /// Value::set_raw_json for a buffer of any kind: `text` lies inside what `buffer` keeps alive.
  static void set_raw(Value& v, const std::shared_ptr<const char>& buffer, std::string_view text) noexcept {
    if (text.size() > std::numeric_limits<std::uint32_t>::max()) return;
    v.materialize();
    v.raw_ = std::shared_ptr<const char>(buffer, text.data());
    v.raw_size_ = static_cast<std::uint32_t>(text.size());
  }
  /// Whether `v` has not been parsed yet (tests).
  static bool is_lazy(const Value& v) noexcept { return v.state_.load(std::memory_order_acquire) != Value::kParsed; }
};

}  // namespace courier::detail
