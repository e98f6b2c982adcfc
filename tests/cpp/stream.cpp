// luv::stream over both of its kinds (a TCP connection on 127.0.0.1, a socketpair opened
// as pipes): partial reads and the end of the stream after a shutdown, a 16 MB write to
// a slow reader, concurrent writers staying whole, read_for timing out, one reader at a
// time, cancel and close waking every kind of waiter, and writes to a closed peer.
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "luv/error.hpp"
#include "luv/fiber.hpp"
#include "luv/pipe.hpp"
#include "luv/tcp.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using luv::test::ms_since;

using luv::test::uv_status_of;

namespace {

// Two connected ends: through a listener for TCP, a socketpair for pipes. Suspends the
// calling fiber.
template <class S>
std::pair<S, S> connected_pair();

template <>
std::pair<luv::tcp, luv::tcp> connected_pair() {
    luv::tcp server;
    server.bind("127.0.0.1", 0);
    server.listen();
    luv::tcp client;
    client.connect("127.0.0.1", server.local_address().port);  // the kernel's backlog
    luv::tcp accepted = server.accept();
    return {std::move(client), std::move(accepted)};
}

template <>
std::pair<luv::pipe, luv::pipe> connected_pair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    luv::pipe a, b;
    a.open(fds[0]);
    b.open(fds[1]);
    return {std::move(a), std::move(b)};
}

// Byte i of the large transfer: not periodic in any power of two, so a lost, repeated
// or reordered chunk shows.
char pattern(std::size_t i) { return static_cast<char>((i * 7 + i / 251) & 0xff); }

}  // namespace

TEMPLATE_TEST_CASE("partial reads, then the end of the stream after a shutdown", "[stream]",
                   luv::tcp, luv::pipe) {
    luv::runtime rt;
    std::vector<std::string> got;
    int ends = 0;
    std::string reply;
    bool reply_end = false;
    luv::spawn([&] {
        auto [a, b] = connected_pair<TestType>();
        a.write("hello world");
        a.shutdown();
        got.push_back(*b.read(5));
        got.push_back(*b.read(5));
        got.push_back(*b.read());
        ends += b.read() ? 0 : 1;
        ends += b.read() ? 0 : 1;  // the end is sticky
        b.write("half-closed: still writable");
        b.close();
        reply = a.read().value_or("");
        reply_end = !a.read().has_value();
    });
    rt.run();

    CHECK(got == std::vector<std::string>{"hello", " worl", "d"});
    CHECK(ends == 2);
    CHECK(reply == "half-closed: still writable");
    CHECK(reply_end);
    REQUIRE_LOOP_CLEAN(rt);
}

TEMPLATE_TEST_CASE("16 MB to a slow reader: the writer waits, nothing is lost or reordered",
                   "[stream]", luv::tcp, luv::pipe) {
    constexpr std::size_t total = 16 * 1024 * 1024;
    luv::runtime rt;
    bool written_during_pause = true;
    std::size_t received = 0;
    bool in_order = true;
    double write_ms = 0;
    luv::spawn([&] {
        auto [a, b] = connected_pair<TestType>();
        std::string big(total, '\0');
        for (std::size_t i = 0; i < total; ++i) {
            big[i] = pattern(i);
        }
        bool written = false;
        auto writer = luv::spawn([&] {
            const auto t0 = luv::hrtime();
            a.write(big);
            write_ms = ms_since(t0);
            written = true;
            a.shutdown();
        });
        // The reader takes one chunk, then stops: no buffer anywhere may grow to hold
        // the rest, so the writer must still be waiting.
        const std::string first = *b.read();
        luv::this_fiber::sleep_for(200ms);
        written_during_pause = written;
        auto check = [&](const std::string& chunk) {
            for (std::size_t i = 0; i < chunk.size() && in_order; ++i) {
                in_order = chunk[i] == pattern(received + i);
            }
            received += chunk.size();
        };
        check(first);
        int reads = 1;
        while (auto chunk = b.read()) {
            check(*chunk);
            if (++reads % 64 == 0) {
                luv::this_fiber::sleep_for(1ms);  // and a little slow all along
            }
        }
        writer.join();
    });
    const auto t0 = luv::hrtime();
    rt.run();

    CHECK_FALSE(written_during_pause);
    CHECK(received == total);
    CHECK(in_order);
    CHECK(write_ms >= 200);
    CHECK(ms_since(t0) < 20000);
    REQUIRE_LOOP_CLEAN(rt);
}

