// The parts of the luv module; each registers itself into the module table on top.
#pragma once

#include <lua.hpp>

namespace luv::lua {

void open_fiber(lua_State* L);
void open_timer(lua_State* L);
void open_idle(lua_State* L);
void open_util(lua_State* L);
void open_fs(lua_State* L);   // luv.fs
void open_dns(lua_State* L);  // luv.net.getaddrinfo, luv.net.getnameinfo
void open_udp(lua_State* L);  // luv.net.udp
void open_process(lua_State* L);  // luv.process
void open_signal(lua_State* L);   // luv.signal
void open_codec(lua_State* L);    // luv.codec
void open_zmq(lua_State* L);      // luv.zmq
void open_thread(lua_State* L);   // luv.thread
/// Pushes luv.process.run; the process table (with spawn) on top, the module below it.
void push_process_run(lua_State* L);

}  // namespace luv::lua
