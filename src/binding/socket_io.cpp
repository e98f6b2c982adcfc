// The drop-in's I/O core: LuaSocket's usocket.c, timeout.c and buffer.c, with every
// poll(2) replaced by a wait of the calling fiber on the descriptor's fd_poll.
//
// No C++ object with a destructor lives in these frames: lua_error is a longjmp.
#include "binding/socket.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <new>
#include <sys/time.h>
#include <unistd.h>

#include "binding/await.hpp"
#include "core/scheduler.hpp"
#include "uv/poll.hpp"

namespace luv::lua::sock {
namespace {

const char* const class_names[] = {
    "tcp{master}", "tcp{client}", "tcp{server}",
    "udp{unconnected}", "udp{connected}",
    "unixstream{master}", "unixstream{client}", "unixstream{server}",
    "unixdgram{unconnected}", "unixdgram{connected}",
};

// The key of the flag every drop-in metatable carries, so test_socket() knows its own.
const char socket_marker = 0;

// LuaSocket's timeout_get: what is left for the call right now, -1 for no limit.
double time_left(const op_clock& tm) noexcept {
    if (tm.block < 0 && tm.total < 0) {
        return -1;
    }
    if (tm.block < 0) {
        return std::fmax(tm.total - wall_time() + tm.start, 0.0);
    }
    if (tm.total < 0) {
        return tm.block;
    }
    return std::fmin(tm.block, std::fmax(tm.total - wall_time() + tm.start, 0.0));
}

// LuaSocket's timeout_getretry: both limits count from the start of the call.
double retry_left(const op_clock& tm) noexcept {
    if (tm.block < 0 && tm.total < 0) {
        return -1;
    }
    const double elapsed = wall_time() - tm.start;
    if (tm.block < 0) {
        return std::fmax(tm.total - elapsed, 0.0);
    }
    if (tm.total < 0) {
        return std::fmax(tm.block - elapsed, 0.0);
    }
    return std::fmin(tm.block, std::fmax(tm.total - elapsed, 0.0));
}

std::uint64_t deadline_of(lua_State* L, double seconds) {
    if (seconds < 0) {
        return 0;
    }
    const double ms = std::ceil(seconds * 1000.0);
    return sched(L).deadline_after_ms(ms > 9e15 ? static_cast<std::uint64_t>(9e15)
                                                : static_cast<std::uint64_t>(ms));
}

int wait_result(lua_State* L, const socket_object& s, detail::wait_status how) {
    switch (how) {
    case detail::wait_status::notified:
        return io_done;
    case detail::wait_status::timed_out:
        return io_timeout;
    case detail::wait_status::deadlock:
        return luaL_error(L, "luv: deadlock: this wait can never end (no fiber is ready and "
                             "no active handle or timer is left)");
    default:
        return s.fd < 0 ? io_closed : io_cancelled;
    }
}

int close_method(lua_State* L) {
    if (socket_object* s = test_socket(L, 1)) {
        close_socket(*s);
    }
    return push_one(L);
}

int tostring_method(lua_State* L) {
    lua_getfield(L, 1, "class");
    lua_pushfstring(L, "%s: %p", lua_tostring(L, -1), lua_touserdata(L, 1));
    return 1;
}

}  // namespace

const char* class_name(cls c) noexcept { return class_names[static_cast<int>(c)]; }

double wall_time() noexcept {
    timeval v;
    gettimeofday(&v, nullptr);
    return static_cast<double>(v.tv_sec) + static_cast<double>(v.tv_usec) / 1.0e6;
}

op_clock start_clock(const socket_object& s) noexcept {
    return op_clock{s.block, s.total, wall_time()};
}

const char* error_text(int err) noexcept {
    switch (err) {
    case io_done:
        return nullptr;
    case io_timeout:
        return "timeout";
    case io_closed:
        return "closed";
    case io_cancelled:
        return "ECANCELED: operation canceled";
    case EADDRINUSE:
        return "address already in use";
    case EISCONN:
        return "already connected";
    case EACCES:
        return "permission denied";
    case ECONNREFUSED:
        return "connection refused";
    case ECONNABORTED:
    case ECONNRESET:
    case EPIPE:
        return "closed";
    case ETIMEDOUT:
        return "timeout";
    default:
        return err > 0 ? std::strerror(err) : "unknown error";
    }
}

int push_one(lua_State* L) {
    lua_pushnumber(L, 1);
    return 1;
}

int push_error(lua_State* L, int err) { return push_text(L, error_text(err)); }

int push_text(lua_State* L, const char* err) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
}

// ---- objects and classes ----

socket_object* push_socket(lua_State* L, cls c, int fd, int family) {
    void* mem = lua_newuserdatauv(L, sizeof(socket_object), 0);
    auto* s = new (mem) socket_object();
    s->fd = fd;
    s->family = family;
    s->klass = c;
    s->birthday = wall_time();
    set_class(L, -1, c);
    return s;
}

