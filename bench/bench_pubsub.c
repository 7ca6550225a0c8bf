/*
 * bench_pubsub.c - publish-subscribe throughput: one publisher coroutine
 * and 1 or 8 subscriber coroutines on one scheduler, through a pub-sub
 * with a backlog of 64 per subscriber (both policies), against the same
 * fan-out built from Coco channels of capacity 64, one per subscriber,
 * the publisher sending each message on every channel in turn.  Pinned
 * to one CPU; each figure is the median of several rounds.  --quick runs
 * fewer messages and rounds.
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

#define BACKLOG 64
#define MAX_SUBS 8

static int rounds = 7;
static long total = 8000000L; /* deliveries per run: messages x subscribers */

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

static void pin_one_cpu(void)
{
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return;
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (CPU_ISSET(c, &set)) {
            CPU_ZERO(&set);
            CPU_SET(c, &set);
            sched_setaffinity(0, sizeof set, &set);
            return;
        }
    }
#endif
}

static long nmsgs;
static int nsubs;
static coco_pubsub_t *ps;
static coco_sub_t *subs[MAX_SUBS];
static coco_channel_t *chans[MAX_SUBS];
static unsigned long check[MAX_SUBS];

static void ps_pub(void *arg)
{
    (void)arg;
    for (long i = 1; i <= nmsgs; i++)
        coco_pubsub_publish(ps, (void *)i, COCO_INFINITE);
}

/* Drop-oldest never parks the publisher: it lets the subscribers run
 * once it has filled their backlogs, so that nothing is dropped and they
 * receive as much as in the other runs. */
static void ps_pub_yield(void *arg)
{
    (void)arg;
    for (long i = 1; i <= nmsgs; i++) {
        coco_pubsub_publish(ps, (void *)i, COCO_INFINITE);
        if (i % BACKLOG == 0)
            coco_yield();
    }
}

static void ps_sub(void *arg)
{
    int k = (int)(long)arg;
    void *m;
    unsigned long sum = 0;
    for (long i = 0; i < nmsgs; i++) {
        coco_sub_recv(subs[k], &m, COCO_INFINITE);
        sum += (unsigned long)m;
    }
    check[k] = sum;
}

static void ch_pub(void *arg)
{
    (void)arg;
    for (long i = 1; i <= nmsgs; i++)
        for (int k = 0; k < nsubs; k++)
            coco_channel_send(chans[k], (void *)i);
}

static void ch_sub(void *arg)
{
    int k = (int)(long)arg;
    void *m;
    unsigned long sum = 0;
    for (long i = 0; i < nmsgs; i++) {
        coco_channel_recv(chans[k], &m);
        sum += (unsigned long)m;
    }
    check[k] = sum;
}

/* One run; returns published messages per second. */
static double run(int use_pubsub, int policy)
{
    coco_sched_t *s = coco_sched_create();
    if (s == NULL) {
        perror("coco_sched_create");
        exit(1);
    }
    if (use_pubsub) {
        ps = coco_pubsub_create(BACKLOG, policy);
        for (int k = 0; k < nsubs; k++)
            subs[k] = coco_pubsub_subscribe(ps);
    } else {
        for (int k = 0; k < nsubs; k++)
            chans[k] = coco_channel_create(BACKLOG);
    }
    /* Subscribers first: they park, and the publisher finds them. */
    for (int k = 0; k < nsubs; k++)
        coco_create(s, use_pubsub ? ps_sub : ch_sub, (void *)(long)k, 0);
    void (*pub)(void *) = !use_pubsub                    ? ch_pub
                          : policy == COCO_PUBSUB_BLOCK ? ps_pub
                                                        : ps_pub_yield;
    coco_create(s, pub, NULL, 0);
    double t0 = now_s();
    int rc = coco_sched_run(s);
    double t = now_s() - t0;
    if (rc != COCO_OK) {
        fprintf(stderr, "bench_pubsub: run: %s\n", coco_strerror(rc));
        exit(1);
    }
    unsigned long want = (unsigned long)nmsgs * (unsigned long)(nmsgs + 1) / 2;
    for (int k = 0; k < nsubs; k++) {
        if (check[k] != want) {
            fprintf(stderr, "bench_pubsub: subscriber %d lost messages\n", k);
            exit(1);
        }
    }
    if (use_pubsub) {
        for (int k = 0; k < nsubs; k++) {
            if (coco_sub_dropped(subs[k]) != 0) {
                fprintf(stderr, "bench_pubsub: subscriber %d dropped messages\n", k);
                exit(1);
            }
        }
        coco_pubsub_destroy(ps);
    }
    else
        for (int k = 0; k < nsubs; k++)
            coco_channel_destroy(chans[k]);
    coco_sched_destroy(s);
    return (double)nmsgs / t;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--quick") == 0) {
        rounds = 3;
        total = 1000000L;
    }
    pin_one_cpu();
    static const int fan[] = {1, 8};
    printf("bench_pubsub: backlog/capacity %d, median of %d rounds, "
           "messages published per second (x subscribers = deliveries)\n",
           BACKLOG, rounds);
    fflush(stdout);
    for (size_t f = 0; f < sizeof fan / sizeof fan[0]; f++) {
        nsubs = fan[f];
        nmsgs = total / nsubs;
        double block[16], drop[16], chan[16];
        for (int r = 0; r < rounds; r++) {
            block[r] = run(1, COCO_PUBSUB_BLOCK);
            drop[r] = run(1, COCO_PUBSUB_DROP_OLDEST);
            chan[r] = run(0, 0);
        }
        double b = median(block, rounds), d = median(drop, rounds),
               c = median(chan, rounds);
        printf("  -> %d subscriber%s: pubsub block %.1f M msg/s, pubsub drop-oldest "
               "%.1f M msg/s, channels %.1f M msg/s; ratio pubsub/channels "
               "%.2f (block), %.2f (drop-oldest)\n",
               nsubs, nsubs == 1 ? "" : "s", b / 1e6, d / 1e6, c / 1e6, b / c, d / c);
        fflush(stdout);
    }
    return 0;
}
