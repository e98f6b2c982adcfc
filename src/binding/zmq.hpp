// luv.zmq: ØMQ contexts and sockets whose blocking calls suspend only the calling fiber.
//
// libzmq is neither libuv nor Lua, so these files call zmq_* directly; the only wait there
// is, for ZMQ_FD, goes through the thread's fd_poll (src/uv/poll.hpp) like every other
// descriptor luv does not read itself. The three files:
//   zmq.cpp          the module, contexts shared between threads, the codec hook, errors
//   zmq_socket.cpp   sockets: send/recv and the waits on ZMQ_FD, bind/connect, close
//   zmq_options.cpp  socket types and options by name
#pragma once

#include <lua.hpp>

#include "core/waiter.hpp"
#include "uv/poll.hpp"

namespace luv::lua::zmq {

constexpr const char* context_type = "luv.zmq.context";
constexpr const char* socket_type = "luv.zmq.socket";

/// A libzmq context and how many owners it has, in every thread (zmq.cpp).
struct shared_context;

struct socket_object;

/// What a context userdata points at: one owner of the shared context, and the sockets
/// this thread made through it (ctx:close() closes those).
struct context_handle {
    shared_context* shared = nullptr;
    socket_object* sockets = nullptr;
};

/// What a socket userdata points at. A socket never leaves the thread that made it (it
/// has no __codec), so nothing here needs a lock.
struct socket_object {
    void* zsock = nullptr;              // the libzmq socket
    shared_context* shared = nullptr;   // one owner of the context, until close
    context_handle* maker = nullptr;    // nullptr once that handle is closed or collected
    socket_object* prev = nullptr;      // in maker->sockets
    socket_object* next = nullptr;
    socket_object** slot = nullptr;     // the userdata's pointer, cleared on close
    detail::fd_poll* poll = nullptr;    // ZMQ_FD's poll, from the first wait on
    detail::fd_poll::watcher watch;     // on the poll while a fiber waits
    detail::wait_queue receivers;       // fibers waiting for ZMQ_POLLIN
    detail::wait_queue senders;         // fibers waiting for ZMQ_POLLOUT
    int type = 0;
    int rcvtimeo = -1;                  // ms, as the ØMQ options; -1 = for ever
    int sndtimeo = -1;
};

// ---- zmq.cpp ----

/// The libzmq context. Never suspends.
void* raw(shared_context* c) noexcept;
/// Adds an owner; the caller already is one. Never suspends.
void retain(shared_context* c) noexcept;
/// Drops an owner. The last one terminates the context on a thread of its own, so that
/// nothing waits for the sockets' LINGER. Never suspends.
void release(shared_context* c) noexcept;

/// Pushes `nil, "ENAME: message", "ENAME"` for a libzmq errno (zmq_strerror's text);
/// returns 3.
int push_error(lua_State* L, int err);

// ---- zmq_socket.cpp ----

/// Registers the luv.zmq.socket metatable. Never suspends.
void open_socket(lua_State* L);
/// ctx:socket(type): a socket of `type` made through `h`; pushes it or the fail triple.
/// Never suspends.
int new_socket(lua_State* L, context_handle& h, int type);
/// Closes the socket: its waiters wake with ECANCELED, its userdata reads as closed.
/// `linger0` drops what it has not sent yet (ctx:close()). Never suspends.
void close_socket(socket_object& s, bool linger0) noexcept;
/// After any libzmq call on the socket: ZMQ_FD fires only when the socket's state may
/// have changed, and the call may have consumed that signal; so the fibers that wait on
/// the socket and can now go on are woken here. Never suspends.
void wake_waiters(socket_object& s) noexcept;
/// The same, inline: most calls find nobody waiting (it runs once per message).
inline void after_call(socket_object& s) noexcept {
    if (!s.receivers.empty() || !s.senders.empty()) {
        wake_waiters(s);
    }
}

// ---- zmq_options.cpp ----

/// A socket type at `arg`: a luv.zmq constant or its name ("PUSH", "push"). Raises
/// naming the argument otherwise.
int check_socket_type(lua_State* L, int arg);
/// The name of a socket type ("PUSH"), or nullptr.
const char* socket_type_name(int type) noexcept;
/// Sets the socket types, send/recv flags and poll bits on the table on top.
void set_constants(lua_State* L);
/// sock:getsockopt(name) and sock:setsockopt(name, value).
int socket_getsockopt(lua_State* L);
int socket_setsockopt(lua_State* L);
/// The open socket at `idx`; raises after close().
socket_object& check_socket(lua_State* L, int idx);

}  // namespace luv::lua::zmq
