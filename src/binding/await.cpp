#include "binding/await.hpp"

#include <cmath>
#include <cstring>
#include <exception>
#include <string>

#include "binding/fiber.hpp"
#include "core/current.hpp"
#include "luv/error.hpp"
#include "luv/runtime.hpp"

namespace luv::lua {
namespace {

bool takes_yield_path(detail::scheduler& s, lua_State* L) {
    detail::fiber_base* f = s.current();
    return f->what() == detail::fiber_base::kind::lua &&
           static_cast<lua_fiber*>(f)->thread() == L && lua_isyieldable(L) != 0;
}

// Parking natively is possible almost anywhere, but not where Lua itself forbids any
// switch: a finalizer runs in the middle of a collection, a hook in the middle of an
// instruction. Lua 5.4 names such frames in lua_getinfo, so a short walk finds them.
void check_may_park(lua_State* L) {
    if (lua_gc(L, LUA_GCISRUNNING) == -1) {
        luaL_error(L, "luv: cannot suspend inside a __gc finalizer");
    }
    lua_Debug ar;
    for (int level = 0; lua_getstack(L, level, &ar) != 0; ++level) {
        if (lua_getinfo(L, "n", &ar) == 0 || ar.namewhat == nullptr) {
            continue;
        }
        if (std::strcmp(ar.namewhat, "hook") == 0) {
            luaL_error(L, "luv: cannot suspend inside a debug hook");
        }
        if (std::strcmp(ar.namewhat, "metamethod") == 0 && ar.name != nullptr &&
            std::strcmp(ar.name, "__gc") == 0) {
            luaL_error(L, "luv: cannot suspend inside a __gc finalizer");
        }
    }
}

}  // namespace

detail::scheduler& sched(lua_State* L) {
    detail::scheduler* s = detail::current_scheduler;
    if (s == nullptr) {
        luaL_error(L, "luv: no runtime on this thread");
    }
    return *s;
}

detail::waiter& begin_wait(lua_State* L, std::uint64_t deadline_ms) {
    detail::scheduler& s = sched(L);
    if (!takes_yield_path(s, L)) {
        check_may_park(L);
    }
    detail::waiter& w = s.current()->own_wait;
    if (w.waiting()) {
        luaL_error(L, "luv: internal error: a fiber began a second wait");
    }
    s.begin_wait(w, deadline_ms);
    return w;
}

int finish_wait(lua_State* L, detail::waiter& w, lua_KFunction k, lua_KContext ctx) {
    if (w.waiting()) {
        if (takes_yield_path(sched(L), L)) {
            // run_slice reads the registered wait as "waiting", not a coroutine.yield().
            return lua_yieldk(L, 0, ctx, k);
        }
        park_wait(L, w);
    }
    return k(L, LUA_YIELD, ctx);
}

detail::waiter& begin_park(lua_State* L, std::uint64_t deadline_ms) {
    detail::scheduler& s = sched(L);
    check_may_park(L);
    detail::waiter& w = s.current()->own_wait;
    if (w.waiting()) {
        luaL_error(L, "luv: internal error: a fiber began a second wait");
    }
    s.begin_wait(w, deadline_ms);
    return w;
}

detail::wait_status park_wait(lua_State* L, detail::waiter& w) {
    if (!w.waiting()) {
        return w.status();
    }
    bool failed = false;
    char message[256];
    try {
        sched(L).suspend(w);
    } catch (const std::exception& e) {
        std::snprintf(message, sizeof message, "luv: cannot suspend here: %s", e.what());
        failed = true;
    }
    if (failed) {
        luaL_error(L, "%s", message);
    }
    return w.status();
}

detail::waiter& current_wait(lua_State* L) { return sched(L).current()->own_wait; }

std::uint64_t opt_deadline(lua_State* L, int arg) {
    if (lua_isnoneornil(L, arg)) {
        return 0;
    }
    const lua_Number seconds = luaL_checknumber(L, arg);
    luaL_argcheck(L, seconds >= 0 && !std::isnan(seconds), arg, "timeout must be >= 0");
    const double ms = std::ceil(seconds * 1000.0);
    return sched(L).deadline_after_ms(ms > 9e15 ? static_cast<std::uint64_t>(9e15)
                                                : static_cast<std::uint64_t>(ms));
}

std::uint64_t object_deadline(lua_State* L, int arg, double object_timeout) {
    if (!lua_isnoneornil(L, arg) || object_timeout < 0) {
        return opt_deadline(L, arg);
    }
    const double ms = std::ceil(object_timeout * 1000.0);
    return sched(L).deadline_after_ms(ms > 9e15 ? static_cast<std::uint64_t>(9e15)
                                                : static_cast<std::uint64_t>(ms));
}

int notified_k(lua_State* L, int, lua_KContext) {
    const detail::wait_status how = current_wait(L).status();
    if (how == detail::wait_status::notified) {
        lua_pushboolean(L, 1);
        return 1;
    }
    return push_wait_failure(L, how);
}

int status_k(lua_State* L, int, lua_KContext) {
    const detail::waiter& w = current_wait(L);
    if (w.status() != detail::wait_status::notified) {
        return push_wait_failure(L, w.status());
    }
    if (w.value < 0) {
        return push_fail(L, static_cast<int>(w.value));
    }
    lua_pushboolean(L, 1);
    return 1;
}

int push_fail(lua_State* L, int status) {
    const std::string name = error_name(status);
    const std::string message = error_message(status);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", name.c_str(), message.c_str());
    lua_pushlstring(L, name.data(), name.size());
    return 3;
}

int push_fail(lua_State* L, int status, const char* what) {
    const std::string name = error_name(status);
    const std::string message = error_message(status);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s: %s", name.c_str(), message.c_str(), what);
    lua_pushlstring(L, name.data(), name.size());
    return 3;
}

int push_wait_failure(lua_State* L, detail::wait_status how) {
    switch (how) {
    case detail::wait_status::timed_out:
        return push_fail(L, UV_ETIMEDOUT);
    case detail::wait_status::deadlock:
        return luaL_error(L, "luv: deadlock: this wait can never end (no fiber is ready and "
                             "no active handle or timer is left)");
    default:
        return push_fail(L, UV_ECANCELED);
    }
}

}  // namespace luv::lua
