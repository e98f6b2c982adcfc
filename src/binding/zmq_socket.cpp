// luv.zmq sockets: send and receive suspend only the calling fiber.
//
// Every libzmq call is made with ZMQ_DONTWAIT. When it would block, the fiber waits for
// ZMQ_FD to become readable, through the thread's fd_poll. ZMQ_FD is not a readiness
// signal: it is the socket's command mailbox, readable when commands are pending, and any
// libzmq call on the socket (send, recv, getsockopt(ZMQ_EVENTS), bind, ...) may process
// those commands and drain it, whatever the state it leaves behind. So:
//
//  - before waiting, a fiber reads ZMQ_EVENTS; if its direction is ready it tries again
//    instead of waiting for a signal that has already been consumed;
//  - after every libzmq call on a socket that fibers wait on, ZMQ_EVENTS is read again
//    and one fiber of each ready direction is woken (after_call); that fiber makes its
//    own call and wakes the next in turn, so a state the call consumed is never left
//    unannounced;
//  - when ZMQ_FD fires, the watcher reads ZMQ_EVENTS inside the loop and wakes the same
//    way; the wait queues are per direction, so a receiver is never woken for a sender's
//    state and two waiters cannot wake each other for ever.
//
// The continuations keep their state on the Lua stack (the deadline, the next frame), so
// a wait leaves through lua_yieldk where Lua allows it and the fiber holds no stack.
#include <cerrno>
#include <new>

#include <zmq.h>

#include "binding/await.hpp"
#include "binding/handle.hpp"
#include "binding/trampoline.hpp"
#include "binding/zmq.hpp"

