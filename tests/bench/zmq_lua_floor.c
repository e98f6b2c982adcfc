/* The floor for any Lua binding of libzmq: the shape of zmq_c.c and zmq_luv.lua (N 16-byte
 * messages over inproc:// PUSH/PULL between two threads, default high-water marks), where
 * each thread runs a lua_State whose Lua loop calls, per message, the smallest possible C
 * function around libzmq's blocking calls: no argument checks, no fibers, no event loop.
 * The receiving function returns the frame as a Lua string, as any binding must. What
 * luv.zmq adds on top of this is all luv's; what this loses against zmq_c.c is Lua's
 * (a call into C and a string per message).
 *
 *   zmq_lua_floor [N]       N defaults to 1,000,000; prints messages/s */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <pthread.h>
#include <zmq.h>

#include "bench.h"

#define MESSAGE "0123456789abcdef" /* 16 bytes, as in zmq_c.c and zmq_luv.lua */

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

/* Runs `loop` in a fresh lua_State with (fn, sock, n, MESSAGE); exits on a Lua error. */
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
    lua_pushliteral(L, MESSAGE);
    if (lua_pcall(L, 4, 0, 0) != LUA_OK) {
        fprintf(stderr, "zmq_lua_floor: %s\n", lua_tostring(L, -1));
        exit(1);
    }
    lua_close(L);
}

struct job {
    void* ctx;
    long n;
};

static void* push_all(void* arg) {
    const struct job* job = arg;
    void* push = zmq_socket(job->ctx, ZMQ_PUSH);
    if (push == NULL || zmq_connect(push, "inproc://bench") != 0) {
        fprintf(stderr, "zmq_lua_floor: push: %s\n", zmq_strerror(zmq_errno()));
        exit(1);
    }
    run_loop(push_loop, floor_send, push, job->n);
    zmq_close(push);
    return NULL;
}

int main(int argc, char** argv) {
    const long n = bench_arg(argc, argv, 1, 1000000);
    void* ctx = zmq_ctx_new();
    void* pull = zmq_socket(ctx, ZMQ_PULL);
    if (pull == NULL || zmq_bind(pull, "inproc://bench") != 0) {
        fprintf(stderr, "zmq_lua_floor: pull: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    struct job job = {ctx, n};
    const double t0 = bench_now();
    pthread_t sender;
    if (pthread_create(&sender, NULL, push_all, &job) != 0) {
        fprintf(stderr, "zmq_lua_floor: pthread_create failed\n");
        return 1;
    }
    run_loop(pull_loop, floor_recv, pull, n);
    const double dt = bench_now() - t0;
    pthread_join(sender, NULL);
    bench_result("zmq_inproc", (double)n / dt, "msgs/s");
    zmq_close(pull);
    zmq_ctx_term(ctx);
    return 0;
}
