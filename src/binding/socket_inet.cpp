// Names and addresses for the drop-in (LuaSocket's inet.c): resolution that never blocks
// the loop (a numeric host is converted on the spot, a name goes to libuv's threadpool
// while the fiber waits), connect and bind over the resolved list, getpeername and
// getsockname, and the socket.dns table.
//
// No C++ object with a destructor lives in these frames: lua_error is a longjmp.
#include <arpa/inet.h>
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <unistd.h>

#include "binding/await.hpp"
#include "binding/socket.hpp"
#include "uv/dns.hpp"

namespace luv::lua::sock {
namespace {

bool is_numeric_host(const char* host) noexcept {
    unsigned char buf[sizeof(in6_addr)];
    return host == nullptr || inet_pton(AF_INET, host, buf) == 1 ||
           inet_pton(AF_INET6, host, buf) == 1;
}

// libuv's UV_EAI_* back to getaddrinfo's EAI_*.
int eai_of(int uv_status) noexcept {
    switch (uv_status) {
    case 0: return 0;
    case UV_EAI_AGAIN: return EAI_AGAIN;
    case UV_EAI_BADFLAGS: return EAI_BADFLAGS;
    case UV_EAI_FAIL: return EAI_FAIL;
    case UV_EAI_FAMILY: return EAI_FAMILY;
    case UV_EAI_MEMORY: return EAI_MEMORY;
    case UV_EAI_NODATA: return EAI_NODATA;
    case UV_EAI_NONAME: return EAI_NONAME;
    case UV_EAI_OVERFLOW: return EAI_OVERFLOW;
    case UV_EAI_SERVICE: return EAI_SERVICE;
    case UV_EAI_SOCKTYPE: return EAI_SOCKTYPE;
    default: errno = uv_status < 0 ? -uv_status : EIO; return EAI_SYSTEM;
    }
}

const char* family_name(int family) noexcept {
    switch (family) {
    case AF_INET: return "inet";
    case AF_INET6: return "inet6";
    case AF_UNSPEC: return "unspec";
    default: return "unknown";
    }
}

// Parks the calling fiber until the started request `r` is done; false if the wait
// ended otherwise (a cancel), the request then frees itself.
template <class Request>
bool park_for(lua_State* L, Request& r) {
    detail::waiter& w = begin_park(L, 0);
    if (w.waiting()) {
        r.attach(w);
    } else {
        r.detach();
    }
    return park_wait(L, w) == detail::wait_status::notified;
}

// getnameinfo(3) without blocking the loop: a reverse lookup on the threadpool. Fills
// host (NI_MAXHOST bytes); 0 or an EAI_* code.
int reverse(lua_State* L, const sockaddr* addr, int flags, char* host) {
    int status = 0;
    detail::getnameinfo_request* r =
        detail::getnameinfo_request::start(sched(L).loop(), addr, flags, status);
    if (r == nullptr) {
        return eai_of(status);
    }
    if (!park_for(L, *r)) {
        return EAI_AGAIN;
    }
    status = r->status();
    if (status == 0) {
        std::snprintf(host, NI_MAXHOST, "%s", r->host());
    }
    r->finish();
    return eai_of(status);
}

// gethostbyname/gethostbyaddr for toip and tohostname: pushes the name and the table
// {name=, alias={}, ip={...}}, or nil, "host not found".
int gethost(lua_State* L, bool name_first) {
    const char* address = luaL_checkstring(L, 1);
    in_addr ip4{};
    char name[NI_MAXHOST] = "";
    resolved res;
    if (inet_aton(address, &ip4) != 0) {
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_addr = ip4;
        if (reverse(L, reinterpret_cast<sockaddr*>(&sin), NI_NAMEREQD, name) != 0) {
            lua_pushnil(L);
            lua_pushliteral(L, "host not found");
            return 2;
        }
    } else {
        ::addrinfo hints{};
        hints.ai_family = AF_INET;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_CANONNAME;
        if (resolve(L, address, nullptr, hints, res) != 0 || res.list == nullptr) {
            free_resolved(res);
            lua_pushnil(L);
            lua_pushliteral(L, "host not found");
            return 2;
        }
        std::snprintf(name, sizeof name, "%s",
                      res.list->ai_canonname != nullptr ? res.list->ai_canonname : address);
    }
    char first[INET_ADDRSTRLEN] = "";
    lua_pushnil(L);  // slot for the first result
    lua_createtable(L, 0, 3);
    lua_pushstring(L, name);
    lua_setfield(L, -2, "name");
    lua_newtable(L);
    lua_setfield(L, -2, "alias");
    lua_newtable(L);
    int n = 0;
    if (res.list == nullptr) {
        inet_ntop(AF_INET, &ip4, first, sizeof first);
        lua_pushstring(L, first);
        lua_rawseti(L, -2, ++n);
    }
    for (const ::addrinfo* a = res.list; a != nullptr; a = a->ai_next) {
        char text[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr, text,
                  sizeof text);
        if (n == 0) {
            std::memcpy(first, text, sizeof text);
        }
        lua_pushstring(L, text);
        lua_rawseti(L, -2, ++n);
    }
    free_resolved(res);
    lua_setfield(L, -2, "ip");
    lua_pushstring(L, name_first ? name : first);
    lua_replace(L, -3);
    return 2;
}

int dns_toip(lua_State* L) { return gethost(L, false); }
int dns_tohostname(lua_State* L) { return gethost(L, true); }

int dns_getaddrinfo(lua_State* L) {
    const char* host = luaL_checkstring(L, 1);
    ::addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    resolved res;
    if (const int err = resolve(L, host, nullptr, hints, res); err != 0) {
        lua_pushnil(L);
        lua_pushstring(L, gai_text(err));
        return 2;
    }
    lua_newtable(L);
    int i = 0;
    for (const ::addrinfo* a = res.list; a != nullptr; a = a->ai_next) {
        char text[NI_MAXHOST];
        if (const int err = getnameinfo(a->ai_addr, a->ai_addrlen, text, sizeof text, nullptr,
                                        0, NI_NUMERICHOST);
            err != 0) {
            free_resolved(res);
            lua_pushnil(L);
            lua_pushstring(L, gai_text(err));
            return 2;
        }
        lua_createtable(L, 0, 2);
        lua_pushstring(L, family_name(a->ai_family));
        lua_setfield(L, -2, "family");
        lua_pushstring(L, text);
        lua_setfield(L, -2, "addr");
        lua_rawseti(L, -2, ++i);
    }
    free_resolved(res);
    return 1;
}

int dns_getnameinfo(lua_State* L) {
    const char* host = luaL_optstring(L, 1, nullptr);
    const char* serv = luaL_optstring(L, 2, nullptr);
    if (host == nullptr && serv == nullptr) {
        return luaL_error(L, "host and serv cannot be both nil");
    }
    ::addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    resolved res;
    if (const int err = resolve(L, host, serv, hints, res); err != 0) {
        lua_pushnil(L);
        lua_pushstring(L, gai_text(err));
        return 2;
    }
    lua_newtable(L);
    char sbuf[NI_MAXSERV] = "";
    int i = 0;
    for (const ::addrinfo* a = res.list; a != nullptr; a = a->ai_next) {
        if (serv != nullptr) {
            getnameinfo(a->ai_addr, a->ai_addrlen, nullptr, 0, sbuf, sizeof sbuf, 0);
        }
        if (host != nullptr) {
            char hbuf[NI_MAXHOST] = "";
            if (reverse(L, a->ai_addr, 0, hbuf) != 0) {
                hbuf[0] = '\0';
            }
            lua_pushstring(L, hbuf);
            lua_rawseti(L, -2, ++i);
        }
    }
    free_resolved(res);
    if (serv != nullptr) {
        lua_pushstring(L, sbuf);
        return 2;
    }
    return 1;
}

int dns_gethostname(lua_State* L) {
    char name[257];
    name[256] = '\0';
    if (gethostname(name, 256) < 0) {
        return push_error(L, errno);
    }
    lua_pushstring(L, name);
    return 1;
}

int push_name(lua_State* L, int family, const sockaddr_storage& addr, socklen_t len,
              bool port_as_string) {
    char name[INET6_ADDRSTRLEN];
    char port[6];
    if (const int err = getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, name,
                                    sizeof name, port, sizeof port,
                                    NI_NUMERICHOST | NI_NUMERICSERV);
        err != 0) {
        lua_pushnil(L);
        lua_pushstring(L, gai_strerror(err));
        return 2;
    }
    lua_pushstring(L, name);
    if (port_as_string) {
        lua_pushstring(L, port);
    } else {
        lua_pushinteger(L, std::strtol(port, nullptr, 10));
    }
    lua_pushstring(L, family_name(family));
    return 3;
}

}  // namespace

