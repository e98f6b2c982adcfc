// luv::process with real children: exit codes and signals, stdin to stdout through cat
// with several writers, 4 MB of output read while the child writes, env and cwd, ENOENT,
// wait_for timing out, cancel and close waking waiters, 200 children 16 at a time with no
// zombie left, a process dropped while its child runs, descriptors back to baseline
// after 100 spawns with pipes, the other kinds of stdio, and run(). Every wait of a child
// that could hang is bounded (wait_for, or a child that ends at once).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "luv/error.hpp"
#include "luv/fiber.hpp"
#include "luv/pipe.hpp"
#include "luv/process.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using luv::process;
using luv::test::ms_since;

using luv::test::uv_status_of;

namespace {

constexpr auto bound = 10s;  // the longest any wait for a child may take

// Waits (suspending the calling fiber) until the child is reaped: kill(pid, 0) succeeds
// on a zombie and fails with ESRCH only once someone waited for it.
bool reaped_within(int pid, std::chrono::milliseconds limit) {
    const auto t0 = luv::hrtime();
    while (ms_since(t0) < static_cast<double>(limit.count())) {
        if (::kill(pid, 0) == -1 && errno == ESRCH) {
            return true;
        }
        luv::this_fiber::sleep_for(5ms);
    }
    return false;
}

// Zombies whose parent is this process, from /proc/<pid>/stat ("pid (comm) S ppid ...").
int our_zombies() {
    int n = 0;
    const std::string self = std::to_string(::getpid());
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        std::ifstream f(entry.path() / "stat");
        std::string stat;
        if (!std::getline(f, stat)) {
            continue;  // gone meanwhile
        }
        const auto close_paren = stat.rfind(')');  // comm may hold spaces and parens
        if (close_paren == std::string::npos) {
            continue;
        }
        std::istringstream rest(stat.substr(close_paren + 1));
        std::string state, ppid;
        rest >> state >> ppid;
        n += state == "Z" && ppid == self ? 1 : 0;
    }
    return n;
}

int open_fds() {
    int n = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
        (void)entry;
        ++n;
    }
    return n;
}

process::options piped(bool in, bool out, bool err) {
    process::options o;
    if (in) {
        o.in = process::stdio::pipe();
    }
    if (out) {
        o.out = process::stdio::pipe();
    }
    if (err) {
        o.err = process::stdio::pipe();
    }
    return o;
}

// "w2 17 cccc...\n", 100 bytes: line `i` of writer `w`.
std::string line_of(int w, int i) {
    std::string line = "w";
    line += std::to_string(w);
    line += ' ';
    line += std::to_string(i);
    line += ' ';
    line.resize(99, static_cast<char>('a' + w));
    line += '\n';
    return line;
}

std::string read_all(luv::pipe& p) {
    std::string all;
    while (auto data = p.read()) {
        all += *data;
    }
    return all;
}

}  // namespace

