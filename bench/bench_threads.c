/*
 * bench_threads.c - Coco on two threads against Go with GOMAXPROCS=2,
 * both measured in the same run (the Go peer, bench/peers/threads_go,
 * runs once per round between Coco's rounds).  Five loads:
 *
 *   ping-pong, 2 threads   two schedulers, each run by its own thread, one
 *                          coroutine each, an unbuffered channel each way:
 *                          ns per round trip.  Every message crosses
 *                          threads.  Each round also times the floor
 *                          under it: two plain threads handing one cache
 *                          line back and forth (no Coco, no Go), which
 *                          moves with where the host puts the threads.
 *   ping-pong, workers     the same two coroutines spawned into a worker
 *                          group of two (where they run is the group's
 *                          choice, reported).  Go: the same two goroutines.
 *   skynet                 1M coroutines in a 10-ary tree, each spawned
 *                          from inside the group by its parent; a leaf
 *                          sends its number, an inner node the sum of its
 *                          ten children's, over a buffered channel the
 *                          parent made: ms for the whole tree.
 *   fan-out/fan-in         a producer -> 4 workers -> a collector over
 *                          buffered channels (capacity 1024): messages/s.
 *   scaling                a binary tree of 2^14 - 1 spawned coroutines,
 *                          each some ten microseconds of arithmetic, on a
 *                          group of 1 and of 2 workers: the speed-up.  Go:
 *                          GOMAXPROCS=1 and 2.
 *
 * Every figure is the median of the rounds; nothing is pinned (the loads
 * need both CPUs).  Speed-up: Go's time / Coco's (for rates, Coco's rate
 * / Go's); above 1, Coco is faster.
 *
 *   bench_threads [--quick] [--rounds N] [--part=LIST] [--no-go]
 *
 * --part=LIST runs only the loads named in the comma-separated LIST
 * (threads, workers, skynet, fanout, scaling); --no-go leaves Go out: for
 * profiling one load.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include "coco.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 15
#define FAN_WORKERS 4
#define SKY_STACK (16 * 1024)
#define SCALE_STACK (16 * 1024)

struct opts {
    int rounds;
    long pingpong_n;  /* round trips */
    long skynet_size; /* leaves of the tree, a power of 10 */
    long fan_n;       /* messages */
    int scale_depth;  /* a tree of 2^(depth+1) - 1 tasks */
    long scale_work;  /* xorshift rounds per task */
};

/* CPU time of the whole process (every thread), in seconds. */
static double cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

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

static double median(const double *v, int n)
{
    double s[MAX_ROUNDS];
    memcpy(s, v, (size_t)n * sizeof *v);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return s[n / 2];
}

static void fail(const char *what, int rc)
{
    fprintf(stderr, "bench_threads: %s: %s\n", what, coco_strerror(rc));
    exit(1);
}

static coco_workers_t *workers_new(size_t n)
{
    coco_workers_t *wk = coco_workers_create(n);
    if (wk == NULL) {
        perror("bench_threads: coco_workers_create");
        exit(1);
    }
    return wk;
}

static void spawn(coco_workers_t *wk, void (*entry)(void *), void *arg, size_t stack)
{
    int rc = coco_workers_spawn(wk, entry, arg, stack);
    if (rc != COCO_OK)
        fail("coco_workers_spawn", rc);
}

static void run_workers(coco_workers_t *wk, const char *what)
{
    int rc = coco_workers_run(wk);
    if (rc != COCO_OK)
        fail(what, rc);
}

/* ------------------------------------------------------------ ping-pong */

#define PP_WARMUP 1000
#define PP_BUDGET_S 0.5 /* a run stops early past this */

struct pingpong {
    coco_channel_t *ping, *pong;
    long n, done;                     /* round trips asked for, made */
    double ns;                        /* per round trip, set by the pinger */
    coco_sched_t *pinger_on, *ponger_on;
};

