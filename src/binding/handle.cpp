#include "binding/handle.hpp"

#include "binding/await.hpp"

namespace luv::lua {

int push_status(lua_State* L, int status) {
    if (status < 0) {
        return push_fail(L, status);
    }
    lua_pushboolean(L, 1);
    return 1;
}

void new_class(lua_State* L, const char* type, const luaL_Reg* methods,
               const luaL_Reg* metamethods) {
    luaL_newmetatable(L, type);
    luaL_setfuncs(L, metamethods, 0);
    lua_newtable(L);  // not luaL_newlib: that sizes the table from an array, not a pointer
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

}  // namespace luv::lua