namespace luv::lua::zmq {
namespace {

// The bits of a send's or receive's lua_KContext above its flags: a multipart receive;
// the first attempt was made already (and would have blocked).
constexpr lua_KContext multipart_bit = 0x100;
constexpr lua_KContext tried_bit = 0x200;

// A socket userdata: the object, then the address of `socket_tag`. send and recv are
// called millions of times a second, and luaL_checkudata hashes and compares the type
// name on every call; a userdata of this size that ends with this address can only have
// been made here (Lua code cannot write into a userdata).
const char socket_tag = 0;
struct socket_box {
    socket_object* s;
    const void* tag;
};

socket_object* opt_socket(lua_State* L, int idx) {
    auto* box = static_cast<socket_box*>(lua_touserdata(L, idx));
    if (box == nullptr || lua_rawlen(L, idx) != sizeof(socket_box) || box->tag != &socket_tag) {
        box = static_cast<socket_box*>(luaL_checkudata(L, idx, socket_type));  // raises
    }
    return box->s;
}

// In a continuation: the socket at 1 was checked by the call that began.
socket_object* socket_at_1(lua_State* L) {
    return static_cast<socket_box*>(lua_touserdata(L, 1))->s;
}

// ZMQ_EVENTS (ZMQ_POLLIN | ZMQ_POLLOUT), or -1 with errno set (ETERM).
int events_of(socket_object& s) noexcept {
    int events = 0;
    std::size_t len = sizeof events;
    while (zmq_getsockopt(s.zsock, ZMQ_EVENTS, &events, &len) != 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return events;
}

// Wakes one fiber of each direction that `ready` lets go on; an error wakes them all, so
// that each sees it. One is enough: it calls after_call() once it has had its turn.
void wake(socket_object& s, int ready) noexcept {
    if (ready < 0) {
        s.receivers.notify_all();
        s.senders.notify_all();
        return;
    }
    if ((ready & ZMQ_POLLIN) != 0) {
        s.receivers.notify_one();
    }
    if ((ready & ZMQ_POLLOUT) != 0) {
        s.senders.notify_one();
    }
}

// ZMQ_FD fired (inside the loop): the socket's state may have changed.
void on_fd(detail::fd_poll::watcher& watch, int) {
    auto& s = *static_cast<socket_object*>(watch.data);
    if (s.receivers.empty() && s.senders.empty()) {
        // Its waiters went without a word (their fibers were dropped): stop holding the
        // loop.
        s.poll->unwatch(watch);
        return;
    }
    wake(s, events_of(s));
}

// Queues the begun wait `w` on `q` and watches ZMQ_FD. Returns 0 or a libuv error.
int enqueue(lua_State* L, socket_object& s, detail::waiter& w, detail::wait_queue& q) {
    if (s.poll == nullptr) {
        int fd = -1;
        std::size_t len = sizeof fd;
        if (zmq_getsockopt(s.zsock, ZMQ_FD, &fd, &len) != 0) {
            return -errno;
        }
        int status = 0;
        s.poll = detail::fd_poll::acquire(sched(L), fd, status);
        if (s.poll == nullptr) {
            return status;
        }
    }
    if (const int rc = s.poll->watch(s.watch); rc < 0) {
        return rc;
    }
    q.push(w);
    return 0;
}

// After a wait on the socket ended, however: ZMQ_FD is watched (and holds the loop) only
// while a fiber waits.
void waited(socket_object& s) noexcept {
    if (s.poll != nullptr && s.receivers.empty() && s.senders.empty()) {
        s.poll->unwatch(s.watch);
    }
}

// The deadline of a call that may wait `timeout_ms` (RCVTIMEO/SNDTIMEO): 0 for none, -1
// for "do not wait" (a timeout of 0, as in libzmq).
lua_Integer call_deadline(lua_State* L, int timeout_ms) {
    if (timeout_ms < 0) {
        return 0;
    }
    if (timeout_ms == 0) {
        return -1;
    }
    return static_cast<lua_Integer>(
        sched(L).deadline_after_ms(static_cast<std::uint64_t>(timeout_ms)));
}

int check_flags(lua_State* L, int arg, int allowed, const char* what) {
    const lua_Integer flags = luaL_optinteger(L, arg, 0);
    luaL_argcheck(L, (flags & ~static_cast<lua_Integer>(allowed)) == 0, arg, what);
    return static_cast<int>(flags);
}

// The start of a continuation: how the wait ended, if there was one. Returns -1 to go
// on, or the number of results pushed.
int resumed(lua_State* L, int status, socket_object* s) {
    if (status == LUA_YIELD) {
        const detail::wait_status how = current_wait(L).status();
        if (s != nullptr) {
            waited(*s);
        }
        if (how != detail::wait_status::notified) {
            return push_wait_failure(L, how);
        }
    }
    if (s == nullptr) {
        return push_wait_failure(L, detail::wait_status::cancelled);  // closed meanwhile
    }
    return -1;
}

// Waits on `q` until woken or the deadline (0: none) passes, then runs k again.
int wait_then(lua_State* L, socket_object& s, detail::wait_queue& q, lua_Integer deadline,
              lua_KFunction k, lua_KContext ctx) {
    detail::waiter& w = begin_wait(L, deadline > 0 ? static_cast<std::uint64_t>(deadline) : 0);
    if (w.waiting()) {
        if (const int rc = enqueue(L, s, w, q); rc < 0) {
            sched(L).end_wait(w);
            return push_fail(L, rc);
        }
    }
    return finish_wait(L, w, k, ctx);
}

// Stack: 1 socket, 2 flags, 3 deadline, [4 the frames so far (multipart)].
int recv_k(lua_State* L, int status, lua_KContext ctx) {
    socket_object* s = socket_at_1(L);
    if (const int n = resumed(L, status, s); n >= 0) {
        return n;
    }
    const bool multipart = (ctx & multipart_bit) != 0;
    const int flags = static_cast<int>(ctx & ZMQ_DONTWAIT);
    bool retried = false;
    bool skip = (ctx & tried_bit) != 0;
    ctx &= ~tried_bit;
    for (;;) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (skip) {
            skip = false;
            errno = EAGAIN;
        } else if (zmq_msg_recv(&msg, s->zsock, ZMQ_DONTWAIT) >= 0) {
            const bool more = zmq_msg_more(&msg) != 0;
            // Raises only when out of memory; zmq_msg_t is C, so that loses the frame's
            // bytes and skips no destructor.
            lua_pushlstring(L, static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
            zmq_msg_close(&msg);
            if (multipart) {
                lua_rawseti(L, 4, static_cast<lua_Integer>(lua_rawlen(L, 4)) + 1);
                if (more) {
                    continue;  // the rest of a message comes with its first frame
                }
                lua_settop(L, 4);
            }
            after_call(*s);
            return 1;
        }
        const int err = errno;
        zmq_msg_close(&msg);
        if (err == EINTR) {
            continue;
        }
        // Once the first frame is taken, the message is finished whatever the flags.
        const bool started = multipart && lua_rawlen(L, 4) > 0;
        const lua_Integer deadline = started ? 0 : lua_tointeger(L, 3);
        if (err != EAGAIN || (!started && ((flags & ZMQ_DONTWAIT) != 0 || deadline < 0))) {
            after_call(*s);
            return push_error(L, err);
        }
        const int ev = events_of(*s);
        if (ev < 0) {
            const int e = errno;
            wake(*s, ev);
            return push_error(L, e);
        }
        wake(*s, ev & ~ZMQ_POLLIN);
        // ZMQ_EVENTS says "readable" but the call just failed after it did: wait for the
        // next signal rather than spin.
        if ((ev & ZMQ_POLLIN) != 0 && !retried) {
            retried = true;
            continue;
        }
        return wait_then(L, *s, s->receivers, deadline, &ktrampoline<recv_k>, ctx);
    }
}

int check_recv_flags(lua_State* L) {
    return lua_isnoneornil(L, 2) != 0
               ? 0
               : check_flags(L, 2, ZMQ_DONTWAIT, "flags must be luv.zmq.DONTWAIT or nil");
}

// sock:recv([flags]) -> frame | fail. Suspends the calling fiber until a frame comes.
int socket_recv(lua_State* L) {
    socket_object& s = check_socket(L, 1);
    const int flags = check_recv_flags(L);
    // The common case first, with nothing set up for a wait: a frame is there.
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, s.zsock, ZMQ_DONTWAIT) >= 0) {
        lua_pushlstring(L, static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
        zmq_msg_close(&msg);
        after_call(s);
        return 1;
    }
    const int err = errno;
    zmq_msg_close(&msg);
    lua_settop(L, 2);
    lua_pushinteger(L, call_deadline(L, s.rcvtimeo));
    if (err != EAGAIN && err != EINTR) {
        after_call(s);
        return push_error(L, err);
    }
    return recv_k(L, LUA_OK, flags | (err == EAGAIN ? tried_bit : 0));
}

// sock:recv_multipart([flags]) -> {frames} | fail. Suspends the calling fiber.
int socket_recv_multipart(lua_State* L) {
    socket_object& s = check_socket(L, 1);
    const int flags = check_recv_flags(L);
    lua_settop(L, 2);
    lua_pushinteger(L, call_deadline(L, s.rcvtimeo));
    lua_newtable(L);
    return recv_k(L, LUA_OK, flags | multipart_bit);
}

// Stack: 1 socket, 2 message (string or table of frames), 3 flags, 4 deadline, 5 the
// next frame to send.
int send_k(lua_State* L, int status, lua_KContext ctx) {
    socket_object* s = socket_at_1(L);
    if (const int n = resumed(L, status, s); n >= 0) {
        return n;
    }
    bool skip = (ctx & tried_bit) != 0;
    ctx &= ~tried_bit;
    const int flags = static_cast<int>(ctx);
    const bool table = lua_type(L, 2) == LUA_TTABLE;
    const lua_Integer n = table ? static_cast<lua_Integer>(lua_rawlen(L, 2)) : 1;
    lua_Integer i = lua_tointeger(L, 5);
    bool retried = false;
    while (i <= n) {
        int rc = -1;
        int err = EAGAIN;
        if (skip) {
            skip = false;
        } else {
            std::size_t len = 0;
            const char* data = nullptr;
            if (table) {
                lua_rawgeti(L, 2, i);
                data = lua_tolstring(L, -1, &len);
            } else {
                data = lua_tolstring(L, 2, &len);
            }
            const int more = i < n ? ZMQ_SNDMORE : (flags & ZMQ_SNDMORE);
            rc = zmq_send(s->zsock, data, len, ZMQ_DONTWAIT | more);
            err = errno;
            if (table) {
                lua_pop(L, 1);
            }
        }
        if (rc >= 0) {
            ++i;
            lua_pushinteger(L, i);
            lua_replace(L, 5);
            retried = false;
            continue;
        }
        if (err == EINTR) {
            continue;
        }
        // Later frames of a message never meet the high-water mark (libzmq counts whole
        // messages); should one still wait, the message is finished whatever the flags.
        const bool started = i > 1;
        const lua_Integer deadline = started ? 0 : lua_tointeger(L, 4);
        if (err != EAGAIN || (!started && ((flags & ZMQ_DONTWAIT) != 0 || deadline < 0))) {
            after_call(*s);
            return push_error(L, err);
        }
        const int ev = events_of(*s);
        if (ev < 0) {
            const int e = errno;
            wake(*s, ev);
            return push_error(L, e);
        }
        wake(*s, ev & ~ZMQ_POLLOUT);
        // A ROUTER with ROUTER_MANDATORY, or an XPUB with XPUB_NODROP, says "writable"
        // while the one pipe this message goes to is full: try once, then wait.
        if ((ev & ZMQ_POLLOUT) != 0 && !retried) {
            retried = true;
            continue;
        }
        return wait_then(L, *s, s->senders, deadline, &ktrampoline<send_k>, ctx);
    }
    after_call(*s);
    lua_pushboolean(L, 1);
    return 1;
}

// sock:send(message [, flags]) -> true | fail. `message` is a string, or a table of
// frames sent as one multipart message. Suspends the calling fiber while the socket
// cannot take it (its high-water mark, no peer yet).
int socket_send(lua_State* L) {
    socket_object& s = check_socket(L, 1);
    const bool multipart = lua_type(L, 2) == LUA_TTABLE;
    if (multipart) {
        const lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, 2));
        luaL_argcheck(L, n > 0, 2, "a multipart message needs at least one frame");
        for (lua_Integer i = 1; i <= n; ++i) {
            const int t = lua_rawgeti(L, 2, i);
            lua_pop(L, 1);
            if (t != LUA_TSTRING && t != LUA_TNUMBER) {
                return luaL_argerror(L, 2, lua_pushfstring(L, "frame %I is a %s, not a string",
                                                           i, lua_typename(L, t)));
            }
        }
    }
    const int flags = lua_isnoneornil(L, 3) != 0
                          ? 0
                          : check_flags(L, 3, ZMQ_DONTWAIT | ZMQ_SNDMORE,
                                        "flags must be luv.zmq.DONTWAIT and/or luv.zmq.SNDMORE");
    lua_KContext tried = 0;
    if (!multipart) {
        // The common case first, with nothing set up for a wait: the socket takes it.
        std::size_t len = 0;
        const char* data = luaL_checklstring(L, 2, &len);
        const int rc = zmq_send(s.zsock, data, len, ZMQ_DONTWAIT | (flags & ZMQ_SNDMORE));
        const int err = errno;
        if (rc >= 0 || (err != EAGAIN && err != EINTR)) {
            after_call(s);
            if (rc < 0) {
                return push_error(L, err);
            }
            lua_pushboolean(L, 1);
            return 1;
        }
        tried = err == EAGAIN ? tried_bit : 0;
    }
    lua_settop(L, 3);
    lua_pushinteger(L, call_deadline(L, s.sndtimeo));
    lua_pushinteger(L, 1);
    return send_k(L, LUA_OK, flags | tried);
}