static void pinger(void *arg)
{
    struct pingpong *pp = arg;
    void *v;
    double t0 = 0;
    long i;
    pp->pinger_on = coco_self()->sched;
    for (i = 0; i < PP_WARMUP + pp->n; i++) {
        if (i == PP_WARMUP)
            t0 = now_s();
        else if (i > PP_WARMUP && i % 256 == 0 && now_s() - t0 > PP_BUDGET_S)
            break;
        if (coco_channel_send(pp->ping, (void *)i) != COCO_OK ||
            coco_channel_recv(pp->pong, &v) != COCO_OK || (long)v != i) {
            fprintf(stderr, "bench_threads: ping-pong lost a message\n");
            exit(1);
        }
    }
    pp->ns = (now_s() - t0) * 1e9 / (double)(i - PP_WARMUP);
    pp->done = i - PP_WARMUP;
    coco_channel_close(pp->ping); /* the ponger's end */
}

static void ponger(void *arg)
{
    struct pingpong *pp = arg;
    void *v;
    pp->ponger_on = coco_self()->sched;
    while (coco_channel_recv(pp->ping, &v) == COCO_OK)
        coco_channel_send(pp->pong, v);
}

static void pingpong_init(struct pingpong *pp, long n)
{
    memset(pp, 0, sizeof *pp);
    pp->ping = coco_channel_create(0);
    pp->pong = coco_channel_create(0);
    if (pp->ping == NULL || pp->pong == NULL) {
        perror("bench_threads: coco_channel_create");
        exit(1);
    }
    pp->n = n;
}

static void pingpong_fini(struct pingpong *pp)
{
    coco_channel_destroy(pp->ping);
    coco_channel_destroy(pp->pong);
}

struct side {
    coco_sched_t *sched;
    int rc;
};

/* A thread running a scheduler of its own. */
static void *side_thread(void *arg)
{
    struct side *s = arg;
    s->rc = coco_sched_run(s->sched);
    return NULL;
}

/* A scheduler running entry(pp), for a thread of its own. */
static struct side side_new(void (*entry)(void *), struct pingpong *pp)
{
    struct side s = { coco_sched_create(), 0 };
    if (s.sched == NULL || coco_create(s.sched, entry, pp, 0) == NULL) {
        perror("bench_threads: ping-pong scheduler");
        exit(1);
    }
    return s;
}

/* ns per round trip between two threads, each with its own scheduler.
 * Both schedulers exist before either thread runs: a scheduler whose
 * coroutines all wait returns COCO_ERROR_DEADLOCK unless another one
 * that may still wake them is alive. */
static double bench_pingpong_threads(long n)
{
    struct pingpong pp;
    pingpong_init(&pp, n);
    struct side a = side_new(pinger, &pp), b = side_new(ponger, &pp);
    pthread_t ta, tb;
    if (pthread_create(&ta, NULL, side_thread, &a) != 0 ||
        pthread_create(&tb, NULL, side_thread, &b) != 0) {
        perror("bench_threads: pthread_create");
        exit(1);
    }
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    if (a.rc != COCO_OK)
        fail("ping-pong thread", a.rc);
    if (b.rc != COCO_OK)
        fail("pong thread", b.rc);
    coco_sched_destroy(a.sched);
    coco_sched_destroy(b.sched);
    pingpong_fini(&pp);
    return pp.ns;
}

/* ns per round trip between two coroutines of a group of two workers;
 * *split tells whether they ran on different workers. */
static double bench_pingpong_workers(long n, int *split)
{
    struct pingpong pp;
    pingpong_init(&pp, n);
    coco_workers_t *wk = workers_new(2);
    spawn(wk, pinger, &pp, 0);
    spawn(wk, ponger, &pp, 0);
    run_workers(wk, "ping-pong workers");
    coco_workers_destroy(wk);
    pingpong_fini(&pp);
    *split = pp.pinger_on != pp.ponger_on;
    return pp.ns;
}

/* ------------------------------------------------- the hardware's floor */

/* Two plain threads handing one cache line back and forth, each spinning
 * until the other has written it: ns per round trip.  Nothing that passes
 * a message between two threads can do with fewer than the two transfers
 * of a line this costs, so it is the floor under the 2-thread ping-pong
 * on this machine (Go's pair of goroutines may share a thread, and then
 * pays no such transfer). */
struct line_trip {
    long turn __attribute__((aligned(64))); /* odd: the ponger's; -1: stop */
    char pad[64 - sizeof(long)];
};

/* Spins until *p is want or -1 (returns false on -1), yielding the
 * processor now and then in case the other thread is not running. */
