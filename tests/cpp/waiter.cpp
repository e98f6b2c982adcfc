// detail::waiter and detail::wait_queue, the one suspend primitive: FIFO wake-ups,
// complete() taking effect once, deadlines, cancellation (immediate or pending), and the
// on_abandon hook that lets an operation forget a wait that ended without it.
#include <memory>
#include <vector>

#include <catch2/catch.hpp>

#include "luv/fiber.hpp"
#include "support.hpp"

using luv::detail::wait_queue;
using luv::detail::wait_status;
using luv::detail::waiter;
using luv::test::ms_since;
using luv::test::sched;

namespace {

// Waits on `q` the way an operation does: begin the wait, hook it, suspend.
wait_status wait_on(wait_queue& q, std::uint64_t deadline_ms = 0) {
    waiter w;
    if (sched().begin_wait(w, deadline_ms)) {
        q.push(w);
        sched().suspend(w);
    }
    return w.status();
}

// What an on_abandon hook saw.
struct abandon_log {
    int calls = 0;
    wait_status seen = wait_status::idle;
};

void record_abandon(waiter& w, void* ctx) {
    auto* log = static_cast<abandon_log*>(ctx);
    ++log->calls;
    log->seen = w.status();
}

// Like wait_on, with the hook installed once the wait has begun.
wait_status wait_hooked(wait_queue& q, abandon_log& log, std::uint64_t deadline_ms = 0) {
    waiter w;
    if (sched().begin_wait(w, deadline_ms)) {
        w.on_abandon(&record_abandon, &log);
        q.push(w);
        sched().suspend(w);
    }
    return w.status();
}

}  // namespace

