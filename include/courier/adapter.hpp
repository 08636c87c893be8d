#pragma once
/// @file adapter.hpp
/// The Adapter: where a namespace keeps its rooms and how broadcasts reach sockets, locally or
/// across a cluster. InMemoryAdapter is the default; a Redis adapter composes it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <unordered_set>
#include <vector>

#include <courier/adapter_metrics.hpp>
#include <courier/request_info.hpp>
#include <courier/value.hpp>

namespace courier {

/// Socket id (the one sent to the client in CONNECT); also the name of the socket's own room.
using SocketId = std::string;
/// Room name.
using RoomName = std::string;

/// Modifiers of a broadcast.
struct BroadcastFlags {
  /// Only this instance's sockets (no cluster fan-out); off so broadcasts reach everyone by default.
  bool local = false;
  /// May be dropped for sockets that cannot take it right now; off: delivery is the default.
  bool volatile_ = false;
  /// For broadcasts with acks: how long to wait for every client; none means wait forever.
  std::optional<std::chrono::milliseconds> timeout;
};

/// Who a broadcast or a remote operation targets: sockets in any of `rooms` (all sockets when
/// empty), minus sockets in any of `except`.
struct BroadcastOptions {
  std::vector<RoomName> rooms;
  std::vector<RoomName> except;
  BroadcastFlags flags;
};

/// A Socket.IO packet as adapters see it (remote adapters serialize it).
struct OutPacket {
  /// Socket.IO packet type: 2 event, 3 ack (binary variants are chosen when encoding).
  int type = 2;
  /// Namespace name.
  std::string nsp = "/";
  /// The data array: event name first for events.
  Array data;
  /// Ack id, when acks are requested.
  std::optional<std::uint64_t> id;
};

/// What fetch_sockets returns about a socket (local or remote).
struct SocketInfo {
  SocketId id;
  std::vector<RoomName> rooms;
  RequestInfo request;  ///< the handshake request
  Value auth;           ///< the CONNECT auth payload
  Value data;           ///< host-provided data shared with the cluster (Socket::set_shared_data)
};

/// A socket connected to this instance, as the host hands it to adapters: an adapter may keep
/// these references in its rooms so that a local broadcast reaches its recipients without a
/// lookup by id (AdapterHost::local_socket, AdapterHost::deliver_to).
///
/// Thread-safety: the server's thread only.
class LocalSocket {
 public:
  /// The socket's id.
  virtual const SocketId& local_id() const noexcept = 0;

 protected:
  ~LocalSocket() = default;  // owned by the host, never deleted through this type
};

/// The namespace side of an adapter: what it may do to this instance's sockets. Implemented by
/// courier; valid for the adapter's lifetime; called on the server's thread only.
class AdapterHost {
 public:
  virtual ~AdapterHost() = default;
  /// The namespace name.
  virtual const std::string& name() const noexcept = 0;
  /// Encodes `packet` once and writes it to each local socket in `ids` (volatile: skip sockets
  /// that are not writable). With `ack`, each socket routes its ack for `packet.id` to it.
  virtual void deliver(const OutPacket& packet, const std::vector<SocketId>& ids, bool volatile_,
                       std::function<void(Args)> ack) = 0;
  /// The local socket `id`, or nullptr when it is not connected here (or the host hands out no
  /// references). Valid until the adapter's del_all(id), which the host calls before the socket
  /// goes away.
  virtual LocalSocket* local_socket(const SocketId& id) noexcept {
    (void)id;
    return nullptr;
  }
  /// As deliver(), to sockets given by reference (from local_socket()): no lookup per recipient.
  /// The default maps them back to ids for hosts that only implement deliver().
  virtual void deliver_to(const OutPacket& packet, const std::vector<LocalSocket*>& sockets, bool volatile_,
                          std::function<void(Args)> ack) {
    std::vector<SocketId> ids;
    ids.reserve(sockets.size());
    for (const LocalSocket* s : sockets) ids.push_back(s->local_id());
    deliver(packet, ids, volatile_, std::move(ack));
  }
  /// Asked by Adapter::add_sockets (bulk joins: Room::sockets_join here, remote joins from other
  /// servers) before local socket `id` joins `room`, a room it is not in yet: false refuses that
  /// one join, and the host reports it. Adapters cannot know the host's per-socket limits
  /// (ServerOptions::max_rooms_per_socket), so they ask here rather than carry a copy of them. The
  /// default admits every join. Thread-safety: the server's thread, like every member here.
  virtual bool may_join(const SocketId& id, const RoomName& room) {
    (void)id;
    (void)room;
    return true;
  }
  /// Describes a local socket; nullopt when it is not connected here.
  virtual std::optional<SocketInfo> describe(const SocketId& id) const = 0;
  /// Disconnects a local socket ("server namespace disconnect"; `close` also ends its connection).
  virtual void disconnect(const SocketId& id, bool close) = 0;
  /// Delivers a server-side emit from another server (`data` = event name, then arguments) to the
  /// namespace's handlers; `reply`, when set, answers the sender (first argument only).
  virtual void server_side_emit_received(Args data, std::function<void(Value)> reply) = 0;
};

/// Rooms and broadcasts of one namespace.
///
/// Thread-safety: courier calls every member on the server's thread; completion callbacks must be
/// invoked there too (post to it when results come from elsewhere).
class Adapter {
 public:
  virtual ~Adapter() = default;