int resolve(lua_State* L, const char* host, const char* serv, const ::addrinfo& hints,
            resolved& out) {
    out = resolved{};
    if (is_numeric_host(host)) {
        ::addrinfo numeric = hints;
        numeric.ai_flags |= host != nullptr ? AI_NUMERICHOST : 0;
        return getaddrinfo(host, serv, &numeric, &out.list);
    }
    int status = 0;
    detail::getaddrinfo_request* r =
        detail::getaddrinfo_request::start(sched(L).loop(), host, serv, &hints, status);
    if (r == nullptr) {
        return eai_of(status);
    }
    if (!park_for(L, *r)) {
        errno = ECANCELED;
        return EAI_SYSTEM;
    }
    if (r->status() != 0) {
        status = r->status();
        r->finish();
        return eai_of(status);
    }
    out.request = r;
    out.list = const_cast<::addrinfo*>(r->result());
    return 0;
}

void free_resolved(resolved& r) noexcept {
    if (r.request != nullptr) {
        r.request->finish();
    } else if (r.list != nullptr) {
        freeaddrinfo(r.list);
    }
    r = resolved{};
}

const char* gai_text(int err) noexcept {
    switch (err) {
    case 0: return nullptr;
    case EAI_AGAIN: return "temporary failure in name resolution";
    case EAI_BADFLAGS: return "invalid value for ai_flags";
    case EAI_FAIL: return "non-recoverable failure in name resolution";
    case EAI_FAMILY: return "ai_family not supported";
    case EAI_MEMORY: return "memory allocation failure";
    case EAI_NONAME: return "host or service not provided, or not known";
    case EAI_OVERFLOW: return "argument buffer overflow";
    case EAI_SERVICE: return "service not supported for socket type";
    case EAI_SOCKTYPE: return "ai_socktype not supported";
    case EAI_SYSTEM: return std::strerror(errno);
    default: return gai_strerror(err);
    }
}

