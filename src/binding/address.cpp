#include "binding/address.hpp"

#include "uv/address.hpp"

namespace luv::lua {

int check_port(lua_State* L, int arg) {
    const lua_Integer port = luaL_checkinteger(L, arg);
    luaL_argcheck(L, port >= 0 && port <= 65535, arg, "port must be in 0..65535");
    return static_cast<int>(port);
}

void push_address(lua_State* L, const sockaddr* sa) {
    char host[detail::address_buffer_size];
    int port = 0;
    const int af = detail::format_address(sa, host, port);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, detail::family_name(af));
    lua_setfield(L, -2, "family");
    lua_pushstring(L, host);
    lua_setfield(L, -2, "address");
    lua_pushinteger(L, port);
    lua_setfield(L, -2, "port");
}

}  // namespace luv::lua
