// libFuzzer target for luv.codec.decode in safe mode (no bytecode, no hooks): whatever the
// bytes, decoding must either succeed or raise a Lua error, never crash, read out of
// bounds or allocate without limit. What decodes must also encode, and that encoding must
// decode again. Unsafe mode is not fuzzed: lua_load's undump trusts its input, so random
// bytecode crashes Lua itself (docs/codec.md, "Safety").
//
// tests/fuzz/run_codec_fuzz.sh builds it with clang++ -fsanitize=fuzzer,address,undefined
// against the codec's sources and liblua5.4, and runs it for a bounded time.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <lua.hpp>

#include "binding/codec.hpp"

namespace {

struct input {
    const std::uint8_t* data;
    std::size_t size;
};

// Runs under lua_pcall: decoding raises Lua errors, which must stay inside Lua.
int decode_and_reencode(lua_State* L) {
    auto* in = static_cast<input*>(lua_touserdata(L, 1));
    luv::lua::decode_options options;
    options.functions = false;
    options.hooks = false;
    int base = lua_gettop(L);
    int n = luv::lua::decode_values(L, reinterpret_cast<const char*>(in->data), in->size, options);
    if (lua_gettop(L) != base + n) {
        std::fprintf(stderr, "decode_values pushed %d values but returned %d\n",
                     lua_gettop(L) - base, n);
        std::abort();
    }
    luv::lua::push_encoded(L, base + 1, base + n);
    std::size_t len = 0;
    const char* again = lua_tolstring(L, -1, &len);
    int m = luv::lua::decode_values(L, again, len, options);
    if (m != n) {
        std::fprintf(stderr, "re-encoding %d values decoded %d\n", n, m);
        std::abort();
    }
    return 0;
}

lua_State* state() {
    // One state for the whole run, as the module would have: the standard libraries make
    // the library values (string.format, print...) resolvable.
    static lua_State* L = [] {
        lua_State* S = luaL_newstate();
        luaL_openlibs(S);
        // A "luv" name makes the decoder require luv; here it must find nothing (the
        // system's cpath may hold luvit's luv.so) and report the name as unavailable.
        luaL_dostring(S, "package.path = '' package.cpath = ''");
        return S;
    }();
    return L;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    lua_State* L = state();
    input in{data, size};
    lua_pushcfunction(L, &decode_and_reencode);
    lua_pushlightuserdata(L, &in);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        const char* message = lua_tostring(L, -1);
        // Every error must be the decoder's own, or a memory error: anything else means a
        // path through Lua the decoder did not mean to take.
        if (message == nullptr ||
            (std::strncmp(message, "luv.codec.decode: ", 18) != 0 &&
             std::strncmp(message, "not enough memory", 17) != 0)) {
            std::fprintf(stderr, "unexpected error: %s\n", message ? message : "(not a string)");
            std::abort();
        }
        lua_pop(L, 1);
    }
    // Tables made by one input must not pile up for the whole run.
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
