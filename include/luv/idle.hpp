// luv/idle.hpp - idle watchers: wake fibers on every loop iteration while started.
#pragma once

#include "luv/error.hpp"

namespace luv {

namespace detail {
struct idle_handle;
}

/// A libuv idle watcher on the calling thread's runtime. While started, the loop does
/// not block in poll and every waiting fiber wakes once per loop iteration.
class idle {
public:
    /// Throws luv::system_error, or std::logic_error without a runtime. Never suspends.
    idle();
    ~idle();
    idle(idle&& o) noexcept;
    idle& operator=(idle&& o) noexcept;
    idle(const idle&) = delete;
    idle& operator=(const idle&) = delete;

    /// Never suspends.
    void start();
    /// Never suspends.
    void stop();
    bool active() const noexcept;
    /// Waits for the next idle tick. Throws luv::system_error(UV_ECANCELED) if the fiber
    /// is cancelled or the watcher closed. Suspends the calling fiber.
    void wait();
    /// Idempotent. Never suspends.
    void close() noexcept;
    bool closed() const noexcept { return h_ == nullptr; }

private:
    detail::idle_handle* h_;
};

}  // namespace luv