TEST_CASE("exit codes: /bin/true, /bin/false, sh -c 'exit 7'", "[process]") {
    luv::runtime rt;
    luv::spawn([&] {
        auto t = process::spawn("/bin/true");
        CHECK(t.pid() > 0);
        CHECK(t.wait() == process::exit_status{0, 0});
        CHECK(t.wait().success());  // again, at once
        CHECK(t.exited());
        CHECK_FALSE(t.kill());  // exited: a value, not an error

        auto f = process::spawn("/bin/false");
        const auto st = f.wait();
        CHECK(st.exit_code == 1);
        CHECK(st.term_signal == 0);
        CHECK_FALSE(st.success());

        auto s = process::spawn("sh", {"-c", "exit 7"});  // a bare name, found in PATH
        CHECK(s.wait() == process::exit_status{7, 0});
        // Closed after the exit: wait() keeps answering, kill() says "exited".
        s.close();
        CHECK(s.closed());
        CHECK(s.exited());
        CHECK(s.wait() == process::exit_status{7, 0});
        CHECK_FALSE(s.kill());
        // A process that is not piped has no pipes.
        CHECK_THROWS_AS(s.stdout_pipe(), std::logic_error);
    }).join();
    rt.run();
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a child killed by SIGKILL reports term_signal 9", "[process]") {
    luv::runtime rt;
    std::optional<process::exit_status> st;
    luv::spawn([&] {
        auto p = process::spawn("sleep", {"5"});
        CHECK_FALSE(p.exited());
        CHECK(p.kill(SIGKILL));
        st = p.wait_for(bound);
        CHECK_FALSE(p.kill(SIGKILL));  // reaped: the pid may be someone else's by now
    }).join();
    rt.run();
    REQUIRE(st.has_value());
    CHECK(st->term_signal == SIGKILL);
    CHECK(st->exit_code == 0);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("stdin to stdout through cat: 4 writers, a reader, flow control", "[process]") {
    constexpr int writers = 4, lines = 500;
    luv::runtime rt;
    std::string out;
    std::optional<process::exit_status> st;
    luv::spawn([&] {
        auto cat = process::spawn("cat", {}, piped(true, true, false));
        auto reader = luv::spawn([&] { out = read_all(cat.stdout_pipe()); });
        std::vector<luv::fiber<void>> ws;
        for (int w = 0; w < writers; ++w) {
            ws.push_back(luv::spawn([&, w] {
                // 100-byte lines, 200 KB in all: more than the socket buffers hold, so
                // the writers wait for the reader.
                for (int i = 0; i < lines; ++i) {
                    cat.stdin_pipe().write(line_of(w, i));
                }
            }));
        }
        for (auto& f : ws) {
            f.join();
        }
        cat.stdin_pipe().shutdown();  // cat reads the end of its input and exits
        reader.join();
        st = cat.wait_for(bound);
    }).join();
    rt.run();

    REQUIRE(st.has_value());
    CHECK(st->success());
    CHECK(out.size() == static_cast<std::size_t>(writers * lines * 100));
    // Every writer's lines arrive whole and in the order it wrote them.
    std::vector<int> next(writers, 0);
    std::istringstream in(out);
    int bad = 0;
    for (std::string line; std::getline(in, line);) {
        const int w = line[1] - '0';
        const int i = std::stoi(line.substr(3));
        bad += (w < 0 || w >= writers || i != next[w]++ || line + '\n' != line_of(w, i)) ? 1 : 0;
    }
    CHECK(bad == 0);
    CHECK(next == std::vector<int>(writers, lines));
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("4 MB of output read while the child writes it, with a waiter meanwhile",
          "[process]") {
    constexpr std::size_t size = 4 << 20;
    luv::runtime rt;
    std::string out;
    std::optional<process::exit_status> st;
    double elapsed = 0;
    luv::spawn([&] {
        const auto t0 = luv::hrtime();
        auto p = process::spawn("sh", {"-c", "yes 0123456789abcde | head -c " + std::to_string(size)},
                                piped(false, true, false));
        // The child cannot exit before its output is read: the waiter must not stop the
        // reader, nor the reader the waiter.
        auto waiter = luv::spawn([&] { st = p.wait_for(bound); });
        out = read_all(p.stdout_pipe());
        waiter.join();
        elapsed = ms_since(t0);
    }).join();
    rt.run();

    REQUIRE(st.has_value());
    CHECK(st->success());
    REQUIRE(out.size() == size);
    std::string expected;
    expected.reserve(size);
    while (expected.size() < size) {
        expected += "0123456789abcde\n";
    }
    CHECK(out == expected);
    CHECK(elapsed < 10000);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("env replaces the environment, PATH searched in it; cwd is honoured", "[process]") {
    luv::runtime rt;
    char tmpl[] = "/tmp/luv-cpp-process-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    const std::string dir = std::filesystem::canonical(tmpl);
    std::string env_out, default_path_out, cwd_out;
    int bad_cwd = 0, bad_env = 0;
    luv::spawn([&] {
        auto o = piped(false, true, false);
        o.env = std::vector<std::string>{"FOO=bar baz", "PATH=/usr/bin:/bin"};
        auto p = process::spawn("sh", {"-c", "echo \"$FOO|$PATH|${HOME-unset}\""}, o);
        env_out = read_all(p.stdout_pipe());
        CHECK(p.wait_for(bound).has_value());

        // No PATH in the child's environment: a bare name is searched in /bin:/usr/bin.
        o.env = std::vector<std::string>{"ONLY=1"};
        auto q = process::spawn("env", {}, o);
        default_path_out = read_all(q.stdout_pipe());
        CHECK(q.wait_for(bound).has_value());

        auto c = piped(false, true, false);
        c.cwd = dir;
        auto r = process::spawn("pwd", {}, c);
        cwd_out = read_all(r.stdout_pipe());
        CHECK(r.wait_for(bound).has_value());

        c.cwd = dir + "/no-such-dir";
        bad_cwd = uv_status_of([&] { process::spawn("/bin/pwd", {}, c); });
        o.env = std::vector<std::string>{"NOEQUALS"};
        try {
            process::spawn("env", {}, o);
        } catch (const std::invalid_argument&) {
            bad_env = 1;
        }
    }).join();
    rt.run();
    std::filesystem::remove_all(dir);

    CHECK(env_out == "bar baz|/usr/bin:/bin|unset\n");
    CHECK(default_path_out == "ONLY=1\n");
    CHECK(cwd_out == dir + "\n");
    CHECK(bad_cwd == UV_ENOENT);
    CHECK(bad_env == 1);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a missing program throws ENOENT at once; its pipes are closed", "[process]") {
    luv::runtime rt;
    std::string what;
    int status = 0, bare = 0, fds_before = 0, fds_after = 0;
    luv::spawn([&] {
        luv::pipe{};  // libuv keeps a descriptor per loop from its first stream on
        fds_before = open_fds();
        try {
            process::spawn("/no/such", {"x"}, piped(true, true, true));
        } catch (const luv::system_error& e) {
            status = e.status();
            what = e.what();
        }
        bare = uv_status_of([] { process::spawn("luv-no-such-program-here"); });
        fds_after = open_fds();
    }).join();
    rt.run();

    CHECK(status == UV_ENOENT);
    CHECK(what == "process::spawn /no/such: ENOENT: no such file or directory");
    CHECK(bare == UV_ENOENT);
    CHECK(fds_after == fds_before);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("wait_for times out on sleep 5; kill ends it", "[process]") {
    luv::runtime rt;
    bool timed_out = false;
    double elapsed = 0;
    int bad_signal = 0;
    std::optional<process::exit_status> st;
    luv::spawn([&] {
        auto p = process::spawn("sleep", {"5"});
        const auto t0 = luv::hrtime();
        timed_out = !p.wait_for(50ms).has_value();
        elapsed = ms_since(t0);
        CHECK_FALSE(p.exited());
        bad_signal = uv_status_of([&] { p.kill(12345); });
        CHECK(p.kill());  // SIGTERM
        st = p.wait_for(bound);
    }).join();
    rt.run();

    CHECK(timed_out);
    CHECK(elapsed >= 49);
    CHECK(elapsed < 2000);
    CHECK(bad_signal == UV_EINVAL);
    REQUIRE(st.has_value());
    CHECK(st->term_signal == SIGTERM);
    CHECK(st->exit_code == 0);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("cancel and close wake waiters with ECANCELED; the child runs on", "[process]") {
    luv::runtime rt;
    int cancelled = 0, closed = 0, after_close = 0;
    std::optional<process::exit_status> late_status;
    std::optional<process::exit_status> st;
    bool close_reaped = false;
    luv::spawn([&] {
        auto p = process::spawn("sleep", {"5"});
        auto w = luv::spawn([&] { cancelled = uv_status_of([&] { p.wait(); }); });
        luv::this_fiber::sleep_for(20ms);
        w.cancel();
        w.join();
        CHECK_FALSE(p.exited());
        CHECK(p.kill(SIGKILL));
        st = p.wait_for(bound);

        auto q = process::spawn("sleep", {"5"});
        const int pid = q.pid();
        std::vector<luv::fiber<void>> ws;
        for (int i = 0; i < 3; ++i) {
            ws.push_back(luv::spawn([&] { closed += uv_status_of([&] { q.wait(); }) == UV_ECANCELED; }));
        }
        luv::this_fiber::sleep_for(10ms);
        q.close();
        for (auto& f : ws) {
            f.join();
        }
        after_close = uv_status_of([&] { q.wait(); });
        // Woken by the exit, but another fiber woken first closed the process (which
        // frees the handle): the status kept by close() is the answer.
        auto r = process::spawn("/bin/true");
        auto closer = luv::spawn([&] {
            r.wait();
            r.close();
        });
        auto late = luv::spawn([&] { late_status = r.wait(); });
        closer.join();
        late.join();
        CHECK(uv_status_of([&] { q.kill(); }) == UV_EBADF);
        // Let go, not killed: still there until we kill it, then reaped by the runtime.
        CHECK(::kill(pid, 0) == 0);
        ::kill(pid, SIGKILL);
        close_reaped = reaped_within(pid, bound);
    }).join();
    rt.run();

    CHECK(cancelled == UV_ECANCELED);
    REQUIRE(st.has_value());
    CHECK(st->term_signal == SIGKILL);
    CHECK(closed == 3);
    CHECK(after_close == UV_EBADF);
    CHECK(late_status == process::exit_status{0, 0});
    CHECK(close_reaped);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("200 children, at most 16 at once, every one reaped", "[process]") {
    constexpr int children = 200, at_once = 16;
    luv::runtime rt;
    int next = 0, running = 0, most = 0, right = 0;
    luv::spawn([&] {
        std::vector<luv::fiber<void>> workers;
        for (int w = 0; w < at_once; ++w) {
            workers.push_back(luv::spawn([&] {
                while (next < children) {
                    const int n = next++;
                    auto p = process::spawn("/bin/sh", {"-c", "exit " + std::to_string(n % 100)});
                    most = std::max(most, ++running);
                    const auto st = p.wait_for(bound);
                    --running;
                    right += st && st->exit_code == n % 100 ? 1 : 0;
                }
            }));
        }
        for (auto& f : workers) {
            f.join();
        }
    }).join();
    rt.run();

    CHECK(right == children);
    CHECK(most <= at_once);
    CHECK(most > 1);
    CHECK(our_zombies() == 0);
    errno = 0;
    CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);  // no child left at all, zombie or not
    CHECK(errno == ECHILD);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a process destroyed while its child runs: the child is still reaped",
          "[process]") {
    luv::runtime rt;
    int pid = 0;
    bool alive_after_drop = false, reaped = false;
    luv::spawn([&] {
        {
            auto p = process::spawn("sleep", {"0.2"}, piped(true, true, false));
            pid = p.pid();
        }  // let go: not killed, pipes closed (sleep reads nothing, writes nothing)
        alive_after_drop = ::kill(pid, 0) == 0;
        reaped = reaped_within(pid, bound);
    }).join();
    rt.run();

    CHECK(alive_after_drop);
    CHECK(reaped);
    CHECK(our_zombies() == 0);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a detached child keeps the loop alive only while a fiber waits", "[process]") {
    luv::runtime rt;
    std::optional<process> p;
    luv::spawn([&] {
        process::options o;
        o.detached = true;
        p.emplace(process::spawn("sleep", {"5"}, o));
    }).join();
    const auto t0 = luv::hrtime();
    rt.run();  // returns at once: nothing holds the loop
    CHECK(ms_since(t0) < 2000);
    CHECK_FALSE(p->exited());
    CHECK(::getsid(p->pid()) == p->pid());  // leads its own session
    CHECK(p->kill(SIGKILL));
    const auto st = p->wait_for(bound);  // from the thread: the wait holds the loop
    REQUIRE(st.has_value());
    CHECK(st->term_signal == SIGKILL);
    p.reset();
    rt.run();
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("descriptors back to baseline after 100 spawns with pipes", "[process]") {
    luv::runtime rt;
    int before = 0, after = 0, good = 0;
    luv::spawn([&] {
        // The first spawn makes what lives as long as the loop: libuv's signal pipe, and
        // the descriptor it keeps in reserve from the loop's first stream on.
        process::spawn("/bin/true", {}, piped(true, true, true)).wait();
        before = open_fds();
        for (int i = 0; i < 100; ++i) {
            auto p = process::spawn("/bin/sh", {"-c", "echo out; echo err >&2"},
                                    piped(true, true, true));
            if (i % 2 == 0) {
                p.stdin_pipe().close();
                const std::string out = read_all(p.stdout_pipe());
                const std::string err = read_all(p.stderr_pipe());
                good += out == "out\n" && err == "err\n" ? 1 : 0;
            } else {
                ++good;  // the pipes go with the object, unread
            }
            good -= p.wait_for(bound).has_value() ? 0 : 1;
        }
        after = open_fds();
    }).join();
    rt.run();

    CHECK(good == 100);
    CHECK(after == before);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("stdio: ignore, a descriptor, a luv stream; a pipe moved out of the process",
          "[process]") {
    luv::runtime rt;
    std::string from_fd, from_stream, moved_out, ignored;
    luv::spawn([&] {
        // A descriptor: the write end of pipe(2), read back through a luv::pipe.
        int fds[2];
        REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
        luv::pipe r;
        r.open(fds[0]);
        process::options o;
        o.out = process::stdio::descriptor(fds[1]);
        auto p = process::spawn("echo", {"by descriptor"}, o);
        ::close(fds[1]);  // the child has its copy
        from_fd = read_all(r);
        CHECK(p.wait_for(bound).has_value());

        // A luv stream: one end of a socketpair.
        int sv[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        luv::pipe a, b;
        a.open(sv[0]);
        b.open(sv[1]);
        o.out = process::stdio::of(b);
        auto q = process::spawn("echo", {"by stream"}, o);
        b.close();
        from_stream = read_all(a);
        CHECK(q.wait_for(bound).has_value());

        // A closed stream is refused.
        CHECK(uv_status_of([&] { process::spawn("echo", {}, o); }) == UV_EBADF);

        // stdin ignored: cat reads /dev/null. Its stdout moved into a fiber of its own.
        o.in = process::stdio::ignore();
        o.out = process::stdio::pipe();
        auto c = process::spawn("cat", {}, o);
        auto reader = luv::spawn([](luv::pipe out) { return read_all(out); },
                                 std::move(c.stdout_pipe()));
        CHECK(c.stdout_pipe().closed());
        ignored = reader.join();
        CHECK(c.wait_for(bound) == process::exit_status{0, 0});

        // A moved process keeps its child and pipes; the moved-from one has neither.
        auto m = process::spawn("echo", {"moved"}, piped(false, true, false));
        process n = std::move(m);
        CHECK(m.closed());
        CHECK_THROWS_AS(m.stdout_pipe(), std::logic_error);
        moved_out = read_all(n.stdout_pipe());
        CHECK(n.wait_for(bound).has_value());
    }).join();
    rt.run();

    CHECK(from_fd == "by descriptor\n");
    CHECK(from_stream == "by stream\n");
    CHECK(ignored.empty());
    CHECK(moved_out == "moved\n");
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("run captures stdout (and stderr when piped) and the exit status", "[process]") {
    luv::runtime rt;
    process::output plain, both;
    luv::spawn([&] {
        plain = process::run("sh", {"-c", "echo hello; exit 3"});
        both = process::run("sh", {"-c", "echo out; echo err >&2; kill -9 $$"},
                            piped(true, false, true));
    }).join();
    rt.run();

    CHECK(plain.status == process::exit_status{3, 0});
    CHECK(plain.out == "hello\n");
    CHECK(plain.err.empty());
    CHECK(both.status.term_signal == SIGKILL);
    CHECK(both.out == "out\n");
    CHECK(both.err == "err\n");
    REQUIRE_LOOP_CLEAN(rt);
}