void set_class(lua_State* L, int idx, cls c) {
    idx = lua_absindex(L, idx);
    luaL_getmetatable(L, class_name(c));
    lua_setmetatable(L, idx);
    static_cast<socket_object*>(lua_touserdata(L, idx))->klass = c;
}

socket_object* test_socket(lua_State* L, int idx) {
    void* p = lua_touserdata(L, idx);
    if (p == nullptr || lua_getmetatable(L, idx) == 0) {
        return nullptr;
    }
    const bool ours = lua_rawgetp(L, -1, &socket_marker) != LUA_TNIL;
    lua_pop(L, 2);
    return ours ? static_cast<socket_object*>(p) : nullptr;
}

socket_object* check_class(lua_State* L, int idx, cls c) {
    socket_object* s = test_socket(L, idx);
    if (s == nullptr || s->klass != c) {
        char msg[64];
        std::snprintf(msg, sizeof msg, "%.35s expected", class_name(c));
        luaL_argerror(L, idx, msg);
    }
    return s;
}

socket_object* check_group(lua_State* L, int idx, const char* group) {
    socket_object* s = test_socket(L, idx);
    bool member = false;
    if (s != nullptr) {
        lua_getmetatable(L, idx);
        member = lua_getfield(L, -1, group) != LUA_TNIL;
        lua_pop(L, 2);
    }
    if (!member) {
        char msg[64];
        std::snprintf(msg, sizeof msg, "%.35s expected", group);
        luaL_argerror(L, idx, msg);
    }
    return s;
}

void new_class(lua_State* L, cls c, const luaL_Reg* methods, const char* group,
               bool selectable) {
    luaL_newmetatable(L, class_name(c));
    lua_pushboolean(L, 1);
    lua_rawsetp(L, -2, &socket_marker);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, group);
    if (selectable) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "select{able}");
    }
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_pushstring(L, class_name(c));
    lua_setfield(L, -2, "class");
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, &close_method);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, &close_method);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, &tostring_method);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
}

// ---- descriptors ----

int create_fd(int& fd, int family, int type, int protocol) noexcept {
    fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    return fd >= 0 ? io_done : errno;
}

void close_socket(socket_object& s) noexcept {
    if (s.poll != nullptr) {
        detail::fd_poll* p = s.poll;
        s.poll = nullptr;
        p->close();
        p->release();
    }
    if (s.fd >= 0) {
        ::close(s.fd);
        s.fd = -1;
    }
    s.turn_waiters.notify_all(detail::wait_status::cancelled);
}

void replace_fd(socket_object& s, int fd) noexcept {
    if (s.poll != nullptr) {
        detail::fd_poll* p = s.poll;
        s.poll = nullptr;
        p->close();
        p->release();
    }
    s.fd = fd;
    if (fd >= 0) {
        const int flags = fcntl(fd, F_GETFL, 0);
        if (flags >= 0) {
            fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        }
    }
}

// ---- waits ----

int wait_fd(lua_State* L, socket_object& s, int event, const op_clock& tm) {
    if (s.fd < 0) {
        return io_closed;
    }
    if (time_left(tm) == 0) {
        return io_timeout;  // settimeout(0): never wait
    }
    const double left = retry_left(tm);
    if (left == 0) {
        return io_timeout;
    }
    if (s.poll == nullptr) {
        int status = 0;
        s.poll = detail::fd_poll::acquire(sched(L), s.fd, status);
        if (s.poll == nullptr) {
            return -status;
        }
    }
    detail::waiter& w = begin_park(L, deadline_of(L, left));
    if (w.waiting()) {
        if (const int rc = s.poll->wait(w, event); rc < 0) {
            sched(L).end_wait(w);
            return -rc;
        }
    }
    const detail::wait_status how = park_wait(L, w);
    if (s.poll != nullptr) {
        s.poll->waited();
    }
    return wait_result(L, s, how);
}

int take_turn(lua_State* L, socket_object& s, bool socket_object::*which,
              const op_clock& tm) {
    while (s.*which) {
        if (s.fd < 0) {
            return io_closed;
        }
        const double left = retry_left(tm);
        if (left == 0) {
            return io_timeout;
        }
        detail::waiter& w = begin_park(L, deadline_of(L, left));
        if (w.waiting()) {
            s.turn_waiters.push(w);
        }
        if (const int rc = wait_result(L, s, park_wait(L, w)); rc != io_done) {
            return rc;
        }
    }
    s.*which = true;
    return io_done;
}

void give_turn(socket_object& s, bool socket_object::*which) noexcept {
    s.*which = false;
    s.turn_waiters.notify_all();
}

