// TCP and unix-domain specifics of a stream_handle: binding, names, options, and
// resolving a host name on the threadpool before a connect.
#pragma once

#include <memory>
#include <string>

#include <uv.h>

#include "core/waiter.hpp"
#include "uv/stream.hpp"

namespace luv::detail {

class scheduler;

struct endpoint {
    std::string family;  // "inet" or "inet6"
    std::string address;
    int port = 0;
};

/// Parses a numeric IPv4 or IPv6 address. Returns UV_EINVAL for anything else (a name
/// to resolve). Never suspends.
int parse_ip(const char* host, int port, sockaddr_storage& out) noexcept;

/// Resolution of a host name for a connect, on the threadpool: `w` (begun) is notified
/// with w.value = status, and `*result` then holds the first address. Never suspends.
struct resolved {
    sockaddr_storage addr{};
    int status = 0;
};
int resolve_start(scheduler& sched, waiter& w, const std::string& host, int port,
                  std::shared_ptr<resolved>& result);

int tcp_bind(stream_handle& s, const sockaddr* addr) noexcept;
int tcp_nodelay(stream_handle& s, bool enable) noexcept;
int tcp_keepalive(stream_handle& s, bool enable, unsigned seconds) noexcept;
int tcp_sockname(stream_handle& s, endpoint& out) noexcept;
int tcp_peername(stream_handle& s, endpoint& out) noexcept;

int pipe_bind(stream_handle& s, const char* path) noexcept;
int pipe_open(stream_handle& s, int fd) noexcept;

bool stream_readable(stream_handle& s) noexcept;
bool stream_writable(stream_handle& s) noexcept;

}  // namespace luv::detail
