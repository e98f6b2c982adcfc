/* The limit for luv.zmq: plain C on libzmq, N small messages over inproc:// PUSH/PULL
 * between two threads, with libzmq's blocking calls and default high-water marks. The
 * same shape as zmq_luv.lua; prints messages/s.
 *
 *   zmq_c [N]       N defaults to 1,000,000 */
#include <pthread.h>
#include <zmq.h>

#include "bench.h"

#define MESSAGE "0123456789abcdef" /* 16 bytes, as in zmq_luv.lua */

struct job {
    void* ctx;
    long n;
};

static void* push_all(void* arg) {
    const struct job* job = arg;
    void* push = zmq_socket(job->ctx, ZMQ_PUSH);
    if (push == NULL || zmq_connect(push, "inproc://bench") != 0) {
        fprintf(stderr, "zmq_c: push: %s\n", zmq_strerror(zmq_errno()));
        exit(1);
    }
    for (long i = 0; i < job->n; ++i) {
        if (zmq_send(push, MESSAGE, sizeof MESSAGE - 1, 0) < 0) {
            fprintf(stderr, "zmq_c: send: %s\n", zmq_strerror(zmq_errno()));
            exit(1);
        }
    }
    zmq_close(push);
    return NULL;
}

int main(int argc, char** argv) {
    const long n = bench_arg(argc, argv, 1, 1000000);
    void* ctx = zmq_ctx_new();
    void* pull = zmq_socket(ctx, ZMQ_PULL);
    if (pull == NULL || zmq_bind(pull, "inproc://bench") != 0) {
        fprintf(stderr, "zmq_c: pull: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    struct job job = {ctx, n};
    const double t0 = bench_now();
    pthread_t sender;
    if (pthread_create(&sender, NULL, push_all, &job) != 0) {
        fprintf(stderr, "zmq_c: pthread_create failed\n");
        return 1;
    }
    char buf[64];
    for (long i = 0; i < n; ++i) {
        const int got = zmq_recv(pull, buf, sizeof buf, 0);
        if (got != (int)sizeof MESSAGE - 1) {
            fprintf(stderr, "zmq_c: recv: %s\n", zmq_strerror(zmq_errno()));
            return 1;
        }
    }
    const double dt = bench_now() - t0;
    pthread_join(sender, NULL);
    bench_result("zmq_inproc", (double)n / dt, "msgs/s");
    zmq_close(pull);
    zmq_ctx_term(ctx);
    return 0;
}
