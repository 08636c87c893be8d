#include "protocol/packet.hpp"

#include <charconv>

#include "protocol/json.hpp"

namespace courier::detail {
namespace {

bool is_reserved_event(std::string_view name) noexcept {
  return name == "connect" || name == "connect_error" || name == "disconnect" || name == "disconnecting" ||
         name == "newListener" || name == "removeListener";
}

// socket.io-parser's isPayloadValid, with the event name required to be a string.
const char* check_payload(SioType type, const SioPacket& p) {
  switch (type) {
    case SioType::connect:
      return !p.has_data || p.data.is_object() ? nullptr : "CONNECT payload must be an object";
    case SioType::disconnect: return p.has_data ? "DISCONNECT takes no payload" : nullptr;
    case SioType::connect_error:
      return p.has_data && (p.data.is_object() || p.data.is_string()) ? nullptr : "invalid CONNECT_ERROR payload";
    case SioType::event:
    case SioType::binary_event:
      if (!p.has_data || !p.data.is_array() || p.data.size() == 0) return "event payload must be a non-empty array";
      if (!p.data[0].is_string()) return "event name must be a string";
      if (is_reserved_event(p.data[0].as_string())) return "reserved event name";
      return nullptr;
    case SioType::ack:
    case SioType::binary_ack: return p.has_data && p.data.is_array() ? nullptr : "ack payload must be an array";
  }
  return "unknown packet type";
}

bool parse_packet(std::string_view s, SioPacket& out, std::size_t& attachments, std::string& error,
                  const TextBuffer* buffer, std::size_t max_attachments) {
  attachments = 0;
  if (s.empty()) {
    error = "empty packet";
    return false;
  }
  const char t = s[0];
  if (t < '0' || t > '6') {
    error = "unknown packet type";
    return false;
  }
  // Field by field rather than from a fresh SioPacket (two Value moves): every field is set
  // below, the data by the parse or to null.
  out.type = static_cast<SioType>(t - '0');
  if (out.nsp.size() != 1 || out.nsp[0] != '/') out.nsp.assign(1, '/');
  out.id.reset();
  out.has_data = false;
  std::size_t i = 1;
  if (out.type == SioType::binary_event || out.type == SioType::binary_ack) {
    const std::size_t dash = s.find('-', i);
    if (dash == std::string_view::npos || dash == i || dash - i > 9) {
      error = "illegal attachments";
      return false;
    }
    std::size_t n = 0;
    auto r = std::from_chars(s.data() + i, s.data() + dash, n);
    // A binary packet announcing no attachment is refused, as socket.io-parser 4.2 does.
    if (r.ec != std::errc() || r.ptr != s.data() + dash || n == 0) {
      error = "illegal attachments";
      return false;
    }
    if (n > max_attachments) {
      error = "too many attachments";
      return false;
    }
    attachments = n;
    i = dash + 1;
  }
  if (i < s.size() && s[i] == '/') {
    const std::size_t comma = s.find(',', i);
    const std::size_t end = comma == std::string_view::npos ? s.size() : comma;
    out.nsp.assign(s.data() + i, end - i);
    i = comma == std::string_view::npos ? s.size() : comma + 1;
  }
  if (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    // Accumulated while scanning (from_chars would read the digits again): ids are short.
    std::uint64_t id = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      if (__builtin_mul_overflow(id, 10u, &id) || __builtin_add_overflow(id, static_cast<unsigned>(s[i] - '0'), &id)) {
        error = "invalid ack id";
        return false;
      }
    }
    out.id = id;
  }
  if (i < s.size()) {
    const std::string_view json = s.substr(i);
    // Event and ack arguments are validated now and built when a handler reads them.
    const bool args = out.type == SioType::event || out.type == SioType::ack;
    const bool ok = buffer && args ? parse_json_lazy_args(*buffer, json, out.data, out.type == SioType::event)
                    : buffer       ? parse_json_keep_raw(*buffer, json, out.data)
                                   : parse_json(json, out.data);
    if (!ok) {
      error = "invalid JSON payload";
      return false;
    }
    out.has_data = true;
  } else {
    out.data = Value();
  }
  if (const char* why = check_payload(out.type, out)) {
    error = why;
    return false;
  }
  return true;
}

}  // namespace

