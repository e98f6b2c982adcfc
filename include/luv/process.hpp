// luv/process.hpp - child processes that fibers wait on, with their stdio as luv::pipe.
//
//   luv::process::options o;
//   o.out = luv::process::stdio::pipe();
//   auto proc = luv::process::spawn("ls", {"-l", "/tmp"}, o);   // never suspends
//   while (auto data = proc.stdout_pipe().read())              // suspends this fiber only
//       consume(*data);
//   luv::process::exit_status st = proc.wait();                // suspends this fiber only
//
//   auto [status, out, err] = luv::process::run("git", {"rev-parse", "HEAD"});
#pragma once

#include <chrono>
#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "luv/error.hpp"
#include "luv/pipe.hpp"

namespace luv {

namespace detail {
class process_handle;
}

/// A child process on the calling thread's runtime. Children start with posix_spawn and
/// are reaped by the runtime (a SIGCHLD watcher that waits for our own pids only), so
/// no zombie is left, whatever the owner does. A child that runs keeps the loop alive
/// (runtime::run() waits for it) unless it was spawned `detached` or its object closed;
/// a detached child does while a fiber waits for it.
///
/// Move-only. The destructor (and close()) lets go of the child without killing it: the
/// child runs on and is still reaped when it exits. The parent's ends of the pipes
/// belong to the object and close with it (the child then reads the end of its input,
/// and gets EPIPE or SIGPIPE if it writes); move a pipe out to keep it longer. The
/// object must outlive the calls waiting on it and must not be moved meanwhile
/// (close() wakes them first).
class process {
public:
    /// How a child died: `exit_code` is what it passed to exit(), 0 when it was killed;
    /// `term_signal` is the signal that killed it, 0 when it exited by itself.
    struct exit_status {
        std::int64_t exit_code = 0;
        int term_signal = 0;
        bool success() const noexcept { return exit_code == 0 && term_signal == 0; }
        bool operator==(const exit_status&) const = default;
    };

    /// What a child's stdin, stdout or stderr is.
    class stdio {
    public:
        /// The same descriptor of this process (0, 1 or 2). The default.
        static stdio inherit() noexcept { return stdio(kind::inherit); }
        /// /dev/null.
        static stdio ignore() noexcept { return stdio(kind::ignore); }
        /// A new pipe (a socket pair); the parent's end is the luv::pipe of
        /// stdin_pipe(), stdout_pipe() or stderr_pipe().
        static stdio pipe() noexcept { return stdio(kind::pipe); }
        /// A descriptor of this process, e.g. an open file.
        static stdio descriptor(int fd) noexcept { return stdio(kind::fd, fd); }
        /// The descriptor of an open luv stream (a tcp connection, a pipe), which must
        /// be alive when spawn() is called. The child shares it.
        static stdio of(const luv::stream& s) noexcept { return stdio(kind::stream, -1, &s); }

        stdio() noexcept = default;

    private:
        friend class process;
        enum class kind : std::uint8_t { inherit, ignore, pipe, fd, stream };
        explicit stdio(kind k, int fd = -1, const luv::stream* s = nullptr) noexcept
            : how_(k), fd_(fd), stream_(s) {}
        kind how_ = kind::inherit;
        int fd_ = -1;
        const luv::stream* stream_ = nullptr;
    };

    struct options {
        /// The child's whole environment, "NAME=value" each; std::nullopt: this
        /// process's. A program name without a slash is searched in the PATH of the
        /// environment the child gets (/bin:/usr/bin if it has none).
        std::optional<std::vector<std::string>> env;
        /// The child's working directory; empty: this process's.
        std::string cwd;
        /// The child leads a new session and process group (kill(-pid, sig) reaches
        /// its own children), and does not keep the loop alive unless a fiber waits.
        bool detached = false;
        stdio in, out, err;  // the child's descriptors 0, 1 and 2
    };

    /// Stdout captured by run(), and stderr when options.err is a pipe.
    struct output {
        exit_status status;
        std::string out;
        std::string err;
    };

