// OS threads: the libuv side of luv.thread. A thread runs a body the binding gives it (a
// lua_State and a runtime of its own) on a uv_thread_t; the thread that started it, its
// parent, learns that it ended through a uv_async_t in the parent's loop, so that a join
// suspends only the joining fiber instead of blocking the whole OS thread.
//
// Who touches what:
// - The input bytes are written by the parent before the OS thread exists, and read only
//   by the new thread. The outcome is written only by the new thread, before its last act
//   (uv_async_send), and read by the parent only after uv_thread_join() in the async
//   callback: thread creation and join order every access, so no lock is needed.
// - Everything else (the joiners, the flags, the async handle) is the parent's alone.
//
// Lifetime: a running thread keeps the parent's loop alive (the async handle is active),
// whether or not anything still refers to it, so `luv.run()` and the `luv` command wait for
// it. The object is freed once both its owner has released it and the async handle has
// been closed; the handle is closed only after the OS thread was joined, so the new
// thread can never outlive the object it writes into.
#pragma once

#include <cstddef>
#include <string>

#include <uv.h>

#include "core/waiter.hpp"

namespace luv::detail {

class scheduler;

class thread_handle {
public:
    /// What the new thread runs, on that thread: it reads input() and ends with
    /// set_outcome() (or leaves the outcome empty, which joins as a failure).
    using body_fn = void (*)(thread_handle&) noexcept;

    /// The new thread's own stack. Its code runs in fibers on the runtime's 1 MiB stacks;
    /// this one holds what runs outside them: opening the state, the codec (which
    /// refuses nesting beyond what 1 MiB holds), finalizers. glibc keeps 40 MiB of
    /// stacks of ended threads for reuse: 40 of these, against 5 of the default 8 MiB.
    static constexpr std::size_t stack_size = 1024 * 1024;

    /// Starts an OS thread running body(*this) and returns its handle, owned by the
    /// caller until release(). `owner` tags the handle for join_owned() (a lua_State).
    /// Throws luv::system_error if no thread can be started (nothing is left behind).
    /// Never suspends.
    static thread_handle* start(scheduler& sched, std::string input, body_fn body,
                                const void* owner);

    thread_handle(const thread_handle&) = delete;
    thread_handle& operator=(const thread_handle&) = delete;

    // ---- the new thread's side ----------------------------------------------------------

    /// The bytes given to start(). Never suspends.
    const std::string& input() const noexcept { return input_; }
    /// Frees the input once it has been read. Never suspends.
    void drop_input() noexcept { std::string().swap(input_); }
    /// Records how the thread ended: `ok` (the body returned) or not, the encoded
    /// values for the joiner, and for a failure a printable message, written to stderr
    /// if nobody ever joins. Never suspends.
    void set_outcome(bool ok, std::string values, std::string error_text) noexcept;

    // ---- the parent's side ----------------------------------------------------------------

    /// True once the OS thread has ended and been joined: the outcome can be read.
    /// Never suspends.
    bool finished() const noexcept { return finished_; }
    bool succeeded() const noexcept { return ok_; }
    /// The encoded values; empty if the body could not produce any (then error_text()
    /// says why). Never suspends.
    const std::string& values() const noexcept { return values_; }
    const std::string& error_text() const noexcept { return error_text_; }

    /// Registers `w` (begun) to be notified when the thread ends. Never suspends.
    void wait(waiter& w) noexcept { joiners_.push(w); }
    /// Someone has seen the outcome: an error is no longer reported on stderr. Never
    /// suspends.
    void mark_joined() noexcept { joined_ = true; }

    /// The owner lets go (its Lua object was collected). A thread still running runs on,
    /// and is joined and freed when it ends; a failure nobody joined is reported on
    /// stderr. Never suspends.
    void release() noexcept;

    /// Blocks the calling OS thread until every thread started with `owner` has ended,
    /// and joins them: for a lua_State that closes while its threads run, since the
    /// loop their ends would be reported to goes away with it. Does not suspend: blocks.
    static void join_owned(const void* owner) noexcept;

private:
    thread_handle() = default;
    ~thread_handle() = default;

    static void on_async(uv_async_t* a);
    static void on_close(uv_handle_t* h);
    static void entry(void* arg);
    /// Joins the OS thread (which has ended or is about to), wakes the joiners and closes
    /// the async handle.
    void finish() noexcept;
    void report_if_unjoined() noexcept;
    void link() noexcept;
    void unlink() noexcept;

    uv_async_t async_{};
    uv_thread_t os_thread_{};
    body_fn body_ = nullptr;
    bool started_ = false;  // os_thread_ is a thread to join
    scheduler* sched_ = nullptr;
    const void* owner_ = nullptr;
    wait_queue joiners_;
    // Threads of this OS thread's runtime that have not ended yet (for join_owned).
    thread_handle* prev_running_ = nullptr;
    thread_handle* next_running_ = nullptr;

    std::string input_;
    std::string values_;
    std::string error_text_;
    bool ok_ = false;

    bool finished_ = false;
    bool joined_ = false;
    bool released_ = false;
    bool closed_ = false;
};

}  // namespace luv::detail