TEST_CASE("notify_one wakes the oldest waiter first", "[waiter]") {
    luv::runtime rt;
    wait_queue q;
    std::vector<int> order;
    std::vector<wait_status> how(3, wait_status::idle);
    std::size_t woken_after_first = 0;
    bool fourth = true;

    for (int i = 0; i < 3; ++i) {
        luv::spawn([&, i] {
            how[i] = wait_on(q);
            order.push_back(i);
        });
    }
    luv::spawn([&] {
        // Spawned last, so the three are queued on q by now.
        q.notify_one();
        luv::this_fiber::yield();
        woken_after_first = order.size();
        q.notify_one();
        q.notify_one();
        fourth = q.notify_one();
    });
    rt.run();

    CHECK(woken_after_first == 1);
    CHECK(order == std::vector<int>{0, 1, 2});
    CHECK(how == std::vector<wait_status>(3, wait_status::notified));
    CHECK_FALSE(fourth);
    CHECK(q.empty());
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("notify_all wakes every waiter, in order, with the status given", "[waiter]") {
    luv::runtime rt;
    wait_queue q;
    std::vector<int> order;
    std::vector<wait_status> how(4, wait_status::idle);

    for (int i = 0; i < 4; ++i) {
        luv::spawn([&, i] {
            how[i] = wait_on(q);
            order.push_back(i);
        });
    }
    luv::spawn([&] { q.notify_all(wait_status::cancelled); });
    rt.run();

    CHECK(order == std::vector<int>{0, 1, 2, 3});
    CHECK(how == std::vector<wait_status>(4, wait_status::cancelled));
    CHECK(q.empty());
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("complete() ends a wait once; later calls change nothing", "[waiter]") {
    luv::runtime rt;
    wait_queue q;
    waiter* pending = nullptr;
    wait_status how = wait_status::idle;
    int resumed = 0;
    bool queue_empty_after = false;

    luv::spawn([&] {
        waiter w;
        CHECK(sched().begin_wait(w));
        q.push(w);
        pending = &w;
        sched().suspend(w);
        how = w.status();
        ++resumed;
    });
    luv::spawn([&] {
        pending->complete(wait_status::timed_out);
        pending->complete(wait_status::cancelled);
        pending->notify();
        queue_empty_after = q.empty();  // complete() took it off the queue
    });
    rt.run();

    CHECK(how == wait_status::timed_out);
    CHECK(resumed == 1);
    CHECK(queue_empty_after);

    // A waiter that never began does not change either.
    waiter idle;
    idle.notify();
    CHECK(idle.status() == wait_status::idle);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a deadline ends a wait with timed_out", "[waiter]") {
    luv::runtime rt;
    wait_status how = wait_status::idle;
    double elapsed = 0;

    luv::spawn([&] {
        const auto t0 = luv::hrtime();
        waiter w;
        how = sched().wait(w, sched().deadline_after_ms(30));
        elapsed = ms_since(t0);
    });
    rt.run();

    CHECK(how == wait_status::timed_out);
    CHECK(elapsed >= 25);  // loop time has millisecond granularity
    CHECK(elapsed < 1000);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a notify before the deadline wins and leaves no deadline behind", "[waiter]") {
    luv::runtime rt;
    wait_queue q;
    wait_status how = wait_status::idle;

    luv::spawn([&] { how = wait_on(q, sched().deadline_after_ms(10'000)); });
    luv::spawn([&] { q.notify_one(); });
    const auto t0 = luv::hrtime();
    rt.run();  // would take 10 s if the deadline were still armed

    CHECK(how == wait_status::notified);
    CHECK(ms_since(t0) < 1000);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("cancel wakes a waiting fiber with cancelled", "[waiter]") {
    luv::runtime rt;
    wait_queue q;
    wait_status how = wait_status::idle;
    bool cancel_result = false;

    auto f = luv::spawn([&] { how = wait_on(q); });
    luv::spawn([&] { cancel_result = f.cancel(); });
    rt.run();

    CHECK(cancel_result);
    CHECK(how == wait_status::cancelled);
    CHECK(q.empty());
    CHECK_FALSE(f.cancel());  // it ended: nothing to cancel
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a cancel while not waiting ends the next wait at once, and only that one",
          "[waiter]") {
    luv::runtime rt;
    bool began = true;
    wait_status first = wait_status::idle;
    wait_status second = wait_status::idle;
    double first_ms = -1;

    luv::spawn([&] {
        CHECK(sched().current()->cancel());  // not waiting: the cancel stays pending
        const auto t0 = luv::hrtime();
        waiter w1;
        began = sched().begin_wait(w1, sched().deadline_after_ms(5'000));
        first = w1.status();
        first_ms = ms_since(t0);
        waiter w2;
        second = sched().wait(w2, sched().deadline_after_ms(5));
    });
    rt.run();

    CHECK_FALSE(began);
    CHECK(first == wait_status::cancelled);
    CHECK(first_ms < 100);
    CHECK(second == wait_status::timed_out);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("cancelling a fiber that has not started ends its first wait", "[waiter]") {
    luv::runtime rt;
    wait_queue q;
    wait_status how = wait_status::idle;

    auto f = luv::spawn([&] { how = wait_on(q); });
    CHECK(f.cancel());
    rt.run();

    CHECK(how == wait_status::cancelled);
    CHECK(q.empty());
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("on_abandon runs on timeout, cancel and deadlock, never on notify", "[waiter]") {
    luv::runtime rt;
    wait_queue q;
    abandon_log timed, cancelled, notified, root;
    wait_status timed_how{}, cancelled_how{}, notified_how{};

    luv::spawn([&] { timed_how = wait_hooked(q, timed, sched().deadline_after_ms(5)); });
    auto c = luv::spawn([&] { cancelled_how = wait_hooked(q, cancelled); });
    wait_queue q2;
    luv::spawn([&] { notified_how = wait_hooked(q2, notified); });
    luv::spawn([&] {
        c.cancel();
        q2.notify_all();
    });
    rt.run();

    CHECK(timed_how == wait_status::timed_out);
    CHECK(timed.calls == 1);
    CHECK(timed.seen == wait_status::timed_out);
    CHECK(cancelled_how == wait_status::cancelled);
    CHECK(cancelled.calls == 1);
    CHECK(cancelled.seen == wait_status::cancelled);
    CHECK(notified_how == wait_status::notified);
    CHECK(notified.calls == 0);

    // The root waiting on a queue nobody will notify: the loop ends it as a deadlock.
    CHECK(wait_hooked(q, root) == wait_status::deadlock);
    CHECK(root.calls == 1);
    CHECK(root.seen == wait_status::deadlock);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a wait_queue going away wakes its waiters with cancelled", "[waiter]") {
    luv::runtime rt;
    auto q = std::make_unique<wait_queue>();
    std::vector<wait_status> how(2, wait_status::idle);

    for (int i = 0; i < 2; ++i) {
        luv::spawn([&, i] { how[i] = wait_on(*q); });
    }
    luv::spawn([&] { q.reset(); });
    rt.run();

    CHECK(how == std::vector<wait_status>(2, wait_status::cancelled));
    REQUIRE_LOOP_CLEAN(rt);
}
