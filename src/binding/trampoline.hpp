// Every lua_CFunction of the module goes through trampoline<F>: C++ exceptions are caught
// here, the catch block is left, and only then is the Lua error raised. Debian's lua5.4
// is built as C, so lua_error is a longjmp that must never meet a live C++ destructor or
// an exception in flight.
#pragma once

#include <cstdio>
#include <exception>

#include <lua.hpp>

#include "luv/fiber.hpp"

namespace luv::lua {

template <lua_CFunction F>
int trampoline(lua_State* L) noexcept {
    char message[512];
    try {
        return F(L);
    } catch (const std::exception& e) {
        std::snprintf(message, sizeof message, "%s", e.what());
    } catch (const forced_unwind&) {
        std::snprintf(message, sizeof message, "luv: the runtime is shutting down");
    } catch (...) {
        std::snprintf(message, sizeof message, "luv: unknown C++ exception");
    }
    lua_pushstring(L, message);
    return lua_error(L);
}

/// The same for continuations (lua_KFunction), which Lua calls directly on resume.
template <lua_KFunction K>
int ktrampoline(lua_State* L, int status, lua_KContext ctx) noexcept {
    char message[512];
    try {
        return K(L, status, ctx);
    } catch (const std::exception& e) {
        std::snprintf(message, sizeof message, "%s", e.what());
    } catch (...) {
        std::snprintf(message, sizeof message, "luv: unknown C++ exception");
    }
    lua_pushstring(L, message);
    return lua_error(L);
}

}  // namespace luv::lua

#define LUV_FN(f) ::luv::lua::trampoline<f>
