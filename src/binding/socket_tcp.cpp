// TCP objects of the drop-in: tcp{master} (fresh), tcp{client} (connected or accepted),
// tcp{server} (listening), with LuaSocket 3.1's methods, and socket.tcp/tcp4/tcp6/connect.
// Each method checks the class as LuaSocket does and raises on the wrong one.
#include <cerrno>
#include <initializer_list>

#include "binding/socket.hpp"

namespace luv::lua::sock {
namespace {

constexpr const char* any = "tcp{any}";

socket_object& client(lua_State* L) { return *check_class(L, 1, cls::tcp_client); }
socket_object& member(lua_State* L) { return *check_group(L, 1, any); }

int meth_send(lua_State* L) { return buffer_send(L, client(L)); }
int meth_receive(lua_State* L) { return buffer_receive(L, client(L)); }
int meth_getstats(lua_State* L) { return buffer_getstats(L, client(L)); }
int meth_setstats(lua_State* L) { return buffer_setstats(L, client(L)); }
int meth_settimeout(lua_State* L) { return settimeout(L, member(L)); }
int meth_gettimeout(lua_State* L) { return gettimeout(L, member(L)); }
int meth_getpeername(lua_State* L) { return inet_getpeername(L, member(L)); }
int meth_getsockname(lua_State* L) { return inet_getsockname(L, member(L)); }

const char* const tcp_options_set[] = {
    "bindtodevice", "keepalive", "reuseaddr", "reuseport", "tcp-nodelay", "tcp-keepidle",
    "tcp-keepcnt", "tcp-keepintvl", "ipv6-v6only", "linger", "recv-buffer-size",
    "send-buffer-size", "tcp-defer-accept", "tcp-fastopen", "tcp-fastopen-connect", nullptr,
};
const char* const tcp_options_get[] = {
    "bindtodevice", "keepalive", "reuseaddr", "reuseport", "tcp-nodelay", "tcp-keepidle",
    "tcp-keepcnt", "tcp-keepintvl", "linger", "error", "recv-buffer-size",
    "send-buffer-size", nullptr,
};

int meth_setoption(lua_State* L) { return setoption(L, member(L), tcp_options_set); }
int meth_getoption(lua_State* L) { return getoption(L, member(L), tcp_options_get); }

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
    const socket_object& s = member(L);
    lua_pushboolean(L, s.first < s.last);
    return 1;
}

int meth_getfamily(lua_State* L) {
    lua_pushstring(L, member(L).family == AF_INET6 ? "inet6" : "inet4");
    return 1;
}

int meth_close(lua_State* L) {
    close_socket(member(L));
    return push_one(L);
}

int meth_accept(lua_State* L) {
    socket_object& server = *check_class(L, 1, cls::tcp_server);
    int fd = -1;
    if (const int err = io_accept(L, server, fd, start_clock(server)); err != io_done) {
        return push_error(L, err);
    }
    push_socket(L, cls::tcp_client, fd, server.family);
    return 1;
}

int meth_bind(lua_State* L) {
    return inet_bind_method(L, *check_class(L, 1, cls::tcp_master), SOCK_STREAM);
}

int meth_connect(lua_State* L) {
    socket_object& s = member(L);
    const char* address = luaL_checkstring(L, 2);
    const char* port = luaL_checkstring(L, 3);
    ::addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = s.family;  // only the family the object already has
    const char* err = inet_tryconnect(L, s, address, port, start_clock(s), hints);
    // The class changes even on failure: a non-blocking connect is still in progress.
    set_class(L, 1, cls::tcp_client);
    return push_outcome(L, err);
}

int meth_listen(lua_State* L) {
    socket_object& s = *check_class(L, 1, cls::tcp_master);
    const int backlog = static_cast<int>(luaL_optnumber(L, 2, 32));
    if (::listen(s.fd, backlog) < 0) {
        return push_error(L, errno);
    }
    set_class(L, 1, cls::tcp_server);
    return push_one(L);
}

int meth_shutdown(lua_State* L) {
    static const char* const how[] = {"receive", "send", "both", nullptr};
    socket_object& s = client(L);
    const int h = luaL_checkoption(L, 2, "both", how);  // SHUT_RD, SHUT_WR, SHUT_RDWR
    ::shutdown(s.fd, h);
    return push_one(L);
}

int global_tcp(lua_State* L) { return inet_create(L, cls::tcp_master, AF_UNSPEC, SOCK_STREAM); }
int global_tcp4(lua_State* L) { return inet_create(L, cls::tcp_master, AF_INET, SOCK_STREAM); }
int global_tcp6(lua_State* L) { return inet_create(L, cls::tcp_master, AF_INET6, SOCK_STREAM); }

// socket.connect(address, port [, laddress, lport, family]): a new connected object.
int global_connect(lua_State* L) {
    const char* remote_addr = luaL_checkstring(L, 1);
    const char* remote_port = luaL_checkstring(L, 2);
    const char* local_addr = luaL_optstring(L, 3, nullptr);
    const char* local_port = luaL_optstring(L, 4, "0");
    const int family = opt_family(L, 5, "unspec");
    socket_object& s = *push_socket(L, cls::tcp_master, -1, AF_UNSPEC);
    if (local_addr != nullptr) {
        ::addrinfo bind_hints{};
        bind_hints.ai_socktype = SOCK_STREAM;
        bind_hints.ai_family = family;
        bind_hints.ai_flags = AI_PASSIVE;
        if (const char* err = inet_trybind(L, s, local_addr, local_port, bind_hints)) {
            close_socket(s);
            return push_text(L, err);
        }
    }
    ::addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    // As in LuaSocket, `family` only restricts the local bind: an unbound object connects
    // to whatever the name resolves to (connect6 to an IPv4 literal works).
    hints.ai_family = s.family;
    if (const char* err = inet_tryconnect(L, s, remote_addr, remote_port, start_clock(s), hints)) {
        close_socket(s);
        return push_text(L, err);
    }
    set_class(L, -1, cls::tcp_client);
    return 1;
}

}  // namespace

void open_tcp_classes(lua_State* L) {
    static const luaL_Reg methods[] = {
        {"accept", &meth_accept},         {"bind", &meth_bind},
        {"close", &meth_close},           {"connect", &meth_connect},
        {"dirty", &meth_dirty},           {"getfamily", &meth_getfamily},
        {"getfd", &meth_getfd},           {"getoption", &meth_getoption},
        {"getpeername", &meth_getpeername}, {"getsockname", &meth_getsockname},
        {"getstats", &meth_getstats},     {"setstats", &meth_setstats},
        {"listen", &meth_listen},         {"receive", &meth_receive},
        {"send", &meth_send},             {"setfd", &meth_setfd},
        {"setoption", &meth_setoption},   {"setpeername", &meth_connect},
        {"setsockname", &meth_bind},      {"settimeout", &meth_settimeout},
        {"gettimeout", &meth_gettimeout}, {"shutdown", &meth_shutdown},
        {nullptr, nullptr},
    };
    for (cls c : {cls::tcp_master, cls::tcp_client, cls::tcp_server}) {
        new_class(L, c, methods, any, true);
    }
    static const luaL_Reg functions[] = {
        {"tcp", &global_tcp},
        {"tcp4", &global_tcp4},
        {"tcp6", &global_tcp6},
        {"connect", &global_connect},
        {nullptr, nullptr},
    };
    luaL_setfuncs(L, functions, 0);
}

}  // namespace luv::lua::sock
