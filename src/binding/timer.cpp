// luv.timer: timers that fibers wait on. The handle lives in src/uv/timer.cpp.
#include <cmath>

#include "binding/await.hpp"
#include "binding/handle.hpp"
#include "binding/module.hpp"
#include "binding/trampoline.hpp"
#include "uv/timer.hpp"

namespace luv::lua {
namespace {

constexpr const char* timer_type = "luv.timer";
using detail::timer_handle;

timer_handle& check_timer(lua_State* L) { return check_open<timer_handle>(L, 1, timer_type); }

std::uint64_t opt_ms(lua_State* L, int arg) {
    const lua_Number ms = luaL_optnumber(L, arg, 0);
    luaL_argcheck(L, ms >= 0 && !std::isnan(ms), arg, "milliseconds must be >= 0");
    return static_cast<std::uint64_t>(ms);
}

int timer_create(lua_State* L) {
    push_handle(L, timer_type, timer_handle::create(sched(L)));
    return 1;
}

int timer_start(lua_State* L) {
    timer_handle& t = check_timer(L);
    return push_status(L, t.start(opt_ms(L, 2), opt_ms(L, 3)));
}

int timer_stop(lua_State* L) { return push_status(L, check_timer(L).stop()); }

int timer_again(lua_State* L) { return push_status(L, check_timer(L).again()); }

int timer_active(lua_State* L) {
    lua_pushboolean(L, check_timer(L).active());
    return 1;
}

int timer_wait(lua_State* L) {
    timer_handle& t = check_timer(L);
    detail::waiter& w = begin_wait(L, opt_deadline(L, 2));
    if (w.waiting()) {
        t.waiters.push(w);
    }
    return finish_wait(L, w, &ktrampoline<notified_k>);
}

int timer_close(lua_State* L) { return close_handle<timer_handle>(L, timer_type); }

int timer_tostring(lua_State* L) { return handle_tostring<timer_handle>(L, timer_type); }

const luaL_Reg methods[] = {
    {"start", LUV_FN(timer_start)}, {"stop", LUV_FN(timer_stop)},
    {"again", LUV_FN(timer_again)}, {"wait", LUV_FN(timer_wait)},
    {"active", LUV_FN(timer_active)}, {"close", LUV_FN(timer_close)},
    {nullptr, nullptr},
};

const luaL_Reg metamethods[] = {
    {"__gc", LUV_FN(timer_close)},
    {"__close", LUV_FN(timer_close)},
    {"__tostring", LUV_FN(timer_tostring)},
    {nullptr, nullptr},
};

const luaL_Reg module[] = {
    {"create", LUV_FN(timer_create)},
    {nullptr, nullptr},
};

}  // namespace

void open_timer(lua_State* L) {
    new_class(L, timer_type, methods, metamethods);
    luaL_newlib(L, module);
    lua_setfield(L, -2, "timer");
}

}  // namespace luv::lua
