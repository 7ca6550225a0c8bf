/*
 * bench_channel.c - channel hand-off cost: unbuffered ping-pong, buffered
 * producer->consumer throughput and select over four channels, for Coco
 * and, in the same run, for Go and Boost.Fiber peer programs when they
 * were built (bench/peers/).  Everything runs pinned to one CPU; each
 * figure is the median of several rounds, each peer run once per round.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include "coco.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 7
#define PINGPONG_N 2000000L
#define BUFFERED_N 10000000L
#define SELECT_N 2000000L
#define NSEL 4

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

/* Runs entries on a fresh scheduler; returns the wall time in seconds. */
static double run_coros(void (*a)(void *), void *aa, void (*b)(void *), void *ba,
                        int nb)
{
    coco_sched_t *s = coco_sched_create();
    if (s == NULL) {
        perror("coco_sched_create");
        exit(1);
    }
    coco_create(s, a, aa, 0);
    for (int i = 0; i < nb; i++)
        coco_create(s, b, ba != NULL ? ((void **)ba)[i] : NULL, 0);
    double t0 = now_s();
    int rc = coco_sched_run(s);
    double t = now_s() - t0;
    if (rc != COCO_OK) {
        fprintf(stderr, "bench_channel: run: %s\n", coco_strerror(rc));
        exit(1);
    }
    coco_sched_destroy(s);
    return t;
}

/* ------------------------------------------------------------ ping-pong */

static coco_channel_t *ping, *pong;

static void pinger(void *arg)
{
    (void)arg;
    void *v;
    for (long i = 0; i < PINGPONG_N; i++) {
        coco_channel_send(ping, (void *)i);
        coco_channel_recv(pong, &v);
    }
}

static void ponger(void *arg)
{
    (void)arg;
    void *v;
    for (long i = 0; i < PINGPONG_N; i++) {
        coco_channel_recv(ping, &v);
        coco_channel_send(pong, v);
    }
}

/* ns per message: a round trip is two messages. */
static double bench_pingpong(void)
{
    ping = coco_channel_create(0);
    pong = coco_channel_create(0);
    double t = run_coros(pinger, NULL, ponger, NULL, 1);
    coco_channel_destroy(ping);
    coco_channel_destroy(pong);
    return t * 1e9 / (2.0 * PINGPONG_N);
}

/* ------------------------------------------------------------- buffered */

static coco_channel_t *buf;
static long received;

static void producer(void *arg)
{
    (void)arg;
    for (long i = 0; i < BUFFERED_N; i++)
        coco_channel_send(buf, (void *)i);
    coco_channel_close(buf);
}

static void consumer(void *arg)
{
    (void)arg;
    void *v;
    while (coco_channel_recv(buf, &v) == COCO_OK)
        received++;
}

/* Messages per second. */
static double bench_buffered(void)
{
    buf = coco_channel_create(1024);
    received = 0;
    double t = run_coros(producer, NULL, consumer, NULL, 1);
    coco_channel_destroy(buf);
    if (received != BUFFERED_N) {
        fprintf(stderr, "bench_channel: lost messages\n");
        exit(1);
    }
    return BUFFERED_N / t;
}

/* --------------------------------------------------------------- select */

static coco_channel_t *sel[NSEL];

static void sel_producer(void *arg)
{
    coco_channel_t *ch = arg;
    for (long i = 0; i < SELECT_N / NSEL; i++)
        coco_channel_send(ch, (void *)i);
}

static void sel_consumer(void *arg)
{
    (void)arg;
    coco_select_case_t c[NSEL];
    for (int i = 0; i < NSEL; i++)
        c[i] = (coco_select_case_t){ sel[i], COCO_SELECT_RECV, NULL, 0 };
    for (long i = 0; i < SELECT_N / NSEL * NSEL; i++)
        coco_select(c, NSEL, COCO_INFINITE);
}

/* ns per completed select (each receives one message). */
static double bench_select(void)
{
    for (int i = 0; i < NSEL; i++)
        sel[i] = coco_channel_create(0);
    double t = run_coros(sel_consumer, NULL, sel_producer, (void *)sel, NSEL);
    for (int i = 0; i < NSEL; i++)
        coco_channel_destroy(sel[i]);
    return t * 1e9 / (double)(SELECT_N / NSEL * NSEL);
}

/* ---------------------------------------------------------------- peers */

struct figures {
    double pingpong_ns, buffered_mps, select_ns; /* 0: not measured */
};

/* Runs a peer program, which prints "name value" lines of medians. */
static int run_peer(const char *path, struct figures *f)
{
    char cmd[4096];
    if (access(path, X_OK) != 0)
        return -1;
    snprintf(cmd, sizeof cmd, "%s 1 %ld %ld %ld", path, PINGPONG_N,
             BUFFERED_N, SELECT_N);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    char name[64];
    double val;
    memset(f, 0, sizeof *f);
    while (fscanf(p, "%63s %lf", name, &val) == 2) {
        if (strcmp(name, "pingpong_ns") == 0)
            f->pingpong_ns = val;
        else if (strcmp(name, "buffered_mps") == 0)
            f->buffered_mps = val;
        else if (strcmp(name, "select_ns") == 0)
            f->select_ns = val;
    }
    return pclose(p) == 0 ? 0 : -1;
}

