// The libuv side of a timer: the handle and the fibers waiting for it to fire. Heap
// allocated and freed only in the close callback, as libuv requires; its owners (the
// C++ luv::timer, the Lua userdata) hold a pointer and call close().
#pragma once

#include <cstdint>

#include <uv.h>

#include "uv/handle.hpp"

namespace luv::detail {

class scheduler;

struct timer_handle : waitable_handle<timer_handle, uv_timer_t> {
    /// Throws luv::system_error. Never suspends.
    static timer_handle* create(scheduler& sched);

    int start(std::uint64_t delay_ms, std::uint64_t repeat_ms) noexcept;
    int stop() noexcept;
    int again() noexcept;
    std::uint64_t repeat() const noexcept;
};

}  // namespace luv::detail
