// Signals: names and numbers, and the libuv side of a signal watcher that fibers wait on.
// A watcher counts deliveries that nobody waited for, so a fiber that starts waiting
// for SIGTERM a moment too late still sees it. It keeps the loop alive only while a
// fiber waits: a service waiting for SIGTERM stays up, a script that merely made a
// watcher still ends.
#pragma once

#include <string_view>

#include <uv.h>

#include "uv/handle.hpp"

namespace luv::detail {

class scheduler;

/// The number of "SIGTERM", "TERM" or "term" (any case), or 0 if there is no such
/// signal. Never suspends.
int signal_number(std::string_view name) noexcept;
/// "SIGTERM" for SIGTERM, nullptr for a number with no name. Never suspends.
const char* signal_name(int signum) noexcept;

struct signal_handle : waitable_handle<signal_handle, uv_signal_t> {
    /// Starts watching `signum`. Throws luv::system_error. Never suspends.
    static signal_handle* create(scheduler& sched, int signum);

    /// Takes a delivery that came while nobody waited: true if there was one.
    bool take_pending() noexcept;
    /// Registers `w` (begun) for the next delivery and keeps the loop alive meanwhile.
    void wait(waiter& w) noexcept;
    /// Called by a waiter once its wait is over, however it ended: the loop stops being
    /// held alive when nobody waits any more. Never suspends.
    void waited() noexcept;

    int signum = 0;
    unsigned pending = 0;
};

}  // namespace luv::detail
