#pragma once
/// @file in_memory_adapter.hpp
/// The default adapter: one process, rooms in memory.

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <courier/adapter.hpp>

namespace courier {

/// Rooms of one namespace in this process: room -> sockets and socket -> rooms, each socket in
/// the room named by its id, empty rooms deleted. A broadcast is encoded once for all recipients.
/// Remote adapters compose it for their local half.
///
/// Thread-safety: the server's thread only, like every Adapter.
class InMemoryAdapter : public Adapter {
 public:
  explicit InMemoryAdapter(AdapterHost& host) : host_(host) {}

  /// A factory for ServerOptions::adapter.
  static AdapterFactory factory();

  void add_all(const SocketId& id, const std::vector<RoomName>& rooms) override;
  void del(const SocketId& id, const RoomName& room) override;
  void del_all(const SocketId& id) override;
  std::vector<RoomName> socket_rooms(const SocketId& id) const override;
  std::vector<SocketId> local_sockets(const BroadcastOptions& opts) const override;
  std::vector<RoomName> local_rooms() const override;
  std::size_t socket_room_count(const SocketId& id) const override;
  bool socket_in_room(const SocketId& id, const RoomName& room) const override;
  std::size_t local_room_count() const override { return rooms_.size(); }

  void broadcast(const OutPacket& packet, const BroadcastOptions& opts) override;
  void broadcast_with_ack(const OutPacket& packet, const BroadcastOptions& opts,
                          std::function<void(std::size_t)> client_count, std::function<void(Args)> on_ack) override;
  void fetch_sockets(const BroadcastOptions& opts,
                     std::function<void(std::vector<SocketInfo>, std::error_code)> done) override;
  void add_sockets(const BroadcastOptions& opts, const std::vector<RoomName>& rooms) override;
  void del_sockets(const BroadcastOptions& opts, const std::vector<RoomName>& rooms) override;
  void disconnect_sockets(const BroadcastOptions& opts, bool close) override;

  /// Number of rooms (including each socket's own room).
  std::size_t room_count() const noexcept { return rooms_.size(); }
  /// True when some local socket is in `room`.
  bool has_room(const RoomName& room) const noexcept { return rooms_.count(room) != 0; }

 protected:
  AdapterHost& host() noexcept { return host_; }
  /// Called when a room gets its first member (remote adapters subscribe to room channels here).
  virtual void room_created(const RoomName& room) { (void)room; }
  /// Called when a room loses its last member.
  virtual void room_deleted(const RoomName& room) { (void)room; }
  /// Adds local socket `id` to each of `rooms` it is not in yet that AdapterHost::may_join admits:
  /// what add_sockets does per socket, for remote adapters' single-socket joins. Server's thread.
  void add_admitted(const SocketId& id, const std::vector<RoomName>& rooms);
  /// True when `room` is a socket's own room (named by its id).
  bool is_socket_room(const RoomName& room) const noexcept { return sids_.count(room) != 0; }

 private:
  struct SocketEntry {
    std::unordered_set<RoomName> rooms;
    LocalSocket* ref = nullptr;  // from the host, so broadcasts need no lookup by id
  };
  using SocketMap = std::unordered_map<SocketId, SocketEntry>;
  // A node of sids_: its address is stable until the socket is erased (del_all), and rooms hold
  // it so that a broadcast walks its recipients without hashing their ids.
  using SocketNode = SocketMap::value_type;

  /// Puts `node` in `room` (creating it); both indexes.
  void insert(SocketNode& node, const RoomName& room);
  template <class F>
  void for_each_match(const BroadcastOptions& opts, F&& f) const;
  /// Delivers to every match; returns how many sockets matched.
  std::size_t deliver_matching(const OutPacket& packet, const BroadcastOptions& opts, std::function<void(Args)> ack);

  AdapterHost& host_;
  std::unordered_map<RoomName, std::unordered_set<SocketNode*>> rooms_;
  SocketMap sids_;
  std::vector<LocalSocket*> scratch_;  // recipients of the current broadcast, kept for its capacity
};

}  // namespace courier
