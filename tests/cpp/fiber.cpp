// The C++ fiber API (luv/fiber.hpp): spawn and join with values, void and exceptions;
// joining from fibers; cancel; status; failures nobody joins; and the runtime unwinding
// the fibers still alive when it is destroyed.
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "luv/error.hpp"
#include "luv/fiber.hpp"
#include "luv/timer.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using luv::test::ms_since;

namespace {

// Counts its destructions: proves a fiber's stack was unwound.
struct counted {
    explicit counted(int& n) : n_(n) {}
    ~counted() { ++n_; }
    counted(const counted&) = delete;
    counted& operator=(const counted&) = delete;
    int& n_;
};

}  // namespace

TEST_CASE("join returns the fiber's value", "[fiber]") {
    luv::runtime rt;
    auto sum = luv::spawn(
        [](int a, int b) {
            luv::this_fiber::sleep_for(1ms);
            return a + b;
        },
        2, 3);
    // Arguments are moved into the fiber, so move-only ones work.
    auto deref = luv::spawn([](std::unique_ptr<std::string> s) { return *s + "!"; },
                            std::make_unique<std::string>("moved"));

    CHECK(sum.status() == luv::fiber_status::ready);
    CHECK(sum.join() == 5);
    CHECK(sum.join() == 5);  // again: the result is kept
    CHECK(deref.join() == "moved!");
    CHECK(sum.status() == luv::fiber_status::dead);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("join of a void fiber waits for its end", "[fiber]") {
    luv::runtime rt;
    int steps = 0;
    auto f = luv::spawn([&] {
        ++steps;
        luv::this_fiber::sleep_for(2ms);
        ++steps;
    });
    f.join();
    CHECK(steps == 2);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("join rethrows the fiber's exception, every time", "[fiber]") {
    luv::runtime rt;
    auto f = luv::spawn([]() -> int {
        luv::this_fiber::yield();
        throw std::runtime_error("fiber failed");
    });
    CHECK_THROWS_WITH(f.join(), "fiber failed");
    CHECK_THROWS_AS(f.join(), std::runtime_error);
    CHECK(f.status() == luv::fiber_status::dead);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a fiber joins another, value and exception alike", "[fiber]") {
    luv::runtime rt;
    auto producer = luv::spawn([] {
        luv::this_fiber::sleep_for(5ms);
        return 41;
    });
    auto failing = luv::spawn([] {
        luv::this_fiber::sleep_for(1ms);
        throw std::runtime_error("inner");
    });
    std::string seen;
    auto consumer = luv::spawn([&] {
        try {
            failing.join();
        } catch (const std::runtime_error& e) {
            seen = e.what();
        }
        return producer.join() + 1;
    });

    CHECK(consumer.join() == 42);
    CHECK(seen == "inner");
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("cancel wakes a sleeping fiber with UV_ECANCELED", "[fiber]") {
    luv::runtime rt;
    auto sleeper = luv::spawn([] { luv::this_fiber::sleep_for(10s); });
    bool cancelled = false;
    luv::spawn([&] { cancelled = sleeper.cancel(); });

    const auto t0 = luv::hrtime();
    int status = 0;
    std::string what;
    try {
        sleeper.join();
    } catch (const luv::system_error& e) {
        status = e.status();
        CHECK(e.code() == luv::make_uv_error(UV_ECANCELED));
        what = e.what();
    }
    CHECK(cancelled);
    CHECK(status == UV_ECANCELED);
    CHECK_THAT(what, Contains("ECANCELED"));
    CHECK(ms_since(t0) < 1000);
    CHECK_FALSE(sleeper.cancel());  // dead now
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("status follows a fiber through its life", "[fiber]") {
    luv::runtime rt;
    luv::fiber<void> self;
    luv::fiber_status inside{};
    self = luv::spawn([&] {
        inside = self.status();
        luv::this_fiber::sleep_for(5ms);
    });
    luv::fiber_status while_sleeping{};
    luv::spawn([&] { while_sleeping = self.status(); });

    CHECK(self.status() == luv::fiber_status::ready);
    rt.run();
    CHECK(inside == luv::fiber_status::running);
    CHECK(while_sleeping == luv::fiber_status::suspended);
    CHECK(self.status() == luv::fiber_status::dead);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("empty handles and self-joins are rejected", "[fiber]") {
    luv::runtime rt;
    luv::fiber<int> empty;
    CHECK_FALSE(empty);
    CHECK(empty.status() == luv::fiber_status::dead);
    CHECK_FALSE(empty.cancel());
    CHECK_THROWS_AS(empty.join(), std::logic_error);

    luv::fiber<void> self;
    bool threw = false;
    self = luv::spawn([&] {
        try {
            self.join();
        } catch (const std::logic_error&) {
            threw = true;
        }
    });
    self.join();
    CHECK(threw);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("an exception nobody joins is reported and stops no other fiber", "[fiber]") {
    luv::runtime rt;
    bool others_done = false;
    luv::spawn([] { throw std::runtime_error("boom in a fiber"); });  // handle dropped
    auto kept = luv::spawn([]() -> int { throw std::runtime_error("kept for later"); });
    luv::spawn([&] {
        luv::this_fiber::sleep_for(5ms);
        others_done = true;
    });

    luv::test::stderr_capture err;
    rt.run();
    const std::string text = err.text();

    CHECK(others_done);
    CHECK_THAT(text, Contains("luv: exception in a fiber nobody joined: boom in a fiber"));
    // Reported when it ended, and still there for a late join.
    CHECK_THAT(text, Contains("kept for later"));
    CHECK_THROWS_WITH(kept.join(), "kept for later");
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a fiber runs to its end without a handle; fibers spawn fibers", "[fiber]") {
    luv::runtime rt;
    std::vector<int> results;
    luv::spawn([&] {
        std::vector<luv::fiber<int>> children;
        for (int i = 1; i <= 3; ++i) {
            children.push_back(luv::spawn([i] {
                luv::this_fiber::sleep_for(std::chrono::milliseconds(4 - i));
                return i * i;
            }));
        }
        for (auto& c : children) {
            results.push_back(c.join());
        }
    });
    rt.run();
    CHECK(results == std::vector<int>{1, 4, 9});
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("the thread itself may sleep, and fibers run meanwhile", "[fiber]") {
    luv::runtime rt;
    int ticks = 0;
    luv::spawn([&] {
        for (int i = 0; i < 3; ++i) {
            ++ticks;
            luv::this_fiber::sleep_for(1ms);
        }
    });
    const auto t0 = luv::hrtime();
    luv::this_fiber::sleep_for(20ms);
    CHECK(ms_since(t0) >= 15);
    CHECK(ticks == 3);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("spawn needs a runtime, and a thread has at most one", "[fiber]") {
    CHECK(luv::runtime::current() == nullptr);
    CHECK_THROWS_AS(luv::spawn([] {}), std::logic_error);
    {
        luv::runtime rt;
        CHECK(luv::runtime::current() == &rt);
        CHECK(&luv::runtime::get() == &rt);
        CHECK_THROWS_AS(luv::runtime(), std::logic_error);
    }
    CHECK(luv::runtime::current() == nullptr);
    CHECK_THROWS_AS(luv::runtime::get(), std::logic_error);
}

TEST_CASE("each thread runs its own runtime and fibers", "[fiber]") {
    // The runtime, the scheduler and the list of live fibers are per thread.
    auto work = [](int base) {
        luv::runtime rt;
        std::vector<luv::fiber<int>> fs;
        for (int i = 0; i < 50; ++i) {
            fs.push_back(luv::spawn([base, i] {
                luv::this_fiber::sleep_for(std::chrono::milliseconds(i % 5));
                return base + i;
            }));
        }
        int sum = 0;
        for (auto& f : fs) {
            sum += f.join();
        }
        return sum;
    };
    int other = 0;
    std::thread t([&] { other = work(1000); });
    const int here = work(0);
    t.join();
    CHECK(here == 49 * 50 / 2);
    CHECK(other == 50 * 1000 + 49 * 50 / 2);
    CHECK(luv::runtime::current() == nullptr);
}

TEST_CASE("destroying the runtime unwinds the fibers still waiting", "[fiber]") {
    int destroyed = 0;
    int started = 0;
    int finished = 0;
    int caught_all = 0;
    std::uint64_t t0 = 0;
    {
        luv::runtime rt;
        for (int i = 0; i < 5; ++i) {
            luv::spawn([&] {
                counted guard(destroyed);
                ++started;
                luv::this_fiber::sleep_for(10s);
                ++finished;
            });
        }
        // A catch (...) sees the unwind and must rethrow it.
        luv::spawn([&] {
            counted guard(destroyed);
            ++started;
            try {
                luv::this_fiber::sleep_for(10s);
            } catch (...) {
                ++caught_all;
                throw;
            }
        });
        // Joiners and yielders are unwound too.
        auto sleeper = luv::spawn([] { luv::this_fiber::sleep_for(10s); });
        luv::spawn([&] {
            counted guard(destroyed);
            ++started;
            sleeper.join();
        });
        luv::spawn([&] {
            counted guard(destroyed);
            ++started;
            for (;;) {
                luv::this_fiber::yield();
                luv::this_fiber::sleep_for(1ms);
            }
        });
        luv::this_fiber::sleep_for(5ms);  // every fiber is now waiting
        CHECK(started == 8);
        CHECK(destroyed == 0);
        t0 = luv::hrtime();
    }
    CHECK(ms_since(t0) < 1000);
    CHECK(destroyed == 8);
    CHECK(finished == 0);
    CHECK(caught_all == 1);
    CHECK(luv::runtime::current() == nullptr);
}

// A fiber still in the ready queue when its runtime goes never starts: running its body
// inside a destructor would only make it meet forced_unwind at its first wait. What it
// captured is destroyed, and the destructor does not wait for anything.
TEST_CASE("a fiber that never ran when the runtime goes is dropped without running",
          "[fiber]") {
    int ran = 0;
    int captured_destroyed = 0;
    std::uint64_t t0 = 0;
    {
        luv::runtime rt;
        auto capture = std::make_shared<counted>(captured_destroyed);
        luv::spawn([&ran, capture] {
            ++ran;
            luv::this_fiber::sleep_for(2s);
        });
        capture.reset();
        t0 = luv::hrtime();
    }
    CHECK(ran == 0);
    CHECK(captured_destroyed == 1);
    CHECK(ms_since(t0) < 1000);
}

// A fiber that started and catches luv::system_error around its waits still unwinds:
// once the runtime goes, every wait throws forced_unwind, which such a catch does not
// see, so a retry loop cannot stall the destructor.
TEST_CASE("a started fiber that retries its waits is unwound, not cancelled", "[fiber]") {
    int destroyed = 0;
    int saw_cancel = 0;
    std::uint64_t t0 = 0;
    {
        luv::runtime rt;
        luv::spawn([&] {
            counted guard(destroyed);
            luv::timer t;  // never started: only a cancel or the unwind ends a wait
            for (int attempt = 0; attempt < 3; ++attempt) {
                try {
                    t.wait();
                } catch (const luv::system_error&) {
                    ++saw_cancel;
                }
            }
        });
        luv::this_fiber::yield();  // let it start and block
        t0 = luv::hrtime();
    }
    CHECK(saw_cancel == 0);
    CHECK(destroyed == 1);
    CHECK(ms_since(t0) < 1000);
}
