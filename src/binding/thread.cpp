// luv.thread: OS threads, each with a lua_State, a runtime and a loop of its own. The
// function and its arguments travel to the new state through the codec, and its results
// come back the same way; the libuv side (the OS thread, the wake-up of the joiner) is in
// src/uv/thread.cpp.
//
// A thread runs like the `luv` command runs a script: its function runs in a fiber, and
// when it returns the thread's loop runs on until the fibers and handles it left behind
// are done. Only then are its results encoded and its state closed, so a join sees a
// thread that has finished everything it started.
#include <cstdint>
#include <string>

#include "binding/await.hpp"
#include "binding/codec.hpp"
#include "binding/handle.hpp"
#include "binding/module.hpp"
#include "binding/trampoline.hpp"
#include "luv/error.hpp"
#include "luv/lua.hpp"
#include "uv/thread.hpp"

namespace luv::lua {
namespace {

constexpr const char* thread_type = "luv.thread";
// Registry key of the per-state object whose finalizer waits for the state's threads.
const char owner_sentinel_key = 0;

using detail::thread_handle;

// ---- the new thread -------------------------------------------------------------------

// Protected, on the new thread's root: decodes the function and its arguments, runs it in
// a fiber, then runs the loop (luv.run, at 2) until everything else is done. Returns
// true and the results, or false and the error (with the fiber's traceback).
int run_function(lua_State* L) {
    auto* h = static_cast<thread_handle*>(lua_touserdata(L, 1));
    lua_rotate(L, 1, -1);
    lua_settop(L, 1);  // luv.run
    decode_options options;
    options.who = "luv.thread";
    const std::string& input = h->input();
    const int n = decode_values(L, input.data(), input.size(), options);
    h->drop_input();
    if (n < 1 || lua_type(L, 2) != LUA_TFUNCTION) {
        return luaL_error(L, "luv.thread: the thread was given no function");
    }
    spawn(L, n - 1);  // the fiber, at 2
    if (join(L, 2) != LUA_OK) {
        lua_pushboolean(L, 0);
        lua_replace(L, 2);
        return 2;
    }
    lua_pushvalue(L, 1);
    lua_call(L, 0, 0);
    lua_pushboolean(L, 1);
    lua_replace(L, 2);
    return lua_gettop(L) - 1;
}

// Encodes its arguments; the prefix of error messages is upvalue 1.
int encode_arguments(lua_State* L) {
    const auto* who = static_cast<const char*>(lua_touserdata(L, lua_upvalueindex(1)));
    push_encoded(L, 1, lua_gettop(L), who);
    return 1;
}

// Encodes the values first..top, protected; leaves the string, or the error, on top.
bool encode_protected(lua_State* L, int first, const char* who) {
    const int last = lua_gettop(L);
    luaL_checkstack(L, last - first + 3, "luv.thread");
    lua_pushlightuserdata(L, const_cast<char*>(who));
    lua_pushcclosure(L, LUV_FN(encode_arguments), 1);
    for (int i = first; i <= last; ++i) {
        lua_pushvalue(L, i);
    }
    return lua_pcall(L, last - first + 1, 1, 0) == LUA_OK;
}

int tostring_value(lua_State* L) {
    luaL_tolstring(L, 1, nullptr);
    return 1;
}

// Replaces the value at idx with its text (honouring __tostring), protected.
void to_text(lua_State* L, int idx) {
    idx = lua_absindex(L, idx);
    lua_pushcfunction(L, &tostring_value);
    lua_pushvalue(L, idx);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK || lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 1);
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, idx));
    }
    lua_replace(L, idx);
}

// Protected, the whole life of the thread's state: opens the libraries and luv (which
// makes the thread's runtime), runs the function, encodes the outcome into the handle.
int thread_main(lua_State* L) {
    auto* h = static_cast<thread_handle*>(lua_touserdata(L, 1));
    luaL_openlibs(L);
    open(L);  // package.loaded.luv; also the global `luv`, as in the luv command
    lua_getfield(L, -1, "run");
    lua_insert(L, -2);
    lua_setglobal(L, "luv");
    lua_pushcfunction(L, LUV_FN(run_function));
    lua_pushlightuserdata(L, h);
    lua_pushvalue(L, 2);
    const int base = 3;  // ok, then the values
    if (lua_pcall(L, 2, LUA_MULTRET, 0) != LUA_OK) {
        // Decoding the function failed, or the loop after it raised.
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
    }
    bool ok = lua_toboolean(L, base) != 0;
    if (ok && !encode_protected(L, base + 1, "luv.thread: the results of the thread")) {
        // A result that cannot travel: the join gets false and the codec's message.
        luaL_gsub(L, lua_tostring(L, -1), " at arg ", " at result ");
        lua_replace(L, base + 1);
        lua_settop(L, base + 1);
        ok = false;
    }
    if (!ok) {
        lua_settop(L, base + 1);  // the error alone
        if (!encode_protected(L, base + 1, "luv.thread")) {
            lua_pop(L, 1);  // an error object that cannot travel goes as its text
            to_text(L, base + 1);
            if (!encode_protected(L, base + 1, "luv.thread")) {
                return lua_error(L);
            }
        }
        to_text(L, base + 1);  // what stderr gets if nobody joins
    }
    std::size_t len = 0;
    const char* bytes = lua_tolstring(L, -1, &len);
    const char* text = ok ? "" : lua_tostring(L, base + 1);
    h->set_outcome(ok, std::string(bytes, len), std::string(text));
    return 0;
}

