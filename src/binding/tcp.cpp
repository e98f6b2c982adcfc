// luv.net.tcp(): TCP sockets. Stream methods come from binding/stream.cpp; the libuv side
// is src/uv/stream.cpp and src/uv/tcp.cpp.
#include <memory>
#include <new>

#include "binding/await.hpp"
#include "binding/handle.hpp"
#include "binding/stream.hpp"
#include "binding/trampoline.hpp"
#include "core/scheduler.hpp"
#include "uv/tcp.hpp"

namespace luv::lua {
namespace {

constexpr const char* pending_type = "luv.tcp.pending";

// A name resolution in flight for connect(): kept on the fiber's Lua stack, so that it
// lives exactly as long as the call; the resolver shares the result it writes into.
struct pending_connect {
    std::shared_ptr<detail::resolved> result;
    std::uint64_t deadline;
};

detail::stream_handle& check_tcp(lua_State* L) {
    luaL_checkudata(L, 1, tcp_type);
    return check_open_stream(L, 1);
}

int check_port(lua_State* L, int arg) {
    const lua_Integer port = luaL_checkinteger(L, arg);
    luaL_argcheck(L, port >= 0 && port <= 65535, arg, "port must be 0..65535");
    return static_cast<int>(port);
}

void push_endpoint(lua_State* L, const detail::endpoint& e) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, e.family.c_str());
    lua_setfield(L, -2, "family");
    lua_pushstring(L, e.address.c_str());
    lua_setfield(L, -2, "address");
    lua_pushinteger(L, e.port);
    lua_setfield(L, -2, "port");
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
    if (const int rc = detail::parse_ip(host, port, addr); rc < 0) {
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

int resolved_k(lua_State* L, int, lua_KContext) {
    const detail::waiter& w = current_wait(L);
    if (w.status() != detail::wait_status::notified) {
        return push_wait_failure(L, w.status());
    }
    auto* p = static_cast<pending_connect*>(luaL_checkudata(L, 5, pending_type));
    if (check_stream(L, 1).h == nullptr) {
        return push_fail(L, UV_ECANCELED);
    }
    if (p->result->status < 0) {
        return push_fail(L, p->result->status, lua_tostring(L, 2));
    }
    return start_connect(L, reinterpret_cast<const sockaddr*>(&p->result->addr), p->deadline);
}

// connect(host, port[, timeout]) -> true | fail. A host name is resolved on the
// threadpool first, so the loop never blocks on DNS.
int tcp_connect(lua_State* L) {
    stream_object& s = check_stream(L, 1);
    check_tcp(L);
    const char* host = luaL_checkstring(L, 2);
    const int port = check_port(L, 3);
    const std::uint64_t deadline = stream_deadline(L, 4, s);
    sockaddr_storage addr{};
    if (detail::parse_ip(host, port, addr) == 0) {
        return start_connect(L, reinterpret_cast<const sockaddr*>(&addr), deadline);
    }
    lua_settop(L, 4);
    auto* p = new (lua_newuserdatauv(L, sizeof(pending_connect), 0)) pending_connect{{}, deadline};
    luaL_setmetatable(L, pending_type);
    detail::waiter& w = begin_wait(L, deadline);
    if (w.waiting()) {
        if (const int rc = detail::resolve_start(sched(L), w, host, port, p->result); rc < 0) {
            sched(L).end_wait(w);
            return push_fail(L, rc, host);
        }
        check_open_stream(L, 1).end_on_close(w);  // close() must not wait for the resolver
    }
    return finish_wait(L, w, &ktrampoline<resolved_k>);
}

int pending_gc(lua_State* L) {
    static_cast<pending_connect*>(lua_touserdata(L, 1))->~pending_connect();
    return 0;
}

int tcp_getsockname(lua_State* L) {
    detail::endpoint e;
    if (const int rc = detail::tcp_sockname(check_tcp(L), e); rc < 0) {
        return push_fail(L, rc);
    }
    push_endpoint(L, e);
    return 1;
}

int tcp_getpeername(lua_State* L) {
    detail::endpoint e;
    if (const int rc = detail::tcp_peername(check_tcp(L), e); rc < 0) {
        return push_fail(L, rc);
    }
    push_endpoint(L, e);
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
    luaL_newmetatable(L, pending_type);
    lua_pushcfunction(L, &pending_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);

    luaL_newmetatable(L, tcp_type);
    luaL_setfuncs(L, stream_metamethods, 0);
    lua_newtable(L);
    luaL_setfuncs(L, stream_methods, 0);
    luaL_setfuncs(L, tcp_methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);

    luaL_getsubtable(L, -1, "net");
    lua_pushcfunction(L, LUV_FN(tcp_new));
    lua_setfield(L, -2, "tcp");
    lua_pop(L, 1);
}

}  // namespace luv::lua
