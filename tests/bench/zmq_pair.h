/* The shape shared by zmq_c.c and zmq_lua_floor.c (and zmq_luv.lua, in Lua): a PULL socket
 * bound to inproc://bench in the main thread, a PUSH socket connected to it in a second
 * pthread, N 16-byte messages with libzmq's default high-water marks; prints messages/s
 * from the start of the second thread to the last message received. Each program gives
 * the two loops. */
#ifndef LUV_BENCH_ZMQ_PAIR_H
#define LUV_BENCH_ZMQ_PAIR_H

#include <pthread.h>
#include <zmq.h>

#include "bench.h"

#define ZMQ_PAIR_MESSAGE "0123456789abcdef" /* 16 bytes */

/* Sends or receives n messages on sock; exits the program on failure. */
typedef void (*zmq_pair_loop)(void* sock, long n);

struct zmq_pair_job {
    const char* prog;
    void* ctx;
    zmq_pair_loop push;
    long n;
};

static void zmq_pair_fail(const char* prog, const char* what) {
    fprintf(stderr, "%s: %s: %s\n", prog, what, zmq_strerror(zmq_errno()));
    exit(1);
}

static void* zmq_pair_pusher(void* arg) {
    const struct zmq_pair_job* job = arg;
    void* push = zmq_socket(job->ctx, ZMQ_PUSH);
    if (push == NULL || zmq_connect(push, "inproc://bench") != 0) {
        zmq_pair_fail(job->prog, "push");
    }
    job->push(push, job->n);
    zmq_close(push);
    return NULL;
}

/* Runs the shape with these loops; returns main's exit status. */
static int zmq_pair_run(int argc, char** argv, zmq_pair_loop push, zmq_pair_loop pull) {
    const long n = bench_arg(argc, argv, 1, 1000000);
    void* ctx = zmq_ctx_new();
    void* sock = zmq_socket(ctx, ZMQ_PULL);
    if (sock == NULL || zmq_bind(sock, "inproc://bench") != 0) {
        zmq_pair_fail(argv[0], "pull");
    }
    struct zmq_pair_job job = {argv[0], ctx, push, n};
    const double t0 = bench_now();
    pthread_t sender;
    if (pthread_create(&sender, NULL, zmq_pair_pusher, &job) != 0) {
        fprintf(stderr, "%s: pthread_create failed\n", argv[0]);
        return 1;
    }
    pull(sock, n);
    const double dt = bench_now() - t0;
    pthread_join(sender, NULL);
    bench_result("zmq_inproc", (double)n / dt, "msgs/s");
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return 0;
}

#endif
