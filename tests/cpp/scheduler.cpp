// detail::scheduler: FIFO ready queue, yield round-robin, stacks held only by parked
// fibers, run() ending at quiescence, deadlock detection for the root, and scale.
#include <chrono>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <vector>

#include <catch2/catch.hpp>

#include "luv/error.hpp"
#include "luv/fiber.hpp"
#include "luv/timer.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using luv::detail::stack_pool;
using luv::detail::wait_queue;
using luv::detail::wait_status;
using luv::detail::waiter;
using luv::test::ms_since;
using luv::test::sched;

namespace {

wait_status wait_on(wait_queue& q) {
    waiter w;
    if (sched().begin_wait(w)) {
        q.push(w);
        sched().suspend(w);
    }
    return w.status();
}

}  // namespace

TEST_CASE("ready fibers run in the order they were spawned", "[scheduler]") {
    luv::runtime rt;
    std::vector<int> order;
    for (int i = 0; i < 5; ++i) {
        luv::spawn([&order, i] { order.push_back(i); });
    }
    // Spawning never suspends: nothing has run yet.
    CHECK(order.empty());
    rt.run();

    CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("yield sends a fiber to the back of the ready queue", "[scheduler]") {
    luv::runtime rt;
    std::vector<int> order;
    for (int i = 0; i < 3; ++i) {
        luv::spawn([&order, i] {
            for (int round = 0; round < 3; ++round) {
                order.push_back(i);
                luv::this_fiber::yield();
            }
        });
    }
    rt.run();

    CHECK(order == std::vector<int>{0, 1, 2, 0, 1, 2, 0, 1, 2});
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("the thread's yield runs the fibers that are ready", "[scheduler]") {
    luv::runtime rt;
    int ran = 0;
    bool inside = false;
    luv::spawn([&] {
        ++ran;
        inside = luv::this_fiber::in_fiber() && sched().current() != &sched().root();
    });

    CHECK_FALSE(luv::this_fiber::in_fiber());
    CHECK(sched().current() == &sched().root());
    luv::this_fiber::yield();

    CHECK(ran == 1);
    CHECK(inside);
    rt.run();
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("every parked C++ fiber holds a stack until it resumes", "[scheduler]") {
    luv::runtime rt;
    auto& stacks = sched().stacks();
    // Nothing has parked yet, not even the root: the loop has no carrier so far.
    CHECK(stacks.in_use() == 0);

    constexpr std::size_t n = 500;
    wait_queue q;
    std::size_t while_parked = 0;
    std::size_t woke = 0;
    for (std::size_t i = 0; i < n; ++i) {
        luv::spawn([&] {
            if (wait_on(q) == wait_status::notified) {
                ++woke;
            }
        });
    }
    luv::spawn([&] {
        while_parked = stacks.in_use();
        q.notify_all();
    });
    rt.run();

    CHECK(while_parked == n + 1);  // n parked fibers and the loop's carrier
    CHECK(woke == n);
    CHECK(stacks.in_use() == 1);   // the loop's carrier only
    CHECK(stacks.cached() <= stack_pool::max_cached);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("run() returns at once when nothing can happen", "[scheduler]") {
    luv::runtime rt;
    const auto t0 = luv::hrtime();
    rt.run();
    rt.run();
    CHECK(ms_since(t0) < 100);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("run() returns when the last sleeper has woken, and can run again", "[scheduler]") {
    luv::runtime rt;
    std::vector<int> woke;
    luv::spawn([&] {
        luv::this_fiber::sleep_for(30ms);
        woke.push_back(30);
    });
    luv::spawn([&] {
        luv::this_fiber::sleep_for(10ms);
        woke.push_back(10);
    });
    const auto t0 = luv::hrtime();
    rt.run();
    CHECK(ms_since(t0) >= 25);
    CHECK(woke == std::vector<int>{10, 30});

    luv::spawn([&] { woke.push_back(0); });
    rt.run();
    CHECK(woke.size() == 3);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("run() from inside a fiber throws std::logic_error", "[scheduler]") {
    luv::runtime rt;
    bool threw = false;
    luv::spawn([&] {
        try {
            rt.run();
        } catch (const std::logic_error&) {
            threw = true;
        }
    });
    rt.run();
    CHECK(threw);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a root wait that nothing can end finishes with deadlock", "[scheduler]") {
    luv::runtime rt;

    waiter w;
    CHECK(sched().wait(w) == wait_status::deadlock);

    // Joining a fiber that waits on a timer nobody started: nothing can ever end it.
    auto stuck = luv::spawn([] {
        luv::timer t;
        t.wait();
    });
    std::error_code joined;
    try {
        stuck.join();
    } catch (const std::system_error& e) {
        joined = e.code();
    }
    CHECK(joined == std::errc::resource_deadlock_would_occur);
    CHECK(stuck.status() == luv::fiber_status::suspended);

    // The fiber itself is still there; cancelling it ends its wait (and the fiber).
    CHECK(stuck.cancel());
    int status = 0;
    try {
        stuck.join();
    } catch (const luv::system_error& e) {
        status = e.status();
    }
    CHECK(status == UV_ECANCELED);
    rt.run();  // the fiber's timer closes on the next loop iteration
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a fiber that only yields does not starve timers", "[scheduler]") {
    luv::runtime rt;
    bool stop = false;
    long spins = 0;
    luv::spawn([&] {
        while (!stop) {
            ++spins;
            luv::this_fiber::yield();
        }
    });
    luv::spawn([&] {
        luv::this_fiber::sleep_for(10ms);
        stop = true;
    });
    rt.run();

    CHECK(stop);
    CHECK(spins > static_cast<long>(luv::detail::scheduler::poll_every));
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("switches() counts the fibers resumed", "[scheduler]") {
    luv::runtime rt;
    const auto before = sched().switches();
    for (int i = 0; i < 3; ++i) {
        luv::spawn([] { luv::this_fiber::yield(); });
    }
    rt.run();
    // Three fibers, two slices each (before and after the yield).
    CHECK(sched().switches() - before >= 6);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a fiber that finds no stack to park on gets an error; the others go on",
          "[scheduler]") {
    long max_map_count = 0;
    std::ifstream("/proc/sys/vm/max_map_count") >> max_map_count;
    if (max_map_count < static_cast<long>(2 * stack_pool::max_stacks + 2000)) {
        WARN("vm.max_map_count is " << max_map_count << ": test skipped");
        return;
    }
    luv::runtime rt;
    wait_queue q;
    constexpr std::size_t extra = 10;
    std::size_t parked = 0;
    std::size_t refused = 0;
    std::error_code refusal;
    for (std::size_t i = 0; i < stack_pool::max_stacks + extra; ++i) {
        luv::spawn([&] {
            try {
                if (wait_on(q) == wait_status::notified) {
                    ++parked;
                }
            } catch (const std::system_error& e) {
                ++refused;
                refusal = e.code();
            }
        });
    }
    luv::spawn([&] { q.notify_all(); });
    rt.run();

    // The loop's carrier is one of the max_stacks.
    CHECK(parked == stack_pool::max_stacks - 1);
    CHECK(refused == extra + 1);
    CHECK(refusal == std::errc::resource_unavailable_try_again);
    CHECK(q.empty());
    CHECK(sched().stacks().in_use() == 1);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("10,000 fibers are spawned and joined", "[scheduler]") {
    luv::runtime rt;
    constexpr long n = 10'000;
    std::vector<luv::fiber<long>> fibers;
    fibers.reserve(n);
    for (long i = 0; i < n; ++i) {
        fibers.push_back(luv::spawn(
            [](long k) {
                luv::this_fiber::yield();  // parks: all of them hold a stack at once
                return 2 * k;
            },
            i));
    }
    long sum = 0;
    for (auto& f : fibers) {
        sum += f.join();
    }

    CHECK(sum == n * (n - 1));
    long dead = 0;
    for (auto& f : fibers) {
        dead += f.status() == luv::fiber_status::dead ? 1 : 0;
    }
    CHECK(dead == n);
    CHECK(sched().stacks().in_use() == 1);
    rt.run();
    REQUIRE_LOOP_CLEAN(rt);
}
