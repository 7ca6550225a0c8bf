/*
 * bench_scale.c - Coco with very many coroutines, next to Go goroutines
 * measured in the same run.
 *
 * Populations: 1K, 100K and 1M coroutines on guarded stacks of their own,
 * 1K and 10M on shared stacks.  Half of each population sleeps (a deadline
 * an hour away), half waits in a channel receive.  For each one:
 *   rss/coro  RSS growth per parked coroutine, descriptor and stack
 *             included (bytes; RSS figures do not suffer from a loaded
 *             machine, timings do)
 *   create/s  coroutines created and run up to their park, per second
 *   wake      ns to hand a value to a parked receiver, which takes it and
 *             parks again: the same receiver each time (hot)
 *   cold      the same, to each receiver of the population in turn: every
 *             one touches memory nobody touched for a while, so this one
 *             grows with the population through cache and TLB misses (for
 *             Go too), not through any walk of the population
 *   yield     ns per coco_yield() between two ready coroutines
 *   timer     CPU ns per 1 ms sleep, from arming to expiry
 *   io        ns from a pipe write to the reader parked on it taking it
 * The probes run among the parked population, so they show whether a
 * wake-up, a yield, a timer expiry or an I/O event cost more with a
 * million coroutines than with a thousand (they should not: nothing in
 * the library walks the population).
 *
 * Spawn: create + first run + finish + destroy with a warm pool, from
 * inside a coroutine (create, join, destroy) as Go's `go f()` + wait is,
 * and from outside any coroutine (create, one scheduler step, destroy).
 *
 * Go: bench/peers/scale_go (built by `make bench` when go is installed)
 * builds the same populations with GOMAXPROCS=1 and prints the same
 * figures; ratios are Go / Coco for costs and Coco / Go for rates, so
 * above 1 means Coco does better.  Go at 10M would need some 27 GB, so
 * the shared-stack 10M population is compared with Go at 1M.
 *
 * Each population is built in a child process of its own, so that RSS is
 * measured cleanly and memory goes back between them.  Before each one
 * the free memory is checked, and a population that would not fit with a
 * margin is scaled down, with a message.
 *
 * Options: --quick (1K and 100K guarded, 1M shared, fewer probes),
 * --part=guarded,shared,spawn (any of them), --go PATH, --no-go.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <coco.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct figures {
    long n;
    double rss_per, create_rate, wake, wake_cold, yield, timer, io, spawn;
    bool ok;
};

struct opts {
    bool quick, guarded, shared, spawn, go;
    const char *go_path;
    long probes;
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long meminfo_kb(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long kb = -1;
    size_t len = strlen(key);
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, key, len) == 0)
            kb = atol(line + len);
    if (f != NULL)
        fclose(f);
    return kb;
}

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atol(line + 6);
    if (f != NULL)
        fclose(f);
    return kb * 1024;
}

/* ------------------------------------------------------ the population */

static coco_channel_t *park_ch, *hot_ch, *io_done;
static coco_attr_t pop_attr;
static int io_pipe[2];
static volatile bool spinning;
static struct figures *out;
static long probes;
static double t_start;
static long base_rss;

static void sleeper(void *arg)
{
    (void)arg;
    coco_sleep(3600 * 1000);
}

static void receiver(void *arg)
{
    (void)arg;
    void *v;
    while (coco_channel_recv(park_ch, &v) == COCO_OK)
        ;
}

static void spinner(void *arg)
{
    (void)arg;
    while (spinning)
        coco_yield();
}

static void io_reader(void *arg)
{
    (void)arg;
    char b;
    for (long i = 0; i < probes; i++) {
        if (coco_read(io_pipe[0], &b, 1) != 1)
            break;
        coco_channel_send(io_done, NULL);
    }
}

static void hot_receiver(void *arg)
{
    (void)arg;
    void *v;
    while (coco_channel_recv(hot_ch, &v) == COCO_OK)
        ;
}

/* Hands probes values to receivers on ch; each woken one runs and parks
 * again before the next.  ns per hand-off. */
static double wake_round(coco_channel_t *ch)
{
    double t0 = now_ns();
    for (long i = 0; i < probes; i++) {
        coco_channel_send(ch, (void *)1);
        coco_yield();
    }
    return (now_ns() - t0) / (double)probes;
}

static void probe_wake(coco_sched_t *s)
{
    hot_ch = coco_channel_create(0);
    coco_detach(coco_create_attr(s, hot_receiver, NULL, &pop_attr));
    coco_yield();
    out->wake = wake_round(hot_ch);
    out->wake_cold = wake_round(park_ch);
}

