// luv.fiber: Lua fibers, plus the calls that are about the scheduler itself (luv.self,
// luv.sleep, luv.run).
#include "binding/fiber.hpp"

#include <cstdint>
#include <cstdio>
#include <new>
#include <string>
#include <utility>

#include "binding/await.hpp"
#include "binding/trampoline.hpp"
#include "core/scheduler.hpp"

namespace luv::lua {
namespace {

constexpr const char* fiber_type = "luv.fiber";
// What luv.self() returns on the thread's own stack (the main chunk under lua5.4).
constexpr const char* main_type = "luv.main";
// Registry key of the object luv.self() returns on the thread's own stack.
const char main_object_key = 0;

lua_fiber* check_fiber(lua_State* L, int idx) {
    return static_cast<lua_fiber*>(luaL_checkudata(L, idx, fiber_type));
}

const char* status_name(const detail::fiber_base& f, const detail::scheduler& s) {
    switch (f.status()) {
    case detail::fiber_base::state::ready:
        return "ready";
    case detail::fiber_base::state::running:
        return s.current() == &f ? "running" : "normal";
    case detail::fiber_base::state::dead:
        return "dead";
    default:
        return "suspended";
    }
}

void start(lua_State* L, int idx, lua_fiber& f) {
    if (f.status() != detail::fiber_base::state::created) {
        return;
    }
    lua_pushvalue(L, idx);
    f.anchor = luaL_ref(L, LUA_REGISTRYINDEX);
    f.sched().ready(f);
}

// Copies the results (or raises the error) of a dead fiber onto L.
int push_outcome(lua_State* L, lua_fiber& f) {
    lua_State* T = f.thread();
    const int n = lua_gettop(T);  // the results, or the error
    const int base = 0;
    luaL_checkstack(L, n, "too many results from the fiber");
    for (int i = 1; i <= n; ++i) {
        lua_pushvalue(T, base + i);
        lua_xmove(T, L, 1);
    }
    if (f.failed()) {
        return lua_error(L);
    }
    return n;
}

// ---- fiber methods ------------------------------------------------------------------

int fiber_create(lua_State* L) {
    if (lua_type(L, 1) != LUA_TFUNCTION) {
        if (luaL_getmetafield(L, 1, "__call") == LUA_TNIL) {
            return luaL_typeerror(L, 1, "function");
        }
        lua_pop(L, 1);
    }
    push_new_fiber(L, lua_gettop(L) - 1);
    return 1;
}

int fiber_ready(lua_State* L) {
    lua_fiber* f = check_fiber(L, 1);
    start(L, 1, *f);
    lua_settop(L, 1);
    return 1;
}

int join_k(lua_State* L, int, lua_KContext);

int fiber_join(lua_State* L) {
    lua_fiber* f = check_fiber(L, 1);
    const std::uint64_t deadline = opt_deadline(L, 2);
    lua_settop(L, 1);
    detail::scheduler& s = sched(L);
    if (s.current() == f) {
        return luaL_error(L, "luv: a fiber cannot join itself");
    }
    if (f->status() == detail::fiber_base::state::dead) {
        return push_outcome(L, *f);
    }
    start(L, 1, *f);
    detail::waiter& w = begin_wait(L, deadline);
    if (w.waiting()) {
        f->joiners().push(w);
    }
    return finish_wait(L, w, &ktrampoline<join_k>);
}

int join_k(lua_State* L, int, lua_KContext) {
    auto* f = static_cast<lua_fiber*>(lua_touserdata(L, 1));
    if (f->status() == detail::fiber_base::state::dead) {
        return push_outcome(L, *f);
    }
    const detail::wait_status how = current_wait(L).status();
    if (how == detail::wait_status::deadlock) {
        return luaL_error(L, "luv: deadlock: joining a fiber that can never finish");
    }
    if (how == detail::wait_status::timed_out) {
        return luaL_error(L, "ETIMEDOUT: the fiber did not finish in time (join)");
    }
    return luaL_error(L, "ECANCELED: operation canceled (join)");
}

int fiber_cancel(lua_State* L) {
    lua_pushboolean(L, check_fiber(L, 1)->cancel());
    return 1;
}

int fiber_status(lua_State* L) {
    lua_fiber* f = check_fiber(L, 1);
    lua_pushstring(L, status_name(*f, sched(L)));
    return 1;
}

int fiber_tostring(lua_State* L) {
    lua_pushfstring(L, "luv.fiber: %p", lua_touserdata(L, 1));
    return 1;
}

int fiber_gc(lua_State* L) {
    auto* f = static_cast<lua_fiber*>(lua_touserdata(L, 1));
    // Only reachable for a fiber that is dead or never started, or while the Lua state
    // closes with fibers still suspended: those are dropped.
    if (f->status() != detail::fiber_base::state::dead && runtime::current() != nullptr) {
        f->sched().forget(*f);
    }
    f->~lua_fiber();
    return 0;
}

// ---- module functions ---------------------------------------------------------------

int fiber_yield(lua_State* L) {
    detail::scheduler& s = sched(L);
    detail::fiber_base* self = s.current();
    if (self->what() == detail::fiber_base::kind::lua &&
        static_cast<lua_fiber*>(self)->thread() == L && lua_isyieldable(L) != 0 &&
        s.stacks().in_use() >= detail::scheduler::native_yield_stacks) {
        return lua_yield(L, 0);  // re-queued at the tail by the scheduler
    }
    bool failed = false;
    try {
        s.yield();
    } catch (const std::exception&) {
        failed = true;
    }
    if (failed) {
        return luaL_error(L, "luv: cannot allocate a stack to yield here");
    }
    return 0;
}

int self_(lua_State* L) {
    detail::fiber_base* self = sched(L).current();
    switch (self->what()) {
    case detail::fiber_base::kind::lua:
        lua_rawgeti(L, LUA_REGISTRYINDEX, static_cast<lua_fiber*>(self)->anchor);
        break;
    case detail::fiber_base::kind::root:
        lua_rawgetp(L, LUA_REGISTRYINDEX, &main_object_key);
        break;
    default:
        lua_pushnil(L);  // a C++ fiber running Lua code has no Lua object
        break;
    }
    return 1;
}

int sleep_k(lua_State* L, int, lua_KContext) {
    const detail::wait_status how = current_wait(L).status();
    if (how == detail::wait_status::timed_out) {
        lua_pushboolean(L, 1);
        return 1;
    }
    return push_wait_failure(L, how);
}

int sleep_(lua_State* L) {
    const std::uint64_t deadline = opt_deadline(L, 1);
    if (deadline == 0) {
        luaL_checknumber(L, 1);
    }
    detail::waiter& w = begin_wait(L, deadline);
    return finish_wait(L, w, &ktrampoline<sleep_k>);
}

int run_k(lua_State* L, int, lua_KContext) {
    const detail::wait_status how = current_wait(L).status();
    if (how == detail::wait_status::deadlock || how == detail::wait_status::notified) {
        lua_pushboolean(L, 1);
        return 1;
    }
    return push_wait_failure(L, how);
}

int run(lua_State* L) {
    // Handles that nothing refers to any more (a started timer dropped on the floor)
    // would keep the loop alive until some later collection: collect them now.
    lua_gc(L, LUA_GCCOLLECT);
    detail::scheduler& s = sched(L);
    detail::waiter& w = begin_wait(L, 0);
    if (w.waiting() && s.in_fiber()) {
        s.quiescence().push(w);  // a fiber waits until everything else is over
    }
    return finish_wait(L, w, &ktrampoline<run_k>);
}

// Counters of the scheduler, for tests and for looking at a live process.
int stats(lua_State* L) {
    detail::scheduler& s = sched(L);
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, static_cast<lua_Integer>(s.stacks().in_use()));
    lua_setfield(L, -2, "stacks_in_use");
    lua_pushinteger(L, static_cast<lua_Integer>(s.stacks().cached()));
    lua_setfield(L, -2, "stacks_cached");
    lua_pushinteger(L, static_cast<lua_Integer>(s.stacks().stack_size()));
    lua_setfield(L, -2, "stack_size");
    lua_pushinteger(L, static_cast<lua_Integer>(s.switches()));
    lua_setfield(L, -2, "switches");
    lua_pushinteger(L, static_cast<lua_Integer>(s.unjoined_errors()));
    lua_setfield(L, -2, "unjoined_errors");
    return 1;
}

// ---- the main object (what luv.self() is outside fibers) ----------------------------

int main_status(lua_State* L) {
    lua_pushstring(L, sched(L).in_fiber() ? "normal" : "running");
    return 1;
}

int main_cancel(lua_State* L) {
    lua_pushboolean(L, sched(L).root().cancel());
    return 1;
}

int main_tostring(lua_State* L) {
    lua_pushfstring(L, "luv.main: %p", lua_touserdata(L, 1));
    return 1;
}

const luaL_Reg fiber_methods[] = {
    {"ready", LUV_FN(fiber_ready)},   {"join", LUV_FN(fiber_join)},
    {"cancel", LUV_FN(fiber_cancel)}, {"status", LUV_FN(fiber_status)},
    {nullptr, nullptr},
};

const luaL_Reg fiber_metamethods[] = {
    {"__gc", LUV_FN(fiber_gc)},
    {"__tostring", LUV_FN(fiber_tostring)},
    {"__index", nullptr},
    {nullptr, nullptr},
};

const luaL_Reg fiber_module[] = {
    {"create", LUV_FN(fiber_create)},
    {"yield", LUV_FN(fiber_yield)},
    {"self", LUV_FN(self_)},
    {nullptr, nullptr},
};

const luaL_Reg main_methods[] = {
    {"status", LUV_FN(main_status)},
    {"cancel", LUV_FN(main_cancel)},
    {"__tostring", LUV_FN(main_tostring)},
    {nullptr, nullptr},
};

const luaL_Reg luv_functions[] = {
    {"self", LUV_FN(self_)},
    {"sleep", LUV_FN(sleep_)},
    {"run", LUV_FN(run)},
    {"stats", LUV_FN(stats)},
    {nullptr, nullptr},
};

}  // namespace

