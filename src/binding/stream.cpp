// The stream methods shared by luv.tcp and luv.pipe. The libuv side is src/uv/stream.cpp.
#include "binding/stream.hpp"

#include <string>
#include <utility>

#include "binding/await.hpp"
#include "binding/handle.hpp"
#include "binding/trampoline.hpp"
#include "uv/tcp.hpp"

namespace luv::lua {
namespace {

// Every stream class's metatable holds this key: one pointer lookup in the metatable
// tells a stream, where luaL_testudata looks each class up by name in the registry (two
// per call here, ~40% of the instructions of an echo round trip).
const char stream_marker = 0;

constexpr lua_Integer default_read_size = 64 * 1024;

int push_data(lua_State* L, const std::string& data) {
    lua_pushinteger(L, static_cast<lua_Integer>(data.size()));
    lua_pushlstring(L, data.data(), data.size());
    return 2;
}

int read_k(lua_State* L, int, lua_KContext ctx);

// Waits for the stream to be readable until `deadline`, then runs read_k. Stack: 1 the
// stream, 2 len, 3 timeout, 4 the deadline (kept for a second wait).
int wait_then_read(lua_State* L, detail::stream_handle& h, std::uint64_t deadline,
                   lua_KContext len) {
    detail::waiter& w = begin_wait(L, deadline);
    if (w.waiting()) {
        if (const int rc = h.wait_readable(w); rc < 0) {
            sched(L).end_wait(w);
            return push_fail(L, rc);
        }
    }
    return finish_wait(L, w, &ktrampoline<read_k>, len);
}

// read([len[, timeout]]) -> nbytes, data | nil, "EOF: end of file", "EOF" | fail
int read_k(lua_State* L, int, lua_KContext ctx) {
    const detail::waiter& w = current_wait(L);
    if (w.status() != detail::wait_status::notified) {
        return push_wait_failure(L, w.status());
    }
    // Arguments were checked before the wait: the object at 1 is a stream.
    detail::stream_handle* h = static_cast<stream_object*>(lua_touserdata(L, 1))->h;
    if (h == nullptr) {
        return push_fail(L, UV_ECANCELED);  // woken, then closed by another fiber
    }
    if (h->buffered() > 0) {
        return push_data(L, h->take(static_cast<std::size_t>(ctx)));
    }
    if (h->read_end() != 0) {
        return push_fail(L, h->read_end());
    }
    // Woken for bytes that a fiber which ran in between has read: wait for more, within
    // the deadline the call began with.
    return wait_then_read(L, *h, static_cast<std::uint64_t>(lua_tointeger(L, 4)), ctx);
}

int stream_read(lua_State* L) {
    stream_object& s = check_stream(L, 1);
    detail::stream_handle& h = open_stream(L, 1, s);
    const lua_Integer len = luaL_optinteger(L, 2, default_read_size);
    luaL_argcheck(L, len > 0, 2, "length must be > 0");
    const std::uint64_t deadline = stream_deadline(L, 3, s);
    if (h.buffered() > 0) {
        return push_data(L, h.take(static_cast<std::size_t>(len)));
    }
    if (h.read_end() != 0) {
        return push_fail(L, h.read_end());
    }
    lua_settop(L, 3);
    lua_pushinteger(L, static_cast<lua_Integer>(deadline));
    return wait_then_read(L, h, deadline, static_cast<lua_KContext>(len));
}

// write(data[, timeout]) -> true | fail; returns once the kernel has every byte.
int stream_write(lua_State* L) {
    stream_object& s = check_stream(L, 1);
    detail::stream_handle& h = open_stream(L, 1, s);
    std::size_t len = 0;
    const char* data = luaL_checklstring(L, 2, &len);
    const std::uint64_t deadline = stream_deadline(L, 3, s);
    const int n = h.try_write(data, len);
    if (n < 0) {
        return push_fail(L, n);
    }
    if (static_cast<std::size_t>(n) == len) {
        lua_pushboolean(L, 1);
        return 1;
    }
    detail::waiter& w = begin_wait(L, deadline);
    // The rest is queued even if the wait ended at once (a pending cancel): a write
    // reaches the wire whole or not at all.
    if (const int rc = h.queue_write(w.waiting() ? &w : nullptr, data + n, len - n); rc < 0) {
        sched(L).end_wait(w);
        return push_fail(L, rc);
    }
    return finish_wait(L, w, &ktrampoline<status_k>);
}

int stream_listen(lua_State* L) {
    detail::stream_handle& h = check_open_stream(L, 1);
    const lua_Integer backlog = luaL_optinteger(L, 2, 128);
    return push_status(L, h.listen(static_cast<int>(backlog)));
}

// Takes a pending connection into the client at 2, or waits for one until `deadline`.
int accept_step(lua_State* L, std::uint64_t deadline);

int accept_k(lua_State* L, int, lua_KContext ctx) {
    const detail::waiter& w = current_wait(L);
    if (w.status() != detail::wait_status::notified) {
        return push_wait_failure(L, w.status());
    }
    if (check_stream(L, 1).h == nullptr || check_stream(L, 2).h == nullptr) {
        return push_fail(L, UV_ECANCELED);  // woken, then closed by another fiber
    }
    // A connection is pending (or a listen error); if another acceptor took it first,
    // this waits for the next, within the deadline the call began with.
    return accept_step(L, static_cast<std::uint64_t>(ctx));
}

int accept_step(lua_State* L, std::uint64_t deadline) {
    detail::stream_handle& server = check_open_stream(L, 1);
    detail::stream_handle& client = check_open_stream(L, 2);
    const int rc = server.accept(client);
    if (rc == 0) {
        lua_settop(L, 2);
        return 1;
    }
    if (rc != UV_EAGAIN) {
        return push_fail(L, rc);
    }
    detail::waiter& w = begin_wait(L, deadline);
    if (w.waiting()) {
        server.wait_connection(w);
    }
    return finish_wait(L, w, &ktrampoline<accept_k>, static_cast<lua_KContext>(deadline));
}

// accept(client[, timeout]) -> client | fail
int stream_accept(lua_State* L) {
    stream_object& s = check_stream(L, 1);
    check_open_stream(L, 1);
    check_open_stream(L, 2);
    return accept_step(L, stream_deadline(L, 3, s));
}

int stream_shutdown(lua_State* L) {
    stream_object& s = check_stream(L, 1);
    detail::stream_handle& h = check_open_stream(L, 1);
    detail::waiter& w = begin_wait(L, stream_deadline(L, 2, s));
    if (w.waiting()) {
        if (const int rc = h.shutdown(w); rc < 0) {
            sched(L).end_wait(w);
            return push_fail(L, rc);
        }
    }
    return finish_wait(L, w, &ktrampoline<status_k>);
}

int stream_close(lua_State* L) {
    stream_object& s = check_stream(L, 1);
    if (s.h != nullptr) {
        std::exchange(s.h, nullptr)->close();
    }
    lua_pushboolean(L, 1);
    return 1;
}

int stream_readable(lua_State* L) {
    lua_pushboolean(L, detail::stream_readable(check_open_stream(L, 1)));
    return 1;
}

int stream_writable(lua_State* L) {
    lua_pushboolean(L, detail::stream_writable(check_open_stream(L, 1)));
    return 1;
}

int stream_settimeout(lua_State* L) {
    stream_object& s = check_stream(L, 1);
    if (lua_isnoneornil(L, 2)) {
        s.timeout = -1;
    } else {
        const lua_Number t = luaL_checknumber(L, 2);
        luaL_argcheck(L, t >= 0, 2, "timeout must be >= 0");
        s.timeout = t;
    }
    lua_settop(L, 1);
    return 1;
}

int stream_tostring(lua_State* L) {
    stream_object& s = check_stream(L, 1);
    luaL_getmetafield(L, 1, "__name");
    lua_pushfstring(L, s.h != nullptr ? "%s: %p" : "%s: %p (closed)", lua_tostring(L, -1),
                    static_cast<void*>(&s));
    return 1;
}

const luaL_Reg stream_methods[] = {
    {"read", LUV_FN(stream_read)},         {"write", LUV_FN(stream_write)},
    {"listen", LUV_FN(stream_listen)},     {"accept", LUV_FN(stream_accept)},
    {"shutdown", LUV_FN(stream_shutdown)}, {"close", LUV_FN(stream_close)},
    {"readable", LUV_FN(stream_readable)}, {"writable", LUV_FN(stream_writable)},
    {"settimeout", LUV_FN(stream_settimeout)},
    {nullptr, nullptr},
};

const luaL_Reg stream_metamethods[] = {
    {"__gc", LUV_FN(stream_close)},
    {"__close", LUV_FN(stream_close)},
    {"__tostring", LUV_FN(stream_tostring)},
    {nullptr, nullptr},
};

}  // namespace

void new_stream_class(lua_State* L, const char* type, const luaL_Reg* own_methods) {
    luaL_newmetatable(L, type);
    lua_pushboolean(L, 1);
    lua_rawsetp(L, -2, &stream_marker);
    luaL_setfuncs(L, stream_metamethods, 0);
    lua_newtable(L);
    luaL_setfuncs(L, stream_methods, 0);
    luaL_setfuncs(L, own_methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

stream_object& push_stream(lua_State* L, const char* type, detail::stream_handle* h) {
    auto* s = static_cast<stream_object*>(lua_newuserdatauv(L, sizeof(stream_object), 0));
    s->h = h;
    s->timeout = -1;
    luaL_setmetatable(L, type);
    return *s;
}

stream_object* test_stream(lua_State* L, int idx) {
    void* p = lua_touserdata(L, idx);
    if (p != nullptr && lua_getmetatable(L, idx) != 0) {
        const bool is_stream = lua_rawgetp(L, -1, &stream_marker) != LUA_TNIL;
        lua_pop(L, 2);
        if (is_stream) {
            return static_cast<stream_object*>(p);
        }
    }
    return nullptr;
}

stream_object& check_stream(lua_State* L, int idx) {
    stream_object* s = test_stream(L, idx);
    if (s == nullptr) {
        luaL_typeerror(L, idx, "luv.tcp or luv.pipe");
    }
    return *s;
}

detail::stream_handle& open_stream(lua_State* L, int idx, stream_object& s) {
    if (s.h == nullptr) {
        luaL_getmetafield(L, idx, "__name");
        luaL_error(L, "attempt to use a closed %s", lua_tostring(L, -1));
    }
    return *s.h;
}

detail::stream_handle& check_open_stream(lua_State* L, int idx) {
    return open_stream(L, idx, check_stream(L, idx));
}

std::uint64_t stream_deadline(lua_State* L, int arg, const stream_object& s) {
    return object_deadline(L, arg, s.timeout);
}

}  // namespace luv::lua
