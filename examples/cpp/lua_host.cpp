// lua_host.cpp - a C++ program that embeds Lua with luv.
//
// The host owns the runtime and the lua_State, gives Lua one C++ function
// (host.lookup), runs a script as a Lua fiber and prints what the script computed.
//
//   lua_host examples/cpp/host_script.lua
#include <chrono>
#include <cstdio>
#include <exception>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include <lua.hpp>

#include <luv/fiber.hpp>
#include <luv/lua.hpp>
#include <luv/runtime.hpp>

using namespace std::chrono_literals;

namespace {

// host.lookup(name) -> price. It stands for a slow service: the sleep suspends the
// calling Lua fiber only, the other fibers run meanwhile. It may throw.
int lookup(lua_State* L) {
    // Read arguments first: luaL_check* raise Lua errors, which must not skip C++
    // destructors, so no C++ object is alive yet at this point.
    const char* name = luaL_checkstring(L, 1);
    static const std::map<std::string, double> prices = {
        {"apple", 0.50}, {"bread", 2.25}, {"cheese", 3.50}};
    luv::this_fiber::sleep_for(30ms);
    const auto it = prices.find(name);
    if (it == prices.end()) {
        throw std::out_of_range(std::string("no price for ") + name);
    }
    lua_pushnumber(L, it->second);
    return 1;
}

// Debian's liblua5.4 is built as C: lua_error is a longjmp, which must never cross a C++
// frame with live objects or an exception in flight. So the exception is caught here,
// the catch block is left, and only then is the Lua error raised.
template <lua_CFunction F>
int guarded(lua_State* L) noexcept {
    char message[256];
    try {
        return F(L);
    } catch (const std::exception& e) {
        std::snprintf(message, sizeof message, "%s", e.what());
    } catch (...) {
        std::snprintf(message, sizeof message, "unknown C++ exception");
    }
    lua_pushstring(L, message);
    return lua_error(L);
}

const luaL_Reg host_functions[] = {
    {"lookup", guarded<lookup>},
    {nullptr, nullptr},
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s script.lua\n", argv[0]);
        return 2;
    }

    // The runtime first: the lua_State uses it, so it must close before the runtime goes.
    luv::runtime rt;
    std::unique_ptr<lua_State, decltype(&lua_close)> state(luaL_newstate(), &lua_close);
    lua_State* L = state.get();
    luaL_openlibs(L);

    // `require "luv"` in the script now finds the module, bound to our runtime.
    luv::lua::open(L);
    lua_pop(L, 1);
    luaL_newlib(L, host_functions);
    lua_setglobal(L, "host");

    if (luaL_loadfile(L, argv[1]) != LUA_OK) {
        std::fprintf(stderr, "%s\n", lua_tostring(L, -1));
        return 1;
    }
    // The script runs as a fiber, so it may wait like any other; joining it from the
    // thread runs the loop until it is done.
    luv::lua::spawn(L, 0);
    const int fiber = lua_gettop(L);
    if (luv::lua::join(L, fiber) != LUA_OK) {
        std::fprintf(stderr, "script failed: %s\n", lua_tostring(L, -1));
        return 1;
    }
    std::printf("script returned: total %.2f for %lld items\n", lua_tonumber(L, fiber + 1),
                static_cast<long long>(lua_tointeger(L, fiber + 2)));
    return 0;
}
