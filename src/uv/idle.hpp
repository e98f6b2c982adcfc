// The libuv side of an idle watcher; freed in its close callback like timer_handle.
#pragma once

#include <uv.h>

#include "uv/handle.hpp"

namespace luv::detail {

class scheduler;

struct idle_handle : waitable_handle<idle_handle, uv_idle_t> {
    /// Throws luv::system_error. Never suspends.
    static idle_handle* create(scheduler& sched);

    int start() noexcept;
    int stop() noexcept;
};

}  // namespace luv::detail
