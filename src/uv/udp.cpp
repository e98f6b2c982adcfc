#include "uv/udp.hpp"

#include "uv/handle_impl.hpp"

#include <cstring>
#include <new>
#include <utility>

#include "core/native_fiber.hpp"
#include "core/scheduler.hpp"
#include "luv/runtime.hpp"
#include "luv/udp.hpp"
#include "uv/address.hpp"
#include "uv/dns.hpp"

namespace luv::detail {

udp_handle* udp_handle::create(scheduler& sched) {
    udp_handle* h = make(sched.loop(), &uv_udp_init, "uv_udp_init");
    uv_unref(reinterpret_cast<uv_handle_t*>(&h->uv));  // see the header: only readers ref it
    return h;
}

int udp_handle::bind(const sockaddr* addr, unsigned flags) noexcept {
    return uv_udp_bind(&uv, addr, flags);
}

int udp_handle::sockname(sockaddr_storage& out) const noexcept {
    int len = sizeof out;
    std::memset(&out, 0, sizeof out);
    return uv_udp_getsockname(&uv, reinterpret_cast<sockaddr*>(&out), &len);
}

int udp_handle::family() const noexcept {
    sockaddr_storage ss;
    return sockname(ss) == 0 ? ss.ss_family : AF_UNSPEC;
}

int udp_handle::try_send(const char* data, std::size_t len, const sockaddr* to) noexcept {
    const uv_buf_t buf = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(len));
    return uv_udp_try_send(&uv, &buf, 1, to);
}

int udp_handle::start_receiving() noexcept {
    if (receiving_) {
        return 0;
    }
    const int rc = uv_udp_recv_start(&uv, &udp_handle::on_alloc, &udp_handle::on_recv);
    receiving_ = rc == 0;
    return rc;
}

udp_handle::datagram udp_handle::pop() {
    datagram d = std::move(queue_.front());
    queue_.pop_front();
    return d;
}

void udp_handle::add_reader(waiter& w) noexcept {
    reader_ = &w;
    waiters.push(w);
    w.on_abandon(&udp_handle::reader_gone, this);
    uv_ref(reinterpret_cast<uv_handle_t*>(&uv));
}

void udp_handle::release_reader() noexcept {
    reader_ = nullptr;
    uv_unref(reinterpret_cast<uv_handle_t*>(&uv));
}

// The reader's wait ended some other way (timeout, cancel, close): the socket stays
// open, but nobody is reading any more.
void udp_handle::reader_gone(waiter&, void* self) {
    static_cast<udp_handle*>(self)->release_reader();
}

void udp_handle::on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
    auto* self = static_cast<udp_handle*>(h->data);
    if (!self->buffer_) {
        self->buffer_.reset(new (std::nothrow) char[buffer_size]);
    }
    // A null buffer makes libuv report UV_ENOBUFS to on_recv.
    *buf = uv_buf_init(self->buffer_.get(), self->buffer_ ? buffer_size : 0);
}

