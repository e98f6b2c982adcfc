// luv.idle: idle watchers that fibers wait on. The handle lives in src/uv/idle.cpp.
#include "binding/await.hpp"
#include "binding/handle.hpp"
#include "binding/module.hpp"
#include "binding/trampoline.hpp"
#include "uv/idle.hpp"

namespace luv::lua {
namespace {

constexpr const char* idle_type = "luv.idle";
using detail::idle_handle;

idle_handle& check_idle(lua_State* L) { return check_open<idle_handle>(L, 1, idle_type); }

int idle_create(lua_State* L) {
    push_handle(L, idle_type, idle_handle::create(sched(L)));
    return 1;
}

int idle_start(lua_State* L) { return push_status(L, check_idle(L).start()); }

int idle_stop(lua_State* L) { return push_status(L, check_idle(L).stop()); }

int idle_active(lua_State* L) {
    lua_pushboolean(L, check_idle(L).active());
    return 1;
}

int idle_wait(lua_State* L) {
    idle_handle& i = check_idle(L);
    detail::waiter& w = begin_wait(L, opt_deadline(L, 2));
    if (w.waiting()) {
        i.waiters.push(w);
    }
    return finish_wait(L, w, &ktrampoline<notified_k>);
}

int idle_close(lua_State* L) { return close_handle<idle_handle>(L, idle_type); }

int idle_tostring(lua_State* L) { return handle_tostring<idle_handle>(L, idle_type); }

const luaL_Reg methods[] = {
    {"start", LUV_FN(idle_start)}, {"stop", LUV_FN(idle_stop)},
    {"wait", LUV_FN(idle_wait)},   {"active", LUV_FN(idle_active)},
    {"close", LUV_FN(idle_close)}, {nullptr, nullptr},
};

const luaL_Reg metamethods[] = {
    {"__gc", LUV_FN(idle_close)},
    {"__close", LUV_FN(idle_close)},
    {"__tostring", LUV_FN(idle_tostring)},
    {nullptr, nullptr},
};

const luaL_Reg module[] = {
    {"create", LUV_FN(idle_create)},
    {nullptr, nullptr},
};

}  // namespace

void open_idle(lua_State* L) {
    new_class(L, idle_type, methods, metamethods);
    luaL_newlib(L, module);
    lua_setfield(L, -2, "idle");
}

}  // namespace luv::lua
