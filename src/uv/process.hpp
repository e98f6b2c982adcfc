// The libuv side of a child process: the handle, its exit status once known, and the
// fibers waiting for it. Heap allocated, freed in libuv's close callback.
//
// The handle stays open until the child has exited, even when its owner lets go first:
// libuv reaps only the children whose handles are open, so closing early would leave
// a zombie. A child nobody holds any more no longer keeps the loop alive.
#pragma once

#include <cstdint>

#include <uv.h>

#include "core/waiter.hpp"

namespace luv::detail {

class process_handle {
public:
    /// Starts the child described by `options` (its exit_cb is set here). Returns the
    /// handle, or nullptr with the libuv status in `status`. Never suspends.
    static process_handle* spawn(uv_loop_t* loop, uv_process_options_t& options, int& status);

    int pid() const noexcept { return pid_; }
    bool exited() const noexcept { return exited_; }
    std::int64_t exit_status() const noexcept { return exit_status_; }
    int term_signal() const noexcept { return term_signal_; }

    /// Sends `signum`; UV_ESRCH once the child has exited. Never suspends.
    int kill(int signum) noexcept;

    /// Registers `w` (begun) to be woken when the child exits, and keeps the loop alive
    /// meanwhile (also for a detached child). Never suspends.
    void wait(waiter& w) noexcept;
    /// Called by a waiter once its wait is over, however it ended. Never suspends.
    void waited() noexcept;

    /// The owner lets go: its waiters wake with `cancelled`, and the handle closes as soon
    /// as the child has exited (now, if it has). Never suspends.
    void release() noexcept;

private:
    process_handle() = default;
    static void on_exit(uv_process_t* p, std::int64_t exit_status, int term_signal);
    void close() noexcept;

    uv_process_t uv_{};
    wait_queue waiters_;
    std::int64_t exit_status_ = 0;
    int term_signal_ = 0;
    int pid_ = 0;
    bool exited_ = false;
    bool released_ = false;
    bool detached_ = false;
};

}  // namespace luv::detail
