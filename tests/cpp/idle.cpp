// luv::idle: while started, every waiting fiber wakes once per loop iteration and the
// loop does not block. Stop, close (waking waiters with UV_ECANCELED) and deadlock.
#include <chrono>
#include <system_error>
#include <vector>

#include <catch2/catch.hpp>

#include "luv/error.hpp"
#include "luv/fiber.hpp"
#include "luv/idle.hpp"
#include "support.hpp"

using namespace std::chrono_literals;

using luv::test::uv_status_of;

TEST_CASE("a started idle wakes its waiter on every loop iteration", "[idle]") {
    luv::runtime rt;
    int ticks = 0;
    bool active_started = false;
    bool active_stopped = true;
    luv::spawn([&] {
        luv::idle i;
        CHECK_FALSE(i.active());
        i.start();
        active_started = i.active();
        for (int n = 0; n < 10; ++n) {
            i.wait();
            ++ticks;
        }
        i.stop();
        active_stopped = i.active();
    });
    rt.run();

    CHECK(ticks == 10);
    CHECK(active_started);
    CHECK_FALSE(active_stopped);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("every fiber waiting on an idle wakes on each tick", "[idle]") {
    luv::runtime rt;
    std::vector<int> ticks(3, 0);
    luv::spawn([&] {
        luv::idle i;
        std::vector<luv::fiber<void>> waiters;
        for (int k = 0; k < 3; ++k) {
            waiters.push_back(luv::spawn([&, k] {
                for (int n = 0; n < 5; ++n) {
                    i.wait();
                    ++ticks[k];
                }
            }));
        }
        i.start();
        for (auto& w : waiters) {
            w.join();
        }
        i.stop();
    });
    rt.run();

    CHECK(ticks == std::vector<int>{5, 5, 5});
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("an idle keeps the loop turning while another fiber sleeps", "[idle]") {
    luv::runtime rt;
    bool slept = false;
    int ticks = 0;
    luv::spawn([&] {
        luv::idle i;
        i.start();
        auto sleeper = luv::spawn([&] {
            luv::this_fiber::sleep_for(20ms);
            slept = true;
        });
        while (!slept) {
            i.wait();
            ++ticks;
        }
        sleeper.join();
    });
    rt.run();

    CHECK(slept);
    CHECK(ticks > 1);  // the loop did not block for the whole sleep
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("close wakes idle waiters with UV_ECANCELED", "[idle]") {
    luv::runtime rt;
    int woke = 0;
    int start_after_close = 0;
    int wait_after_close = 0;
    luv::spawn([&] {
        luv::idle i;  // not started: only close can end the wait
        auto waiter = luv::spawn([&] { woke = uv_status_of([&] { i.wait(); }); });
        luv::this_fiber::yield();
        i.close();
        i.close();
        CHECK(i.closed());
        CHECK_FALSE(i.active());
        start_after_close = uv_status_of([&] { i.start(); });
        wait_after_close = uv_status_of([&] { i.wait(); });
        waiter.join();
    });
    rt.run();

    CHECK(woke == UV_ECANCELED);
    CHECK(start_after_close == UV_EBADF);
    CHECK(wait_after_close == UV_EBADF);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("cancelling a fiber that waits on an idle", "[idle]") {
    luv::runtime rt;
    int status = 0;
    luv::spawn([&] {
        luv::idle i;
        auto waiter = luv::spawn([&] { status = uv_status_of([&] { i.wait(); }); });
        luv::this_fiber::yield();
        waiter.cancel();
        waiter.join();
    });
    rt.run();

    CHECK(status == UV_ECANCELED);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("the thread waiting on a stopped idle is a deadlock", "[idle]") {
    luv::runtime rt;
    luv::idle i;
    std::error_code ec;
    try {
        i.wait();
    } catch (const std::system_error& e) {
        ec = e.code();
    }
    CHECK(ec == std::errc::resource_deadlock_would_occur);
    i.close();
    rt.run();
    REQUIRE_LOOP_CLEAN(rt);
}