// ---- system calls ----

int io_recv(lua_State* L, socket_object& s, char* data, std::size_t count, std::size_t& got,
            const op_clock& tm) {
    got = 0;
    if (s.drained && s.poll != nullptr && s.poll->armed(UV_READABLE) && time_left(tm) != 0) {
        // A request-reply client asks right after sending; the answer is a round trip
        // away. Level-triggered epoll reports data that came meanwhile at once.
        if (const int rc = wait_fd(L, s, UV_READABLE, tm); rc != io_done) {
            return rc;
        }
    }
    for (;;) {
        if (s.fd < 0) {
            return io_closed;
        }
        const ssize_t n = ::recv(s.fd, data, count, 0);
        if (n > 0) {
            got = static_cast<std::size_t>(n);
            s.drained = got < count;
            return io_done;
        }
        s.drained = false;
        if (n == 0) {
            return io_closed;
        }
        const int err = errno;
        if (err == EINTR) {
            continue;
        }
        if (err != EAGAIN && err != EWOULDBLOCK) {
            return err;
        }
        s.drained = true;
        if (const int rc = wait_fd(L, s, UV_READABLE, tm); rc != io_done) {
            return rc;
        }
        s.drained = false;
    }
}

int io_send(lua_State* L, socket_object& s, const char* data, std::size_t count,
            std::size_t& sent, const op_clock& tm) {
    // sendto(2) with no address is send(2) on a connected socket.
    return io_sendto(L, s, data, count, sent, nullptr, 0, tm);
}

int io_recvfrom(lua_State* L, socket_object& s, char* data, std::size_t count,
                std::size_t& got, sockaddr* from, socklen_t* len, const op_clock& tm) {
    got = 0;
    const socklen_t room = len != nullptr ? *len : 0;
    for (;;) {
        if (s.fd < 0) {
            return io_closed;
        }
        if (len != nullptr) {
            *len = room;
        }
        const ssize_t n = ::recvfrom(s.fd, data, count, 0, len != nullptr ? from : nullptr, len);
        if (n > 0) {
            got = static_cast<std::size_t>(n);
            return io_done;
        }
        if (n == 0) {
            return io_closed;
        }
        const int err = errno;
        if (err == EINTR) {
            continue;
        }
        if (err != EAGAIN && err != EWOULDBLOCK) {
            return err;
        }
        if (const int rc = wait_fd(L, s, UV_READABLE, tm); rc != io_done) {
            return rc;
        }
    }
}

int io_sendto(lua_State* L, socket_object& s, const char* data, std::size_t count,
              std::size_t& sent, const sockaddr* to, socklen_t len, const op_clock& tm) {
    sent = 0;
    for (;;) {
        if (s.fd < 0) {
            return io_closed;
        }
        const ssize_t n = ::sendto(s.fd, data, count, MSG_NOSIGNAL, to, len);
        if (n >= 0) {
            sent = static_cast<std::size_t>(n);
            return io_done;
        }
        const int err = errno;
        if (err == EPIPE) {
            return io_closed;
        }
        if (err == EINTR || err == EPROTOTYPE) {
            continue;
        }
        if (err != EAGAIN && err != EWOULDBLOCK) {
            return err;
        }
        if (const int rc = wait_fd(L, s, UV_WRITABLE, tm); rc != io_done) {
            return rc;
        }
    }
}

int io_connect(lua_State* L, socket_object& s, const sockaddr* addr, socklen_t len,
               const op_clock& tm) {
    if (s.fd < 0) {
        return io_closed;
    }
    int err = 0;
    do {
        if (::connect(s.fd, addr, len) == 0) {
            return io_done;
        }
    } while ((err = errno) == EINTR);
    if (err != EINPROGRESS && err != EAGAIN) {
        return err;
    }
    if (time_left(tm) == 0) {
        return io_timeout;
    }
    if (const int rc = wait_fd(L, s, UV_WRITABLE, tm); rc != io_done) {
        return rc;
    }
    int so_error = 0;
    socklen_t so_len = sizeof so_error;
    if (::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len) < 0) {
        return errno;
    }
    return so_error == 0 ? io_done : so_error;
}

int io_accept(lua_State* L, socket_object& s, int& client, const op_clock& tm) {
    for (;;) {
        if (s.fd < 0) {
            return io_closed;
        }
        client = ::accept4(s.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (client >= 0) {
            return io_done;
        }
        const int err = errno;
        if (err == EINTR) {
            continue;
        }
        if (err != EAGAIN && err != EWOULDBLOCK && err != ECONNABORTED) {
            return err;
        }
        if (const int rc = wait_fd(L, s, UV_READABLE, tm); rc != io_done) {
            return rc;
        }
    }
}

}  // namespace luv::lua::sock
