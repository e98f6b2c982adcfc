// A job on libuv's threadpool that a fiber waits for: blocking work (a read from a
// terminal, later the filesystem) runs on another thread while the loop goes on.
#pragma once

#include <functional>

#include <uv.h>

#include "core/waiter.hpp"

namespace luv::detail {

class scheduler;

class work_request {
public:
    /// Queues `job` on the threadpool; when it is done, `w` (already begun) is notified
    /// with `w.value` = 0, or UV_ECANCELED if it was cancelled before it started. If the
    /// wait ends first (timeout, cancel), the request is abandoned: uv_cancel is tried,
    /// and a job already running frees itself when it returns.
    /// Returns nullptr and sets `status` if libuv refuses the job. Never suspends.
    static work_request* start(scheduler& sched, waiter& w, std::function<void()> job,
                               int& status);

    /// Frees a request whose wait was notified (the caller owns it then). Never suspends.
    void finish() noexcept { delete this; }

private:
    work_request() = default;
    static void run(uv_work_t* req);
    static void done(uv_work_t* req, int status);
    static void abandon(waiter& w, void* self);

    uv_work_t req_{};
    std::function<void()> job_;
    waiter* waiter_ = nullptr;  // nullptr once the wait was abandoned
};

}  // namespace luv::detail
