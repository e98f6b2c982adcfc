/* A TCP relay that adds a fixed latency, so that a benchmark on loopback sees a round
 * trip like a LAN's (redis_dropin.lua puts it in front of redis-server).
 *
 *   delay_relay TARGET_PORT DELAY_US
 *
 * Listens on a free port of 127.0.0.1, prints "PORT <port>" once it listens, and for
 * every connection it accepts opens one to 127.0.0.1:TARGET_PORT and forwards the bytes
 * both ways, each chunk written DELAY_US microseconds after it was read: a round trip
 * through the relay takes 2 x DELAY_US more. Runs until SIGTERM or SIGINT.
 *
 * One thread, epoll. Every chunk read is queued on its direction (order kept) and on one
 * timeline of the whole relay; the delay is the same for all, so the timeline is in
 * arrival order and appending keeps it sorted. One timerfd (CLOCK_MONOTONIC, absolute,
 * nanoseconds) is armed for the timeline's head: libuv's timers have 1 ms steps, too
 * coarse for a 0.25 ms delay. An end of file is queued like a chunk and becomes a
 * shutdown(SHUT_WR) of the other side when it is due; a pair closes once both directions
 * have ended, or at once on an error. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "bench.h"

/* A direction stops reading while this much waits in it (the writer is slow). */
#define MAX_QUEUED (4 << 20)

typedef struct chunk {
    struct chunk *prev, *next; /* on the timeline, while not yet due */
    struct chunk* queue_next;  /* on its direction, until written */
    struct pair* pair;
    int i; /* read from pair->end[i], queued on pair->dir[i] */
    uint64_t due; /* CLOCK_MONOTONIC, ns */
    int on_timeline;
    size_t len, off; /* len 0: the end of file */
    char data[];
} chunk;

/* eof: read the end of file from the source; done: and passed it on; blocked: the
 * destination took less than was due, the rest waits for EPOLLOUT. */
typedef struct direction {
    chunk *head, *tail;
    size_t queued;
    int eof, done, blocked;
} direction;

/* What epoll_wait hands back: one end of a pair (end[i] reads dir[i], writes dir[1-i]),
 * or the listener, the timer or the signals (pair NULL). */
typedef struct end {
    int fd;
    uint32_t events; /* registered with epoll; 0: not registered */
    struct pair* pair;
} end;

typedef struct pair {
    end end[2]; /* 0: the accepted client, 1: the connection to the target */
    direction dir[2];
    int closed;
    struct pair* next_dead; /* closed, to free after the current batch of events */
} pair;

static int ep;
static end listener = {-1, 0, NULL}, timer = {-1, 0, NULL}, signals = {-1, 0, NULL};
static chunk *timeline_head, *timeline_tail;
static pair* dead;
static uint64_t delay_ns;
/* How late the timer fires, on average: on a VM a timerfd wakes a sleeping thread ~75 us
 * after its time, which would add 0.15 ms to a round trip. The timer is armed that much
 * early, so chunks leave when they are due on average. */
static uint64_t lead_ns, armed_at;
static struct sockaddr_in target;
static char buffer[65536];

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The result of a call that must not fail (-1 and errno: the relay exits). */
static int check(int r, const char* what) {
    if (r < 0) {
        fprintf(stderr, "delay_relay: %s: %s\n", what, strerror(errno));
        exit(1);
    }
    return r;
}

static void arm_timer(uint64_t due) {
    const uint64_t now = now_ns();
    armed_at = due - lead_ns > now ? due - lead_ns : now;
    struct itimerspec its = {{0, 0}, {(time_t)(armed_at / 1000000000u),
                                      (long)(armed_at % 1000000000u)}};
    check(timerfd_settime(timer.fd, TFD_TIMER_ABSTIME, &its, NULL), "timerfd_settime");
}

static void unlink_timeline(chunk* c) {
    *(c->prev ? &c->prev->next : &timeline_head) = c->next;
    *(c->next ? &c->next->prev : &timeline_tail) = c->prev;
    c->on_timeline = 0;
}

