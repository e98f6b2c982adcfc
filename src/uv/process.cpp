#include "uv/process.hpp"

#include "core/scheduler.hpp"
#include "uv/stream.hpp"

namespace luv::detail {

int kill_pid(int pid, int signum) noexcept { return uv_kill(pid, signum); }

process_handle* process_handle::spawn(scheduler& sched, const spawn_options& o, int& status) {
    uv_stdio_container_t stdio[3];
    for (int fd = 0; fd < 3; ++fd) {
        const spawn_options::stdio_spec& spec = o.stdio_of[fd];
        switch (spec.how) {
        case spawn_options::stdio::inherit:
            stdio[fd].flags = UV_INHERIT_FD;
            stdio[fd].data.fd = spec.fd;
            break;
        case spawn_options::stdio::ignore:
            stdio[fd].flags = UV_IGNORE;
            break;
        case spawn_options::stdio::pipe:
            // Readable and writable as the child sees them.
            stdio[fd].flags = static_cast<uv_stdio_flags>(
                UV_CREATE_PIPE | (fd == 0 ? UV_READABLE_PIPE : UV_WRITABLE_PIPE));
            stdio[fd].data.stream = spec.stream->stream();
            break;
        case spawn_options::stdio::stream:
            stdio[fd].flags = UV_INHERIT_STREAM;
            stdio[fd].data.stream = spec.stream->stream();
            break;
        }
    }
    uv_process_options_t options{};
    options.exit_cb = &on_exit;
    options.file = o.file;
    options.args = o.args;
    options.env = o.env;
    options.cwd = o.cwd;
    options.stdio_count = 3;
    options.stdio = stdio;
    options.flags = (o.detached ? UV_PROCESS_DETACHED : 0) | (o.set_uid ? UV_PROCESS_SETUID : 0) |
                    (o.set_gid ? UV_PROCESS_SETGID : 0);
    options.uid = static_cast<uv_uid_t>(o.uid);
    options.gid = static_cast<uv_gid_t>(o.gid);

    auto* h = new process_handle();
    h->uv_.data = h;
    status = uv_spawn(sched.loop(), &h->uv_, &options);
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
