// luv/lua.hpp - the Lua module, for C++ hosts that embed Lua.
#pragma once

struct lua_State;

/// The module entry point, as `require "luv"` calls it. Creates a runtime for the
/// calling thread if it has none (owned by the lua_State and destroyed when it
/// closes). Never suspends.
extern "C" int luaopen_luv(lua_State* L);

namespace luv::lua {

/// Opens the module into `L` as require would (package.loaded.luv) and leaves it on
/// the stack. With a luv::runtime already on the thread, the module uses it; close the
/// lua_State before destroying that runtime. Never suspends.
void open(lua_State* L);

/// Installs the LuaSocket drop-in: luv's socket.core and socket.unix go into
/// package.preload, so that a later `require "socket"` (Debian's socket.lua, socket.http,
/// ...) runs on them and its blocking calls suspend only the calling fiber. Raises a Lua
/// error if LuaSocket's own socket.core is already loaded. `require "luv.socket"` does
/// this and returns the socket module; the `luv` command does it at start. Never
/// suspends.
void install_socket(lua_State* L);

/// Pops a function and its `nargs` arguments, and pushes a new Lua fiber that will
/// call it, already queued. The host then calls luv::runtime::run(), or joins it with
/// join_fiber. Never suspends.
void spawn(lua_State* L, int nargs);

/// Suspends the caller until the fiber at `idx` ends. Returns LUA_OK with its results
/// pushed, or an error status with the error (and the fiber's traceback) pushed, like
/// lua_pcall. Suspends the calling fiber (from the thread: runs the loop).
int join(lua_State* L, int idx);

}  // namespace luv::lua
