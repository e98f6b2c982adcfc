#include "luv/util.hpp"

#include <cstdio>

#include <uv.h>

#include "luv/error.hpp"

namespace luv {
namespace {

std::string ip_string(const sockaddr* sa) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (sa->sa_family == AF_INET6) {
        uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(sa), buf, sizeof buf);
    } else {
        uv_ip4_name(reinterpret_cast<const sockaddr_in*>(sa), buf, sizeof buf);
    }
    return buf;
}

}  // namespace

std::uint64_t hrtime() noexcept { return uv_hrtime(); }
std::uint64_t mem_total() noexcept { return uv_get_total_memory(); }
std::uint64_t mem_free() noexcept { return uv_get_free_memory(); }

std::vector<cpu_info> cpus() {
    uv_cpu_info_t* infos = nullptr;
    int count = 0;
    check(uv_cpu_info(&infos, &count));
    std::vector<cpu_info> out;
    out.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
        const uv_cpu_info_t& c = infos[i];
        out.push_back({c.model != nullptr ? c.model : "", c.speed,
                       {c.cpu_times.user, c.cpu_times.nice, c.cpu_times.sys, c.cpu_times.idle,
                        c.cpu_times.irq}});
    }
    uv_free_cpu_info(infos, count);
    return out;
}

std::vector<interface_address> interface_addresses() {
    uv_interface_address_t* addrs = nullptr;
    int count = 0;
    check(uv_interface_addresses(&addrs, &count));
    std::vector<interface_address> out;
    out.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
        const uv_interface_address_t& a = addrs[i];
        const auto* sa = reinterpret_cast<const sockaddr*>(&a.address);
        char mac[18];
        const auto* p = reinterpret_cast<const unsigned char*>(a.phys_addr);
        std::snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", p[0], p[1], p[2], p[3],
                      p[4], p[5]);
        out.push_back({a.name, sa->sa_family == AF_INET6 ? "inet6" : "inet", ip_string(sa),
                       ip_string(reinterpret_cast<const sockaddr*>(&a.netmask)), mac,
                       a.is_internal != 0});
    }
    uv_free_interface_addresses(addrs, count);
    return out;
}

}  // namespace luv
