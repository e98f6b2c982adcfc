// luaopen_luv: builds the module table and ties a runtime to the lua_State.
#include <memory>

#include "binding/fiber.hpp"
#include "binding/module.hpp"
#include "binding/stream.hpp"
#include "binding/trampoline.hpp"
#include "core/scheduler.hpp"
#include "luv/lua.hpp"
#include "luv/runtime.hpp"

namespace luv::lua {
namespace {

// A runtime created for Lua is shared by the lua_States of its thread that opened the
// module, and destroyed by the last of them to close.
thread_local int lua_owners = 0;
thread_local runtime* lua_owned = nullptr;
const char sentinel_key = 0;

int sentinel_gc(lua_State*) {
    if (lua_owned != nullptr && lua_owned->scheduler().in_fiber()) {
        // lua_close called from a fiber: os.exit(code, true). The code runs on a stack
        // the runtime owns, so it cannot be destroyed; the process exits right after.
        return 0;
    }
    if (--lua_owners == 0 && lua_owned != nullptr) {
        delete lua_owned;
        lua_owned = nullptr;
    }
    return 0;
}

void tie_runtime(lua_State* L) {
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &sentinel_key) != LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (runtime::current() == nullptr) {
        lua_owned = new runtime();
    } else if (lua_owned == nullptr) {
        return;  // a host's runtime: the host owns it
    }
    ++lua_owners;
    lua_newuserdatauv(L, 0, 0);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, &sentinel_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &sentinel_key);
}

int open_module(lua_State* L) {
    tie_runtime(L);
    lua_newtable(L);
    open_fiber(L);
    open_timer(L);
    open_idle(L);
    open_util(L);
    open_fs(L);
    open_dns(L);
    open_udp(L);
    open_tcp(L);
    open_pipe(L);
    open_process(L);
    open_signal(L);
    open_codec(L);
    open_zmq(L);
    open_thread(L);
    lua_pushliteral(L, "luv 0.1.0");
    lua_setfield(L, -2, "version");
    return 1;
}

}  // namespace

void open(lua_State* L) { luaL_requiref(L, "luv", &luaopen_luv, 0); }

void spawn(lua_State* L, int nargs) {
    push_new_fiber(L, nargs);
    ready_fiber(L, -1);
}

int join(lua_State* L, int idx) {
    idx = lua_absindex(L, idx);
    lua_pushcfunction(L, [](lua_State* S) -> int {
        lua_getfield(S, 1, "join");
        lua_insert(S, 1);
        lua_call(S, 1, LUA_MULTRET);
        return lua_gettop(S);
    });
    lua_pushvalue(L, idx);
    return lua_pcall(L, 1, LUA_MULTRET, 0);
}

}  // namespace luv::lua

extern "C" __attribute__((visibility("default"))) int luaopen_luv(lua_State* L) {
    return luv::lua::trampoline<luv::lua::open_module>(L);
}
