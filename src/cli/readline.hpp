// Reading a line of the interactive prompt without blocking the loop: fgets runs on the
// libuv threadpool while the prompt's fiber waits, so background fibers keep running.
#pragma once

#include <lua.hpp>

namespace luv::cli {

/// Lua function readline(prompt) -> line | nil at end of input. Suspends the calling
/// fiber.
int readline(lua_State* L);

}  // namespace luv::cli
