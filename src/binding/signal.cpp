// luv.signal: a fiber waits for a signal (SIGINT, SIGTERM, ...), e.g. to shut a service
// down gracefully. The watcher lives in src/uv/signal.cpp.
#include "binding/await.hpp"
#include "binding/handle.hpp"
#include "binding/module.hpp"
#include "binding/signal.hpp"
#include "binding/trampoline.hpp"
#include "uv/signal.hpp"

namespace luv::lua {
namespace {

constexpr const char* signal_type = "luv.signal";
using detail::signal_handle;

signal_handle& check_signal(lua_State* L) {
    return check_open<signal_handle>(L, 1, signal_type);
}

int signal_create(lua_State* L) {
    const int signum = check_signal_arg(L, 1, 0);
    luaL_argcheck(L, signum != 0, 1, "signal number out of range");
    push_handle(L, signal_type, signal_handle::create(sched(L), signum));
    return 1;
}

void push_name(lua_State* L, int signum) {
    if (const char* name = detail::signal_name(signum)) {
        lua_pushstring(L, name);
    } else {
        lua_pushinteger(L, signum);
    }
}

int wait_k(lua_State* L, int, lua_KContext) {
    const detail::waiter& w = current_wait(L);
    auto* h = *static_cast<signal_handle**>(lua_touserdata(L, 1));
    if (h != nullptr) {
        h->waited();
    }
    if (w.status() != detail::wait_status::notified) {
        return push_wait_failure(L, w.status());
    }
    push_name(L, h != nullptr ? h->signum : 0);
    return 1;
}

// wait([timeout]) -> "SIGINT" | fail. Suspends until the signal comes (or came while
// nobody waited).
int signal_wait(lua_State* L) {
    signal_handle& h = check_signal(L);
    if (h.take_pending()) {
        push_name(L, h.signum);
        return 1;
    }
    detail::waiter& w = begin_wait(L, opt_deadline(L, 2));
    if (w.waiting()) {
        h.wait(w);
    }
    return finish_wait(L, w, &ktrampoline<wait_k>);
}

int signal_name(lua_State* L) {
    push_name(L, check_signal(L).signum);
    return 1;
}

int signal_close(lua_State* L) { return close_handle<signal_handle>(L, signal_type); }

int signal_tostring(lua_State* L) { return handle_tostring<signal_handle>(L, signal_type); }

const luaL_Reg methods[] = {
    {"wait", LUV_FN(signal_wait)},
    {"name", LUV_FN(signal_name)},
    {"close", LUV_FN(signal_close)},
    {nullptr, nullptr},
};

const luaL_Reg metamethods[] = {
    {"__gc", LUV_FN(signal_close)},
    {"__close", LUV_FN(signal_close)},
    {"__tostring", LUV_FN(signal_tostring)},
    {nullptr, nullptr},
};

}  // namespace

int check_signal_arg(lua_State* L, int arg, int def) {
    if (def != 0 && lua_isnoneornil(L, arg)) {
        return def;
    }
    if (lua_type(L, arg) == LUA_TNUMBER) {
        lua_Integer n = 0;
        luaL_argcheck(L, lua_isinteger(L, arg) && (n = lua_tointeger(L, arg)) >= 0 && n < 65,
                      arg, "signal number out of range");
        return static_cast<int>(n);
    }
    const char* name = luaL_checkstring(L, arg);
    const int signum = detail::signal_number(name);
    if (signum == 0) {
        luaL_argerror(L, arg, lua_pushfstring(L, "unknown signal '%s'", name));
    }
    return signum;
}

void open_signal(lua_State* L) {
    new_class(L, signal_type, methods, metamethods);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, LUV_FN(signal_create));
    lua_setfield(L, -2, "create");
    lua_setfield(L, -2, "signal");
}

}  // namespace luv::lua