  /// Called once before use; remote adapters subscribe here.
  virtual void init() {}
  /// Called when the namespace goes away or the server shuts down (after its connections
  /// drained); remote adapters unsubscribe here. May be called more than once.
  virtual void close() {}
  /// Fills `out` with the cluster transport's counters. Adapters whose transport is shared by
  /// every namespace (RedisAdapterFactory) assign the shared totals rather than add to them, so
  /// calling it on each namespace's adapter gives the right figures. The default reports nothing.
  virtual void collect_metrics(AdapterMetrics& out) const { (void)out; }

  /// Adds a local socket to rooms (creating them).
  virtual void add_all(const SocketId& id, const std::vector<RoomName>& rooms) = 0;
  /// Removes a local socket from a room (deleting it when empty).
  virtual void del(const SocketId& id, const RoomName& room) = 0;
  /// Removes a local socket from all its rooms.
  virtual void del_all(const SocketId& id) = 0;
  /// Rooms a local socket is in, or empty.
  virtual std::vector<RoomName> socket_rooms(const SocketId& id) const = 0;
  /// Ids of local sockets matching `opts` (rooms/except).
  virtual std::vector<SocketId> local_sockets(const BroadcastOptions& opts) const = 0;
  /// Names of all local rooms.
  virtual std::vector<RoomName> local_rooms() const = 0;
  /// Number of rooms a local socket is in; override when cheaper than socket_rooms().
  virtual std::size_t socket_room_count(const SocketId& id) const { return socket_rooms(id).size(); }
  /// True when a local socket is in `room`; override when cheaper than socket_rooms().
  virtual bool socket_in_room(const SocketId& id, const RoomName& room) const {
    for (const auto& r : socket_rooms(id))
      if (r == room) return true;
    return false;
  }
  /// Number of local rooms; override when cheaper than local_rooms().
  virtual std::size_t local_room_count() const { return local_rooms().size(); }

  /// Sends `packet` to every socket matching `opts`.
  virtual void broadcast(const OutPacket& packet, const BroadcastOptions& opts) = 0;
  /// Sends `packet` expecting acks: `client_count` is called once with the number of sockets the
  /// packet went to (adding each instance's count for remote adapters), `on_ack` once per ack.
  virtual void broadcast_with_ack(const OutPacket& packet, const BroadcastOptions& opts,
                                  std::function<void(std::size_t client_count)> client_count,
                                  std::function<void(Args)> on_ack) = 0;

  /// Describes every socket matching `opts`; `done` receives them, and an error when some
  /// instances did not answer in time (with the answers that did arrive).
  virtual void fetch_sockets(const BroadcastOptions& opts,
                             std::function<void(std::vector<SocketInfo>, std::error_code)> done) = 0;
  /// Makes matching sockets join `rooms`. Each join of a room a socket is not in yet must be
  /// admitted by AdapterHost::may_join (refused ones are skipped, the rest go on), whether the
  /// request comes from this server or from another one: the host's room limit holds either way.
  virtual void add_sockets(const BroadcastOptions& opts, const std::vector<RoomName>& rooms) = 0;
  /// Makes matching sockets leave `rooms`.
  virtual void del_sockets(const BroadcastOptions& opts, const std::vector<RoomName>& rooms) = 0;
  /// Disconnects matching sockets.
  virtual void disconnect_sockets(const BroadcastOptions& opts, bool close) = 0;

  /// Number of servers in the cluster (this one included); 1 for a single process.
  virtual void server_count(std::function<void(std::size_t)> done) { done(1); }
  /// Sends an event to the other servers of the cluster (`data` = event name, then arguments).
  /// With `done`, gathers their answers: called with them, and an error when some servers did not
  /// answer within the request timeout. A single process has no other server: `done({}, {})`.
  virtual void server_side_emit(const Args& data,
                                std::function<void(std::error_code, std::vector<Value>)> done) {
    (void)data;
    if (done) done({}, {});
  }
};

/// Makes the adapter of each namespace; the host outlives it.
using AdapterFactory = std::function<std::unique_ptr<Adapter>(AdapterHost& host)>;

}  // namespace courier
