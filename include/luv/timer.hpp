// luv/timer.hpp - timers that fibers wait on.
#pragma once

#include <chrono>

#include "luv/error.hpp"

namespace luv {

namespace detail {
struct timer_handle;
}

/// A libuv timer on the calling thread's runtime. Every fiber waiting on it wakes when
/// it fires. Closing it wakes its waiters with UV_ECANCELED.
class timer {
public:
    /// Throws luv::system_error, or std::logic_error without a runtime. Never suspends.
    timer();
    /// Closes the timer.
    ~timer();
    timer(timer&& o) noexcept;
    timer& operator=(timer&& o) noexcept;
    timer(const timer&) = delete;
    timer& operator=(const timer&) = delete;

    /// Fires after `delay`, then every `repeat` if it is not zero. Never suspends.
    void start(std::chrono::milliseconds delay, std::chrono::milliseconds repeat = {});
    /// Never suspends.
    void stop();
    /// Restarts a repeating timer from now with its repeat interval. Never suspends.
    void again();
    /// True while started. Never suspends.
    bool active() const noexcept;

    /// Waits for the next time the timer fires. Throws luv::system_error(UV_ECANCELED)
    /// if the fiber is cancelled or the timer closed. Suspends the calling fiber.
    void wait();
    /// Like wait(), but returns false if `timeout` passes first. Suspends the calling
    /// fiber.
    bool wait_for(std::chrono::milliseconds timeout);

    /// Idempotent. Never suspends.
    void close() noexcept;
    bool closed() const noexcept { return h_ == nullptr; }

private:
    bool wait_until(unsigned long long deadline_ms);
    detail::timer_handle* h_;
};

}  // namespace luv
