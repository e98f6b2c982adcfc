// One scheduler per runtime (per OS thread): a FIFO ready queue of fibers, the libuv loop,
// and the native stacks ("carriers") the loop and the fibers run on.
//
// How stacks are used (docs/architecture.md has the picture):
// - The scheduler loop always runs on a carrier stack from the pool, never on the
//   thread's own stack ("the root"). A fiber that is not parked runs its slice
//   (lua_resume, or a C++ body) directly on the loop's carrier: no switch at all.
// - A fiber that must wait where it cannot Lua-yield (inside table.sort, a gsub callback,
//   require, a user coroutine, or any C++ fiber) parks: it keeps the carrier with its C
//   frames and the loop continues on a fresh carrier. Resuming it is one jump there and,
//   when its slice ends, one jump back; the then-stale carrier returns to the pool.
// - The root (main chunk under stock lua5.4, a C++ host thread) waits by parking too;
//   the loop jumps back to it once its wait is over.
#pragma once

#include <cstdint>

#include <boost/context/detail/fcontext.hpp>
#include <uv.h>

#include "core/deadline_heap.hpp"
#include "core/fiber.hpp"
#include "core/stack_pool.hpp"
#include "core/waiter.hpp"

namespace luv::detail {

/// The thread's own stack seen as a fiber: it never runs a slice, it only parks and is
/// resumed where it parked.
class root_fiber final : public fiber_base {
public:
    root_fiber() noexcept : fiber_base(kind::root) {}

protected:
    slice run_slice() override;
};

class scheduler {
public:
    explicit scheduler(uv_loop_t* loop);
    ~scheduler();
    scheduler(const scheduler&) = delete;
    scheduler& operator=(const scheduler&) = delete;

    uv_loop_t* loop() const noexcept { return loop_; }
    /// The fiber executing now: a fiber, or the root when none is.
    fiber_base* current() const noexcept { return current_; }
    fiber_base& root() noexcept { return root_; }
    bool in_fiber() const noexcept { return current_ != &root_; }

    /// Appends a fiber to the ready queue (no-op if queued, running, or dead). Never
    /// suspends.
    void ready(fiber_base& f) noexcept;
    bool has_ready() const noexcept { return ready_head_ != nullptr; }

    /// Registers `w` as the current fiber's wait, with an optional deadline (loop time,
    /// ms; 0 = none). Returns false when the wait ended at once (a pending cancel);
    /// w.status() then says why. The caller then hooks `w` to its operation (a
    /// wait_queue, a request) and suspends, natively with suspend() or through a Lua
    /// yield. Never suspends.
    bool begin_wait(waiter& w, std::uint64_t deadline_ms = 0);
    /// Parks the current fiber until `w` (begun with begin_wait) ends; returns how it
    /// ended. If no stack can be had, the wait is abandoned and the error thrown.
    /// Suspends the calling fiber.
    wait_status suspend(waiter& w);
    /// Ends a wait that was begun but never suspended on: its operation could not start
    /// (`how` = cancelled, the default) or completed at once without suspending (`how` =
    /// notified, e.g. a file read that the page cache satisfied). Nobody is readied.
    /// Never suspends.
    void end_wait(waiter& w, wait_status how = wait_status::cancelled) noexcept;
    /// begin_wait() + suspend() for a wait that nothing but the deadline, a cancel, or
    /// an explicit complete() ends. Suspends the calling fiber.
    wait_status wait(waiter& w, std::uint64_t deadline_ms = 0);
    /// Parks the current fiber (or the root) on its native stack until it is readied.
    /// Throws std::system_error(ENOMEM/EAGAIN) if no stack can be had for the loop.
    /// Suspends the calling fiber.
    void park();
    /// Re-queues the current fiber at the tail and lets the others run. Suspends the
    /// calling fiber.
    void yield();

    /// Whether an operation that can complete on the loop's thread without suspending (a
    /// file read that the page cache satisfies) may still do so: true until inline_ns have
    /// passed since the loop last polled. A fiber whose calls keep completing at once
    /// never lets the loop run, so timers and I/O would wait; when this says false the
    /// caller takes its suspending path instead, and the loop polls before that fiber
    /// continues. Never suspends.
    bool may_complete_inline() const noexcept { return uv_hrtime() - polled_at_ < inline_ns; }
    /// 1 ms: far below a timer's tolerance, yet a threadpool round trip (some 30 us) every
    /// millisecond costs a reader of cached files only a few per cent.
    static constexpr std::uint64_t inline_ns = 1'000'000;

