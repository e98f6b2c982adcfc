#include "core/scheduler.hpp"

#include "luv/error.hpp"
#include "luv/fiber.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <system_error>
#include <utility>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LUV_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define LUV_ASAN 1
#endif
#if defined(LUV_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif

namespace luv::detail {

using boost::context::detail::fcontext_t;
using boost::context::detail::jump_fcontext;
using boost::context::detail::make_fcontext;
using boost::context::detail::transfer_t;

// Every jump carries one of these so that the side that arrives knows what the context
// it receives (transfer_t::fctx) belongs to.
struct scheduler::switch_msg {
    enum kind_t : unsigned char {
        parked,    // the sender parked: fctx is that fiber's context
        resumed,   // the loop resumed a parked fiber: fctx is the loop's context
        released,  // a slice ended on a stale carrier: free it, fctx is dead
    };
    kind_t kind;
    scheduler* sched;
    fiber_base* fiber;
    stack* stale;
};

fiber_base::slice root_fiber::run_slice() {
    std::fputs("luv: internal error: the root has no slice to run\n", stderr);
    std::abort();
}

scheduler::scheduler(uv_loop_t* loop) : loop_(loop), current_(&root_) {
    root_.state_ = fiber_base::state::running;
    polled_at_ = uv_hrtime();
    uv_timer_init(loop_, &deadline_timer_);
    deadline_timer_.data = this;
}

scheduler::~scheduler() {
    // The loop's carrier is suspended for good; its frames hold nothing that needs
    // destroying (loop_forever keeps only trivially destructible locals).
    if (loop_stack_ != nullptr) {
        stacks_.release(loop_stack_);
    }
}

void scheduler::close() noexcept {
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&deadline_timer_))) {
        uv_close(reinterpret_cast<uv_handle_t*>(&deadline_timer_), nullptr);
    }
}

std::uint64_t scheduler::now() noexcept {
    uv_update_time(loop_);
    return uv_now(loop_);
}

void scheduler::ready(fiber_base& f) noexcept {
    if (f.state_ == fiber_base::state::ready || f.state_ == fiber_base::state::dead) {
        return;
    }
    f.state_ = fiber_base::state::ready;
    f.next_ready_ = nullptr;
    f.prev_ready_ = ready_tail_;
    if (ready_tail_ != nullptr) {
        ready_tail_->next_ready_ = &f;
    } else {
        ready_head_ = &f;
    }
    ready_tail_ = &f;
    if (in_poll_) {
        // Readied by a callback inside uv_run (a timer fires before the poll): make the
        // poll that follows non-blocking and return, or the fiber would wait for the
        // next unrelated event. uv_stop does both; uv_run clears it when it returns.
        uv_stop(loop_);
    }
}

fiber_base* scheduler::pop_ready() noexcept {
    fiber_base* f = ready_head_;
    if (f != nullptr) {
        unqueue(*f);
    }
    return f;
}

[[gnu::always_inline]] inline void scheduler::unqueue(fiber_base& f) noexcept {
    if (f.prev_ready_ == nullptr && ready_head_ != &f) {
        return;  // not queued
    }
    (f.prev_ready_ != nullptr ? f.prev_ready_->next_ready_ : ready_head_) = f.next_ready_;
    (f.next_ready_ != nullptr ? f.next_ready_->prev_ready_ : ready_tail_) = f.prev_ready_;
    f.next_ready_ = f.prev_ready_ = nullptr;
}

bool scheduler::begin_wait(waiter& w, std::uint64_t deadline_ms) {
    fiber_base& self = *current_;
    if (self.unwinding_) {
        throw forced_unwind{};
    }
    w.owner_ = &self;
    w.status_ = wait_status::waiting;
    if (self.cancel_pending_) {
        self.cancel_pending_ = false;
        w.status_ = wait_status::cancelled;
        w.abandon_ = nullptr;
        return false;
    }
    self.waiting_on_ = &w;
    w.deadline_ = deadline_ms;
    if (deadline_ms != 0) {
        deadlines_.push(w);
    }
    return true;
}

