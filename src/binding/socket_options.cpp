// setoption/getoption of the drop-in (LuaSocket's options.c): each class passes the names
// it accepts; an unknown name raises, a system failure returns nil, "setsockopt failed".
#include <cstdio>
#include <cstring>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <arpa/inet.h>

#include "binding/socket.hpp"

namespace luv::lua::sock {
namespace {

enum class value_type { boolean, integer, linger, text, error, membership, membership6 };

struct option {
    const char* name;
    int level;
    int optname;
    value_type type;
};

const option options[] = {
    {"bindtodevice", SOL_SOCKET, SO_BINDTODEVICE, value_type::text},
    {"keepalive", SOL_SOCKET, SO_KEEPALIVE, value_type::boolean},
    {"reuseaddr", SOL_SOCKET, SO_REUSEADDR, value_type::boolean},
    {"reuseport", SOL_SOCKET, SO_REUSEPORT, value_type::boolean},
    {"dontroute", SOL_SOCKET, SO_DONTROUTE, value_type::boolean},
    {"broadcast", SOL_SOCKET, SO_BROADCAST, value_type::boolean},
    {"linger", SOL_SOCKET, SO_LINGER, value_type::linger},
    {"error", SOL_SOCKET, SO_ERROR, value_type::error},
    {"recv-buffer-size", SOL_SOCKET, SO_RCVBUF, value_type::integer},
    {"send-buffer-size", SOL_SOCKET, SO_SNDBUF, value_type::integer},
    {"tcp-nodelay", IPPROTO_TCP, TCP_NODELAY, value_type::boolean},
    {"tcp-keepidle", IPPROTO_TCP, TCP_KEEPIDLE, value_type::integer},
    {"tcp-keepcnt", IPPROTO_TCP, TCP_KEEPCNT, value_type::integer},
    {"tcp-keepintvl", IPPROTO_TCP, TCP_KEEPINTVL, value_type::integer},
    {"tcp-defer-accept", IPPROTO_TCP, TCP_DEFER_ACCEPT, value_type::integer},
    {"tcp-fastopen", IPPROTO_TCP, TCP_FASTOPEN, value_type::integer},
    {"tcp-fastopen-connect", IPPROTO_TCP, TCP_FASTOPEN_CONNECT, value_type::integer},
    {"ipv6-v6only", IPPROTO_IPV6, IPV6_V6ONLY, value_type::boolean},
    {"ip-multicast-if", IPPROTO_IP, IP_MULTICAST_IF, value_type::text},
    {"ip-multicast-ttl", IPPROTO_IP, IP_MULTICAST_TTL, value_type::integer},
    {"ip-multicast-loop", IPPROTO_IP, IP_MULTICAST_LOOP, value_type::boolean},
    {"ip-add-membership", IPPROTO_IP, IP_ADD_MEMBERSHIP, value_type::membership},
    {"ip-drop-membership", IPPROTO_IP, IP_DROP_MEMBERSHIP, value_type::membership},
    {"ipv6-unicast-hops", IPPROTO_IPV6, IPV6_UNICAST_HOPS, value_type::integer},
    {"ipv6-multicast-hops", IPPROTO_IPV6, IPV6_MULTICAST_HOPS, value_type::integer},
    {"ipv6-multicast-loop", IPPROTO_IPV6, IPV6_MULTICAST_LOOP, value_type::boolean},
    {"ipv6-add-membership", IPPROTO_IPV6, IPV6_JOIN_GROUP, value_type::membership6},
    {"ipv6-drop-membership", IPPROTO_IPV6, IPV6_LEAVE_GROUP, value_type::membership6},
};

const option* find(lua_State* L, const char* const* allowed) {
    const char* name = luaL_checkstring(L, 2);
    for (const char* const* a = allowed; *a != nullptr; ++a) {
        if (std::strcmp(*a, name) == 0) {
            for (const option& o : options) {
                if (std::strcmp(o.name, name) == 0) {
                    return &o;
                }
            }
        }
    }
    char msg[64];
    std::snprintf(msg, sizeof msg, "unsupported option `%.35s'", name);
    luaL_argerror(L, 2, msg);
    return nullptr;
}

int set(lua_State* L, const socket_object& s, const option& o, const void* v, socklen_t n) {
    if (::setsockopt(s.fd, o.level, o.optname, v, n) < 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "setsockopt failed");
        return 2;
    }
    return push_one(L);
}

int get_failed(lua_State* L) {
    lua_pushnil(L);
    lua_pushliteral(L, "getsockopt failed");
    return 2;
}

int check_boolean(lua_State* L, int arg) {
    if (!lua_isboolean(L, arg)) {
        const char* msg = lua_pushfstring(L, "boolean expected, got %s", luaL_typename(L, arg));
        luaL_argerror(L, arg, msg);
    }
    return lua_toboolean(L, arg);
}

const char* field_string(lua_State* L, const char* field, const char* what) {
    lua_getfield(L, 3, field);
    if (!lua_isstring(L, -1)) {
        luaL_argerror(L, 3, what);
    }
    return lua_tostring(L, -1);
}

}  // namespace

