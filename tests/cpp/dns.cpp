// luv::net::getaddrinfo and getnameinfo: results for localhost and numeric hosts, EAI_*
// errors as luv::system_error, and a cancel that ends the wait while the threadpool is
// still busy (the request is then freed by libuv's callback, which LeakSanitizer checks
// in the sanitize build). Only the hosts file and numeric hosts are used: no DNS.
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <unistd.h>

#include <catch2/catch.hpp>

#include "luv/dns.hpp"
#include "luv/error.hpp"
#include "luv/fiber.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using luv::test::ms_since;

using luv::test::uv_status_of;

namespace {

// Occupies every thread of libuv's pool for `ms`, so that requests queued meanwhile
// wait in the queue. Returns the number of jobs queued.
int block_threadpool(uv_loop_t* loop, int ms) {
    const char* env = std::getenv("UV_THREADPOOL_SIZE");
    const int threads = env != nullptr && std::atoi(env) > 0 ? std::atoi(env) : 4;
    struct job {
        uv_work_t req;
        int ms;
    };
    for (int i = 0; i < threads; ++i) {
        auto* j = new job{{}, ms};
        j->req.data = j;
        uv_queue_work(
            loop, &j->req,
            [](uv_work_t* r) {
                usleep(static_cast<useconds_t>(static_cast<job*>(r->data)->ms) * 1000);
            },
            [](uv_work_t* r, int) { delete static_cast<job*>(r->data); });
    }
    return threads;
}

}  // namespace

TEST_CASE("getaddrinfo of localhost and of numeric hosts", "[dns]") {
    luv::runtime rt;
    std::vector<luv::net::address_info> local, six, http;
    luv::spawn([&] {
        local = luv::net::getaddrinfo("localhost");
        six = luv::net::getaddrinfo("::1", "", {.socktype = "dgram"});
        http = luv::net::getaddrinfo("localhost", "http",
                                     {.family = "inet", .socktype = "stream", .canonname = true});
    });
    rt.run();

    REQUIRE_FALSE(local.empty());
    for (const auto& ai : local) {
        CHECK(ai.addr.family == "inet");
        CHECK(ai.addr.host == "127.0.0.1");
        CHECK(ai.addr.port == 0);
    }
    REQUIRE(six.size() == 1);
    CHECK(six[0].addr.family == "inet6");
    CHECK(six[0].addr.host == "::1");
    CHECK(six[0].socktype == "dgram");
    CHECK(six[0].protocol == "udp");
    REQUIRE(http.size() == 1);
    CHECK(http[0].addr.port == 80);
    CHECK(http[0].protocol == "tcp");
    CHECK(http[0].canonname == "localhost");
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("resolution failures throw luv::system_error with the EAI code", "[dns]") {
    luv::runtime rt;
    int noname = 0, badname = 0, service = 0, hint = 0, nothing = 0;
    std::string what;
    luv::spawn([&] {
        try {
            luv::net::getaddrinfo("nonexistent.invalid", "", {.numerichost = true});
        } catch (const luv::system_error& e) {
            noname = e.status();
            what = e.what();
        }
        badname = uv_status_of([] { luv::net::getaddrinfo("bad name!"); });
        service = uv_status_of([] { luv::net::getaddrinfo("127.0.0.1", "no-such-service-here"); });
        hint = uv_status_of([] { luv::net::getaddrinfo("localhost", "", {.family = "ipx"}); });
        nothing = uv_status_of([] { luv::net::getaddrinfo(""); });
    });
    rt.run();

    CHECK(noname == UV_EAI_NONAME);
    CHECK(what.find("nonexistent.invalid") != std::string::npos);
    CHECK(what.find("EAI_NONAME") != std::string::npos);
    CHECK(badname == UV_EAI_NONAME);
    CHECK(service == UV_EAI_SERVICE);
    CHECK(hint == UV_EINVAL);
    CHECK(nothing == UV_EINVAL);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("getnameinfo of 127.0.0.1:80 is localhost, http", "[dns]") {
    luv::runtime rt;
    luv::net::nameinfo named, numeric;
    int not_numeric = 0;
    luv::spawn([&] {
        named = luv::net::getnameinfo({"inet", "127.0.0.1", 80});
        numeric =
            luv::net::getnameinfo({"", "::1", 53}, {.numerichost = true, .numericserv = true});
        not_numeric = uv_status_of([] { luv::net::getnameinfo({"", "localhost", 80}); });
    });
    rt.run();

    CHECK(named.host == "localhost");
    CHECK(named.service == "http");
    CHECK(numeric.host == "::1");
    CHECK(numeric.service == "53");
    CHECK(not_numeric == UV_EINVAL);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("cancelling a fiber that waits for the resolver", "[dns]") {
    luv::runtime rt;
    int resolve_status = 0, name_status = 0;
    double elapsed = 0;
    luv::spawn([&] {
        // With every pool thread busy, the requests stay queued: only the cancel can end
        // these waits early, and uv_cancel then takes the requests off the queue.
        block_threadpool(rt.loop(), 300);
        auto a = luv::spawn([&] {
            resolve_status = uv_status_of([] { luv::net::getaddrinfo("localhost"); });
        });
        auto b = luv::spawn([&] {
            name_status = uv_status_of([] { luv::net::getnameinfo({"", "127.0.0.1", 80}); });
        });
        luv::this_fiber::sleep_for(10ms);
        const auto t0 = luv::hrtime();
        a.cancel();
        b.cancel();
        a.join();
        b.join();
        elapsed = ms_since(t0);
    });
    rt.run();

    CHECK(resolve_status == UV_ECANCELED);
    CHECK(name_status == UV_ECANCELED);
    CHECK(elapsed < 200);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a request abandoned while it runs frees itself when it is done", "[dns]") {
    luv::runtime rt;
    int status = 0;
    std::size_t after = 0;
    luv::spawn([&] {
        auto f = luv::spawn(
            [&] { status = uv_status_of([] { luv::net::getaddrinfo("localhost"); }); });
        luv::this_fiber::yield();  // f waits; its request may already be running
        f.cancel();
        f.join();
        after = luv::net::getaddrinfo("127.0.0.1", "80").size();
    });
    rt.run();

    CHECK((status == UV_ECANCELED || status == 0));
    CHECK(after > 0);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("other fibers run while many resolutions are under way", "[dns]") {
    luv::runtime rt;
    int ticks = 0;
    bool done = false;
    std::vector<int> ports(20, -1);
    luv::spawn([&] {
        while (!done) {
            ++ticks;
            luv::this_fiber::yield();
        }
    });
    luv::spawn([&] {
        std::vector<luv::fiber<void>> fibers;
        for (int i = 0; i < 20; ++i) {
            fibers.push_back(luv::spawn([&, i] {
                ports[i] = luv::net::getaddrinfo("127.0.0.1", std::to_string(1000 + i),
                                                 {.socktype = "dgram"})
                               .at(0)
                               .addr.port;
            }));
        }
        for (auto& f : fibers) {
            f.join();
        }
        done = true;
    });
    rt.run();

    for (int i = 0; i < 20; ++i) {
        CHECK(ports[i] == 1000 + i);
    }
    CHECK(ticks >= 1);
    REQUIRE_LOOP_CLEAN(rt);
}
