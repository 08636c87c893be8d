// LocalTimer: an indexed binary min-heap of pointers into a key -> entry hash map. Each entry
// knows its heap position, so cancel and replace are O(log n) and leave nothing stale behind;
// one asio::steady_timer is armed for the earliest deadline.
#include <courier/timer.hpp>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <unordered_map>
#include <vector>

namespace courier::detail {

class LocalTimerImpl : public std::enable_shared_from_this<LocalTimerImpl> {
 public:
  using Steady = std::chrono::steady_clock;

  explicit LocalTimerImpl(asio::io_context& io) : io_(io), timer_(io) {}

  bool io_stopped_or_here() const { return io_.stopped() || io_.get_executor().running_in_this_thread(); }

  template <class F>
  void run(F&& f) {
    if (io_.get_executor().running_in_this_thread()) {
      f();
    } else {
      asio::post(io_, std::forward<F>(f));
    }
  }

  void add(std::string key, Steady::time_point due, std::string payload, std::function<void()> callback) {
    if (closed_) return;  // the LocalTimer is gone: late posted calls do nothing
    auto [it, inserted] = entries_.try_emplace(std::move(key));
    Node* node = &*it;
    node->second.due = due;
    node->second.payload = std::move(payload);
    node->second.callback = std::move(callback);
    if (inserted) {
      node->second.pos = heap_.size();
      heap_.push_back(node);
      sift_up(node->second.pos);
    } else {
      // Replaced: the deadline may have moved either way.
      sift_up(node->second.pos);
      sift_down(node->second.pos);
    }
    arm();
  }

  void remove(const std::string& key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    erase_from_heap(it->second.pos);
    entries_.erase(it);
    arm();
  }

  std::size_t pending() const noexcept { return entries_.size(); }
  void set_handler(std::function<void(const TimerEvent&)> h) {
    if (!closed_) handler_ = std::move(h);
  }
  /// Drops every pending timer; nothing fires afterwards.
  void shutdown() {
    closed_ = true;
    heap_.clear();
    entries_.clear();
    handler_ = nullptr;
    if (armed_) timer_.cancel();
    armed_ = false;
  }

 private:
  struct Entry {
    Steady::time_point due{};
    std::size_t pos = 0;
    std::string payload;
    std::function<void()> callback;
  };
  using Map = std::unordered_map<std::string, Entry>;
  using Node = Map::value_type;  // node-based: its address is stable until erased

  bool less(std::size_t a, std::size_t b) const noexcept { return heap_[a]->second.due < heap_[b]->second.due; }
  void place(std::size_t i, Node* n) noexcept {
    heap_[i] = n;
    n->second.pos = i;
  }
  void sift_up(std::size_t i) noexcept {
    Node* n = heap_[i];
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (!(n->second.due < heap_[parent]->second.due)) break;
      place(i, heap_[parent]);
      i = parent;
    }
    place(i, n);
  }
  void sift_down(std::size_t i) noexcept {
    Node* n = heap_[i];
    const std::size_t size = heap_.size();
    while (true) {
      std::size_t child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && less(child + 1, child)) ++child;
      if (!(heap_[child]->second.due < n->second.due)) break;
      place(i, heap_[child]);
      i = child;
    }
    place(i, n);
  }
  void erase_from_heap(std::size_t i) noexcept {
    Node* last = heap_.back();
    heap_.pop_back();
    if (i == heap_.size()) return;
    place(i, last);
    sift_up(i);
    sift_down(last->second.pos);
  }

  void arm() {
    if (heap_.empty()) {
      if (armed_) timer_.cancel();
      armed_ = false;
      return;
    }
    const auto due = heap_.front()->second.due;
    if (armed_ && armed_for_ == due) return;
    armed_ = true;
    armed_for_ = due;
    timer_.expires_at(due);
    timer_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->fire_due();
    });
  }

  void fire_due() {
    armed_ = false;
    const auto now = Steady::now();
    // Bounded work per wake-up, so a burst of due timers does not starve other handlers.
    for (int n = 0; n < 4096 && !heap_.empty(); ++n) {
      Node* top = heap_.front();
      if (top->second.due > now) break;
      erase_from_heap(0);
      auto handle = entries_.extract(top->first);
      Entry& entry = handle.mapped();
      ++fence_;
      if (entry.callback) {
        entry.callback();
      } else if (handler_) {
        handler_(TimerEvent{handle.key(), entry.payload, 1, fence_});
      }
    }
    arm();
  }

  asio::io_context& io_;
  asio::steady_timer timer_;
  bool armed_ = false;
  Steady::time_point armed_for_{};
  Map entries_;
  std::vector<Node*> heap_;
  std::uint64_t fence_ = 0;
  std::function<void(const TimerEvent&)> handler_;
  bool closed_ = false;
};

}  // namespace courier::detail

namespace courier {

LocalTimer::LocalTimer(asio::io_context& io) : impl_(std::make_shared<detail::LocalTimerImpl>(io)) {}
LocalTimer::~LocalTimer() {
  // Pending timers die with the LocalTimer, even though posted work may keep the state alive.
  if (impl_->io_stopped_or_here()) {
    impl_->shutdown();
  } else {
    impl_->run([impl = impl_] { impl->shutdown(); });
  }
}

namespace {
// Longer delays are clamped: "never" (duration::max()) must not wrap around into the past.
constexpr std::chrono::hours kMaxDelay(24 * 365 * 100);

std::chrono::steady_clock::time_point due_after(std::chrono::steady_clock::duration delay) {
  if (delay > kMaxDelay) delay = kMaxDelay;
  return std::chrono::steady_clock::now() + delay;
}
}  // namespace

void LocalTimer::schedule(std::string key, Clock::time_point deadline, std::string payload) {
  // Wall-clock deadline converted once to the steady clock, so later clock jumps do not matter.
  const auto now = Clock::now();
  const auto due = deadline <= now ? std::chrono::steady_clock::now()
                   : deadline - now > kMaxDelay
                       ? due_after(kMaxDelay)
                       : due_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(deadline - now));
  impl_->run([impl = impl_, k = std::move(key), due, p = std::move(payload)]() mutable {
    impl->add(std::move(k), due, std::move(p), nullptr);
  });
}

void LocalTimer::schedule_in(std::string key, std::chrono::steady_clock::duration delay, std::function<void()> callback) {
  const auto due = due_after(delay);
  impl_->run([impl = impl_, k = std::move(key), due, cb = std::move(callback)]() mutable {
    impl->add(std::move(k), due, {}, std::move(cb));
  });
}

void LocalTimer::cancel(std::string key) {
  impl_->run([impl = impl_, k = std::move(key)] { impl->remove(k); });
}

void LocalTimer::on_fire(std::function<void(const TimerEvent&)> handler) {
  impl_->run([impl = impl_, h = std::move(handler)]() mutable { impl->set_handler(std::move(h)); });
}

std::size_t LocalTimer::pending() const noexcept { return impl_->pending(); }

}  // namespace courier
