// Socket addresses between their three forms: what a caller writes ("127.0.0.1", 80),
// what the kernel takes (sockaddr_storage), and what the API hands back
// (luv::net::address: family name, numeric host, port). Shared by dns, udp and tcp.
#pragma once

#include <cstddef>
#include <string_view>

#include <uv.h>

#include "luv/dns.hpp"

namespace luv::detail {

/// Fills `out` from a numeric IPv4 or IPv6 host ("127.0.0.1", "::1", "fe80::1%lo") and a
/// port. "*" stands for the IPv4 wildcard 0.0.0.0, as in LuaSocket. Returns 0, or
/// UV_EINVAL when `host` is not numeric (a name to resolve first). Never suspends.
int parse_address(const char* host, int port, sockaddr_storage& out) noexcept;

/// Room for any numeric host format_address() writes.
constexpr std::size_t address_buffer_size = 64;

/// Writes the numeric host of an IPv4 or IPv6 address into `buf` (of
/// address_buffer_size bytes), sets `port`, and returns the family (AF_INET, AF_INET6);
/// any other family gives AF_UNSPEC, "" and 0. For callers that must not hold C++
/// objects (the Lua bindings, where an error is a longjmp). Never suspends.
int format_address(const sockaddr* sa, char* buf, int& port) noexcept;

/// The numeric form of an IPv4 or IPv6 socket address. Any other family gives
/// {"unspec", "", 0}. Never suspends.
net::address to_address(const sockaddr* sa);

/// Fills `out` from a luv::net::address whose host is numeric; returns 0 or UV_EINVAL.
/// Never suspends.
int from_address(const net::address& a, sockaddr_storage& out) noexcept;

/// Sets the port of an IPv4 or IPv6 socket address. Never suspends.
void set_port(sockaddr_storage& sa, int port) noexcept;

/// "inet", "inet6", "unix" or "unspec" for AF_INET, AF_INET6, AF_UNIX, anything else.
const char* family_name(int af) noexcept;
/// The AF_* constant for "inet", "inet6", "unspec" or ""; -1 for anything else.
int family_from_name(std::string_view name) noexcept;

}  // namespace luv::detail