// The body of every thread, on the new OS thread. Everything Lua does runs under
// lua_pcall, so no error can reach the panic function.
void run_thread(thread_handle& h) noexcept {
    // The outcome for when no Lua value can carry it: the join gets false and the text.
    auto fail = [&h](const char* what, const char* message) noexcept {
        try {
            h.set_outcome(false, {}, std::string(what) + (message != nullptr ? message : ""));
        } catch (...) {
            h.set_outcome(false, {}, {});
        }
    };
    lua_State* L = luaL_newstate();
    if (L == nullptr) {
        fail("luv.thread: cannot create a Lua state: not enough memory", nullptr);
        return;
    }
    lua_pushcfunction(L, LUV_FN(thread_main));
    lua_pushlightuserdata(L, &h);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        // The state could not be set up (no runtime, no loop), or memory ran out.
        fail("luv.thread: the thread failed: ", lua_tostring(L, -1));
    }
    lua_close(L);
}

// ---- the parent's side ----------------------------------------------------------------

thread_handle& check_thread(lua_State* L) {
    auto** slot = static_cast<thread_handle**>(luaL_checkudata(L, 1, thread_type));
    if (*slot == nullptr) {
        luaL_error(L, "attempt to use a %s that never started", thread_type);
    }
    return **slot;
}

const void* owner_of(lua_State* L) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    const void* owner = lua_tothread(L, -1);
    lua_pop(L, 1);
    return owner;
}

int owner_gc(lua_State* L) {
    thread_handle::join_owned(*static_cast<const void**>(lua_touserdata(L, 1)));
    return 0;
}

// The state's threads must end before the state (and with it, maybe, the runtime whose
// loop they report to) goes away: a finalizer waits for them. It is made before the first
// thread starts, so it is finalized before the runtime's own sentinel (Lua calls
// finalizers in the reverse order of their marking).
void ensure_owner_sentinel(lua_State* L) {
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &owner_sentinel_key) != LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    auto* owner = static_cast<const void**>(lua_newuserdatauv(L, sizeof(void*), 0));
    *owner = owner_of(L);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, LUV_FN(owner_gc));
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &owner_sentinel_key);
}

// spawn(f, ...) -> thread | fail. Never suspends.
int thread_spawn(lua_State* L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    detail::scheduler& s = sched(L);
    const int top = lua_gettop(L);
    push_encoded(L, 1, top, "luv.thread.spawn");  // raises for what cannot travel
    ensure_owner_sentinel(L);
    auto** slot = static_cast<thread_handle**>(lua_newuserdatauv(L, sizeof(thread_handle*), 0));
    *slot = nullptr;
    luaL_setmetatable(L, thread_type);
    std::size_t len = 0;
    const char* bytes = lua_tolstring(L, top + 1, &len);
    int failure = 0;
    try {
        *slot = thread_handle::start(s, std::string(bytes, len), &run_thread, owner_of(L));
    } catch (const system_error& e) {
        failure = e.status();  // EAGAIN: too many threads, or no memory for a stack
    }
    if (failure != 0) {
        return push_fail(L, failure, "luv.thread.spawn");
    }
    return 1;
}

int push_outcome(lua_State* L, thread_handle& h) {
    h.mark_joined();
    lua_pushboolean(L, h.succeeded());
    const std::string& values = h.values();
    if (values.empty()) {
        lua_pushstring(L, h.error_text().c_str());
        return 2;
    }
    decode_options options;
    options.who = "luv.thread.join";
    return 1 + decode_values(L, values.data(), values.size(), options);
}

int join_k(lua_State* L, int, lua_KContext) {
    thread_handle& h = **static_cast<thread_handle**>(lua_touserdata(L, 1));
    if (h.finished()) {
        return push_outcome(L, h);
    }
    return push_wait_failure(L, current_wait(L).status());
}

// join([timeout]) -> true, results... | false, error | fail. Suspends until the thread
// has ended.
int thread_join(lua_State* L) {
    thread_handle& h = check_thread(L);
    const std::uint64_t deadline = opt_deadline(L, 2);
    lua_settop(L, 1);
    if (h.finished()) {
        return push_outcome(L, h);
    }
    detail::waiter& w = begin_wait(L, deadline);
    if (w.waiting()) {
        h.wait(w);
    }
    return finish_wait(L, w, &ktrampoline<join_k>);
}

int thread_gc(lua_State* L) {
    auto** slot = static_cast<thread_handle**>(luaL_checkudata(L, 1, thread_type));
    if (thread_handle* h = *slot) {
        *slot = nullptr;
        h->release();
    }
    return 0;
}

int thread_tostring(lua_State* L) {
    lua_pushfstring(L, "%s: %p", thread_type, lua_touserdata(L, 1));
    return 1;
}

const luaL_Reg methods[] = {
    {"join", LUV_FN(thread_join)},
    {nullptr, nullptr},
};

const luaL_Reg metamethods[] = {
    {"__gc", LUV_FN(thread_gc)},
    {"__tostring", LUV_FN(thread_tostring)},
    {nullptr, nullptr},
};

}  // namespace

void open_thread(lua_State* L) {
    new_class(L, thread_type, methods, metamethods);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, LUV_FN(thread_spawn));
    lua_setfield(L, -2, "spawn");
    lua_setfield(L, -2, "thread");
}

}  // namespace luv::lua