int setoption(lua_State* L, socket_object& s, const char* const* allowed) {
    const option& o = *find(L, allowed);
    switch (o.type) {
    case value_type::boolean: {
        const int v = check_boolean(L, 3);
        return set(L, s, o, &v, sizeof v);
    }
    case value_type::integer: {
        const int v = static_cast<int>(lua_tonumber(L, 3));
        return set(L, s, o, &v, sizeof v);
    }
    case value_type::text: {
        if (o.optname == IP_MULTICAST_IF) {
            in_addr a{};
            const char* address = luaL_checkstring(L, 3);
            a.s_addr = htonl(INADDR_ANY);
            if (std::strcmp(address, "*") != 0 && inet_aton(address, &a) == 0) {
                luaL_argerror(L, 3, "ip expected");
            }
            return set(L, s, o, &a, sizeof a);
        }
        const char* dev = luaL_checkstring(L, 3);
        return set(L, s, o, dev, static_cast<socklen_t>(std::strlen(dev) + 1));
    }
    case value_type::linger: {
        luaL_checktype(L, 3, LUA_TTABLE);
        ::linger li{};
        lua_getfield(L, 3, "on");
        if (!lua_isboolean(L, -1)) {
            luaL_argerror(L, 3, "boolean 'on' field expected");
        }
        li.l_onoff = lua_toboolean(L, -1);
        lua_getfield(L, 3, "timeout");
        if (!lua_isnumber(L, -1)) {
            luaL_argerror(L, 3, "number 'timeout' field expected");
        }
        li.l_linger = static_cast<int>(lua_tonumber(L, -1));
        return set(L, s, o, &li, sizeof li);
    }
    case value_type::membership: {
        luaL_checktype(L, 3, LUA_TTABLE);
        ip_mreq m{};
        if (inet_aton(field_string(L, "multiaddr", "string 'multiaddr' field expected"),
                      &m.imr_multiaddr) == 0) {
            luaL_argerror(L, 3, "invalid 'multiaddr' ip address");
        }
        const char* itf = field_string(L, "interface", "string 'interface' field expected");
        m.imr_interface.s_addr = htonl(INADDR_ANY);
        if (std::strcmp(itf, "*") != 0 && inet_aton(itf, &m.imr_interface) == 0) {
            luaL_argerror(L, 3, "invalid 'interface' ip address");
        }
        return set(L, s, o, &m, sizeof m);
    }
    case value_type::membership6: {
        luaL_checktype(L, 3, LUA_TTABLE);
        ipv6_mreq m{};
        if (inet_pton(AF_INET6, field_string(L, "multiaddr", "string 'multiaddr' field expected"),
                      &m.ipv6mr_multiaddr) != 1) {
            luaL_argerror(L, 3, "invalid 'multiaddr' ip address");
        }
        lua_getfield(L, 3, "interface");
        if (!lua_isnil(L, -1)) {
            if (!lua_isnumber(L, -1)) {
                luaL_argerror(L, 3, "number 'interface' field expected");
            }
            m.ipv6mr_interface = static_cast<unsigned>(lua_tonumber(L, -1));
        }
        return set(L, s, o, &m, sizeof m);
    }
    case value_type::error:
        break;
    }
    return luaL_argerror(L, 2, "option cannot be set");
}

int getoption(lua_State* L, socket_object& s, const char* const* allowed) {
    const option& o = *find(L, allowed);
    switch (o.type) {
    case value_type::boolean:
    case value_type::integer:
    case value_type::error: {
        int v = 0;
        socklen_t n = sizeof v;
        if (::getsockopt(s.fd, o.level, o.optname, &v, &n) < 0) {
            return get_failed(L);
        }
        if (o.type == value_type::boolean) {
            lua_pushboolean(L, v);
        } else if (o.type == value_type::integer) {
            lua_pushnumber(L, v);
        } else {
            lua_pushstring(L, error_text(v));  // nil when there is no pending error
        }
        return 1;
    }
    case value_type::linger: {
        ::linger li{};
        socklen_t n = sizeof li;
        if (::getsockopt(s.fd, o.level, o.optname, &li, &n) < 0) {
            return get_failed(L);
        }
        lua_createtable(L, 0, 2);
        lua_pushboolean(L, li.l_onoff);
        lua_setfield(L, -2, "on");
        lua_pushinteger(L, li.l_linger);
        lua_setfield(L, -2, "timeout");
        return 1;
    }
    case value_type::text: {
        if (o.optname == IP_MULTICAST_IF) {
            in_addr a{};
            socklen_t n = sizeof a;
            if (::getsockopt(s.fd, o.level, o.optname, &a, &n) < 0) {
                return get_failed(L);
            }
            char text[INET_ADDRSTRLEN];
            lua_pushstring(L, inet_ntop(AF_INET, &a, text, sizeof text));
            return 1;
        }
        char dev[IFNAMSIZ] = "";
        socklen_t n = sizeof dev;
        if (::getsockopt(s.fd, o.level, o.optname, dev, &n) < 0) {
            return get_failed(L);
        }
        lua_pushstring(L, dev);
        return 1;
    }
    default:
        return luaL_argerror(L, 2, "option cannot be read");
    }
}

}  // namespace luv::lua::sock
