// fibers.cpp - C++ fibers on luv's scheduler: fan-out/fan-in with join, and cancel.
//
// Every fiber runs on the thread that spawned it; a fiber that waits (sleep_for, join,
// a timer) lets the others run. Nothing here needs a lock.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <luv/error.hpp>
#include <luv/fiber.hpp>
#include <luv/runtime.hpp>
#include <luv/util.hpp>

using namespace std::chrono_literals;

namespace {

double ms_since(std::uint64_t start_ns) {
    return static_cast<double>(luv::hrtime() - start_ns) / 1e6;
}

// A worker standing in for a slow request: it sleeps, then returns its result.
int square_slowly(int n) {
    luv::this_fiber::sleep_for(n * 25ms);
    return n * n;
}

}  // namespace

int main() {
    // One runtime per thread, created before any fiber.
    luv::runtime rt;

    // Fan out: spawning never suspends, so all four start together once we wait.
    const auto start = luv::hrtime();
    std::vector<luv::fiber<int>> workers;
    for (int n = 1; n <= 4; ++n) {
        workers.push_back(luv::spawn(square_slowly, n));
    }

    // Fan in: join from the thread runs the loop until that worker is done; the others
    // keep sleeping meanwhile, so the total is the longest sleep, not the sum.
    int sum = 0;
    for (auto& w : workers) {
        sum += w.join();
    }
    const double elapsed = ms_since(start);
    const double longest = 100.0;                        // worker 4: 4 x 25 ms
    const double sequential = 25.0 * (1 + 2 + 3 + 4);  // 250 ms one after the other
    std::printf("sum of squares: %d\n", sum);
    // Ratios rather than milliseconds: they stay meaningful on a slow machine.
    std::printf("fan-in took %.1fx the longest worker (one after another: %.1fx)\n",
                elapsed / longest, sequential / longest);
    std::printf("ran concurrently: %s\n", elapsed < 0.75 * sequential ? "yes" : "no");

    // A fiber joining another: the consumer waits for the producer's value.
    auto producer = luv::spawn([] {
        luv::this_fiber::sleep_for(10ms);
        return std::string("hello from the producer");
    });
    auto consumer = luv::spawn([&producer] { return producer.join().size(); });
    std::printf("consumer got %zu bytes\n", consumer.join());

    // Cancel: the fiber's current wait throws luv::system_error(UV_ECANCELED), so it can
    // clean up and tell the joiner what happened.
    auto slow = luv::spawn([]() -> std::string {
        try {
            luv::this_fiber::sleep_for(10s);
            return "finished";
        } catch (const luv::system_error& e) {
            return "stopped early (" + luv::error_name(e.status()) + ")";
        }
    });
    luv::this_fiber::sleep_for(5ms);  // the slow fiber is sleeping now
    slow.cancel();
    std::printf("slow fiber: %s\n", slow.join().c_str());

    // Anything still running would finish here; nothing is, so this returns at once.
    rt.run();
    return 0;
}