// bind/connect/unbind/disconnect: `call` on the endpoint; true | fail. Never suspends
// (libzmq connects in its I/O threads).
int endpoint_call(lua_State* L, int (*call)(void*, const char*)) {
    socket_object& s = check_socket(L, 1);
    const char* endpoint = luaL_checkstring(L, 2);
    const int rc = call(s.zsock, endpoint);
    const int err = errno;
    after_call(s);
    if (rc != 0) {
        return push_error(L, err);
    }
    lua_pushboolean(L, 1);
    return 1;
}

// sock:bind(endpoint) -> the endpoint bound (a wildcard port resolved) | fail.
int socket_bind(lua_State* L) {
    if (const int n = endpoint_call(L, &zmq_bind); lua_toboolean(L, -n) == 0) {
        return n;
    }
    socket_object& s = check_socket(L, 1);
    char endpoint[1024];
    std::size_t len = sizeof endpoint;
    if (zmq_getsockopt(s.zsock, ZMQ_LAST_ENDPOINT, endpoint, &len) == 0 && len > 1) {
        lua_pushlstring(L, endpoint, len - 1);  // len counts the NUL
    } else {
        lua_pushvalue(L, 2);
    }
    return 1;
}

int socket_connect(lua_State* L) { return endpoint_call(L, &zmq_connect); }
int socket_unbind(lua_State* L) { return endpoint_call(L, &zmq_unbind); }
int socket_disconnect(lua_State* L) { return endpoint_call(L, &zmq_disconnect); }

