// The scheduler's view of a fiber: something it can run a slice of on the current native
// stack, park, and wake. Lua fibers (src/binding/fiber.cpp) and C++ fibers
// (src/core/cpp_fiber.cpp) derive from it; the root (the thread's own stack) is one too.
#pragma once

#include <cstdint>

#include <boost/context/detail/fcontext.hpp>

#include "core/current.hpp"
#include "core/waiter.hpp"

namespace luv::detail {

class scheduler;
struct stack;

class fiber_base {
public:
    enum class state : std::uint8_t { created, ready, running, suspended, dead };
    /// How a slice ended: the fiber yielded at its own level (re-queue it), went out
    /// through a Lua yield while waiting (it holds no stack now), or finished.
    enum class slice : std::uint8_t { yielded, waiting, finished };

    /// What runs on it: the thread's own stack, a Lua coroutine, or a C++ callable.
    enum class kind : std::uint8_t { root, lua, native };

    explicit fiber_base(kind k) noexcept
        : kind_(k), cancel_pending_(false), unwinding_(false), failed_(false) {}
    fiber_base(const fiber_base&) = delete;
    fiber_base& operator=(const fiber_base&) = delete;
    virtual ~fiber_base();

    state status() const noexcept { return state_; }
    /// The scheduler it runs on: the calling thread's, as a fiber never leaves the thread
    /// (and its runtime) that made it. Not stored: every byte here is paid per fiber.
    scheduler& sched() const noexcept { return *current_scheduler; }
    bool is_root() const noexcept { return kind_ == kind::root; }
    kind what() const noexcept { return kind_; }
    /// The wait in progress, if any.
    waiter* waiting_on() const noexcept { return waiting_on_; }
    /// True while the fiber sits parked on a native stack of its own.
    bool holds_stack() const noexcept { return ctx_ != nullptr; }

    /// Wakes the fiber's current wait with `cancelled`, or makes its next wait end that
    /// way at once. Returns false for a dead fiber. Never suspends.
    bool cancel() noexcept;

    /// Set when the runtime is going away: every wait of the fiber then throws
    /// luv::forced_unwind, so that its stack unwinds and its destructors run.
    bool unwinding() const noexcept { return unwinding_; }

    /// True once the fiber has ended with an error (or exception).
    bool failed() const noexcept { return failed_; }

    /// Fibers waiting for this one to finish.
    wait_queue& joiners() noexcept { return joiners_; }

    /// The waiter the Lua bindings use for this fiber's waits. A fiber waits for one
    /// thing at a time, and a wait that goes out through a Lua yield leaves no C frame
    /// to hold a waiter, so it lives here.
    waiter own_wait;

protected:
    /// Runs the fiber on the current native stack until it yields, waits through a Lua
    /// yield, or finishes. Parking natively happens inside and is invisible here.
    virtual slice run_slice() = 0;
    void mark_unwinding() noexcept { unwinding_ = true; }
    void mark_failed() noexcept { failed_ = true; }
    /// Called once, after the fiber died and its joiners were woken; `joined` tells
    /// whether anyone was waiting for it (an error nobody waits for gets reported).
    virtual void on_finished(bool joined) noexcept { (void)joined; }

private:
    friend class scheduler;
    friend class waiter;

    boost::context::detail::fcontext_t ctx_ = nullptr;  // saved context while parked
    stack* stack_ = nullptr;       // the carrier holding this fiber's C frames
    fiber_base* next_ready_ = nullptr;  // ready queue links (doubly linked: O(1) removal)
    fiber_base* prev_ready_ = nullptr;
    waiter* waiting_on_ = nullptr;
    wait_queue joiners_;
    state state_ = state::created;
    kind kind_;
    // One byte of flags, so that a derived class's first int fits in this class's tail
    // padding (lua_fiber is then 144 bytes and its userdata a 208-byte malloc chunk).
    bool cancel_pending_ : 1;
    bool unwinding_ : 1;
    bool failed_ : 1;
};

}  // namespace luv::detail
