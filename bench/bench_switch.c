/*
 * bench_switch.c - what a context switch and a coroutine's whole life cost
 * in Coco, next to Boost.Context and glibc's swapcontext() measured in the
 * same run on the same pinned CPU.
 *
 * Four figures per implementation, each the median of several rounds:
 *   switch   ns per one-way switch.  Coco: two coroutines each calling
 *            coco_yield() N times (the scheduler hands over directly from
 *            one to the other), total / 2N.  Boost: jump_fcontext() between
 *            two contexts.  ucontext: swapcontext() between two contexts.
 *   create   ns per create + first run + finish + destroy with the stack
 *            pool warm.  Coco: coco_create(), one scheduler step,
 *            coco_destroy().  Boost: a fiber on a pooled_fixedsize_stack.
 *            ucontext: getcontext() + makecontext() on a reused stack,
 *            swapcontext() in, return through uc_link.
 * The clock is read once per round, never per operation: a read costs
 * more than a switch.
 *
 * The Boost figures come from bench/peers/switch_boost, run once per round
 * between Coco's rounds so that both see the same machine.  It is looked
 * for in --boost PATH, then $COCO_BENCH_BOOST, then peers/ next to this
 * program; without it the Boost column is skipped.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE /* sched_setaffinity() and cpu_set_t */
#include "config.h"

#include <coco.h>

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define MAX_ROUNDS 64
#define UC_STACK_SIZE (64 * 1024)

struct opts {
    int cpu;
    int rounds;
    long yields;        /* coco_yield() calls per coroutine per round */
    long spawns;        /* coroutines per round */
    long uc_swaps;      /* swapcontext() round trips per round */
    long uc_spawns;     /* ucontext coroutines per round */
    const char *boost;  /* path of the Boost peer, or NULL */
    bool verbose;
};

/* One figure measured over the rounds. */
struct series {
    double v[MAX_ROUNDS];
    int n;
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const struct series *s)
{
    double v[MAX_ROUNDS];
    if (s->n == 0)
        return 0.0;
    memcpy(v, s->v, (size_t)s->n * sizeof v[0]);
    qsort(v, (size_t)s->n, sizeof v[0], cmp_double);
    return s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2.0;
}

static void add(struct series *s, double x)
{
    if (s->n < MAX_ROUNDS)
        s->v[s->n++] = x;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_switch: %s\n", what);
    exit(EXIT_FAILURE);
}

/* ------------------------------------------------------------------ Coco */

static void yielder(void *arg)
{
    long n = *(const long *)arg;
    for (long i = 0; i < n; i++)
        coco_yield();
}

/* ns per coco_yield(), each one a switch to the other coroutine. */
static double coco_switch(long n)
{
    coco_sched_t *s = coco_sched_create();
    if (s == NULL)
        die("coco_sched_create failed");
    if (coco_create(s, yielder, &n, 0) == NULL || coco_create(s, yielder, &n, 0) == NULL)
        die("coco_create failed");
    double t0 = now_ns();
    if (coco_sched_run(s) != COCO_OK)
        die("coco_sched_run failed");
    double t1 = now_ns();
    coco_sched_destroy(s);
    return (t1 - t0) / (2.0 * (double)n);
}

static void nothing(void *arg)
{
    (void)arg;
}

/* The two legitimate ways to drive one coroutine from outside. */
enum driver { DRIVE_RUN_ONCE, DRIVE_RUN };
static const char *const driver_name[] = {
    "coco_sched_run_once", "coco_sched_run"
};

/* ns per create + first run + finish + destroy on s, whose pool is warm. */
static double coco_spawn(coco_sched_t *s, long n, enum driver d)
{
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        coco_coro_t *c = coco_create(s, nothing, NULL, 0);
        if (c == NULL)
            die("coco_create failed");
        int rc = d == DRIVE_RUN_ONCE ? coco_sched_run_once(s) : coco_sched_run(s);
        if (rc != COCO_OK)
            die("a scheduler step failed");
        coco_destroy(c);
    }
    double t1 = now_ns();
    return (t1 - t0) / (double)n;
}

