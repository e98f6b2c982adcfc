// Readiness of a descriptor that luv does not read or write itself: the LuaSocket drop-in's
// sockets and ØMQ's ZMQ_FD. A fiber that got EAGAIN waits here for "readable" or
// "writable", then does the system call again itself, as a blocking library would after
// poll(2). One fd_poll per descriptor per thread: libuv allows one watcher per fd in a
// loop, so every user of the descriptor (its socket, a select) shares this object.
//
// The events stay armed after a wake-up ("lazy stop"): a request-reply client waits for
// "readable" again right after reading, and re-arming costs an epoll_ctl each time. The
// interest is dropped only when libuv reports an event that nobody waits for.
//
// Heap allocated; freed once it is closed (the libuv close callback ran) and no holder
// (acquire/release) is left. The handle keeps the loop alive only while someone waits.
#pragma once

#include <uv.h>

#include "core/waiter.hpp"

namespace luv::detail {

class scheduler;

class fd_poll {
public:
    /// One of several descriptors a single waiter waits on (socket.select): the poll
    /// notifies `w` and records what happened in `revents`.
    struct interest {
        waiter* w = nullptr;
        int events = 0;   // UV_READABLE | UV_WRITABLE
        int revents = 0;  // what was seen
        fd_poll* poll = nullptr;
        interest* prev = nullptr;
        interest* next = nullptr;
    };

    /// The thread's poll for `fd`, made on first use; the caller holds it until
    /// release(). Returns nullptr and sets `status` (a libuv error: EEXIST if another
    /// libuv handle of this loop watches the fd, EPERM for a regular file). Sets the fd
    /// non-blocking. Never suspends.
    static fd_poll* acquire(scheduler& sched, int fd, int& status) noexcept;
    /// Drops a hold; the last one closes the poll (never the fd). Never suspends.
    void release() noexcept;
    /// Closes the poll now, before its descriptor is closed or replaced, whoever else
    /// holds it: its waiters wake with `cancelled`. Idempotent. Never suspends.
    void close() noexcept;
    bool closed() const noexcept { return closed_; }

    /// A callback instead of a waiter, for a descriptor whose readiness does not say which
    /// waiter may go on: ØMQ's ZMQ_FD only says "look at ZMQ_EVENTS", so the ØMQ socket
    /// looks, then wakes its receivers or its senders. `on_event` runs inside the loop
    /// (never on a Lua stack) and may unwatch itself.
    struct watcher {
        void (*on_event)(watcher& self, int events) = nullptr;
        void* data = nullptr;  // the owner's
        int events = 0;        // UV_READABLE | UV_WRITABLE
        fd_poll* poll = nullptr;
        watcher* prev = nullptr;
        watcher* next = nullptr;
    };

    /// Registers the begun wait `w` for UV_READABLE or UV_WRITABLE. Returns 0, or a
    /// libuv error (then `w` is not registered). Never suspends.
    int wait(waiter& w, int event) noexcept;
    /// Registers a select interest (its w begun). Never suspends.
    int add(interest& i) noexcept;
    /// Unregisters it (after its wait ended, however). Never suspends.
    void remove(interest& i) noexcept;
    /// Registers a watcher (idempotent): it is called on each event it asked for and keeps
    /// the loop alive until unwatch(). Returns 0 or a libuv error. Never suspends.
    int watch(watcher& w) noexcept;
    /// Unregisters it (idempotent). Never suspends.
    void unwatch(watcher& w) noexcept;
    /// After a wait on this poll ended, however it ended: stops holding the loop alive
    /// if nobody waits any more. Never suspends.
    void waited() noexcept;

    int fd() const noexcept { return fd_; }
    /// True while libuv watches the descriptor for `event`: if it becomes ready, a wait
    /// registered now ends at the next poll of the loop. Never suspends.
    bool armed(int event) const noexcept { return (armed_ & event) != 0; }

private:
    fd_poll() = default;
    ~fd_poll() = default;
    int arm(int events) noexcept;
    void update_ref() noexcept;
    bool anyone_waits() const noexcept;
    void maybe_free() noexcept;
    static void on_event(uv_poll_t* h, int status, int events);
    static void on_close(uv_handle_t* h);

    uv_poll_t uv_{};
    wait_queue readers_;
    wait_queue writers_;
    interest* interests_ = nullptr;
    watcher* watchers_ = nullptr;
    int fd_ = -1;
    int armed_ = 0;  // the events libuv watches now
    unsigned holders_ = 0;
    bool closed_ = false;
    bool close_done_ = false;
};

}  // namespace luv::detail
