#include <courier/in_memory_adapter.hpp>

#include <algorithm>

namespace courier {

AdapterFactory InMemoryAdapter::factory() {
  return [](AdapterHost& host) { return std::make_unique<InMemoryAdapter>(host); };
}

void InMemoryAdapter::add_all(const SocketId& id, const std::vector<RoomName>& rooms) {
  auto [node, inserted] = sids_.try_emplace(id);
  SocketEntry& mine = node->second;
  if (!mine.ref) mine.ref = host_.local_socket(id);
  for (const auto& room : rooms) insert(*node, room);
}

void InMemoryAdapter::insert(SocketNode& node, const RoomName& room) {
  node.second.rooms.insert(room);
  auto [it, created] = rooms_.try_emplace(room);
  it->second.insert(&node);
  if (created) room_created(room);
}

void InMemoryAdapter::add_admitted(const SocketId& id, const std::vector<RoomName>& rooms) {
  for (const auto& room : rooms) {
    // A room the socket is already in costs nothing: never refused. The node is looked up after
    // may_join, which runs the host's code.
    if (socket_in_room(id, room) || !host_.may_join(id, room)) continue;
    auto [node, inserted] = sids_.try_emplace(id);
    if (!node->second.ref) node->second.ref = host_.local_socket(id);
    insert(*node, room);
  }
}

void InMemoryAdapter::del(const SocketId& id, const RoomName& room) {
  auto s = sids_.find(id);
  if (s == sids_.end()) return;  // a socket in no room is in none of rooms_' sets either
  s->second.rooms.erase(room);
  auto r = rooms_.find(room);
  if (r == rooms_.end()) return;
  r->second.erase(&*s);
  if (r->second.empty()) {
    rooms_.erase(r);
    room_deleted(room);
  }
}

void InMemoryAdapter::del_all(const SocketId& id) {
  auto s = sids_.find(id);
  if (s == sids_.end()) return;
  std::vector<RoomName> deleted;
  for (const auto& room : s->second.rooms) {
    auto r = rooms_.find(room);
    if (r == rooms_.end()) continue;
    r->second.erase(&*s);
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
  return {s->second.rooms.begin(), s->second.rooms.end()};
}

std::size_t InMemoryAdapter::socket_room_count(const SocketId& id) const {
  auto s = sids_.find(id);
  return s == sids_.end() ? 0 : s->second.rooms.size();
}

bool InMemoryAdapter::socket_in_room(const SocketId& id, const RoomName& room) const {
  auto s = sids_.find(id);
  return s != sids_.end() && s->second.rooms.count(room) != 0;
}

template <class F>
void InMemoryAdapter::for_each_match(const BroadcastOptions& opts, F&& f) const {
  auto excluded = [&](const SocketNode* node) {
    for (const auto& room : opts.except)
      if (node->second.rooms.count(room) != 0) return true;
    return false;
  };
  if (opts.rooms.empty()) {
    for (const auto& node : sids_)
      if (!excluded(&node)) f(const_cast<SocketNode*>(&node));
    return;
  }
  if (opts.rooms.size() == 1) {
    auto r = rooms_.find(opts.rooms.front());
    if (r == rooms_.end()) return;
    // A second iterator runs ahead and starts loading the socket entries the loop reads soon:
    // in a large room each one is a cache miss otherwise.
    auto ahead = r->second.begin();
    for (int k = 0; k < 8 && ahead != r->second.end(); ++k) __builtin_prefetch(*ahead++);
    for (SocketNode* node : r->second) {
      if (ahead != r->second.end()) __builtin_prefetch(*ahead++);
      if (!excluded(node)) f(node);
    }
    return;
  }
  std::unordered_set<const SocketNode*> seen;
  for (const auto& room : opts.rooms) {
    auto r = rooms_.find(room);
    if (r == rooms_.end()) continue;
    for (SocketNode* node : r->second)
      if (!excluded(node) && seen.insert(node).second) f(node);
  }
}

std::vector<SocketId> InMemoryAdapter::local_sockets(const BroadcastOptions& opts) const {
  std::vector<SocketId> out;
  for_each_match(opts, [&](const SocketNode* node) { out.push_back(node->first); });
  return out;
}

std::vector<RoomName> InMemoryAdapter::local_rooms() const {
  std::vector<RoomName> out;
  out.reserve(rooms_.size());
  for (const auto& [room, ids] : rooms_) out.push_back(room);
  return out;
}

std::size_t InMemoryAdapter::deliver_matching(const OutPacket& packet, const BroadcastOptions& opts,
                                              std::function<void(Args)> ack) {
  // The scratch vector is taken for the call: a broadcast made from inside a delivery gets its own.
  std::vector<LocalSocket*> refs = std::move(scratch_);
  refs.clear();
  bool all_refs = true;
  for_each_match(opts, [&](SocketNode* node) {
    all_refs = all_refs && node->second.ref != nullptr;
    refs.push_back(node->second.ref);
  });
  const std::size_t count = refs.size();
  if (all_refs && count > 0) {
    host_.deliver_to(packet, refs, opts.flags.volatile_, std::move(ack));
  } else {
    // A host that hands out no references (or a socket it did not know when it joined).
    host_.deliver(packet, local_sockets(opts), opts.flags.volatile_, std::move(ack));
  }
  refs.clear();
  if (refs.capacity() > scratch_.capacity()) scratch_ = std::move(refs);
  return count;
}

void InMemoryAdapter::broadcast(const OutPacket& packet, const BroadcastOptions& opts) {
  deliver_matching(packet, opts, nullptr);
}

void InMemoryAdapter::broadcast_with_ack(const OutPacket& packet, const BroadcastOptions& opts,
                                         std::function<void(std::size_t)> client_count,
                                         std::function<void(Args)> on_ack) {
  client_count(deliver_matching(packet, opts, std::move(on_ack)));
}

void InMemoryAdapter::fetch_sockets(const BroadcastOptions& opts,
                                    std::function<void(std::vector<SocketInfo>, std::error_code)> done) {
  std::vector<SocketInfo> out;
  for (const auto& id : local_sockets(opts))
    if (auto info = host_.describe(id)) out.push_back(std::move(*info));
  done(std::move(out), {});
}

void InMemoryAdapter::add_sockets(const BroadcastOptions& opts, const std::vector<RoomName>& rooms) {
  for (const auto& id : local_sockets(opts)) add_admitted(id, rooms);
}

void InMemoryAdapter::del_sockets(const BroadcastOptions& opts, const std::vector<RoomName>& rooms) {
  for (const auto& id : local_sockets(opts))
    for (const auto& room : rooms) del(id, room);
}

void InMemoryAdapter::disconnect_sockets(const BroadcastOptions& opts, bool close) {
  for (const auto& id : local_sockets(opts)) host_.disconnect(id, close);
}

}  // namespace courier
