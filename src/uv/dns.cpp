#include "uv/dns.hpp"

#include <cstring>
#include <memory>

#include "core/native_fiber.hpp"
#include "core/scheduler.hpp"
#include "luv/runtime.hpp"
#include "uv/address.hpp"

namespace luv::detail {

// ---- getaddrinfo --------------------------------------------------------------------

getaddrinfo_request* getaddrinfo_request::start(uv_loop_t* loop, const char* node,
                                                const char* service, const ::addrinfo* hints,
                                                int& status) {
    auto* r = new getaddrinfo_request();
    r->req_.data = r;
    // libuv copies node, service and hints, so they need not outlive this call.
    status = uv_getaddrinfo(loop, &r->req_, &getaddrinfo_request::done, node, service, hints);
    if (status < 0) {
        delete r;
        return nullptr;
    }
    return r;
}

void getaddrinfo_request::attach(waiter& w) noexcept {
    waiter_ = &w;
    w.on_abandon(&getaddrinfo_request::abandon, this);
}

void getaddrinfo_request::detach() noexcept {
    waiter_ = nullptr;
    // Succeeds only while the request is queued; either way done() runs and frees it.
    uv_cancel(reinterpret_cast<uv_req_t*>(&req_));
}

getaddrinfo_request::~getaddrinfo_request() {
    if (res_ != nullptr) {
        uv_freeaddrinfo(res_);
    }
}

int getaddrinfo_request::first(int port, sockaddr_storage& out) const noexcept {
    for (const ::addrinfo* ai = res_; ai != nullptr; ai = ai->ai_next) {
        if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
            ai->ai_addrlen <= sizeof out) {
            std::memset(&out, 0, sizeof out);
            std::memcpy(&out, ai->ai_addr, ai->ai_addrlen);
            set_port(out, port);
            return 0;
        }
    }
    return UV_EAI_NONAME;
}

void getaddrinfo_request::done(uv_getaddrinfo_t* req, int status, ::addrinfo* res) {
    auto* r = static_cast<getaddrinfo_request*>(req->data);
    r->res_ = res;
    r->status_ = status;
    if (r->waiter_ == nullptr) {
        delete r;  // nobody waits any more
        return;
    }
    r->waiter_->value = status;
    r->waiter_->notify();
}

void getaddrinfo_request::abandon(waiter&, void* self) {
    static_cast<getaddrinfo_request*>(self)->detach();
}

// ---- getnameinfo --------------------------------------------------------------------

getnameinfo_request* getnameinfo_request::start(uv_loop_t* loop, const sockaddr* addr,
                                                int flags, int& status) {
    auto* r = new getnameinfo_request();
    r->req_.data = r;
    status = uv_getnameinfo(loop, &r->req_, &getnameinfo_request::done, addr, flags);
    if (status < 0) {
        delete r;
        return nullptr;
    }
    return r;
}

void getnameinfo_request::attach(waiter& w) noexcept {
    waiter_ = &w;
    w.on_abandon(&getnameinfo_request::abandon, this);
}

void getnameinfo_request::detach() noexcept {
    waiter_ = nullptr;
    uv_cancel(reinterpret_cast<uv_req_t*>(&req_));
}

void getnameinfo_request::done(uv_getnameinfo_t* req, int status, const char*, const char*) {
    // The names are in req->host and req->service, which live as long as the request.
    auto* r = static_cast<getnameinfo_request*>(req->data);
    r->status_ = status;
    if (r->waiter_ == nullptr) {
        delete r;
        return;
    }
    r->waiter_->value = status;
    r->waiter_->notify();
}

void getnameinfo_request::abandon(waiter&, void* self) {
    static_cast<getnameinfo_request*>(self)->detach();
}

// ---- conversions --------------------------------------------------------------------

int make_hints(const net::addrinfo_hints& h, ::addrinfo& out, std::string& bad) {
    std::memset(&out, 0, sizeof out);
    out.ai_family = family_from_name(h.family);
    if (out.ai_family < 0) {
        bad = "family \"" + h.family + "\"";
        return UV_EINVAL;
    }
    if (h.socktype == "stream") {
        out.ai_socktype = SOCK_STREAM;
    } else if (h.socktype == "dgram") {
        out.ai_socktype = SOCK_DGRAM;
    } else if (h.socktype == "raw") {
        out.ai_socktype = SOCK_RAW;
    } else if (!h.socktype.empty()) {
        bad = "socktype \"" + h.socktype + "\"";
        return UV_EINVAL;
    }
    if (h.protocol == "tcp") {
        out.ai_protocol = IPPROTO_TCP;
    } else if (h.protocol == "udp") {
        out.ai_protocol = IPPROTO_UDP;
    } else if (!h.protocol.empty()) {
        bad = "protocol \"" + h.protocol + "\"";
        return UV_EINVAL;
    }
    out.ai_flags = (h.canonname ? AI_CANONNAME : 0) | (h.numerichost ? AI_NUMERICHOST : 0) |
                   (h.numericserv ? AI_NUMERICSERV : 0) | (h.passive ? AI_PASSIVE : 0) |
                   (h.addrconfig ? AI_ADDRCONFIG : 0) | (h.v4mapped ? AI_V4MAPPED : 0);
    return 0;
}