detail::fiber_base::slice lua_fiber::run_slice() {
    int nres = 0;
    // Before the first resume the stack holds the function and its arguments; later
    // resumes continue a yield and pass nothing.
    const int nargs = lua_status(thread_) == LUA_OK ? lua_gettop(thread_) - 1 : 0;
    const int status = lua_resume(thread_, nullptr, nargs, &nres);
    if (status == LUA_YIELD) {
        // finish_wait leaves through lua_yieldk with the wait registered; a
        // coroutine.yield() at the fiber's own level has no wait in progress.
        if (waiting_on() != nullptr) {
            return slice::waiting;
        }
        lua_pop(thread_, nres);
        return slice::yielded;
    }
    if (status == LUA_OK) {
        // push_outcome reads the whole stack as the results.
        if (lua_gettop(thread_) > nres) {
            lua_rotate(thread_, 1, nres);
            lua_settop(thread_, nres);
        }
        return slice::finished;
    }
    mark_failed();
    // The traceback must be taken before the stack is unwound, but the __close handlers
    // that the unwinding runs should see the bare error, as under coroutine.wrap.
    std::string traceback;
    const bool is_string = lua_type(thread_, -1) == LUA_TSTRING;
    if (is_string) {
        luaL_traceback(thread_, thread_, lua_tostring(thread_, -1), 0);
        traceback = lua_tostring(thread_, -1);
        lua_pop(thread_, 1);
    }
    lua_pushvalue(thread_, -1);
    lua_rawsetp(thread_, LUA_REGISTRYINDEX, this);  // remember the original error
    // Unwind the dead coroutine as coroutine.wrap does: its pending to-be-closed
    // variables (`local t <close> = ...`) are closed now, and its stack becomes usable
    // again, with the error (or an error of a __close handler) left at the top.
    lua_resetthread(thread_);
    lua_rawgetp(thread_, LUA_REGISTRYINDEX, this);
    const bool unchanged = lua_rawequal(thread_, -1, -2) != 0;
    lua_pop(thread_, 1);
    lua_pushnil(thread_);
    lua_rawsetp(thread_, LUA_REGISTRYINDEX, this);
    if (is_string && unchanged) {
        lua_pop(thread_, 1);
        lua_pushlstring(thread_, traceback.data(), traceback.size());
    }
    if (lua_gettop(thread_) > 1) {  // the error alone is the outcome
        lua_replace(thread_, 1);
        lua_settop(thread_, 1);
    }
    return slice::finished;
}

