// detail::stack_pool: the mmap'd native stacks that parked fibers and the loop run on.
// A guard page sits below every stack, so an overflow dies with SIGSEGV instead of
// writing over a neighbour; freed stacks are cached, up to a bound; the pool refuses to
// hold more than max_stacks at once.
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/stack_pool.hpp"
#include "luv/fiber.hpp"

using luv::detail::stack;
using luv::detail::stack_pool;

namespace {

std::size_t page() { return static_cast<std::size_t>(sysconf(_SC_PAGESIZE)); }

// The permissions ("rw-p", "---p") of the mapping that contains `addr`, from
// /proc/self/maps; empty if no mapping does.
std::string perms_at(const void* addr) {
    const auto a = reinterpret_cast<std::uintptr_t>(addr);
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        unsigned long lo = 0;
        unsigned long hi = 0;
        char perms[5] = {};
        if (std::sscanf(line.c_str(), "%lx-%lx %4s", &lo, &hi, perms) == 3 && lo <= a &&
            a < hi) {
            return perms;
        }
    }
    return {};
}

// Runs `fn` in a forked child; returns the signal that killed the child, or 0 if it
// exited normally. Catch2's own SIGSEGV handler is removed there first, so the child dies
// the way a real program would.
template <class F>
int death_signal(F fn) {
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = fork();
    if (pid == 0) {
        std::signal(SIGSEGV, SIG_DFL);
        std::signal(SIGBUS, SIG_DFL);
        fn();
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

// Recursion that the optimiser cannot flatten: each frame keeps 1 KiB alive and uses it
// after the call.
volatile int never = -1;
int deep(int n) {
    volatile char pad[1024];
    pad[n % sizeof pad] = static_cast<char>(n);
    if (n == never) {
        return 0;
    }
    return deep(n + 1) + pad[n % sizeof pad];
}

}  // namespace

TEST_CASE("a stack's usable area lies just above its guard page", "[stack_pool]") {
    stack_pool pool;
    stack* s = pool.acquire();
    REQUIRE(s != nullptr);

    CHECK(pool.stack_size() == stack_pool::default_stack_size);
    CHECK(s->usable() == pool.stack_size());
    CHECK(s->mapping_size == pool.stack_size() + page());
    CHECK(s->bottom() == s->mapping + page());
    CHECK(static_cast<std::size_t>(s->top() - s->bottom()) == s->usable());

    CHECK(perms_at(s->mapping) == "---p");
    CHECK(perms_at(s->mapping + page() - 1) == "---p");
    CHECK(perms_at(s->bottom()) == "rw-p");
    CHECK(perms_at(s->top() - 1) == "rw-p");

    // The whole usable area can be written.
    std::memset(s->bottom(), 0xA5, s->usable());
    CHECK(static_cast<unsigned char>(s->top()[-1]) == 0xA5);

    pool.release(s);
}

TEST_CASE("stack sizes round up to whole pages", "[stack_pool]") {
    CHECK(stack_pool(1).stack_size() == page());
    CHECK(stack_pool(page()).stack_size() == page());
    CHECK(stack_pool(3 * page() + 1).stack_size() == 4 * page());
}

TEST_CASE("a released stack is reused by the next acquire", "[stack_pool]") {
    stack_pool pool;
    CHECK(pool.in_use() == 0);
    CHECK(pool.cached() == 0);

    stack* a = pool.acquire();
    stack* b = pool.acquire();
    REQUIRE(a != nullptr);
    REQUIRE(b != nullptr);
    CHECK(a != b);
    CHECK(pool.in_use() == 2);

    pool.release(a);
    CHECK(pool.in_use() == 1);
    CHECK(pool.cached() == 1);

    stack* c = pool.acquire();
    CHECK(c == a);
    CHECK(pool.cached() == 0);
    CHECK(pool.in_use() == 2);

    pool.release(b);
    pool.release(c);
    CHECK(pool.in_use() == 0);
    CHECK(pool.cached() == 2);
}

TEST_CASE("the pool caches at most max_cached free stacks", "[stack_pool]") {
    stack_pool pool(page());
    std::vector<stack*> held;
    for (std::size_t i = 0; i < stack_pool::max_cached + 8; ++i) {
        held.push_back(pool.acquire());
        REQUIRE(held.back() != nullptr);
    }
    for (stack* s : held) {
        pool.release(s);
    }
    CHECK(pool.in_use() == 0);
    CHECK(pool.cached() == stack_pool::max_cached);
}

TEST_CASE("a write into the guard page kills the process with SIGSEGV", "[stack_pool]") {
    stack_pool pool;
    stack* s = pool.acquire();
    REQUIRE(s != nullptr);

    // Control: the lowest usable byte is writable.
    CHECK(death_signal([s] { *static_cast<volatile char*>(s->bottom()) = 1; }) == 0);
    // The byte just below it is not.
    CHECK(death_signal([s] { *static_cast<volatile char*>(s->bottom() - 1) = 1; }) == SIGSEGV);
    CHECK(death_signal([s] { *static_cast<volatile char*>(s->mapping) = 1; }) == SIGSEGV);

    pool.release(s);
}

TEST_CASE("a C++ fiber that overflows its stack dies on the guard page", "[stack_pool]") {
    // 1 KiB frames: the 1 MiB stack runs out after about a thousand calls.
    const int sig = death_signal([] {
        luv::runtime rt;
        luv::spawn([] { (void)deep(0); });
        rt.run();
    });
    CHECK(sig == SIGSEGV);
}

TEST_CASE("acquire returns nullptr with EAGAIN beyond max_stacks", "[stack_pool]") {
    // Each stack is two kernel mappings (stack and guard).
    long max_map_count = 0;
    std::ifstream("/proc/sys/vm/max_map_count") >> max_map_count;
    if (max_map_count < static_cast<long>(2 * stack_pool::max_stacks + 2000)) {
        WARN("vm.max_map_count is " << max_map_count << ": test skipped");
        return;
    }

    stack_pool pool(page());  // small stacks: the limit is a count, not a size
    std::vector<stack*> held;
    held.reserve(stack_pool::max_stacks);
    for (std::size_t i = 0; i < stack_pool::max_stacks; ++i) {
        stack* s = pool.acquire();
        if (s == nullptr) {
            break;
        }
        held.push_back(s);
    }
    CHECK(held.size() == stack_pool::max_stacks);
    CHECK(pool.in_use() == stack_pool::max_stacks);

    errno = 0;
    CHECK(pool.acquire() == nullptr);
    CHECK(errno == EAGAIN);

    // One back, one out again.
    pool.release(held.back());
    held.back() = pool.acquire();
    CHECK(held.back() != nullptr);

    for (stack* s : held) {
        if (s != nullptr) {
            pool.release(s);
        }
    }
    CHECK(pool.in_use() == 0);
    CHECK(pool.cached() == stack_pool::max_cached);
}
