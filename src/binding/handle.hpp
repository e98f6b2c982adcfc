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

/// Returns true, or the fail triple for a negative libuv status.
int push_status(lua_State* L, int status);

/// Registers the metatable `type`: `methods` under __index, `metamethods` on it.
void new_class(lua_State* L, const char* type, const luaL_Reg* methods,
               const luaL_Reg* metamethods);

}  // namespace luv::lua
