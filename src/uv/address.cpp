#include "uv/address.hpp"

#include <cstdint>
#include <cstring>

namespace luv::detail {

int parse_address(const char* host, int port, sockaddr_storage& out) noexcept {
    std::memset(&out, 0, sizeof out);
    if (std::strcmp(host, "*") == 0) {
        host = "0.0.0.0";
    }
    // inet_pton underneath: names are refused, nothing is looked up.
    if (uv_ip4_addr(host, port, reinterpret_cast<sockaddr_in*>(&out)) == 0) {
        return 0;
    }
    std::memset(&out, 0, sizeof out);
    if (uv_ip6_addr(host, port, reinterpret_cast<sockaddr_in6*>(&out)) == 0) {
        return 0;
    }
    std::memset(&out, 0, sizeof out);
    return UV_EINVAL;
}

int format_address(const sockaddr* sa, char* buf, int& port) noexcept {
    std::memset(buf, 0, address_buffer_size);
    port = 0;
    if (sa->sa_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        uv_ip4_name(in, buf, address_buffer_size);
        port = ntohs(in->sin_port);
        return AF_INET;
    }
    if (sa->sa_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        uv_ip6_name(in6, buf, address_buffer_size);
        port = ntohs(in6->sin6_port);
        return AF_INET6;
    }
    return AF_UNSPEC;
}

net::address to_address(const sockaddr* sa) {
    char buf[address_buffer_size];
    int port = 0;
    const int af = format_address(sa, buf, port);
    return {family_name(af), buf, port};
}

int from_address(const net::address& a, sockaddr_storage& out) noexcept {
    const int rc = parse_address(a.host.c_str(), a.port, out);
    if (rc == 0 && !a.family.empty() && family_from_name(a.family) != out.ss_family) {
        return UV_EINVAL;  // {family = "inet6", host = "127.0.0.1"}
    }
    return rc;
}

void set_port(sockaddr_storage& sa, int port) noexcept {
    if (sa.ss_family == AF_INET) {
        reinterpret_cast<sockaddr_in*>(&sa)->sin_port = htons(static_cast<std::uint16_t>(port));
    } else if (sa.ss_family == AF_INET6) {
        reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port =
            htons(static_cast<std::uint16_t>(port));
    }
}

const char* family_name(int af) noexcept {
    switch (af) {
    case AF_INET:
        return "inet";
    case AF_INET6:
        return "inet6";
    case AF_UNIX:
        return "unix";
    default:
        return "unspec";
    }
}

int family_from_name(std::string_view name) noexcept {
    if (name == "inet") {
        return AF_INET;
    }
    if (name == "inet6") {
        return AF_INET6;
    }
    if (name.empty() || name == "unspec") {
        return AF_UNSPEC;
    }
    return -1;
}

}  // namespace luv::detail
