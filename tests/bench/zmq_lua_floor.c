/* The floor for any Lua binding of libzmq: the shape of zmq_c.c and zmq_luv.lua (N 16-byte
 * messages over inproc:// PUSH/PULL between two threads, default high-water marks), where
 * each thread runs a lua_State whose Lua loop calls, per message, the smallest possible C
 * function around libzmq's blocking calls: no argument checks, no fibers, no event loop.
 * The receiving function returns the frame as a Lua string, as any binding must. What
 * luv.zmq adds on top of this is all luv's; what this loses against zmq_c.c is Lua's
 * (a call into C and a string per message). The shape is zmq_pair.h's.
 *
 *   zmq_lua_floor [N]       N defaults to 1,000,000; prints messages/s */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "zmq_pair.h"

/* The two loops, in Lua: the same checks as zmq_luv.lua's push_all and pull_all. */
static const char push_loop[] =
    "local send, sock, n, message = ...\n"
    "for _ = 1, n do if not send(sock, message) then error('send failed') end end\n";
static const char pull_loop[] =
    "local recv, sock, n, message = ...\n"
    "for _ = 1, n do if recv(sock) ~= message then error('lost or bad message') end end\n";

/* send(sock, string) -> boolean */
static int floor_send(lua_State* L) {
    size_t len = 0;
    const char* data = lua_tolstring(L, 2, &len);
    lua_pushboolean(L, zmq_send(lua_touserdata(L, 1), data, len, 0) >= 0);
    return 1;
}

/* recv(sock) -> string | nothing */
static int floor_recv(lua_State* L) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, lua_touserdata(L, 1), 0) < 0) {
        zmq_msg_close(&msg);
        return 0;
    }
    lua_pushlstring(L, zmq_msg_data(&msg), zmq_msg_size(&msg));
    zmq_msg_close(&msg);
    return 1;
}

/* Runs `loop` in a fresh lua_State with (fn, sock, n, the message); exits on an error. */
static void run_loop(const char* loop, lua_CFunction fn, void* sock, long n) {
    lua_State* L = luaL_newstate();
    luaL_openlibs(L);
    if (luaL_loadstring(L, loop) != LUA_OK) {
        fprintf(stderr, "zmq_lua_floor: %s\n", lua_tostring(L, -1));
        exit(1);
    }
    lua_pushcfunction(L, fn);
    lua_pushlightuserdata(L, sock);
    lua_pushinteger(L, n);
    lua_pushliteral(L, ZMQ_PAIR_MESSAGE);
    if (lua_pcall(L, 4, 0, 0) != LUA_OK) {
        fprintf(stderr, "zmq_lua_floor: %s\n", lua_tostring(L, -1));
        exit(1);
    }
    lua_close(L);
}

static void push_all(void* push, long n) { run_loop(push_loop, floor_send, push, n); }
static void pull_all(void* pull, long n) { run_loop(pull_loop, floor_recv, pull, n); }

int main(int argc, char** argv) { return zmq_pair_run(argc, argv, push_all, pull_all); }
