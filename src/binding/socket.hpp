// The LuaSocket drop-in (`require "luv.socket"`): luv's own socket.core and socket.unix,
// with LuaSocket 3.1's semantics, on which Debian's pure-Lua socket.lua, socket.http,
// socket.smtp, ltn12 and mime run unchanged (docs/luasocket.md).
//
// An object is what LuaSocket's is: a non-blocking descriptor, an 8 KiB read buffer and two
// timeouts. Where LuaSocket calls poll(2) after EAGAIN, the drop-in waits on the
// descriptor's fd_poll instead, so only the calling fiber stops (outside any fiber, the
// main chunk waits while the loop runs, which is LuaSocket's blocking behaviour). The
// waits park the fiber on its native stack rather than yield: a receive may wait several
// times and keeps its progress in C locals and a luaL_Buffer, exactly like the blocking
// code it mirrors; and libraries call these methods from their own coroutines
// (redis-lua's pubsub iterator), where only parking can suspend anyway.
//
// Fibers may share one object: a call holds the object's receive or send "turn" until it
// returns, so two sends never interleave their bytes and two receives never split a line.
//
// Files: socket_io.cpp (waits, timeouts, receive patterns, send, close), socket_inet.cpp
// (names, resolution, connect/bind, socket.dns), socket_tcp.cpp, socket_udp.cpp,
// socket_unix.cpp (socket.unix), socket_options.cpp, socket_core.cpp (the module: select,
// sleep, gettime, newtry/protect, and package.preload).
#pragma once

#include <cstddef>
#include <cstdint>

#include <lua.hpp>
#include <netdb.h>
#include <sys/socket.h>

#include "core/waiter.hpp"

namespace luv::detail {
class fd_poll;
class getaddrinfo_request;
}  // namespace luv::detail

