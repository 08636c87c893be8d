#pragma once
// Cluster requests awaiting answers from other servers (fetch_sockets, server-side emits with
// acks), shared by the classic and the sharded adapter: each completes when every expected answer
// arrived, or at its timeout with errc::missing_responses and what did arrive.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <courier/adapter.hpp>
#include <courier/error.hpp>
#include <courier/log.hpp>

namespace courier::detail {

class PendingRequests {
 public:
  struct Request {
    int type = 0;
    std::size_t expected = 0;  // answers to wait for
    std::size_t answered = 0;
    std::vector<SocketInfo> sockets;
    std::vector<Value> values;
    std::function<void(std::vector<SocketInfo>, std::error_code)> done_sockets;
    std::function<void(std::error_code, std::vector<Value>)> done_values;
  };

  PendingRequests(asio::io_context& io, Logger logger, std::string label)
      : io_(io), logger_(std::move(logger)), label_(std::move(label)) {}
  ~PendingRequests() { clear(); }

  /// Registers `r` under `id`; it completes at `timeout` at the latest.
  void start(const std::string& id, Request r, std::chrono::milliseconds timeout) {
    auto timer = std::make_shared<asio::steady_timer>(io_);
    timer->expires_after(timeout);
    timer->async_wait([this, alive = std::weak_ptr<bool>(alive_), id](const std::error_code& ec) {
      if (!ec && !alive.expired()) finish(id, true);
    });
    entries_.emplace(id, Entry{std::move(r), std::move(timer)});
  }

  bool contains(const std::string& id) const { return entries_.count(id) != 0; }

  /// The request `id`, to add an answer's data to; null when unknown or already complete.
  Request* find(const std::string& id) {
    auto it = entries_.find(id);
    return it == entries_.end() ? nullptr : &it->second.request;
  }

  /// Counts one answer to `id`; completes the request when it was the last one expected.
  void answered(const std::string& id) {
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    if (++it->second.request.answered >= it->second.request.expected) finish(id, false);
  }

  /// Drops every request without calling back (the adapter is closing).
  void clear() {
    for (auto& [id, e] : entries_) e.timer->cancel();
    entries_.clear();
  }

 private:
  struct Entry {
    Request request;
    std::shared_ptr<asio::steady_timer> timer;
  };

  void finish(const std::string& id, bool timed_out) {
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    Entry e = std::move(it->second);
    entries_.erase(it);
    e.timer->cancel();
    Request& r = e.request;
    std::error_code ec;
    if (timed_out) {
      ec = make_error_code(errc::missing_responses);
      if (logger_.enabled(LogLevel::warn))
        logger_.log(LogLevel::warn, label_ + ": request type " + std::to_string(r.type) + " got " +
                                        std::to_string(r.answered) + " of " + std::to_string(r.expected) +
                                        " answers before the timeout");
    }
    if (r.done_sockets) r.done_sockets(std::move(r.sockets), ec);
    if (r.done_values) r.done_values(ec, std::move(r.values));
  }

  asio::io_context& io_;
  Logger logger_;
  std::string label_;
  std::unordered_map<std::string, Entry> entries_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace courier::detail
