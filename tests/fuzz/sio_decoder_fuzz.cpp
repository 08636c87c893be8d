// libFuzzer: Socket.IO packet decoding with binary attachments (the first byte picks how the
// input is split into a text message and binary messages), and JSON values: parse, write, read
// again, and the validate-only scanner of lazily parsed arguments against the parser.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/json.hpp"
#include "protocol/packet.hpp"

using namespace courier::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned parts = data[0] % 4;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  Decoder decoder;
  SioPacket out;
  // Split into 1 + parts messages at a separator byte 0x00 when present.
  std::size_t pos = rest.find('\0');
  std::string_view text = rest.substr(0, pos);
  if (decoder.feed_text(text, out) == Decoder::Status::ok) {
    // Whatever decodes encodes again.
    EncodedPacket e = encode(out);
    (void)e;
  }
  for (unsigned i = 0; i < parts && pos != std::string_view::npos; ++i) {
    const std::size_t next = rest.find('\0', pos + 1);
    decoder.feed_binary(rest.substr(pos + 1, next == std::string_view::npos ? std::string_view::npos : next - pos - 1), out);
    pos = next;
  }
  courier::Value v;
  const bool parsed = parse_json(rest, v);
  if (parsed) {
    const std::string json = v.to_json();
    courier::Value again;
    if (!v.has_binary() && !parse_json(json, again)) __builtin_trap();  // what we write, we read
  }
  // The validator behind lazily parsed arguments accepts exactly what the parser accepts, and a
  // lazy argument reads back as the eager parse of its text.
  bool root_is_array = false;
  if (scan_json(rest, root_is_array, nullptr) != parsed) __builtin_trap();
  auto buffer = std::make_shared<const std::string>(rest);
  courier::Value lazy;
  if (parse_json_lazy_args({buffer, buffer->data()}, *buffer, lazy, false) != parsed) __builtin_trap();
  if (parsed && !(lazy == v)) __builtin_trap();
  return 0;
}