/* Registers with epoll what the end waits for now: reading while its direction is open
 * and not full, writing while the other direction is blocked. An end that waits for
 * nothing is taken off, or its hang-up would wake the loop again and again. */
static void update(pair* p, int i) {
    end* e = &p->end[i];
    const uint32_t want = (!p->dir[i].eof && p->dir[i].queued < MAX_QUEUED ? EPOLLIN : 0)
                          | (p->dir[1 - i].blocked ? EPOLLOUT : 0);
    if (want != e->events) {
        struct epoll_event ev = {.events = want, .data.ptr = e};
        const int op = !e->events ? EPOLL_CTL_ADD : !want ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
        check(epoll_ctl(ep, op, e->fd, &ev), "epoll_ctl");
        e->events = want;
    }
}

/* Closes both sockets and drops whatever was queued. The pair itself is freed after the
 * current batch of events, which may still name its ends. */
static void close_pair(pair* p) {
    for (int i = 0; i < 2; ++i) {
        close(p->end[i].fd); /* also takes it off epoll */
        for (chunk *c = p->dir[i].head, *next; c != NULL; c = next) {
            next = c->queue_next;
            if (c->on_timeline) {
                unlink_timeline(c);
            }
            free(c);
        }
    }
    p->closed = 1;
    p->next_dead = dead;
    dead = p;
}

/* Writes the chunks of dir[i] that are due, in order, to end[1-i]. */
static void flush(pair* p, int i) {
    direction* d = &p->dir[i];
    const int fd = p->end[1 - i].fd;
    chunk* c;
    d->blocked = 0;
    while ((c = d->head) != NULL && !c->on_timeline) {
        if (c->len == 0) {
            shutdown(fd, SHUT_WR); /* fails only if the peer is gone: then so is it */
            d->done = 1;
        } else {
            const ssize_t n = send(fd, c->data + c->off, c->len - c->off, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                close_pair(p);
                return;
            }
            c->off += n > 0 ? (size_t)n : 0;
            if (c->off < c->len) { /* the kernel took none or part of it */
                d->blocked = 1;
                break;
            }
            d->queued -= c->len;
        }
        d->head = c->queue_next;
        if (d->head == NULL) {
            d->tail = NULL;
        }
        free(c);
    }
    if (p->dir[0].done && p->dir[1].done) {
        close_pair(p);
        return;
    }
    update(p, 0);
    update(p, 1);
}

/* Reads what end[i] has into a chunk of dir[i], due DELAY_US from now. */
static void read_end(pair* p, int i) {
    direction* d = &p->dir[i];
    const ssize_t n = read(p->end[i].fd, buffer, sizeof buffer);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            close_pair(p);
        }
        return;
    }
    chunk* c = malloc(sizeof *c + (size_t)n);
    check(c ? 0 : -1, "malloc");
    *c = (chunk){.prev = timeline_tail, .pair = p, .i = i, .due = now_ns() + delay_ns,
                 .on_timeline = 1, .len = (size_t)n};
    memcpy(c->data, buffer, (size_t)n);
    *(d->tail ? &d->tail->queue_next : &d->head) = c;
    d->tail = c;
    d->queued += (size_t)n;
    d->eof = n == 0;
    *(timeline_tail ? &timeline_tail->next : &timeline_head) = c;
    timeline_tail = c;
    if (timeline_head == c) { /* the timeline was empty: nothing armed the timer */
        arm_timer(c->due);
    }
    update(p, i);
}

/* The timer fired: every chunk due by now (plus the lead: the timer fires that late)
 * leaves the timeline and its direction writes. */
static void expire(void) {
    uint64_t expirations; /* read, or the timerfd stays readable */
    (void)!read(timer.fd, &expirations, sizeof expirations);
    const uint64_t now = now_ns();
    if (now >= armed_at) { /* a moving average; one stall of the machine counts less */
        const uint64_t late = now - armed_at < delay_ns / 2 ? now - armed_at : delay_ns / 2;
        lead_ns = (7 * lead_ns + late) / 8;
    }
    while (timeline_head != NULL && timeline_head->due <= now + lead_ns) {
        chunk* c = timeline_head;
        unlink_timeline(c);
        flush(c->pair, c->i); /* may close the pair, and free c */
    }
    if (timeline_head != NULL) {
        arm_timer(timeline_head->due);
    }
}