const char* inet_trycreate(int& fd, int family, int type, int protocol) noexcept {
    const char* err = error_text(create_fd(fd, family, type, protocol));
    if (err == nullptr && family == AF_INET6) {
        const int yes = 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &yes, sizeof yes);
    }
    return err;
}

const char* inet_tryconnect(lua_State* L, socket_object& s, const char* host,
                            const char* serv, const op_clock& clock, const ::addrinfo& hints) {
    resolved res;
    if (const int gai = resolve(L, host, serv, hints, res); gai != 0) {
        free_resolved(res);
        return gai_text(gai);
    }
    const char* err = nullptr;
    int current_family = s.family;
    for (const ::addrinfo* a = res.list; a != nullptr; a = a->ai_next) {
        const op_clock tm{clock.block, clock.total, wall_time()};
        // A socket with no bind gets a new descriptor for each family met on the way.
        if (current_family != a->ai_family || s.fd < 0) {
            close_socket(s);
            int fd = -1;
            err = inet_trycreate(fd, a->ai_family, a->ai_socktype, a->ai_protocol);
            if (err != nullptr) {
                continue;
            }
            s.fd = fd;
            current_family = a->ai_family;
        }
        err = error_text(io_connect(L, s, a->ai_addr, a->ai_addrlen, tm));
        if (err == nullptr || (tm.block == 0 || tm.total == 0)) {
            s.family = current_family;
            break;
        }
    }
    free_resolved(res);
    return err;
}

