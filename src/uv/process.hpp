// A child process: its pid, its exit status once known, and the fibers waiting for it.
//
// Children are started with posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK), no copy of
// the page tables, about 1.5x the rate of libuv 1.44's fork+exec) and reaped by a SIGCHLD
// watcher of our own that waitpid()s each of our children, never -1, so libuv's reaping
// of its own children (uv_spawn, still used to change uid/gid) is unaffected.
//
// The handle lives until the child has exited, even when its owner lets go first, so
// the child is still reaped (no zombie); a child nobody holds any more no longer keeps
// the loop alive. Heap allocated: freed once both have happened.
#pragma once

#include <cstdint>

#include <uv.h>

#include "core/waiter.hpp"

namespace luv::detail {

class scheduler;
class stream_handle;
struct child_reaper;

/// What to start: the bindings fill it in, without libuv's types.
struct spawn_options {
    enum class stdio : std::uint8_t {
        inherit,  // the descriptor `fd` of this process
        ignore,   // /dev/null
        pipe,     // a new pipe; `stream` (a fresh pipe stream_handle) is the parent's end
        stream,   // the descriptor of `stream`, an open luv stream
    };
    struct stdio_spec {
        stdio how = stdio::inherit;
        int fd = 0;
        stream_handle* stream = nullptr;
    };

    const char* file = nullptr;
    char** args = nullptr;  // argv, nullptr-terminated, args[0] the program
    char** env = nullptr;   // "NAME=value"..., nullptr-terminated; nullptr: inherit
    const char* cwd = nullptr;
    stdio_spec stdio_of[3];  // stdin, stdout, stderr
    bool detached = false;
    bool set_uid = false;
    bool set_gid = false;
    unsigned uid = 0;
    unsigned gid = 0;
};

/// Sends `signum` to any process, or to a process group when `pid` is negative.
/// Never suspends.
int kill_pid(int pid, int signum) noexcept;

class process_handle {
public:
    /// Starts the child. Returns the handle, or nullptr with the libuv status in
    /// `status`. Never suspends.
    static process_handle* spawn(scheduler& sched, const spawn_options& options, int& status);

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
    friend struct child_reaper;

    process_handle() = default;
    static process_handle* spawn_with_libuv(scheduler& sched, const spawn_options& options,
                                            int& status);
    static void on_exit(uv_process_t* p, std::int64_t exit_status, int term_signal);
    void exit_with(std::int64_t exit_status, int term_signal) noexcept;
    /// Whether the child should keep the loop alive now; applies the answer.
    void update_hold() noexcept;
    void destroy() noexcept;

    uv_process_t uv_{};              // only for a child started by uv_spawn (uid/gid)
    child_reaper* reaper_ = nullptr;  // ours: the SIGCHLD watcher that reaps it
    process_handle* prev_ = nullptr;  // in reaper_'s list until reaped
    process_handle* next_ = nullptr;
    wait_queue waiters_;
    std::int64_t exit_status_ = 0;
    int term_signal_ = 0;
    int pid_ = 0;
    bool exited_ = false;
    bool released_ = false;
    bool detached_ = false;
    bool holding_ = false;    // counted as keeping the loop alive
    bool by_libuv_ = false;   // started by uv_spawn: reaped by libuv, freed in uv_close
};

}  // namespace luv::detail
