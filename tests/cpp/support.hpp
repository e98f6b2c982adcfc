// Helpers shared by the C++ tests: the current scheduler, a millisecond clock, and the
// "loop is clean" check every test ends with (libuv's MAKE_VALGRIND_HAPPY in spirit).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <cstdio>
#include <string>

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <uv.h>

#include "core/scheduler.hpp"
#include "luv/error.hpp"
#include "luv/runtime.hpp"
#include "luv/util.hpp"

namespace luv::test {

/// The scheduler of the calling thread's runtime.
inline detail::scheduler& sched() { return runtime::get().scheduler(); }

/// A fresh directory under $TMPDIR (or /tmp), named `<prefix>-XXXXXX`, removed with
/// everything in it at the end.
class temp_dir {
public:
    explicit temp_dir(const char* prefix) {
        const char* tmp = std::getenv("TMPDIR");
        std::string tmpl = std::string(tmp != nullptr ? tmp : "/tmp") + "/" + prefix + "-XXXXXX";
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    std::string operator/(const std::string& name) const { return path + "/" + name; }
    std::string path;
};

/// The libuv status of the luv::system_error that `f()` throws, or 0 if it returns.
template <class F>
int uv_status_of(F&& f) {
    try {
        f();
    } catch (const luv::system_error& e) {
        return e.status();
    }
    return 0;
}

/// Milliseconds elapsed since `start_ns`, a luv::hrtime() reading.
inline double ms_since(std::uint64_t start_ns) {
    return static_cast<double>(hrtime() - start_ns) / 1e6;
}

/// Handles still on the loop, closing or not, except the scheduler's own deadline
/// timer (which lives as long as the runtime).
inline int leftover_handles(runtime& rt) {
    struct count {
        const void* sched;
        int n;
    } c{&rt.scheduler(), 0};
    uv_walk(
        rt.loop(),
        [](uv_handle_t* h, void* arg) {
            auto* c = static_cast<count*>(arg);
            if (h->data != c->sched) {
                ++c->n;
            }
        },
        &c);
    return c.n;
}

/// Sends the process's stderr (fd 2) to a temporary file until text() is called, to
/// check what the runtime reports there.
class stderr_capture {
public:
    stderr_capture() : file_(std::tmpfile()), saved_(dup(2)) {
        std::fflush(stderr);
        dup2(fileno(file_), 2);
    }
    ~stderr_capture() {
        restore();
        std::fclose(file_);
    }
    stderr_capture(const stderr_capture&) = delete;
    stderr_capture& operator=(const stderr_capture&) = delete;

    /// Restores stderr and returns what was written to it meanwhile.
    std::string text() {
        restore();
        std::string out;
        std::rewind(file_);
        char buf[512];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, file_)) > 0;) {
            out.append(buf, n);
        }
        return out;
    }

private:
    void restore() {
        if (saved_ >= 0) {
            std::fflush(stderr);
            dup2(saved_, 2);
            close(saved_);
            saved_ = -1;
        }
    }
    std::FILE* file_;
    int saved_;
};

}  // namespace luv::test

/// After the loop drained: no handle left behind and nothing keeping the loop alive.
#define REQUIRE_LOOP_CLEAN(rt)                                  \
    do {                                                        \
        REQUIRE(::luv::test::leftover_handles(rt) == 0);        \
        REQUIRE(uv_loop_alive((rt).loop()) == 0);               \
    } while (false)