static void probe_yield(coco_sched_t *s)
{
    spinning = true;
    coco_detach(coco_create(s, spinner, NULL, 0));
    coco_yield();
    double t0 = now_ns();
    for (long i = 0; i < probes; i++)
        coco_yield();
    out->yield = (now_ns() - t0) / (double)(2 * probes);
    spinning = false;
    coco_yield();
}

static void probe_timer(void)
{
    long k = probes / 100 < 20 ? 20 : probes / 100;
    double c0 = cpu_ns();
    for (long i = 0; i < k; i++)
        coco_sleep(1);
    out->timer = (cpu_ns() - c0) / (double)k;
}

static void probe_io(coco_sched_t *s)
{
    if (pipe(io_pipe) != 0)
        return;
    io_done = coco_channel_create(0);
    coco_detach(coco_create(s, io_reader, NULL, 0));
    coco_yield();
    double t0 = now_ns();
    void *v;
    for (long i = 0; i < probes; i++) {
        if (write(io_pipe[1], "x", 1) != 1)
            return;
        coco_channel_recv(io_done, &v);
    }
    out->io = (now_ns() - t0) / (double)probes;
}

/* Created last: runs once everyone else has parked. */
static void meter(void *arg)
{
    coco_sched_t *s = arg;
    out->create_rate = (double)out->n / ((now_ns() - t_start) / 1e9);
    out->rss_per = (double)(rss_bytes() - base_rss) / (double)out->n;
    probe_wake(s);
    probe_yield(s);
    probe_timer();
    probe_io(s);
    out->ok = true;
    fflush(stdout);
    _exit(0); /* the population goes with the process */
}

static void population(long n, bool shared)
{
    coco_sched_t *s = coco_sched_create();
    coco_sched_set_max_coroutines(s, 0);
    park_ch = coco_channel_create(0);
    coco_attr_t attr;
    coco_attr_init(&attr);
    if (shared)
        attr.flags = COCO_ATTR_SHARED_STACK;
    pop_attr = attr;
    out->n = n;
    base_rss = rss_bytes();
    t_start = now_ns();
    for (long i = 0; i < n; i++) {
        coco_coro_t *c = coco_create_attr(s, i % 2 ? sleeper : receiver, NULL, &attr);
        if (c == NULL) {
            fprintf(stderr, "bench_scale: coroutine %ld could not be created\n", i);
            _exit(1);
        }
        coco_detach(c);
    }
    coco_detach(coco_create(s, meter, s, 0));
    coco_sched_run(s);
    _exit(1); /* the meter never came back */
}

/* ---------------------------------------------------------------- spawn */

static long spawn_k;
static void nothing(void *arg)
{
    (void)arg;
}

static void spawner(void *arg)
{
    coco_attr_t *attr = arg;
    coco_sched_t *s = coco_self()->sched;
    for (int warm = 0; warm < 2; warm++) {
        long k = warm == 0 ? 1000 : spawn_k;
        double t0 = now_ns();
        for (long i = 0; i < k; i++) {
            coco_coro_t *c = coco_create_attr(s, nothing, NULL, attr);
            coco_join(c);
            coco_destroy(c);
        }
        out->spawn = (now_ns() - t0) / (double)k;
    }
    out->ok = true;
}

static void spawn_inside(bool shared)
{
    coco_sched_t *s = coco_sched_create();
    coco_attr_t attr;
    coco_attr_init(&attr);
    if (shared)
        attr.flags = COCO_ATTR_SHARED_STACK;
    coco_create(s, spawner, &attr, 0);
    coco_sched_run(s);
    coco_sched_destroy(s);
}

static void spawn_outside(void)
{
    coco_sched_t *s = coco_sched_create();
    for (int warm = 0; warm < 2; warm++) {
        long k = warm == 0 ? 1000 : spawn_k;
        double t0 = now_ns();
        for (long i = 0; i < k; i++) {
            coco_coro_t *c = coco_create(s, nothing, NULL, 0);
            coco_sched_run_once(s);
            coco_destroy(c);
        }
        out->spawn = (now_ns() - t0) / (double)k;
    }
    out->ok = true;
    coco_sched_destroy(s);
}

/* -------------------------------------------------------------- running */

enum job { JOB_GUARDED, JOB_SHARED, JOB_SPAWN_IN, JOB_SPAWN_IN_SHARED, JOB_SPAWN_OUT };

