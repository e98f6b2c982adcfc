// A Lua fiber: a coroutine (lua_newthread) the scheduler resumes. It lives inline in its
// "luv.fiber" userdata; the userdata is anchored in the registry from the moment the
// fiber is readied until it ends, so a running fiber is never collected.
#pragma once

#include <lua.hpp>

#include "core/fiber.hpp"

namespace luv::lua {

class lua_fiber final : public detail::fiber_base {
public:
    /// The function and its arguments sit on `thread`'s stack; after the end, its
    /// results (or the error) are all that is left there.
    explicit lua_fiber(lua_State* thread) noexcept : fiber_base(kind::lua), thread_(thread) {}

    lua_State* thread() const noexcept { return thread_; }
    /// Registry reference to the userdata while the fiber is alive.
    int anchor = LUA_NOREF;

protected:
    slice run_slice() override;
    void on_finished(bool joined) noexcept override;

private:
    lua_State* thread_;
};
// Its userdata (a 56-byte header with one user value + this) is then a 208-byte malloc
// chunk; an idle connection's memory is mostly its fiber.
static_assert(sizeof(lua_fiber) <= 144, "lua_fiber grew: see the idle-connection benchmark");

/// Registers luv.fiber, luv.self, luv.sleep, luv.run into the module table on top.
void open_fiber(lua_State* L);

/// Pops a function and `nargs` arguments, pushes a new fiber (not yet ready).
/// Never suspends.
void push_new_fiber(lua_State* L, int nargs);
/// Queues the fiber at `idx` (no-op unless it was never started). Never suspends.
void ready_fiber(lua_State* L, int idx);

}  // namespace luv::lua
