// The parts of the luv module; each registers itself into the module table on top.
#pragma once

#include <lua.hpp>

namespace luv::lua {

void open_fiber(lua_State* L);
void open_timer(lua_State* L);
void open_idle(lua_State* L);
void open_util(lua_State* L);

}  // namespace luv::lua
