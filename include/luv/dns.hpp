// luv/dns.hpp - name resolution on libuv's threadpool, and the socket address type that
// the network classes (luv::udp, luv::tcp) share.
//
//   for (const auto& ai : luv::net::getaddrinfo("localhost", "http", {.socktype = "stream"}))
//       std::printf("%s port %d\n", ai.addr.host.c_str(), ai.addr.port);
#pragma once

#include <string>
#include <vector>

#include "luv/error.hpp"

namespace luv::net {

/// An IP socket address in numeric form.
struct address {
    std::string family{};  ///< "inet" or "inet6" ("" when given: taken from the host)
    std::string host{};    ///< numeric: "127.0.0.1", "::1", "fe80::1%eth0"
    int port = 0;
};

/// What getaddrinfo() should return. Empty strings leave a field open.
struct addrinfo_hints {
    std::string family{};    ///< "inet", "inet6", or "" for both
    std::string socktype{};  ///< "stream", "dgram", "raw", or "" for every type
    std::string protocol{};  ///< "tcp", "udp", or "" for any
    bool canonname = false;    ///< AI_CANONNAME: the first entry gets the canonical name
    bool numerichost = false;  ///< AI_NUMERICHOST: `host` must be numeric; no lookup
    bool numericserv = false;  ///< AI_NUMERICSERV: `service` must be a port number
    bool passive = false;      ///< AI_PASSIVE: the wildcard address when `host` is empty
    bool addrconfig = false;   ///< AI_ADDRCONFIG: families configured on this host only
    bool v4mapped = false;     ///< AI_V4MAPPED: IPv4 as ::ffff:a.b.c.d if no IPv6 is found
};

/// One result of getaddrinfo().
struct address_info {
    address addr{};
    std::string socktype{};   ///< "stream", "dgram", "raw", "seqpacket", or "" if unknown
    std::string protocol{};   ///< "tcp", "udp", "" for 0, or the number ("132")
    std::string canonname{};  ///< only on the first entry, when hints.canonname asked for it
};

/// Resolves `host` and/or `service` ("http", "80"; empty: none, but not both) on libuv's
/// threadpool while other fibers run, and returns every address, in the resolver's
/// order. Throws luv::system_error: the UV_EAI_* code when resolution fails (e.g.
/// UV_EAI_NONAME), UV_EINVAL for a bad hint, UV_ECANCELED when the fiber is cancelled.
/// Suspends the calling fiber.
std::vector<address_info> getaddrinfo(const std::string& host,
                                      const std::string& service = {},
                                      const addrinfo_hints& hints = {});

/// What getnameinfo() should do.
struct nameinfo_flags {
    bool namereqd = false;     ///< NI_NAMEREQD: fail when the address has no name
    bool numerichost = false;  ///< NI_NUMERICHOST: no reverse lookup of the host
    bool numericserv = false;  ///< NI_NUMERICSERV: the port as a number
    bool nofqdn = false;       ///< NI_NOFQDN: local hosts by their short name
    bool dgram = false;        ///< NI_DGRAM: the service name of the UDP port
};

/// A host name and a service name.
struct nameinfo {
    std::string host{};     ///< "localhost"
    std::string service{};  ///< "http", or the number when the port has no name
};

/// Looks up the names of `addr` (whose host must be numeric) on libuv's threadpool.
/// Throws luv::system_error: UV_EINVAL for a non-numeric host, the UV_EAI_* code when
/// the lookup fails, UV_ECANCELED when the fiber is cancelled. Suspends the calling
/// fiber.
nameinfo getnameinfo(const address& addr, const nameinfo_flags& flags = {});

}  // namespace luv::net
