// The library index of luv.codec: which values travel by name (see codec_library.hpp).
// Two tables, built together: `names` maps a value to its canonical encoding (for the
// encoder), `values` maps every encoding of a name to its value (for the decoder). The
// decoder accepts only names found here, so data cannot make it walk arbitrary paths.
#include <cstring>

#include "binding/codec_format.hpp"
#include "binding/codec_library.hpp"

namespace luv::lua::codec_library {
namespace {

const char names_key = 0;
const char values_key = 0;

// The standard libraries whose tables, C functions and userdata go by name. The base
// library's C functions are under "_G"; the global table itself has a tag of its own.
const char* const standard_libraries[] = {"coroutine", "debug", "io",    "math", "os",
                                          "package",   "string", "table", "utf8"};

// A luv module walked this deep is plenty: luv.net.tcp is two levels down. The bound also
// ends the walk in a table that contains itself.
const int max_walk_depth = 4;

bool is_luv_module(const char* module, std::size_t len) {
    return (len == 3 && std::memcmp(module, "luv", 3) == 0) ||
           (len > 4 && std::memcmp(module, "luv.", 4) == 0);
}

// The module name of an encoding: a tag byte, a one-byte varint length (module names in
// the index are short), the name.
bool encodes_luv_name(const char* e, std::size_t n) {
    if (n < 2 || static_cast<unsigned char>(e[1]) >= 0x80) {
        return false;
    }
    std::size_t len = static_cast<unsigned char>(e[1]);
    return n >= 2 + len && is_luv_module(e + 2, len);
}

// Whether the name `a` is to be preferred to `b`: the standard library's first (present
// in any state), then the shorter, then the first in byte order.
bool better(const char* a, std::size_t an, const char* b, std::size_t bn) {
    bool a_luv = encodes_luv_name(a, an);
    bool b_luv = encodes_luv_name(b, bn);
    if (a_luv != b_luv) {
        return b_luv;
    }
    if (an != bn) {
        return an < bn;
    }
    return std::memcmp(a, b, an) < 0;
}

void add_varint(luaL_Buffer* b, std::size_t v) {
    while (v >= 0x80) {
        luaL_addchar(b, static_cast<char>(v | 0x80));
        v >>= 7;
    }
    luaL_addchar(b, static_cast<char>(v));
}

struct index_tables {
    int names;
    int values;
};

void add(lua_State* L, const index_tables& index, int value, const char* module,
         std::size_t module_len, const char* path, std::size_t path_len) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, static_cast<char>(codec_format::tag_library));
    add_varint(&b, module_len);
    luaL_addlstring(&b, module, module_len);
    add_varint(&b, path_len);
    luaL_addlstring(&b, path, path_len);
    luaL_pushresult(&b);
    int encoding = lua_gettop(L);
    lua_pushvalue(L, encoding);
    lua_pushvalue(L, value);
    lua_rawset(L, index.values);

    lua_pushvalue(L, value);
    if (lua_rawget(L, index.names) == LUA_TSTRING) {
        std::size_t new_len = 0;
        std::size_t old_len = 0;
        const char* new_name = lua_tolstring(L, encoding, &new_len);
        const char* old_name = lua_tolstring(L, -1, &old_len);
        if (!better(new_name, new_len, old_name, old_len)) {
            lua_pop(L, 2);
            return;
        }
    }
    lua_pop(L, 1);
    lua_pushvalue(L, value);
    lua_insert(L, -2);
    lua_rawset(L, index.names);
}

bool by_name_kind(int type) {
    return type == LUA_TTABLE || type == LUA_TFUNCTION || type == LUA_TUSERDATA;
}

