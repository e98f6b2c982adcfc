// luv.codec.encode, luv.codec.decode: the Lua face of the codec (codec_encode.cpp,
// codec_decode.cpp). Neither suspends: they run to the end on the caller's stack.
#include "binding/codec.hpp"
#include "binding/module.hpp"
#include "binding/trampoline.hpp"

namespace luv::lua {
namespace {

int codec_encode(lua_State* L) {
    push_encoded(L, 1, lua_gettop(L));
    return 1;
}

// An option that must be a boolean when given.
bool boolean_option(lua_State* L, const char* name, bool fallback) {
    int type = lua_getfield(L, 2, name);
    bool value = fallback;
    if (type == LUA_TBOOLEAN) {
        value = lua_toboolean(L, -1) != 0;
    } else if (type != LUA_TNIL) {
        luaL_argerror(L, 2, lua_pushfstring(L, "'%s' must be a boolean, got %s", name,
                                            luaL_typename(L, -1)));
    }
    lua_pop(L, 1);
    return value;
}

int codec_decode(lua_State* L) {
    std::size_t len = 0;
    const char* data = luaL_checklstring(L, 1, &len);
    decode_options options;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        options.functions = boolean_option(L, "functions", true);
        // A hook calls a function that the data names, so safe mode refuses hooks too
        // unless they are asked for.
        options.hooks = boolean_option(L, "hooks", options.functions);
    }
    // The string stays at index 1, alive, while the values are pushed above it.
    lua_settop(L, 2);
    return decode_values(L, data, len, options);
}

const luaL_Reg codec_functions[] = {
    {"encode", LUV_FN(codec_encode)},
    {"decode", LUV_FN(codec_decode)},
    {nullptr, nullptr},
};

}  // namespace

void open_codec(lua_State* L) {
    luaL_newlib(L, codec_functions);
    lua_setfield(L, -2, "codec");
}

}  // namespace luv::lua
