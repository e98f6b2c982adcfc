// What luv.tcp and luv.pipe objects share: the userdata, and the stream methods (read,
// write, listen, accept, shutdown, close, ...), registered into both classes.
#pragma once

#include <lua.hpp>

#include "uv/stream.hpp"

namespace luv::lua {

struct stream_object {
    detail::stream_handle* h;  // nullptr once closed
    double timeout;            // seconds for every wait of this object; < 0: none
};

constexpr const char* tcp_type = "luv.tcp";
constexpr const char* pipe_type = "luv.pipe";

/// Pushes a new stream object of class `type` around `h`. Never suspends.
stream_object& push_stream(lua_State* L, const char* type, detail::stream_handle* h);
/// The stream object at `idx` (luv.tcp or luv.pipe), or nullptr. Never raises.
stream_object* test_stream(lua_State* L, int idx);
/// The stream object at `idx` (luv.tcp or luv.pipe); raises on anything else.
stream_object& check_stream(lua_State* L, int idx);
/// The same, raising "attempt to use a closed luv.tcp" once closed.
detail::stream_handle& check_open_stream(lua_State* L, int idx);
/// The handle of `s` (the object at `idx`), raising once closed.
detail::stream_handle& open_stream(lua_State* L, int idx, stream_object& s);
/// The deadline for a wait: the timeout argument at `arg` if given, else the object's.
std::uint64_t stream_deadline(lua_State* L, int arg, const stream_object& s);

/// Registers the class `type`: the stream methods plus `own_methods`. Never suspends.
void new_stream_class(lua_State* L, const char* type, const luaL_Reg* own_methods);

void open_tcp(lua_State* L);
void open_pipe(lua_State* L);

}  // namespace luv::lua
