// luv/tcp.hpp - TCP sockets that fibers wait on. Reading and writing are luv::stream's.
//
//   luv::tcp server;
//   server.bind("127.0.0.1", 0);
//   server.listen();
//   luv::tcp conn = server.accept();              // suspends this fiber only
//
//   luv::tcp client;
//   client.connect("localhost", port);            // resolves the name off the loop
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "luv/dns.hpp"
#include "luv/error.hpp"
#include "luv/stream.hpp"

namespace luv {

/// A TCP socket on the calling thread's runtime: a listener after bind() and listen(),
/// or a connection after connect() or accept(). Hosts are numeric ("127.0.0.1", "::1"),
/// "*" for any IPv4 address, or names, resolved on libuv's threadpool while the other
/// fibers run (the first address the resolver gives is used). Move-only.
class tcp : public stream {
public:
    /// A socket with no family yet: bind() or connect() decides it. Throws
    /// luv::system_error, or std::logic_error without a runtime. Never suspends.
    tcp();
    tcp(tcp&&) noexcept = default;
    tcp& operator=(tcp&&) noexcept = default;

    /// Binds to `host` and `port` (0: a free port, see local_address()). Throws
    /// luv::system_error (a UV_EAI_* code for a name that does not resolve; libuv
    /// reports UV_EADDRINUSE only at listen() or connect()), std::invalid_argument for a
    /// port outside 0..65535. Suspends the calling fiber only to resolve a name.
    void bind(const std::string& host, int port);

    /// Waits for the next connection and returns it. Any number of fibers may wait on
    /// one listener; each connection goes to one of them. Throws luv::system_error:
    /// UV_EINVAL if the socket does not listen, UV_ECANCELED if the fiber is cancelled or
    /// the socket closed. Suspends the calling fiber (not when a connection is pending).
    tcp accept();
    /// Like accept(), but returns std::nullopt if `timeout` passes first. Suspends the
    /// calling fiber.
    std::optional<tcp> accept_for(std::chrono::milliseconds timeout);

    /// Connects to `host` and `port`, resolving a name first. Throws luv::system_error
    /// whose what() names the address ("tcp::connect 127.0.0.1:9: ECONNREFUSED:
    /// connection refused"), UV_ECANCELED if the fiber is cancelled or the socket closed
    /// meanwhile (which cancels the resolution or the connect); std::invalid_argument for
    /// a port outside 0..65535. After a connect that did not succeed the socket is good
    /// only for close(). Suspends the calling fiber.
    void connect(const std::string& host, int port);
    /// Like connect(), but returns false if `timeout` (for the resolution and the
    /// connect together) passes first. Suspends the calling fiber.
    bool connect_for(const std::string& host, int port, std::chrono::milliseconds timeout);

    /// The address the socket is bound to, and that of its peer. Throw
    /// luv::system_error when there is none (UV_EBADF before bind or connect,
    /// UV_ENOTCONN for the peer of a socket that is not connected). Never suspend.
    net::address local_address() const;
    net::address peer_address() const;

    /// TCP_NODELAY: send small writes at once instead of coalescing them (Nagle).
    /// Throws luv::system_error. Never suspends.
    void set_nodelay(bool on);
    /// SO_KEEPALIVE, probing after `idle` without traffic (`idle` is ignored when `on`
    /// is false). Throws luv::system_error. Never suspends.
    void set_keepalive(bool on, std::chrono::seconds idle = std::chrono::seconds(60));

private:
    explicit tcp(detail::stream_handle* h) noexcept : stream(h, "tcp") {}
    bool connect_until(const std::string& host, int port, std::uint64_t deadline);
};

}  // namespace luv
