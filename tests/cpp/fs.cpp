// luv::fs: open, write, read, stat and unlink from a fiber and from the thread; failures
// that name the path; a cancelled read whose request outlives the wait, keeps its
// descriptor open until it ends, and then frees itself; and reads of regular files that
// come from the page cache without suspending, or partly from the threadpool, with the
// same bytes, position and end as a plain read(2).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "luv/error.hpp"
#include "luv/fiber.hpp"
#include "luv/fs.hpp"
#include "support.hpp"

using namespace std::chrono_literals;

using luv::test::uv_status_of;
using luv::test::temp_dir;

namespace {

// Where /proc/self/fd/<fd> points, or "" if the descriptor is not open.
std::string fd_target(int fd) {
    std::error_code ec;
    auto p = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), ec);
    return ec ? std::string() : p.string();
}

// How many threads of this process sit in a system call whose first argument is `fd`
// (/proc/<pid>/task/<tid>/syscall: the call's number, then its arguments in hex), or -1
// if the kernel does not say.
int threads_in_syscall_on(int fd) {
    int count = 0;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
        std::ifstream in(task.path() / "syscall");
        long nr = 0;
        std::string arg1;
        if (!(in >> nr >> arg1)) {
            if (!in.is_open()) {
                return -1;
            }
            continue;  // "running"
        }
        if (std::stol(arg1, nullptr, 16) == fd) {
            ++count;
        }
    }
    return ec ? -1 : count;
}

// Waits until a threadpool thread is blocked in a read of `fd`, so that a cancel finds
// the request running, not queued. Suspends the calling fiber.
void wait_blocked_read(int fd) {
    for (int i = 0; i < 5000; ++i) {
        const int n = threads_in_syscall_on(fd);
        if (n > 0) {
            return;
        }
        luv::this_fiber::sleep_for(n < 0 ? 100ms : 1ms);
        if (n < 0) {
            return;  // no /proc/.../syscall: the time will have to do
        }
    }
}

// `size` bytes in which every offset is told apart: numbered lines of 9 bytes.
std::string numbered(std::size_t size) {
    std::string s;
    char line[16];
    for (unsigned i = 0; s.size() < size; ++i) {
        std::snprintf(line, sizeof line, "%08u\n", i);
        s += line;
    }
    s.resize(size);
    return s;
}

// Whether the filesystem of `fd` answers RWF_NOWAIT (ext4 and xfs do, tmpfs does not).
bool nowait_supported(int fd) {
    char c;
    iovec iov{&c, 1};
    return ::preadv2(fd, &iov, 1, 0, RWF_NOWAIT) >= 0 || errno == EAGAIN;
}

// Whether the page cache holds the page at `offset` of `fd`. mincore asks without reading
// (a preadv2 probe would start the readahead that fills the cache again).
bool cached_at(int fd, std::size_t offset) {
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    void* m = ::mmap(nullptr, page, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(offset));
    if (m == MAP_FAILED) {
        return true;
    }
    unsigned char in = 1;
    ::mincore(m, page, &in);
    ::munmap(m, page);
    return (in & 1) != 0;
}

}  // namespace