/* Runs one job in a child; its figures come back through shared memory. */
static struct figures run_child(enum job job, long n)
{
    struct figures *shm = mmap(NULL, sizeof *shm, PROT_READ | PROT_WRITE,
                               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    struct figures f = { .n = n };
    if (shm == MAP_FAILED)
        return f;
    memset(shm, 0, sizeof *shm);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        out = shm;
        switch (job) {
        case JOB_GUARDED: population(n, false); break;
        case JOB_SHARED: population(n, true); break;
        case JOB_SPAWN_IN: spawn_inside(false); break;
        case JOB_SPAWN_IN_SHARED: spawn_inside(true); break;
        case JOB_SPAWN_OUT: spawn_outside(); break;
        }
        _exit(0);
    }
    int status;
    if (pid > 0)
        waitpid(pid, &status, 0);
    f = *shm;
    munmap(shm, sizeof *shm);
    return f;
}

/* Runs the Go peer; its "name value" lines fill f. */
static bool run_go(const char *path, const char *args, struct figures *f)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "GOMAXPROCS=1 '%s' %s", path, args);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return false;
    char name[64];
    double v;
    while (fscanf(p, "%63s %lf", name, &v) == 2) {
        if (strcmp(name, "rss_per") == 0) f->rss_per = v;
        else if (strcmp(name, "create_rate") == 0) f->create_rate = v;
        else if (strcmp(name, "wake") == 0) f->wake = v;
        else if (strcmp(name, "wake_cold") == 0) f->wake_cold = v;
        else if (strcmp(name, "yield") == 0) f->yield = v;
        else if (strcmp(name, "timer") == 0) f->timer = v;
        else if (strcmp(name, "io") == 0) f->io = v;
        else if (strcmp(name, "spawn") == 0) f->spawn = v;
    }
    f->ok = pclose(p) == 0;
    return f->ok;
}

/* Scales n down to what fits in the available memory with a margin. */
static long fit(long n, double bytes_each, const char *what)
{
    long avail_kb = meminfo_kb("MemAvailable:");
    if (avail_kb <= 0)
        return n;
    double budget = (double)avail_kb * 1024.0 * 0.6;
    if ((double)n * bytes_each <= budget)
        return n;
    long m = (long)(budget / bytes_each);
    printf("  (%s: %ld would need %.1f GB, %.1f GB available: running %ld)\n", what,
           n, (double)n * bytes_each / 1e9, (double)avail_kb / 1e6, m);
    return m;
}

static const char *label(long n, char *buf, size_t size)
{
    if (n >= 1000000 && n % 1000000 == 0)
        snprintf(buf, size, "%ldM", n / 1000000);
    else if (n >= 1000 && n % 1000 == 0)
        snprintf(buf, size, "%ldK", n / 1000);
    else
        snprintf(buf, size, "%ld", n);
    return buf;
}

static void print_row(const char *who, const struct figures *f)
{
    char b[32];
    if (!f->ok) {
        printf("  %-22s %6s  failed\n", who, label(f->n, b, sizeof b));
        return;
    }
    printf("  %-22s %6s %9.0f %11.0f %8.0f %8.0f %8.0f %9.0f %8.0f\n", who,
           label(f->n, b, sizeof b), f->rss_per, f->create_rate, f->wake,
           f->wake_cold, f->yield, f->timer, f->io);
}

static double ratio(double a, double b)
{
    return b > 0 ? a / b : 0;
}

static void print_ratio(const struct figures *me, const struct figures *go)
{
    if (!me->ok || !go->ok)
        return;
    printf("  %-22s %6s %8.1fx %10.2fx %7.2fx %7.2fx %7.2fx %8.2fx %7.2fx\n",
           "  ratio (>1: coco wins)", "", ratio(go->rss_per, me->rss_per),
           ratio(me->create_rate, go->create_rate), ratio(go->wake, me->wake),
           ratio(go->wake_cold, me->wake_cold), ratio(go->yield, me->yield),
           ratio(go->timer, me->timer), ratio(go->io, me->io));
}

static void go_row(const struct opts *o, long n, const struct figures *me)
{
    if (!o->go)
        return;
    char args[64];
    struct figures g = { .n = n };
    snprintf(args, sizeof args, "park %ld %ld", n, o->probes);
    run_go(o->go_path, args, &g);
    g.n = n;
    print_row("go goroutines", &g);
    print_ratio(me, &g);
}

