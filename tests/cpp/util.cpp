// luv/util.hpp: the clock and the facts about the machine. None of these suspends.
#include <algorithm>
#include <chrono>
#include <regex>
#include <string>

#include <catch2/catch.hpp>

#include "luv/fiber.hpp"
#include "luv/util.hpp"

using namespace std::chrono_literals;

TEST_CASE("hrtime is monotonic and in nanoseconds", "[util]") {
    luv::runtime rt;
    const std::uint64_t a = luv::hrtime();
    luv::this_fiber::sleep_for(10ms);
    const std::uint64_t b = luv::hrtime();
    CHECK(b > a);
    CHECK(b - a >= 5'000'000);      // at least ~10 ms, with a margin for loop granularity
    CHECK(b - a < 5'000'000'000);   // and nowhere near seconds
}

TEST_CASE("memory totals are plausible", "[util]") {
    CHECK(luv::mem_total() > 0);
    CHECK(luv::mem_free() <= luv::mem_total());
}

TEST_CASE("cpus lists every logical CPU", "[util]") {
    const auto cpus = luv::cpus();
    REQUIRE_FALSE(cpus.empty());
    for (const auto& c : cpus) {
        CHECK(c.speed_mhz >= 0);
    }
}

TEST_CASE("interface_addresses include the loopback", "[util]") {
    const auto addrs = luv::interface_addresses();
    const auto loopback = std::find_if(addrs.begin(), addrs.end(), [](const auto& a) {
        return a.address == "127.0.0.1";
    });
    if (loopback == addrs.end()) {
        WARN("no 127.0.0.1 on this machine");
        return;
    }
    CHECK(loopback->internal);
    CHECK(loopback->family == "inet");
    CHECK(loopback->netmask == "255.0.0.0");
    CHECK(std::regex_match(loopback->mac, std::regex("([0-9a-f]{2}:){5}[0-9a-f]{2}")));
    for (const auto& a : addrs) {
        CHECK((a.family == "inet" || a.family == "inet6"));
        CHECK_FALSE(a.name.empty());
    }
}
