/* The load generator of the TCP echo benchmarks: plain C libuv, one thread.
 *
 *   echo_load PORT SERVER_PID rtt  N [SECONDS]   N connections, each sending 64 bytes and
 *       waiting for their echo, again and again: 0.5 s of warm-up, then SECONDS (default
 *       2) timed. Prints the round trips per second and the server's CPU time (utime +
 *       stime from /proc/SERVER_PID/stat, read at both ends of the timed window) per
 *       round trip (and the user-space part alone), and its own (the load generator's).
 *   echo_load PORT SERVER_PID idle N              memory per idle connection: one
 *       connection makes 200 round trips and closes (warm-up), the server's VmRSS is read,
 *       then N connections are opened, each makes one round trip and stays open, idle;
 *       after 0.5 s the server's VmRSS again: (after - before) / N.
 *   echo_load PORT SERVER_PID hold N              N connections open at once (at most 256
 *       connects in flight), then each makes one round trip while all are open: how many
 *       were served, the time to connect them all, to serve them all, and the server's
 *       VmRSS per connection while it holds them.
 *
 * SERVER_PID 0: no server figures (CPU, RSS). The server listens on 127.0.0.1:PORT.
 * Every echo is checked byte for byte (each message carries its connection and sequence
 * number). Any connection error, EOF, a wrong byte or a stall past the deadline (the
 * timed part + 10 s, or 60 s otherwise) ends the program with status 1 and a message on
 * stderr (hold also reports how many were served by then); success is status 0 and
 * "RESULT <name> <value> <unit>" lines on stdout. N is at most 100,000. */
#include <uv.h>

#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

#define MSG 64
#define MAX_CONNS 100000
#define MAX_CONNECTING 256

enum mode { RTT, IDLE, HOLD };

typedef struct conn {
    uv_tcp_t tcp;
    uv_connect_t connect;
    long index;
    unsigned long seq;   /* messages sent */
    unsigned long done;  /* echoes received in full */
    int got;             /* bytes of the current echo received */
    int busy;            /* a message is out, its echo not yet complete */
    int closing;
    char out[MSG];
    char in[2 * MSG]; /* room for more than the echo: a read that fills it is not partial */
} conn;

static uv_loop_t* loop;
static int port;
static enum mode mode;
static int server_pid;
static long n_conns, connected, started, closed;
static conn** conns;
static conn* warm;
static int stopping;          /* rtt: the timed window is over */
static unsigned long total;   /* echoes received, all connections */
static double seconds = 2.0, warmup = 0.5;
static uv_timer_t window_timer, deadline_timer;
static double t_begin, t_connected, t_served;
static unsigned long count0, count1;
static double time0, time1, cpu0, cpu1, user0, user1, self0, self1;
static long rss0, rss1;

static long echoed; /* idle, hold: echoes complete */

static void die(const char* what, int err) {
    if (mode == HOLD) {
        bench_result("echo_hold_served", (double)echoed, "conns");
    }
    fprintf(stderr, "echo_load: %s%s%s\n", what, err ? ": " : "", err ? uv_strerror(err) : "");
    exit(1);
}