namespace {

// Appends the Engine.IO message of a packet whose payload JSON is `json` (empty: no payload) and
// which has `attachments` binary attachments.
void append_message(SioType type, const std::string& nsp, std::optional<std::uint64_t> id, std::string_view json,
                    std::size_t attachments, std::string& text) {
  if (attachments > 0) {
    if (type == SioType::event) type = SioType::binary_event;
    if (type == SioType::ack) type = SioType::binary_ack;
  }
  // The header is put together here and appended in one or two calls (each append checks and
  // may grow the string: this runs once per packet sent).
  char head[48];  // type, attachments (20 digits) and '-', id (20 digits)
  char* at = head;
  *at++ = static_cast<char>('0' + static_cast<int>(type));
  if (type == SioType::binary_event || type == SioType::binary_ack) {
    at = std::to_chars(at, head + sizeof head, attachments).ptr;
    *at++ = '-';
  }
  if (nsp.size() != 1 || nsp[0] != '/') {
    text.append(head, at);
    text += nsp;
    text += ',';
    at = head;
  }
  if (id) at = std::to_chars(at, head + sizeof head, *id).ptr;
  text.append(head, at);
  if (!json.empty()) text += json;
}

EncodedPacket assemble(SioType type, const std::string& nsp, std::optional<std::uint64_t> id, std::string_view json,
                       std::vector<std::string>& attachments) {
  auto text = std::make_shared<std::string>();
  text->reserve(json.size() + nsp.size() + 24);
  append_message(type, nsp, id, json, attachments.size(), *text);
  EncodedPacket out;
  out.text = std::move(text);
  out.attachments.reserve(attachments.size());
  for (auto& a : attachments) out.attachments.push_back(std::make_shared<const std::string>(std::move(a)));
  return out;
}

// The payload JSON is written here first (its size and attachment count decide the header): one
// buffer per thread whose capacity is kept, rather than a string allocated per packet.
std::string& json_scratch() {
  thread_local std::string scratch;
  scratch.clear();
  return scratch;
}

// A huge packet does not pin its size in the buffer for the thread's lifetime.
void release_scratch(std::string& json) {
  constexpr std::size_t kKeep = 64 * 1024;
  if (json.capacity() > kKeep) std::string().swap(json);
}

}  // namespace

EncodedPacket encode(const SioPacket& packet) {
  std::vector<std::string> attachments;
  std::string& json = json_scratch();
  if (packet.has_data) write_json(packet.data, json, &attachments);
  EncodedPacket out = assemble(packet.type, packet.nsp, packet.id, json, attachments);
  release_scratch(json);
  return out;
}

EncodedPacket encode(SioType type, const std::string& nsp, std::optional<std::uint64_t> id, const Array& data) {
  return encode(type, nsp, id, data.data(), data.size());
}

EncodedPacket encode(SioType type, const std::string& nsp, std::optional<std::uint64_t> id, const Value* values,
                     std::size_t count) {
  std::vector<std::string> attachments;
  std::string& json = json_scratch();
  write_json_values(values, count, json, &attachments);
  EncodedPacket out = assemble(type, nsp, id, json, attachments);
  release_scratch(json);
  return out;
}

void encode_to(SioType type, const std::string& nsp, std::optional<std::uint64_t> id, const Value* values,
               std::size_t count, std::string& text, std::vector<std::string>& attachments) {
  attachments.clear();
  text.clear();
  // The header assumes no attachments and the JSON follows it in place: one pass, no copy. A
  // packet with binary (its header names the attachments) is written again the general way.
  append_message(type, nsp, id, {}, 0, text);
  write_json_values(values, count, text, &attachments);
  if (attachments.empty()) return;
  attachments.clear();
  std::string& json = json_scratch();
  write_json_values(values, count, json, &attachments);
  text.clear();
  append_message(type, nsp, id, json, attachments.size(), text);
  release_scratch(json);
}

bool decode_text_packet(std::string_view text, SioPacket& out, std::size_t& attachments, std::string& error,
                        std::size_t max_attachments) {
  return parse_packet(text, out, attachments, error, nullptr, max_attachments);
}

Decoder::Status Decoder::fail(std::string why) {
  error_ = std::move(why);
  reset();
  return Status::error;
}

void Decoder::reset() noexcept {
  pending_.reset();
  expected_ = 0;
  attachments_.clear();
}

Decoder::Status Decoder::feed_text(std::string_view text, SioPacket& out) {
  if (pending_) return fail("got plaintext data when reconstructing a packet");
  const TextBuffer buffer = make_text_buffer(text);
  std::size_t n = 0;
  if (!parse_packet(std::string_view(buffer.get(), text.size()), out, n, error_, &buffer, max_attachments_))
    return Status::error;
  if (out.type == SioType::binary_event || out.type == SioType::binary_ack) {
    pending_ = std::move(out);
    expected_ = n;
    attachments_.clear();
    attachments_.reserve(n);
    return Status::need_more;
  }
  return Status::ok;
}

Decoder::Status Decoder::feed_binary(std::string_view bytes, SioPacket& out) {
  if (!pending_) return fail("got binary data when not reconstructing a packet");
  attachments_.emplace_back(bytes);
  if (attachments_.size() < expected_) return Status::need_more;
  return finish(out);
}

Decoder::Status Decoder::finish(SioPacket& out) {
  SioPacket packet = std::move(*pending_);
  pending_.reset();
  if (!fill_placeholders(packet.data, attachments_)) return fail("placeholder refers to a missing attachment");
  attachments_.clear();
  expected_ = 0;
  out = std::move(packet);
  return Status::ok;
}

}  // namespace courier::detail
