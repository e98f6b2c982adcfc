// luv.hrtime, luv.mem_total, luv.mem_free, luv.cpu_info, luv.interface_addresses,
// luv.environ.
#include <cstring>

#include <unistd.h>

#include "binding/await.hpp"
#include "binding/module.hpp"
#include "binding/trampoline.hpp"
#include "luv/error.hpp"
#include "luv/util.hpp"

namespace luv::lua {
namespace {

int hrtime_(lua_State* L) {
    lua_pushinteger(L, static_cast<lua_Integer>(hrtime()));
    return 1;
}

int mem_total_(lua_State* L) {
    lua_pushinteger(L, static_cast<lua_Integer>(mem_total()));
    return 1;
}

int mem_free_(lua_State* L) {
    lua_pushinteger(L, static_cast<lua_Integer>(mem_free()));
    return 1;
}

void set_integer(lua_State* L, const char* key, std::uint64_t v) {
    lua_pushinteger(L, static_cast<lua_Integer>(v));
    lua_setfield(L, -2, key);
}

int cpu_info_(lua_State* L) {
    std::vector<cpu_info> cpus;
    int status = 0;
    try {
        cpus = luv::cpus();
    } catch (const luv::system_error& e) {
        status = e.status();
    }
    if (status < 0) {
        return push_fail(L, status);
    }
    lua_createtable(L, static_cast<int>(cpus.size()), 0);
    int i = 0;
    for (const cpu_info& c : cpus) {
        lua_createtable(L, 0, 3);
        lua_pushstring(L, c.model.c_str());
        lua_setfield(L, -2, "model");
        set_integer(L, "speed", static_cast<std::uint64_t>(c.speed_mhz));
        lua_createtable(L, 0, 5);
        set_integer(L, "user", c.times.user);
        set_integer(L, "nice", c.times.nice);
        set_integer(L, "sys", c.times.sys);
        set_integer(L, "idle", c.times.idle);
        set_integer(L, "irq", c.times.irq);
        lua_setfield(L, -2, "times");
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

int interface_addresses_(lua_State* L) {
    std::vector<interface_address> addrs;
    int status = 0;
    try {
        addrs = luv::interface_addresses();
    } catch (const luv::system_error& e) {
        status = e.status();
    }
    if (status < 0) {
        return push_fail(L, status);
    }
    lua_createtable(L, static_cast<int>(addrs.size()), 0);
    int i = 0;
    for (const interface_address& a : addrs) {
        lua_createtable(L, 0, 6);
        lua_pushstring(L, a.name.c_str());
        lua_setfield(L, -2, "name");
        lua_pushstring(L, a.family.c_str());
        lua_setfield(L, -2, "family");
        lua_pushstring(L, a.address.c_str());
        lua_setfield(L, -2, "address");
        lua_pushstring(L, a.netmask.c_str());
        lua_setfield(L, -2, "netmask");
        lua_pushstring(L, a.mac.c_str());
        lua_setfield(L, -2, "mac");
        lua_pushboolean(L, a.internal);
        lua_setfield(L, -2, "is_internal");
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

// The process's environment as a table, e.g. to give a child the environment plus one
// variable (spawn's env replaces it). Read from `environ`, not /proc/self/environ,
// which still shows what the process started with.
int environ_(lua_State* L) {
    lua_newtable(L);
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        const char* eq = std::strchr(*e, '=');
        if (eq != nullptr && eq != *e) {
            lua_pushlstring(L, *e, static_cast<std::size_t>(eq - *e));
            lua_pushstring(L, eq + 1);
            lua_rawset(L, -3);
        }
    }
    return 1;
}

const luaL_Reg functions[] = {
    {"environ", LUV_FN(environ_)},
    {"hrtime", LUV_FN(hrtime_)},
    {"mem_total", LUV_FN(mem_total_)},
    {"mem_free", LUV_FN(mem_free_)},
    {"cpu_info", LUV_FN(cpu_info_)},
    {"interface_addresses", LUV_FN(interface_addresses_)},
    {nullptr, nullptr},
};

}  // namespace

void open_util(lua_State* L) { luaL_setfuncs(L, functions, 0); }

}  // namespace luv::lua