namespace luv::lua::sock {

/// Results of the I/O primitives besides a positive errno (LuaSocket's IO_* codes).
enum : int {
    io_done = 0,
    io_timeout = -1,
    io_closed = -2,
    io_unknown = -3,
    io_cancelled = -4,  // fiber:cancel() ended the wait
};

/// LuaSocket's class names, in this order (class_name()).
enum class cls : std::uint8_t {
    tcp_master, tcp_client, tcp_server,
    udp_unconnected, udp_connected,
    unix_master, unix_client, unix_server,
    unixdgram_unconnected, unixdgram_connected,
};
const char* class_name(cls c) noexcept;

/// The read buffer's size, LuaSocket's BUF_SIZE: receive asks the kernel for this much.
constexpr std::size_t buffer_size = 8192;

struct socket_object {
    int fd = -1;
    int family = AF_UNSPEC;
    cls klass = cls::tcp_master;
    bool receiving = false;  // a call holds the receive turn
    bool sending = false;    // a call holds the send turn
    // The last recv drained the kernel's buffer (it returned less than asked, or
    // EAGAIN) and no readiness was reported since: with the poll armed, the next receive
    // waits at once instead of making a recv that would only say EAGAIN.
    bool drained = false;
    detail::fd_poll* poll = nullptr;  // made on the first wait
    detail::wait_queue turn_waiters;  // calls waiting for a turn
    double block = -1;  // settimeout(v, 'b'); < 0: none
    double total = -1;  // settimeout(v, 't')
    double birthday = 0;
    double received = 0;  // bytes consumed from the buffer (getstats)
    double sent = 0;
    std::size_t first = 0;  // the unread part of data: [first, last)
    std::size_t last = 0;
    char data[buffer_size];
};

/// One call's deadlines: both timeouts count from the start of the call.
struct op_clock {
    double block;
    double total;
    double start;
};

// ---- socket_io.cpp ----

/// Wall-clock seconds (gettimeofday), LuaSocket's gettime. Never suspends.
double wall_time() noexcept;
op_clock start_clock(const socket_object& s) noexcept;
/// The error text of an io_* code or errno, as LuaSocket words it ("closed",
/// "connection refused", strerror otherwise). Never suspends.
const char* error_text(int err) noexcept;

/// Pushes a new object of class `c` owning `fd` (may be -1). Never suspends.
socket_object* push_socket(lua_State* L, cls c, int fd, int family);
/// The object at `idx` if it is of class `c`; raises "<class> expected" otherwise.
socket_object* check_class(lua_State* L, int idx, cls c);
/// The object at `idx` if its class is in the group "tcp{any}" and so on.
socket_object* check_group(lua_State* L, int idx, const char* group);
/// The object at `idx` if it is any drop-in socket, else nullptr. Never suspends.
socket_object* test_socket(lua_State* L, int idx);
void set_class(lua_State* L, int idx, cls c);
/// Registers a class: its metatable with `methods` (and `class`, the group flags, __gc,
/// __close, __tostring). Never suspends.
void new_class(lua_State* L, cls c, const luaL_Reg* methods, const char* group,
               bool selectable);

/// Waits until the descriptor is ready for `event` (UV_READABLE/UV_WRITABLE), within the
/// call's deadlines: io_done, io_timeout, io_closed, io_cancelled or an errno. Suspends
/// the calling fiber.
int wait_fd(lua_State* L, socket_object& s, int event, const op_clock& tm);
/// Takes the receive or send turn (`which` = &socket_object::receiving or ::sending),
/// waiting while another call holds it: io_done or an io_* failure. Suspends the
/// calling fiber. give_turn() returns it. Never suspends.
int take_turn(lua_State* L, socket_object& s, bool socket_object::*which, const op_clock& tm);
void give_turn(socket_object& s, bool socket_object::*which) noexcept;

/// The system calls of LuaSocket's usocket.c with the waits above. Suspend the fiber.
int io_recv(lua_State* L, socket_object& s, char* data, std::size_t count, std::size_t& got,
            const op_clock& tm);
int io_send(lua_State* L, socket_object& s, const char* data, std::size_t count,
            std::size_t& sent, const op_clock& tm);
int io_recvfrom(lua_State* L, socket_object& s, char* data, std::size_t count,
                std::size_t& got, sockaddr* from, socklen_t* len, const op_clock& tm);
int io_sendto(lua_State* L, socket_object& s, const char* data, std::size_t count,
              std::size_t& sent, const sockaddr* to, socklen_t len, const op_clock& tm);
int io_connect(lua_State* L, socket_object& s, const sockaddr* addr, socklen_t len,
               const op_clock& tm);
int io_accept(lua_State* L, socket_object& s, int& client, const op_clock& tm);

/// Creates a non-blocking, close-on-exec socket: io_done or errno. Never suspends.
int create_fd(int& fd, int family, int type, int protocol) noexcept;
/// Closes the descriptor (after its poll), wakes every fiber waiting on the object.
/// Idempotent. Never suspends.
void close_socket(socket_object& s) noexcept;
/// Replaces the descriptor (setfd): the old poll is dropped, the fd is not closed.
void replace_fd(socket_object& s, int fd) noexcept;

/// The buffered methods shared by TCP and unix streams (LuaSocket's buffer.c).
/// receive and send suspend the calling fiber; the others never do.
int buffer_receive(lua_State* L, socket_object& s);
int buffer_send(lua_State* L, socket_object& s);
int buffer_getstats(lua_State* L, socket_object& s);
int buffer_setstats(lua_State* L, socket_object& s);
int settimeout(lua_State* L, socket_object& s);
int gettimeout(lua_State* L, socket_object& s);
/// Pushes 1.0 (LuaSocket's success value, a float). Returns 1.
int push_one(lua_State* L);
/// Pushes nil, error_text(err). Returns 2.
int push_error(lua_State* L, int err);
/// Pushes nil, `err` (an error text). Returns 2.
int push_text(lua_State* L, const char* err);
/// LuaSocket's usual result: push_one for nullptr, else push_text(err).
inline int push_outcome(lua_State* L, const char* err) {
    return err == nullptr ? push_one(L) : push_text(L, err);
}

// ---- socket_inet.cpp ----

/// A getaddrinfo result list: numeric hosts are resolved on the spot, names on libuv's
/// threadpool while the fiber waits.
struct resolved {
    ::addrinfo* list = nullptr;
    detail::getaddrinfo_request* request = nullptr;  // owns list when set
};
/// getaddrinfo(3) without blocking the loop: 0 or an EAI_* code (or EAI_SYSTEM with
/// errno set). Suspends the calling fiber for a name.
int resolve(lua_State* L, const char* host, const char* serv, const ::addrinfo& hints,
            resolved& out);
void free_resolved(resolved& r) noexcept;
/// getaddrinfo's error text as LuaSocket words it. Never suspends.
const char* gai_text(int err) noexcept;

/// LuaSocket's inet_trycreate/tryconnect/trybind: nullptr or the error text. The object's
/// family is updated. tryconnect suspends the calling fiber.
const char* inet_trycreate(int& fd, int family, int type, int protocol) noexcept;
const char* inet_tryconnect(lua_State* L, socket_object& s, const char* host,
                            const char* serv, const op_clock& tm, const ::addrinfo& hints);
const char* inet_trybind(lua_State* L, socket_object& s, const char* host, const char* serv,
                         const ::addrinfo& hints);
/// tcp:bind and udp:setsockname (args 2 and 3: address, port): binds `s` for sockets of
/// `socktype`; 1 or nil, error. Never suspends for a numeric address.
int inet_bind_method(lua_State* L, socket_object& s, int socktype);
/// socket.tcp()/udp() and their 4/6 forms: pushes a new object of class `c`; with
/// AF_UNSPEC the descriptor is made later, by the first bind, connect or sendto. Never
/// suspends.
int inet_create(lua_State* L, cls c, int family, int type);
/// Disconnects a UDP socket (connect to AF_UNSPEC). Never suspends.
const char* inet_trydisconnect(socket_object& s) noexcept;
/// getpeername/getsockname as LuaSocket returns them: ip, port, family. Never suspend.
int inet_getpeername(lua_State* L, socket_object& s);
int inet_getsockname(lua_State* L, socket_object& s);
/// family option: "unspec", "inet", "inet6" at `arg` → AF_*.
int opt_family(lua_State* L, int arg, const char* def);
/// Adds socket.dns to the table on top.
void open_dns_table(lua_State* L);

// ---- socket_options.cpp ----
int setoption(lua_State* L, socket_object& s, const char* const* allowed);
int getoption(lua_State* L, socket_object& s, const char* const* allowed);

// ---- the classes: each adds its global functions to the table on top ----
void open_tcp_classes(lua_State* L);  // tcp, tcp4, tcp6, connect
void open_udp_classes(lua_State* L);  // udp, udp4, udp6
int open_unix_module(lua_State* L);   // the socket.unix module table

}  // namespace luv::lua::sock
