#include "uv/thread.hpp"

#include <cstdio>
#include <utility>

#include "core/scheduler.hpp"
#include "luv/error.hpp"

namespace luv::detail {
namespace {

// The threads started from this OS thread's runtime that have not ended yet. Only the
// parent thread reads or writes it; the threads themselves never touch it.
thread_local thread_handle* running_head = nullptr;

}  // namespace

thread_handle* thread_handle::start(scheduler& sched, std::string input, body_fn body,
                                    const void* owner) {
    auto* h = new thread_handle();
    h->sched_ = &sched;
    h->owner_ = owner;
    h->input_ = std::move(input);
    if (const int rc = uv_async_init(sched.loop(), &h->async_, &on_async); rc < 0) {
        delete h;
        throw system_error(rc, "uv_async_init");
    }
    h->async_.data = h;
    h->body_ = body;
    uv_thread_options_t options{};
    options.flags = UV_THREAD_HAS_STACK_SIZE;
    options.stack_size = stack_size;
    if (const int rc = uv_thread_create_ex(&h->os_thread_, &options, &entry, h); rc < 0) {
        // The async handle exists now, so the object goes away in its close callback.
        h->released_ = true;
        uv_close(reinterpret_cast<uv_handle_t*>(&h->async_), &on_close);
        throw system_error(rc, "uv_thread_create_ex");
    }
    h->started_ = true;
    h->link();
    return h;
}

void thread_handle::entry(void* arg) {
    auto* h = static_cast<thread_handle*>(arg);
    h->body_(*h);
    // The thread's last act: after it, the parent may join it and free the handle.
    uv_async_send(&h->async_);
}

void thread_handle::set_outcome(bool ok, std::string values, std::string error_text) noexcept {
    ok_ = ok;
    values_ = std::move(values);
    error_text_ = std::move(error_text);
}

void thread_handle::on_async(uv_async_t* a) { static_cast<thread_handle*>(a->data)->finish(); }

void thread_handle::on_close(uv_handle_t* h) {
    auto* self = static_cast<thread_handle*>(h->data);
    self->closed_ = true;
    if (self->released_) {
        delete self;
    }
}

void thread_handle::finish() noexcept {
    if (finished_) {
        return;
    }
    // The thread has sent its last message (or join_owned waits for it to): joining costs
    // at most the few instructions of its exit, and makes its writes visible here.
    if (std::exchange(started_, false)) {
        uv_thread_join(&os_thread_);
    }
    unlink();
    finished_ = true;
    joiners_.notify_all();
    if (released_) {
        report_if_unjoined();
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), &on_close);
}

void thread_handle::release() noexcept {
    released_ = true;
    if (finished_) {
        report_if_unjoined();
    }
    if (closed_) {
        delete this;
    }
}

// Like a fiber's error, a thread's error is never lost: if no join saw it, it is written
// to stderr, and the `luv` command's exit status says that something failed.
void thread_handle::report_if_unjoined() noexcept {
    if (ok_ || joined_) {
        return;
    }
    std::fprintf(stderr, "luv: error in thread: %s\n", error_text_.c_str());
    std::fflush(stderr);
    sched_->count_unjoined_error();
}

void thread_handle::join_owned(const void* owner) noexcept {
    thread_handle* h = running_head;
    while (h != nullptr) {
        thread_handle* next = h->next_running_;  // finish() unlinks h, and only h
        if (h->owner_ == owner) {
            h->finish();
        }
        h = next;
    }
}

void thread_handle::link() noexcept {
    next_running_ = running_head;
    if (running_head != nullptr) {
        running_head->prev_running_ = this;
    }
    running_head = this;
}

void thread_handle::unlink() noexcept {
    if (prev_running_ != nullptr) {
        prev_running_->next_running_ = next_running_;
    } else if (running_head == this) {
        running_head = next_running_;
    }
    if (next_running_ != nullptr) {
        next_running_->prev_running_ = prev_running_;
    }
    prev_running_ = next_running_ = nullptr;
}

}  // namespace luv::detail
