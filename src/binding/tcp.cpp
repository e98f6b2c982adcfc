// luv.net.tcp(): TCP sockets. Stream methods come from binding/stream.cpp; the libuv side
// is src/uv/stream.cpp and src/uv/tcp.cpp.
#include "binding/address.hpp"
#include "binding/await.hpp"
#include "binding/handle.hpp"
#include "binding/stream.hpp"
#include "binding/trampoline.hpp"
#include "core/scheduler.hpp"
#include "uv/address.hpp"
#include "uv/dns.hpp"
#include "uv/tcp.hpp"

namespace luv::lua {
namespace {

detail::stream_handle& check_tcp(lua_State* L) {
    luaL_checkudata(L, 1, tcp_type);
    return check_open_stream(L, 1);
}

int tcp_new(lua_State* L) {
    push_stream(L, tcp_type, detail::stream_handle::create_tcp(sched(L)));
    return 1;
}

int tcp_bind(lua_State* L) {
    detail::stream_handle& h = check_tcp(L);
    const char* host = luaL_checkstring(L, 2);
    const int port = check_port(L, 3);
    sockaddr_storage addr{};
    if (const int rc = detail::parse_address(host, port, addr); rc < 0) {
        return push_fail(L, rc, host);
    }
    return push_status(L, detail::tcp_bind(h, reinterpret_cast<const sockaddr*>(&addr)));
}

int start_connect(lua_State* L, const sockaddr* addr, std::uint64_t deadline) {
    detail::stream_handle& h = check_tcp(L);
    detail::waiter& w = begin_wait(L, deadline);
    if (w.waiting()) {
        if (const int rc = h.connect(w, addr); rc < 0) {
            sched(L).end_wait(w);
            return push_fail(L, rc);
        }
    }
    return finish_wait(L, w, &ktrampoline<status_k>);
}

// Stack: 1 tcp, 2 host, 3 port, 4 timeout, 5 the deadline of the whole connect.
int resolved_k(lua_State* L, int, lua_KContext ctx) {
    const detail::waiter& w = current_wait(L);
    if (w.status() != detail::wait_status::notified) {
        return push_wait_failure(L, w.status());  // the request frees itself
    }
    auto* r = reinterpret_cast<detail::getaddrinfo_request*>(ctx);
    sockaddr_storage addr{};
    int status = r->status();
    if (status == 0) {
        status = r->first(static_cast<int>(lua_tointeger(L, 3)), addr);
    }
    r->finish();
    if (status < 0) {
        return push_fail(L, status, lua_tostring(L, 2));
    }
    if (check_stream(L, 1).h == nullptr) {
        return push_fail(L, UV_ECANCELED);  // closed while the name was resolved
    }
    const auto deadline = static_cast<std::uint64_t>(lua_tointeger(L, 5));
    return start_connect(L, reinterpret_cast<const sockaddr*>(&addr), deadline);
}

// connect(host, port[, timeout]) -> true | fail. A host name is resolved on the
// threadpool first, so the loop never blocks on DNS; the timeout covers both steps.
int tcp_connect(lua_State* L) {
    stream_object& s = check_stream(L, 1);
    detail::stream_handle& h = check_tcp(L);
    const char* host = luaL_checkstring(L, 2);
    const int port = check_port(L, 3);
    const std::uint64_t deadline = stream_deadline(L, 4, s);
    sockaddr_storage addr{};
    if (detail::parse_address(host, port, addr) == 0) {
        return start_connect(L, reinterpret_cast<const sockaddr*>(&addr), deadline);
    }
    ::addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int status = 0;
    auto* r = detail::getaddrinfo_request::start(sched(L).loop(), host, nullptr, &hints, status);
    if (r == nullptr) {
        return push_fail(L, status, host);
    }
    lua_settop(L, 4);
    lua_pushinteger(L, static_cast<lua_Integer>(deadline));
    detail::waiter& w = begin_wait(L, deadline);
    if (w.waiting()) {
        r->attach(w);
        h.end_on_close(w);  // close() must not wait for the resolver
    } else {
        r->detach();
    }
    return finish_wait(L, w, &ktrampoline<resolved_k>, reinterpret_cast<lua_KContext>(r));
}

int tcp_getsockname(lua_State* L) {
    sockaddr_storage addr{};
    if (const int rc = detail::tcp_sockname(check_tcp(L), addr); rc < 0) {
        return push_fail(L, rc);
    }
    push_address(L, reinterpret_cast<const sockaddr*>(&addr));
    return 1;
}

int tcp_getpeername(lua_State* L) {
    sockaddr_storage addr{};
    if (const int rc = detail::tcp_peername(check_tcp(L), addr); rc < 0) {
        return push_fail(L, rc);
    }
    push_address(L, reinterpret_cast<const sockaddr*>(&addr));
    return 1;
}

int tcp_nodelay(lua_State* L) {
    detail::stream_handle& h = check_tcp(L);
    luaL_checktype(L, 2, LUA_TBOOLEAN);
    return push_status(L, detail::tcp_nodelay(h, lua_toboolean(L, 2) != 0));
}

int tcp_keepalive(lua_State* L) {
    detail::stream_handle& h = check_tcp(L);
    luaL_checktype(L, 2, LUA_TBOOLEAN);
    const bool enable = lua_toboolean(L, 2) != 0;
    const lua_Integer seconds = enable ? luaL_checkinteger(L, 3) : luaL_optinteger(L, 3, 0);
    luaL_argcheck(L, seconds >= 0, 3, "seconds must be >= 0");
    return push_status(L, detail::tcp_keepalive(h, enable, static_cast<unsigned>(seconds)));
}

const luaL_Reg tcp_methods[] = {
    {"bind", LUV_FN(tcp_bind)},
    {"connect", LUV_FN(tcp_connect)},
    {"getsockname", LUV_FN(tcp_getsockname)},
    {"getpeername", LUV_FN(tcp_getpeername)},
    {"nodelay", LUV_FN(tcp_nodelay)},
    {"keepalive", LUV_FN(tcp_keepalive)},
    {nullptr, nullptr},
};

}  // namespace

void open_tcp(lua_State* L) {
    new_stream_class(L, tcp_type, tcp_methods);

    luaL_getsubtable(L, -1, "net");
    lua_pushcfunction(L, LUV_FN(tcp_new));
    lua_setfield(L, -2, "tcp");
    lua_pop(L, 1);
}

}  // namespace luv::lua
