// The libuv side of name resolution: getaddrinfo and getnameinfo requests that a fiber
// waits for. A request outlives a wait that ends first (a timeout, a cancel, the
// socket it resolves for being closed): the wait's on_abandon hook detaches it, tries
// uv_cancel, and the libuv callback frees it, since libuv writes into it until then.
//
// A request is started before the wait begins, detached, and attached to the waiter
// once the wait has begun:
//
//   auto* r = getaddrinfo_request::start(loop, node, service, &hints, status);
//   if (r == nullptr) { fail with status; }        // nothing to undo: no wait yet
//   if (sched.begin_wait(w, deadline)) { r->attach(w); } else { r->detach(); }
//
// so that a request libuv refuses never leaves a begun wait to undo, and a wait that
// cannot begin (a pending cancel) leaves a request that frees itself.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <netdb.h>
#include <uv.h>

#include "core/scheduler.hpp"
#include "core/waiter.hpp"
#include "luv/dns.hpp"

namespace luv::detail {

class getaddrinfo_request {
public:
    /// Starts resolving, detached. `node` or `service` may be nullptr, not both.
    /// Returns nullptr and sets `status` if libuv refuses. Never suspends.
    static getaddrinfo_request* start(uv_loop_t* loop, const char* node, const char* service,
                                      const ::addrinfo* hints, int& status);
    /// Notifies `w` (begun) when done, with w.value = the status (0 or a UV_EAI_* code);
    /// a wait that ends first detaches the request. Never suspends.
    void attach(waiter& w) noexcept;
    /// Gives the request up: libuv's callback frees it. Never suspends.
    void detach() noexcept;

    /// After the notification: the status and, if 0, the list of results.
    int status() const noexcept { return status_; }
    const ::addrinfo* result() const noexcept { return res_; }
    /// The first result's address with `port` set, for a connect or a send; UV_EAI_NONAME
    /// when the list is empty. Never suspends.
    int first(int port, sockaddr_storage& out) const noexcept;

    /// Frees a request whose wait was notified (its owner then is the waiting side).
    /// Never suspends.
    void finish() noexcept { delete this; }

private:
    getaddrinfo_request() = default;
    ~getaddrinfo_request();
    static void done(uv_getaddrinfo_t* req, int status, ::addrinfo* res);
    static void abandon(waiter& w, void* self);

    uv_getaddrinfo_t req_{};
    waiter* waiter_ = nullptr;  // nullptr once the wait was abandoned
    ::addrinfo* res_ = nullptr;
    int status_ = 0;
};

class getnameinfo_request {
public:
    /// Starts a reverse lookup of `addr` with NI_* `flags`, detached. Returns nullptr
    /// and sets `status` if libuv refuses. Never suspends.
    static getnameinfo_request* start(uv_loop_t* loop, const sockaddr* addr, int flags,
                                      int& status);
    /// As getaddrinfo_request::attach and detach. Never suspend.
    void attach(waiter& w) noexcept;
    void detach() noexcept;

    int status() const noexcept { return status_; }
    const char* host() const noexcept { return req_.host; }
    const char* service() const noexcept { return req_.service; }
    void finish() noexcept { delete this; }

private:
    getnameinfo_request() = default;
    static void done(uv_getnameinfo_t* req, int status, const char* host, const char* service);
    static void abandon(waiter& w, void* self);

    uv_getnameinfo_t req_{};
    waiter* waiter_ = nullptr;
    int status_ = 0;
};

/// The ::addrinfo form of `h`; returns 0 or UV_EINVAL for an unknown name, which
/// `bad` then holds. Never suspends.
int make_hints(const net::addrinfo_hints& h, ::addrinfo& out, std::string& bad);
/// The NI_* flags of `f`. Never suspends.
int make_flags(const net::nameinfo_flags& f) noexcept;
/// The public form of a result list. Never suspends.
std::vector<net::address_info> to_address_infos(const ::addrinfo* list);

/// Begins the calling fiber's wait `w` and attaches the started request `r` to it. If
/// the wait ends at once (a pending cancel), detaches `r` and returns false. If the
/// fiber is unwinding, forced_unwind passes through and `r`, never attached, frees
/// itself. Never suspends.
template <class Request>
bool begin_attached(scheduler& sched, waiter& w, std::uint64_t deadline_ms, Request& r) {
    if (!sched.begin_wait(w, deadline_ms)) {
        r.detach();
        return false;
    }
    r.attach(w);
    return true;
}

/// Throws what a C++ wait that ended without its operation throws: luv::system_error
/// (UV_ETIMEDOUT, UV_ECANCELED), or std::system_error(resource_deadlock_would_occur).
[[noreturn]] void throw_wait_failure(wait_status how, const char* what);

}  // namespace luv::detail
