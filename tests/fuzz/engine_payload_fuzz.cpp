// libFuzzer: Engine.IO packet and long-polling payload decoding (bytes straight from clients).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/packet.hpp"

using namespace courier::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<Packet> packets;
  if (decode_payload(in, packets) == DecodeStatus::ok) {
    // A decoded payload re-encodes into one that decodes to the same packets.
    std::string again;
    for (const auto& p : packets) append_to_payload(p.type, p.data, p.binary, again);
    std::vector<Packet> second;
    if (decode_payload(again, second) != DecodeStatus::ok || second.size() != packets.size()) __builtin_trap();
  }
  Packet p;
  decode_ws_message(in, false, p, true);
  decode_ws_message(in, true, p, false);
  return 0;
}
