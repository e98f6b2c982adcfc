/* The limit for luv.zmq: plain C on libzmq, N small messages over inproc:// PUSH/PULL
 * between two threads, with libzmq's blocking calls and default high-water marks. The
 * same shape as zmq_luv.lua (zmq_pair.h); prints messages/s.
 *
 *   zmq_c [N]       N defaults to 1,000,000 */
#include "zmq_pair.h"

static void push_all(void* push, long n) {
    for (long i = 0; i < n; ++i) {
        if (zmq_send(push, ZMQ_PAIR_MESSAGE, sizeof ZMQ_PAIR_MESSAGE - 1, 0) < 0) {
            zmq_pair_fail("zmq_c", "send");
        }
    }
}

static void pull_all(void* pull, long n) {
    char buf[64];
    for (long i = 0; i < n; ++i) {
        if (zmq_recv(pull, buf, sizeof buf, 0) != (int)sizeof ZMQ_PAIR_MESSAGE - 1) {
            zmq_pair_fail("zmq_c", "recv");
        }
    }
}

int main(int argc, char** argv) { return zmq_pair_run(argc, argv, push_all, pull_all); }