    /// Starts `file` with `args` (argv[0] is `file`; `args` are the arguments after
    /// it). A name without a slash is looked up in PATH, as execvp does. Throws
    /// luv::system_error whose what() names the file, e.g. "process::spawn /no/such:
    /// ENOENT: no such file or directory" (also UV_EACCES, UV_EBADF for a closed stream
    /// given as stdio); std::invalid_argument for a string holding a NUL byte or an env
    /// entry without '='; std::logic_error without a runtime. Pipes made for a spawn
    /// that fails are closed. Never suspends.
    static process spawn(const std::string& file, const std::vector<std::string>& args = {});
    static process spawn(const std::string& file, const std::vector<std::string>& args,
                         const options& opts);

    /// Runs `file` to its end: spawns it with stdout as a pipe (whatever opts.out says),
    /// reads all of it, and of stderr too if opts.err is a pipe (in another fiber, so a
    /// child that fills both never blocks), then waits for the exit. A pipe for stdin is
    /// closed at once: the child reads the end of its input. Throws what spawn() and
    /// wait() throw; if the wait or a read throws (a cancel), the child is killed with
    /// SIGKILL first. Suspends the calling fiber until the child has exited and its
    /// output has ended (a grandchild that keeps the output open keeps run() waiting).
    static output run(const std::string& file, const std::vector<std::string>& args = {});
    static output run(const std::string& file, const std::vector<std::string>& args,
                      const options& opts);

    ~process();
    process(process&& o) noexcept;
    process& operator=(process&& o) noexcept;
    process(const process&) = delete;
    process& operator=(const process&) = delete;

    /// The child's process id (also after close()). Never suspends.
    int pid() const noexcept { return pid_; }

    /// Waits until the child exits and returns how; returns at once, as often as asked,
    /// once it has. Any number of fibers may wait. Throws luv::system_error:
    /// UV_ECANCELED if the fiber is cancelled or the process closed meanwhile, UV_EBADF
    /// if it is closed (unless the child had exited by then: its status is kept).
    /// Suspends the calling fiber (not once the child has exited).
    exit_status wait();
    /// Like wait(), but returns std::nullopt if `timeout` passes first; the child runs
    /// on. Suspends the calling fiber.
    std::optional<exit_status> wait_for(std::chrono::milliseconds timeout);
    /// Whether the runtime has seen the child exit (the exit is noticed while the loop
    /// runs). Never suspends.
    bool exited() const noexcept;

    /// Sends `signum` to the child. Returns false if the child has exited already: a
    /// race any caller may lose, so a value rather than an error (a child that has
    /// exited but is not reaped yet still gets true). Throws luv::system_error:
    /// UV_EINVAL for a bad signal number, UV_EPERM, UV_EBADF if the process is closed
    /// and its child had not exited. Never suspends.
    bool kill(int signum = SIGTERM);

    /// The parent's end of the child's stdin, stdout or stderr when it is
    /// stdio::pipe(); std::logic_error otherwise. The pipe belongs to the process; move
    /// it out (`luv::pipe out = std::move(proc.stdout_pipe());`) to give it to a fiber
    /// or keep it after the process. Closing or shutting down the stdin pipe gives the
    /// child the end of its input. Never suspend.
    luv::pipe& stdin_pipe() { return pipe_of(0); }
    luv::pipe& stdout_pipe() { return pipe_of(1); }
    luv::pipe& stderr_pipe() { return pipe_of(2); }

    /// Lets go of the child without killing it: fibers waiting for it wake with
    /// UV_ECANCELED, it no longer keeps the loop alive, and it is still reaped when it
    /// exits. The pipes stay open until the object goes. Idempotent. Never suspends.
    void close() noexcept;
    bool closed() const noexcept { return h_ == nullptr; }

private:
    process() = default;
    std::optional<exit_status> wait_until(std::uint64_t deadline);
    luv::pipe& pipe_of(int fd);

    detail::process_handle* h_ = nullptr;
    int pid_ = 0;
    std::optional<exit_status> status_;  // kept by close() if the child had exited
    std::optional<luv::pipe> pipes_[3];  // parent's ends of stdin, stdout, stderr
};

}  // namespace luv
