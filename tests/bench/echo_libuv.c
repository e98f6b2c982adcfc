/* Plain C libuv, the limit for the TCP echo shapes: an echo server on 127.0.0.1.
 *
 *   echo_libuv [PORT]     PORT 0 (the default): a free port
 *
 * Prints "PORT <port>" once it listens, then echoes every connection until killed. One
 * malloc'ed uv_tcp_t per connection (nodelay); reads go into one 64 KiB buffer of the
 * loop's (reads are never concurrent in one loop), and each is written back with
 * uv_try_write; what the kernel does not take at once is copied and queued with
 * uv_write, so an idle connection holds no buffer. */
#include <uv.h>

#include "bench.h"

static char buffer[65536];

typedef struct {
    uv_write_t req;
    char data[];
} queued_write;

static void close_free(uv_handle_t* h) { free(h); }

static void alloc_cb(uv_handle_t* h, size_t suggested, uv_buf_t* buf) {
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(buffer, sizeof buffer);
}

static void written(uv_write_t* req, int status) {
    (void)status; /* a failed write: the read side sees the error and closes */
    free(req);
}

static void read_cb(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
    if (n < 0) {
        uv_close((uv_handle_t*)s, close_free);
        return;
    }
    if (n == 0) {
        return;
    }
    uv_buf_t out = uv_buf_init(buf->base, (unsigned)n);
    int w = uv_try_write(s, &out, 1);
    if (w == UV_EAGAIN) {
        w = 0;
    } else if (w < 0) {
        uv_close((uv_handle_t*)s, close_free);
        return;
    }
    if (w < n) {
        queued_write* q = malloc(sizeof *q + (size_t)(n - w));
        memcpy(q->data, buf->base + w, (size_t)(n - w));
        out = uv_buf_init(q->data, (unsigned)(n - w));
        if (uv_write(&q->req, s, &out, 1, written) < 0) {
            free(q);
            uv_close((uv_handle_t*)s, close_free);
        }
    }
}

static void on_connection(uv_stream_t* server, int status) {
    if (status < 0) {
        return;
    }
    uv_tcp_t* client = malloc(sizeof *client);
    uv_tcp_init(server->loop, client);
    if (uv_accept(server, (uv_stream_t*)client) != 0) {
        uv_close((uv_handle_t*)client, close_free);
        return;
    }
    uv_tcp_nodelay(client, 1);
    uv_read_start((uv_stream_t*)client, alloc_cb, read_cb);
}

int main(int argc, char** argv) {
    uv_loop_t* loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    struct sockaddr_storage name;
    int namelen = sizeof name;
    const int port = argc > 1 ? atoi(argv[1]) : 0;

    uv_tcp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", port, &addr);
    int r = uv_tcp_bind(&server, (const struct sockaddr*)&addr, 0);
    if (r == 0) {
        r = uv_listen((uv_stream_t*)&server, 1024, on_connection);
    }
    if (r != 0) {
        fprintf(stderr, "echo_libuv: %s\n", uv_strerror(r));
        return 1;
    }
    uv_tcp_getsockname(&server, (struct sockaddr*)&name, &namelen);
    printf("PORT %d\n", ntohs(((struct sockaddr_in*)&name)->sin_port));
    fflush(stdout);
    return uv_run(loop, UV_RUN_DEFAULT);
}
