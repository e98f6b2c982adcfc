// What luv.signal shares with luv.process (kill takes the same signal arguments).
#pragma once

#include <lua.hpp>

namespace luv::lua {

/// The signal at `arg`: a number (0 to 64; 0 = none), or a name ("SIGTERM", "TERM", any case); `def` when
/// absent and def != 0. Raises naming the argument otherwise. Never suspends.
int check_signal_arg(lua_State* L, int arg, int def);

}  // namespace luv::lua
