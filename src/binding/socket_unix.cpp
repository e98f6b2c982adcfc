// socket.unix of the drop-in: unixstream{master,client,server} and
// unixdgram{unconnected,connected}, with LuaSocket 3.1's methods. The module table is
// callable: socket.unix() is socket.unix.stream(); tcp and udp are aliases.
#include <cerrno>
#include <initializer_list>
#include <cstring>
#include <sys/un.h>

#include "binding/socket.hpp"

namespace luv::lua::sock {
namespace {

constexpr const char* stream_any = "unixstream{any}";
constexpr const char* dgram_any = "unixdgram{any}";

// Fills `addr` from the path at `arg`; false if it does not fit.
bool make_address(lua_State* L, int arg, sockaddr_un& addr, socklen_t& len) {
    std::size_t n = 0;
    const char* path = luaL_checklstring(L, arg, &n);
    if (n >= sizeof addr.sun_path) {
        return false;
    }
    addr = sockaddr_un{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path, n);
    len = static_cast<socklen_t>(sizeof addr.sun_family + n);
    return true;
}

int bind_path(lua_State* L, socket_object& s) {
    sockaddr_un addr;
    socklen_t len = 0;
    if (!make_address(L, 2, addr, len)) {
        return push_text(L, "path too long");
    }
    if (::bind(s.fd, reinterpret_cast<sockaddr*>(&addr), len) < 0) {
        const int err = errno;
        close_socket(s);  // as LuaSocket does after a failed unix bind
        return push_error(L, err);
    }
    return push_one(L);
}

int getsockname_path(lua_State* L, socket_object& s) {
    sockaddr_un addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(s.fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) {
        return push_error(L, errno);
    }
    lua_pushstring(L, addr.sun_path);
    return 1;
}

// connect(path): the object becomes `connected`. A failed connect destroys the
// descriptor, as LuaSocket's does. Suspends the calling fiber.
int connect_path(lua_State* L, socket_object& s, cls connected) {
    sockaddr_un addr;
    socklen_t len = 0;
    if (!make_address(L, 2, addr, len)) {
        return push_text(L, "path too long");
    }
    if (const int err = io_connect(L, s, reinterpret_cast<sockaddr*>(&addr), len, start_clock(s));
        err != io_done) {
        close_socket(s);
        return push_error(L, err);
    }
    set_class(L, 1, connected);
    return push_one(L);
}

int meth_getfd(lua_State* L) {
    lua_pushnumber(L, static_cast<socket_object*>(lua_touserdata(L, 1))->fd);
    return 1;
}

// ---- unixstream ----

socket_object& stream_member(lua_State* L) { return *check_group(L, 1, stream_any); }
socket_object& stream_client(lua_State* L) { return *check_class(L, 1, cls::unix_client); }

int stream_send(lua_State* L) { return buffer_send(L, stream_client(L)); }
int stream_receive(lua_State* L) { return buffer_receive(L, stream_client(L)); }
int stream_getstats(lua_State* L) { return buffer_getstats(L, stream_client(L)); }
int stream_setstats(lua_State* L) { return buffer_setstats(L, stream_client(L)); }
int stream_settimeout(lua_State* L) { return settimeout(L, stream_member(L)); }
int stream_getsockname(lua_State* L) { return getsockname_path(L, stream_member(L)); }
int stream_getfd(lua_State* L) {
    stream_member(L);
    return meth_getfd(L);
}

const char* const stream_options[] = {"keepalive", "reuseaddr", "linger", nullptr};
int stream_setoption(lua_State* L) { return setoption(L, stream_member(L), stream_options); }

int stream_setfd(lua_State* L) {
    replace_fd(stream_member(L), static_cast<int>(luaL_checknumber(L, 2)));
    return 0;
}

int stream_dirty(lua_State* L) {
    const socket_object& s = stream_member(L);
    lua_pushboolean(L, s.first < s.last);
    return 1;
}

int stream_close(lua_State* L) {
    close_socket(stream_member(L));
    return push_one(L);
}

int stream_accept(lua_State* L) {
    socket_object& server = *check_class(L, 1, cls::unix_server);
    int fd = -1;
    if (const int err = io_accept(L, server, fd, start_clock(server)); err != io_done) {
        return push_error(L, err);
    }
    push_socket(L, cls::unix_client, fd, AF_UNIX);
    return 1;
}

int stream_bind(lua_State* L) { return bind_path(L, *check_class(L, 1, cls::unix_master)); }

int stream_connect(lua_State* L) {
    return connect_path(L, *check_class(L, 1, cls::unix_master), cls::unix_client);
}

int stream_listen(lua_State* L) {
    socket_object& s = *check_class(L, 1, cls::unix_master);
    const int backlog = static_cast<int>(luaL_optnumber(L, 2, 32));
    if (::listen(s.fd, backlog) < 0) {
        return push_error(L, errno);
    }
    set_class(L, 1, cls::unix_server);
    return push_one(L);
}

int stream_shutdown(lua_State* L) {
    static const char* const how[] = {"receive", "send", "both", nullptr};
    socket_object& s = stream_client(L);
    ::shutdown(s.fd, luaL_checkoption(L, 2, "both", how));
    return push_one(L);
}

int stream_create(lua_State* L) {
    int fd = -1;
    if (const int err = create_fd(fd, AF_UNIX, SOCK_STREAM, 0); err != io_done) {
        return push_error(L, err);
    }
    push_socket(L, cls::unix_master, fd, AF_UNIX);
    return 1;
}

// ---- unixdgram ----

socket_object& dgram_member(lua_State* L) { return *check_group(L, 1, dgram_any); }

const char* dgram_error(int err) noexcept { return err == io_closed ? "refused" : error_text(err); }

int dgram_send(lua_State* L) {
    socket_object& s = *check_class(L, 1, cls::unixdgram_connected);
    std::size_t count = 0;
    const char* data = luaL_checklstring(L, 2, &count);
    std::size_t sent = 0;
    if (const int err = io_send(L, s, data, count, sent, start_clock(s)); err != io_done) {
        return push_text(L, dgram_error(err));
    }
    lua_pushnumber(L, static_cast<lua_Number>(sent));
    return 1;
}

int dgram_sendto(lua_State* L) {
    socket_object& s = *check_class(L, 1, cls::unixdgram_unconnected);
    std::size_t count = 0;
    const char* data = luaL_checklstring(L, 2, &count);
    sockaddr_un addr;
    socklen_t len = 0;
    if (!make_address(L, 3, addr, len)) {
        return push_text(L, "path too long");
    }
    std::size_t sent = 0;
    if (const int err = io_sendto(L, s, data, count, sent, reinterpret_cast<sockaddr*>(&addr),
                                  len, start_clock(s));
        err != io_done) {
        return push_text(L, dgram_error(err));
    }
    lua_pushnumber(L, static_cast<lua_Number>(sent));
    return 1;
}

int dgram_receive_any(lua_State* L, socket_object& s, bool with_sender) {
    const std::size_t wanted = static_cast<std::size_t>(luaL_optnumber(L, 2, buffer_size));
    const op_clock tm = start_clock(s);
    char* into = wanted > buffer_size ? static_cast<char*>(lua_newuserdatauv(L, wanted, 0))
                                      : s.data;
    int err = take_turn(L, s, &socket_object::receiving, tm);
    if (err != io_done) {
        return push_text(L, dgram_error(err));
    }
    sockaddr_un from{};
    socklen_t from_len = sizeof from;
    std::size_t got = 0;
    err = io_recvfrom(L, s, into, wanted, got, reinterpret_cast<sockaddr*>(&from),
                      with_sender ? &from_len : nullptr, tm);
    give_turn(s, &socket_object::receiving);
    if (err != io_done && err != io_closed) {  // zero bytes: an empty datagram
        return push_text(L, dgram_error(err));
    }
    lua_pushlstring(L, into, got);
    if (!with_sender) {
        return 1;
    }
    lua_pushstring(L, from.sun_path);
    return 2;
}

int dgram_receive(lua_State* L) { return dgram_receive_any(L, dgram_member(L), false); }
int dgram_receivefrom(lua_State* L) {
    return dgram_receive_any(L, *check_class(L, 1, cls::unixdgram_unconnected), true);
}

int dgram_bind(lua_State* L) { return bind_path(L, *check_class(L, 1, cls::unixdgram_unconnected)); }

int dgram_connect(lua_State* L) {
    return connect_path(L, dgram_member(L), cls::unixdgram_connected);
}

const char* const dgram_options[] = {"reuseaddr", nullptr};
int dgram_setoption(lua_State* L) { return setoption(L, dgram_member(L), dgram_options); }
int dgram_settimeout(lua_State* L) { return settimeout(L, dgram_member(L)); }
int dgram_gettimeout(lua_State* L) { return gettimeout(L, dgram_member(L)); }
int dgram_getsockname(lua_State* L) { return getsockname_path(L, dgram_member(L)); }
int dgram_getfd(lua_State* L) {
    dgram_member(L);
    return meth_getfd(L);
}
int dgram_setfd(lua_State* L) {
    replace_fd(dgram_member(L), static_cast<int>(luaL_checknumber(L, 2)));
    return 0;
}
int dgram_dirty(lua_State* L) {
    dgram_member(L);
    lua_pushboolean(L, 0);
    return 1;
}
int dgram_close(lua_State* L) {
    close_socket(dgram_member(L));
    return push_one(L);
}

int dgram_create(lua_State* L) {
    int fd = -1;
    if (const int err = create_fd(fd, AF_UNIX, SOCK_DGRAM, 0); err != io_done) {
        return push_error(L, err);
    }
    push_socket(L, cls::unixdgram_unconnected, fd, AF_UNIX);
    return 1;
}

// socket.unix(...) is socket.unix.stream(...).
int unix_call(lua_State* L) {
    lua_getfield(L, 1, "stream");
    lua_replace(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

}  // namespace

int open_unix_module(lua_State* L) {
    static const luaL_Reg stream_methods[] = {
        {"accept", &stream_accept},     {"bind", &stream_bind},
        {"close", &stream_close},       {"connect", &stream_connect},
        {"dirty", &stream_dirty},       {"getfd", &stream_getfd},
        {"getstats", &stream_getstats}, {"setstats", &stream_setstats},
        {"listen", &stream_listen},     {"receive", &stream_receive},
        {"send", &stream_send},         {"setfd", &stream_setfd},
        {"setoption", &stream_setoption}, {"setpeername", &stream_connect},
        {"setsockname", &stream_bind},  {"getsockname", &stream_getsockname},
        {"settimeout", &stream_settimeout}, {"shutdown", &stream_shutdown},
        {nullptr, nullptr},
    };
    for (cls c : {cls::unix_master, cls::unix_client, cls::unix_server}) {
        new_class(L, c, stream_methods, stream_any, false);
    }
    static const luaL_Reg dgram_methods[] = {
        {"bind", &dgram_bind},          {"close", &dgram_close},
        {"connect", &dgram_connect},    {"dirty", &dgram_dirty},
        {"getfd", &dgram_getfd},        {"send", &dgram_send},
        {"sendto", &dgram_sendto},      {"receive", &dgram_receive},
        {"receivefrom", &dgram_receivefrom}, {"setfd", &dgram_setfd},
        {"setoption", &dgram_setoption}, {"setpeername", &dgram_connect},
        {"setsockname", &dgram_bind},   {"getsockname", &dgram_getsockname},
        {"settimeout", &dgram_settimeout}, {"gettimeout", &dgram_gettimeout},
        {nullptr, nullptr},
    };
    for (cls c : {cls::unixdgram_unconnected, cls::unixdgram_connected}) {
        new_class(L, c, dgram_methods, dgram_any, true);
    }
    lua_newtable(L);
    lua_pushcfunction(L, &stream_create);
    lua_setfield(L, -2, "stream");
    lua_pushcfunction(L, &dgram_create);
    lua_setfield(L, -2, "dgram");
    lua_pushcfunction(L, &stream_create);
    lua_setfield(L, -2, "tcp");
    lua_pushcfunction(L, &dgram_create);
    lua_setfield(L, -2, "udp");
    lua_pushcfunction(L, &unix_call);
    lua_setfield(L, -2, "__call");
    lua_pushvalue(L, -1);
    lua_setmetatable(L, -2);
    return 1;
}

}  // namespace luv::lua::sock