/* The server's utime + stime in seconds, or -1; its utime alone in *user. */
static double server_cpu(double* user) {
    char path[64], buf[1024];
    if (server_pid <= 0) {
        return -1;
    }
    snprintf(path, sizeof path, "/proc/%d/stat", server_pid);
    FILE* f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    const size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    const char* p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (p == NULL) {
        return -1;
    }
    unsigned long utime = 0, stime = 0;
    /* after ") ": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
               &stime) != 2) {
        return -1;
    }
    *user = (double)utime / (double)sysconf(_SC_CLK_TCK);
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* This process's user + system CPU time in seconds. */
static double self_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* A field of /proc/SERVER_PID/status in KiB, or -1. */
static long server_status_kb(const char* field) {
    char path[64], line[256];
    const size_t len = strlen(field);
    long kb = -1;
    if (server_pid <= 0) {
        return -1;
    }
    snprintf(path, sizeof path, "/proc/%d/status", server_pid);
    FILE* f = fopen(path, "r");
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

static void on_closed(uv_handle_t* h) {
    (void)h;
    ++closed;
}

static void close_conn(conn* c) {
    if (!c->closing) {
        c->closing = 1;
        uv_close((uv_handle_t*)&c->tcp, on_closed);
    }
}

static void on_written(uv_write_t* req, int status) {
    if (status < 0) {
        die("write", status);
    }
    free(req);
}

/* Sends the next message: its connection index and sequence number, then filler. */
static void send_msg(conn* c) {
    int n = snprintf(c->out, MSG, "%ld:%lu:", c->index, c->seq);
    for (; n < MSG; ++n) {
        c->out[n] = (char)('a' + (c->seq + (unsigned long)n) % 26);
    }
    ++c->seq;
    c->got = 0;
    c->busy = 1;
    uv_buf_t buf = uv_buf_init(c->out, MSG);
    int w = uv_try_write((uv_stream_t*)&c->tcp, &buf, 1);
    if (w == UV_EAGAIN) {
        w = 0;
    } else if (w < 0) {
        die("write", w);
    }
    if (w < MSG) {
        /* c->out stays unchanged until the echo is complete, so it outlives the write */
        uv_write_t* req = malloc(sizeof *req);
        buf = uv_buf_init(c->out + w, (unsigned)(MSG - w));
        const int r = uv_write(req, (uv_stream_t*)&c->tcp, &buf, 1, on_written);
        if (r < 0) {
            die("write", r);
        }
    }
}

static void alloc_cb(uv_handle_t* h, size_t suggested, uv_buf_t* buf) {
    conn* c = h->data;
    (void)suggested;
    /* More room than the rest of the echo: a read that does not fill the buffer ends
     * libuv's read loop without one more recv() that would find nothing; more bytes than
     * were sent are an error. */
    *buf = uv_buf_init(c->in + c->got, (unsigned)(2 * MSG - c->got));
}

static void idle_next(void);
static void hold_next(void);

static void read_cb(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
    conn* c = s->data;
    (void)buf;
    if (n == 0) {
        return;
    }
    if (n < 0) {
        fprintf(stderr, "echo_load: connection %ld after %lu round trips: ", c->index, c->done);
        die(n == UV_EOF ? "the server closed the connection" : "read", n == UV_EOF ? 0 : (int)n);
    }
    if (!c->busy || c->got == MSG) {
        fprintf(stderr, "echo_load: connection %ld: ", c->index);
        die("bytes that nobody asked for", 0);
    }
    c->got += (int)n;
    if (c->got < MSG) {
        return;
    }
    if (c->got > MSG) {
        fprintf(stderr, "echo_load: connection %ld, message %lu: ", c->index, c->seq - 1);
        die("more bytes came back than were sent", 0);
    }
    if (memcmp(c->in, c->out, MSG) != 0) {
        fprintf(stderr, "echo_load: connection %ld, message %lu: sent %.64s, got %.64s\n",
                c->index, c->seq - 1, c->out, c->in);
        die("the echo differs from the message", 0);
    }
    c->busy = 0;
    ++c->done;
    ++total;
    switch (mode) {
    case RTT:
        if (stopping) {
            close_conn(c);
        } else {
            send_msg(c);
        }
        break;
    case IDLE:
        if (c == warm) {
            if (c->done < 200) {
                send_msg(c);
            } else {
                close_conn(c);
                idle_next();
            }
        } else {
            hold_next();
        }
        break;
    case HOLD:
        hold_next();
        break;
    }
}

static void start_conns(void);

static void on_connect(uv_connect_t* req, int status) {
    conn* c = req->data;
    if (status < 0) {
        fprintf(stderr, "echo_load: connection %ld of %ld: ", c->index + 1, n_conns);
        die("connect", status);
    }
    ++connected;
    uv_tcp_nodelay(&c->tcp, 1);
    const int r = uv_read_start((uv_stream_t*)&c->tcp, alloc_cb, read_cb);
    if (r < 0) {
        die("read_start", r);
    }
    if (mode == RTT) {
        send_msg(c); /* start at once: the warm-up covers the start */
    } else if (c == warm) {
        send_msg(c);
    }
    if (c != warm) {
        start_conns();
    }
}

static conn* new_conn(long index) {
    struct sockaddr_in addr;
    conn* c = calloc(1, sizeof *c);
    c->index = index;
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->connect.data = c;
    uv_ip4_addr("127.0.0.1", port, &addr);
    const int r = uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr*)&addr, on_connect);
    if (r < 0) {
        fprintf(stderr, "echo_load: connection %ld of %ld: ", index + 1, n_conns);
        die("connect", r);
    }
    return c;
}

