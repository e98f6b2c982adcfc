// echo.cpp - a TCP echo server and its clients in one program: a fiber accepts, a fiber
// per connection echoes, and client fibers talk to it at the same time.
//
// Every call that waits (accept, connect, read, write) suspends only its own fiber, so
// the server and the clients take turns on one thread without a lock or a callback.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <luv/error.hpp>
#include <luv/fiber.hpp>
#include <luv/runtime.hpp>
#include <luv/tcp.hpp>

using namespace std::chrono_literals;

namespace {

std::size_t echoed = 0;

// Works on any luv::stream: a luv::pipe connection would be served the same way.
void serve(luv::stream& conn) {
    while (auto data = conn.read()) {  // std::nullopt once the client shuts down
        echoed += data->size();
        conn.write(*data);
    }
    conn.shutdown();  // the client reads the end of the stream
}

// Sends `lines` and reads everything back until the server's end of the stream.
std::string round_trip(int port, const std::vector<std::string>& lines) {
    luv::tcp c;
    c.connect("localhost", port);  // the name is resolved off the loop
    for (const auto& line : lines) {
        c.write(line + "\n");
    }
    c.shutdown();
    std::string back;
    while (auto data = c.read()) {
        back += *data;
    }
    return back;
}

}  // namespace

int main() {
    luv::runtime rt;

    luv::tcp server;
    server.bind("127.0.0.1", 0);  // port 0: any free port
    server.listen();
    const int port = server.local_address().port;

    int connections = 0;
    auto acceptor = luv::spawn([&] {
        try {
            for (;;) {
                luv::spawn([](luv::tcp conn) { serve(conn); }, server.accept());
                ++connections;
            }
        } catch (const luv::system_error& e) {
            std::printf("acceptor: stopped (%s)\n", luv::error_name(e.status()).c_str());
        }
    });

    // Three clients at once, each with a few lines.
    std::vector<luv::fiber<bool>> clients;
    for (int n = 1; n <= 3; ++n) {
        clients.push_back(luv::spawn([port, n] {
            std::vector<std::string> lines;
            std::string expected;
            for (int i = 1; i <= 3; ++i) {
                lines.push_back("client " + std::to_string(n) + " line " + std::to_string(i));
                expected += lines.back() + "\n";
            }
            return round_trip(port, lines) == expected;
        }));
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
        std::printf("client %zu: lines echoed intact: %s\n", i + 1,
                    clients[i].join() ? "yes" : "no");
    }

    // One megabyte: the client writes and reads at the same time, from two fibers, since
    // neither side can hold it all in its socket buffers.
    {
        luv::tcp c;
        c.connect("127.0.0.1", port);
        std::string big(1 << 20, '\0');
        for (std::size_t i = 0; i < big.size(); ++i) {
            big[i] = static_cast<char>(i % 251);
        }
        auto writer = luv::spawn([&] {
            c.write(big);
            c.shutdown();
        });
        std::string back;
        while (auto data = c.read()) {
            back += *data;
        }
        writer.join();
        std::printf("1 MiB echoed intact: %s\n", back == big ? "yes" : "no");
    }

    // A client that waits for data that never comes gives up after its timeout.
    {
        luv::tcp c;
        c.connect("127.0.0.1", port);
        const auto got = c.read_for(50ms);
        std::printf("idle client: %s\n", got ? "unexpected data" : "nothing within 50 ms");
    }

    server.close();  // wakes the acceptor with ECANCELED
    acceptor.join();
    try {
        luv::tcp c;
        c.connect("127.0.0.1", port);
    } catch (const luv::system_error& e) {
        std::printf("after close: %s\n", e.what());
    }

    rt.run();  // the connections' fibers see their clients' ends and finish
    std::printf("server: %d connections, %zu bytes echoed\n", connections, echoed);
    return 0;
}
