/* Plain C libuv, the limit for the "sleeping RSS" shape: N uv_timer_t, each malloc'ed
 * and started for 10 s. A timer at 200 ms measures the resident size over the baseline,
 * per timer, then closes them all. */
#include <uv.h>

#include "bench.h"

static uv_timer_t** sleepers;
static long n_sleepers;
static long rss0;

static void never(uv_timer_t* t) { (void)t; }

static void close_free(uv_handle_t* h) { free(h); }

static void measure(uv_timer_t* m) {
    const long rss = bench_status_kb("VmRSS");
    bench_result("sleeper_rss", (double)(rss - rss0) / (double)n_sleepers, "KiB/fiber");
    for (long i = 0; i < n_sleepers; ++i) {
        uv_close((uv_handle_t*)sleepers[i], close_free);
    }
    uv_close((uv_handle_t*)m, NULL);
}

int main(int argc, char** argv) {
    uv_loop_t* loop = uv_default_loop();
    uv_timer_t warm, m;
    n_sleepers = bench_arg(argc, argv, 1, 10000);

    /* Warm up the loop; the list of sleepers is part of the baseline. */
    uv_timer_init(loop, &warm);
    uv_timer_start(&warm, never, 0, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t*)&warm, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    sleepers = calloc((size_t)n_sleepers, sizeof *sleepers);
    for (long i = 0; i < n_sleepers; ++i) {
        sleepers[i] = NULL;  /* touch the pages, as the Lua versions fill their list */
    }
    rss0 = bench_status_kb("VmRSS");

    for (long i = 0; i < n_sleepers; ++i) {
        sleepers[i] = malloc(sizeof(uv_timer_t));
        uv_timer_init(loop, sleepers[i]);
        uv_timer_start(sleepers[i], never, 10000, 0);
    }
    uv_timer_init(loop, &m);
    uv_timer_start(&m, measure, 200, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    free(sleepers);
    uv_loop_close(loop);
    return 0;
}