    /// Loop time in ms, refreshed first: deadlines are computed against it.
    std::uint64_t now() noexcept;
    /// A deadline at least `ms` from now, for begin_wait (never 0, which means "none").
    /// The loop clock counts whole milliseconds and the present moment may be up to 1 ms
    /// past its reading, so one is added: a wait is never cut short.
    std::uint64_t deadline_after_ms(std::uint64_t ms) noexcept {
        const std::uint64_t at = now() + ms + (ms > 0 ? 1 : 0);
        return at != 0 ? at : 1;
    }

    /// Runs the loop from the root until nothing is ready and nothing in the loop can
    /// wake anyone. Root only. Suspends the root.
    void run();
    /// Closes the scheduler's own libuv handle; the runtime then runs the loop once to
    /// let the close callback happen. Never suspends.
    void close() noexcept;

    /// Drops a fiber that will never run again (collected or its runtime is closing):
    /// leaves the ready queue and its wait, frees its carrier. Never suspends.
    void forget(fiber_base& f) noexcept;

    /// Fibers waiting for everything else to be over (luv.run() called from a fiber):
    /// woken when nothing is ready and nothing in the loop can wake anyone, before the
    /// root is.
    wait_queue& quiescence() noexcept { return quiescence_; }

    /// Errors of fibers that ended with nobody joining them (reported on stderr).
    std::uint64_t unjoined_errors() const noexcept { return unjoined_errors_; }
    void count_unjoined_error() noexcept { ++unjoined_errors_; }

    stack_pool& stacks() noexcept { return stacks_; }
    /// Resumes done since creation (for tests and benchmarks).
    std::uint64_t switches() const noexcept { return switches_; }

    /// How many fibers may run back to back before the loop polls for I/O anyway.
    static constexpr unsigned poll_every = 64;
    /// luv.fiber.yield() parks natively (keeping a stack, switching in one jump) only
    /// while fewer stacks than this are in use; beyond, it yields like coroutine.yield
    /// and holds none, so thousands of yielding fibers do not cost a stack each.
    static constexpr std::size_t native_yield_stacks = 64;

private:
    struct switch_msg;
    friend class waiter;

    [[noreturn]] static void carrier_entry(boost::context::detail::transfer_t t);
    [[noreturn]] void loop_forever();
    void resume(fiber_base& f);
    void after_slice(fiber_base& f, fiber_base::slice how);
    void finish(fiber_base& f) noexcept;
    bool poll(bool block);
    void expire_deadlines() noexcept;
    void quiescent() noexcept;
    fiber_base* pop_ready() noexcept;
    void unqueue(fiber_base& f) noexcept;
    void on_arrival(boost::context::detail::transfer_t t) noexcept;
    boost::context::detail::transfer_t jump(boost::context::detail::fcontext_t to,
                                            stack* dest, switch_msg& msg,
                                            bool leaving_for_good = false);
    static void on_deadline_timer(uv_timer_t* t);

    uv_loop_t* loop_;
    stack_pool stacks_;
    deadline_heap deadlines_;
    uv_timer_t deadline_timer_;
    root_fiber root_;
    fiber_base* current_;
    fiber_base* ready_head_ = nullptr;
    fiber_base* ready_tail_ = nullptr;
    // The loop's carrier while something else (a parked fiber, the root) runs.
    boost::context::detail::fcontext_t scheduler_ctx_ = nullptr;
    stack* loop_stack_ = nullptr;
    wait_queue quiescence_;
    std::uint64_t switches_ = 0;
    std::uint64_t unjoined_errors_ = 0;
    unsigned since_poll_ = 0;
    std::uint64_t polled_at_ = 0;  // uv_hrtime() when the last poll ended
    bool in_poll_ = false;  // inside uv_run: callbacks that ready a fiber stop the loop
    // AddressSanitizer needs the bounds of the stack it is switching to.
    const void* root_stack_bottom_ = nullptr;
    std::size_t root_stack_size_ = 0;
};

}  // namespace luv::detail
