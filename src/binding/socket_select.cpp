// socket.select of the drop-in: LuaSocket's result shape (arrays that also map each
// object to its index, `{}, {}, "timeout"`), with no 1024-descriptor limit, and only the
// calling fiber waits. Readiness is read with poll(2) and a zero timeout; when nothing is
// ready, the fiber waits on every descriptor's fd_poll at once through one waiter, then
// polls again.
#include <algorithm>
#include <cmath>
#include <poll.h>

#include "binding/await.hpp"
#include "binding/socket.hpp"
#include "core/scheduler.hpp"
#include "uv/poll.hpp"

namespace luv::lua::sock {
namespace {

// One descriptor of the select, kept in a userdata on the Lua stack.
struct entry {
    int fd;
    int events;  // UV_READABLE | UV_WRITABLE
    int recv_index;  // the object's index in recvt (0: none)
    int send_index;
    detail::fd_poll::interest interest;
    detail::fd_poll* poll;
};

// The object's descriptor, via its getfd method (duck-typed, as LuaSocket does); -1 if
// it has none.
int get_fd(lua_State* L, int obj) {
    int fd = -1;
    if (socket_object* s = test_socket(L, obj)) {
        return s->fd;
    }
    lua_getfield(L, obj, "getfd");
    if (!lua_isnil(L, -1)) {
        lua_pushvalue(L, obj);
        lua_call(L, 1, 1);
        if (lua_isnumber(L, -1)) {
            const double n = lua_tonumber(L, -1);
            fd = n >= 0 ? static_cast<int>(n) : -1;
        }
    }
    lua_pop(L, 1);
    return fd;
}

bool is_dirty(lua_State* L, int obj) {
    if (socket_object* s = test_socket(L, obj)) {
        return s->first < s->last;
    }
    lua_getfield(L, obj, "dirty");
    bool dirty = false;
    if (!lua_isnil(L, -1)) {
        lua_pushvalue(L, obj);
        lua_call(L, 1, 1);
        dirty = lua_toboolean(L, -1) != 0;
    }
    lua_pop(L, 1);
    return dirty;
}

int count_entries(lua_State* L, int tab) {
    if (lua_isnil(L, tab)) {
        return 0;
    }
    luaL_checktype(L, tab, LUA_TTABLE);
    int n = 0;
    while (lua_geti(L, tab, n + 1) != LUA_TNIL) {
        lua_pop(L, 1);
        ++n;
    }
    lua_pop(L, 1);
    return n;
}

// Appends `obj` to the result array `res` (and maps obj → index).
void add_result(lua_State* L, int res, int obj) {
    const lua_Integer i = luaL_len(L, res) + 1;
    lua_pushvalue(L, obj);
    lua_rawseti(L, res, i);
    lua_pushvalue(L, obj);
    lua_pushnumber(L, static_cast<lua_Number>(i));  // LuaSocket's indices are floats
    lua_rawset(L, res);
}

void stop_watching(entry* e, int n) {
    for (int i = 0; i < n; ++i) {
        if (e[i].poll != nullptr) {
            e[i].poll->remove(e[i].interest);
            e[i].poll->release();
            e[i].poll = nullptr;
        }
    }
}

}  // namespace

int socket_select(lua_State* L) {
    const double timeout = luaL_optnumber(L, 3, -1);
    lua_settop(L, 3);
    const int nr = count_entries(L, 1);
    const int ns = count_entries(L, 2);
    auto* e = static_cast<entry*>(lua_newuserdatauv(L, sizeof(entry) * (nr + ns + 1), 0));
    lua_newtable(L);
    const int rtab = lua_gettop(L);
    lua_newtable(L);
    const int wtab = lua_gettop(L);
    int n = 0;
    int ndirty = 0;
    for (int t = 1; t <= 2; ++t) {
        const int count = t == 1 ? nr : ns;
        for (int i = 1; i <= count; ++i) {
            lua_geti(L, t, i);
            const int obj = lua_gettop(L);
            const int fd = get_fd(L, obj);
            if (fd >= 0) {
                if (t == 1 && is_dirty(L, obj)) {
                    add_result(L, rtab, obj);
                    ++ndirty;
                } else {
                    int k = 0;
                    while (k < n && e[k].fd != fd) {
                        ++k;
                    }
                    if (k == n) {
                        e[n++] = entry{fd, 0, 0, 0, {}, nullptr};
                    }
                    e[k].events |= t == 1 ? UV_READABLE : UV_WRITABLE;
                    (t == 1 ? e[k].recv_index : e[k].send_index) = i;
                }
            }
            lua_settop(L, wtab);
        }
    }
    std::sort(e, e + n, [](const entry& a, const entry& b) { return a.fd < b.fd; });
    const double start = wall_time();
    auto* fds = static_cast<pollfd*>(lua_newuserdatauv(L, sizeof(pollfd) * (n + 1), 0));
    for (;;) {
        for (int i = 0; i < n; ++i) {
            fds[i] = pollfd{e[i].fd,
                            static_cast<short>(((e[i].events & UV_READABLE) ? POLLIN : 0) |
                                               ((e[i].events & UV_WRITABLE) ? POLLOUT : 0)),
                            0};
        }
        int ready = n > 0 ? ::poll(fds, static_cast<nfds_t>(n), 0) : 0;
        if (ready > 0 || ndirty > 0) {
            for (int i = 0; i < n; ++i) {
                const short r = fds[i].revents;
                if (e[i].recv_index != 0 && (r & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0) {
                    lua_geti(L, 1, e[i].recv_index);
                    add_result(L, rtab, lua_gettop(L));
                    lua_pop(L, 1);
                }
                if (e[i].send_index != 0 && (r & (POLLOUT | POLLERR | POLLHUP | POLLNVAL)) != 0) {
                    lua_geti(L, 2, e[i].send_index);
                    add_result(L, wtab, lua_gettop(L));
                    lua_pop(L, 1);
                }
            }
            lua_settop(L, wtab);
            return 2;
        }
        double left = -1;
        if (timeout >= 0) {
            left = std::fmax(timeout - (wall_time() - start), 0.0);
            if (left == 0) {
                break;
            }
        }
        // Wait on every descriptor; one that luv cannot watch (another libuv handle of
        // this loop owns it) is polled again every 10 ms instead.
        bool unwatched = false;
        std::uint64_t deadline = 0;
        detail::scheduler& sch = sched(L);
        for (int i = 0; i < n; ++i) {
            int status = 0;
            e[i].poll = detail::fd_poll::acquire(sch, e[i].fd, status);
            unwatched = unwatched || e[i].poll == nullptr;
        }
        if (left >= 0) {
            const double ms = std::ceil(left * 1000.0);
            deadline = sch.deadline_after_ms(ms > 9e15 ? static_cast<std::uint64_t>(9e15)
                                                       : static_cast<std::uint64_t>(ms));
        }
        if (unwatched) {
            const std::uint64_t soon = sch.deadline_after_ms(10);
            deadline = deadline == 0 ? soon : std::min(deadline, soon);
        }
        detail::waiter& w = begin_park(L, deadline);
        for (int i = 0; i < n && w.waiting(); ++i) {
            if (e[i].poll != nullptr) {
                e[i].interest.w = &w;
                e[i].interest.events = e[i].events;
                if (e[i].poll->add(e[i].interest) < 0) {
                    e[i].poll->release();
                    e[i].poll = nullptr;
                }
            }
        }
        const detail::wait_status how = park_wait(L, w);
        stop_watching(e, n);
        if (how == detail::wait_status::cancelled) {
            lua_pushnil(L);
            lua_pushnil(L);
            lua_pushstring(L, error_text(io_cancelled));
            return 3;
        }
        if (how == detail::wait_status::deadlock) {
            return luaL_error(L, "luv: deadlock: this wait can never end (no fiber is ready "
                                 "and no active handle or timer is left)");
        }
    }
    lua_settop(L, wtab);
    lua_pushliteral(L, "timeout");
    return 3;
}

}  // namespace luv::lua::sock
