// luv.zmq socket types, flags and socket options by name.
//
// Options are named as in libzmq without the ZMQ_ prefix, in any case; each has one Lua
// type. RCVTIMEO and SNDTIMEO never reach libzmq: libzmq would apply them to calls that
// block the thread, and luv's calls never do. They are the deadlines of the fiber's waits.
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <strings.h>

#include <zmq.h>

#include "binding/zmq.hpp"

namespace luv::lua::zmq {
namespace {

struct named {
    const char* name;
    int value;
};

const named socket_types[] = {
    {"PAIR", ZMQ_PAIR},     {"PUB", ZMQ_PUB},       {"SUB", ZMQ_SUB},
    {"REQ", ZMQ_REQ},       {"REP", ZMQ_REP},       {"DEALER", ZMQ_DEALER},
    {"ROUTER", ZMQ_ROUTER}, {"PULL", ZMQ_PULL},     {"PUSH", ZMQ_PUSH},
    {"XPUB", ZMQ_XPUB},     {"XSUB", ZMQ_XSUB},     {"STREAM", ZMQ_STREAM},
};

const named flags[] = {
    {"DONTWAIT", ZMQ_DONTWAIT},
    {"SNDMORE", ZMQ_SNDMORE},
    {"POLLIN", ZMQ_POLLIN},
    {"POLLOUT", ZMQ_POLLOUT},
};

enum class kind : unsigned char {
    integer,  // int
    int64,
    uint64,
    boolean,  // an int that is 0 or 1
    bytes,    // binary, its length exact
    text,     // a string libzmq ends with a NUL
    timeout,  // luv's own: ms, -1 = for ever
};

constexpr unsigned char readable = 1;
constexpr unsigned char writable = 2;
constexpr unsigned char both = readable | writable;

struct option {
    const char* name;
    int id;
    kind type;
    unsigned char access;
};

const option options[] = {
    {"AFFINITY", ZMQ_AFFINITY, kind::uint64, both},
    {"BACKLOG", ZMQ_BACKLOG, kind::integer, both},
    {"CONFLATE", ZMQ_CONFLATE, kind::boolean, writable},
    {"CONNECT_ROUTING_ID", ZMQ_CONNECT_ROUTING_ID, kind::bytes, writable},
    {"EVENTS", ZMQ_EVENTS, kind::integer, readable},
    {"FD", ZMQ_FD, kind::integer, readable},
    {"HANDSHAKE_IVL", ZMQ_HANDSHAKE_IVL, kind::integer, both},
    {"HEARTBEAT_IVL", ZMQ_HEARTBEAT_IVL, kind::integer, writable},
    {"HEARTBEAT_TIMEOUT", ZMQ_HEARTBEAT_TIMEOUT, kind::integer, writable},
    {"HEARTBEAT_TTL", ZMQ_HEARTBEAT_TTL, kind::integer, writable},
    {"IDENTITY", ZMQ_ROUTING_ID, kind::bytes, both},  // libzmq's older name
    {"IMMEDIATE", ZMQ_IMMEDIATE, kind::boolean, both},
    {"INVERT_MATCHING", ZMQ_INVERT_MATCHING, kind::boolean, both},
    {"IPV6", ZMQ_IPV6, kind::boolean, both},
    {"LAST_ENDPOINT", ZMQ_LAST_ENDPOINT, kind::text, readable},
    {"LINGER", ZMQ_LINGER, kind::integer, both},
    {"MAXMSGSIZE", ZMQ_MAXMSGSIZE, kind::int64, both},
    {"MULTICAST_HOPS", ZMQ_MULTICAST_HOPS, kind::integer, both},
    {"PROBE_ROUTER", ZMQ_PROBE_ROUTER, kind::boolean, writable},
    {"RATE", ZMQ_RATE, kind::integer, both},
    {"RCVBUF", ZMQ_RCVBUF, kind::integer, both},
    {"RCVHWM", ZMQ_RCVHWM, kind::integer, both},
    {"RCVMORE", ZMQ_RCVMORE, kind::boolean, readable},
    {"RCVTIMEO", ZMQ_RCVTIMEO, kind::timeout, both},
    {"RECONNECT_IVL", ZMQ_RECONNECT_IVL, kind::integer, both},
    {"RECONNECT_IVL_MAX", ZMQ_RECONNECT_IVL_MAX, kind::integer, both},
    {"RECOVERY_IVL", ZMQ_RECOVERY_IVL, kind::integer, both},
    {"REQ_CORRELATE", ZMQ_REQ_CORRELATE, kind::boolean, writable},
    {"REQ_RELAXED", ZMQ_REQ_RELAXED, kind::boolean, writable},
    {"ROUTER_HANDOVER", ZMQ_ROUTER_HANDOVER, kind::boolean, writable},
    {"ROUTER_MANDATORY", ZMQ_ROUTER_MANDATORY, kind::boolean, writable},
    {"ROUTING_ID", ZMQ_ROUTING_ID, kind::bytes, both},
    {"SNDBUF", ZMQ_SNDBUF, kind::integer, both},
    {"SNDHWM", ZMQ_SNDHWM, kind::integer, both},
    {"SNDTIMEO", ZMQ_SNDTIMEO, kind::timeout, both},
    {"SUBSCRIBE", ZMQ_SUBSCRIBE, kind::bytes, writable},
    {"TCP_KEEPALIVE", ZMQ_TCP_KEEPALIVE, kind::integer, both},
    {"TCP_KEEPALIVE_CNT", ZMQ_TCP_KEEPALIVE_CNT, kind::integer, both},
    {"TCP_KEEPALIVE_IDLE", ZMQ_TCP_KEEPALIVE_IDLE, kind::integer, both},
    {"TCP_KEEPALIVE_INTVL", ZMQ_TCP_KEEPALIVE_INTVL, kind::integer, both},
    {"TYPE", ZMQ_TYPE, kind::integer, readable},
    {"UNSUBSCRIBE", ZMQ_UNSUBSCRIBE, kind::bytes, writable},
    {"XPUB_NODROP", ZMQ_XPUB_NODROP, kind::boolean, writable},
    {"XPUB_VERBOSE", ZMQ_XPUB_VERBOSE, kind::boolean, writable},
};

const option& check_option(lua_State* L, int arg) {
    const char* name = luaL_checkstring(L, arg);
    for (const option& o : options) {
        if (strcasecmp(o.name, name) == 0) {
            return o;
        }
    }
    luaL_argerror(L, arg, lua_pushfstring(L, "unknown socket option '%s'", name));
    return options[0];  // not reached: luaL_argerror raises
}

int check_int(lua_State* L, int arg, lua_Integer min) {
    const lua_Integer v = luaL_checkinteger(L, arg);
    luaL_argcheck(L, v >= min && v <= INT_MAX, arg, "value out of range");
    return static_cast<int>(v);
}

int check_bool(lua_State* L, int arg) {
    if (lua_type(L, arg) == LUA_TBOOLEAN) {
        return lua_toboolean(L, arg);
    }
    const lua_Integer v = luaL_checkinteger(L, arg);
    luaL_argcheck(L, v == 0 || v == 1, arg, "boolean, 0 or 1 expected");
    return static_cast<int>(v);
}

}  // namespace

int check_socket_type(lua_State* L, int arg) {
    if (lua_type(L, arg) == LUA_TNUMBER) {
        const lua_Integer v = luaL_checkinteger(L, arg);
        for (const named& t : socket_types) {
            if (t.value == v) {
                return t.value;
            }
        }
        luaL_argerror(L, arg, lua_pushfstring(L, "unknown socket type %I", v));
    }
    const char* name = luaL_checkstring(L, arg);
    for (const named& t : socket_types) {
        if (strcasecmp(t.name, name) == 0) {
            return t.value;
        }
    }
    luaL_argerror(L, arg, lua_pushfstring(L, "unknown socket type '%s'", name));
    return -1;  // not reached
}

const char* socket_type_name(int type) noexcept {
    for (const named& t : socket_types) {
        if (t.value == type) {
            return t.name;
        }
    }
    return nullptr;
}

void set_constants(lua_State* L) {
    for (const named& t : socket_types) {
        lua_pushinteger(L, t.value);
        lua_setfield(L, -2, t.name);
    }
    for (const named& f : flags) {
        lua_pushinteger(L, f.value);
        lua_setfield(L, -2, f.name);
    }
}

// sock:getsockopt(name) -> value | fail. Never suspends.
int socket_getsockopt(lua_State* L) {
    socket_object& s = check_socket(L, 1);
    const option& o = check_option(L, 2);
    if ((o.access & readable) == 0) {
        return luaL_argerror(L, 2, lua_pushfstring(L, "socket option '%s' cannot be read",
                                                   o.name));
    }
    if (o.type == kind::timeout) {
        lua_pushinteger(L, o.id == ZMQ_RCVTIMEO ? s.rcvtimeo : s.sndtimeo);
        return 1;
    }
    union {
        int i;
        std::int64_t i64;
        std::uint64_t u64;
        char bytes[1024];
    } v{};
    std::size_t len = o.type == kind::int64 || o.type == kind::uint64 ? 8
                      : o.type == kind::bytes || o.type == kind::text ? sizeof v.bytes
                                                                        : sizeof(int);
    const int rc = zmq_getsockopt(s.zsock, o.id, &v, &len);
    const int err = errno;
    // Reading ZMQ_EVENTS processes the socket's commands, as a send would.
    after_call(s);
    if (rc != 0) {
        return push_error(L, err);
    }
    switch (o.type) {
    case kind::integer:
        lua_pushinteger(L, v.i);
        break;
    case kind::boolean:
        lua_pushboolean(L, v.i != 0);
        break;
    case kind::int64:
        lua_pushinteger(L, static_cast<lua_Integer>(v.i64));
        break;
    case kind::uint64:
        lua_pushinteger(L, static_cast<lua_Integer>(v.u64));  // wraps above 2^63, as in C
        break;
    case kind::text:
        lua_pushlstring(L, v.bytes, len > 0 && v.bytes[len - 1] == '\0' ? len - 1 : len);
        break;
    default:
        lua_pushlstring(L, v.bytes, len);
        break;
    }
    return 1;
}

// sock:setsockopt(name, value) -> true | fail. Never suspends.
int socket_setsockopt(lua_State* L) {
    socket_object& s = check_socket(L, 1);
    const option& o = check_option(L, 2);
    if ((o.access & writable) == 0) {
        return luaL_argerror(L, 2, lua_pushfstring(L, "socket option '%s' is read-only",
                                                   o.name));
    }
    int rc = 0;
    switch (o.type) {
    case kind::timeout:
        (o.id == ZMQ_RCVTIMEO ? s.rcvtimeo : s.sndtimeo) = check_int(L, 3, -1);
        lua_pushboolean(L, 1);
        return 1;
    case kind::integer: {
        const int v = check_int(L, 3, INT_MIN);
        rc = zmq_setsockopt(s.zsock, o.id, &v, sizeof v);
        break;
    }
    case kind::boolean: {
        const int v = check_bool(L, 3);
        rc = zmq_setsockopt(s.zsock, o.id, &v, sizeof v);
        break;
    }
    case kind::int64: {
        const std::int64_t v = luaL_checkinteger(L, 3);
        rc = zmq_setsockopt(s.zsock, o.id, &v, sizeof v);
        break;
    }
    case kind::uint64: {
        const lua_Integer n = luaL_checkinteger(L, 3);
        luaL_argcheck(L, n >= 0, 3, "value out of range");
        const std::uint64_t v = static_cast<std::uint64_t>(n);
        rc = zmq_setsockopt(s.zsock, o.id, &v, sizeof v);
        break;
    }
    default: {
        std::size_t len = 0;
        const char* v = luaL_checklstring(L, 3, &len);
        rc = zmq_setsockopt(s.zsock, o.id, v, len);
        break;
    }
    }
    const int err = errno;
    after_call(s);
    if (rc != 0) {
        return push_error(L, err);
    }
    lua_pushboolean(L, 1);
    return 1;
}

}  // namespace luv::lua::zmq
