// Suspending from a Lua binding. A blocking binding does three steps:
//
//   detail::waiter& w = lua::begin_wait(L, deadline);   // may raise (see below)
//   if (w.waiting()) { hook w to the operation, e.g. handle->waiters.push(w); }
//   return lua::finish_wait(L, w, &continuation);
//
// finish_wait leaves through lua_yieldk when the call stands directly in the fiber's own
// coroutine at a yieldable point: the fiber then holds no native stack while it waits.
// Anywhere else (inside table.sort, a gsub callback, require, a user coroutine, the main
// chunk) it parks the fiber on its native stack. Either way `continuation` runs once
// the wait is over and pushes the results; it reads the waiter with lua::current_wait().
#pragma once

#include <cstdint>

#include <lua.hpp>

#include "core/scheduler.hpp"
#include "core/waiter.hpp"

namespace luv::lua {

/// The calling thread's scheduler; raises a Lua error if luv has no runtime here.
detail::scheduler& sched(lua_State* L);

/// Starts a wait of the running fiber (or the root). Raises a Lua error if the caller
/// may not suspend here: inside a __gc finalizer or a debug hook. Never suspends.
detail::waiter& begin_wait(lua_State* L, std::uint64_t deadline_ms);

/// Suspends until `w` ends (unless it already has), then returns k(L, LUA_YIELD, ctx).
/// Suspends the calling fiber.
int finish_wait(lua_State* L, detail::waiter& w, lua_KFunction k, lua_KContext ctx = 0);

/// Begins a wait that will park (park_wait), never yield: for bindings that wait several
/// times inside one call and keep their state in C locals (the LuaSocket drop-in, whose
/// receive loops mirror a blocking library's). Raises where suspending is not allowed.
/// Never suspends.
detail::waiter& begin_park(lua_State* L, std::uint64_t deadline_ms);
/// Parks the calling fiber (or the root) on its native stack until `w` ends; returns how
/// it ended. Raises a Lua error if no stack can be had. Suspends the calling fiber.
detail::wait_status park_wait(lua_State* L, detail::waiter& w);

/// The waiter of the wait that just ended, for continuations.
detail::waiter& current_wait(lua_State* L);

/// Reads an optional timeout in seconds at `arg` (nil or absent: none) and returns the
/// deadline for begin_wait. Raises on a negative or NaN timeout.
std::uint64_t opt_deadline(lua_State* L, int arg);

/// A continuation for waits that have no result of their own (timer:wait, idle:wait):
/// true when the operation notified, the wait failure otherwise.
int notified_k(lua_State* L, int status, lua_KContext ctx);
/// A continuation for requests that end with a libuv status in w.value (connect,
/// shutdown): true for 0, the fail triple for an error or a wait that did not complete.
int status_k(lua_State* L, int status, lua_KContext ctx);

/// The deadline of a wait of an object with its own timeout (settimeout): the timeout
/// argument at `arg` if given, else `object_timeout` seconds (< 0: none).
std::uint64_t object_deadline(lua_State* L, int arg, double object_timeout);

/// Pushes `nil, "ENAME: message", "ENAME"` for a libuv status; returns 3.
int push_fail(lua_State* L, int status);
/// The same with what failed appended: `nil, "ENOENT: no such file or directory: /x",
/// "ENOENT"`.
int push_fail(lua_State* L, int status, const char* what);

/// Pushes the fail triple for a wait that ended without its operation completing:
/// ETIMEDOUT or ECANCELED. A root wait that nothing can ever end raises instead.
int push_wait_failure(lua_State* L, detail::wait_status how);

}  // namespace luv::lua
