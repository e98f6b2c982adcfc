// What other bindings need of luv.file objects.
#pragma once

#include <lua.hpp>

namespace luv::lua {

/// The descriptor of the luv.file at `idx`: -1 if it is closed, -2 if `idx` holds no
/// luv.file. Never raises, never suspends.
int test_file_fd(lua_State* L, int idx);

}  // namespace luv::lua
