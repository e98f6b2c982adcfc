#include "luv/runtime.hpp"

#include <csignal>
#include <optional>
#include <stdexcept>

#include "core/current.hpp"
#include "core/native_fiber.hpp"
#include "core/overflow_guard.hpp"
#include "core/scheduler.hpp"
#include "luv/error.hpp"

namespace luv {

namespace detail {
constinit thread_local scheduler* current_scheduler = nullptr;
}  // namespace detail

namespace {

thread_local runtime* current_runtime = nullptr;

void close_any(uv_handle_t* h, void*) {
    if (uv_is_closing(h) == 0) {
        uv_close(h, nullptr);
    }
}

}  // namespace

struct runtime::impl {
    uv_loop_t loop{};
    std::optional<detail::scheduler> sched;
};

runtime::runtime() {
    if (current_runtime != nullptr) {
        throw std::logic_error("luv: this thread already has a runtime");
    }
    impl_ = std::make_unique<impl>();
    check(uv_loop_init(&impl_->loop));
    impl_->sched.emplace(&impl_->loop);
    // A write to a peer that went away must fail with EPIPE, not kill the process.
    std::signal(SIGPIPE, SIG_IGN);
    detail::install_overflow_guard();
    current_runtime = this;
    detail::current_scheduler = &*impl_->sched;
}

runtime::~runtime() {
    detail::unwind_native_fibers(*impl_->sched);
    impl_->sched->close();
    uv_loop_t* loop = &impl_->loop;
    // Handles nobody closed are closed now (their owners leaked them).
    uv_walk(loop, &close_any, nullptr);
    uv_run(loop, UV_RUN_NOWAIT);
    // Requests still on the threadpool (a name resolution, a file read) write into the
    // loop when they end: wait for them, a second at most. One that never ends (a read
    // nobody will ever answer) leaves the loop allocated rather than freed under it.
    uv_timer_t bound;
    uv_timer_init(loop, &bound);
    bool timed_out = false;
    bound.data = &timed_out;
    uv_timer_start(&bound, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, 1000, 0);
    uv_unref(reinterpret_cast<uv_handle_t*>(&bound));
    while (!timed_out && uv_loop_alive(loop) != 0) {
        uv_ref(reinterpret_cast<uv_handle_t*>(&bound));
        uv_run(loop, UV_RUN_ONCE);
        uv_unref(reinterpret_cast<uv_handle_t*>(&bound));
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&bound), nullptr);
    uv_run(loop, UV_RUN_NOWAIT);
    if (uv_loop_close(loop) == UV_EBUSY) {
        impl_.release();  // deliberately leaked: libuv still owns part of it
        detail::remove_overflow_guard();
        if (current_runtime == this) {
            current_runtime = nullptr;
            detail::current_scheduler = nullptr;
        }
        return;
    }
    impl_->sched.reset();
    detail::remove_overflow_guard();
    if (current_runtime == this) {
        current_runtime = nullptr;
        detail::current_scheduler = nullptr;
    }
}

runtime* runtime::current() noexcept { return current_runtime; }

runtime& runtime::get() {
    if (current_runtime == nullptr) {
        throw std::logic_error("luv: no runtime on this thread (create a luv::runtime first)");
    }
    return *current_runtime;
}

uv_loop_t* runtime::loop() noexcept { return &impl_->loop; }

detail::scheduler& runtime::scheduler() noexcept { return *impl_->sched; }

void runtime::run() {
    if (impl_->sched->in_fiber()) {
        throw std::logic_error("luv: runtime::run() called from a fiber");
    }
    impl_->sched->run();
}

}  // namespace luv
