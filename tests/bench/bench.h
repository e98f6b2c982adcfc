/* Helpers shared by the C benchmarks: the same RESULT line and /proc/self/status fields
 * as bench.lua. */
#ifndef LUV_BENCH_H
#define LUV_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Wall clock in seconds. */
static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A field of /proc/self/status in KiB ("VmRSS", "VmHWM"), or -1. */
static inline long bench_status_kb(const char* field) {
    char line[256];
    const size_t len = strlen(field);
    long kb = -1;
    FILE* f = fopen("/proc/self/status", "r");
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            kb = strtol(line + len + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

static inline void bench_result(const char* name, double value, const char* unit) {
    printf("RESULT %s %.6g %s\n", name, value, unit);
    fflush(stdout);
}

/* A positive integer argument argv[i], or the default. */
static inline long bench_arg(int argc, char** argv, int i, long def) {
    if (i < argc) {
        const long n = strtol(argv[i], NULL, 10);
        if (n > 0) {
            return n;
        }
    }
    return def;
}

#endif
