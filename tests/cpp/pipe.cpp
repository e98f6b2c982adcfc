// luv::pipe: echo round trips over a unix-domain socket in a temporary directory with
// several clients at once, errors naming the path, accept_for timing out, closing the
// listener waking its acceptors, and open() on a socketpair and on pipe(2) ends.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "luv/error.hpp"
#include "luv/fiber.hpp"
#include "luv/pipe.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using luv::test::ms_since;

using luv::test::uv_status_of;
using luv::test::temp_dir;

TEST_CASE("echo round trips over a unix socket, 20 clients at once", "[pipe]") {
    constexpr int clients = 20;
    luv::runtime rt;
    temp_dir dir("luv-cpp-pipe");
    const std::string path = dir / "echo.sock";
    int good = 0;
    bool path_removed = false;
    luv::spawn([&] {
        luv::pipe server;
        server.bind(path);
        server.listen();
        auto acceptor = luv::spawn([&] {
            for (int i = 0; i < clients; ++i) {
                luv::spawn([c = server.accept()]() mutable {
                    while (auto data = c.read()) {
                        c.write("echo: " + *data);
                    }
                    c.shutdown();
                });
            }
        });
        std::vector<luv::fiber<void>> fs;
        for (int n = 0; n < clients; ++n) {
            fs.push_back(luv::spawn([&, n] {
                luv::pipe c;
                c.connect(path);
                const std::string msg = "hello " + std::to_string(n);
                c.write(msg);
                c.shutdown();
                std::string back;
                while (auto data = c.read()) {
                    back += *data;
                }
                good += back == "echo: " + msg ? 1 : 0;
            }));
        }
        for (auto& f : fs) {
            f.join();
        }
        acceptor.join();
        server.close();
        path_removed = !std::filesystem::exists(path);
    });
    const auto t0 = luv::hrtime();
    rt.run();

    CHECK(good == clients);
    CHECK(path_removed);  // libuv unlinks the path a pipe was bound to when it closes
    CHECK(ms_since(t0) < 10000);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("errors name the path: missing, in use, too long", "[pipe]") {
    luv::runtime rt;
    temp_dir dir("luv-cpp-pipe");
    std::string missing_what;
    int missing = 0, in_use = 0, long_bind = 0, long_connect = 0, refused = 0;
    luv::spawn([&] {
        luv::pipe c;
        try {
            c.connect(dir / "nobody");
        } catch (const luv::system_error& e) {
            missing = e.status();
            missing_what = e.what();
        }
        luv::pipe a;
        a.bind(dir / "a.sock");
        luv::pipe b;
        in_use = uv_status_of([&] { b.bind(dir / "a.sock"); });
        // Bound but not listening: a connect is refused.
        luv::pipe d;
        refused = uv_status_of([&] { d.connect(dir / "a.sock"); });
        const std::string too_long = dir / std::string(120, 'x');
        luv::pipe e;
        long_bind = uv_status_of([&] { e.bind(too_long); });
        long_connect = uv_status_of([&] { e.connect(too_long); });
    });
    rt.run();

    CHECK(missing == UV_ENOENT);
    CHECK(missing_what ==
          "pipe::connect " + dir / "nobody" + ": ENOENT: no such file or directory");
    CHECK(in_use == UV_EADDRINUSE);
    CHECK(refused == UV_ECONNREFUSED);
    CHECK(long_bind == UV_ENAMETOOLONG);
    CHECK(long_connect == UV_ENAMETOOLONG);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("accept_for times out; closing the listener wakes its acceptors", "[pipe]") {
    luv::runtime rt;
    temp_dir dir("luv-cpp-pipe");
    bool timed_out = false;
    double elapsed = 0;
    std::vector<int> statuses(3, 0);
    luv::spawn([&] {
        luv::pipe server;
        server.bind(dir / "s.sock");
        server.listen();
        const auto t0 = luv::hrtime();
        timed_out = !server.accept_for(30ms).has_value();
        elapsed = ms_since(t0);
        std::vector<luv::fiber<void>> acceptors;
        for (int i = 0; i < 3; ++i) {
            acceptors.push_back(luv::spawn([&, i] {
                statuses[i] = uv_status_of([&] { server.accept(); });
            }));
        }
        luv::this_fiber::sleep_for(5ms);
        server.close();
        for (auto& f : acceptors) {
            f.join();
        }
    });
    rt.run();

    CHECK(timed_out);
    CHECK(elapsed >= 29);
    CHECK(elapsed < 1000);
    CHECK(statuses == std::vector<int>(3, UV_ECANCELED));
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("open() adopts pipe(2) ends; closing the pipe closes the descriptor", "[pipe]") {
    luv::runtime rt;
    std::string got;
    bool ended = false;
    bool fd_closed = false;
    luv::spawn([&] {
        int fds[2];
        REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
        luv::pipe r, w;
        r.open(fds[0]);
        w.open(fds[1]);
        auto reader = luv::spawn([&] {
            while (auto data = r.read()) {
                got += *data;
            }
            ended = true;
        });
        w.write("through ");
        w.write("pipe(2)");
        w.close();
        reader.join();
        r.close();
        fd_closed = ::fcntl(fds[0], F_GETFD) < 0;
    });
    rt.run();

    CHECK(got == "through pipe(2)");
    CHECK(ended);
    CHECK(fd_closed);
    REQUIRE_LOOP_CLEAN(rt);
}
