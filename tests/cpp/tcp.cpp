// luv::tcp: echo round trips with many fibers over IPv4 and IPv6 loopback and by name,
// addresses, options, a refused connect, accept_for and connect_for timing out, cancel
// and close waking acceptors and connects (and a name resolution, with the threadpool
// held busy), and the descriptors coming back after 1,000 connections.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "luv/error.hpp"
#include "luv/fiber.hpp"
#include "luv/fs.hpp"
#include "luv/tcp.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using luv::test::ms_since;

using luv::test::uv_status_of;

namespace {

int open_fds() {
    int n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
        ++n;
    }
    return n;
}

// A listener on `host` with a free port; returns the port.
int listen_on(luv::tcp& server, const std::string& host, int backlog = 128) {
    server.bind(host, 0);
    server.listen(backlog);
    return server.local_address().port;
}

// A port nobody listens on (bound, then closed again).
int free_port() {
    luv::tcp t;
    t.bind("127.0.0.1", 0);
    return t.local_address().port;
}

// Sockets left in the middle of a connect: the listener (backlog 1, nobody accepting)
// has a full queue, and the kernel drops their SYNs. Suspends the calling fiber.
std::vector<luv::tcp> fill_backlog(int port) {
    std::vector<luv::tcp> clients;
    for (int i = 0; i < 64; ++i) {
        if (!clients.emplace_back().connect_for("127.0.0.1", port, 100ms)) {
            return clients;
        }
    }
    FAIL("the listener's queue never filled");
    return clients;
}