static int line_wait(long *p, long want)
{
    for (unsigned i = 1;; i++) {
        long v = __atomic_load_n(p, __ATOMIC_ACQUIRE);
        if (v == want)
            return 1;
        if (v == -1)
            return 0;
        if (i % 4096 == 0)
            sched_yield();
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
}

static void *line_ponger(void *arg)
{
    struct line_trip *t = arg;
    for (long i = 1; line_wait(&t->turn, i); i += 2)
        __atomic_store_n(&t->turn, i + 1, __ATOMIC_RELEASE);
    return NULL;
}

static double bench_line_trip(long n)
{
    static struct line_trip t;
    t.turn = 0;
    pthread_t th;
    if (pthread_create(&th, NULL, line_ponger, &t) != 0) {
        perror("bench_threads: pthread_create");
        exit(1);
    }
    double t0 = 0;
    long i;
    for (i = 0; i < PP_WARMUP + n; i++) {
        if (i == PP_WARMUP)
            t0 = now_s();
        else if (i > PP_WARMUP && i % 256 == 0 && now_s() - t0 > PP_BUDGET_S)
            break;
        __atomic_store_n(&t.turn, 2 * i + 1, __ATOMIC_RELEASE);
        line_wait(&t.turn, 2 * i + 2);
    }
    double ns = (now_s() - t0) * 1e9 / (double)(i - PP_WARMUP);
    __atomic_store_n(&t.turn, -1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    return ns;
}

/* --------------------------------------------------------------- skynet */

/* A node of the tree: the numbers num .. num + size - 1.  It lives on the
 * parent's stack, which stays until the parent has received all ten
 * answers, and each child copies it first. */
struct sky {
    coco_channel_t *out;
    long num, size;
};

static void sky_node(void *arg)
{
    struct sky me = *(const struct sky *)arg;
    if (me.size == 1) {
        coco_channel_send(me.out, (void *)me.num);
        return;
    }
    coco_channel_t *c = coco_channel_create(10);
    if (c == NULL) {
        perror("bench_threads: skynet channel");
        exit(1);
    }
    struct sky kids[10];
    long step = me.size / 10, sum = 0;
    coco_workers_t *wk = coco_workers_self();
    for (int i = 0; i < 10; i++) {
        kids[i] = (struct sky){ c, me.num + i * step, step };
        spawn(wk, sky_node, &kids[i], SKY_STACK);
    }
    for (int i = 0; i < 10; i++) {
        void *v;
        if (coco_channel_recv(c, &v) != COCO_OK) {
            fprintf(stderr, "bench_threads: skynet lost a child\n");
            exit(1);
        }
        sum += (long)v;
    }
    coco_channel_destroy(c);
    coco_channel_send(me.out, (void *)sum);
}

/* ms for the whole tree on two workers, spawn of the root to its sum. */
static double bench_skynet(long size)
{
    coco_channel_t *out = coco_channel_create(1);
    coco_workers_t *wk = workers_new(2);
    struct sky root = { out, 0, size };
    double t0 = now_s();
    spawn(wk, sky_node, &root, SKY_STACK);
    run_workers(wk, "skynet");
    double ms = (now_s() - t0) * 1e3;
    void *v = NULL;
    if (coco_channel_try_recv(out, &v) != COCO_OK || (long)v != size * (size - 1) / 2) {
        fprintf(stderr, "bench_threads: skynet: wrong sum\n");
        exit(1);
    }
    coco_workers_destroy(wk);
    coco_channel_destroy(out);
    return ms;
}

/* ------------------------------------------------------- fan-out/fan-in */

static coco_channel_t *fan_jobs, *fan_results;
static long fan_n, fan_sum;

static void fan_producer(void *arg)
{
    (void)arg;
    for (long i = 0; i < fan_n; i++)
        coco_channel_send(fan_jobs, (void *)i);
    coco_channel_close(fan_jobs);
}

static void fan_worker(void *arg)
{
    (void)arg;
    void *v;
    while (coco_channel_recv(fan_jobs, &v) == COCO_OK)
        coco_channel_send(fan_results, (void *)((long)v * 2));
}

static void fan_collector(void *arg)
{
    (void)arg;
    long sum = 0;
    for (long i = 0; i < fan_n; i++) {
        void *v;
        if (coco_channel_recv(fan_results, &v) != COCO_OK)
            break;
        sum += (long)v;
    }
    fan_sum = sum;
}

/* Messages per second through producer -> workers -> collector. */
static double bench_fanout(long n)
{
    fan_jobs = coco_channel_create(1024);
    fan_results = coco_channel_create(1024);
    fan_n = n;
    fan_sum = 0;
    coco_workers_t *wk = workers_new(2);
    double t0 = now_s();
    spawn(wk, fan_collector, NULL, 0);
    for (int i = 0; i < FAN_WORKERS; i++)
        spawn(wk, fan_worker, NULL, 0);
    spawn(wk, fan_producer, NULL, 0);
    run_workers(wk, "fan-out");
    double t = now_s() - t0;
    if (fan_sum != n * (n - 1)) {
        fprintf(stderr, "bench_threads: fan-out lost messages\n");
        exit(1);
    }
    coco_workers_destroy(wk);
    coco_channel_destroy(fan_jobs);
    coco_channel_destroy(fan_results);
    return (double)n / t;
}

/* -------------------------------------------------------------- scaling */

static long scale_work;
static unsigned long scale_sum, scale_count;

/* A task's CPU work: rounds of xorshift, kept because the result is. */
static unsigned long burn(unsigned long seed, long rounds)
{
    unsigned long x = seed | 1;
    for (long i = 0; i < rounds; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}

/* The argument is depth << 32 | id: spawns two children when depth > 0,
 * then works. */
static void scale_node(void *arg)
{
    unsigned long a = (unsigned long)(uintptr_t)arg;
    unsigned long depth = a >> 32, id = a & 0xffffffffUL;
    if (depth > 0) {
        coco_workers_t *wk = coco_workers_self();
        for (unsigned long k = 0; k < 2; k++)
            spawn(wk, scale_node, (void *)(uintptr_t)((depth - 1) << 32 | (2 * id + k)),
                  SCALE_STACK);
    }
    __atomic_fetch_add(&scale_sum, burn(id, scale_work), __ATOMIC_RELAXED);
    __atomic_fetch_add(&scale_count, 1, __ATOMIC_RELAXED);
}

/* ms for the whole tree on a group of nthreads; *cpu_ms: the CPU time
 * all threads spent meanwhile. */
static double bench_scale(size_t nthreads, int depth, long work, double *cpu_ms)
{
    scale_work = work;
    scale_sum = scale_count = 0;
    coco_workers_t *wk = workers_new(nthreads);
    double c0 = cpu_s(), t0 = now_s();
    spawn(wk, scale_node, (void *)(uintptr_t)((unsigned long)depth << 32 | 1), SCALE_STACK);
    run_workers(wk, "scaling");
    double ms = (now_s() - t0) * 1e3;
    *cpu_ms = (cpu_s() - c0) * 1e3;
    if (scale_count != (2UL << depth) - 1) {
        fprintf(stderr, "bench_threads: scaling: %lu tasks ran, not %lu\n", scale_count,
                (2UL << depth) - 1);
        exit(1);
    }
    coco_workers_destroy(wk);
    return ms;
}

/* ---------------------------------------------------------------- peers */

enum { F_PP_THREADS, F_PP_WORKERS, F_SKYNET, F_FANOUT, F_SCALE1, F_SCALE2, NFIG };

struct figures {
    double v[NFIG]; /* 0: not measured */
};

/* Runs the Go peer once; it prints "name value" lines. */
static int run_go(const char *path, const struct opts *o, struct figures *f)
{
    char cmd[4096];
    if (access(path, X_OK) != 0)
        return -1;
    snprintf(cmd, sizeof cmd, "%s %ld %ld %ld %d %d %ld", path, o->pingpong_n,
             o->skynet_size, o->fan_n, FAN_WORKERS, o->scale_depth, o->scale_work);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    static const char *const names[NFIG] = {
        "pingpong_ns", NULL, "skynet_ms", "fanout_mps", "scale1_ms", "scale2_ms"
    };
    char name[64];
    double val;
    memset(f, 0, sizeof *f);
    while (fscanf(p, "%63s %lf", name, &val) == 2)
        for (int i = 0; i < NFIG; i++)
            if (names[i] != NULL && strcmp(name, names[i]) == 0)
                f->v[i] = val;
    /* Go has one kind of goroutine: both ping-pongs compare with it. */
    f->v[F_PP_WORKERS] = f->v[F_PP_THREADS];
    if (pclose(p) != 0)
        return -1;
    for (int i = 0; i < NFIG; i++)
        if (f->v[i] <= 0)
            return -1;
    return 0;
}

static void cpu_model(char *out, size_t size)
{
    snprintf(out, size, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char line[256];
    while (fgets(line, sizeof line, f) != NULL) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
            colon += 1 + (colon[1] == ' ');
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(out, size, "%s", colon);
            break;
        }
    }
    fclose(f);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_threads [--quick] [--rounds N] [--part=LIST] [--no-go]\n"
               "  --quick        3 rounds (the default is 5)\n"
               "  --rounds N     N rounds, 1 to %d\n"
               "  --part=LIST    only these loads, comma-separated: threads, workers,\n"
               "                 skynet, fanout, scaling\n"
               "  --no-go        without the Go peer\n", MAX_ROUNDS);
}

/* Whether the load name is in the comma-separated list (NULL: all). */
static int wanted(const char *list, const char *name)
{
    if (list == NULL)
        return 1;
    size_t n = strlen(name);
    for (const char *p = list; *p != '\0';) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = { 5, 200000, 1000000, 1000000, 13, 4000 };
    const char *parts = NULL;
    int no_go = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            o.rounds = 3;
        } else if (strncmp(argv[i], "--part=", 7) == 0) {
            parts = argv[i] + 7;
        } else if (strcmp(argv[i], "--no-go") == 0) {
            no_go = 1;
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            o.rounds = atoi(argv[++i]);
            if (o.rounds < 1 || o.rounds > MAX_ROUNDS) {
                usage(stderr);
                return 2;
            }
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines as they come, also into a pipe */

    /* The peer lives in peers/ next to this program unless told otherwise. */
    const char *dir = getenv("COCO_BENCH_PEERS");
    char here[1024], go_path[1100], cpu[128];
    if (dir == NULL) {
        const char *slash = argc > 0 ? strrchr(argv[0], '/') : NULL;
        int len = slash != NULL ? (int)(slash - argv[0]) : 1;
        snprintf(here, sizeof here, "%.*s/peers", len, slash != NULL ? argv[0] : ".");
        dir = here;
    }
    snprintf(go_path, sizeof go_path, "%s/threads_go", dir);

    cpu_set_t set;
    int ncpu = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
    cpu_model(cpu, sizeof cpu);
    printf("Threads: Coco on two threads against Go with GOMAXPROCS=2, median of %d rounds\n",
           o.rounds);
    printf("  %s, %d CPUs usable%s", cpu, ncpu,
           ncpu < 2 ? " (one CPU: no parallelism to measure)" : "");
    /* Other programs' load changes the two-thread figures most. */
    double load = -1;
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf != NULL) {
        if (fscanf(lf, "%lf", &load) != 1)
            load = -1;
        fclose(lf);
    }
    if (load >= 0)
        printf(", load average %.2f", load);
    printf("\n");
    if (getenv("COCO_BENCH_NO_LEGEND") == NULL)
        printf("  Speed-up: Go's time / Coco's (for rates, Coco's / Go's); above 1, Coco\n"
               "  is faster.\n");

    struct figures me[MAX_ROUNDS], go[MAX_ROUNDS];
    double cpu1[MAX_ROUNDS], cpu2[MAX_ROUNDS], line[MAX_ROUNDS] = { 0 };
    int go_ok = !no_go, split = 0;
    memset(me, 0, sizeof me);
    double t_start = now_s();
    printf("  rounds (Coco, Go each):");
    for (int r = 0; r < o.rounds; r++) {
        printf(" %d", r + 1);
        fflush(stdout);
        /* Go first in every other round: a busy patch of a shared machine
         * does not land on one side only. */
        if (r % 2 == 1 && go_ok && run_go(go_path, &o, &go[r]) != 0)
            go_ok = 0;
        int s = 0;
        if (wanted(parts, "threads")) {
            line[r] = bench_line_trip(o.pingpong_n);
            me[r].v[F_PP_THREADS] = bench_pingpong_threads(o.pingpong_n);
        }
        if (wanted(parts, "workers"))
            me[r].v[F_PP_WORKERS] = bench_pingpong_workers(o.pingpong_n, &s);
        split += s;
        if (wanted(parts, "skynet"))
            me[r].v[F_SKYNET] = bench_skynet(o.skynet_size);
        if (wanted(parts, "fanout"))
            me[r].v[F_FANOUT] = bench_fanout(o.fan_n);
        if (wanted(parts, "scaling")) {
            me[r].v[F_SCALE1] = bench_scale(1, o.scale_depth, o.scale_work, &cpu1[r]);
            me[r].v[F_SCALE2] = bench_scale(2, o.scale_depth, o.scale_work, &cpu2[r]);
        }
        if (r % 2 == 0 && go_ok && run_go(go_path, &o, &go[r]) != 0)
            go_ok = 0;
    }
    printf("  (%.0f s)\n", now_s() - t_start);

    double m[NFIG], g[NFIG] = { 0 };
    for (int i = 0; i < NFIG; i++) {
        double v[MAX_ROUNDS];
        for (int r = 0; r < o.rounds; r++)
            v[r] = me[r].v[i];
        m[i] = median(v, o.rounds);
        if (go_ok) {
            for (int r = 0; r < o.rounds; r++)
                v[r] = go[r].v[i];
            g[i] = median(v, o.rounds);
        }
    }
    if (!go_ok && !no_go)
        printf("  go: skipped (bench/peers/threads_go was not built or failed)\n");

    static const struct {
        const char *what, *unit;
        double scale; /* shown value = figure * scale */
        int rate;     /* bigger is better */
    } row[NFIG] = {
        { "ping-pong, 2 schedulers on 2 threads", "ns/trip", 1, 0 },
        { "ping-pong, worker group of 2", "ns/trip", 1, 0 },
        { "skynet, 1M coroutines, 2 workers", "ms", 1, 0 },
        { "fan-out/fan-in, 4 workers, 2 threads", "M msg/s", 1e-6, 1 },
        { "scaling load, 1 worker", "ms", 1, 0 },
        { "scaling load, 2 workers", "ms", 1, 0 },
    };
    printf("\n  %-38s %10s %10s %9s  %s\n", "", "Coco", "Go", "speed-up", "");
    for (int i = 0; i < NFIG; i++) {
        if (m[i] == 0)
            continue; /* not run */
        printf("  %-38s %10.1f", row[i].what, m[i] * row[i].scale);
        if (go_ok)
            printf(" %10.1f %8.2fx", g[i] * row[i].scale,
                   row[i].rate ? m[i] / g[i] : g[i] / m[i]);
        printf("  %s\n", row[i].unit);
    }
    if (m[F_SCALE2] > 0) {
        printf("  %-38s %9.2fx", "scaling, 1 -> 2 workers (time 1 / 2)",
               m[F_SCALE1] / m[F_SCALE2]);
        if (go_ok)
            printf(" %9.2fx", g[F_SCALE1] / g[F_SCALE2]);
        printf("\n");
        /* Wall time alone cannot tell a group that wastes CPU from one
         * the machine starves of it. */
        printf("  scaling, Coco's CPU time (all threads): 1 worker %.0f ms, 2 workers %.0f ms\n",
               median(cpu1, o.rounds), median(cpu2, o.rounds));
    }
    if (m[F_PP_THREADS] > 0) {
        double floor_ns = median(line, o.rounds);
        printf("  the floor: one cache line handed between the 2 threads, %.1f ns/trip;\n"
               "  2-thread ping-pong = %.2f of those trips",
               floor_ns, m[F_PP_THREADS] / floor_ns);
        if (go_ok)
            printf(", Go's = %.2f", g[F_PP_THREADS] / floor_ns);
        /* The floor moves with where the host puts the two threads, and
         * Coco's figure with it: each round's pair shows which is which. */
        printf("\n  each round, floor/ping-pong in ns:");
        for (int r = 0; r < o.rounds; r++)
            printf("%s %.0f/%.0f", r == 0 ? "" : r % 6 == 0 ? ",\n   " : ",", line[r],
                   me[r].v[F_PP_THREADS]);
        printf("\n");
    }
    if (m[F_PP_WORKERS] > 0)
        printf("  worker-group ping-pong: the two coroutines ran on two workers in %d of %d "
               "rounds\n", split, o.rounds);
    printf("  sizes: ping-pong %ld round trips (or 0.5 s), skynet %ld leaves, fan-out %ld\n"
           "  messages, scaling %lu tasks of %ld xorshift rounds each\n",
           o.pingpong_n, o.skynet_size, o.fan_n, (2UL << o.scale_depth) - 1, o.scale_work);
    return 0;
}