wait_status scheduler::suspend(waiter& w) {
    while (w.status_ == wait_status::waiting) {
        try {
            park();
        } catch (...) {
            w.complete(wait_status::cancelled);
            // complete() readied us; we are running, so take us off the queue again.
            unqueue(*current_);
            current_->state_ = fiber_base::state::running;
            throw;
        }
    }
    return w.status_;
}

void scheduler::end_wait(waiter& w, wait_status how) noexcept {
    if (w.status_ != wait_status::waiting) {
        return;
    }
    w.status_ = how;
    if (w.queue_ != nullptr) {
        w.queue_->remove(w);
    }
    deadlines_.remove(w);
    if (w.owner_->waiting_on_ == &w) {
        w.owner_->waiting_on_ = nullptr;
    }
    w.abandon_ = nullptr;
}

wait_status scheduler::wait(waiter& w, std::uint64_t deadline_ms) {
    if (!begin_wait(w, deadline_ms)) {
        return w.status_;
    }
    return suspend(w);
}

void scheduler::yield() {
    fiber_base& self = *current_;
    ready(self);
    // Direct hand-off: when we run on a carrier of our own (the loop sits suspended on
    // another) and the next fiber is parked too, jump straight to it instead of going
    // through the loop: one switch instead of two. The poll budget still applies, so I/O
    // is not starved by fibers that only yield.
    fiber_base* next = ready_head_;
    if (scheduler_ctx_ != nullptr && next != &self && next->ctx_ != nullptr &&
        since_poll_ + 1 < poll_every) {
        ++since_poll_;
        ++switches_;
        unqueue(*next);
        current_ = next;
        next->state_ = fiber_base::state::running;
        switch_msg msg{switch_msg::parked, this, &self, nullptr};
        jump(std::exchange(next->ctx_, nullptr), next->stack_, msg);
        return;
    }
    park();
}

void scheduler::run() {
    waiter w;
    wait(w);
}

void scheduler::park() {
    fiber_base& self = *current_;
    if (self.state_ == fiber_base::state::running) {
        self.state_ = fiber_base::state::suspended;
    }
    switch_msg msg{switch_msg::parked, this, &self, nullptr};
    if (scheduler_ctx_ != nullptr) {
        // The loop is suspended on its own carrier (it resumed us): go back to it.
        jump(std::exchange(scheduler_ctx_, nullptr), loop_stack_, msg);
    } else {
        // We run on the loop's carrier itself, above the loop's frames (or we are the
        // root and no loop exists yet): keep this stack, continue the loop on a new one.
        stack* fresh = stacks_.acquire();
        if (fresh == nullptr) {
            if (self.state_ == fiber_base::state::suspended) {
                self.state_ = fiber_base::state::running;
            }
            throw luv::system_error(std::error_code(errno, std::generic_category()),
                                    "cannot allocate a native stack to park a fiber");
        }
        self.stack_ = loop_stack_;
        loop_stack_ = fresh;
        fcontext_t carrier = make_fcontext(fresh->top(), fresh->usable(), &carrier_entry);
        jump(carrier, fresh, msg);
    }
    // Resumed by the loop: resume() already made us current and running.
}

void scheduler::carrier_entry(transfer_t t) {
    auto* msg = static_cast<switch_msg*>(t.data);
    scheduler* self = msg->sched;
#if defined(LUV_ASAN)
    const void* from_bottom = nullptr;
    std::size_t from_size = 0;
    __sanitizer_finish_switch_fiber(nullptr, &from_bottom, &from_size);
    if (msg->fiber != nullptr && msg->fiber->is_root()) {
        self->root_stack_bottom_ = from_bottom;
        self->root_stack_size_ = from_size;
    }
#endif
    self->on_arrival(t);
    self->loop_forever();
}

[[gnu::always_inline]] inline transfer_t scheduler::jump(fcontext_t to, stack* dest,
                                                         switch_msg& msg,
                                                         bool leaving_for_good) {
#if defined(LUV_ASAN)
    void* fake_stack = nullptr;
    const void* bottom = dest != nullptr ? dest->bottom() : root_stack_bottom_;
    const std::size_t size = dest != nullptr ? dest->usable() : root_stack_size_;
    __sanitizer_start_switch_fiber(leaving_for_good ? nullptr : &fake_stack, bottom, size);
#else
    (void)dest;
    (void)leaving_for_good;
#endif
    transfer_t t = jump_fcontext(to, &msg);
#if defined(LUV_ASAN)
    const void* from_bottom = nullptr;
    std::size_t from_size = 0;
    __sanitizer_finish_switch_fiber(fake_stack, &from_bottom, &from_size);
    auto* arrived = static_cast<switch_msg*>(t.data);
    if (arrived->kind == switch_msg::parked && arrived->fiber->is_root()) {
        root_stack_bottom_ = from_bottom;
        root_stack_size_ = from_size;
    }
#endif
    on_arrival(t);
    return t;
}