// Every thread of libuv's threadpool blocked in open() of a FIFO until release(), so
// that a name resolution started meanwhile stays queued.
class busy_threadpool {
public:
    busy_threadpool() {
        char tmpl[] = "/tmp/luv-cpp-tcp-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir_ = tmpl;
        const char* size = std::getenv("UV_THREADPOOL_SIZE");
        const int threads = size != nullptr && std::atoi(size) > 0 ? std::atoi(size) : 4;
        for (int i = 0; i < threads; ++i) {
            paths_.push_back(dir_ + "/fifo" + std::to_string(i));
            REQUIRE(::mkfifo(paths_.back().c_str(), 0600) == 0);
            openers_.push_back(luv::spawn([p = paths_.back()] { luv::fs::file f(p, "r"); }));
        }
        luv::this_fiber::sleep_for(10ms);  // the openers run and queue their opens
    }
    ~busy_threadpool() {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    busy_threadpool(const busy_threadpool&) = delete;
    busy_threadpool& operator=(const busy_threadpool&) = delete;

    /// Opens each FIFO for writing, which lets its opener go on. Suspends the calling fiber.
    void release() {
        std::vector<int> fds;
        for (const auto& p : paths_) {
            int fd = -1;
            for (int i = 0; i < 5000 && fd < 0; ++i) {
                fd = ::open(p.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
                if (fd < 0) {
                    REQUIRE(errno == ENXIO);  // its opener has not reached open() yet
                    luv::this_fiber::sleep_for(1ms);
                }
            }
            REQUIRE(fd >= 0);
            fds.push_back(fd);
        }
        for (auto& f : openers_) {
            f.join();
        }
        for (const int fd : fds) {
            ::close(fd);
        }
    }

private:
    std::string dir_;
    std::vector<std::string> paths_;
    std::vector<luv::fiber<void>> openers_;
};

}  // namespace

TEST_CASE("echo round trips: 50 clients, 4 acceptors, IPv4 and IPv6", "[tcp]") {
    constexpr int clients = 50;
    constexpr int rounds = 20;
    luv::runtime rt;
    int good = 0;
    int served = 0;
    bool addresses_match = true;
    luv::spawn([&] {
        for (const std::string host : {"127.0.0.1", "::1"}) {
            luv::tcp server;
            const int port = listen_on(server, host);
            CHECK(server.local_address().family == (host == "::1" ? "inet6" : "inet"));
            std::vector<luv::fiber<void>> acceptors;
            for (int i = 0; i < 4; ++i) {
                acceptors.push_back(luv::spawn([&] {
                    try {
                        for (;;) {
                            luv::tcp conn = server.accept();
                            ++served;
                            luv::spawn([c = std::move(conn)]() mutable {
                                while (auto data = c.read()) {
                                    c.write(*data);
                                }
                            });
                        }
                    } catch (const luv::system_error& e) {
                        CHECK(e.status() == UV_ECANCELED);  // the server closed
                    }
                }));
            }
            std::vector<luv::fiber<void>> fs;
            for (int n = 0; n < clients; ++n) {
                fs.push_back(luv::spawn([&, n] {
                    luv::tcp c;
                    c.connect(host, port);
                    c.set_nodelay(true);
                    const luv::net::address peer = c.peer_address();
                    addresses_match = addresses_match && peer.host == host && peer.port == port;
                    for (int r = 0; r < rounds; ++r) {
                        const std::string msg = "client " + std::to_string(n) + " round " +
                                                std::to_string(r);
                        c.write(msg);
                        std::string back;
                        while (back.size() < msg.size()) {
                            back += c.read(msg.size() - back.size()).value_or("");
                        }
                        good += back == msg ? 1 : 0;
                    }
                }));
            }
            for (auto& f : fs) {
                f.join();
            }
            server.close();
            for (auto& a : acceptors) {
                a.join();
            }
        }
    });
    const auto t0 = luv::hrtime();
    rt.run();

    CHECK(good == 2 * clients * rounds);
    CHECK(served == 2 * clients);
    CHECK(addresses_match);
    CHECK(ms_since(t0) < 10000);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("names: bind and connect to localhost; addresses of both ends", "[tcp]") {
    luv::runtime rt;
    std::string reply;
    bool ends_match = false;
    luv::spawn([&] {
        luv::tcp server;
        const int port = listen_on(server, "localhost");
        luv::tcp client;
        client.connect("localhost", port);
        luv::tcp conn = server.accept();
        const luv::net::address local = client.local_address();
        const luv::net::address remote = conn.peer_address();
        ends_match = local.host == remote.host && local.port == remote.port &&
                     conn.local_address().port == port && client.peer_address().port == port;
        conn.set_keepalive(true, 30s);
        conn.set_keepalive(false);
        conn.write("by name");
        reply = client.read().value_or("");
    });
    rt.run();

    CHECK(reply == "by name");
    CHECK(ends_match);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a refused connect, bad arguments, and calls on the wrong kind of socket", "[tcp]") {
    luv::runtime rt;
    std::string what;
    int status = 0;
    luv::spawn([&] {
        const int port = free_port();
        luv::tcp c;
        try {
            c.connect("127.0.0.1", port);
        } catch (const luv::system_error& e) {
            status = e.status();
            what = e.what();
        }
        luv::tcp t;
        CHECK_THROWS_AS(t.connect("127.0.0.1", 65536), std::invalid_argument);
        CHECK_THROWS_AS(t.bind("127.0.0.1", -1), std::invalid_argument);
        CHECK_THROWS_AS(t.set_keepalive(true, 0s), std::invalid_argument);
        CHECK(uv_status_of([&] { t.accept(); }) == UV_EINVAL);  // not listening
        CHECK(uv_status_of([&] { t.peer_address(); }) != 0);
        luv::tcp server;
        const int used = listen_on(server, "127.0.0.1");
        luv::tcp second;
        CHECK(uv_status_of([&] { second.bind("127.0.0.1", used); second.listen(); }) ==
              UV_EADDRINUSE);
        t.close();
        CHECK(uv_status_of([&] { t.local_address(); }) == UV_EBADF);
        CHECK(uv_status_of([&] { t.set_nodelay(true); }) == UV_EBADF);
    });
    rt.run();

    CHECK(status == UV_ECONNREFUSED);
    CHECK_THAT(what, Catch::Matches(
                         "tcp::connect 127\\.0\\.0\\.1:[0-9]+: ECONNREFUSED: connection refused"));
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("accept_for and connect_for time out; connect_for succeeds in time", "[tcp]") {
    luv::runtime rt;
    bool accept_timed_out = false, connect_timed_out = false, connected = false;
    double accept_ms = 0, connect_ms = 0;
    luv::spawn([&] {
        luv::tcp server;
        const int port = listen_on(server, "127.0.0.1", 1);
        auto t0 = luv::hrtime();
        accept_timed_out = !server.accept_for(30ms).has_value();
        accept_ms = ms_since(t0);

        std::vector<luv::tcp> pending = fill_backlog(port);
        t0 = luv::hrtime();
        luv::tcp late;
        connect_timed_out = !late.connect_for("127.0.0.1", port, 50ms);
        connect_ms = ms_since(t0);
        pending.clear();
        late.close();

        luv::tcp other;
        const int other_port = listen_on(other, "::1");
        luv::tcp c;
        connected = c.connect_for("::1", other_port, 1s);
        CHECK(other.accept_for(1s).has_value());
    });
    rt.run();

    CHECK(accept_timed_out);
    CHECK(accept_ms >= 29);
    CHECK(accept_ms < 1000);
    CHECK(connect_timed_out);
    CHECK(connect_ms >= 49);
    CHECK(connect_ms < 1000);
    CHECK(connected);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("cancel and close wake acceptors and connects with UV_ECANCELED", "[tcp]") {
    luv::runtime rt;
    std::vector<int> acceptors_status;
    int cancelled_accept = 0, closed_connect = 0, cancelled_connect = 0;
    bool still_accepting = false;
    luv::spawn([&] {
        luv::tcp server;
        const int port = listen_on(server, "127.0.0.1", 1);
        auto canceller = luv::spawn([&] {
            cancelled_accept = uv_status_of([&] { server.accept(); });
        });
        luv::this_fiber::sleep_for(5ms);
        canceller.cancel();
        canceller.join();
        {
            luv::tcp c;
            c.connect("127.0.0.1", port);
            still_accepting = server.accept_for(1s).has_value();
        }

        std::vector<luv::tcp> pending = fill_backlog(port);
        luv::tcp a, b;
        auto closed = luv::spawn([&] {
            closed_connect = uv_status_of([&] { a.connect("127.0.0.1", port); });
        });
        auto cancelled = luv::spawn([&] {
            cancelled_connect = uv_status_of([&] { b.connect("127.0.0.1", port); });
        });
        luv::this_fiber::sleep_for(20ms);
        CHECK(closed.status() == luv::fiber_status::suspended);  // the SYN was dropped
        a.close();
        cancelled.cancel();
        closed.join();
        cancelled.join();
        pending.clear();

        luv::tcp other;
        listen_on(other, "127.0.0.1");
        std::vector<luv::fiber<void>> acceptors;
        acceptors_status.assign(3, 0);
        for (int i = 0; i < 3; ++i) {
            acceptors.push_back(luv::spawn([&, i] {
                acceptors_status[i] = uv_status_of([&] { other.accept(); });
            }));
        }
        luv::this_fiber::sleep_for(5ms);
        other.close();
        for (auto& f : acceptors) {
            f.join();
        }
    });
    rt.run();

    CHECK(cancelled_accept == UV_ECANCELED);
    CHECK(still_accepting);
    CHECK(closed_connect == UV_ECANCELED);
    CHECK(cancelled_connect == UV_ECANCELED);
    CHECK(acceptors_status == std::vector<int>(3, UV_ECANCELED));
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("close and cancel end a connect that is still resolving its name", "[tcp]") {
    luv::runtime rt;
    int closed_status = 0, cancelled_status = 0;
    bool resolving = false;
    double woken_ms = 0;
    luv::spawn([&] {
        busy_threadpool pool;
        luv::tcp a, b;
        auto closed = luv::spawn([&] {
            closed_status = uv_status_of([&] { a.connect("localhost", 9); });
        });
        auto cancelled = luv::spawn([&] {
            cancelled_status = uv_status_of([&] { b.connect("localhost", 9); });
        });
        luv::this_fiber::sleep_for(30ms);
        resolving = closed.status() == luv::fiber_status::suspended &&
                    cancelled.status() == luv::fiber_status::suspended;
        const auto t0 = luv::hrtime();
        a.close();
        cancelled.cancel();
        closed.join();
        cancelled.join();
        woken_ms = ms_since(t0);
        pool.release();
    });
    rt.run();

    CHECK(resolving);
    CHECK(closed_status == UV_ECANCELED);
    CHECK(cancelled_status == UV_ECANCELED);
    CHECK(woken_ms < 100);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("1,000 connections later, every descriptor is closed", "[tcp]") {
    constexpr int cycles = 1000;
    luv::runtime rt;
    int before = 0, after = 0, ends = 0;
    luv::spawn([&] {
        // libuv opens one descriptor per loop with its first stream (a spare, closed to
        // accept and drop a connection when the process runs out of descriptors).
        luv::tcp{}.close();
        before = open_fds();
        {
            luv::tcp server;
            const int port = listen_on(server, "127.0.0.1");
            auto acceptor = luv::spawn([&] {
                for (int i = 0; i < cycles; ++i) {
                    luv::tcp conn = server.accept();  // closed at the end of the iteration
                }
            });
            for (int i = 0; i < cycles; ++i) {
                luv::tcp c;
                c.connect("127.0.0.1", port);
                ends += c.read() ? 0 : 1;  // the server's close
            }
            acceptor.join();
        }
        luv::this_fiber::sleep_for(0ms);
        after = open_fds();
    });
    const auto t0 = luv::hrtime();
    rt.run();

    CHECK(ends == cycles);
    CHECK(after == before);
    CHECK(ms_since(t0) < 30000);
    REQUIRE_LOOP_CLEAN(rt);
}