/* -------------------------------------------------------------- ucontext */

struct uc_pair {
    ucontext_t main, other;
};

static struct uc_pair uc;

static void uc_bouncer(void)
{
    for (;;)
        swapcontext(&uc.other, &uc.main);
}

/* ns per swapcontext(): each loop turn is two, there and back. */
static double uc_switch(char *stack, long turns)
{
    getcontext(&uc.other);
    uc.other.uc_stack.ss_sp = stack;
    uc.other.uc_stack.ss_size = UC_STACK_SIZE;
    uc.other.uc_link = NULL;
    makecontext(&uc.other, uc_bouncer, 0);
    swapcontext(&uc.main, &uc.other); /* start it */
    double t0 = now_ns();
    for (long i = 0; i < turns; i++)
        swapcontext(&uc.main, &uc.other);
    double t1 = now_ns();
    return (t1 - t0) / (2.0 * (double)turns);
}

static volatile long uc_ran;

static void uc_nothing(void)
{
    uc_ran++; /* returns to uc.main through uc_link */
}

/* ns per context made, run to its end and dropped; the stack is reused,
 * as a pool would. */
static double uc_spawn(char *stack, long n)
{
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        getcontext(&uc.other);
        uc.other.uc_stack.ss_sp = stack;
        uc.other.uc_stack.ss_size = UC_STACK_SIZE;
        uc.other.uc_link = &uc.main;
        makecontext(&uc.other, uc_nothing, 0);
        swapcontext(&uc.main, &uc.other);
    }
    double t1 = now_ns();
    return (t1 - t0) / (double)n;
}

/* ----------------------------------------------------------- Boost peer */

static bool is_file_x(const char *p)
{
    return p != NULL && access(p, X_OK) == 0;
}

/* The peer next to this program: <dir>/peers/switch_boost, also when this
 * program runs from a libtool .libs/ directory. */
static char *find_boost(const char *argv0)
{
    static char path[PATH_MAX];
    char dir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n > 0)
        dir[n] = '\0';
    else if (argv0 != NULL && strlen(argv0) < sizeof dir)
        strcpy(dir, argv0);
    else
        return NULL;
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        strcpy(dir, ".");
    else
        *slash = '\0';
    for (int up = 0; up < 2; up++) {
        snprintf(path, sizeof path, "%s/peers/switch_boost", dir);
        if (is_file_x(path))
            return path;
        slash = strrchr(dir, '/');
        if (slash == NULL || strcmp(slash, "/.libs") != 0)
            break;
        *slash = '\0';
    }
    return NULL;
}

/* Runs the peer for one round; false (and a note) when it fails. */
static bool boost_round(const struct opts *o, double *jump, double *fiber,
                        char version[32])
{
    char cpu[32], jumps[32], fibers[32];
    snprintf(cpu, sizeof cpu, "%d", o->cpu);
    snprintf(jumps, sizeof jumps, "%ld", o->yields);
    snprintf(fibers, sizeof fibers, "%ld", o->spawns);
    int fd[2];
    if (pipe(fd) != 0)
        return false;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return false;
    }
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        execl(o->boost, o->boost, "--cpu", cpu, "--rounds", "1", "--jumps", jumps,
              "--fibers", fibers, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    FILE *f = fdopen(fd[0], "r");
    char line[256];
    int got = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "jump_ns %lf", jump) == 1)
            got |= 1;
        else if (sscanf(line, "fiber_ns %lf", fiber) == 1)
            got |= 2;
        else if (sscanf(line, "boost_version %31s", version) == 1)
            got |= 4;
    }
    if (f != NULL)
        fclose(f);
    else
        close(fd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && (got & 3) == 3;
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *f)
{
    fputs("usage: bench_switch [--quick] [--cpu N] [--rounds N] [--boost PATH] [--verbose]\n"
          "  --quick      fewer, shorter rounds (well under a second)\n"
          "  --cpu N      pin to CPU N (default 0, or $COCO_BENCH_CPU)\n"
          "  --rounds N   rounds per figure; medians are reported (default 7)\n"
          "  --boost PATH the Boost.Context peer (default $COCO_BENCH_BOOST,\n"
          "               then peers/switch_boost next to this program)\n"
          "  --verbose    print every round\n", f);
}