const char* inet_trybind(lua_State* L, socket_object& s, const char* host, const char* serv,
                         const ::addrinfo& hints) {
    if (std::strcmp(host, "*") == 0) {
        host = nullptr;
    }
    if (serv == nullptr) {
        serv = "0";
    }
    resolved res;
    if (const int gai = resolve(L, host, serv, hints, res); gai != 0) {
        free_resolved(res);
        return gai_text(gai);
    }
    const char* err = nullptr;
    int current_family = s.family;
    for (const ::addrinfo* a = res.list; a != nullptr; a = a->ai_next) {
        if (current_family != a->ai_family || s.fd < 0) {
            close_socket(s);
            int fd = -1;
            err = inet_trycreate(fd, a->ai_family, a->ai_socktype, a->ai_protocol);
            if (err != nullptr) {
                continue;
            }
            s.fd = fd;
            current_family = a->ai_family;
        }
        err = ::bind(s.fd, a->ai_addr, a->ai_addrlen) < 0 ? error_text(errno) : nullptr;
        if (err == nullptr) {
            s.family = current_family;
            break;
        }
    }
    free_resolved(res);
    return err;
}

const char* inet_trydisconnect(socket_object& s) noexcept {
    sockaddr_in6 any{};  // large enough for both families; only the family matters
    any.sin6_family = AF_UNSPEC;
    const socklen_t len = s.family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (s.fd < 0) {
        return error_text(io_closed);
    }
    if (::connect(s.fd, reinterpret_cast<sockaddr*>(&any), len) < 0 && errno != EAFNOSUPPORT) {
        return error_text(errno);
    }
    return nullptr;
}

int inet_bind_method(lua_State* L, socket_object& s, int socktype) {
    const char* address = luaL_checkstring(L, 2);
    const char* port = luaL_checkstring(L, 3);
    ::addrinfo hints{};
    hints.ai_socktype = socktype;
    hints.ai_family = s.family;
    hints.ai_flags = AI_PASSIVE;
    return push_outcome(L, inet_trybind(L, s, address, port, hints));
}

int inet_create(lua_State* L, cls c, int family, int type) {
    int fd = -1;
    if (family != AF_UNSPEC) {
        if (const char* err = inet_trycreate(fd, family, type, 0)) {
            return push_text(L, err);
        }
    }
    push_socket(L, c, fd, family);
    return 1;
}

int inet_getpeername(lua_State* L, socket_object& s) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getpeername(s.fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) {
        return push_error(L, errno);
    }
    return push_name(L, s.family, addr, len, false);
}

int inet_getsockname(lua_State* L, socket_object& s) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(s.fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) {
        return push_error(L, errno);
    }
    // LuaSocket 3.1.0 pushes the local port as a string.
    return push_name(L, s.family, addr, len, true);
}

int opt_family(lua_State* L, int arg, const char* def) {
    static const char* const names[] = {"unspec", "inet", "inet6", nullptr};
    static const int values[] = {AF_UNSPEC, AF_INET, AF_INET6};
    return values[luaL_checkoption(L, arg, def, names)];
}

void open_dns_table(lua_State* L) {
    static const luaL_Reg functions[] = {
        {"toip", &dns_toip},
        {"getaddrinfo", &dns_getaddrinfo},
        {"tohostname", &dns_tohostname},
        {"getnameinfo", &dns_getnameinfo},
        {"gethostname", &dns_gethostname},
        {nullptr, nullptr},
    };
    lua_newtable(L);
    luaL_setfuncs(L, functions, 0);
    lua_setfield(L, -2, "dns");
}

}  // namespace luv::lua::sock
