#include "uv/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/scheduler.hpp"
#include "uv/stream.hpp"

namespace luv::detail {

// Reaps the children we started: a SIGCHLD watcher that, on each delivery, waitpid()s
// every child in its list (deliveries coalesce, so one may stand for several exits).
// One per thread (a thread has one runtime, so one loop), made by the first spawn and
// closed when its last child has been reaped, so an idle program watches no signal.
// It holds the loop alive while at least one child does (process_handle::update_hold).
struct child_reaper {
    uv_signal_t sig{};
    process_handle* head = nullptr;  // children not reaped yet
    unsigned holders = 0;            // of those, the ones that keep the loop alive

    /// The thread's reaper, watching SIGCHLD, made if needed. nullptr with the libuv
    /// status in `status` if the watcher cannot start. Never suspends.
    static child_reaper* get(uv_loop_t* loop, int& status) noexcept;
    static void on_sigchld(uv_signal_t* s, int signum);

    void add(process_handle& h) noexcept;
    void remove(process_handle& h) noexcept;
    void hold(bool on) noexcept;
    void close_if_idle() noexcept;

    uv_handle_t* handle() noexcept { return reinterpret_cast<uv_handle_t*>(&sig); }
};

namespace {

// When a runtime ends with children still running it closes the reaper's handle like any
// other (with no close callback): the reaper is then left allocated with those children's
// handles, as they are, and `get` sees it closing and makes a new one.
thread_local child_reaper* thread_reaper = nullptr;

// The signals a child starts with at their default action, as under libuv: 1 to 31,
// which includes SIGPIPE that the runtime ignores (an ignored signal survives exec, a
// handler does not). Real-time signals are left alone: glibc uses some of them.
void default_signals(sigset_t& set) noexcept {
    sigemptyset(&set);
    for (int n = 1; n < 32; ++n) {
        if (n != SIGKILL && n != SIGSTOP) {
            sigaddset(&set, n);
        }
    }
}

// The value of PATH in an environment array, or nullptr.
const char* path_in(char** env) noexcept {
    for (; *env != nullptr; ++env) {
        if (std::strncmp(*env, "PATH=", 5) == 0) {
            return *env + 5;
        }
    }
    return nullptr;
}

// One posix_spawn: the file actions that set up descriptors 0-2 and the directory, the
// attributes, and the descriptors made for them. Everything made here is close-on-exec;
// what the child must have is dup2'ed onto 0-2, which clears the flag on the copy.
class launch {
public:
    explicit launch(const spawn_options& o) noexcept : o_(o) {
        posix_spawn_file_actions_init(&actions_);
        posix_spawnattr_init(&attr_);
    }
    ~launch() {
        for (int i = 0; i < 3; ++i) {
            close_fd(parent_ends_[i]);  // still here: the spawn failed
        }
        for (int i = 0; i < n_child_fds_; ++i) {
            close_fd(child_fds_[i]);  // the child has its copies (or never will)
        }
        posix_spawn_file_actions_destroy(&actions_);
        posix_spawnattr_destroy(&attr_);
    }
    launch(const launch&) = delete;
    launch& operator=(const launch&) = delete;

    /// Builds the actions and attributes: 0 or a libuv error.
    int prepare() noexcept;
    /// Starts the child: 0 or a libuv error (the exec's own, with CLONE_VFORK).
    int run(pid_t& pid);
    /// Our end of the pipe made for descriptor `fd`, now the caller's to close.
    int take_parent_end(int fd) noexcept { return std::exchange(parent_ends_[fd], -1); }

private:
    static void close_fd(int fd) noexcept {
        if (fd >= 0) {
            ::close(fd);
        }
    }
    int stdio(int target, const spawn_options::stdio_spec& spec) noexcept;
    int exec(const char* path, pid_t& pid);
    int search(const char* path_var, pid_t& pid);

