#include "uv/process.hpp"

namespace luv::detail {

process_handle* process_handle::spawn(uv_loop_t* loop, uv_process_options_t& options,
                                      int& status) {
    auto* h = new process_handle();
    h->uv_.data = h;
    options.exit_cb = &on_exit;
    status = uv_spawn(loop, &h->uv_, &options);
    if (status < 0) {
        // uv_spawn has registered the handle with the loop even when it fails.
        h->released_ = true;
        h->close();
        return nullptr;
    }
    h->pid_ = h->uv_.pid;
    if ((options.flags & UV_PROCESS_DETACHED) != 0) {
        h->detached_ = true;
        uv_unref(reinterpret_cast<uv_handle_t*>(&h->uv_));  // the child lives on its own
    }
    return h;
}

void process_handle::wait(waiter& w) noexcept {
    waiters_.push(w);
    uv_ref(reinterpret_cast<uv_handle_t*>(&uv_));
}

void process_handle::waited() noexcept {
    if ((detached_ || released_) && waiters_.empty() && !exited_) {
        uv_unref(reinterpret_cast<uv_handle_t*>(&uv_));
    }
}

int process_handle::kill(int signum) noexcept {
    if (exited_) {
        return UV_ESRCH;
    }
    return uv_process_kill(&uv_, signum);
}

void process_handle::release() noexcept {
    released_ = true;
    waiters_.notify_all(wait_status::cancelled);
    if (exited_) {
        close();
    } else {
        uv_unref(reinterpret_cast<uv_handle_t*>(&uv_));
    }
}

void process_handle::on_exit(uv_process_t* p, std::int64_t exit_status, int term_signal) {
    auto* h = static_cast<process_handle*>(p->data);
    h->exited_ = true;
    h->exit_status_ = exit_status;
    h->term_signal_ = term_signal;
    h->waiters_.notify_all();
    if (h->released_) {
        h->close();
    }
}

void process_handle::close() noexcept {
    uv_close(reinterpret_cast<uv_handle_t*>(&uv_),
             [](uv_handle_t* h) { delete static_cast<process_handle*>(h->data); });
}

}  // namespace luv::detail
