// luv.pipe: unix-domain sockets and pipes. Stream methods come from binding/stream.cpp.
#include "binding/await.hpp"
#include "binding/handle.hpp"
#include "binding/stream.hpp"
#include "binding/trampoline.hpp"
#include "core/scheduler.hpp"
#include "uv/tcp.hpp"

namespace luv::lua {
namespace {

detail::stream_handle& check_pipe(lua_State* L) {
    luaL_checkudata(L, 1, pipe_type);
    return check_open_stream(L, 1);
}

int pipe_create(lua_State* L) {
    const bool ipc = lua_toboolean(L, 1) != 0;
    push_stream(L, pipe_type, detail::stream_handle::create_pipe(sched(L), ipc));
    return 1;
}

int pipe_bind(lua_State* L) {
    detail::stream_handle& h = check_pipe(L);
    const char* path = luaL_checkstring(L, 2);
    if (const int rc = detail::pipe_bind(h, path); rc < 0) {
        return push_fail(L, rc, path);
    }
    lua_pushboolean(L, 1);
    return 1;
}

int pipe_connect_k(lua_State* L, int, lua_KContext) {
    const detail::waiter& w = current_wait(L);
    if (w.status() == detail::wait_status::notified && w.value < 0) {
        return push_fail(L, static_cast<int>(w.value), lua_tostring(L, 2));
    }
    return status_k(L, LUA_YIELD, 0);
}

// connect(path[, timeout]) -> true | fail
int pipe_connect(lua_State* L) {
    stream_object& s = check_stream(L, 1);
    detail::stream_handle& h = check_pipe(L);
    luaL_checkstring(L, 2);
    const std::uint64_t deadline = stream_deadline(L, 3, s);
    detail::waiter& w = begin_wait(L, deadline);
    if (w.waiting()) {
        if (const int rc = h.connect_pipe(w, lua_tostring(L, 2)); rc < 0) {
            sched(L).end_wait(w);
            return push_fail(L, rc, lua_tostring(L, 2));
        }
    }
    return finish_wait(L, w, &ktrampoline<pipe_connect_k>);
}

int pipe_open(lua_State* L) {
    detail::stream_handle& h = check_pipe(L);
    const lua_Integer fd = luaL_checkinteger(L, 2);
    luaL_argcheck(L, fd >= 0, 2, "fd must be >= 0");
    return push_status(L, detail::pipe_open(h, static_cast<int>(fd)));
}

const luaL_Reg pipe_methods[] = {
    {"bind", LUV_FN(pipe_bind)},
    {"connect", LUV_FN(pipe_connect)},
    {"open", LUV_FN(pipe_open)},
    {nullptr, nullptr},
};

}  // namespace

void open_pipe(lua_State* L) {
    new_stream_class(L, pipe_type, pipe_methods);

    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, LUV_FN(pipe_create));
    lua_setfield(L, -2, "create");
    lua_setfield(L, -2, "pipe");
}

}  // namespace luv::lua