// Everything reachable from a luv module through identifier keys goes by name, under every
// path that reaches it.
void walk(lua_State* L, const index_tables& index, int value, const char* module,
          std::size_t module_len, const char* path, std::size_t path_len, int depth) {
    add(L, index, value, module, module_len, path, path_len);
    if (lua_type(L, value) != LUA_TTABLE || depth >= max_walk_depth) {
        return;
    }
    luaL_checkstack(L, 8, "luv.codec");
    lua_pushnil(L);
    while (lua_next(L, value) != 0) {
        std::size_t key_len = 0;
        const char* key = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &key_len)
                                                         : nullptr;
        if (key != nullptr && is_name(key, key_len) && by_name_kind(lua_type(L, -1))) {
            if (path_len == 0) {
                lua_pushvalue(L, -2);
            } else {
                lua_pushfstring(L, "%s.%s", path, key);
            }
            std::size_t child_len = 0;
            const char* child = lua_tolstring(L, -1, &child_len);
            walk(L, index, lua_gettop(L) - 1, module, module_len, child, child_len, depth + 1);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}

// A library table by name, each of its C functions, and its userdata (io.stdout); for the
// base library ("_G") only its C functions.
void add_library(lua_State* L, const index_tables& index, int loaded, const char* name,
                 bool whole) {
    if (lua_getfield(L, loaded, name) != LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    int library = lua_gettop(L);
    std::size_t name_len = std::strlen(name);
    if (whole) {
        add(L, index, library, name, name_len, "", 0);
    }
    lua_pushnil(L);
    while (lua_next(L, library) != 0) {
        std::size_t key_len = 0;
        const char* key = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &key_len)
                                                         : nullptr;
        bool by_name = lua_iscfunction(L, -1) || (whole && lua_type(L, -1) == LUA_TUSERDATA);
        if (key != nullptr && is_name(key, key_len) && by_name) {
            add(L, index, lua_gettop(L), name, name_len, key, key_len);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

void push_weak_table(lua_State* L, const char* mode) {
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushstring(L, mode);
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
}

// Builds both tables and keeps them in the registry; the stack is left as it was. Weak,
// so that the index never keeps a replaced library value alive.
void build(lua_State* L) {
    luaL_checkstack(L, 16, "luv.codec");
    push_weak_table(L, "k");
    push_weak_table(L, "v");
    index_tables index{lua_gettop(L) - 1, lua_gettop(L)};
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    int loaded = lua_gettop(L);
    for (const char* name : standard_libraries) {
        add_library(L, index, loaded, name, true);
    }
    add_library(L, index, loaded, "_G", false);
    lua_pushnil(L);
    while (lua_next(L, loaded) != 0) {
        std::size_t name_len = 0;
        const char* name = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &name_len)
                                                          : nullptr;
        if (name != nullptr && is_luv_module(name, name_len) && lua_type(L, -1) == LUA_TTABLE) {
            walk(L, index, lua_gettop(L), name, name_len, "", 0, 0);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &values_key);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &names_key);
}

bool lookup_value(lua_State* L, const char* encoding, std::size_t len) {
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &values_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        return false;
    }
    lua_pushlstring(L, encoding, len);
    if (lua_rawget(L, -2) == LUA_TNIL) {
        lua_pop(L, 2);
        return false;
    }
    lua_remove(L, -2);
    return true;
}

// require(module) for a luv module that is not loaded yet; errors are swallowed, since
// the caller reports the name as unavailable.
void require_if_missing(lua_State* L, const char* module, std::size_t len) {
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushlstring(L, module, len);
    bool loaded = lua_rawget(L, -2) != LUA_TNIL;
    lua_pop(L, 2);
    if (loaded) {
        return;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_pushliteral(L, "require");
    lua_rawget(L, -2);
    lua_remove(L, -2);
    lua_pushlstring(L, module, len);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        lua_pop(L, 1);
    }
}

}  // namespace

void push_index(lua_State* L, bool rebuild) {
    if (!rebuild && lua_rawgetp(L, LUA_REGISTRYINDEX, &names_key) == LUA_TTABLE) {
        return;
    }
    if (!rebuild) {
        lua_pop(L, 1);
    }
    build(L);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &names_key);
}

bool push_value(lua_State* L, const char* encoding, std::size_t encoding_len,
                const char* module, std::size_t module_len) {
    luaL_checkstack(L, 8, "luv.codec");
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &values_key) != LUA_TTABLE) {
        build(L);  // the first decode in this state
    }
    lua_pop(L, 1);
    if (lookup_value(L, encoding, encoding_len)) {
        return true;
    }
    // Only a luv module can have been loaded since the index was built (the standard
    // libraries are there from the start). It is required on demand, as the receiving
    // state's own code would: a thread's state need not have loaded luv.fiber to receive
    // it. Other misses are plain errors, and cost no rebuild.
    if (!is_luv_module(module, module_len)) {
        return false;
    }
    require_if_missing(L, module, module_len);
    build(L);
    return lookup_value(L, encoding, encoding_len);
}

}  // namespace luv::lua::codec_library
