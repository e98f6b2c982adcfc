// luv::timer: fibers waiting for a libuv timer. One-shot and repeating, broadcast to
// every waiter, wait_for timing out, stop, again, and close (or destruction) waking the
// waiters with UV_ECANCELED.
#include <chrono>
#include <optional>
#include <system_error>
#include <vector>

#include <catch2/catch.hpp>

#include "luv/error.hpp"
#include "luv/fiber.hpp"
#include "luv/timer.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using luv::test::ms_since;

using luv::test::uv_status_of;

namespace {

// Runs `f` and returns the libuv status of the luv::system_error it throws (0 if none).
// Computes for `d` without waiting: the loop does not turn meanwhile.
void busy_for(std::chrono::milliseconds d) {
    const auto t0 = luv::hrtime();
    while (ms_since(t0) < static_cast<double>(d.count())) {
    }
}

}  // namespace

TEST_CASE("wait returns when a one-shot timer fires", "[timer]") {
    luv::runtime rt;
    double elapsed = 0;
    bool active_before = false;
    bool active_after = true;
    luv::spawn([&] {
        luv::timer t;
        t.start(20ms);
        active_before = t.active();
        const auto t0 = luv::hrtime();
        t.wait();
        elapsed = ms_since(t0);
        active_after = t.active();
    });
    rt.run();

    CHECK(active_before);
    CHECK_FALSE(active_after);
    // Not >= 20: start() counts from the loop's cached clock (see the last test case).
    CHECK(elapsed >= 10);
    CHECK(elapsed < 1000);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a repeating timer wakes its waiter every period until stopped", "[timer]") {
    luv::runtime rt;
    int ticks = 0;
    double elapsed = 0;
    bool active_after_stop = true;
    luv::spawn([&] {
        luv::timer t;
        const auto t0 = luv::hrtime();
        t.start(5ms, 5ms);
        for (int i = 0; i < 5; ++i) {
            t.wait();
            ++ticks;
        }
        elapsed = ms_since(t0);
        t.stop();
        active_after_stop = t.active();
    });
    rt.run();

    CHECK(ticks == 5);
    CHECK(elapsed >= 15);
    CHECK_FALSE(active_after_stop);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("every fiber waiting on a timer wakes when it fires", "[timer]") {
    luv::runtime rt;
    std::vector<int> order;
    luv::spawn([&] {
        luv::timer t;
        std::vector<luv::fiber<void>> waiters;
        for (int i = 0; i < 3; ++i) {
            waiters.push_back(luv::spawn([&, i] {
                t.wait();
                order.push_back(i);
            }));
        }
        t.start(5ms);
        for (auto& w : waiters) {
            w.join();
        }
    });
    rt.run();

    CHECK(order == std::vector<int>{0, 1, 2});
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("wait_for returns false when the timeout passes first", "[timer]") {
    luv::runtime rt;
    bool idle_timer = true;
    bool slow_timer = true;
    bool fast_timer = false;
    double elapsed = 0;
    luv::spawn([&] {
        luv::timer t;
        const auto t0 = luv::hrtime();
        idle_timer = t.wait_for(10ms);  // never started
        elapsed = ms_since(t0);
        t.start(10s);
        slow_timer = t.wait_for(5ms);
        t.start(5ms);
        fast_timer = t.wait_for(10s);
    });
    rt.run();

    CHECK_FALSE(idle_timer);
    CHECK(elapsed >= 5);
    CHECK_FALSE(slow_timer);
    CHECK(fast_timer);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("close wakes the waiters with UV_ECANCELED", "[timer]") {
    luv::runtime rt;
    std::vector<int> woke(2, 0);
    int start_after_close = 0;
    int wait_after_close = 0;
    luv::spawn([&] {
        luv::timer t;
        t.start(10s);
        std::vector<luv::fiber<void>> waiters;
        for (int i = 0; i < 2; ++i) {
            waiters.push_back(luv::spawn([&, i] { woke[i] = uv_status_of([&] { t.wait(); }); }));
        }
        luv::this_fiber::yield();  // both are waiting now
        t.close();
        t.close();  // idempotent
        CHECK(t.closed());
        CHECK_FALSE(t.active());
        start_after_close = uv_status_of([&] { t.start(1ms); });
        wait_after_close = uv_status_of([&] { t.wait(); });
        for (auto& w : waiters) {
            w.join();
        }
    });
    const auto t0 = luv::hrtime();
    rt.run();

    CHECK(woke == std::vector<int>{UV_ECANCELED, UV_ECANCELED});
    CHECK(start_after_close == UV_EBADF);
    CHECK(wait_after_close == UV_EBADF);
    CHECK(ms_since(t0) < 1000);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("destroying a timer wakes its waiters like close", "[timer]") {
    luv::runtime rt;
    int woke = 0;
    luv::spawn([&] {
        std::optional<luv::timer> t(std::in_place);
        t->start(10s);
        auto waiter = luv::spawn([&] { woke = uv_status_of([&] { t->wait(); }); });
        luv::this_fiber::yield();
        t.reset();
        waiter.join();
    });
    rt.run();

    CHECK(woke == UV_ECANCELED);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("stop keeps a started timer from firing", "[timer]") {
    luv::runtime rt;
    bool fired = true;
    luv::spawn([&] {
        luv::timer t;
        t.start(5ms);
        t.stop();
        CHECK_FALSE(t.active());
        fired = t.wait_for(30ms);
    });
    rt.run();

    CHECK_FALSE(fired);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("again restarts a repeating timer from now with its repeat", "[timer]") {
    luv::runtime rt;
    double elapsed = 0;
    int never_started = 0;
    luv::spawn([&] {
        luv::timer fresh;
        never_started = uv_status_of([&] { fresh.again(); });  // no repeat to restart with

        luv::timer t;
        t.start(10s, 10ms);
        const auto t0 = luv::hrtime();
        t.again();  // 10 ms from now, not 10 s
        t.wait();
        elapsed = ms_since(t0);
        t.stop();
    });
    rt.run();

    CHECK(never_started == UV_EINVAL);
    CHECK(elapsed < 1000);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("cancelling a fiber that waits on a timer", "[timer]") {
    luv::runtime rt;
    int status = 0;
    luv::spawn([&] {
        luv::timer t;
        t.start(20ms);
        auto waiter = luv::spawn([&] { status = uv_status_of([&] { t.wait(); }); });
        luv::this_fiber::yield();
        waiter.cancel();
        waiter.join();
        t.wait();  // the timer itself still fires for whoever waits next
    });
    rt.run();

    CHECK(status == UV_ECANCELED);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a moved timer keeps its handle; the source is closed", "[timer]") {
    luv::runtime rt;
    bool source_closed = false;
    bool fired = false;
    luv::spawn([&] {
        luv::timer a;
        a.start(2ms);
        luv::timer b(std::move(a));
        source_closed = a.closed();  // NOLINT(bugprone-use-after-move): documented state
        fired = b.wait_for(1s);
        luv::timer c;
        c = std::move(b);  // the old c is closed
        CHECK_FALSE(c.closed());
    });
    rt.run();

    CHECK(source_closed);
    CHECK(fired);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("the thread waiting on a stopped timer is a deadlock", "[timer]") {
    luv::runtime rt;
    luv::timer t;
    std::error_code ec;
    try {
        t.wait();
    } catch (const std::system_error& e) {
        ec = e.code();
    }
    CHECK(ec == std::errc::resource_deadlock_would_occur);
    t.close();
    rt.run();
    REQUIRE_LOOP_CLEAN(rt);
}

// This case shows a bug (see the report of issue 2). timer::start() and again() hand the
// delay to uv_timer_start/uv_timer_again, which count from the loop's cached clock
// (uv_now). That clock stands still while fibers run, so after a fiber has computed for a
// while the timer fires early, or at once. this_fiber::sleep_for and wait_for refresh the
// clock first (scheduler::now) and are not affected.
TEST_CASE("a timer started after a long computation still waits its whole delay",
          "[timer]") {
    luv::runtime rt;
    double slept = 0;
    double timed = 0;
    luv::spawn([&] {
        busy_for(50ms);
        auto t0 = luv::hrtime();
        luv::this_fiber::sleep_for(20ms);
        slept = ms_since(t0);

        busy_for(50ms);
        luv::timer t;
        t0 = luv::hrtime();
        t.start(20ms);
        t.wait();
        timed = ms_since(t0);
    });
    rt.run();

    CHECK(slept >= 19);
    CHECK(timed >= 19);  // fails: the timer fires at once
    REQUIRE_LOOP_CLEAN(rt);
}