void udp_handle::on_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                         unsigned) {
    auto* self = static_cast<udp_handle*>(h->data);
    if (nread == 0 && addr == nullptr) {
        return;  // the socket had nothing more to read
    }
    if (self->queue_.size() >= max_queued) {
        ++self->dropped_;
        return;
    }
    datagram& d = self->queue_.emplace_back();
    if (nread < 0) {
        d.status = static_cast<int>(nread);
    } else {
        d.data.assign(buf->base, static_cast<std::size_t>(nread));
        if (addr != nullptr) {
            std::memcpy(&d.from, addr,
                        addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
        }
    }
    if (waiter* w = self->reader_) {
        self->release_reader();
        w->notify();
    }
}

int udp_handle::set_broadcast(bool on) noexcept { return uv_udp_set_broadcast(&uv, on ? 1 : 0); }

int udp_handle::set_ttl(int ttl) noexcept { return uv_udp_set_ttl(&uv, ttl); }

int udp_handle::set_multicast_ttl(int ttl) noexcept { return uv_udp_set_multicast_ttl(&uv, ttl); }

int udp_handle::set_multicast_loop(bool on) noexcept {
    return uv_udp_set_multicast_loop(&uv, on ? 1 : 0);
}

int udp_handle::set_membership(const char* group, const char* iface, bool join) noexcept {
    return uv_udp_set_membership(&uv, group, iface, join ? UV_JOIN_GROUP : UV_LEAVE_GROUP);
}

int udp_handle::set_multicast_interface(const char* iface) noexcept {
    return uv_udp_set_multicast_interface(&uv, iface);
}

// ---- send requests --------------------------------------------------------------------

udp_send_request* udp_send_request::start(udp_handle& h, const char* data, std::size_t len,
                                          const sockaddr* to, int& status) {
    auto* r = new udp_send_request();
    r->req_.data = r;
    r->handle_ = &h;
    r->data_.assign(data, len);  // the caller's buffer may go before libuv sends
    const uv_buf_t buf = uv_buf_init(r->data_.data(), static_cast<unsigned>(len));
    status = uv_udp_send(&r->req_, &h.uv, &buf, 1, to, &udp_send_request::done);
    if (status < 0) {
        delete r;
        return nullptr;
    }
    return r;
}

void udp_send_request::attach(waiter& w) noexcept {
    waiter_ = &w;
    handle_->waiters.push(w);
    w.on_abandon(&udp_send_request::abandon, this);
}

void udp_send_request::abandon(waiter&, void* self) {
    // libuv cannot cancel a queued send; it completes (or fails with UV_ECANCELED when
    // the socket closes) and done() frees the request.
    static_cast<udp_send_request*>(self)->detach();
}

void udp_send_request::done(uv_udp_send_t* req, int status) {
    auto* r = static_cast<udp_send_request*>(req->data);
    if (waiter* w = r->waiter_) {
        w->value = status;
        w->notify();
    }
    delete r;
}

}  // namespace luv::detail

// ---- luv::udp -----------------------------------------------------------------------------

