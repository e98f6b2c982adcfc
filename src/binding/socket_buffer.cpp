// receive and send of the drop-in's stream objects (LuaSocket's buffer.c semantics):
// patterns '*l', '*a' and a byte count, the prefix argument, partial results, the last
// index sent, and the statistics. Each call holds the object's receive or send turn, so
// fibers sharing a connection never interleave their bytes.
//
// No C++ object with a destructor lives in these frames: lua_error is a longjmp.
#include <cstring>

#include "binding/socket.hpp"

namespace luv::lua::sock {
namespace {

bool buffer_empty(const socket_object& s) noexcept { return s.first >= s.last; }

void buffer_skip(socket_object& s, std::size_t count) noexcept {
    s.received += static_cast<double>(count);
    s.first += count;
    if (buffer_empty(s)) {
        s.first = s.last = 0;
    }
}

// What the buffer holds, reading more from the descriptor when it is empty.
int buffer_get(lua_State* L, socket_object& s, const op_clock& tm, const char*& data,
               std::size_t& count) {
    int err = io_done;
    if (buffer_empty(s)) {
        std::size_t got = 0;
        err = io_recv(L, s, s.data, buffer_size, got, tm);
        s.first = 0;
        s.last = got;
    }
    count = s.last - s.first;
    data = s.data + s.first;
    return err;
}

int receive_count(lua_State* L, socket_object& s, const op_clock& tm, std::size_t wanted,
                  luaL_Buffer& b) {
    int err = io_done;
    std::size_t total = 0;
    while (err == io_done) {
        const char* data = nullptr;
        std::size_t count = 0;
        err = buffer_get(L, s, tm, data, count);
        count = count < wanted - total ? count : wanted - total;
        luaL_addlstring(&b, data, count);
        buffer_skip(s, count);
        total += count;
        if (total >= wanted) {
            break;
        }
    }
    return err;
}

int receive_all(lua_State* L, socket_object& s, const op_clock& tm, luaL_Buffer& b) {
    int err = io_done;
    std::size_t total = 0;
    while (err == io_done) {
        const char* data = nullptr;
        std::size_t count = 0;
        err = buffer_get(L, s, tm, data, count);
        total += count;
        luaL_addlstring(&b, data, count);
        buffer_skip(s, count);
    }
    if (err == io_closed) {
        return total > 0 ? io_done : io_closed;
    }
    return err;
}

// A line ends at LF; every CR is dropped, wherever it is (LuaSocket's recvline).
int receive_line(lua_State* L, socket_object& s, const op_clock& tm, luaL_Buffer& b) {
    int err = io_done;
    while (err == io_done) {
        const char* data = nullptr;
        std::size_t count = 0;
        err = buffer_get(L, s, tm, data, count);
        const void* lf = std::memchr(data, '\n', count);
        const std::size_t upto =
            lf != nullptr ? static_cast<std::size_t>(static_cast<const char*>(lf) - data) : count;
        if (std::memchr(data, '\r', upto) == nullptr) {
            luaL_addlstring(&b, data, upto);
        } else {
            for (std::size_t i = 0; i < upto; ++i) {
                if (data[i] != '\r') {
                    luaL_addchar(&b, data[i]);
                }
            }
        }
        if (lf != nullptr) {
            buffer_skip(s, upto + 1);
            break;
        }
        buffer_skip(s, upto);
    }
    return err;
}

}  // namespace

int buffer_receive(lua_State* L, socket_object& s) {
    std::size_t prefix_len = 0;
    const char* prefix = luaL_optlstring(L, 3, "", &prefix_len);
    const op_clock tm = start_clock(s);
    lua_settop(L, 3);
    // Check the pattern before taking the turn: a bad one raises.
    enum { by_line, by_all, by_count } mode = by_line;
    std::size_t wanted = 0;
    if (!lua_isnumber(L, 2)) {
        const char* p = luaL_optstring(L, 2, "*l");
        if (p[0] == '*' && p[1] == 'l') {
            mode = by_line;
        } else if (p[0] == '*' && p[1] == 'a') {
            mode = by_all;
        } else {
            luaL_argerror(L, 2, "invalid receive pattern");
        }
    } else {
        const double n = lua_tonumber(L, 2);
        luaL_argcheck(L, n >= 0, 2, "invalid receive pattern");
        mode = by_count;
        wanted = static_cast<std::size_t>(n);
    }
    int err = take_turn(L, s, &socket_object::receiving, tm);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, prefix, prefix_len);
    if (err == io_done) {
        if (mode == by_line) {
            err = receive_line(L, s, tm, b);
        } else if (mode == by_all) {
            err = receive_all(L, s, tm, b);
        } else if (prefix_len == 0 || wanted > prefix_len) {
            err = receive_count(L, s, tm, wanted - prefix_len, b);
        }
        give_turn(s, &socket_object::receiving);
    }
    luaL_pushresult(&b);
    if (err != io_done) {
        // nil, err, partial
        lua_pushstring(L, error_text(err));
        lua_pushvalue(L, -2);
        lua_pushnil(L);
        lua_replace(L, -4);
        return 3;
    }
    lua_pushnil(L);
    lua_pushnil(L);
    return 3;
}

