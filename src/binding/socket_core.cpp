// The drop-in's modules: socket.core (LuaSocket's luasocket.c, except.c and timeout.c
// functions plus the classes), socket.unix, and luaopen_luv_socket, which installs both
// into package.preload so that Debian's socket.lua and everything above it load on them.
#include <cmath>
#include <csignal>

#include "binding/await.hpp"
#include "binding/socket.hpp"
#include "luv/lua.hpp"

namespace luv::lua::sock {

int socket_select(lua_State* L);  // socket_select.cpp

namespace {

// ---- socket.gettime, socket.sleep, socket.skip ----

int global_gettime(lua_State* L) {
    lua_pushnumber(L, wall_time());
    return 1;
}

int sleep_k(lua_State*, int, lua_KContext) { return 0; }

// Suspends only the calling fiber (the main chunk runs the loop meanwhile).
int global_sleep(lua_State* L) {
    double n = luaL_checknumber(L, 1);
    if (!(n > 0)) {
        return 0;
    }
    n = std::fmin(n, 2147483647.0);
    detail::waiter& w =
        begin_wait(L, sched(L).deadline_after_ms(static_cast<std::uint64_t>(std::ceil(n * 1000.0))));
    return finish_wait(L, w, &sleep_k);
}

int global_skip(lua_State* L) {
    const int amount = static_cast<int>(luaL_checkinteger(L, 1));
    const int ret = lua_gettop(L) - amount - 1;
    return ret >= 0 ? ret : 0;
}

int global_unload(lua_State*) { return 0; }

// ---- socket.newtry, socket.protect (LuaSocket's except.c) ----
// An error raised by a try is a table {message} with a private metatable; protect turns
// exactly those back into nil, message and lets every other error through.

void wrap_error(lua_State* L) {
    lua_createtable(L, 1, 0);
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_setmetatable(L, -2);
}

int try_finalize(lua_State* L) {
    if (lua_toboolean(L, 1)) {
        return lua_gettop(L);
    }
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_call(L, 0, 0);
    lua_settop(L, 2);
    wrap_error(L);
    return lua_error(L);
}

int do_nothing(lua_State*) { return 0; }

int global_newtry(lua_State* L) {
    lua_settop(L, 1);
    if (lua_isnil(L, 1)) {
        lua_pushcfunction(L, &do_nothing);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, -2);
    lua_pushcclosure(L, &try_finalize, 2);
    return 1;
}

bool unwrap_error(lua_State* L) {
    if (lua_istable(L, -1) && lua_getmetatable(L, -1)) {
        const bool ours = lua_rawequal(L, -1, lua_upvalueindex(1)) != 0;
        lua_pop(L, 1);
        if (ours) {
            lua_pushnil(L);
            lua_rawgeti(L, -2, 1);
            return true;
        }
    }
    return false;
}

int protected_finish(lua_State* L, int status, lua_KContext) {
    if (status != LUA_OK && status != LUA_YIELD) {
        if (unwrap_error(L)) {
            return 2;
        }
        return lua_error(L);
    }
    return lua_gettop(L);
}

int protected_call(lua_State* L) {
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_insert(L, 1);
    const int status = lua_pcallk(L, lua_gettop(L) - 1, LUA_MULTRET, 0, 0, &protected_finish);
    return protected_finish(L, status, 0);
}

int global_protect(lua_State* L) {
    lua_settop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_pushcclosure(L, &protected_call, 2);
    return 1;
}

// ---- the modules ----

int open_core(lua_State* L) {
    lua::open(L);  // the runtime every wait needs
    lua_pop(L, 1);
    // LuaSocket ignores SIGPIPE; the drop-in sends with MSG_NOSIGNAL, but an fd handed
    // over with setfd may be written by other code, so keep the process-wide setting.
    std::signal(SIGPIPE, SIG_IGN);
    lua_newtable(L);
    static const luaL_Reg functions[] = {
        {"skip", &global_skip},     {"__unload", &global_unload},
        {"gettime", &global_gettime}, {"sleep", &global_sleep},
        {"select", &socket_select}, {nullptr, nullptr},
    };
    luaL_setfuncs(L, functions, 0);
    lua_pushliteral(L, "LuaSocket 3.0.0");
    lua_setfield(L, -2, "_VERSION");
    // LuaSocket's limit; the drop-in has none, but code reads it to size its sets.
    lua_pushinteger(L, 1024);
    lua_setfield(L, -2, "_SETSIZE");
    lua_pushinteger(L, -1);
    lua_setfield(L, -2, "_SOCKETINVALID");
    // newtry and protect share the metatable that marks wrapped errors.
    lua_newtable(L);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    static const luaL_Reg except[] = {
        {"newtry", &global_newtry},
        {"protect", &global_protect},
        {nullptr, nullptr},
    };
    luaL_setfuncs(L, except, 1);
    open_dns_table(L);
    open_tcp_classes(L);
    open_udp_classes(L);
    return 1;
}

int open_unix(lua_State* L) {
    lua::open(L);
    lua_pop(L, 1);
    return open_unix_module(L);
}

// require "luv.socket": installs the drop-in and returns the socket module.
int open_luv_socket(lua_State* L) {
    install_socket(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "socket");
    lua_call(L, 1, 1);
    return 1;
}

}  // namespace

}  // namespace luv::lua::sock

extern "C" int luaopen_luv_socket(lua_State* L);

namespace luv::lua {

void install_socket(lua_State* L) {
    // The mark lives in the registry under a string key, not a C address: the luv command
    // has the module linked in and a script may still load luv.so, a second copy.
    const bool installed =
        lua_getfield(L, LUA_REGISTRYINDEX, "luv.socket.installed") != LUA_TNIL;
    lua_pop(L, 1);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    lua_getfield(L, -2, "loaded");
    const bool loaded = lua_getfield(L, -1, "socket.core") != LUA_TNIL;
    lua_pop(L, 2);
    if (loaded && !installed) {
        luaL_error(L, "luv.socket: LuaSocket's own socket.core is already loaded; install "
                      "the drop-in (require \"luv.socket\") before anything requires \"socket\"");
    }
    lua_pushcfunction(L, &sock::open_core);
    lua_setfield(L, -2, "socket.core");
    lua_pushcfunction(L, &sock::open_unix);
    lua_setfield(L, -2, "socket.unix");
    // So that require "luv.socket" finds this copy rather than searching LUA_CPATH.
    lua_pushcfunction(L, &luaopen_luv_socket);
    lua_setfield(L, -2, "luv.socket");
    lua_pop(L, 2);
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "luv.socket.installed");
}

}  // namespace luv::lua

extern "C" __attribute__((visibility("default"))) int luaopen_luv_socket(lua_State* L) {
    return luv::lua::sock::open_luv_socket(L);
}
