#include "uv/tcp.hpp"


namespace luv::detail {
int tcp_bind(stream_handle& s, const sockaddr* addr) noexcept { return uv_tcp_bind(s.tcp(), addr, 0); }

int tcp_nodelay(stream_handle& s, bool enable) noexcept { return uv_tcp_nodelay(s.tcp(), enable ? 1 : 0); }

int tcp_keepalive(stream_handle& s, bool enable, unsigned seconds) noexcept {
    return uv_tcp_keepalive(s.tcp(), enable ? 1 : 0, seconds);
}

int tcp_sockname(stream_handle& s, sockaddr_storage& out) noexcept {
    int len = sizeof out;
    return uv_tcp_getsockname(s.tcp(), reinterpret_cast<sockaddr*>(&out), &len);
}

int tcp_peername(stream_handle& s, sockaddr_storage& out) noexcept {
    int len = sizeof out;
    return uv_tcp_getpeername(s.tcp(), reinterpret_cast<sockaddr*>(&out), &len);
}

int pipe_bind(stream_handle& s, const char* path) noexcept {
    if (!unix_path_fits(path)) {
        return UV_ENAMETOOLONG;
    }
    return uv_pipe_bind(s.pipe(), path);
}

int pipe_open(stream_handle& s, int fd) noexcept { return uv_pipe_open(s.pipe(), fd); }

bool stream_readable(stream_handle& s) noexcept { return uv_is_readable(s.stream()) != 0; }

bool stream_writable(stream_handle& s) noexcept { return uv_is_writable(s.stream()) != 0; }

}  // namespace luv::detail