    const spawn_options& o_;
    char** argv_ = nullptr;
    char** envp_ = nullptr;
    posix_spawn_file_actions_t actions_;
    posix_spawnattr_t attr_;
    int parent_ends_[3] = {-1, -1, -1};
    int child_fds_[6] = {-1, -1, -1, -1, -1, -1};  // pipe ends and copies, closed here
    int n_child_fds_ = 0;
};

int launch::stdio(int target, const spawn_options::stdio_spec& spec) noexcept {
    using how = spawn_options::stdio;
    int src = spec.fd;
    switch (spec.how) {
    case how::ignore:
        return -posix_spawn_file_actions_addopen(&actions_, target, "/dev/null",
                                                 target == 0 ? O_RDONLY : O_RDWR, 0);
    case how::pipe: {
        // A socket pair, as libuv makes: our end then accepts shutdown() (EOF for the
        // child's stdin while the stream stays open) like any luv stream.
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
            return -errno;
        }
        parent_ends_[target] = sv[0];
        child_fds_[n_child_fds_++] = sv[1];
        src = sv[1];
        break;
    }
    case how::stream:
        if (uv_fileno(reinterpret_cast<uv_handle_t*>(spec.stream->stream()), &src) < 0) {
            return UV_EINVAL;
        }
        [[fallthrough]];
    case how::inherit: {
        // The child gets the descriptor blocking, as libuv's child makes it: few programs
        // cope with EAGAIN on their stdin. The flag belongs to the open file, so our copy
        // turns blocking too, as it does under libuv.
        const int flags = fcntl(src, F_GETFL);
        if (flags == -1) {
            return -errno;
        }
        if ((flags & O_NONBLOCK) != 0 && fcntl(src, F_SETFL, flags & ~O_NONBLOCK) == -1) {
            return -errno;
        }
        break;
    }
    }
    if (src == target) {
        // dup2 of a descriptor onto itself only clears close-on-exec (glibc 2.29+): an
        // action (two syscalls in the child) only when the flag is set.
        const int fd_flags = fcntl(src, F_GETFD);
        if (fd_flags == -1) {
            return -errno;
        }
        return (fd_flags & FD_CLOEXEC) == 0
                   ? 0
                   : -posix_spawn_file_actions_adddup2(&actions_, src, src);
    }
    if (src < target) {
        // The action for descriptor `src` has run by now (stdout and stderr swapped, say):
        // hand over a copy above 2 instead.
        src = fcntl(src, F_DUPFD_CLOEXEC, 3);
        if (src == -1) {
            return -errno;
        }
        child_fds_[n_child_fds_++] = src;
    }
    return -posix_spawn_file_actions_adddup2(&actions_, src, target);
}

int launch::prepare() noexcept {
    for (int fd = 0; fd < 3; ++fd) {
        if (const int rc = stdio(fd, o_.stdio_of[fd]); rc < 0) {
            return rc;
        }
    }
    if (o_.cwd != nullptr) {
        if (const int rc = posix_spawn_file_actions_addchdir_np(&actions_, o_.cwd); rc != 0) {
            return -rc;
        }
    }
    sigset_t set;
    sigemptyset(&set);
    posix_spawnattr_setsigmask(&attr_, &set);  // the child starts with nothing blocked
    default_signals(set);
    posix_spawnattr_setsigdefault(&attr_, &set);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (o_.detached) {
        flags |= POSIX_SPAWN_SETSID;  // its own session and process group, as under libuv
    }
    return -posix_spawnattr_setflags(&attr_, flags);
}

int launch::run(pid_t& pid) {
    char* no_args[] = {const_cast<char*>(o_.file), nullptr};
    argv_ = o_.args != nullptr ? o_.args : no_args;
    envp_ = o_.env != nullptr ? o_.env : environ;
    int rc = 0;
    if (std::strchr(o_.file, '/') != nullptr) {
        rc = exec(o_.file, pid);
    } else if (o_.env == nullptr) {
        // glibc searches PATH in the child, one execve per directory.
        rc = posix_spawnp(&pid, o_.file, &actions_, &attr_, argv_, envp_);
        if (rc == ENOEXEC) {
            rc = search(std::getenv("PATH"), pid);  // to find the script /bin/sh must run
        }
    } else {
        // libuv's child set `environ` before execvp, so the search used the child's PATH;
        // posix_spawnp would use ours.
        rc = search(path_in(o_.env), pid);
    }
    return -rc;
}

// posix_spawn of one file; errno-style result. A file that is no executable format (a
// script without "#!") runs under /bin/sh, as execvp under libuv did.
int launch::exec(const char* path, pid_t& pid) {
    const int rc = posix_spawn(&pid, path, &actions_, &attr_, argv_, envp_);
    if (rc != ENOEXEC) {
        return rc;
    }
    std::vector<char*> argv{const_cast<char*>("/bin/sh"), const_cast<char*>(path)};
    for (char** a = argv_; *a != nullptr && *++a != nullptr;) {
        argv.push_back(*a);  // the arguments after argv[0]
    }
    argv.push_back(nullptr);
    return posix_spawn(&pid, "/bin/sh", &actions_, &attr_, argv.data(), envp_);
}

// execvp's search through `path_var` (its default without one), errno-style: ENOENT,
// ENOTDIR and EACCES go on to the next directory; EACCES wins over ENOENT at the end. A
// candidate is checked here first so that a miss costs no child, except a relative one
// with opts.cwd set (relative to the child's directory: the spawn itself tells).
int launch::search(const char* path_var, pid_t& pid) {
    if (path_var == nullptr) {
        path_var = "/bin:/usr/bin";
    }
    const std::size_t file_len = std::strlen(o_.file);
    if (file_len == 0) {
        return ENOENT;
    }
    bool denied = false;
    std::vector<char> candidate;
    for (const char* dir = path_var;;) {
        const char* end = std::strchr(dir, ':');
        if (end == nullptr) {
            end = dir + std::strlen(dir);
        }
        candidate.assign(dir, end);
        if (end != dir) {
            candidate.push_back('/');  // an empty entry is the current directory
        }
        candidate.insert(candidate.end(), o_.file, o_.file + file_len + 1);
        const char* path = candidate.data();
        int rc = 0;
        if ((path[0] != '/' && o_.cwd != nullptr) ||
            faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0) {
            rc = exec(path, pid);
        } else {
            rc = errno;
        }
        switch (rc) {
        case 0:
            return 0;
        case EACCES:
            denied = true;
            break;
        case ENOENT:
        case ENOTDIR:
        case ESTALE:
        case ENODEV:
        case ETIMEDOUT:
            break;
        default:
            return rc;
        }
        if (*end == '\0') {
            return denied ? EACCES : ENOENT;
        }
        dir = end + 1;
    }
}

}  // namespace

