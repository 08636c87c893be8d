#include <courier/metrics.hpp>

namespace courier {
namespace {

class Writer {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP courier_";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE courier_";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(const char* name, std::uint64_t value, const char* label = nullptr, std::string_view label_value = {}) {
    out_ += "courier_";
    out_ += name;
    if (label) {
      out_ += '{';
      out_ += label;
      out_ += "=\"";
      out_ += label_value;  // our own fixed strings: nothing to escape
      out_ += "\"}";
    }
    out_ += ' ';
    out_ += std::to_string(value);
    out_ += '\n';
  }
  void one(const char* name, const char* type, const char* help, std::uint64_t value) {
    family(name, type, help);
    sample(name, value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string to_prometheus(const Metrics& m) {
  Writer w;
  const EngineMetrics& e = m.engine;
  w.family("sessions", "gauge", "Open Engine.IO sessions by transport.");
  w.sample("sessions", e.sessions_polling, "transport", "polling");
  w.sample("sessions", e.sessions_websocket, "transport", "websocket");
  w.one("sessions_opened_total", "counter", "Engine.IO sessions opened.", e.sessions_opened);
  w.one("packets_received_total", "counter", "Engine.IO packets received.", e.packets_in);
  w.one("packets_sent_total", "counter", "Engine.IO packets sent.", e.packets_out);
  w.one("bytes_received_total", "counter", "Engine.IO payload bytes received.", e.bytes_in);
  w.one("bytes_sent_total", "counter", "Engine.IO payload bytes sent.", e.bytes_out);
  w.family("handshakes_refused_total", "counter", "Handshakes refused by a limit.");
  w.sample("handshakes_refused_total", e.handshakes_refused_max_sessions, "limit", "max_sessions");
  w.sample("handshakes_refused_total", e.handshakes_refused_rate, "limit", "handshakes_per_second");
  w.one("send_queue_overflows_total", "counter", "Sessions closed for a send queue over max_buffered_bytes.",
        e.send_queue_overflows);
  w.family("session_closes_total", "counter", "Engine.IO sessions closed, by reason.");
  for (std::size_t i = 0; i < e.closes.size(); ++i)
    w.sample("session_closes_total", e.closes[i], "reason", to_string(static_cast<CloseReason>(i)));
  w.one("namespaces", "gauge", "Namespaces.", m.namespaces);
  w.one("sockets", "gauge", "Connected Socket.IO sockets.", m.sockets);
  w.one("rooms", "gauge", "Local rooms (sockets' own rooms included).", m.rooms);
  w.one("events_received_total", "counter", "Socket.IO events received.", m.events_in);
  w.one("volatile_dropped_total", "counter", "Volatile packets dropped for busy connections.", m.volatile_dropped);
  w.family("limit_hits_total", "counter", "Socket.IO requests refused or sockets disconnected by a limit.");
  w.sample("limit_hits_total", m.namespaces_refused, "limit", "max_namespaces_per_connection");
  w.sample("limit_hits_total", m.rooms_refused, "limit", "max_rooms_per_socket");
  w.sample("limit_hits_total", m.rate_limited, "limit", "max_events_per_second");
  w.family("disconnects_total", "counter", "Socket.IO sockets disconnected, by reason.");
  for (std::size_t i = 0; i < m.disconnects.size(); ++i)
    w.sample("disconnects_total", m.disconnects[i], "reason", to_string(static_cast<DisconnectReason>(i)));
  w.one("adapter_published_total", "counter", "Messages published to the cluster.", m.adapter.published);
  w.one("adapter_lost_publishes_total", "counter", "Publishes dropped while the cluster transport was down.",
        m.adapter.lost_publishes);
  w.one("adapter_received_total", "counter", "Messages received from other servers.", m.adapter.received);
  w.one("adapter_malformed_total", "counter", "Undecodable messages from the cluster.", m.adapter.malformed);
  w.one("adapter_reconnects_total", "counter", "Reconnections of the cluster transport.", m.adapter.reconnects);
  return w.take();
}

}  // namespace courier
