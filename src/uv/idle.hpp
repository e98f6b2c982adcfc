// The libuv side of an idle watcher; freed in its close callback like timer_handle.
#pragma once

#include <uv.h>

#include "core/waiter.hpp"

namespace luv::detail {

class scheduler;

struct idle_handle {
    /// Throws luv::system_error. Never suspends.
    static idle_handle* create(scheduler& sched);

    int start() noexcept;
    int stop() noexcept;
    bool active() const noexcept;
    /// Wakes the waiters with `cancelled` and frees the handle once libuv is done.
    void close() noexcept;

    uv_idle_t uv;
    wait_queue waiters;

private:
    idle_handle() = default;
};

}  // namespace luv::detail
