// The C++ API luv::process (include/luv/process.hpp), over the process_handle of
// process.cpp that the Lua binding also drives: posix_spawn, the per-thread SIGCHLD
// reaper, and the release() that keeps a child we let go of reaped.
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/native_fiber.hpp"
#include "core/scheduler.hpp"
#include "luv/fiber.hpp"
#include "luv/process.hpp"
#include "luv/runtime.hpp"
#include "uv/dns.hpp"
#include "uv/process.hpp"
#include "uv/stream.hpp"

namespace luv {
namespace {

using detail::wait_status;

detail::scheduler& sched() { return runtime::get().scheduler(); }

constexpr const char* stdio_names[] = {"stdin", "stdout", "stderr"};

// A C string for posix_spawn. A NUL byte inside would silently cut the text short and
// run something else than asked, so it is refused.
char* c_text(const std::string& s, const std::string& context, const char* what) {
    if (s.find('\0') != std::string::npos) {
        throw std::invalid_argument(context + ": " + what + " holds a NUL byte");
    }
    return const_cast<char*>(s.c_str());
}

process::exit_status status_of(const detail::process_handle& h) noexcept {
    return {h.exit_status(), h.term_signal()};
}

}  // namespace

// ---- starting -----------------------------------------------------------------------

process process::spawn(const std::string& file, const std::vector<std::string>& args) {
    return spawn(file, args, options{});
}

process process::spawn(const std::string& file, const std::vector<std::string>& args,
                       const options& opts) {
    detail::scheduler& s = sched();  // std::logic_error without a runtime, before anything
    const std::string context = "process::spawn " + file;

    // The arrays only point into the caller's strings, which outlive the spawn: the
    // layer copies nothing, and posix_spawn is done with them when it returns.
    std::vector<char*> argv;
    argv.reserve(args.size() + 2);
    argv.push_back(c_text(file, context, "the file name"));
    for (const std::string& a : args) {
        argv.push_back(c_text(a, context, "an argument"));
    }
    argv.push_back(nullptr);
    std::vector<char*> envp;
    if (opts.env) {
        envp.reserve(opts.env->size() + 1);
        for (const std::string& e : *opts.env) {
            if (e.empty() || e.front() == '=' || e.find('=') == std::string::npos) {
                throw std::invalid_argument(context + ": env entry \"" + e +
                                            "\" is not NAME=value");
            }
            envp.push_back(c_text(e, context, "an env entry"));
        }
        envp.push_back(nullptr);
    }

    detail::spawn_options o;
    o.file = argv[0];
    o.args = argv.data();
    o.env = opts.env ? envp.data() : nullptr;
    o.cwd = opts.cwd.empty() ? nullptr : c_text(opts.cwd, context, "cwd");
    o.detached = opts.detached;

    // The pipes go into the object at once, so that a spawn that fails closes them.
    process p;
    const stdio* wanted[3] = {&opts.in, &opts.out, &opts.err};
    using how = detail::spawn_options::stdio;
    for (int fd = 0; fd < 3; ++fd) {
        const stdio& want = *wanted[fd];
        detail::spawn_options::stdio_spec& spec = o.stdio_of[fd];
        switch (want.how_) {
        case stdio::kind::inherit:
            spec.how = how::inherit;
            spec.fd = fd;
            break;
        case stdio::kind::fd:
            if (want.fd_ < 0) {
                throw system_error(UV_EBADF, context + " (" + stdio_names[fd] + ")");
            }
            spec.how = how::inherit;
            spec.fd = want.fd_;
            break;
        case stdio::kind::ignore:
            spec.how = how::ignore;
            break;
        case stdio::kind::pipe: {
            detail::stream_handle* h = detail::stream_handle::create_pipe(s, false);
            p.pipes_[fd].emplace(luv::pipe(h));
            spec.how = how::pipe;
            spec.stream = h;
            break;
        }
        case stdio::kind::stream:
            if (want.stream_ == nullptr || want.stream_->h_ == nullptr) {
                throw system_error(UV_EBADF, context + " (" + stdio_names[fd] +
                                                 " is a closed stream)");
            }
            spec.how = how::stream;
            spec.stream = want.stream_->h_;
            break;
        }
    }

    int status = 0;
    detail::process_handle* h = detail::process_handle::spawn(s, o, status);
    if (h == nullptr) {
        throw system_error(status, context);
    }
    p.h_ = h;
    p.pid_ = h->pid();
    return p;
}

process::output process::run(const std::string& file, const std::vector<std::string>& args) {
    return run(file, args, options{});
}

process::output process::run(const std::string& file, const std::vector<std::string>& args,
                             const options& opts) {
    options o = opts;
    o.out = stdio::pipe();
    process p = spawn(file, args, o);
    if (p.pipes_[0]) {
        p.pipes_[0]->close();  // nothing to give it: the end of its input
    }
    // Stderr is read by a fiber of its own, which owns the pipe and the text: if this
    // frame leaves early (a cancel), the fiber has nothing of it to dangle on, and it
    // ends when the killed child's stderr does.
    fiber<std::string> err_reader;
    if (p.pipes_[2]) {
        err_reader = luv::spawn(
            [](luv::pipe pipe) {
                std::string text;
                while (auto data = pipe.read()) {
                    text += *data;
                }
                return text;
            },
            std::move(*p.pipes_[2]));
    }
    output result;
    try {
        while (auto data = p.pipes_[1]->read()) {
            result.out += *data;
        }
        result.status = p.wait();
        if (err_reader) {
            result.err = err_reader.join();
        }
    } catch (...) {
        // Nobody will wait for the child any more: it must not run on unseen. Whatever
        // is thrown goes on (forced_unwind included).
        if (p.h_ != nullptr) {
            p.h_->kill(SIGKILL);
        }
        throw;
    }
    return result;
}

// ---- the object ---------------------------------------------------------------------

process::~process() { close(); }

process::process(process&& o) noexcept
    : h_(std::exchange(o.h_, nullptr)), pid_(o.pid_), status_(o.status_) {
    for (int fd = 0; fd < 3; ++fd) {
        if (o.pipes_[fd]) {
            pipes_[fd].emplace(std::move(*o.pipes_[fd]));
            o.pipes_[fd].reset();  // a moved-from process has no pipes, not closed ones
        }
    }
}

process& process::operator=(process&& o) noexcept {
    if (this != &o) {
        close();
        h_ = std::exchange(o.h_, nullptr);
        pid_ = o.pid_;
        status_ = o.status_;
        for (int fd = 0; fd < 3; ++fd) {
            pipes_[fd] = std::move(o.pipes_[fd]);  // closes ours first
            o.pipes_[fd].reset();
        }
    }
    return *this;
}

void process::close() noexcept {
    if (h_ == nullptr) {
        return;
    }
    if (h_->exited()) {
        status_ = status_of(*h_);  // wait() still answers after close
    }
    // Wakes the waiters with `cancelled`; the handle stays on the reaper's list until
    // the child exits (freed at once if it has).
    std::exchange(h_, nullptr)->release();
}

bool process::exited() const noexcept { return h_ != nullptr ? h_->exited() : status_.has_value(); }

bool process::kill(int signum) {
    if (h_ == nullptr) {
        if (status_) {
            return false;
        }
        throw system_error(UV_EBADF, "process::kill");
    }
    const int rc = h_->kill(signum);
    if (rc == UV_ESRCH) {
        return false;  // reaped by us, or by a waitpid(-1) elsewhere in the process
    }
    if (rc < 0) {
        throw system_error(rc, "process::kill");
    }
    return true;
}

luv::pipe& process::pipe_of(int fd) {
    if (!pipes_[fd]) {
        throw std::logic_error(std::string("process::") + stdio_names[fd] + "_pipe: " +
                               stdio_names[fd] + " is not a pipe");
    }
    return *pipes_[fd];
}

// ---- waiting ------------------------------------------------------------------------

std::optional<process::exit_status> process::wait_until(std::uint64_t deadline) {
    if (h_ == nullptr) {
        if (status_) {
            return status_;
        }
        throw system_error(UV_EBADF, "process::wait");
    }
    detail::process_handle& h = *h_;
    if (h.exited()) {
        return status_of(h);
    }
    detail::scheduler& s = sched();
    detail::waiter w;
    if (!s.begin_wait(w, deadline)) {
        detail::throw_wait_failure(w.status(), "process::wait");
    }
    h.wait(w);  // also holds the loop for a detached child while we wait
    wait_status how{};
    {
        // However the wait ends (forced_unwind too), the handle must hear that this
        // waiter is gone, so that it stops holding the loop for it; unless the process
        // was closed meanwhile, which told it already and may have freed it.
        struct waited_guard {
            process* self;
            detail::process_handle* h;
            ~waited_guard() {
                if (self->h_ == h) {
                    h->waited();
                }
            }
        } guard{this, &h};
        how = detail::suspend_checked(s, w);
    }
    if (how == wait_status::timed_out) {
        return std::nullopt;
    }
    if (how != wait_status::notified) {
        detail::throw_wait_failure(how, "process::wait");
    }
    if (h_ == &h) {
        return status_of(h);
    }
    if (status_) {
        return status_;  // closed after the exit woke us: close() kept the status
    }
    throw system_error(UV_ECANCELED, "process::wait");
}

process::exit_status process::wait() { return *wait_until(0); }

std::optional<process::exit_status> process::wait_for(std::chrono::milliseconds timeout) {
    const auto ms = timeout.count() > 0 ? static_cast<std::uint64_t>(timeout.count()) : 0;
    return wait_until(sched().deadline_after_ms(ms));
}

}  // namespace luv