TEMPLATE_TEST_CASE("concurrent writers' messages stay whole and in order", "[stream]",
                   luv::tcp, luv::pipe) {
    constexpr int writers = 8;
    constexpr int messages = 20;
    luv::runtime rt;
    std::vector<int> next(writers, 0);
    bool whole = true;
    luv::spawn([&] {
        auto [a, b] = connected_pair<TestType>();
        std::vector<luv::fiber<void>> fs;
        for (int w = 0; w < writers; ++w) {
            fs.push_back(luv::spawn([&, w] {
                for (int m = 0; m < messages; ++m) {
                    // Sizes from 1 byte to 300 KB: the large ones outgrow the socket's
                    // buffer, are queued in part, and must not let anyone in between.
                    const auto size = 1 + static_cast<std::size_t>((w * 37 + m * 7919) % 300000);
                    std::string msg = std::to_string(w) + " " + std::to_string(m) + " " +
                                      std::to_string(size) + "\n";
                    msg.append(size, static_cast<char>('a' + w));
                    a.write(msg);
                }
            }));
        }
        auto closer = luv::spawn([&] {
            for (auto& f : fs) {
                f.join();
            }
            a.shutdown();
        });
        std::string in;
        while (auto chunk = b.read()) {
            in += *chunk;
        }
        closer.join();
        std::size_t at = 0;
        while (at < in.size() && whole) {
            const std::size_t nl = in.find('\n', at);
            REQUIRE(nl != std::string::npos);
            int w = 0, m = 0;
            std::size_t size = 0;
            REQUIRE(std::sscanf(in.c_str() + at, "%d %d %zu", &w, &m, &size) == 3);
            REQUIRE((w >= 0 && w < writers));
            whole = m == next[w]++ && in.size() - (nl + 1) >= size &&
                    in.compare(nl + 1, size, std::string(size, static_cast<char>('a' + w))) == 0;
            at = nl + 1 + size;
        }
    });
    rt.run();

    CHECK(whole);
    CHECK(next == std::vector<int>(writers, messages));
    REQUIRE_LOOP_CLEAN(rt);
}

TEMPLATE_TEST_CASE("read_for times out; a ticker runs meanwhile; a second reader is busy",
                   "[stream]", luv::tcp, luv::pipe) {
    luv::runtime rt;
    bool timed_out = false;
    double elapsed = 0;
    int ticks = 0;
    int busy = 0;
    std::optional<std::string> late;
    luv::spawn([&] {
        auto [a, b] = connected_pair<TestType>();
        bool done = false;
        auto ticker = luv::spawn([&] {
            while (!done) {
                ++ticks;
                luv::this_fiber::sleep_for(1ms);
            }
        });
        auto second = luv::spawn([&] { busy = uv_status_of([&] { b.read(); }); });
        const auto t0 = luv::hrtime();
        timed_out = !b.read_for(40ms).has_value();
        elapsed = ms_since(t0);
        done = true;
        ticker.join();
        second.join();
        a.write("late");
        late = b.read_for(1s).value_or(std::nullopt);  // the reader that timed out is gone
        CHECK(b.read_for(0ms) == std::nullopt);
    });
    rt.run();

    CHECK(timed_out);
    CHECK(elapsed >= 39);
    CHECK(ticks >= 3);  // the wait blocked nobody (about 20 on an idle machine)
    CHECK(busy == UV_EBUSY);
    CHECK(late == "late");
    REQUIRE_LOOP_CLEAN(rt);
}

