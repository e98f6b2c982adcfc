// A Lua fiber: a coroutine (lua_newthread) the scheduler resumes. It lives inline in its
// "luv.fiber" userdata; the userdata is anchored in the registry from the moment the
// fiber is readied until it ends, so a running fiber is never collected.
#pragma once

#include <lua.hpp>

#include "core/fiber.hpp"

namespace luv::lua {

class lua_fiber final : public detail::fiber_base {
public:
    lua_fiber(detail::scheduler& sched, lua_State* thread, int nargs) noexcept
        : fiber_base(sched, kind::lua), thread_(thread), nargs_(nargs) {}

    lua_State* thread() const noexcept { return thread_; }
    /// Set by finish_wait just before it leaves through lua_yieldk, so that the
    /// LUA_YIELD coming out of lua_resume reads as "waiting", not coroutine.yield().
    bool waiting_yield = false;
    /// Registry reference to the userdata while the fiber is alive.
    int anchor = LUA_NOREF;
    /// After the end: how many results sit on top of the thread's stack (1 on error).
    int nresults = 0;
    bool failed = false;

protected:
    slice run_slice() override;
    void on_finished(bool joined) noexcept override;

private:
    lua_State* thread_;
    int nargs_;
};

/// Registers luv.fiber, luv.self, luv.sleep, luv.run into the module table on top.
void open_fiber(lua_State* L);

/// Pops a function and `nargs` arguments, pushes a new fiber (not yet ready).
/// Never suspends.
void push_new_fiber(lua_State* L, int nargs);
/// Queues the fiber at `idx` (no-op unless it was never started). Never suspends.
void ready_fiber(lua_State* L, int idx);

}  // namespace luv::lua
