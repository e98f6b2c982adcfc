// luv.net.udp: UDP sockets that fibers wait on. The socket lives in src/uv/udp.cpp.
//
// A host given to bind or send may be a name: it is resolved on the threadpool first
// (one wait), and the continuation of that wait goes on with the bind or the send (a
// second wait, if the send must be queued). The arguments stay on the Lua stack across
// both waits, with what the continuations need pushed above them.
#include <cmath>

#include "binding/address.hpp"
#include "binding/await.hpp"
#include "binding/handle.hpp"
#include "binding/module.hpp"
#include "binding/trampoline.hpp"
#include "luv/udp.hpp"
#include "uv/address.hpp"
#include "uv/dns.hpp"
#include "uv/udp.hpp"

namespace luv::lua {
namespace {

constexpr const char* udp_type = "luv.udp";
using detail::udp_handle;

// The userdata. `h` comes first: the shared handle helpers (check_open, close_handle,
// handle_tostring) read the userdata as a udp_handle**.
struct udp_box {
    udp_handle* h;
    lua_Number timeout;  // seconds for every wait of the socket; < 0: none
};

udp_box& check_box(lua_State* L) {
    check_open<udp_handle>(L, 1, udp_type);
    return *static_cast<udp_box*>(lua_touserdata(L, 1));
}

udp_handle& check_udp(lua_State* L) { return *check_box(L).h; }

// In a continuation: the socket at 1, or nullptr if it was closed meanwhile.
udp_handle* still_open(lua_State* L) { return static_cast<udp_box*>(lua_touserdata(L, 1))->h; }

// The deadline of a wait with the socket's own timeout (settimeout).
std::uint64_t box_deadline(lua_State* L, const udp_box& b) {
    return object_deadline(L, lua_gettop(L) + 1, b.timeout);  // no timeout argument
}

int udp_new(lua_State* L) {
    auto* b = static_cast<udp_box*>(lua_newuserdatauv(L, sizeof(udp_box), 0));
    b->h = nullptr;  // closed, until the handle exists
    b->timeout = -1;
    luaL_setmetatable(L, udp_type);
    b->h = udp_handle::create(sched(L));
    return 1;
}

// ---- resolving a host before a bind or a send -------------------------------------------

// Resolves the name `host` for the socket (its family if bound, a datagram socket),
// then continues with k.
int resolve_then(lua_State* L, udp_handle& h, const char* host, bool passive,
                 std::uint64_t deadline, lua_KFunction k) {
    ::addrinfo hints{};
    hints.ai_family = h.family();
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = (passive ? AI_PASSIVE : 0) | (hints.ai_family == AF_INET6 ? AI_V4MAPPED : 0);
    int status = 0;
    auto* r = detail::getaddrinfo_request::start(sched(L).loop(), host, nullptr, &hints, status);
    if (r == nullptr) {
        return push_fail(L, status, host);
    }
    detail::waiter& w = begin_wait(L, deadline);
    if (w.waiting()) {
        r->attach(w);
        h.waiters.push(w);  // closing the socket ends the wait too
    } else {
        r->detach();
    }
    return finish_wait(L, w, k, reinterpret_cast<lua_KContext>(r));
}

// In the continuation of resolve_then: fills `sa` and returns 0, or pushes the failure
// and returns how many values it pushed.
int take_resolved(lua_State* L, lua_KContext ctx, int host_arg, int port, sockaddr_storage& sa) {
    const detail::waiter& w = current_wait(L);
    if (w.status() != detail::wait_status::notified) {
        return push_wait_failure(L, w.status());  // the request frees itself
    }
    auto* r = reinterpret_cast<detail::getaddrinfo_request*>(ctx);
    int status = r->status();
    if (status == 0) {
        status = r->first(port, sa);
    }
    r->finish();
    if (status < 0) {
        return push_fail(L, status, lua_tostring(L, host_arg));
    }
    if (still_open(L) == nullptr) {
        return push_fail(L, UV_ECANCELED);
    }
    return 0;
}

// ---- bind -----------------------------------------------------------------------------

// Stack: 1 udp, 2 host, 3 port, 4 options, 5 flags.
int bind_resolved_k(lua_State* L, int, lua_KContext ctx) {
    sockaddr_storage sa;
    if (const int n = take_resolved(L, ctx, 2, static_cast<int>(lua_tointeger(L, 3)), sa)) {
        return n;
    }
    const auto flags = static_cast<unsigned>(lua_tointeger(L, 5));
    return push_status(L, still_open(L)->bind(reinterpret_cast<const sockaddr*>(&sa), flags));
}

int udp_bind(lua_State* L) {
    udp_box& b = check_box(L);
    const char* host = luaL_checkstring(L, 2);
    const int port = check_port(L, 3);
    unsigned flags = 0;
    if (!lua_isnoneornil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        lua_getfield(L, 4, "reuseaddr");
        flags |= lua_toboolean(L, -1) != 0 ? udp::reuseaddr : 0;
        lua_getfield(L, 4, "ipv6only");
        flags |= lua_toboolean(L, -1) != 0 ? udp::ipv6only : 0;
    }
    lua_settop(L, 4);
    lua_pushinteger(L, flags);
    sockaddr_storage sa;
    if (detail::parse_address(host, port, sa) == 0) {
        return push_status(L, b.h->bind(reinterpret_cast<const sockaddr*>(&sa), flags));
    }
    return resolve_then(L, *b.h, host, true, box_deadline(L, b), &ktrampoline<bind_resolved_k>);
}

int udp_getsockname(lua_State* L) {
    sockaddr_storage sa;
    if (const int rc = check_udp(L).sockname(sa); rc < 0) {
        return push_fail(L, rc);
    }
    push_address(L, reinterpret_cast<const sockaddr*>(&sa));
    return 1;
}

// ---- send -----------------------------------------------------------------------------

int sent_k(lua_State* L, int, lua_KContext) {
    const detail::waiter& w = current_wait(L);
    if (w.status() != detail::wait_status::notified) {
        return push_wait_failure(L, w.status());
    }
    return push_status(L, static_cast<int>(w.value));
}

// Stack: 1 udp, 2 data, 3 host, 4 port, 5 deadline.
int send_to(lua_State* L, const sockaddr_storage& sa) {
    udp_handle& h = *still_open(L);
    std::size_t len = 0;
    const char* data = lua_tolstring(L, 2, &len);
    const auto* to = reinterpret_cast<const sockaddr*>(&sa);
    const int sent = h.try_send(data, len, to);
    if (sent >= 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    if (sent != UV_EAGAIN) {
        return push_fail(L, sent);
    }
    // The socket's buffer is full: queue a copy and wait until libuv has sent it.
    int status = 0;
    auto* r = detail::udp_send_request::start(h, data, len, to, status);
    if (r == nullptr) {
        return push_fail(L, status);
    }
    detail::waiter& w = begin_wait(L, static_cast<std::uint64_t>(lua_tointeger(L, 5)));
    if (w.waiting()) {
        r->attach(w);
    } else {
        r->detach();
    }
    return finish_wait(L, w, &ktrampoline<sent_k>);
}

int send_resolved_k(lua_State* L, int, lua_KContext ctx) {
    sockaddr_storage sa;
    if (const int n = take_resolved(L, ctx, 3, static_cast<int>(lua_tointeger(L, 4)), sa)) {
        return n;
    }
    return send_to(L, sa);
}

int udp_send(lua_State* L) {
    udp_box& b = check_box(L);
    luaL_checkstring(L, 2);
    const char* host = luaL_checkstring(L, 3);
    const int port = check_port(L, 4);
    const std::uint64_t deadline = box_deadline(L, b);
    lua_settop(L, 4);
    lua_pushinteger(L, static_cast<lua_Integer>(deadline));
    sockaddr_storage sa;
    if (detail::parse_address(host, port, sa) == 0) {
        return send_to(L, sa);
    }
    return resolve_then(L, *b.h, host, false, deadline, &ktrampoline<send_resolved_k>);
}

// ---- recv -----------------------------------------------------------------------------

int recv_k(lua_State* L, int status, lua_KContext ctx);

// Stack: 1 udp. Takes a queued datagram, or waits for one.
int recv_step(lua_State* L, std::uint64_t deadline) {
    udp_handle& h = *still_open(L);
    if (h.reading()) {
        return push_fail(L, UV_EBUSY);
    }
    if (h.has_datagram()) {
        const udp_handle::datagram& d = h.front();
        if (d.status < 0) {
            const int status = d.status;
            h.pop_front();
            return push_fail(L, status);
        }
        lua_pushlstring(L, d.data.data(), d.data.size());
        char host[detail::address_buffer_size];
        int port = 0;
        detail::format_address(reinterpret_cast<const sockaddr*>(&d.from), host, port);
        h.pop_front();
        lua_pushstring(L, host);
        lua_pushinteger(L, port);
        return 3;
    }
    if (const int rc = h.start_receiving(); rc < 0) {
        return push_fail(L, rc);
    }
    detail::waiter& w = begin_wait(L, deadline);
    if (w.waiting()) {
        h.add_reader(w);
    }
    return finish_wait(L, w, &ktrampoline<recv_k>, static_cast<lua_KContext>(deadline));
}

int recv_k(lua_State* L, int, lua_KContext ctx) {
    const detail::waiter& w = current_wait(L);
    if (w.status() != detail::wait_status::notified) {
        return push_wait_failure(L, w.status());
    }
    if (still_open(L) == nullptr) {
        return push_fail(L, UV_ECANCELED);
    }
    // A datagram is queued; if another fiber took it first, this waits for the next.
    return recv_step(L, static_cast<std::uint64_t>(ctx));
}

int udp_recv(lua_State* L) {
    udp_box& b = check_box(L);
    const std::uint64_t deadline = lua_isnoneornil(L, 2) ? box_deadline(L, b) : opt_deadline(L, 2);
    lua_settop(L, 1);
    return recv_step(L, deadline);
}

// ---- options --------------------------------------------------------------------------

int udp_settimeout(lua_State* L) {
    udp_box& b = check_box(L);
    if (lua_isnoneornil(L, 2)) {
        b.timeout = -1;
    } else {
        const lua_Number s = luaL_checknumber(L, 2);
        luaL_argcheck(L, s >= 0 && !std::isnan(s), 2, "timeout must be >= 0");
        b.timeout = s;
    }
    lua_pushboolean(L, 1);
    return 1;
}

bool check_boolean(lua_State* L, int arg) {
    luaL_checktype(L, arg, LUA_TBOOLEAN);
    return lua_toboolean(L, arg) != 0;
}

int udp_set_broadcast(lua_State* L) {
    udp_handle& h = check_udp(L);
    return push_status(L, h.set_broadcast(check_boolean(L, 2)));
}

int udp_set_ttl(lua_State* L) {
    udp_handle& h = check_udp(L);
    return push_status(L, h.set_ttl(static_cast<int>(luaL_checkinteger(L, 2))));
}

int udp_set_multicast_ttl(lua_State* L) {
    udp_handle& h = check_udp(L);
    return push_status(L, h.set_multicast_ttl(static_cast<int>(luaL_checkinteger(L, 2))));
}

int udp_set_multicast_loop(lua_State* L) {
    udp_handle& h = check_udp(L);
    return push_status(L, h.set_multicast_loop(check_boolean(L, 2)));
}

int udp_set_membership(lua_State* L) {
    static const char* const ops[] = {"join", "leave", nullptr};
    udp_handle& h = check_udp(L);
    const char* group = luaL_checkstring(L, 2);
    const char* iface = luaL_optstring(L, 3, nullptr);
    const bool join = luaL_checkoption(L, 4, nullptr, ops) == 0;
    return push_status(L, h.set_membership(group, iface, join));
}

int udp_set_multicast_interface(lua_State* L) {
    udp_handle& h = check_udp(L);
    return push_status(L, h.set_multicast_interface(luaL_checkstring(L, 2)));
}

int udp_dropped(lua_State* L) {
    lua_pushinteger(L, static_cast<lua_Integer>(check_udp(L).dropped()));
    return 1;
}

int udp_close(lua_State* L) { return close_handle<udp_handle>(L, udp_type); }

int udp_tostring(lua_State* L) { return handle_tostring<udp_handle>(L, udp_type); }

const luaL_Reg methods[] = {
    {"bind", LUV_FN(udp_bind)},
    {"getsockname", LUV_FN(udp_getsockname)},
    {"send", LUV_FN(udp_send)},
    {"recv", LUV_FN(udp_recv)},
    {"settimeout", LUV_FN(udp_settimeout)},
    {"set_broadcast", LUV_FN(udp_set_broadcast)},
    {"set_ttl", LUV_FN(udp_set_ttl)},
    {"set_multicast_ttl", LUV_FN(udp_set_multicast_ttl)},
    {"set_multicast_loop", LUV_FN(udp_set_multicast_loop)},
    {"set_membership", LUV_FN(udp_set_membership)},
    {"set_multicast_interface", LUV_FN(udp_set_multicast_interface)},
    {"dropped", LUV_FN(udp_dropped)},
    {"close", LUV_FN(udp_close)},
    {nullptr, nullptr},
};

const luaL_Reg metamethods[] = {
    {"__gc", LUV_FN(udp_close)},
    {"__close", LUV_FN(udp_close)},
    {"__tostring", LUV_FN(udp_tostring)},
    {nullptr, nullptr},
};

}  // namespace

void open_udp(lua_State* L) {
    new_class(L, udp_type, methods, metamethods);
    luaL_getsubtable(L, -1, "net");
    lua_pushcfunction(L, LUV_FN(udp_new));
    lua_setfield(L, -2, "udp");
    lua_pop(L, 1);
}

}  // namespace luv::lua
