// luv.net.getaddrinfo and luv.net.getnameinfo: resolution on libuv's threadpool while
// the loop and the other fibers go on. The requests live in src/uv/dns.cpp.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "binding/await.hpp"
#include "binding/module.hpp"
#include "binding/trampoline.hpp"
#include "uv/address.hpp"
#include "uv/dns.hpp"

namespace luv::lua {
namespace {

using detail::getaddrinfo_request;
using detail::getnameinfo_request;

bool bool_field(lua_State* L, int idx, const char* key) {
    lua_getfield(L, idx, key);
    const bool on = lua_toboolean(L, -1) != 0;
    lua_pop(L, 1);
    return on;
}

// An optional string field (nil: ""); raises "bad argument #idx (... must be a string)".
// The string stays valid while the table holds it.
const char* string_field(lua_State* L, int idx, const char* key) {
    const char* out = "";
    if (lua_getfield(L, idx, key) != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING) {
            luaL_argerror(L, idx, lua_pushfstring(L, "field '%s' must be a string", key));
        }
        out = lua_tostring(L, -1);
    }
    lua_pop(L, 1);
    return out;
}

// The deadline of an options table's `timeout` field (seconds; nil: none).
std::uint64_t timeout_field(lua_State* L, int idx) {
    if (lua_getfield(L, idx, "timeout") == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    const int isnum = lua_isnumber(L, -1);
    const lua_Number s = lua_tonumber(L, -1);
    luaL_argcheck(L, isnum != 0 && s >= 0 && !std::isnan(s), idx, "timeout must be a number >= 0");
    const std::uint64_t deadline = opt_deadline(L, lua_gettop(L));
    lua_pop(L, 1);
    return deadline;
}

void set_string(lua_State* L, const char* key, const std::string& v) {
    lua_pushlstring(L, v.data(), v.size());
    lua_setfield(L, -2, key);
}

// What failed, for the message: "host", "(service http)", or "host (service http)".
const char* what(lua_State* L) {
    const char* host = lua_tostring(L, 1);
    const char* service = lua_tostring(L, 2);
    if (service == nullptr) {
        return host;
    }
    return host != nullptr ? lua_pushfstring(L, "%s (service %s)", host, service)
                           : lua_pushfstring(L, "(service %s)", service);
}

int getaddrinfo_k(lua_State* L, int, lua_KContext ctx) {
    const detail::waiter& w = current_wait(L);
    if (w.status() != detail::wait_status::notified) {
        return push_wait_failure(L, w.status());  // the request frees itself
    }
    auto* r = reinterpret_cast<getaddrinfo_request*>(ctx);
    const int status = r->status();
    std::vector<net::address_info> list;
    if (status == 0) {
        list = detail::to_address_infos(r->result());
    }
    r->finish();
    if (status < 0) {
        return push_fail(L, status, what(L));
    }
    lua_createtable(L, static_cast<int>(list.size()), 0);
    int i = 0;
    for (const net::address_info& ai : list) {
        lua_createtable(L, 0, 6);
        set_string(L, "family", ai.addr.family);
        set_string(L, "address", ai.addr.host);
        lua_pushinteger(L, ai.addr.port);
        lua_setfield(L, -2, "port");
        if (!ai.socktype.empty()) {
            set_string(L, "socktype", ai.socktype);
        }
        if (!ai.protocol.empty()) {
            set_string(L, "protocol", ai.protocol);
        }
        if (!ai.canonname.empty()) {
            set_string(L, "canonname", ai.canonname);
        }
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

// luv.net.getaddrinfo(host[, service[, hints]])
int getaddrinfo_(lua_State* L) {
    const char* host = luaL_optstring(L, 1, nullptr);
    const char* service = luaL_optstring(L, 2, nullptr);  // a number is converted
    luaL_argcheck(L, host != nullptr || service != nullptr, 1, "a host or a service expected");
    const char* family = "";
    const char* socktype = "";
    const char* protocol = "";
    bool flags[6] = {};
    static const char* const flag_names[6] = {"canonname", "numerichost", "numericserv",
                                              "passive",   "addrconfig",  "v4mapped"};
    std::uint64_t deadline = 0;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        family = string_field(L, 3, "family");
        socktype = string_field(L, 3, "socktype");
        protocol = string_field(L, 3, "protocol");
        for (int i = 0; i < 6; ++i) {
            flags[i] = bool_field(L, 3, flag_names[i]);
        }
        deadline = timeout_field(L, 3);
    }
    // No C++ object with a destructor may be alive when Lua raises: build the hints in
    // a block of their own and raise after it.
    ::addrinfo h;
    char bad[96] = "";
    {
        net::addrinfo_hints hints{family,   socktype, protocol, flags[0], flags[1],
                                  flags[2], flags[3], flags[4], flags[5]};
        std::string which;
        if (detail::make_hints(hints, h, which) < 0) {
            std::snprintf(bad, sizeof bad, "unknown %s", which.c_str());
        }
    }
    if (bad[0] != '\0') {
        return luaL_argerror(L, 3, bad);
    }
    int status = 0;
    auto* r = getaddrinfo_request::start(sched(L).loop(), host, service, &h, status);
    if (r == nullptr) {
        return push_fail(L, status, what(L));
    }
    detail::waiter& w = begin_wait(L, deadline);  // if it raises, r frees itself
    if (w.waiting()) {
        r->attach(w);
    } else {
        r->detach();
    }
    return finish_wait(L, w, &ktrampoline<getaddrinfo_k>, reinterpret_cast<lua_KContext>(r));
}

int getnameinfo_k(lua_State* L, int, lua_KContext ctx) {
    const detail::waiter& w = current_wait(L);
    if (w.status() != detail::wait_status::notified) {
        return push_wait_failure(L, w.status());
    }
    auto* r = reinterpret_cast<getnameinfo_request*>(ctx);
    const int status = r->status();
    if (status < 0) {
        r->finish();
        return push_fail(L, status, lua_tostring(L, -1));  // the host getnameinfo_ left
    }
    // lua_pushstring copies; should it raise (out of memory), the request leaks rather
    // than being read after it is freed.
    lua_pushstring(L, r->host());
    lua_pushstring(L, r->service());
    r->finish();
    return 2;
}

// luv.net.getnameinfo(host, port[, options]) or luv.net.getnameinfo(address[, options])
int getnameinfo_(lua_State* L) {
    const char* host = nullptr;
    const char* family = "";
    lua_Integer port = 0;
    int opts = 3;
    if (lua_type(L, 1) == LUA_TTABLE) {
        lua_getfield(L, 1, "address");
        host = lua_tostring(L, -1);  // held by the table
        luaL_argcheck(L, host != nullptr, 1, "field 'address' must be a string");
        lua_pop(L, 1);
        family = string_field(L, 1, "family");
        lua_getfield(L, 1, "port");
        luaL_argcheck(L, lua_isnoneornil(L, -1) || lua_isinteger(L, -1), 1,
                      "field 'port' must be an integer");
        port = lua_tointeger(L, -1);
        lua_pop(L, 1);
        opts = 2;
    } else {
        host = luaL_checkstring(L, 1);
        port = luaL_optinteger(L, 2, 0);
    }
    luaL_argcheck(L, port >= 0 && port <= 65535, opts == 2 ? 1 : 2, "port must be in 0..65535");
    int flags = 0;
    std::uint64_t deadline = 0;
    if (!lua_isnoneornil(L, opts)) {
        luaL_checktype(L, opts, LUA_TTABLE);
        flags = detail::make_flags({bool_field(L, opts, "namereqd"),
                                    bool_field(L, opts, "numerichost"),
                                    bool_field(L, opts, "numericserv"),
                                    bool_field(L, opts, "nofqdn"), bool_field(L, opts, "dgram")});
        deadline = timeout_field(L, opts);
    }
    // The host stays on top of the stack for the continuation's messages.
    lua_settop(L, opts);
    host = lua_pushstring(L, host);
    sockaddr_storage sa;
    const int af = detail::family_from_name(family);
    if (detail::parse_address(host, static_cast<int>(port), sa) < 0 ||
        (af != AF_UNSPEC && af != sa.ss_family)) {
        return push_fail(L, UV_EINVAL, host);
    }
    int status = 0;
    auto* r = getnameinfo_request::start(sched(L).loop(), reinterpret_cast<const sockaddr*>(&sa),
                                         flags, status);
    if (r == nullptr) {
        return push_fail(L, status, host);
    }
    detail::waiter& w = begin_wait(L, deadline);
    if (w.waiting()) {
        r->attach(w);
    } else {
        r->detach();
    }
    return finish_wait(L, w, &ktrampoline<getnameinfo_k>, reinterpret_cast<lua_KContext>(r));
}

const luaL_Reg functions[] = {
    {"getaddrinfo", LUV_FN(getaddrinfo_)},
    {"getnameinfo", LUV_FN(getnameinfo_)},
    {nullptr, nullptr},
};

}  // namespace

void open_dns(lua_State* L) {
    luaL_getsubtable(L, -1, "net");
    luaL_setfuncs(L, functions, 0);
    lua_pop(L, 1);
}

}  // namespace luv::lua
