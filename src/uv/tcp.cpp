#include "uv/tcp.hpp"

#include <cstring>

#include <netdb.h>

#include "core/scheduler.hpp"

namespace luv::detail {
namespace {

int to_endpoint(const sockaddr_storage& ss, endpoint& out) noexcept {
    char buf[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        uv_ip6_name(a, buf, sizeof buf);
        out.family = "inet6";
        out.port = ntohs(a->sin6_port);
    } else if (ss.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        uv_ip4_name(a, buf, sizeof buf);
        out.family = "inet";
        out.port = ntohs(a->sin_port);
    } else {
        return UV_EAFNOSUPPORT;
    }
    out.address = buf;
    return 0;
}

}  // namespace

int parse_ip(const char* host, int port, sockaddr_storage& out) noexcept {
    std::memset(&out, 0, sizeof out);
    if (uv_ip4_addr(host, port, reinterpret_cast<sockaddr_in*>(&out)) == 0) {
        return 0;
    }
    if (uv_ip6_addr(host, port, reinterpret_cast<sockaddr_in6*>(&out)) == 0) {
        return 0;
    }
    return UV_EINVAL;
}

namespace {

struct resolve_request {
    uv_getaddrinfo_t req{};
    waiter* w = nullptr;  // nullptr once the wait was abandoned
    std::shared_ptr<resolved> out;

    static void abandon(waiter&, void* self) {
        auto* r = static_cast<resolve_request*>(self);
        r->w = nullptr;
        uv_cancel(reinterpret_cast<uv_req_t*>(&r->req));  // the callback still frees it
    }
    static void done(uv_getaddrinfo_t* req, int status, addrinfo* res) {
        auto* r = static_cast<resolve_request*>(req->data);
        if (status == 0 && res != nullptr) {
            std::memcpy(&r->out->addr, res->ai_addr, res->ai_addrlen);
        }
        r->out->status = status;
        uv_freeaddrinfo(res);
        if (r->w != nullptr) {
            r->w->value = status;
            r->w->notify();
        }
        delete r;
    }
};

}  // namespace

int resolve_start(scheduler& sched, waiter& w, const std::string& host, int port,
                  std::shared_ptr<resolved>& result) {
    result = std::make_shared<resolved>();
    auto* r = new resolve_request();
    r->req.data = r;
    r->w = &w;
    r->out = result;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    const std::string service = std::to_string(port);
    const int rc = uv_getaddrinfo(sched.loop(), &r->req, &resolve_request::done, host.c_str(),
                                  service.c_str(), &hints);
    if (rc < 0) {
        delete r;
        return rc;
    }
    w.on_abandon(&resolve_request::abandon, r);
    return 0;
}

int tcp_bind(stream_handle& s, const sockaddr* addr) noexcept { return uv_tcp_bind(s.tcp(), addr, 0); }

int tcp_nodelay(stream_handle& s, bool enable) noexcept { return uv_tcp_nodelay(s.tcp(), enable ? 1 : 0); }

int tcp_keepalive(stream_handle& s, bool enable, unsigned seconds) noexcept {
    return uv_tcp_keepalive(s.tcp(), enable ? 1 : 0, seconds);
}

int tcp_sockname(stream_handle& s, endpoint& out) noexcept {
    sockaddr_storage ss{};
    int len = sizeof ss;
    const int rc = uv_tcp_getsockname(s.tcp(), reinterpret_cast<sockaddr*>(&ss), &len);
    return rc < 0 ? rc : to_endpoint(ss, out);
}

int tcp_peername(stream_handle& s, endpoint& out) noexcept {
    sockaddr_storage ss{};
    int len = sizeof ss;
    const int rc = uv_tcp_getpeername(s.tcp(), reinterpret_cast<sockaddr*>(&ss), &len);
    return rc < 0 ? rc : to_endpoint(ss, out);
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
