// luv/runtime.hpp - one runtime per OS thread: a libuv loop, the fiber scheduler, and the
// native stacks fibers park on.
#pragma once

#include <memory>

#include <uv.h>

namespace luv {

namespace detail {
class scheduler;
}

/// The runtime of the calling OS thread. Create one on a thread before spawning fibers
/// or opening the Lua module there (luaopen_luv creates one itself when the thread has
/// none, and destroys it when the lua_State closes).
///
/// Destroying a runtime unwinds the C++ fibers still alive (their pending waits throw
/// luv::forced_unwind), then closes the loop. Close any lua_State that uses it first.
class runtime {
public:
    /// Creates the runtime for the calling thread. Throws std::logic_error if the
    /// thread already has one, luv::system_error if libuv cannot make a loop.
    runtime();
    ~runtime();
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;

    /// The calling thread's runtime, or nullptr. Never suspends.
    static runtime* current() noexcept;
    /// The calling thread's runtime; throws std::logic_error if there is none.
    static runtime& get();

    /// The libuv loop, for hosts that add handles of their own. Callbacks must not
    /// block: they wake fibers, they do not run them.
    uv_loop_t* loop() noexcept;

    /// Runs fibers and the loop until nothing is ready and no active handle or timer
    /// can wake anything. Call it from the thread itself, not from a fiber (throws
    /// std::logic_error there). Suspends the calling thread's root.
    void run();

    /// The scheduler, for the library's own layers.
    detail::scheduler& scheduler() noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace luv
