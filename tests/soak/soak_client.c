/*
 * soak_client.c - loads an echo or HTTP server with well-behaved and
 * misbehaving clients for a while, checks every reply, and says how the
 * server did.
 *
 *   soak_client [-c GOOD] [-m BAD] [-i IDLE_MS] [-t TIMEOUT_MS] [-s SEED]
 *               echo|http PORT SECONDS
 *
 * GOOD threads (default 8) are well-behaved clients and BAD threads
 * (default 10) misbehave in turn in every way clients.c knows.  IDLE_MS
 * is the server's idle timeout, which silent clients check (0, the
 * default: the server has none and must keep them).  TIMEOUT_MS (default
 * 10000) is how long a reply may take before it counts as lost.  With
 * SECONDS 0 it sends one request, checks the reply and exits: the probe
 * that the server still answers.
 *
 * Prints a summary and, last, a line of key=value pairs for scripts.
 * Exits 0 only if no reply was lost or wrong, every connection was
 * accepted and the server coped with every misbehaviour.
 *
 * SPDX-License-Identifier: MIT
 */
#include "soak.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_THREADS 256

typedef struct worker {
    pthread_t tid;
    const client_cfg_t *cfg;
    bool good;
    int index;
    rng_t rng;
    stats_t st;
} worker_t;

static void *run_worker(void *arg)
{
    worker_t *w = arg;
    if (w->good)
        client_good(w->cfg, &w->rng, &w->st);
    else
        client_bad(w->cfg, &w->rng, w->index, &w->st);
    return NULL;
}

static void add_stats(stats_t *sum, const stats_t *s)
{
    sum->ok += s->ok;
    sum->wrong += s->wrong;
    sum->lost += s->lost;
    sum->connect_failed += s->connect_failed;
    sum->connections += s->connections;
    if (s->slowest_ms > sum->slowest_ms)
        sum->slowest_ms = s->slowest_ms;
    for (int k = 0; k < BAD_KINDS; k++) {
        sum->bad_done[k] += s->bad_done[k];
        sum->bad_failed[k] += s->bad_failed[k];
    }
    if (s->idle_min_ms && (sum->idle_min_ms == 0 || s->idle_min_ms < sum->idle_min_ms))
        sum->idle_min_ms = s->idle_min_ms;
    if (s->idle_max_ms > sum->idle_max_ms)
        sum->idle_max_ms = s->idle_max_ms;
}

/* Prints the summary; the number of failures of any kind. */
static uint64_t report(const char *name, const stats_t *s, double secs)
{
    uint64_t bad_total = 0, bad_failed = 0;
    printf("%s: %" PRIu64 " replies checked in %.1f s (%.0f/s), %" PRIu64 " wrong, %" PRIu64
           " lost, %" PRIu64 " connections, %" PRIu64 " refused\n",
           name, s->ok, secs, secs > 0 ? (double)s->ok / secs : 0.0, s->wrong, s->lost,
           s->connections, s->connect_failed);
    printf("  slowest batch of replies: %" PRIu64 " ms\n", s->slowest_ms);
    for (int k = 0; k < BAD_KINDS; k++) {
        printf("  %-18s %8" PRIu64 " done, %" PRIu64 " not handled\n", soak_bad_names[k],
               s->bad_done[k], s->bad_failed[k]);
        bad_total += s->bad_done[k];
        bad_failed += s->bad_failed[k];
    }
    if (s->idle_max_ms > 0)
        printf("  idle connections closed by the server after %" PRIu64 "-%" PRIu64 " ms\n",
               s->idle_min_ms, s->idle_max_ms);
    uint64_t failures = s->wrong + s->lost + s->connect_failed + bad_failed;
    printf("result: replies=%" PRIu64 " wrong=%" PRIu64 " lost=%" PRIu64 " refused=%" PRIu64
           " misbehaviours=%" PRIu64 " unhandled=%" PRIu64 "\n",
           s->ok, s->wrong, s->lost, s->connect_failed, bad_total, bad_failed);
    return failures;
}

static void usage(void)
{
    fprintf(stderr, "usage: soak_client [-c GOOD] [-m BAD] [-i IDLE_MS] [-t TIMEOUT_MS] "
                    "[-s SEED] echo|http PORT SECONDS\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int good = 8, bad = 10, opt;
    uint64_t seed = 1;
    client_cfg_t cfg = { .timeout_ms = 10000 };
    while ((opt = getopt(argc, argv, "c:m:i:t:s:")) != -1) {
        switch (opt) {
        case 'c': good = atoi(optarg); break;
        case 'm': bad = atoi(optarg); break;
        case 'i': cfg.idle_ms = atoi(optarg); break;
        case 't': cfg.timeout_ms = atoi(optarg); break;
        case 's': seed = strtoull(optarg, NULL, 0); break;
        default: usage();
        }
    }
    if (argc - optind != 3 || good < 0 || bad < 0 || good + bad > MAX_THREADS ||
        cfg.idle_ms < 0 || cfg.timeout_ms <= 0)
        usage();
    if (strcmp(argv[optind], "echo") == 0)
        cfg.proto = &soak_echo;
    else if (strcmp(argv[optind], "http") == 0)
        cfg.proto = &soak_http;
    else
        usage();
    cfg.port = atoi(argv[optind + 1]);
    int secs = atoi(argv[optind + 2]);
    if (cfg.port <= 0 || cfg.port > 65535 || secs < 0)
        usage();
    signal(SIGPIPE, SIG_IGN);

    if (secs == 0) {
        int r = client_probe(&cfg);
        printf("%s: probe %s\n", cfg.proto->name, r == 0 ? "answered correctly" : "FAILED");
        return r;
    }

    static worker_t w[MAX_THREADS];
    uint64_t start = net_now_ms();
    cfg.end_ms = start + (uint64_t)secs * 1000;
    int n = good + bad;
    for (int i = 0; i < n; i++) {
        w[i].cfg = &cfg;
        w[i].good = i < good;
        w[i].index = i;
        w[i].rng.s = seed * 0x9E3779B97F4A7C15ULL + (uint64_t)i + 1;
        if (pthread_create(&w[i].tid, NULL, run_worker, &w[i]) != 0) {
            perror("pthread_create");
            return 2;
        }
    }
    stats_t sum;
    memset(&sum, 0, sizeof sum);
    for (int i = 0; i < n; i++) {
        pthread_join(w[i].tid, NULL);
        add_stats(&sum, &w[i].st);
    }
    double elapsed = (double)(net_now_ms() - start) / 1000.0;
    return report(cfg.proto->name, &sum, elapsed) == 0 ? 0 : 1;
}
