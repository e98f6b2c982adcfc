/* The limit for the coroutine.yield shape: a C loop around lua_resume, resuming 2
 * coroutines round-robin, each doing N x coroutine.yield(). This is what luv's scheduler
 * does at the very least for each switch. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "bench.h"

static const char body[] =
    "local N = ...\n"
    "for _ = 1, N do coroutine.yield() end\n";

int main(int argc, char** argv) {
    const long n = bench_arg(argc, argv, 1, 5000000);
    lua_State* L = luaL_newstate();
    luaL_openlibs(L);
    lua_State* co[2];
    int live = 2;
    for (int i = 0; i < 2; ++i) {
        co[i] = lua_newthread(L);
        if (luaL_loadstring(co[i], body) != LUA_OK) {
            fprintf(stderr, "%s\n", lua_tostring(co[i], -1));
            return 1;
        }
        lua_pushinteger(co[i], n);
    }

    const double t0 = bench_now();
    int nargs[2] = {1, 1};
    while (live > 0) {
        for (int i = 0; i < 2; ++i) {
            if (co[i] == NULL) {
                continue;
            }
            int nres = 0;
            const int status = lua_resume(co[i], L, nargs[i], &nres);
            nargs[i] = 0;
            if (status == LUA_YIELD) {
                lua_pop(co[i], nres);
            } else if (status == LUA_OK) {
                co[i] = NULL;
                --live;
            } else {
                fprintf(stderr, "%s\n", lua_tostring(co[i], -1));
                return 1;
            }
        }
    }
    bench_result("switch", 2.0 * (double)n / (bench_now() - t0), "switches/s");
    lua_close(L);
    return 0;
}