[[gnu::always_inline]] inline void scheduler::on_arrival(transfer_t t) noexcept {
    auto* msg = static_cast<switch_msg*>(t.data);
    switch (msg->kind) {
    case switch_msg::parked:
        msg->fiber->ctx_ = t.fctx;
        break;
    case switch_msg::resumed:
        scheduler_ctx_ = t.fctx;
        break;
    case switch_msg::released: {
        stack* stale = msg->stale;  // msg lives on that stack: read it first
        stacks_.release(stale);
        break;
    }
    }
}

void scheduler::resume(fiber_base& f) {
    ++switches_;
    current_ = &f;
    f.state_ = fiber_base::state::running;
    if (f.ctx_ != nullptr) {
        switch_msg msg{switch_msg::resumed, this, nullptr, nullptr};
        jump(std::exchange(f.ctx_, nullptr), f.stack_, msg);
        // Back in the loop: f (or the root) parked again, or f's slice ended on the
        // carrier it had kept and that carrier was freed on arrival.
        return;
    }
    after_slice(f, f.run_slice());
}

void scheduler::after_slice(fiber_base& f, fiber_base::slice how) {
    // f.stack_ set means f parked during this slice and the loop moved to another
    // carrier: we are on a stale carrier and must hand control back to the loop.
    stack* stale = std::exchange(f.stack_, nullptr);
    switch (how) {
    case fiber_base::slice::yielded:
        f.state_ = fiber_base::state::suspended;
        ready(f);
        break;
    case fiber_base::slice::waiting:
        if (f.state_ == fiber_base::state::running) {
            f.state_ = fiber_base::state::suspended;
        }
        break;
    case fiber_base::slice::finished:
        finish(f);  // f may be gone after this
        break;
    }
    current_ = &root_;
    if (stale != nullptr) {
        switch_msg msg{switch_msg::released, this, nullptr, stale};
        jump(std::exchange(scheduler_ctx_, nullptr), loop_stack_, msg, true);
        std::fputs("luv: internal error: a released carrier was resumed\n", stderr);
        std::abort();
    }
}

void scheduler::finish(fiber_base& f) noexcept {
    f.state_ = fiber_base::state::dead;
    f.cancel_pending_ = false;
    const bool joined = !f.joiners_.empty();
    f.joiners_.notify_all();
    f.on_finished(joined);
}

void scheduler::forget(fiber_base& f) noexcept {
    unqueue(f);
    if (f.waiting_on_ != nullptr) {
        waiter& w = *f.waiting_on_;
        w.status_ = wait_status::cancelled;
        if (w.queue_ != nullptr) {
            w.queue_->remove(w);
        }
        deadlines_.remove(w);
        f.waiting_on_ = nullptr;
        if (auto* abandon = std::exchange(w.abandon_, nullptr)) {
            abandon(w, w.abandon_ctx_);
        }
    }
    if (f.ctx_ != nullptr) {
        // Its C frames are dropped without unwinding. Lua fibers hold no C++ objects
        // across a wait; C++ fibers are unwound by their owner before this.
        f.ctx_ = nullptr;
        if (f.stack_ != nullptr) {
            stacks_.release(std::exchange(f.stack_, nullptr));
        }
    }
    f.state_ = fiber_base::state::dead;
}

void scheduler::loop_forever() {
    for (;;) {
        if (ready_head_ != nullptr) {
            // Fibers run first, but I/O is polled every so often so that a few busy
            // fibers cannot starve the loop.
            if (++since_poll_ >= poll_every) {
                since_poll_ = 0;
                poll(false);
            }
            resume(*pop_ready());
            continue;
        }
        since_poll_ = 0;
        const bool alive = poll(true);
        if (!alive && ready_head_ == nullptr) {
            quiescent();
        }
    }
}