static long parse_long(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi) {
        usage(stderr);
        exit(2);
    }
    return v;
}

static void parse(int argc, char **argv, struct opts *o)
{
    const char *env = getenv("COCO_BENCH_CPU");
    o->cpu = env != NULL && *env != '\0' ? (int)parse_long(env, 0, CPU_SETSIZE - 1) : 0;
    o->rounds = 7;
    o->yields = 4000000;
    o->spawns = 1000000;
    o->uc_swaps = 200000;
    o->uc_spawns = 100000;
    o->boost = getenv("COCO_BENCH_BOOST");
    o->verbose = false;
    bool rounds_set = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quick") == 0) {
            if (!rounds_set)
                o->rounds = 3;
            o->yields = 500000;
            o->spawns = 100000;
            o->uc_swaps = 50000;
            o->uc_spawns = 20000;
        } else if (strcmp(a, "--cpu") == 0 && i + 1 < argc) {
            o->cpu = (int)parse_long(argv[++i], 0, CPU_SETSIZE - 1);
        } else if (strcmp(a, "--rounds") == 0 && i + 1 < argc) {
            o->rounds = (int)parse_long(argv[++i], 1, MAX_ROUNDS);
            rounds_set = true;
        } else if (strcmp(a, "--boost") == 0 && i + 1 < argc) {
            o->boost = argv[++i];
        } else if (strcmp(a, "--verbose") == 0) {
            o->verbose = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            usage(stderr);
            exit(2);
        }
    }
    if (o->boost != NULL && *o->boost == '\0')
        o->boost = NULL;
    if (o->boost == NULL) {
        o->boost = find_boost(argv[0]);
    } else if (!is_file_x(o->boost)) {
        fprintf(stderr, "bench_switch: no Boost.Context peer at %s\n", o->boost);
        o->boost = NULL;
    }
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        fprintf(stderr, "bench_switch: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
        exit(EXIT_FAILURE);
    }
}

static void row(const char *what, double coco, double boost, bool have_boost, double ucx)
{
    char b[32] = "skipped";
    if (have_boost)
        snprintf(b, sizeof b, "%.1f", boost);
    printf("  %-34s %9.1f %14s %12.1f\n", what, coco, b, ucx);
}

