// TCP and unix-domain specifics of a stream_handle: binding, names, options. Addresses
// are parsed and formatted by uv/address.hpp, names resolved by uv/dns.hpp.
#pragma once

#include <uv.h>

#include "core/waiter.hpp"
#include "uv/stream.hpp"

namespace luv::detail {

class scheduler;

int tcp_bind(stream_handle& s, const sockaddr* addr) noexcept;
int tcp_nodelay(stream_handle& s, bool enable) noexcept;
int tcp_keepalive(stream_handle& s, bool enable, unsigned seconds) noexcept;
/// The local and the peer address (see uv/address.hpp to read them). Never suspend.
int tcp_sockname(stream_handle& s, sockaddr_storage& out) noexcept;
int tcp_peername(stream_handle& s, sockaddr_storage& out) noexcept;

int pipe_bind(stream_handle& s, const char* path) noexcept;
int pipe_open(stream_handle& s, int fd) noexcept;

bool stream_readable(stream_handle& s) noexcept;
bool stream_writable(stream_handle& s) noexcept;

}  // namespace luv::detail
