#pragma once
// A deliberately small blocking WebSocket client for tests that need real clients of a
// courier::Server: just enough Engine.IO/Socket.IO to join "/", read frames and answer acks.
// It is test code; the server under test never sees it as special.

#include <algorithm>
#include <array>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/streambuf.hpp>
#include <asio/write.hpp>

namespace courier_test {

using asio::ip::tcp;

class MiniClient {
 public:
  explicit MiniClient(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    const std::string request =
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n";
    asio::write(socket_, asio::buffer(request));
    asio::read_until(socket_, buffer_, "\r\n\r\n");
    std::string head(asio::buffers_begin(buffer_.data()), asio::buffers_end(buffer_.data()));
    const auto end = head.find("\r\n\r\n") + 4;
    buffer_.consume(end);
    if (head.rfind("HTTP/1.1 101", 0) != 0) throw std::runtime_error("upgrade refused: " + head.substr(0, end));
    if (read_frame().rfind("0{", 0) != 0) throw std::runtime_error("no Engine.IO open packet");
    send_text("40");
    if (read_frame().rfind("40{", 0) != 0) throw std::runtime_error("no Socket.IO connect packet");
  }

  // Reads one text frame; "" when the server closed.
  std::string read_frame() {
    for (;;) {
      unsigned char head[2];
      if (!read_exact(head, 2)) return {};
      const int opcode = head[0] & 0x0f;
      std::uint64_t length = head[1] & 0x7f;
      if (length == 126) {
        unsigned char ext[2];
        if (!read_exact(ext, 2)) return {};
        length = (std::uint64_t{ext[0]} << 8) | ext[1];
      } else if (length == 127) {
        unsigned char ext[8];
        if (!read_exact(ext, 8)) return {};
        length = 0;
        for (unsigned char b : ext) length = (length << 8) | b;
      }
      std::string payload(length, '\0');
      if (length != 0 && !read_exact(payload.data(), length)) return {};
      if (opcode == 0x8) {  // answer the close handshake (masked, empty), as a browser would
        const unsigned char close_frame[6] = {0x88, 0x80, 0, 0, 0, 0};
        std::lock_guard<std::mutex> lock(write_mutex_);
        asio::error_code ignored;
        asio::write(socket_, asio::buffer(close_frame), ignored);
        return {};
      }
      if (opcode == 0x1 && payload == "2") {  // Engine.IO ping: answer so a slow run is not timed out
        send_text("3");
        continue;
      }
      if (opcode == 0x1) return payload;
    }
  }

  void send_text(const std::string& text) {
    std::string frame;
    frame.push_back(static_cast<char>(0x81));
    if (text.size() < 126) {
      frame.push_back(static_cast<char>(0x80 | text.size()));
    } else {
      frame.push_back(static_cast<char>(0x80 | 126));
      frame.push_back(static_cast<char>(text.size() >> 8));
      frame.push_back(static_cast<char>(text.size() & 0xff));
    }
    const std::array<unsigned char, 4> mask{0x12, 0x34, 0x56, 0x78};
    frame.append(reinterpret_cast<const char*>(mask.data()), mask.size());
    for (std::size_t i = 0; i < text.size(); ++i) frame.push_back(static_cast<char>(text[i] ^ mask[i % 4]));
    std::lock_guard<std::mutex> lock(write_mutex_);
    asio::error_code ignored;
    asio::write(socket_, asio::buffer(frame), ignored);
  }

 private:
  bool read_exact(void* out, std::size_t n) {
    auto* dst = static_cast<char*>(out);
    while (n != 0) {
      if (buffer_.size() == 0) {
        asio::error_code ec;
        asio::read(socket_, buffer_, asio::transfer_at_least(1), ec);
        if (ec) return false;
      }
      const std::size_t take = std::min(n, buffer_.size());
      asio::buffer_copy(asio::buffer(dst, take), buffer_.data());
      buffer_.consume(take);
      dst += take;
      n -= take;
    }
    return true;
  }

  asio::io_context io_;
  tcp::socket socket_;
  asio::streambuf buffer_;
  std::mutex write_mutex_;
};

// "42[\"m\",3,17]" -> {"m", 3, 17}; acks "42<id>[\"q\",...]" carry their id.
struct Event {
  std::string name;
  long a = -1;
  long b = -1;
  long ack_id = -1;
};

inline Event parse_event(const std::string& frame) {
  Event e;
  if (frame.rfind("42", 0) != 0) return e;
  std::size_t pos = 2;
  if (pos < frame.size() && frame[pos] != '[') {
    e.ack_id = std::stol(frame.substr(pos));
    pos = frame.find('[', pos);
  }
  const auto q1 = frame.find('"', pos);
  const auto q2 = frame.find('"', q1 + 1);
  e.name = frame.substr(q1 + 1, q2 - q1 - 1);
  const auto c1 = frame.find(',', q2);
  const auto c2 = frame.find(',', c1 + 1);
  if (c1 != std::string::npos) e.a = std::stol(frame.substr(c1 + 1));
  if (c2 != std::string::npos) e.b = std::stol(frame.substr(c2 + 1));
  return e;
}

// Names of the events a client gets until "end" (which the test sends last, to everyone).
inline std::vector<std::string> events_until_end(MiniClient& client) {
  std::vector<std::string> names;
  for (;;) {
    const std::string frame = client.read_frame();
    if (frame.empty()) break;  // closed
    const std::string name = parse_event(frame).name;
    if (name == "end") break;
    if (!name.empty()) names.push_back(name);
  }
  return names;
}

}  // namespace courier_test