int buffer_send(lua_State* L, socket_object& s) {
    std::size_t size = 0;
    const char* data = luaL_checklstring(L, 2, &size);
    long start = static_cast<long>(luaL_optnumber(L, 3, 1));
    long end = static_cast<long>(luaL_optnumber(L, 4, -1));
    const op_clock tm = start_clock(s);
    if (start < 0) {
        start = static_cast<long>(size) + start + 1;
    }
    if (end < 0) {
        end = static_cast<long>(size) + end + 1;
    }
    if (start < 1) {
        start = 1;
    }
    if (end > static_cast<long>(size)) {
        end = static_cast<long>(size);
    }
    int err = io_done;
    std::size_t total = 0;
    if (start <= end) {
        err = take_turn(L, s, &socket_object::sending, tm);
        if (err == io_done) {
            // One system call for as much as the kernel takes (LuaSocket steps by 8 KiB;
            // the bytes on the wire and the results are the same).
            const std::size_t count = static_cast<std::size_t>(end - start + 1);
            const char* from = data + start - 1;
            while (total < count && err == io_done) {
                std::size_t done = 0;
                err = io_send(L, s, from + total, count - total, done, tm);
                total += done;
            }
            s.sent += static_cast<double>(total);
            give_turn(s, &socket_object::sending);
        }
    }
    const lua_Number last = static_cast<lua_Number>(total) + static_cast<lua_Number>(start - 1);
    if (err != io_done) {
        lua_pushnil(L);
        lua_pushstring(L, error_text(err));
        lua_pushnumber(L, last);
    } else {
        lua_pushnumber(L, last);
        lua_pushnil(L);
        lua_pushnil(L);
    }
    return 3;
}

int buffer_getstats(lua_State* L, socket_object& s) {
    lua_pushnumber(L, s.received);
    lua_pushnumber(L, s.sent);
    lua_pushnumber(L, wall_time() - s.birthday);
    return 3;
}

int buffer_setstats(lua_State* L, socket_object& s) {
    s.received = static_cast<double>(static_cast<long>(luaL_optnumber(L, 2, s.received)));
    s.sent = static_cast<double>(static_cast<long>(luaL_optnumber(L, 3, s.sent)));
    if (lua_isnumber(L, 4)) {
        s.birthday = wall_time() - lua_tonumber(L, 4);
    }
    return push_one(L);
}

int settimeout(lua_State* L, socket_object& s) {
    const double t = luaL_optnumber(L, 2, -1);
    const char* mode = luaL_optstring(L, 3, "b");
    switch (*mode) {
    case 'b':
        s.block = t;
        break;
    case 'r':
    case 't':
        s.total = t;
        break;
    default:
        luaL_argerror(L, 3, "invalid timeout mode");
    }
    return push_one(L);
}

int gettimeout(lua_State* L, socket_object& s) {
    lua_pushnumber(L, s.block);
    lua_pushnumber(L, s.total);
    return 2;
}

}  // namespace luv::lua::sock
