// The encoder's error messages: what could not be encoded, and the path from the argument
// list to it ("arg 1.key.sub[3]"). Only reached on the way to a Lua error.
#include "binding/codec_encoder.hpp"
#include "binding/codec_library.hpp"

namespace luv::lua::codec_encoder {
namespace {

void add_key(lua_State* L, luaL_Buffer* b, int key) {
    switch (lua_type(L, key)) {
    case LUA_TSTRING: {
        std::size_t n = 0;
        const char* s = lua_tolstring(L, key, &n);
        if (codec_library::is_name(s, n)) {
            luaL_addchar(b, '.');
            luaL_addlstring(b, s, n);
            return;
        }
        // Quoted, cut at 40 bytes, control and non-ASCII bytes shown as '?'.
        luaL_addstring(b, "[\"");
        for (std::size_t i = 0; i < n && i < 40; ++i) {
            auto c = static_cast<unsigned char>(s[i]);
            luaL_addchar(b, (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') ? '?' : s[i]);
        }
        luaL_addstring(b, n > 40 ? "...\"]" : "\"]");
        return;
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, key)) {
            lua_pushfstring(L, "[%I]", static_cast<LUAI_UACINT>(lua_tointeger(L, key)));
        } else {
            lua_pushfstring(L, "[%f]", static_cast<LUAI_UACNUMBER>(lua_tonumber(L, key)));
        }
        luaL_addvalue(b);
        return;
    case LUA_TBOOLEAN:
        luaL_addstring(b, lua_toboolean(L, key) ? "[true]" : "[false]");
        return;
    default:
        lua_pushfstring(L, "[%s]", luaL_typename(L, key));
        luaL_addvalue(b);
        return;
    }
}

void add_step(lua_State* L, luaL_Buffer* b, const frame& f) {
    switch (f.kind) {
    case step::arg:
        lua_pushfstring(L, "arg %I", static_cast<LUAI_UACINT>(f.number));
        luaL_addvalue(b);
        break;
    case step::index:
        lua_pushfstring(L, "[%I]", static_cast<LUAI_UACINT>(f.number));
        luaL_addvalue(b);
        break;
    case step::field:
        add_key(L, b, f.slot);
        break;
    case step::key:
        luaL_addstring(b, "<key>");
        break;
    case step::upvalue: {
        const char* name = lua_getupvalue(L, f.slot, static_cast<int>(f.number));
        if (name != nullptr) {
            lua_pop(L, 1);  // the upvalue's value; the name is a string the function keeps
        }
        if (name != nullptr && *name != '\0') {
            lua_pushfstring(L, "<upvalue %s>", name);
        } else {
            lua_pushfstring(L, "<upvalue %d>", static_cast<int>(f.number));
        }
        luaL_addvalue(b);
        break;
    }
    case step::hook_function:
        luaL_addstring(b, "<__codec function>");
        break;
    case step::hook_value:
        luaL_addstring(b, "<__codec value>");
        break;
    }
}

// Pushes the path of the value being encoded; a very deep one keeps its two ends.
void push_path(encoder& e) {
    lua_State* L = e.L;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    const int keep = 10;
    for (int i = 0; i < e.depth; ++i) {
        if (e.depth > 3 * keep && i == keep) {
            luaL_addstring(&b, "...");
            i = e.depth - keep;
        }
        add_step(L, &b, e.path[i]);
    }
    luaL_pushresult(&b);
}

}  // namespace

// lua_error does not return, but is not declared so.
void raise(encoder& e) {
    lua_error(e.L);
    __builtin_unreachable();
}

void fail(encoder& e, const char* what) {
    lua_checkstack(e.L, 8);
    push_path(e);
    lua_pushfstring(e.L, "%s: cannot encode %s at %s", e.who, what, lua_tostring(e.L, -1));
    raise(e);
}

void fail_userdata(encoder& e, int idx) {
    lua_checkstack(e.L, 8);
    if (luaL_getmetafield(e.L, idx, "__name") == LUA_TSTRING) {
        fail(e, lua_pushfstring(e.L, "a userdata (%s)", lua_tostring(e.L, -1)));
    }
    fail(e, "a userdata");
}

void fail_depth(encoder& e) {
    lua_checkstack(e.L, 8);
    push_path(e);
    lua_pushfstring(e.L, "%s: nesting deeper than %d levels at %s", e.who,
                    codec_format::max_depth, lua_tostring(e.L, -1));
    raise(e);
}

}  // namespace luv::lua::codec_encoder
