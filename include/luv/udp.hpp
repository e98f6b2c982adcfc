// luv/udp.hpp - UDP sockets that fibers wait on.
//
//   luv::udp server;
//   server.bind("127.0.0.1", 0);
//   auto d = server.recv();                       // suspends this fiber only
//   server.send(d.data, d.from.host, d.from.port);
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "luv/dns.hpp"
#include "luv/error.hpp"

namespace luv {

namespace detail {
struct udp_handle;
}

/// A UDP socket on the calling thread's runtime. Datagrams that arrive while no fiber
/// waits in recv() are queued, up to 1024; beyond that they are dropped and counted
/// (dropped()). One fiber at a time may wait in recv(). Closing the socket wakes every
/// fiber waiting on it with UV_ECANCELED.
class udp {
public:
    /// A received datagram and its sender.
    struct datagram {
        std::string data;
        net::address from;
    };

    /// Flags of bind().
    static constexpr unsigned reuseaddr = 4;  ///< UV_UDP_REUSEADDR: share the port
    static constexpr unsigned ipv6only = 1;   ///< UV_UDP_IPV6ONLY: no IPv4 on "::"

    /// A socket with no family yet: bind(), or the first send(), decides it. Throws
    /// luv::system_error, or std::logic_error without a runtime. Never suspends.
    udp();
    /// Closes the socket.
    ~udp();
    udp(udp&& o) noexcept;
    udp& operator=(udp&& o) noexcept;
    udp(const udp&) = delete;
    udp& operator=(const udp&) = delete;

    /// Binds to `host` (numeric, "*" for any IPv4 address, or a name to resolve) and
    /// `port` (0: a free port). Throws luv::system_error. Suspends the calling fiber
    /// only to resolve a name; never suspends for a numeric host.
    void bind(const std::string& host, int port, unsigned flags = 0);
    /// The address the socket is bound to. Throws luv::system_error. Never suspends.
    net::address local_address() const;

    /// Sends one datagram to `host` (numeric or a name, resolved for the socket's
    /// family) and `port`. Returns once the kernel has it. Throws luv::system_error.
    /// Suspends the calling fiber when a name must be resolved or the socket's buffer is
    /// full; otherwise returns at once.
    void send(std::string_view data, const std::string& host, int port);

    /// Returns the next datagram, waiting for one if none is queued. Throws
    /// luv::system_error: UV_EBUSY if another fiber is waiting in recv(), UV_ECANCELED
    /// if the fiber is cancelled or the socket closed. Suspends the calling fiber.
    datagram recv();
    /// Like recv(), but returns std::nullopt if `timeout` passes first. Suspends the
    /// calling fiber.
    std::optional<datagram> recv_for(std::chrono::milliseconds timeout);

    /// Socket options; each throws luv::system_error. The socket must be bound first
    /// (set_membership binds it to 0.0.0.0:0 itself). Never suspend.
    void set_broadcast(bool on);
    void set_ttl(int ttl);
    void set_multicast_ttl(int ttl);
    void set_multicast_loop(bool on);
    /// Joins (or leaves) the multicast `group` on the interface with the address
    /// `iface` ("" lets the system choose). Never suspends.
    void set_membership(const std::string& group, const std::string& iface, bool join);
    void set_multicast_interface(const std::string& iface);

    /// Datagrams dropped because 1024 were already queued. Never suspends.
    std::uint64_t dropped() const noexcept;

    /// Idempotent. Never suspends.
    void close() noexcept;
    bool closed() const noexcept { return h_ == nullptr; }

private:
    std::optional<datagram> recv_until(std::uint64_t deadline_ms);
    detail::udp_handle* h_;
};

}  // namespace luv
