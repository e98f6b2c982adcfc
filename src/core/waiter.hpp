// The only suspend primitive. Every blocking operation (sleep, timer:wait, join, I/O)
// hands a waiter to the scheduler and is woken through it; libuv callbacks store their
// result in the waiter and mark its fiber ready, they never touch a Lua stack.
#pragma once

#include <cstddef>
#include <cstdint>

namespace luv::detail {

class fiber_base;
class wait_queue;

enum class wait_status : std::uint8_t {
    idle,       // not waiting
    waiting,    // registered, not yet woken
    notified,   // the operation completed (the operation's result is in value)
    timed_out,  // the deadline passed first
    cancelled,  // fiber:cancel() or the object it waited on was closed
    deadlock,   // nothing left in the loop could ever wake it
};

class waiter {
public:
    static constexpr std::uint32_t no_heap_index = UINT32_MAX;

    waiter() = default;
    waiter(const waiter&) = delete;
    waiter& operator=(const waiter&) = delete;
    ~waiter();

    wait_status status() const noexcept { return status_; }
    bool waiting() const noexcept { return status_ == wait_status::waiting; }

    /// Ends the wait with `how` and readies the waiting fiber. Does nothing if the wait
    /// already ended, so an operation and a timeout may both try. Never suspends.
    void complete(wait_status how) noexcept;
    void notify() noexcept { complete(wait_status::notified); }

    /// Called once when the wait ends any other way than notify() (timeout, cancel,
    /// deadlock), so the operation can forget this waiter (e.g. uv_cancel a request).
    void on_abandon(void (*fn)(waiter&, void*), void* ctx) noexcept {
        abandon_ = fn;
        abandon_ctx_ = ctx;
    }

    /// A result slot for the operation (bytes, status, ...), set before notify().
    std::int64_t value = 0;

private:
    friend class wait_queue;
    friend class scheduler;
    friend class deadline_heap;

    fiber_base* owner_ = nullptr;
    wait_queue* queue_ = nullptr;
    waiter* prev_ = nullptr;
    waiter* next_ = nullptr;
    std::uint64_t deadline_ = 0;  // loop time in ms; 0 = none
    void (*abandon_)(waiter&, void*) = nullptr;
    void* abandon_ctx_ = nullptr;
    // 32 bits of heap index beside the status keep a waiter at 72 bytes: it sits in every
    // fiber, and an idle connection's memory is mostly its fiber.
    std::uint32_t heap_index_ = no_heap_index;
    wait_status status_ = wait_status::idle;
};

/// FIFO of waiters on one object (a timer's tick, a fiber's end, a stream's data).
class wait_queue {
public:
    wait_queue() = default;
    wait_queue(const wait_queue&) = delete;
    wait_queue& operator=(const wait_queue&) = delete;
    /// Wakes everyone left with `cancelled`: an object going away must not strand fibers.
    ~wait_queue();

    /// Appends a waiter that has begun waiting (scheduler::begin_wait).
    void push(waiter& w) noexcept;
    void remove(waiter& w) noexcept;
    bool empty() const noexcept { return head_ == nullptr; }
    /// Wakes the oldest waiter; returns false if there was none.
    bool notify_one(wait_status how = wait_status::notified) noexcept;
    void notify_all(wait_status how = wait_status::notified) noexcept;

private:
    // A circular list: head_->prev_ is the tail. One pointer per queue, not two, since a
    // queue sits in every fiber (its joiners) and every stream.
    waiter* head_ = nullptr;
};

}  // namespace luv::detail