/* Accepts every waiting connection, each with its own to the target. */
static void accept_all(void) {
    for (;;) {
        const int client = accept4(listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (client < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED) {
                fprintf(stderr, "delay_relay: accept: %s\n", strerror(errno));
            }
            return;
        }
        /* Not waited for: a send to a socket still connecting fails with EAGAIN and waits
         * for EPOLLOUT like any other, and a refused one ends the pair on its first read. */
        const int upstream = check(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
                                   "socket");
        if (connect(upstream, (struct sockaddr*)&target, sizeof target) != 0
            && errno != EINPROGRESS) {
            fprintf(stderr, "delay_relay: connect: %s\n", strerror(errno));
            close(upstream);
            close(client);
            continue;
        }
        const int one = 1; /* each chunk is sent as it is due, not held back by Nagle */
        setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(upstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pair* p = calloc(1, sizeof *p);
        check(p ? 0 : -1, "calloc");
        p->end[0] = (end){client, 0, p};
        p->end[1] = (end){upstream, 0, p};
        update(p, 0);
        update(p, 1);
    }
}

static void watch(end* e) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = e};
    check(epoll_ctl(ep, EPOLL_CTL_ADD, e->fd, &ev), "epoll_ctl");
}

int main(int argc, char** argv) {
    long port = -1, delay_us = -1;
    char end1, end2;
    if (argc != 3 || sscanf(argv[1], "%ld%c", &port, &end1) != 1
        || sscanf(argv[2], "%ld%c", &delay_us, &end2) != 1 || port <= 0 || port > 65535
        || delay_us < 0) {
        fprintf(stderr, "usage: delay_relay TARGET_PORT DELAY_US\n");
        return 2;
    }
    delay_ns = (uint64_t)delay_us * 1000u;
    target = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL); /* delivered through signals.fd instead */
    signals.fd = check(signalfd(-1, &mask, SFD_CLOEXEC), "signalfd");
    timer.fd = check(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), "timerfd");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t addrlen = sizeof addr;
    listener.fd = check(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), "socket");
    check(bind(listener.fd, (struct sockaddr*)&addr, sizeof addr), "bind");
    check(listen(listener.fd, 511), "listen");
    check(getsockname(listener.fd, (struct sockaddr*)&addr, &addrlen), "getsockname");
    ep = check(epoll_create1(EPOLL_CLOEXEC), "epoll_create1");
    watch(&listener);
    watch(&timer);
    watch(&signals);
    printf("PORT %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    struct epoll_event events[256];
    for (int running = 1; running;) {
        const int n = epoll_wait(ep, events, 256, -1);
        check(n < 0 && errno != EINTR ? -1 : 0, "epoll_wait");
        for (int k = 0; k < n; ++k) {
            end* e = events[k].data.ptr;
            const uint32_t ev = events[k].events;
            if (e == &listener) {
                accept_all();
            } else if (e == &timer) {
                expire();
            } else if (e == &signals) {
                running = 0;
            } else if (!e->pair->closed) {
                pair* p = e->pair;
                const int i = e == &p->end[1];
                if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && p->dir[1 - i].blocked) {
                    flush(p, 1 - i);
                }
                if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && !p->closed && !p->dir[i].eof) {
                    read_end(p, i);
                }
            }
        }
        while (dead != NULL) { /* no event of this batch names them any more */
            pair* p = dead;
            dead = p->next_dead;
            free(p);
        }
    }
    /* Open connections are left to exit(): under valgrind --track-fds=yes, what is still
     * open is then listed (nothing but stdio, epoll, listener, timer, signals once every
     * client has gone). */
    return 0;
}
