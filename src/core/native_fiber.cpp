#include "core/native_fiber.hpp"

#include <cstdio>
#include <system_error>

#include "core/scheduler.hpp"
#include "luv/error.hpp"

namespace luv::detail {
namespace {

// Live C++ fibers of each scheduler, so that a runtime going away can unwind them.
// One list per OS thread is enough: there is one scheduler per thread.
thread_local native_fiber* live_head = nullptr;

void link(native_fiber* f) noexcept {
    f->next_live = live_head;
    if (live_head != nullptr) {
        live_head->prev_live = f;
    }
    live_head = f;
}

void unlink(native_fiber* f) noexcept {
    (f->prev_live != nullptr ? f->prev_live->next_live : live_head) = f->next_live;
    if (f->next_live != nullptr) {
        f->next_live->prev_live = f->prev_live;
    }
    f->next_live = f->prev_live = nullptr;
}

}  // namespace

native_fiber::native_fiber(std::unique_ptr<task> body)
    : fiber_base(kind::native), body_(std::move(body)) {
    link(this);
}

native_fiber::~native_fiber() = default;

void native_fiber::release() noexcept {
    if (--refs_ == 0) {
        delete this;
    }
}

void native_fiber::start_unwinding() noexcept {
    mark_unwinding();
    cancel();
}

fiber_base::slice native_fiber::run_slice() {
    started_ = true;
    try {
        body_->run();
    } catch (const forced_unwind&) {
        // The runtime is going away; the fiber's stack is now unwound.
    } catch (...) {
        error_ = std::current_exception();
    }
    body_.reset();
    return slice::finished;
}

void native_fiber::on_finished(bool joined) noexcept {
    unlink(this);
    if (error_ && !joined && !unwinding()) {
        try {
            std::rethrow_exception(error_);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "luv: exception in a fiber nobody joined: %s\n", e.what());
        } catch (...) {
            std::fprintf(stderr, "luv: exception in a fiber nobody joined\n");
        }
    }
    release();
}

wait_status suspend_checked(scheduler& sched, waiter& w) {
    const wait_status how = sched.suspend(w);
    fiber_base* self = sched.current();
    if (self->unwinding()) {
        throw forced_unwind{};
    }
    return how;
}

void unwind_native_fibers(scheduler& sched) {
    if (live_head == nullptr) {
        return;
    }
    // A fiber that never ran is dropped without running: starting its body now, in a
    // destructor, would only make it meet forced_unwind at its first wait.
    for (native_fiber* f = live_head; f != nullptr;) {
        native_fiber* next = f->next_live;
        if (!f->started()) {
            unlink(f);
            sched.forget(*f);
            f->release();
        } else {
            f->start_unwinding();
        }
        f = next;
    }
    if (live_head != nullptr && !sched.in_fiber()) {
        sched.run();
    }
    // Whatever could not run to its end (e.g. stuck in a host's own blocking code) is
    // dropped with its stack.
    while (live_head != nullptr) {
        native_fiber* f = live_head;
        unlink(f);
        sched.forget(*f);
        f->release();
    }
}

native_fiber* spawn_native(runtime& rt, std::unique_ptr<task> body) {
    if (&rt.scheduler() != current_scheduler) {
        throw std::logic_error("luv: a fiber must be spawned on its runtime's own thread");
    }
    auto* f = new native_fiber(std::move(body));
    rt.scheduler().ready(*f);
    return f;
}

void retain(native_fiber* f) noexcept {
    if (f != nullptr) {
        f->retain();
    }
}

void release(native_fiber* f) noexcept {
    if (f != nullptr) {
        f->release();
    }
}

void join_native(native_fiber* f) {
    if (f == nullptr) {
        throw std::logic_error("luv: join on an empty fiber handle");
    }
    scheduler& sched = f->sched();
    if (sched.current() == f) {
        throw std::logic_error("luv: a fiber cannot join itself");
    }
    while (f->status() != fiber_base::state::dead) {
        waiter w;
        if (sched.begin_wait(w)) {
            f->joiners().push(w);
            suspend_checked(sched, w);
        }
        if (w.status() == wait_status::cancelled) {
            throw system_error(UV_ECANCELED, "join");
        }
        if (w.status() == wait_status::deadlock) {
            throw system_error(std::make_error_code(std::errc::resource_deadlock_would_occur),
                                    "luv: join: the fiber can never finish");
        }
    }
    if (f->error()) {
        std::rethrow_exception(f->error());
    }
}

bool cancel_native(native_fiber* f) noexcept { return f != nullptr && f->cancel(); }

fiber_status status_native(const native_fiber* f) noexcept {
    if (f == nullptr) {
        return fiber_status::dead;
    }
    switch (f->status()) {
    case fiber_base::state::ready:
        return fiber_status::ready;
    case fiber_base::state::running:
        return fiber_status::running;
    case fiber_base::state::dead:
        return fiber_status::dead;
    default:
        return fiber_status::suspended;
    }
}

}  // namespace luv::detail

namespace luv::this_fiber {

void yield() {
    detail::scheduler& sched = runtime::get().scheduler();
    if (sched.current()->unwinding()) {
        throw forced_unwind{};
    }
    sched.yield();
    if (sched.current()->unwinding()) {
        throw forced_unwind{};
    }
}

void sleep_for(std::chrono::milliseconds d) {
    detail::scheduler& sched = runtime::get().scheduler();
    const auto ms = d.count() > 0 ? static_cast<std::uint64_t>(d.count()) : 0;
    detail::waiter w;
    if (sched.begin_wait(w, sched.deadline_after_ms(ms))) {
        detail::suspend_checked(sched, w);
    }
    if (w.status() == detail::wait_status::cancelled) {
        throw system_error(UV_ECANCELED, "sleep_for");
    }
}

bool in_fiber() noexcept {
    runtime* rt = runtime::current();
    return rt != nullptr && rt->scheduler().in_fiber();
}

}  // namespace luv::this_fiber