int main(int argc, char **argv)
{
    struct opts o;
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines as they come, also into a pipe */
    parse(argc, argv, &o);
    pin(o.cpu);

    char *uc_stack = malloc(UC_STACK_SIZE);
    coco_sched_t *pool_sched = coco_sched_create();
    if (uc_stack == NULL || pool_sched == NULL)
        die("out of memory");

    /* Warm up: fault stacks in, fill the stack pool, train predictors. */
    coco_coro_t *probe = coco_create(pool_sched, nothing, NULL, 0);
    if (probe == NULL || coco_sched_run_once(pool_sched) != COCO_OK ||
        coco_get_state(probe) != COCO_STATE_DEAD)
        die("a coroutine did not finish in one scheduler step");
    coco_destroy(probe);
    coco_switch(o.yields / 10 + 1);
    coco_spawn(pool_sched, o.spawns / 10 + 1, DRIVE_RUN_ONCE);
    coco_spawn(pool_sched, o.spawns / 10 + 1, DRIVE_RUN);
    uc_switch(uc_stack, o.uc_swaps / 10 + 1);
    uc_spawn(uc_stack, o.uc_spawns / 10 + 1);

    struct series c_sw = {0}, c_once = {0}, c_run = {0}, u_sw = {0}, u_sp = {0};
    struct series b_sw = {0}, b_sp = {0};
    char bversion[32] = "?";
    bool have_boost = o.boost != NULL;
    for (int r = 0; r < o.rounds; r++) {
        add(&c_sw, coco_switch(o.yields));
        add(&c_once, coco_spawn(pool_sched, o.spawns, DRIVE_RUN_ONCE));
        add(&c_run, coco_spawn(pool_sched, o.spawns, DRIVE_RUN));
        add(&u_sw, uc_switch(uc_stack, o.uc_swaps));
        add(&u_sp, uc_spawn(uc_stack, o.uc_spawns));
        double bj = 0, bf = 0;
        if (have_boost) {
            if (boost_round(&o, &bj, &bf, bversion)) {
                add(&b_sw, bj);
                add(&b_sp, bf);
            } else {
                fprintf(stderr, "bench_switch: %s failed; Boost.Context peer skipped\n",
                        o.boost);
                have_boost = false;
            }
        }
        if (o.verbose)
            printf("round %d: coco %.2f / %.2f (run_once) %.2f (run); "
                   "boost %.2f / %.2f; ucontext %.2f / %.2f\n",
                   r + 1, c_sw.v[r], c_once.v[r], c_run.v[r], bj, bf, u_sw.v[r], u_sp.v[r]);
    }
    coco_sched_destroy(pool_sched);
    free(uc_stack);

    double csw = median(&c_sw), bsw = median(&b_sw), usw = median(&u_sw);
    double once = median(&c_once), run = median(&c_run);
    enum driver d = once <= run ? DRIVE_RUN_ONCE : DRIVE_RUN;
    double csp = d == DRIVE_RUN_ONCE ? once : run;
    double bsp = median(&b_sp), usp = median(&u_sp);

    printf("Context switch and coroutine creation: Coco %d.%d.%d (%s switch) against\n"
           "Boost.Context and glibc swapcontext; CPU %d, median of %d round%s\n",
           COCO_VERSION_MAJOR, COCO_VERSION_MINOR, COCO_VERSION_PATCH,
           COCO_USE_UCONTEXT ? "ucontext" : "assembly", o.cpu, o.rounds,
           o.rounds == 1 ? "" : "s");
    if (have_boost)
        printf("  peers: Boost.Context %s, glibc swapcontext\n", bversion);
    else
        printf("  peers: glibc swapcontext; Boost.Context skipped (its peer program did not\n"
               "  build: Debian package libboost-context-dev)\n");
    printf("\n  %-34s %9s %14s %12s\n", "ns per operation (lower is better)", "Coco",
           "Boost.Context", "swapcontext");
    row("one-way switch", csw, bsw, have_boost, usw);
    row("create+run+destroy (pool warm)", csp, bsp, have_boost, usp);
    printf("\n  Coco switch:  coco_yield() between two coroutines, scheduler included\n"
           "  Coco create:  coco_create + %s + coco_destroy\n"
           "                (with %s instead: %.1f ns)\n",
           driver_name[d], driver_name[!d], d == DRIVE_RUN_ONCE ? run : once);
    printf("  Boost:        jump_fcontext one way; fiber on pooled_fixedsize_stack\n\n");

    if (getenv("COCO_BENCH_NO_LEGEND") == NULL)
        printf("  Speed-up: the peer's time / Coco's; above 1, Coco is faster.\n");
    if (have_boost)
        printf("  Coco vs Boost.Context:  switch %5.2fx   create %5.2fx\n", bsw / csw, bsp / csp);
    printf("  Coco vs swapcontext:    switch %5.2fx   create %5.2fx\n", usw / csw, usp / csp);
    return 0;
}