// sock:close() -> true; also __gc and __close. Never suspends.
int socket_close(lua_State* L) {
    if (socket_object* s = opt_socket(L, 1)) {
        close_socket(*s, false);
    }
    lua_pushboolean(L, 1);
    return 1;
}

int socket_tostring(lua_State* L) {
    socket_object* s = opt_socket(L, 1);
    if (s == nullptr) {
        lua_pushfstring(L, "%s: %p (closed)", socket_type, lua_touserdata(L, 1));
    } else {
        const char* name = socket_type_name(s->type);
        lua_pushfstring(L, "%s: %p (%s)", socket_type, lua_touserdata(L, 1),
                        name != nullptr ? name : "?");
    }
    return 1;
}

const luaL_Reg methods[] = {
    {"bind", LUV_FN(socket_bind)},
    {"connect", LUV_FN(socket_connect)},
    {"unbind", LUV_FN(socket_unbind)},
    {"disconnect", LUV_FN(socket_disconnect)},
    {"send", LUV_FN(socket_send)},
    {"recv", LUV_FN(socket_recv)},
    {"recv_multipart", LUV_FN(socket_recv_multipart)},
    {"getsockopt", LUV_FN(socket_getsockopt)},
    {"setsockopt", LUV_FN(socket_setsockopt)},
    {"close", LUV_FN(socket_close)},
    {nullptr, nullptr},
};