void lua_fiber::on_finished(bool joined) noexcept {
    if (failed() && !joined) {
        sched().count_unjoined_error();
        // luaL_tolstring honours __tostring; an error object without one reads
        // "table: 0x...". It may raise (a faulty __tostring), so it runs protected.
        lua_pushcfunction(thread_, [](lua_State* T) -> int {
            luaL_tolstring(T, 1, nullptr);
            return 1;
        });
        lua_pushvalue(thread_, -2);
        const bool ok = lua_pcall(thread_, 1, 1, 0) == LUA_OK;
        std::fprintf(stderr, "luv: error in fiber: %s\n",
                     ok ? lua_tostring(thread_, -1) : "(error object cannot be printed)");
        std::fflush(stderr);
        lua_pop(thread_, 1);
    }
    luaL_unref(thread_, LUA_REGISTRYINDEX, std::exchange(anchor, LUA_NOREF));
}

void push_new_fiber(lua_State* L, int nargs) {
    (void)sched(L);  // raises without a runtime on this thread
    lua_State* T = lua_newthread(L);
    lua_insert(L, -(nargs + 2));     // thread below the function and its arguments
    lua_xmove(L, T, nargs + 1);      // function and arguments move to the new thread
    void* mem = lua_newuserdatauv(L, sizeof(lua_fiber), 1);
    new (mem) lua_fiber(T);
    luaL_setmetatable(L, fiber_type);
    lua_insert(L, -2);
    lua_setiuservalue(L, -2, 1);     // the userdata keeps its thread alive
}

void ready_fiber(lua_State* L, int idx) {
    idx = lua_absindex(L, idx);
    start(L, idx, *check_fiber(L, idx));
}

void open_fiber(lua_State* L) {
    luaL_newmetatable(L, fiber_type);
    luaL_setfuncs(L, fiber_metamethods, 0);
    luaL_newlib(L, fiber_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);

    luaL_newmetatable(L, main_type);
    luaL_setfuncs(L, main_methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_newuserdatauv(L, 0, 0);
    luaL_setmetatable(L, main_type);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &main_object_key);

    luaL_newlib(L, fiber_module);
    lua_setfield(L, -2, "fiber");
    luaL_setfuncs(L, luv_functions, 0);
}

}  // namespace luv::lua
