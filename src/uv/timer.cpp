#include "uv/timer.hpp"

#include "uv/handle_impl.hpp"

#include <utility>

#include "core/native_fiber.hpp"
#include "core/scheduler.hpp"
#include "luv/error.hpp"
#include "luv/runtime.hpp"
#include "luv/timer.hpp"

namespace luv::detail {
namespace {

void on_fire(uv_timer_t* t) {
    static_cast<timer_handle*>(t->data)->waiters.notify_all();
}

}  // namespace

timer_handle* timer_handle::create(scheduler& sched) {
    return make(sched.loop(), &uv_timer_init, "uv_timer_init");
}

// libuv counts a timer's delay from the loop's cached clock, which stands still while
// fibers compute; refresh it so that a delay counts from the call.
int timer_handle::start(std::uint64_t delay_ms, std::uint64_t repeat_ms) noexcept {
    uv_update_time(uv.loop);
    return uv_timer_start(&uv, &on_fire, delay_ms, repeat_ms);
}

int timer_handle::stop() noexcept { return uv_timer_stop(&uv); }

int timer_handle::again() noexcept {
    uv_update_time(uv.loop);
    return uv_timer_again(&uv);
}

std::uint64_t timer_handle::repeat() const noexcept { return uv_timer_get_repeat(&uv); }

}  // namespace luv::detail

namespace luv {

timer::timer() : h_(detail::timer_handle::create(runtime::get().scheduler())) {}

timer::~timer() { close(); }

timer::timer(timer&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}

timer& timer::operator=(timer&& o) noexcept {
    if (this != &o) {
        close();
        h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
}

namespace {

detail::timer_handle& open_handle(detail::timer_handle* h) {
    if (h == nullptr) {
        throw system_error(UV_EBADF, "timer is closed");
    }
    return *h;
}

}  // namespace

void timer::start(std::chrono::milliseconds delay, std::chrono::milliseconds repeat) {
    const auto d = delay.count() > 0 ? static_cast<std::uint64_t>(delay.count()) : 0;
    const auto r = repeat.count() > 0 ? static_cast<std::uint64_t>(repeat.count()) : 0;
    check(open_handle(h_).start(d, r));
}

void timer::stop() { check(open_handle(h_).stop()); }

void timer::again() { check(open_handle(h_).again()); }

bool timer::active() const noexcept { return h_ != nullptr && h_->active(); }

bool timer::wait_until(unsigned long long deadline_ms) {
    detail::timer_handle& h = open_handle(h_);
    detail::scheduler& sched = runtime::get().scheduler();
    detail::waiter w;
    if (sched.begin_wait(w, deadline_ms)) {
        h.waiters.push(w);
        detail::suspend_checked(sched, w);
    }
    switch (w.status()) {
    case detail::wait_status::notified:
        return true;
    case detail::wait_status::timed_out:
        return false;
    case detail::wait_status::deadlock:
        throw system_error(std::make_error_code(std::errc::resource_deadlock_would_occur),
                                "luv: timer::wait: the timer is stopped and nothing else runs");
    default:
        throw system_error(UV_ECANCELED, "timer::wait");
    }
}

void timer::wait() { wait_until(0); }

bool timer::wait_for(std::chrono::milliseconds timeout) {
    detail::scheduler& sched = runtime::get().scheduler();
    const auto ms = timeout.count() > 0 ? static_cast<std::uint64_t>(timeout.count()) : 0;
    return wait_until(sched.deadline_after_ms(ms));
}

void timer::close() noexcept {
    if (h_ != nullptr) {
        std::exchange(h_, nullptr)->close();
    }
}

}  // namespace luv
