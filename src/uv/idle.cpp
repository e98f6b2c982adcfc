#include "uv/idle.hpp"

#include "uv/handle_impl.hpp"

#include <utility>

#include "core/native_fiber.hpp"
#include "core/scheduler.hpp"
#include "luv/error.hpp"
#include "luv/idle.hpp"
#include "luv/runtime.hpp"

namespace luv::detail {
namespace {

void on_idle(uv_idle_t* i) { static_cast<idle_handle*>(i->data)->waiters.notify_all(); }

}  // namespace

idle_handle* idle_handle::create(scheduler& sched) {
    return make(sched.loop(), &uv_idle_init, "uv_idle_init");
}

int idle_handle::start() noexcept { return uv_idle_start(&uv, &on_idle); }

int idle_handle::stop() noexcept { return uv_idle_stop(&uv); }

}  // namespace luv::detail

namespace luv {

idle::idle() : h_(detail::idle_handle::create(runtime::get().scheduler())) {}

idle::~idle() { close(); }

idle::idle(idle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}

idle& idle::operator=(idle&& o) noexcept {
    if (this != &o) {
        close();
        h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
}

void idle::start() {
    if (h_ == nullptr) {
        throw system_error(UV_EBADF, "idle is closed");
    }
    check(h_->start());
}

void idle::stop() {
    if (h_ == nullptr) {
        throw system_error(UV_EBADF, "idle is closed");
    }
    check(h_->stop());
}

bool idle::active() const noexcept { return h_ != nullptr && h_->active(); }

void idle::wait() {
    if (h_ == nullptr) {
        throw system_error(UV_EBADF, "idle is closed");
    }
    detail::scheduler& sched = runtime::get().scheduler();
    detail::waiter w;
    if (sched.begin_wait(w)) {
        h_->waiters.push(w);
        detail::suspend_checked(sched, w);
    }
    if (w.status() == detail::wait_status::deadlock) {
        throw system_error(std::make_error_code(std::errc::resource_deadlock_would_occur),
                                "luv: idle::wait: the watcher is stopped and nothing else runs");
    }
    if (w.status() != detail::wait_status::notified) {
        throw system_error(UV_ECANCELED, "idle::wait");
    }
}

void idle::close() noexcept {
    if (h_ != nullptr) {
        std::exchange(h_, nullptr)->close();
    }
}

}  // namespace luv
