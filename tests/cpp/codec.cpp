// The codec's C++ face (binding/codec.hpp), as the threads module will use it: values
// encoded in one lua_State and decoded in another, which shares nothing with the first.
#include <cstring>
#include <string>

#include <catch2/catch.hpp>
#include <lua.hpp>

#include "binding/codec.hpp"

using Catch::Matchers::Contains;

namespace {

// A plain state with the standard libraries, closed at the end of the scope.
struct plain_state {
    lua_State* L = luaL_newstate();
    plain_state() { luaL_openlibs(L); }
    ~plain_state() { lua_close(L); }
    plain_state(const plain_state&) = delete;
    plain_state& operator=(const plain_state&) = delete;
};

struct bytes_view {
    const std::string* bytes;
    bool functions;
};

// decode_values raises Lua errors: it runs under lua_pcall, as a thread's entry would.
int decode_all(lua_State* L) {
    auto* in = static_cast<bytes_view*>(lua_touserdata(L, 1));
    lua_pop(L, 1);
    return luv::lua::decode_values(L, in->bytes->data(), in->bytes->size(), in->functions);
}

int protected_decode(lua_State* L, const std::string& bytes, bool functions) {
    bytes_view in{&bytes, functions};
    int base = lua_gettop(L);
    lua_pushcfunction(L, &decode_all);
    lua_pushlightuserdata(L, &in);
    int status = lua_pcall(L, 1, LUA_MULTRET, 0);
    if (status != LUA_OK) {
        UNSCOPED_INFO("decode failed: " << lua_tostring(L, -1));
        return -1;
    }
    return lua_gettop(L) - base;
}

std::string encode_chunk_results(lua_State* L, const char* chunk) {
    int base = lua_gettop(L);
    REQUIRE(luaL_dostring(L, chunk) == LUA_OK);
    std::string bytes = luv::lua::encode_values(L, base + 1, lua_gettop(L));
    lua_settop(L, base);
    return bytes;
}

}  // namespace

TEST_CASE("a closure and its arguments move to another lua_State", "[codec]") {
    plain_state parent;
    plain_state child;
    std::string bytes = encode_chunk_results(parent.L, R"(
        local offset, insert = 41, table.insert
        local function entry(list, x)
            insert(list, x + offset)
            return list, _ENV == _G, math.type(x)
        end
        return entry, {}, 1)");
    CHECK(lua_gettop(parent.L) == 0);

    REQUIRE(protected_decode(child.L, bytes, true) == 3);
    // entry({}, 1) in the child: its table.insert and _ENV are the child's own.
    REQUIRE(lua_pcall(child.L, 2, 3, 0) == LUA_OK);
    lua_rawgeti(child.L, 1, 1);
    CHECK(lua_tointeger(child.L, -1) == 42);
    CHECK(lua_toboolean(child.L, 2) == 1);
    CHECK(std::strcmp(lua_tostring(child.L, 3), "integer") == 0);
}

TEST_CASE("encode_values raises a Lua error naming the value", "[codec]") {
    plain_state s;
    lua_pushcfunction(s.L, [](lua_State* L) -> int {
        lua_newtable(L);
        lua_pushthread(L);
        lua_setfield(L, -2, "co");
        luv::lua::encode_values(L, 1, 1);
        return 0;
    });
    REQUIRE(lua_pcall(s.L, 0, 0, 0) != LUA_OK);
    CHECK_THAT(lua_tostring(s.L, -1),
               Contains("luv.codec.encode: cannot encode a coroutine at arg 1.co"));
}

TEST_CASE("decode_values: safe mode, malformed data, and every truncation", "[codec]") {
    plain_state parent;
    plain_state child;
    std::string with_function = encode_chunk_results(parent.L, "return function() end");
    CHECK(protected_decode(child.L, with_function, false) == -1);
    CHECK_THAT(lua_tostring(child.L, -1), Contains("functions are refused"));
    lua_settop(child.L, 0);

    std::string data = encode_chunk_results(
        parent.L, "local t = {1.5, 'x', print, {}} t.self = t return t, 2, nil");
    REQUIRE(protected_decode(child.L, data, false) == 3);
    lua_settop(child.L, 0);
    for (std::size_t len = 0; len < data.size(); ++len) {
        std::string cut = data.substr(0, len);
        INFO("length " << len);
        REQUIRE(protected_decode(child.L, cut, false) == -1);
        CHECK_THAT(lua_tostring(child.L, -1), Contains("luv.codec.decode: "));
        lua_settop(child.L, 0);
    }
}
