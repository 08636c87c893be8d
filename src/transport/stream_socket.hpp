// A TCP socket that waits for readability without one epoll_ctl per wait.
//
// Why: basic_socket::async_wait(wait_read) takes Asio's non-speculative path, which re-registers
// the descriptor with epoll_ctl(EPOLL_CTL_MOD) on EVERY call, even though the descriptor is
// registered edge-triggered for input once and for all. The transport waits for readability after
// every received message (it then reads into one scratch buffer shared by all connections, which
// is why it cannot keep an async_read_some pending), so that was a third syscall per message
// besides recv and sendmsg (perf, echo with one message in flight: do_epoll_ctl alone ~3 % of server time).
//
// async_wait_readable() queues a reactor operation that completes as soon as the reactor reports
// input (or error/hang-up), through the speculative path: when the reactor already knows the
// descriptor is drained (try_speculative_ false, which this op's "exhausted" status sets) the op is
// just queued, no syscall; otherwise it completes at once and the caller's read finds out. The
// caller must read until a short read or EAGAIN before waiting again (edge-triggered contract,
// which the transport already follows).
//
// This uses Asio's detail API, so it is compiled only for the exact Asio it was written against
// (Debian 12's 1.22.1) on the epoll reactor; anything else falls back to async_wait.
#pragma once

#include <memory>
#include <utility>

#include <asio/ip/tcp.hpp>
#include <asio/version.hpp>

#if ASIO_VERSION == 102201 && defined(ASIO_HAS_EPOLL) && !defined(ASIO_HAS_IO_URING_AS_DEFAULT) && \
    !defined(ASIO_HAS_IOCP)
#define COURIER_READABLE_OP 1
#include <asio/detail/fenced_block.hpp>
#include <asio/detail/handler_alloc_helpers.hpp>
#include <asio/detail/handler_work.hpp>
#include <asio/detail/reactor.hpp>
#include <asio/detail/reactor_op.hpp>
#else
#define COURIER_READABLE_OP 0
#endif

namespace courier::detail {

#if COURIER_READABLE_OP
/// asio::detail::reactive_wait_op, except that perform() reports "done and exhausted": the reactor
/// then clears its speculative flag, so the next wait is queued without a syscall.
template <typename Handler, typename IoExecutor>
class ReadableOp : public asio::detail::reactor_op {
 public:
  ASIO_DEFINE_HANDLER_PTR(ReadableOp);

  ReadableOp(Handler& handler, const IoExecutor& io_ex)
      : asio::detail::reactor_op(asio::error_code(), &ReadableOp::do_perform, &ReadableOp::do_complete),
        handler_(std::move(handler)),
        work_(handler_, io_ex) {}

  static status do_perform(asio::detail::reactor_op*) { return done_and_exhausted; }

  static void do_complete(void* owner, asio::detail::operation* base, const asio::error_code&, std::size_t) {
    // Same ownership dance as reactive_wait_op: free the op before the upcall.
    auto* o = static_cast<ReadableOp*>(base);
    ptr p = {std::addressof(o->handler_), o, o};
    asio::detail::handler_work<Handler, IoExecutor> w(std::move(o->work_));
    asio::detail::binder1<Handler, asio::error_code> handler(o->handler_, o->ec_);
    p.h = std::addressof(handler.handler_);
    p.reset();
    if (owner) {
      asio::detail::fenced_block b(asio::detail::fenced_block::half);
      w.complete(handler, handler.handler_);
    }
  }

 private:
  Handler handler_;
  asio::detail::handler_work<Handler, IoExecutor> work_;
};
#endif

/// asio::ip::tcp::socket plus async_wait_readable(). Single-threaded use, like the transport.
class StreamSocket : public asio::ip::tcp::socket {
 public:
  explicit StreamSocket(asio::ip::tcp::socket&& s) : asio::ip::tcp::socket(std::move(s)) {}

  /// Calls `handler(error_code)` once the socket may have input (or an error / hang-up); aborted
  /// with operation_aborted by close() or cancel(), like async_wait.
  template <typename Handler>
  void async_wait_readable(Handler handler) {
#if COURIER_READABLE_OP
    using Op = ReadableOp<Handler, executor_type>;
    auto& impl = impl_.get_implementation();
    // use_service locks the service registry and searches it: once per socket, not per wait.
    if (!reactor_)
      reactor_ = &asio::use_service<asio::detail::reactor>(asio::query(get_executor(), asio::execution::context));
    typename Op::ptr p = {std::addressof(handler), Op::ptr::allocate(handler), nullptr};
    p.p = new (p.v) Op(handler, impl_.get_executor());
    reactor_->start_op(asio::detail::reactor::read_op, impl.socket_, impl.reactor_data_, p.p, false, true);
    p.v = p.p = nullptr;
#else
    async_wait(asio::socket_base::wait_read, std::move(handler));
#endif
  }

#if COURIER_READABLE_OP
 private:
  asio::detail::reactor* reactor_ = nullptr;  // the socket's io_context's reactor, which outlives it
#endif
};

}  // namespace courier::detail
