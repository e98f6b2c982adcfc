// Helpers shared by the bindings of libuv handles (timer, idle, and later streams): the
// userdata holds a pointer to the C++ handle object, nullptr once closed.
#pragma once

#include <lua.hpp>

namespace luv::lua {

/// Pushes a new userdata of metatable `type` holding `ptr`. Never suspends.
template <class T>
T** push_handle(lua_State* L, const char* type, T* ptr) {
    auto** slot = static_cast<T**>(lua_newuserdatauv(L, sizeof(T*), 0));
    *slot = ptr;
    luaL_setmetatable(L, type);
    return slot;
}

/// The handle at `idx`; raises "attempt to use a closed <type>" after close().
template <class T>
T& check_open(lua_State* L, int idx, const char* type) {
    auto** slot = static_cast<T**>(luaL_checkudata(L, idx, type));
    if (*slot == nullptr) {
        luaL_error(L, "attempt to use a closed %s", type);
    }
    return **slot;
}

/// close(): closes the handle at 1 (its waiters wake with ECANCELED) and forgets it;
/// idempotent, returns true. Also the __gc and __close metamethods.
template <class T>
int close_handle(lua_State* L, const char* type) {
    auto** slot = static_cast<T**>(luaL_checkudata(L, 1, type));
    if (*slot != nullptr) {
        T* h = *slot;
        *slot = nullptr;
        h->close();
    }
    lua_pushboolean(L, 1);
    return 1;
}

/// __tostring: "luv.timer: 0x...", with " (closed)" once closed.
template <class T>
int handle_tostring(lua_State* L, const char* type) {
    auto** slot = static_cast<T**>(luaL_checkudata(L, 1, type));
    lua_pushfstring(L, *slot != nullptr ? "%s: %p" : "%s: %p (closed)", type,
                    static_cast<void*>(slot));
    return 1;
}

/// Returns true, or the fail triple for a negative libuv status.
int push_status(lua_State* L, int status);

/// Registers the metatable `type`: `methods` under __index, `metamethods` on it.
void new_class(lua_State* L, const char* type, const luaL_Reg* methods,
               const luaL_Reg* metamethods);

}  // namespace luv::lua