// ---- the reaper ----------------------------------------------------------------------

child_reaper* child_reaper::get(uv_loop_t* loop, int& status) noexcept {
    child_reaper* r = thread_reaper;
    if (r != nullptr && r->sig.loop == loop && uv_is_closing(r->handle()) == 0) {
        return r;
    }
    r = new (std::nothrow) child_reaper();
    if (r == nullptr) {
        status = UV_ENOMEM;
        return nullptr;
    }
    uv_signal_init(loop, &r->sig);
    r->sig.data = r;
    status = uv_signal_start(&r->sig, &on_sigchld, SIGCHLD);
    if (status < 0) {
        uv_close(r->handle(), [](uv_handle_t* h) { delete static_cast<child_reaper*>(h->data); });
        return nullptr;
    }
    uv_unref(r->handle());  // until a child holds the loop
    thread_reaper = r;
    return r;
}

void child_reaper::on_sigchld(uv_signal_t* s, int) {
    auto* r = static_cast<child_reaper*>(s->data);
    for (process_handle* h = r->head; h != nullptr;) {
        process_handle* next = h->next_;  // h may be freed below
        int st = 0;
        pid_t got = 0;
        do {
            got = waitpid(h->pid_, &st, WNOHANG);
        } while (got == -1 && errno == EINTR);
        if (got == h->pid_) {
            h->exit_with(WIFEXITED(st) ? WEXITSTATUS(st) : 0, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        } else if (got == -1) {
            // ECHILD: reaped by someone else (a waitpid(-1) elsewhere in the process). Its
            // status is lost, but its waiters must not wait for ever.
            h->exit_with(0, 0);
        }
        h = next;
    }
    r->close_if_idle();
}

void child_reaper::add(process_handle& h) noexcept {
    h.reaper_ = this;
    h.prev_ = nullptr;
    h.next_ = head;
    if (head != nullptr) {
        head->prev_ = &h;
    }
    head = &h;
}

void child_reaper::remove(process_handle& h) noexcept {
    (h.prev_ != nullptr ? h.prev_->next_ : head) = h.next_;
    if (h.next_ != nullptr) {
        h.next_->prev_ = h.prev_;
    }
    h.prev_ = h.next_ = nullptr;
    h.reaper_ = nullptr;
}

void child_reaper::hold(bool on) noexcept {
    if (on) {
        if (holders++ == 0) {
            uv_ref(handle());
        }
    } else if (--holders == 0) {
        uv_unref(handle());
    }
}

void child_reaper::close_if_idle() noexcept {
    if (head != nullptr || uv_is_closing(handle()) != 0) {
        return;  // children left, or closed by the end of its runtime (then left allocated)
    }
    if (thread_reaper == this) {
        thread_reaper = nullptr;
    }
    uv_close(handle(), [](uv_handle_t* h) { delete static_cast<child_reaper*>(h->data); });
}

// ---- the process -----------------------------------------------------------------------

int kill_pid(int pid, int signum) noexcept { return uv_kill(pid, signum); }

process_handle* process_handle::spawn(scheduler& sched, const spawn_options& o, int& status) {
    if (o.set_uid || o.set_gid) {
        return spawn_with_libuv(sched, o, status);  // posix_spawn cannot change them
    }
    // Watching SIGCHLD before the child exists, so that its exit cannot go unseen.
    child_reaper* r = child_reaper::get(sched.loop(), status);
    if (r == nullptr) {
        return nullptr;
    }
    std::unique_ptr<process_handle> h(new (std::nothrow) process_handle());
    if (h == nullptr) {
        status = UV_ENOMEM;
        r->close_if_idle();
        return nullptr;
    }
    pid_t pid = 0;
    {
        launch l(o);
        status = l.prepare();
        if (status == 0) {
            status = l.run(pid);
        }
        for (int fd = 0; status == 0 && fd < 3; ++fd) {
            if (o.stdio_of[fd].how == spawn_options::stdio::pipe) {
                // Cannot fail for a new descriptor (uv_pipe_open: fcntl and a lookup of
                // the loop's watchers); if it did, the stream would stay unopened and fail
                // when used, while the child is still tracked.
                const int ours = l.take_parent_end(fd);
                if (uv_pipe_open(o.stdio_of[fd].stream->pipe(), ours) < 0) {
                    ::close(ours);
                }
            }
        }
    }
    if (status < 0) {
        r->close_if_idle();
        return nullptr;
    }
    h->pid_ = pid;
    h->detached_ = o.detached;
    r->add(*h);
    h->update_hold();
    return h.release();
}

process_handle* process_handle::spawn_with_libuv(scheduler& sched, const spawn_options& o,
                                                 int& status) {
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
    h->by_libuv_ = true;
    status = uv_spawn(sched.loop(), &h->uv_, &options);
    if (status < 0) {
        // uv_spawn has registered the handle with the loop even when it fails.
        h->released_ = true;
        h->destroy();
        return nullptr;
    }
    h->pid_ = h->uv_.pid;
    h->detached_ = o.detached;
    h->holding_ = true;  // a started handle holds the loop
    h->update_hold();    // not if detached: the child lives on its own
    return h;
}

void process_handle::update_hold() noexcept {
    const bool hold = !exited_ && ((!detached_ && !released_) || !waiters_.empty());
    if (hold == holding_) {
        return;
    }
    holding_ = hold;
    if (reaper_ != nullptr) {
        reaper_->hold(hold);
    } else if (by_libuv_) {
        (hold ? uv_ref : uv_unref)(reinterpret_cast<uv_handle_t*>(&uv_));
    }
}

void process_handle::wait(waiter& w) noexcept {
    waiters_.push(w);
    update_hold();
}

void process_handle::waited() noexcept { update_hold(); }

int process_handle::kill(int signum) noexcept {
    if (exited_) {
        return UV_ESRCH;  // reaped: the pid may be someone else's by now
    }
    return uv_kill(pid_, signum);
}

void process_handle::release() noexcept {
    released_ = true;
    waiters_.notify_all(wait_status::cancelled);
    if (exited_) {
        destroy();
    } else {
        update_hold();
    }
}

void process_handle::on_exit(uv_process_t* p, std::int64_t exit_status, int term_signal) {
    static_cast<process_handle*>(p->data)->exit_with(exit_status, term_signal);
}

void process_handle::exit_with(std::int64_t exit_status, int term_signal) noexcept {
    exited_ = true;
    exit_status_ = exit_status;
    term_signal_ = term_signal;
    update_hold();
    if (reaper_ != nullptr) {
        reaper_->remove(*this);
    }
    waiters_.notify_all();
    if (released_) {
        destroy();
    }
}

void process_handle::destroy() noexcept {
    if (!by_libuv_) {
        delete this;
        return;
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&uv_),
             [](uv_handle_t* h) { delete static_cast<process_handle*>(h->data); });
}

}  // namespace luv::detail