/* Keeps up to MAX_CONNECTING connects in flight until all N are started; once every one
 * is connected, the hold and idle modes send one message on each. */
static void start_conns(void) {
    while (started < n_conns && started - connected < MAX_CONNECTING) {
        conns[started] = new_conn(started);
        ++started;
    }
    if (connected == n_conns && mode != RTT) {
        t_connected = bench_now();
        for (long i = 0; i < n_conns; ++i) {
            send_msg(conns[i]);
        }
    }
}

/* idle, hold: one more echo complete; after the last one, measure. */
static void measured(uv_timer_t* t);

static void hold_next(void) {
    if (++echoed < n_conns) {
        return;
    }
    t_served = bench_now();
    /* Let the server settle (finish its writes, go back to reading) before its RSS. */
    uv_timer_start(&window_timer, measured, mode == IDLE ? 500 : 200, 0);
}

static void settled(uv_timer_t* t) {
    (void)t;
    rss0 = server_status_kb("VmRSS");
    start_conns();
}

static void idle_next(void) {
    uv_timer_start(&window_timer, settled, 300, 0);
}

static void measured(uv_timer_t* t) {
    (void)t;
    rss1 = server_status_kb("VmRSS");
    for (long i = 0; i < n_conns; ++i) {
        close_conn(conns[i]);
    }
    uv_close((uv_handle_t*)&window_timer, NULL);
    uv_close((uv_handle_t*)&deadline_timer, NULL);
}

/* rtt: the start and the end of the timed window. */
static void window_end(uv_timer_t* t) {
    (void)t;
    count1 = total;
    time1 = bench_now();
    cpu1 = server_cpu(&user1);
    self1 = self_cpu();
    stopping = 1;
    /* Connections close as their last echo arrives; none may be idle here. */
    for (long i = 0; i < n_conns; ++i) {
        if (!conns[i]->busy) {
            close_conn(conns[i]);
        }
    }
    uv_close((uv_handle_t*)&window_timer, NULL);
}

static void window_start(uv_timer_t* t) {
    if (connected < n_conns) {
        die("the connections are not all up after the warm-up", 0);
    }
    count0 = total;
    time0 = bench_now();
    cpu0 = server_cpu(&user0);
    self0 = self_cpu();
    uv_timer_start(t, window_end, (uint64_t)(seconds * 1000), 0);
}

static void deadline(uv_timer_t* t) {
    (void)t;
    fprintf(stderr,
            "echo_load: deadline passed: %ld of %ld connected, %lu round trips, %ld echoed, "
            "%ld closed\n",
            connected, n_conns, total, echoed, closed);
    die("gave up", 0);
}