TEMPLATE_TEST_CASE("cancel and close wake readers and writers with UV_ECANCELED", "[stream]",
                   luv::tcp, luv::pipe) {
    luv::runtime rt;
    int cancelled_read = 0, closed_read = 0, closed_write = 0, after_close = 0;
    std::string what;
    std::string after_cancel;
    bool moved_from_closed = false;
    luv::spawn([&] {
        auto [a, b] = connected_pair<TestType>();
        auto reader = luv::spawn([&] { cancelled_read = uv_status_of([&] { b.read(); }); });
        luv::this_fiber::sleep_for(5ms);
        reader.cancel();
        reader.join();
        a.write("still reading");
        after_cancel = b.read().value_or("");

        reader = luv::spawn([&] { closed_read = uv_status_of([&] { b.read(); }); });
        // Nobody reads d, the peer of c: 16 MB cannot all be taken, so the writer waits.
        auto [c, d] = connected_pair<TestType>();
        const std::string big(16 * 1024 * 1024, 'x');
        auto writer = luv::spawn([&] {
            try {
                c.write(big);
            } catch (const luv::system_error& e) {
                closed_write = e.status();
                what = e.what();
            }
        });
        while (writer.status() != luv::fiber_status::suspended) {
            luv::this_fiber::sleep_for(1ms);
        }
        luv::this_fiber::sleep_for(5ms);
        b.close();
        c.close();
        c.close();  // idempotent
        reader.join();
        writer.join();
        after_close = uv_status_of([&] { c.write("x"); });
        TestType e = std::move(b);
        moved_from_closed = b.closed() && e.closed();
    });
    rt.run();

    CHECK(cancelled_read == UV_ECANCELED);
    CHECK(after_cancel == "still reading");
    CHECK(closed_read == UV_ECANCELED);
    CHECK(closed_write == UV_ECANCELED);
    CHECK_THAT(what, Catch::StartsWith("tcp::write: ECANCELED") ||
                         Catch::StartsWith("pipe::write: ECANCELED"));
    CHECK(after_close == UV_EBADF);
    CHECK(moved_from_closed);
    REQUIRE_LOOP_CLEAN(rt);
}

TEMPLATE_TEST_CASE("a closed peer: reads end, writes fail with EPIPE or ECONNRESET", "[stream]",
                   luv::tcp, luv::pipe) {
    luv::runtime rt;
    bool ended = false;
    int status = 0;
    luv::spawn([&] {
        auto [a, b] = connected_pair<TestType>();
        a.close();
        ended = !b.read().has_value();
        // TCP takes the first write and answers it with a reset; a socketpair refuses it.
        for (int i = 0; i < 100 && status == 0; ++i) {
            status = uv_status_of([&] { b.write("anyone?"); });
            luv::this_fiber::sleep_for(1ms);
        }
    });
    rt.run();

    CHECK(ended);
    CHECK((status == UV_EPIPE || status == UV_ECONNRESET));
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a read of 0 bytes and a write on a closed stream are refused", "[stream]") {
    luv::runtime rt;
    luv::spawn([&] {
        auto [a, b] = connected_pair<luv::pipe>();
        CHECK_THROWS_AS(a.read(0), std::invalid_argument);
        b.close();
        try {
            b.write("x");
            FAIL("no exception");
        } catch (const luv::system_error& e) {
            CHECK(e.status() == UV_EBADF);
            CHECK_THAT(e.what(), Catch::StartsWith("pipe::write: EBADF"));
        }
        CHECK(uv_status_of([&] { b.shutdown(); }) == UV_EBADF);
        CHECK(uv_status_of([&] { b.listen(); }) == UV_EBADF);
    });
    rt.run();
    REQUIRE_LOOP_CLEAN(rt);
}
