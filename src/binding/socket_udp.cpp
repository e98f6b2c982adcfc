// UDP objects of the drop-in: udp{unconnected} and udp{connected} with LuaSocket 3.1's
// methods, and socket.udp/udp4/udp6. A receive waits for one datagram; it holds the
// object's receive turn, as its bytes land in the object's buffer.
#include <cerrno>
#include <initializer_list>
#include <cstdlib>
#include <cstring>

#include "binding/socket.hpp"

namespace luv::lua::sock {
namespace {

constexpr const char* any = "udp{any}";

socket_object& member(lua_State* L) { return *check_group(L, 1, any); }

// A 'closed' on an unconnected socket means the destination refused (ICMP).
const char* udp_error(int err) noexcept { return err == io_closed ? "refused" : error_text(err); }

int push_udp_error(lua_State* L, int err) {
    lua_pushnil(L);
    lua_pushstring(L, udp_error(err));
    return 2;
}

int meth_send(lua_State* L) {
    socket_object& s = *check_class(L, 1, cls::udp_connected);
    std::size_t count = 0;
    const char* data = luaL_checklstring(L, 2, &count);
    std::size_t sent = 0;
    if (const int err = io_send(L, s, data, count, sent, start_clock(s)); err != io_done) {
        return push_udp_error(L, err);
    }
    lua_pushnumber(L, static_cast<lua_Number>(sent));
    return 1;
}

int meth_sendto(lua_State* L) {
    socket_object& s = *check_class(L, 1, cls::udp_unconnected);
    std::size_t count = 0;
    const char* data = luaL_checklstring(L, 2, &count);
    const char* ip = luaL_checkstring(L, 3);
    const char* port = luaL_checkstring(L, 4);
    ::addrinfo hints{};
    hints.ai_family = s.family;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    ::addrinfo* ai = nullptr;
    if (const int err = getaddrinfo(ip, port, &hints, &ai); err != 0) {
        lua_pushnil(L);
        lua_pushstring(L, gai_strerror(err));
        return 2;
    }
    // socket.udp() has no descriptor until the first sendto or setsockname.
    if (s.family == AF_UNSPEC && s.fd < 0) {
        const char* err = "no address";
        for (const ::addrinfo* a = ai; a != nullptr; a = a->ai_next) {
            int fd = -1;
            err = inet_trycreate(fd, a->ai_family, SOCK_DGRAM, 0);
            if (err == nullptr) {
                s.fd = fd;
                s.family = a->ai_family;
                break;
            }
        }
        if (err != nullptr) {
            freeaddrinfo(ai);
            return push_text(L, err);
        }
    }
    std::size_t sent = 0;
    const int err = io_sendto(L, s, data, count, sent, ai->ai_addr, ai->ai_addrlen, start_clock(s));
    freeaddrinfo(ai);
    if (err != io_done) {
        return push_udp_error(L, err);
    }
    lua_pushnumber(L, static_cast<lua_Number>(sent));
    return 1;
}

// receive([size]) and receivefrom([size]): one datagram, at most `size` bytes.
int receive_datagram(lua_State* L, socket_object& s, bool with_sender) {
    const std::size_t wanted = static_cast<std::size_t>(luaL_optnumber(L, 2, buffer_size));
    const op_clock tm = start_clock(s);
    char* into = s.data;
    if (wanted > buffer_size) {
        into = static_cast<char*>(lua_newuserdatauv(L, wanted, 0));
    }
    int err = take_turn(L, s, &socket_object::receiving, tm);
    if (err != io_done) {
        return push_udp_error(L, err);
    }
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    std::size_t got = 0;
    err = io_recvfrom(L, s, into, wanted, got, reinterpret_cast<sockaddr*>(&from),
                      with_sender ? &from_len : nullptr, tm);
    give_turn(s, &socket_object::receiving);
    // Unlike TCP, a read of zero bytes is an empty datagram, not the end.
    if (err != io_done && err != io_closed) {
        return push_udp_error(L, err);
    }
    if (!with_sender) {
        lua_pushlstring(L, into, got);
        return 1;
    }
    char address[INET6_ADDRSTRLEN];
    char port[6];
    if (const int gai = getnameinfo(reinterpret_cast<sockaddr*>(&from), from_len, address,
                                    sizeof address, port, sizeof port,
                                    NI_NUMERICHOST | NI_NUMERICSERV);
        gai != 0) {
        lua_pushnil(L);
        lua_pushstring(L, gai_strerror(gai));
        return 2;
    }
    lua_pushlstring(L, into, got);
    lua_pushstring(L, address);
    lua_pushinteger(L, std::strtol(port, nullptr, 10));
    return 3;
}

int meth_receive(lua_State* L) { return receive_datagram(L, member(L), false); }
int meth_receivefrom(lua_State* L) {
    return receive_datagram(L, *check_class(L, 1, cls::udp_unconnected), true);
}

int meth_getfamily(lua_State* L) {
    lua_pushstring(L, member(L).family == AF_INET6 ? "inet6" : "inet4");
    return 1;
}

int meth_getfd(lua_State* L) {
    lua_pushnumber(L, member(L).fd);
    return 1;
}

int meth_setfd(lua_State* L) {
    socket_object& s = member(L);
    replace_fd(s, static_cast<int>(luaL_checknumber(L, 2)));
    return 0;
}

int meth_dirty(lua_State* L) {
    member(L);
    lua_pushboolean(L, 0);
    return 1;
}

int meth_getpeername(lua_State* L) {
    return inet_getpeername(L, *check_class(L, 1, cls::udp_connected));
}
int meth_getsockname(lua_State* L) { return inet_getsockname(L, member(L)); }

const char* const udp_options_set[] = {
    "dontroute", "broadcast", "reuseaddr", "reuseport", "ip-multicast-if",
    "ip-multicast-ttl", "ip-multicast-loop", "ip-add-membership", "ip-drop-membership",
    "ipv6-unicast-hops", "ipv6-multicast-hops", "ipv6-multicast-loop",
    "ipv6-add-membership", "ipv6-drop-membership", "ipv6-v6only", "recv-buffer-size",
    "send-buffer-size", nullptr,
};
const char* const udp_options_get[] = {
    "dontroute", "broadcast", "reuseaddr", "reuseport", "ip-multicast-if",
    "ip-multicast-loop", "error", "ipv6-unicast-hops", "ipv6-multicast-hops",
    "ipv6-multicast-loop", "ipv6-v6only", "recv-buffer-size", "send-buffer-size", nullptr,
};

int meth_setoption(lua_State* L) { return setoption(L, member(L), udp_options_set); }
int meth_getoption(lua_State* L) { return getoption(L, member(L), udp_options_get); }
int meth_settimeout(lua_State* L) { return settimeout(L, member(L)); }
int meth_gettimeout(lua_State* L) { return gettimeout(L, member(L)); }

int meth_setpeername(lua_State* L) {
    socket_object& s = member(L);
    const char* address = luaL_checkstring(L, 2);
    const bool connecting = std::strcmp(address, "*") != 0;
    const char* port = connecting ? luaL_checkstring(L, 3) : "0";
    if (!connecting) {
        inet_trydisconnect(s);  // errors ignored, as LuaSocket does
        set_class(L, 1, cls::udp_unconnected);
        return push_one(L);
    }
    ::addrinfo hints{};
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_family = s.family;
    if (const char* err = inet_tryconnect(L, s, address, port, start_clock(s), hints)) {
        return push_text(L, err);
    }
    set_class(L, 1, cls::udp_connected);
    return push_one(L);
}

int meth_setsockname(lua_State* L) {
    return inet_bind_method(L, *check_class(L, 1, cls::udp_unconnected), SOCK_DGRAM);
}

int meth_close(lua_State* L) {
    close_socket(member(L));
    return push_one(L);
}

int global_udp(lua_State* L) { return inet_create(L, cls::udp_unconnected, AF_UNSPEC, SOCK_DGRAM); }
int global_udp4(lua_State* L) { return inet_create(L, cls::udp_unconnected, AF_INET, SOCK_DGRAM); }
int global_udp6(lua_State* L) { return inet_create(L, cls::udp_unconnected, AF_INET6, SOCK_DGRAM); }

}  // namespace

void open_udp_classes(lua_State* L) {
    static const luaL_Reg methods[] = {
        {"close", &meth_close},           {"dirty", &meth_dirty},
        {"getfamily", &meth_getfamily},   {"getfd", &meth_getfd},
        {"getpeername", &meth_getpeername}, {"getsockname", &meth_getsockname},
        {"receive", &meth_receive},       {"receivefrom", &meth_receivefrom},
        {"send", &meth_send},             {"sendto", &meth_sendto},
        {"setfd", &meth_setfd},           {"setoption", &meth_setoption},
        {"getoption", &meth_getoption},   {"setpeername", &meth_setpeername},
        {"setsockname", &meth_setsockname}, {"settimeout", &meth_settimeout},
        {"gettimeout", &meth_gettimeout}, {nullptr, nullptr},
    };
    for (cls c : {cls::udp_unconnected, cls::udp_connected}) {
        new_class(L, c, methods, any, true);
    }
    static const luaL_Reg functions[] = {
        {"udp", &global_udp},
        {"udp4", &global_udp4},
        {"udp6", &global_udp6},
        {nullptr, nullptr},
    };
    luaL_setfuncs(L, functions, 0);
    lua_pushinteger(L, static_cast<lua_Integer>(buffer_size));
    lua_setfield(L, -2, "_DATAGRAMSIZE");
}

}  // namespace luv::lua::sock