TEST_CASE("open, write, read, stat and unlink from a fiber", "[fs]") {
    luv::runtime rt;
    std::string read_back, tail;
    luv::fs::stat_info st;
    bool gone = false;
    luv::spawn([&] {
        temp_dir dir("luv-cpp-fs");
        const std::string p = dir / "a";
        {
            luv::fs::file f(p, "w");
            CHECK(f.is_open());
            CHECK(f.write("hello ") == 6);
            CHECK(f.write("world") == 5);  // at the position, after the first
        }
        luv::fs::file f(p);
        read_back = f.read();
        tail = f.read();  // at the end
        CHECK(f.read(3, 1) == "ell");
        st = luv::fs::stat(p);
        CHECK(f.stat().ino == st.ino);
        f.close();
        CHECK_FALSE(f.is_open());
        CHECK(f.fd() == -1);
        luv::fs::unlink(p);
        gone = !luv::fs::access(p);
        CHECK(luv::fs::readdir(dir.path).empty());
    });
    rt.run();

    CHECK(read_back == "hello world");
    CHECK(tail.empty());
    CHECK(st.size == 11);
    CHECK(st.type == luv::fs::file_type::file);
    CHECK((st.mode & S_IFMT) == S_IFREG);
    CHECK(st.mtime > 1e9);
    CHECK(gone);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("the thread itself may call luv::fs; it runs the loop meanwhile", "[fs]") {
    luv::runtime rt;
    temp_dir dir("luv-cpp-fs");
    int ticks = 0;
    luv::spawn([&] {
        for (int i = 0; i < 3; ++i) {
            luv::this_fiber::sleep_for(1ms);
            ++ticks;
        }
    });
    {
        luv::fs::file f(dir / "x", "w+");
        f.write("abc");
        CHECK(f.read(10, 0) == "abc");
    }
    luv::fs::mkdir(dir / "sub", 0700);
    luv::fs::symlink("x", dir / "ln");
    CHECK(luv::fs::readlink(dir / "ln") == "x");
    CHECK(luv::fs::lstat(dir / "ln").type == luv::fs::file_type::symlink);
    const auto entries = luv::fs::scandir(dir.path);
    REQUIRE(entries.size() == 3);
    CHECK(entries[0].name == "ln");
    CHECK(entries[1].name == "sub");
    CHECK(entries[1].type == luv::fs::file_type::directory);
    CHECK(entries[2].name == "x");
    rt.run();

    CHECK(ticks == 3);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("failures throw luv::system_error naming the path", "[fs]") {
    luv::runtime rt;
    temp_dir dir("luv-cpp-fs");
    const std::string missing = dir / "missing";
    std::string what;
    try {
        luv::fs::file f(missing);
    } catch (const luv::system_error& e) {
        CHECK(e.status() == UV_ENOENT);
        CHECK(e.code() == std::errc::no_such_file_or_directory);
        what = e.what();
    }
    CHECK(what == "open " + missing + ": ENOENT: no such file or directory");
    CHECK(uv_status_of([&] { luv::fs::rename(missing, dir / "b"); }) == UV_ENOENT);
    CHECK(uv_status_of([&] { luv::fs::mkdir(dir.path); }) == UV_EEXIST);
    CHECK(uv_status_of([&] { luv::fs::rmdir(missing); }) == UV_ENOENT);
    CHECK_THROWS_AS(luv::fs::file(dir / "x", "q"), std::invalid_argument);
    luv::fs::file closed;
    CHECK(uv_status_of([&] { closed.read(); }) == UV_EBADF);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("sendfile and copyfile copy whole files", "[fs]") {
    luv::runtime rt;
    temp_dir dir("luv-cpp-fs");
    {
        luv::fs::file f(dir / "src", "w");
        f.write(std::string(200000, 'z'));
    }
    luv::fs::file in(dir / "src");
    luv::fs::file out(dir / "dst", "w+");
    CHECK(luv::fs::sendfile(out, in) == 200000);
    CHECK(luv::fs::sendfile(out, in, 199990, 5) == 5);
    CHECK(out.stat().size == 200005);
    luv::fs::copyfile(dir / "src", dir / "copy");
    CHECK(luv::fs::stat(dir / "copy").size == 200000);
    CHECK(uv_status_of([&] {
              luv::fs::copyfile(dir / "src", dir / "copy", luv::fs::copy_exclusive);
          }) == UV_EEXIST);
    REQUIRE_LOOP_CLEAN(rt);
}

// The read of a FIFO that no one writes to blocks a threadpool thread. Cancelling the
// fiber ends its wait at once; the request lives on until the read returns, the file's
// close is deferred until then, and the request frees itself (ASan would see a leak).
TEST_CASE("a cancelled read returns UV_ECANCELED; its request frees itself later", "[fs]") {
    luv::runtime rt;
    temp_dir dir("luv-cpp-fs");
    const std::string fifo = dir / "fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    int status = 0;
    int fd = -1;
    bool open_while_in_flight = false;
    luv::spawn([&] {
        luv::fs::file f(fifo, "r+");  // O_RDWR: does not wait for a writer
        fd = f.fd();
        auto reader = luv::spawn([&] { status = uv_status_of([&] { f.read(); }); });
        wait_blocked_read(fd);
        reader.cancel();
        reader.join();
        f.close();
        open_while_in_flight = fd_target(fd) == fifo;
        luv::fs::file w(fifo, "w");
        w.write("x");  // ends the abandoned read
    });
    rt.run();  // returns only once the request is done: it keeps the loop alive

    CHECK(status == UV_ECANCELED);
    CHECK(open_while_in_flight);
    CHECK(fd_target(fd) != fifo);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("cwd, chdir and exepath", "[fs]") {
    luv::runtime rt;
    temp_dir dir("luv-cpp-fs");
    const std::string here = luv::fs::cwd();
    luv::fs::chdir(dir.path);
    CHECK(luv::fs::cwd() == luv::fs::realpath(dir.path));
    luv::fs::chdir(here);
    CHECK(luv::fs::cwd() == here);
    CHECK(uv_status_of([&] { luv::fs::chdir(dir / "missing"); }) == UV_ENOENT);
    CHECK(luv::fs::exepath().find("luv-cpp-tests") != std::string::npos);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("reads of a regular file give the bytes, position and end of read(2)", "[fs]") {
    luv::runtime rt;
    temp_dir dir("luv-cpp-fs");
    const std::string p = dir / "data";
    const std::string data = numbered((4u << 20) + 123);
    luv::spawn([&] {
        luv::fs::file(p, "w").write(data);
        luv::fs::file f(p);
        std::string all;
        for (std::string part; !(part = f.read(65536)).empty();) {
            CHECK((part.size() == 65536 || all.size() + part.size() == data.size()));
            all += part;
        }
        CHECK(all == data);
        CHECK(f.read(10).empty());
        CHECK(f.read(10, 0) == data.substr(0, 10));
        CHECK(f.read(100, data.size() - 7) == data.substr(data.size() - 7));  // spans the end
        CHECK(f.read(100, data.size()).empty());
        CHECK(f.read(0, 5).empty());

        // The second half leaves the page cache: a read across it takes its cached head
        // on the loop's thread and the rest on the threadpool, or the whole there. (At
        // 2 MiB: the kernel drops only whole folios, and ext4's may be that large.)
        const std::size_t half = 2u << 20;
        REQUIRE(::fdatasync(f.fd()) == 0);
        const std::string tail = data.substr(1000);  // made before: the reads follow polls
        const auto uncache = [&] {
            ::posix_fadvise(f.fd(), half, 0, POSIX_FADV_DONTNEED);
            if (cached_at(f.fd(), half + 4096)) {
                WARN("the page cache was not dropped: the reads come from it");
            }
            luv::this_fiber::sleep_for(0ms);  // the loop polls: the fast path may run
        };
        uncache();
        std::string got = f.read(data.size() + 10, 1000);
        CHECK(got == tail);
        luv::fs::file g(p);
        CHECK(g.read(1000) == data.substr(0, 1000));
        uncache();
        got = g.read(data.size());  // at the position
        CHECK(got == tail);
        CHECK(g.read(10).empty());  // which moved once
    });
    rt.run();
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a read from the page cache completes without suspending", "[fs]") {
    luv::runtime rt;
    temp_dir dir("luv-cpp-fs");
    const std::string p = dir / "data";
    bool supported = true, inline_read = false;
    luv::spawn([&] {
        luv::fs::file(p, "w").write(numbered(100000));
        luv::fs::file f(p);
        supported = nowait_supported(f.fd());
        // Only if the loop polled within the last millisecond (the fairness budget),
        // which a loaded machine may miss now and then.
        for (int i = 0; i < 50 && supported && !inline_read; ++i) {
            luv::this_fiber::sleep_for(0ms);
            bool ran = false;
            luv::spawn([&] { ran = true; });
            CHECK(f.read(1000, 0).size() == 1000);
            inline_read = !ran;
            luv::this_fiber::yield();  // `ran` may go now
        }
    });
    rt.run();
    if (supported) {
        CHECK(inline_read);
    } else {
        WARN("RWF_NOWAIT is not supported on " + dir.path + ": every read suspends");
    }
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("timers keep firing while a fiber reads a cached file in a loop", "[fs]") {
    luv::runtime rt;
    temp_dir dir("luv-cpp-fs");
    const std::string p = dir / "data";
    const std::size_t size = 8u << 20;
    luv::fs::file(p, "w").write(numbered(size));  // before the clock starts
    bool reading = true;
    int ticks = 0;
    double worst_ms = 0;
    luv::spawn([&] {
        while (reading) {
            const std::uint64_t t0 = luv::hrtime();
            luv::this_fiber::sleep_for(10ms);
            worst_ms = std::max(worst_ms, luv::test::ms_since(t0) - 10);
            ++ticks;
        }
    });
    std::uint64_t bytes = 0;
    luv::spawn([&] {
        luv::fs::file f(p);
        const std::uint64_t t0 = luv::hrtime();
        for (std::uint64_t off = 0; luv::test::ms_since(t0) < 400;) {
            const std::size_t n = f.read(65536, static_cast<std::int64_t>(off)).size();
            off = (off + n) % size;
            bytes += n;
        }
        reading = false;
    });
    rt.run();
    CHECK(bytes > size);
    CHECK(ticks >= 10);
    CHECK(worst_ms < 200);
    REQUIRE_LOOP_CLEAN(rt);
}
