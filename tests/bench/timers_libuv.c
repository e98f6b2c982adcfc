/* Plain C libuv, the limit for the "many short sleeps" shape: N uv_timer_t, each
 * malloc'ed and started for 10 ms; each closes and frees itself when it fires. Wall time
 * from the first start to the last one firing, and the peak resident size (VmHWM). */
#include <uv.h>

#include "bench.h"

static void close_free(uv_handle_t* h) { free(h); }

static long n_timers, done;
static double t1;

static void fired(uv_timer_t* t) {
    uv_close((uv_handle_t*)t, close_free);
    if (++done == n_timers) {
        t1 = bench_now(); /* the last one fired */
    }
}

int main(int argc, char** argv) {
    uv_loop_t* loop = uv_default_loop();
    n_timers = bench_arg(argc, argv, 1, 100000);

    const double t0 = bench_now();
    for (long i = 0; i < n_timers; ++i) {
        uv_timer_t* t = malloc(sizeof *t);
        uv_timer_init(loop, t);
        uv_timer_start(t, fired, 10, 0);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    if (done != n_timers) {
        fprintf(stderr, "timers_libuv: only %ld of %ld timers fired\n", done, n_timers);
        return 1;
    }
    bench_result("timers_wall", t1 - t0, "s");
    bench_result("timers_hwm", (double)bench_status_kb("VmHWM") / 1024.0, "MiB");
    uv_loop_close(loop);
    return 0;
}