int make_flags(const net::nameinfo_flags& f) noexcept {
    return (f.namereqd ? NI_NAMEREQD : 0) | (f.numerichost ? NI_NUMERICHOST : 0) |
           (f.numericserv ? NI_NUMERICSERV : 0) | (f.nofqdn ? NI_NOFQDN : 0) |
           (f.dgram ? NI_DGRAM : 0);
}

namespace {

const char* socktype_name(int t) noexcept {
    switch (t) {
    case SOCK_STREAM:
        return "stream";
    case SOCK_DGRAM:
        return "dgram";
    case SOCK_RAW:
        return "raw";
    case SOCK_SEQPACKET:
        return "seqpacket";
    default:
        return "";
    }
}

std::string protocol_name(int p) {
    switch (p) {
    case 0:
        return "";
    case IPPROTO_TCP:
        return "tcp";
    case IPPROTO_UDP:
        return "udp";
    default:
        return std::to_string(p);
    }
}

}  // namespace

std::vector<net::address_info> to_address_infos(const ::addrinfo* list) {
    std::vector<net::address_info> out;
    for (const ::addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) {
            continue;
        }
        out.push_back({to_address(ai->ai_addr), socktype_name(ai->ai_socktype),
                       protocol_name(ai->ai_protocol),
                       ai->ai_canonname != nullptr ? ai->ai_canonname : ""});
    }
    return out;
}

void throw_wait_failure(wait_status how, const char* what) {
    switch (how) {
    case wait_status::timed_out:
        throw system_error(UV_ETIMEDOUT, what);
    case wait_status::deadlock:
        throw system_error(std::make_error_code(std::errc::resource_deadlock_would_occur),
                           std::string("luv: ") + what + ": this wait can never end");
    default:
        throw system_error(UV_ECANCELED, what);
    }
}

}  // namespace luv::detail

namespace luv::net {

std::vector<address_info> getaddrinfo(const std::string& host, const std::string& service,
                                      const addrinfo_hints& hints) {
    ::addrinfo h;
    std::string bad;
    if (detail::make_hints(hints, h, bad) < 0) {
        throw system_error(UV_EINVAL, "getaddrinfo: bad hint " + bad);
    }
    if (host.empty() && service.empty()) {
        throw system_error(UV_EINVAL, "getaddrinfo: neither a host nor a service");
    }
    const std::string what = "getaddrinfo " + (host.empty() ? service : host);
    detail::scheduler& sched = runtime::get().scheduler();
    int status = 0;
    auto* r = detail::getaddrinfo_request::start(sched.loop(),
                                                 host.empty() ? nullptr : host.c_str(),
                                                 service.empty() ? nullptr : service.c_str(),
                                                 &h, status);
    if (r == nullptr) {
        throw system_error(status, what);
    }
    detail::waiter w;
    if (!detail::begin_attached(sched, w, 0, *r)) {
        detail::throw_wait_failure(w.status(), what.c_str());
    }
    detail::suspend_checked(sched, w);
    if (w.status() != detail::wait_status::notified) {
        detail::throw_wait_failure(w.status(), what.c_str());  // r frees itself
    }
    std::unique_ptr<detail::getaddrinfo_request, void (*)(detail::getaddrinfo_request*)> owned(
        r, [](detail::getaddrinfo_request* p) { p->finish(); });
    if (r->status() < 0) {
        throw system_error(r->status(), what);
    }
    return detail::to_address_infos(r->result());
}

nameinfo getnameinfo(const address& addr, const nameinfo_flags& flags) {
    sockaddr_storage sa;
    if (detail::from_address(addr, sa) < 0) {
        throw system_error(UV_EINVAL, "getnameinfo: not a numeric address: " + addr.host);
    }
    const std::string what = "getnameinfo " + addr.host;
    detail::scheduler& sched = runtime::get().scheduler();
    int status = 0;
    auto* r = detail::getnameinfo_request::start(
        sched.loop(), reinterpret_cast<const sockaddr*>(&sa), detail::make_flags(flags), status);
    if (r == nullptr) {
        throw system_error(status, what);
    }
    detail::waiter w;
    if (!detail::begin_attached(sched, w, 0, *r)) {
        detail::throw_wait_failure(w.status(), what.c_str());
    }
    detail::suspend_checked(sched, w);
    if (w.status() != detail::wait_status::notified) {
        detail::throw_wait_failure(w.status(), what.c_str());
    }
    std::unique_ptr<detail::getnameinfo_request, void (*)(detail::getnameinfo_request*)> owned(
        r, [](detail::getnameinfo_request* p) { p->finish(); });
    if (r->status() < 0) {
        throw system_error(r->status(), what);
    }
    return {r->host(), r->service()};
}

}  // namespace luv::net
