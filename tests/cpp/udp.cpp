// luv::udp: round trips over IPv4 and IPv6 loopback between fibers, recv_for timing out,
// one reader at a time, close and cancel waking the reader with UV_ECANCELED, and a
// socket nobody reads from not keeping the loop alive.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "luv/error.hpp"
#include "luv/fiber.hpp"
#include "luv/udp.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using luv::test::ms_since;

using luv::test::uv_status_of;

TEST_CASE("a round trip over IPv4 and IPv6 loopback", "[udp]") {
    luv::runtime rt;
    std::vector<std::string> got;
    std::vector<bool> from_sender;
    luv::spawn([&] {
        for (const std::string host : {"127.0.0.1", "::1"}) {
            luv::udp server;
            server.bind(host, 0);
            const luv::net::address at = server.local_address();
            CHECK(at.family == (host == "::1" ? "inet6" : "inet"));
            CHECK(at.port > 0);
            auto echo = luv::spawn([&] {
                luv::udp::datagram d = server.recv();
                server.send("re: " + d.data, d.from.host, d.from.port);
            });
            luv::udp client;
            client.bind(host, 0);
            client.send("hello " + host, host, at.port);
            luv::udp::datagram reply = client.recv();
            got.push_back(reply.data);
            from_sender.push_back(reply.from.host == host && reply.from.port == at.port);
            echo.join();
        }
    });
    rt.run();

    CHECK(got == std::vector<std::string>{"re: hello 127.0.0.1", "re: hello ::1"});
    CHECK(from_sender == std::vector<bool>{true, true});
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("many datagrams from several fibers, and a name as the destination", "[udp]") {
    luv::runtime rt;
    std::vector<int> last(3, 0);
    bool in_order = true;
    std::string named;
    luv::spawn([&] {
        luv::udp sink;
        sink.bind("127.0.0.1", 0);
        const int port = sink.local_address().port;
        std::vector<luv::fiber<void>> senders;
        for (int s = 0; s < 3; ++s) {
            senders.push_back(luv::spawn([&, s] {
                luv::udp u;
                for (int i = 1; i <= 100; ++i) {
                    u.send(std::to_string(s) + ":" + std::to_string(i), "127.0.0.1", port);
                    luv::this_fiber::sleep_for(0ms);  // the loop polls; no kernel drops
                }
            }));
        }
        for (int n = 0; n < 300; ++n) {
            const std::string d = sink.recv().data;
            const int s = std::stoi(d.substr(0, d.find(':')));
            const int i = std::stoi(d.substr(d.find(':') + 1));
            in_order = in_order && i == last[s] + 1;
            last[s] = i;
        }
        for (auto& f : senders) {
            f.join();
        }
        luv::udp u;
        u.bind("127.0.0.1", 0);
        u.send("by name", "localhost", port);
        named = sink.recv().data;
    });
    rt.run();

    CHECK(last == std::vector<int>{100, 100, 100});
    CHECK(in_order);
    CHECK(named == "by name");
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("recv_for times out; a ticker runs meanwhile; a second reader is busy", "[udp]") {
    luv::runtime rt;
    bool timed_out = false;
    double elapsed = 0;
    int ticks = 0;
    int busy = 0;
    luv::spawn([&] {
        luv::udp u;
        u.bind("127.0.0.1", 0);
        bool done = false;
        auto ticker = luv::spawn([&] {
            while (!done) {
                ++ticks;
                luv::this_fiber::sleep_for(1ms);
            }
        });
        auto second = luv::spawn([&] { busy = uv_status_of([&] { u.recv(); }); });
        const auto t0 = luv::hrtime();
        timed_out = !u.recv_for(40ms).has_value();
        elapsed = ms_since(t0);
        done = true;
        ticker.join();
        second.join();
    });
    rt.run();

    CHECK(timed_out);
    CHECK(elapsed >= 39);
    CHECK(ticks >= 10);
    CHECK(busy == UV_EBUSY);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("close and cancel wake the reader with UV_ECANCELED", "[udp]") {
    luv::runtime rt;
    int closed_status = 0, cancelled_status = 0, after_close = 0;
    std::string after_cancel;
    luv::spawn([&] {
        luv::udp a;
        a.bind("127.0.0.1", 0);
        auto reader = luv::spawn([&] { closed_status = uv_status_of([&] { a.recv(); }); });
        luv::this_fiber::sleep_for(5ms);
        a.close();
        a.close();  // idempotent
        reader.join();
        after_close = uv_status_of([&] { a.recv(); });

        luv::udp b;
        b.bind("127.0.0.1", 0);
        auto waiter = luv::spawn([&] { cancelled_status = uv_status_of([&] { b.recv(); }); });
        luv::this_fiber::sleep_for(5ms);
        waiter.cancel();
        waiter.join();
        luv::udp c;
        c.send("still reading", "127.0.0.1", b.local_address().port);
        after_cancel = b.recv().data;
    });
    rt.run();

    CHECK(closed_status == UV_ECANCELED);
    CHECK(after_close == UV_EBADF);
    CHECK(cancelled_status == UV_ECANCELED);
    CHECK(after_cancel == "still reading");
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("datagrams queue up to 1024 while nobody reads; later ones are dropped", "[udp]") {
    luv::runtime rt;
    std::uint64_t dropped = 0;
    int queued = 0;
    luv::spawn([&] {
        luv::udp a;
        a.bind("127.0.0.1", 0);
        CHECK_FALSE(a.recv_for(0ms).has_value());  // receiving starts with the first recv
        luv::udp b;
        for (int i = 1; i <= 1100; ++i) {
            b.send(std::to_string(i), "127.0.0.1", a.local_address().port);
            if (i % 16 == 0) {
                luv::this_fiber::sleep_for(0ms);
            }
        }
        luv::this_fiber::sleep_for(10ms);
        dropped = a.dropped();
        while (auto d = a.recv_for(0ms)) {
            CHECK(d->data == std::to_string(++queued));
        }
    });
    rt.run();

    CHECK(dropped == 76);
    CHECK(queued == 1024);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a socket nobody waits on does not keep the loop alive", "[udp]") {
    luv::runtime rt;
    std::optional<luv::udp> u;
    luv::spawn([&] {
        u.emplace();
        u->bind("127.0.0.1", 0);
        (void)u->recv_for(0ms);  // receiving, but nobody waits
    });
    const auto t0 = luv::hrtime();
    rt.run();
    CHECK(ms_since(t0) < 1000);
    CHECK_FALSE(u->closed());
    u.reset();
    rt.run();  // the close callback
    REQUIRE_LOOP_CLEAN(rt);
}
