#pragma once
// JSON reading (RapidJSON) and writing (by hand: compact, key order kept, exact 64-bit integers)
// for courier::Value, with Socket.IO's binary placeholders.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <courier/value.hpp>

namespace courier::detail {

/// Appends the compact JSON of `v`. Binary values become placeholders numbered from
/// `attachments.size()`, and their bytes are appended to `attachments`. Values carrying raw wire
/// text (and no binary) are copied verbatim.
void write_json(const Value& v, std::string& out, std::vector<std::string>* attachments);

/// As write_json, for an array held as such (no Value around it).
void write_json_array(const Array& a, std::string& out, std::vector<std::string>* attachments);
/// As write_json_array, for `count` values at `values`.
void write_json_values(const Value* values, std::size_t count, std::string& out, std::vector<std::string>* attachments);

/// Appends `s` as a JSON string literal.
void write_json_string(std::string_view s, std::string& out);

/// Parses JSON text into `out`. False on invalid JSON.
bool parse_json(std::string_view text, Value& out);

/// The bytes of a received message, shared by the values that keep views into it (raw JSON,
/// lazily parsed arguments); points at the first byte.
using TextBuffer = std::shared_ptr<const char>;

/// A copy of `text` whose reference count and bytes share one allocation (up to 2 KiB; larger
/// texts take two). A small buffer that nothing references any more is reused by the next call
/// on the same thread, so a packet whose values are dropped after dispatch costs no allocation.
TextBuffer make_text_buffer(std::string_view text);

/// Gives an array's capacity back (its elements are destroyed) for the next parse_json_lazy_args
/// on this thread: event arguments are built per packet and dropped after dispatch.
void recycle_array(Array& a) noexcept;

/// Parses JSON text that lies inside `buffer`; when it is an array, each top-level element keeps
/// a view of its exact wire text in `buffer` (for relays that forward without re-serializing).
bool parse_json_keep_raw(const TextBuffer& buffer, std::string_view text, Value& out);

/// Where one element of a top-level array lies in the text: [begin, end).
struct JsonSpan {
  std::uint32_t begin;
  std::uint32_t end;
};

/// Checks that `text` is one JSON value exactly as parse_json accepts it (same grammar, same
/// nesting limit), without building anything. When the root is an array and `elements` is set,
/// the spans of its elements are appended there. The text must be shorter than 4 GiB.
bool scan_json(std::string_view text, bool& root_is_array, std::vector<JsonSpan>* elements);

/// Parses the payload of a text EVENT or ACK packet, `text` lying inside `buffer`: validated
/// now, and when it is an array each element is a lazily parsed value over its wire text (the
/// first one, the event name, is built at once when `name_first`). Other roots are parsed
/// eagerly. False on invalid JSON.
bool parse_json_lazy_args(const TextBuffer& buffer, std::string_view text, Value& out,
                          bool name_first);

/// Replaces placeholders {"_placeholder":true,"num":N} with the N-th attachment. False when a
/// placeholder names a missing attachment.
bool fill_placeholders(Value& v, std::vector<std::string>& attachments);

}  // namespace courier::detail