int main(int argc, char** argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: echo_load PORT SERVER_PID rtt|idle|hold N [SECONDS]\n");
        return 2;
    }
    port = atoi(argv[1]);
    server_pid = atoi(argv[2]);
    if (strcmp(argv[3], "rtt") == 0) {
        mode = RTT;
    } else if (strcmp(argv[3], "idle") == 0) {
        mode = IDLE;
    } else if (strcmp(argv[3], "hold") == 0) {
        mode = HOLD;
    } else {
        fprintf(stderr, "echo_load: unknown mode %s\n", argv[3]);
        return 2;
    }
    n_conns = atol(argv[4]);
    if (port <= 0 || port > 65535 || n_conns <= 0 || n_conns > MAX_CONNS) {
        fprintf(stderr, "echo_load: bad PORT or N (1..%d)\n", MAX_CONNS);
        return 2;
    }
    if (argc > 5) {
        seconds = atof(argv[5]);
        if (!(seconds > 0 && seconds <= 60)) {
            fprintf(stderr, "echo_load: SECONDS must be in (0, 60]\n");
            return 2;
        }
    }
    if (mode == IDLE && server_pid <= 0) {
        fprintf(stderr, "echo_load: idle needs the server's pid\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (rlim_t)n_conns + 16 > rl.rlim_cur) {
        fprintf(stderr, "echo_load: %ld connections need ulimit -n >= %ld (it is %lu)\n",
                n_conns, n_conns + 16, (unsigned long)rl.rlim_cur);
        return 2;
    }

    loop = uv_default_loop();
    conns = calloc((size_t)n_conns, sizeof *conns);
    uv_timer_init(loop, &window_timer);
    uv_timer_init(loop, &deadline_timer);
    double limit = mode == RTT ? warmup + seconds + 10 : 60;
    uv_timer_start(&deadline_timer, deadline, (uint64_t)(limit * 1000), 0);
    uv_unref((uv_handle_t*)&deadline_timer);
    t_begin = bench_now();

    switch (mode) {
    case RTT:
        start_conns();
        uv_timer_start(&window_timer, window_start, (uint64_t)(warmup * 1000), 0);
        break;
    case IDLE:
        warm = new_conn(-1);
        break;
    case HOLD:
        rss0 = server_status_kb("VmRSS");
        start_conns();
        break;
    }
    /* The deadline timer is unref'ed: the loop ends when every connection is closed and
     * the timers are done; the deadline still fires while anything is under way. */
    uv_run(loop, UV_RUN_DEFAULT);

    if (closed < n_conns + (warm != NULL)) {
        fprintf(stderr, "echo_load: the loop ended with %ld of %ld connections closed\n", closed,
                n_conns);
        return 1;
    }
    char name[64];
    switch (mode) {
    case RTT: {
        const unsigned long trips = count1 - count0;
        unsigned long least = (unsigned long)-1;
        for (long i = 0; i < n_conns; ++i) {
            if (conns[i]->done < least) {
                least = conns[i]->done;
            }
        }
        if (trips == 0 || least == 0) {
            die("a connection made no round trip", 0);
        }
        snprintf(name, sizeof name, "echo_rtt_%ld", n_conns);
        bench_result(name, (double)trips / (time1 - time0), "rt/s");
        if (cpu0 >= 0 && cpu1 >= 0) {
            snprintf(name, sizeof name, "echo_cpu_%ld", n_conns);
            bench_result(name, (cpu1 - cpu0) * 1e6 / (double)trips, "us/rt");
            snprintf(name, sizeof name, "echo_usercpu_%ld", n_conns);
            bench_result(name, (user1 - user0) * 1e6 / (double)trips, "us/rt");
        }
        snprintf(name, sizeof name, "echo_loadcpu_%ld", n_conns);
        bench_result(name, (self1 - self0) * 1e6 / (double)trips, "us/rt");
        break;
    }
    case IDLE:
        if (rss0 < 0 || rss1 < 0) {
            die("cannot read the server's VmRSS", 0);
        }
        bench_result("echo_idle_rss", (double)(rss1 - rss0) / (double)n_conns, "KiB/conn");
        break;
    case HOLD:
        bench_result("echo_hold_served", (double)echoed, "conns");
        bench_result("echo_hold_connect", t_connected - t_begin, "s");
        bench_result("echo_hold_serve", t_served - t_connected, "s");
        if (rss0 >= 0 && rss1 >= 0) {
            bench_result("echo_hold_rss", (double)(rss1 - rss0) / (double)n_conns, "KiB/conn");
        }
        break;
    }
    return 0;
}
