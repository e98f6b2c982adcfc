// What every libuv handle that fibers wait on has in common: the handle itself, the
// queue of waiting fibers, and a close that wakes them and frees the object only in
// libuv's close callback. Derived types add their own start/stop.
#pragma once

#include <uv.h>

#include "core/waiter.hpp"

namespace luv::detail {

template <class Derived, class Uv>
struct waitable_handle {
    Uv uv{};
    wait_queue waiters;

    bool active() const noexcept {
        return uv_is_active(reinterpret_cast<const uv_handle_t*>(&uv)) != 0;
    }

    /// Wakes the waiters with `cancelled` and frees the object once libuv is done with
    /// it. Never suspends.
    void close() noexcept {
        waiters.notify_all(wait_status::cancelled);
        uv_close(reinterpret_cast<uv_handle_t*>(&uv),
                 [](uv_handle_t* h) { delete static_cast<Derived*>(h->data); });
    }

protected:
    /// Initialises the handle with `init(loop, &uv)`; throws luv::system_error.
    template <class Init>
    static Derived* make(uv_loop_t* loop, Init init, const char* what);
};

}  // namespace luv::detail