static int pinned_cpu = -1;

/* Pins the process (and the peers it starts) to the first allowed CPU, so
 * every runtime gets the same single core. */
static void pin_one_cpu(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return;
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (CPU_ISSET(c, &set)) {
            CPU_ZERO(&set);
            CPU_SET(c, &set);
            if (sched_setaffinity(0, sizeof set, &set) == 0)
                pinned_cpu = c;
            return;
        }
    }
}

/* Medians over the rounds, figure by figure (0 stays "not measured"). */
static struct figures median_figures(struct figures *r, int n)
{
    double v[ROUNDS];
    struct figures m;
    for (int i = 0; i < n; i++)
        v[i] = r[i].pingpong_ns;
    m.pingpong_ns = median(v, n);
    for (int i = 0; i < n; i++)
        v[i] = r[i].buffered_mps;
    m.buffered_mps = median(v, n);
    for (int i = 0; i < n; i++)
        v[i] = r[i].select_ns;
    m.select_ns = median(v, n);
    return m;
}

/* One figure of a peer, with Coco's speed-up over it (bigger: Coco faster). */
static void peer_line(const char *name, const char *what, double v, const char *unit,
                      double speedup)
{
    printf("  %-12s %-9s %8.1f %-9s Coco %5.2fx %s\n", name, what, v, unit, speedup,
           speedup >= 1 ? "faster" : "(slower)");
}

static void print_peer(const char *name, const struct figures *me,
                       const struct figures *f)
{
    peer_line(name, "ping-pong", f->pingpong_ns, "ns/msg", f->pingpong_ns / me->pingpong_ns);
    peer_line(name, "buffered", f->buffered_mps / 1e6, "M msgs/s",
              me->buffered_mps / f->buffered_mps);
    if (f->select_ns > 0)
        peer_line(name, "select(4)", f->select_ns, "ns/op", f->select_ns / me->select_ns);
    else
        printf("  %-12s %-9s      n/a (no select in this library)\n", name, "select(4)");
}

int main(int argc, char **argv)
{
    /* The peers live in peers/ next to this program unless told otherwise. */
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines as they come, also into a pipe */
    const char *dir = getenv("COCO_BENCH_PEERS");
    char here[1024], go_path[1100], fiber_path[1100];
    struct figures me[ROUNDS], go[ROUNDS], fb[ROUNDS];
    int go_ok = 1, fb_ok = 1;

    if (dir == NULL) {
        const char *slash = argc > 0 ? strrchr(argv[0], '/') : NULL;
        int len = slash != NULL ? (int)(slash - argv[0]) : 1;
        snprintf(here, sizeof here, "%.*s/peers", len, slash != NULL ? argv[0] : ".");
        dir = here;
    }
    snprintf(go_path, sizeof go_path, "%s/channel_go", dir);
    snprintf(fiber_path, sizeof fiber_path, "%s/channel_fiber", dir);
    setenv("GOMAXPROCS", "1", 1);
    pin_one_cpu();
    printf("Channels: Coco against Go and Boost.Fiber on one CPU");
    if (pinned_cpu >= 0)
        printf(" (CPU %d)", pinned_cpu);
    printf(", median of %d rounds\n", ROUNDS);
    if (getenv("COCO_BENCH_NO_LEGEND") == NULL)
        printf("  Speed-up: the peer's time / Coco's (for rates, Coco's / the peer's);\n"
               "  above 1, Coco is faster.\n");
    /* Rounds interleave the three runtimes, so that a noisy moment on a
     * shared machine does not land on one of them only. */
    printf("  rounds (Coco, Go, Boost.Fiber each):");
    fflush(stdout);
    for (int r = 0; r < ROUNDS; r++) {
        printf(" %d", r + 1);
        fflush(stdout);
        me[r].pingpong_ns = bench_pingpong();
        me[r].buffered_mps = bench_buffered();
        me[r].select_ns = bench_select();
        if (go_ok && run_peer(go_path, &go[r]) != 0)
            go_ok = 0;
        if (fb_ok && run_peer(fiber_path, &fb[r]) != 0)
            fb_ok = 0;
    }
    printf("\n");
    struct figures m = median_figures(me, ROUNDS);
    printf("  %-12s %-9s %8.1f %-9s (unbuffered, %ld round trips)\n",
           "coco", "ping-pong", m.pingpong_ns, "ns/msg", PINGPONG_N);
    printf("  %-12s %-9s %8.1f %-9s (capacity 1024, %ld msgs)\n",
           "coco", "buffered", m.buffered_mps / 1e6, "M msgs/s", BUFFERED_N);
    printf("  %-12s %-9s %8.1f %-9s (receive from 4 unbuffered channels)\n",
           "coco", "select(4)", m.select_ns, "ns/op");
    if (fb_ok) {
        struct figures f = median_figures(fb, ROUNDS);
        print_peer("boost.fiber", &m, &f);
    } else {
        printf("  %-12s skipped (its peer program was not built or failed)\n", "boost.fiber");
    }
    if (go_ok) {
        struct figures f = median_figures(go, ROUNDS);
        print_peer("go", &m, &f);
    } else {
        printf("  %-12s skipped (its peer program was not built or failed)\n", "go");
    }
    return 0;
}
