// The C++ API luv::stream, luv::tcp and luv::pipe (include/luv/stream.hpp, tcp.hpp,
// pipe.hpp), over the stream_handle of stream.cpp that the Lua bindings also drive.
#include <netdb.h>

#include <climits>
#include <memory>
#include <stdexcept>
#include <utility>

#include "core/native_fiber.hpp"
#include "core/scheduler.hpp"
#include "luv/pipe.hpp"
#include "luv/runtime.hpp"
#include "luv/stream.hpp"
#include "luv/tcp.hpp"
#include "uv/address.hpp"
#include "uv/dns.hpp"
#include "uv/stream.hpp"
#include "uv/tcp.hpp"

namespace luv {
namespace {

using detail::wait_status;

detail::scheduler& sched() { return runtime::get().scheduler(); }

// Suspends on `w` (begun) and tells how it ended; forced_unwind passes through.
wait_status suspend(detail::waiter& w) { return detail::suspend_checked(sched(), w); }

void check_port(int port, const std::string& context) {
    if (port < 0 || port > 65535) {
        throw std::invalid_argument(context + ": port must be in 0..65535");
    }
}

// "127.0.0.1:80", "[::1]:80", "localhost:80": the address an error is about.
std::string endpoint(const std::string& host, int port) {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// The address of `host` (numeric, "*", or a name) and `port` for a socket of family
// `af` (AF_UNSPEC: either), or std::nullopt if the deadline passes while a name is
// resolved. The resolution runs on the threadpool and ends early, with UV_ECANCELED,
// when the stream is closed: a close must not wait for a slow resolver. Suspends the
// calling fiber only for a name.
std::optional<sockaddr_storage> resolve(detail::stream_handle& h, const std::string& host,
                                        int port, int af, bool passive,
                                        std::uint64_t deadline, const std::string& context) {
    sockaddr_storage sa;
    if (detail::parse_address(host.c_str(), port, sa) == 0) {
        return sa;
    }
    ::addrinfo hints{};
    hints.ai_family = af;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    detail::scheduler& s = sched();
    int status = 0;
    auto* r = detail::getaddrinfo_request::start(s.loop(), host.c_str(), nullptr, &hints, status);
    if (r == nullptr) {
        throw system_error(status, context);
    }
    detail::waiter w;
    if (!detail::begin_attached(s, w, deadline, *r)) {
        detail::throw_wait_failure(w.status(), context.c_str());
    }
    h.end_on_close(w);
    const wait_status how = suspend(w);
    if (how == wait_status::timed_out) {
        return std::nullopt;  // the request frees itself
    }
    if (how != wait_status::notified) {
        detail::throw_wait_failure(how, context.c_str());
    }
    const std::unique_ptr<detail::getaddrinfo_request, void (*)(detail::getaddrinfo_request*)>
        owned(r, [](detail::getaddrinfo_request* p) { p->finish(); });
    status = r->status();
    if (status == 0) {
        status = r->first(port, sa);
    }
    if (status < 0) {
        throw system_error(status, context);
    }
    return sa;
}

// Closes a handle made for accept() unless a connection was accepted into it.
struct handle_guard {
    detail::stream_handle* h;
    ~handle_guard() {
        if (h != nullptr) {
            h->close();
        }
    }
    detail::stream_handle* release() noexcept { return std::exchange(h, nullptr); }
};

}  // namespace

// ---- luv::stream ------------------------------------------------------------------------

stream::~stream() { close(); }

stream::stream(stream&& o) noexcept : h_(std::exchange(o.h_, nullptr)), kind_(o.kind_) {}

stream& stream::operator=(stream&& o) noexcept {
    if (this != &o) {
        close();
        h_ = std::exchange(o.h_, nullptr);
        kind_ = o.kind_;
    }
    return *this;
}

void stream::close() noexcept {
    if (h_ != nullptr) {
        std::exchange(h_, nullptr)->close();
    }
}

std::string stream::what(const char* op) const { return std::string(kind_) + "::" + op; }

detail::stream_handle& stream::open_handle(const char* op) const {
    if (h_ == nullptr) {
        throw system_error(UV_EBADF, what(op));
    }
    return *h_;
}

std::uint64_t stream::deadline_after(std::chrono::milliseconds timeout) {
    return sched().deadline_after_ms(
        timeout.count() > 0 ? static_cast<std::uint64_t>(timeout.count()) : 0);
}

std::optional<std::optional<std::string>> stream::read_until(std::uint64_t deadline,
                                                             std::size_t max) {
    if (max == 0) {
        throw std::invalid_argument(what("read") + ": max must be > 0");
    }
    for (;;) {
        detail::stream_handle& h = open_handle("read");
        if (h.buffered() > 0) {
            return std::optional<std::string>(h.take(max));
        }
        if (h.read_end() == UV_EOF) {
            return std::optional<std::string>();
        }
        if (h.read_end() < 0) {
            throw system_error(h.read_end(), what("read"));
        }
        detail::waiter w;
        if (!sched().begin_wait(w, deadline)) {
            detail::throw_wait_failure(w.status(), what("read").c_str());
        }
        if (const int rc = h.wait_readable(w); rc < 0) {
            sched().end_wait(w);
            throw system_error(rc, what("read"));
        }
        const wait_status how = suspend(w);
        if (how == wait_status::timed_out) {
            return std::nullopt;
        }
        if (how != wait_status::notified || h_ != &h) {
            detail::throw_wait_failure(wait_status::cancelled, what("read").c_str());
        }
        // Bytes or the end arrived. A fiber that ran first may have taken the bytes;
        // then the loop waits again rather than report an end that did not come.
    }
}

std::optional<std::string> stream::read(std::size_t max) { return *read_until(0, max); }

std::optional<std::optional<std::string>> stream::read_for(std::chrono::milliseconds timeout,
                                                           std::size_t max) {
    return read_until(deadline_after(timeout), max);
}

void stream::write(std::string_view data) {
    if (data.size() > UINT_MAX) {
        throw std::invalid_argument(what("write") + ": more than 4 GiB in one write");
    }
    detail::stream_handle& h = open_handle("write");
    const int n = h.try_write(data.data(), data.size());
    if (n < 0) {
        throw system_error(n, what("write"));
    }
    if (static_cast<std::size_t>(n) == data.size()) {
        return;
    }
    detail::waiter w;
    const bool waiting = sched().begin_wait(w);
    // The rest is queued even when the wait ended at once (a pending cancel): after the
    // first n bytes went out, the others must follow or the stream is garbled.
    if (const int rc = h.queue_write(waiting ? &w : nullptr, data.data() + n, data.size() - n);
        rc < 0) {
        if (waiting) {
            sched().end_wait(w);
        }
        throw system_error(rc, what("write"));
    }
    if (!waiting) {
        detail::throw_wait_failure(w.status(), what("write").c_str());
    }
    const wait_status how = suspend(w);
    if (how != wait_status::notified) {
        detail::throw_wait_failure(how, what("write").c_str());
    }
    if (w.value < 0) {
        throw system_error(static_cast<int>(w.value), what("write"));
    }
}

void stream::listen(int backlog) {
    if (const int rc = open_handle("listen").listen(backlog); rc < 0) {
        throw system_error(rc, what("listen"));
    }
}

void stream::shutdown() {
    detail::stream_handle& h = open_handle("shutdown");
    detail::waiter w;
    if (!sched().begin_wait(w)) {
        detail::throw_wait_failure(w.status(), what("shutdown").c_str());
    }
    if (const int rc = h.shutdown(w); rc < 0) {
        sched().end_wait(w);
        throw system_error(rc, what("shutdown"));
    }
    const wait_status how = suspend(w);
    if (how != wait_status::notified) {
        detail::throw_wait_failure(how, what("shutdown").c_str());
    }
    if (w.value < 0) {
        throw system_error(static_cast<int>(w.value), what("shutdown"));
    }
}

detail::stream_handle* stream::accept_until(std::uint64_t deadline) {
    detail::stream_handle& server = open_handle("accept");
    // The client is made first: stream_handle::accept takes a connection only into one.
    handle_guard client{server.kind() == detail::stream_handle::type::tcp
                            ? detail::stream_handle::create_tcp(sched())
                            : detail::stream_handle::create_pipe(sched(), false)};
    for (;;) {
        detail::stream_handle& s = open_handle("accept");
        const int rc = s.accept(*client.h);
        if (rc == 0) {
            return client.release();
        }
        if (rc != UV_EAGAIN) {
            throw system_error(rc, what("accept"));
        }
        detail::waiter w;
        if (!sched().begin_wait(w, deadline)) {
            detail::throw_wait_failure(w.status(), what("accept").c_str());
        }
        s.wait_connection(w);
        const wait_status how = suspend(w);
        if (how == wait_status::timed_out) {
            return nullptr;
        }
        if (how != wait_status::notified || h_ != &s) {
            detail::throw_wait_failure(wait_status::cancelled, what("accept").c_str());
        }
        // A connection is pending, unless a fiber that ran first took it: try again.
    }
}

// ---- luv::tcp ---------------------------------------------------------------------------

tcp::tcp() : stream(detail::stream_handle::create_tcp(sched()), "tcp") {}

void tcp::bind(const std::string& host, int port) {
    const std::string context = "tcp::bind " + endpoint(host, port);
    check_port(port, context);
    const auto sa = resolve(open_handle("bind"), host, port, AF_UNSPEC, true, 0, context);
    // The resolution may have taken a while; the socket may be closed by now.
    const auto* addr = reinterpret_cast<const sockaddr*>(&*sa);
    if (const int rc = detail::tcp_bind(open_handle("bind"), addr); rc < 0) {
        throw system_error(rc, context);
    }
}

tcp tcp::accept() { return tcp(accept_until(0)); }

std::optional<tcp> tcp::accept_for(std::chrono::milliseconds timeout) {
    if (detail::stream_handle* h = accept_until(deadline_after(timeout))) {
        return tcp(h);
    }
    return std::nullopt;
}

bool tcp::connect_until(const std::string& host, int port, std::uint64_t deadline) {
    const std::string context = "tcp::connect " + endpoint(host, port);
    check_port(port, context);
    // A socket bound first keeps its family: resolve the name for it.
    sockaddr_storage bound{};
    const int af = detail::tcp_sockname(open_handle("connect"), bound) == 0 &&
                           (bound.ss_family == AF_INET || bound.ss_family == AF_INET6)
                       ? bound.ss_family
                       : AF_UNSPEC;
    const auto sa = resolve(open_handle("connect"), host, port, af, false, deadline, context);
    if (!sa) {
        return false;
    }
    detail::stream_handle& h = open_handle("connect");
    detail::waiter w;
    if (!sched().begin_wait(w, deadline)) {
        detail::throw_wait_failure(w.status(), context.c_str());
    }
    if (const int rc = h.connect(w, reinterpret_cast<const sockaddr*>(&*sa)); rc < 0) {
        sched().end_wait(w);
        throw system_error(rc, context);
    }
    // Closing the socket makes libuv end the connect with UV_ECANCELED: a notification.
    const wait_status how = suspend(w);
    if (how == wait_status::timed_out) {
        return false;
    }
    if (how != wait_status::notified) {
        detail::throw_wait_failure(how, context.c_str());
    }
    if (w.value < 0) {
        throw system_error(static_cast<int>(w.value), context);
    }
    return true;
}

void tcp::connect(const std::string& host, int port) { connect_until(host, port, 0); }

bool tcp::connect_for(const std::string& host, int port, std::chrono::milliseconds timeout) {
    return connect_until(host, port, deadline_after(timeout));
}

net::address tcp::local_address() const {
    sockaddr_storage ss{};
    if (const int rc = detail::tcp_sockname(open_handle("local_address"), ss); rc < 0) {
        throw system_error(rc, what("local_address"));
    }
    return detail::to_address(reinterpret_cast<const sockaddr*>(&ss));
}

net::address tcp::peer_address() const {
    sockaddr_storage ss{};
    if (const int rc = detail::tcp_peername(open_handle("peer_address"), ss); rc < 0) {
        throw system_error(rc, what("peer_address"));
    }
    return detail::to_address(reinterpret_cast<const sockaddr*>(&ss));
}

void tcp::set_nodelay(bool on) {
    if (const int rc = detail::tcp_nodelay(open_handle("set_nodelay"), on); rc < 0) {
        throw system_error(rc, what("set_nodelay"));
    }
}

void tcp::set_keepalive(bool on, std::chrono::seconds idle) {
    if (on && (idle.count() < 1 || idle.count() > INT_MAX)) {
        throw std::invalid_argument("tcp::set_keepalive: idle must be at least 1 s");
    }
    const auto seconds = on ? static_cast<unsigned>(idle.count()) : 0U;
    if (const int rc = detail::tcp_keepalive(open_handle("set_keepalive"), on, seconds); rc < 0) {
        throw system_error(rc, what("set_keepalive"));
    }
}

// ---- luv::pipe --------------------------------------------------------------------------

pipe::pipe() : stream(detail::stream_handle::create_pipe(sched(), false), "pipe") {}

void pipe::bind(const std::string& path) {
    if (const int rc = detail::pipe_bind(open_handle("bind"), path.c_str()); rc < 0) {
        throw system_error(rc, "pipe::bind " + path);
    }
}

pipe pipe::accept() { return pipe(accept_until(0)); }

std::optional<pipe> pipe::accept_for(std::chrono::milliseconds timeout) {
    if (detail::stream_handle* h = accept_until(deadline_after(timeout))) {
        return pipe(h);
    }
    return std::nullopt;
}

void pipe::connect(const std::string& path) {
    const std::string context = "pipe::connect " + path;
    detail::stream_handle& h = open_handle("connect");
    detail::waiter w;
    if (!sched().begin_wait(w)) {
        detail::throw_wait_failure(w.status(), context.c_str());
    }
    if (const int rc = h.connect_pipe(w, path.c_str()); rc < 0) {
        sched().end_wait(w);
        throw system_error(rc, context);
    }
    const wait_status how = suspend(w);
    if (how != wait_status::notified) {
        detail::throw_wait_failure(how, context.c_str());
    }
    if (w.value < 0) {
        throw system_error(static_cast<int>(w.value), context);
    }
}

void pipe::open(int fd) {
    if (const int rc = detail::pipe_open(open_handle("open"), fd); rc < 0) {
        throw system_error(rc, what("open"));
    }
}

}  // namespace luv