bool scheduler::poll(bool block) {
    if (!deadlines_.empty()) {
        if (block) {
            const std::uint64_t now = uv_now(loop_);
            const std::uint64_t due = deadlines_.earliest();
            uv_timer_start(&deadline_timer_, &on_deadline_timer, due > now ? due - now : 0, 0);
        }
    } else if (uv_is_active(reinterpret_cast<uv_handle_t*>(&deadline_timer_))) {
        uv_timer_stop(&deadline_timer_);
    }
    in_poll_ = true;
    const int alive = uv_run(loop_, block ? UV_RUN_ONCE : UV_RUN_NOWAIT);
    in_poll_ = false;
    polled_at_ = uv_hrtime();
    expire_deadlines();
    return alive != 0 || !deadlines_.empty();
}

void scheduler::on_deadline_timer(uv_timer_t* t) {
    static_cast<scheduler*>(t->data)->expire_deadlines();
}

void scheduler::expire_deadlines() noexcept {
    const std::uint64_t now = uv_now(loop_);
    while (!deadlines_.empty() && deadlines_.earliest() <= now) {
        deadlines_.top()->complete(wait_status::timed_out);
    }
}

void scheduler::quiescent() noexcept {
    // Nothing is ready and nothing in the loop can make anything ready: whatever the
    // root waits for (luv.run(), or a join that can never end) is over. Fibers that
    // asked to run until everything else is done go first; the root's turn comes when
    // they are done too.
    if (!quiescence_.empty()) {
        quiescence_.notify_all();
    } else if (root_.waiting_on_ != nullptr) {
        root_.waiting_on_->complete(wait_status::deadlock);
    } else {
        ready(root_);
    }
}

// ---- waiter, wait_queue, fiber_base -------------------------------------------------

waiter::~waiter() {
    if (status_ == wait_status::waiting && owner_ != nullptr) {
        complete(wait_status::cancelled);
    }
}

void waiter::complete(wait_status how) noexcept {
    if (status_ != wait_status::waiting) {
        return;
    }
    status_ = how;
    if (queue_ != nullptr) {
        queue_->remove(*this);
    }
    fiber_base* owner = owner_;
    scheduler& sched = owner->sched();
    sched.deadlines_.remove(*this);
    if (owner->waiting_on_ == this) {
        owner->waiting_on_ = nullptr;
    }
    if (auto* abandon = std::exchange(abandon_, nullptr); abandon != nullptr &&
                                                            how != wait_status::notified) {
        abandon(*this, abandon_ctx_);
    }
    sched.ready(*owner);
}

wait_queue::~wait_queue() { notify_all(wait_status::cancelled); }

void wait_queue::push(waiter& w) noexcept {
    w.queue_ = this;
    if (head_ == nullptr) {
        w.prev_ = w.next_ = &w;
        head_ = &w;
        return;
    }
    waiter* tail = head_->prev_;
    w.prev_ = tail;
    w.next_ = head_;
    tail->next_ = &w;
    head_->prev_ = &w;
}

void wait_queue::remove(waiter& w) noexcept {
    if (w.queue_ != this) {
        return;
    }
    if (w.next_ == &w) {
        head_ = nullptr;
    } else {
        w.prev_->next_ = w.next_;
        w.next_->prev_ = w.prev_;
        if (head_ == &w) {
            head_ = w.next_;
        }
    }
    w.prev_ = w.next_ = nullptr;
    w.queue_ = nullptr;
}

bool wait_queue::notify_one(wait_status how) noexcept {
    if (head_ == nullptr) {
        return false;
    }
    head_->complete(how);
    return true;
}

void wait_queue::notify_all(wait_status how) noexcept {
    while (head_ != nullptr) {
        head_->complete(how);
    }
}

fiber_base::~fiber_base() = default;

bool fiber_base::cancel() noexcept {
    if (state_ == state::dead) {
        return false;
    }
    if (waiting_on_ != nullptr) {
        waiting_on_->complete(wait_status::cancelled);
    } else {
        cancel_pending_ = true;
    }
    return true;
}

}  // namespace luv::detail