namespace luv {

static_assert(udp::reuseaddr == UV_UDP_REUSEADDR && udp::ipv6only == UV_UDP_IPV6ONLY);

namespace {

detail::udp_handle& open_handle(detail::udp_handle* h) {
    if (h == nullptr) {
        throw system_error(UV_EBADF, "udp is closed");
    }
    return *h;
}

// Resolves `host` for a socket of family `af` (AF_UNSPEC: either) unless it is numeric.
// Suspends the calling fiber only for a name.
sockaddr_storage resolve(const std::string& host, int port, int af, bool passive) {
    sockaddr_storage sa;
    if (detail::parse_address(host.c_str(), port, sa) == 0) {
        return sa;
    }
    net::addrinfo_hints hints;
    hints.family = af == AF_UNSPEC ? "" : detail::family_name(af);
    hints.socktype = "dgram";
    hints.passive = passive;
    hints.v4mapped = af == AF_INET6;
    const auto list = net::getaddrinfo(host, {}, hints);
    if (list.empty() || detail::parse_address(list.front().addr.host.c_str(), port, sa) < 0) {
        throw system_error(UV_EAI_NONAME, "udp: " + host);
    }
    return sa;
}

}  // namespace

udp::udp() : h_(detail::udp_handle::create(runtime::get().scheduler())) {}

udp::~udp() { close(); }

udp::udp(udp&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}

udp& udp::operator=(udp&& o) noexcept {
    if (this != &o) {
        close();
        h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
}

void udp::bind(const std::string& host, int port, unsigned flags) {
    const sockaddr_storage sa = resolve(host, port, AF_UNSPEC, true);
    check(open_handle(h_).bind(reinterpret_cast<const sockaddr*>(&sa), flags));
}

net::address udp::local_address() const {
    sockaddr_storage ss;
    check(open_handle(h_).sockname(ss));
    return detail::to_address(reinterpret_cast<const sockaddr*>(&ss));
}

void udp::send(std::string_view data, const std::string& host, int port) {
    const sockaddr_storage sa = resolve(host, port, open_handle(h_).family(), false);
    detail::udp_handle& h = open_handle(h_);  // resolving may have taken a while
    const auto* to = reinterpret_cast<const sockaddr*>(&sa);
    const int sent = h.try_send(data.data(), data.size(), to);
    if (sent >= 0) {
        return;
    }
    if (sent != UV_EAGAIN) {
        throw system_error(sent, "udp::send");
    }
    int status = 0;
    auto* r = detail::udp_send_request::start(h, data.data(), data.size(), to, status);
    if (r == nullptr) {
        throw system_error(status, "udp::send");
    }
    detail::scheduler& sched = runtime::get().scheduler();
    detail::waiter w;
    if (!detail::begin_attached(sched, w, 0, *r)) {
        detail::throw_wait_failure(w.status(), "udp::send");
    }
    detail::suspend_checked(sched, w);
    if (w.status() != detail::wait_status::notified) {
        detail::throw_wait_failure(w.status(), "udp::send");
    }
    check(static_cast<int>(w.value));
}

std::optional<udp::datagram> udp::recv_until(std::uint64_t deadline_ms) {
    detail::scheduler& sched = runtime::get().scheduler();
    for (;;) {
        detail::udp_handle& h = open_handle(h_);
        if (h.has_datagram() && !h.reading()) {
            detail::udp_handle::datagram d = h.pop();
            check(d.status);
            return datagram{std::move(d.data),
                            detail::to_address(reinterpret_cast<const sockaddr*>(&d.from))};
        }
        if (h.reading()) {
            throw system_error(UV_EBUSY, "udp::recv");
        }
        check(h.start_receiving());
        detail::waiter w;
        if (!sched.begin_wait(w, deadline_ms)) {
            detail::throw_wait_failure(w.status(), "udp::recv");
        }
        h.add_reader(w);
        detail::suspend_checked(sched, w);
        if (w.status() == detail::wait_status::timed_out) {
            return std::nullopt;
        }
        if (w.status() != detail::wait_status::notified || h_ == nullptr) {
            detail::throw_wait_failure(detail::wait_status::cancelled, "udp::recv");
        }
        // A datagram is queued. Another fiber may take it before this one runs again;
        // then the loop waits for the next.
    }
}

udp::datagram udp::recv() { return *recv_until(0); }

std::optional<udp::datagram> udp::recv_for(std::chrono::milliseconds timeout) {
    detail::scheduler& sched = runtime::get().scheduler();
    const auto ms = timeout.count() > 0 ? static_cast<std::uint64_t>(timeout.count()) : 0;
    return recv_until(sched.deadline_after_ms(ms));
}

void udp::set_broadcast(bool on) { check(open_handle(h_).set_broadcast(on)); }
void udp::set_ttl(int ttl) { check(open_handle(h_).set_ttl(ttl)); }
void udp::set_multicast_ttl(int ttl) { check(open_handle(h_).set_multicast_ttl(ttl)); }
void udp::set_multicast_loop(bool on) { check(open_handle(h_).set_multicast_loop(on)); }

void udp::set_membership(const std::string& group, const std::string& iface, bool join) {
    check(open_handle(h_).set_membership(group.c_str(), iface.empty() ? nullptr : iface.c_str(),
                                         join));
}

void udp::set_multicast_interface(const std::string& iface) {
    check(open_handle(h_).set_multicast_interface(iface.c_str()));
}

std::uint64_t udp::dropped() const noexcept { return h_ != nullptr ? h_->dropped() : 0; }

void udp::close() noexcept {
    if (h_ != nullptr) {
        std::exchange(h_, nullptr)->close();
    }
}

}  // namespace luv