static void populations(const struct opts *o)
{
    printf("\npopulation (half in coco_sleep, half in a channel receive)\n");
    printf("  %-22s %6s %9s %11s %8s %8s %8s %9s %8s\n", "", "n", "rss/coro",
           "create/s", "wake ns", "cold ns", "yield ns", "timer cpu", "io ns");
    if (o->guarded) {
        long sizes[3] = { 1000, 100000, 1000000 };
        for (int i = 0; i < (o->quick ? 2 : 3); i++) {
            long n = fit(sizes[i], 4500.0, "guarded");
            struct figures f = run_child(JOB_GUARDED, n);
            print_row("coco guarded", &f);
            go_row(o, fit(n, 3000.0, "go"), &f);
        }
    }
    if (o->shared) {
        long sizes[2] = { 1000, o->quick ? 1000000 : 10000000 };
        for (int i = 0; i < 2; i++) {
            long n = fit(sizes[i], 500.0, "shared");
            struct figures f = run_child(JOB_SHARED, n);
            print_row("coco shared stack", &f);
            if (n <= 1000000)
                go_row(o, n, &f);
            else
                go_row(o, fit(1000000, 3000.0, "go"), &f);
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define SPAWN_ROUNDS 5

/* The median spawn figure of a job over the rounds (0 if one failed). */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n > 0 ? v[n / 2] : 0;
}

static void spawns(const struct opts *o)
{
    spawn_k = o->quick ? 200000 : 1000000;
    int rounds = o->quick ? 3 : SPAWN_ROUNDS;
    double in[SPAWN_ROUNDS], in_sh[SPAWN_ROUNDS], outside[SPAWN_ROUNDS], go[SPAWN_ROUNDS];
    int ngo = 0;
    char args[64];
    snprintf(args, sizeof args, "spawn %ld", spawn_k);
    /* Interleaved, so that every column sees the same machine. */
    for (int r = 0; r < rounds; r++) {
        in[r] = run_child(JOB_SPAWN_IN, 0).spawn;
        in_sh[r] = run_child(JOB_SPAWN_IN_SHARED, 0).spawn;
        outside[r] = run_child(JOB_SPAWN_OUT, 0).spawn;
        struct figures g = { 0 };
        if (o->go && run_go(o->go_path, args, &g))
            go[ngo++] = g.spawn;
    }
    printf("\nspawn: create + first run + finish + destroy, warm pool "
           "(ns each, median of %d rounds of %ld)\n", rounds, spawn_k);
    double m_in = median(in, rounds), m_out = median(outside, rounds);
    printf("  %-44s %8.1f\n", "coco create, join, destroy", m_in);
    printf("  %-44s %8.1f\n", "coco shared stack: create, join, destroy",
           median(in_sh, rounds));
    printf("  %-44s %8.1f\n", "coco create, run_once, destroy (outside)", m_out);
    if (ngo > 0) {
        double m_go = median(go, ngo);
        printf("  %-44s %8.1f\n", "go: go f(), wg.Wait() (GOMAXPROCS=1)", m_go);
        printf("  ratio go / coco (create, join, destroy): %.2fx\n", ratio(m_go, m_in));
        printf("  ratio go / coco (outside):               %.2fx\n", ratio(m_go, m_out));
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_scale [--quick] [--part=guarded,shared,spawn] "
                    "[--go PATH | --no-go]\n");
    exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
    o->guarded = o->shared = o->spawn = o->go = true;
    o->go_path = getenv("COCO_BENCH_GO");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            o->quick = true;
        } else if (strncmp(argv[i], "--part=", 7) == 0) {
            const char *p = argv[i] + 7;
            o->guarded = strstr(p, "guarded") != NULL;
            o->shared = strstr(p, "shared") != NULL;
            o->spawn = strstr(p, "spawn") != NULL;
        } else if (strcmp(argv[i], "--go") == 0 && i + 1 < argc) {
            o->go_path = argv[++i];
        } else if (strcmp(argv[i], "--no-go") == 0) {
            o->go = false;
        } else {
            usage();
        }
    }
    o->probes = o->quick ? 20000 : 100000;
    probes = o->probes;
    static char here[4096];
    if (o->go && o->go_path == NULL) {
        const char *slash = strrchr(argv[0], '/');
        int len = slash != NULL ? (int)(slash - argv[0]) : 1;
        snprintf(here, sizeof here, "%.*s/peers/scale_go", len,
                 slash != NULL ? argv[0] : ".");
        o->go_path = here;
    }
    if (o->go && access(o->go_path, X_OK) != 0) {
        printf("bench_scale: no Go peer at %s; Go is skipped\n", o->go_path);
        o->go = false;
    }
}

int main(int argc, char **argv)
{
    struct opts o = { 0 };
    parse(argc, argv, &o);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("bench_scale: %ld MB available.  Population timings come from one "
           "run each and are noisy on a loaded machine; RSS figures are not.\n",
           meminfo_kb("MemAvailable:") / 1024);
    if (o.guarded || o.shared)
        populations(&o);
    if (o.spawn)
        spawns(&o);
    return 0;
}