const luaL_Reg metamethods[] = {
    {"__gc", LUV_FN(socket_close)},
    {"__close", LUV_FN(socket_close)},
    {"__tostring", LUV_FN(socket_tostring)},
    {nullptr, nullptr},
};

}  // namespace

socket_object& check_socket(lua_State* L, int idx) {
    socket_object* s = opt_socket(L, idx);
    if (s == nullptr) {
        luaL_error(L, "attempt to use a closed %s", socket_type);
    }
    return *s;
}

void wake_waiters(socket_object& s) noexcept { wake(s, events_of(s)); }

int new_socket(lua_State* L, context_handle& h, int type) {
    // The userdata first: if Lua runs out of memory, no libzmq socket is held yet.
    auto* box = static_cast<socket_box*>(lua_newuserdatauv(L, sizeof(socket_box), 0));
    box->s = nullptr;
    box->tag = &socket_tag;
    luaL_setmetatable(L, socket_type);
    socket_object** slot = &box->s;
    void* zsock = zmq_socket(raw(h.shared), type);
    if (zsock == nullptr) {
        return push_error(L, errno);
    }
    auto* s = new (std::nothrow) socket_object();
    if (s == nullptr) {
        zmq_close(zsock);
        return push_error(L, ENOMEM);
    }
    retain(h.shared);
    s->zsock = zsock;
    s->shared = h.shared;
    s->type = type;
    s->slot = slot;
    s->watch.on_event = &on_fd;
    s->watch.data = s;
    s->watch.events = UV_READABLE;  // ZMQ_FD only ever becomes readable
    s->maker = &h;
    s->next = h.sockets;
    if (h.sockets != nullptr) {
        h.sockets->prev = s;
    }
    h.sockets = s;
    *slot = s;
    return 1;
}

void close_socket(socket_object& s, bool linger0) noexcept {
    if (s.slot != nullptr) {
        *s.slot = nullptr;
    }
    if (s.maker != nullptr) {
        if (s.prev != nullptr) {
            s.prev->next = s.next;
        } else {
            s.maker->sockets = s.next;
        }
        if (s.next != nullptr) {
            s.next->prev = s.prev;
        }
    }
    // The poll goes before the socket: libzmq's reaper thread closes ZMQ_FD later, and the
    // number may then be reused by a descriptor this loop must not be watching.
    if (s.poll != nullptr) {
        s.poll->unwatch(s.watch);
        s.poll->close();
        s.poll->release();
        s.poll = nullptr;
    }
    s.receivers.notify_all(detail::wait_status::cancelled);
    s.senders.notify_all(detail::wait_status::cancelled);
    if (linger0) {
        const int zero = 0;
        zmq_setsockopt(s.zsock, ZMQ_LINGER, &zero, sizeof zero);
    }
    zmq_close(s.zsock);
    release(s.shared);
    delete &s;
}

void open_socket(lua_State* L) { new_class(L, socket_type, methods, metamethods); }

}  // namespace luv::lua::zmq
