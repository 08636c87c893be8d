#include <courier/in_memory_adapter.hpp>

#include <algorithm>

namespace courier {

AdapterFactory InMemoryAdapter::factory() {
  return [](AdapterHost& host) { return std::make_unique<InMemoryAdapter>(host); };
}

void InMemoryAdapter::add_all(const SocketId& id, const std::vector<RoomName>& rooms) {
  auto& mine = sids_[id];
  for (const auto& room : rooms) {
    mine.insert(room);
    auto [it, created] = rooms_.try_emplace(room);
    it->second.insert(id);
    if (created) room_created(room);
  }
}

void InMemoryAdapter::del(const SocketId& id, const RoomName& room) {
  auto s = sids_.find(id);
  if (s != sids_.end()) s->second.erase(room);
  auto r = rooms_.find(room);
  if (r == rooms_.end()) return;
  r->second.erase(id);
  if (r->second.empty()) {
    rooms_.erase(r);
    room_deleted(room);
  }
}

void InMemoryAdapter::del_all(const SocketId& id) {
  auto s = sids_.find(id);
  if (s == sids_.end()) return;
  std::vector<RoomName> deleted;
  for (const auto& room : s->second) {
    auto r = rooms_.find(room);
    if (r == rooms_.end()) continue;
    r->second.erase(id);
    if (r->second.empty()) {
      rooms_.erase(r);
      deleted.push_back(room);
    }
  }
  sids_.erase(s);
  for (const auto& room : deleted) room_deleted(room);
}

std::vector<RoomName> InMemoryAdapter::socket_rooms(const SocketId& id) const {
  auto s = sids_.find(id);
  if (s == sids_.end()) return {};
  return {s->second.begin(), s->second.end()};
}

std::size_t InMemoryAdapter::socket_room_count(const SocketId& id) const {
  auto s = sids_.find(id);
  return s == sids_.end() ? 0 : s->second.size();
}

bool InMemoryAdapter::socket_in_room(const SocketId& id, const RoomName& room) const {
  auto s = sids_.find(id);
  return s != sids_.end() && s->second.count(room) != 0;
}

std::vector<SocketId> InMemoryAdapter::local_sockets(const BroadcastOptions& opts) const {
  auto excluded = [&](const SocketId& id) {
    if (opts.except.empty()) return false;
    auto s = sids_.find(id);
    if (s == sids_.end()) return false;
    for (const auto& room : opts.except)
      if (s->second.count(room) != 0) return true;
    return false;
  };
  std::vector<SocketId> out;
  if (opts.rooms.empty()) {
    out.reserve(sids_.size());
    for (const auto& [id, rooms] : sids_)
      if (!excluded(id)) out.push_back(id);
    return out;
  }
  if (opts.rooms.size() == 1) {
    auto r = rooms_.find(opts.rooms.front());
    if (r == rooms_.end()) return out;
    out.reserve(r->second.size());
    for (const auto& id : r->second)
      if (!excluded(id)) out.push_back(id);
    return out;
  }
  std::unordered_set<SocketId> seen;
  for (const auto& room : opts.rooms) {
    auto r = rooms_.find(room);
    if (r == rooms_.end()) continue;
    for (const auto& id : r->second)
      if (!excluded(id) && seen.insert(id).second) out.push_back(id);
  }
  return out;
}

std::vector<RoomName> InMemoryAdapter::local_rooms() const {
  std::vector<RoomName> out;
  out.reserve(rooms_.size());
  for (const auto& [room, ids] : rooms_) out.push_back(room);
  return out;
}

void InMemoryAdapter::broadcast(const OutPacket& packet, const BroadcastOptions& opts) {
  host_.deliver(packet, local_sockets(opts), opts.flags.volatile_, nullptr);
}

void InMemoryAdapter::broadcast_with_ack(const OutPacket& packet, const BroadcastOptions& opts,
                                         std::function<void(std::size_t)> client_count,
                                         std::function<void(Args)> on_ack) {
  auto ids = local_sockets(opts);
  host_.deliver(packet, ids, opts.flags.volatile_, std::move(on_ack));
  client_count(ids.size());
}

void InMemoryAdapter::fetch_sockets(const BroadcastOptions& opts,
                                    std::function<void(std::vector<SocketInfo>, std::error_code)> done) {
  std::vector<SocketInfo> out;
  for (const auto& id : local_sockets(opts))
    if (auto info = host_.describe(id)) out.push_back(std::move(*info));
  done(std::move(out), {});
}

void InMemoryAdapter::add_sockets(const BroadcastOptions& opts, const std::vector<RoomName>& rooms) {
  for (const auto& id : local_sockets(opts)) add_all(id, rooms);
}

void InMemoryAdapter::del_sockets(const BroadcastOptions& opts, const std::vector<RoomName>& rooms) {
  for (const auto& id : local_sockets(opts))
    for (const auto& room : rooms) del(id, room);
}

void InMemoryAdapter::disconnect_sockets(const BroadcastOptions& opts, bool close) {
  for (const auto& id : local_sockets(opts)) host_.disconnect(id, close);
}

}  // namespace courier
