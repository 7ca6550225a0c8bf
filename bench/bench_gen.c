/*
 * bench_gen.c - what one generator step costs: coco_gen_resume() into a
 * generator and its coco_gen_yield() back, a value handed each way, next
 * to the same round trip in Boost.Context (two jump_fcontext() calls, each
 * carrying its transfer_t's data pointer) measured in the same run on the
 * same pinned CPU.
 *
 * The Boost figure comes from bench/peers/switch_boost (the peer of
 * bench_switch), run once per round between Coco's rounds; its one-way
 * jump time doubled is the round trip.  It is looked for in --boost PATH,
 * then $COCO_BENCH_BOOST, then peers/ next to this program; without it the
 * Boost column is skipped.  Each figure is the median of the rounds; the
 * clock is read once per round.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 64

struct opts {
    int cpu;
    int rounds;
    long steps;         /* generator round trips per round */
    const char *boost;  /* path of the Boost peer, or NULL */
    bool verbose;
};

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
    fprintf(stderr, "bench_gen: %s\n", what);
    exit(EXIT_FAILURE);
}

/* ------------------------------------------------------------------ Coco */

/* Hands back what it was sent, plus one, forever. */
static void *echo(coco_gen_t *g, void *arg)
{
    uintptr_t v = (uintptr_t)arg;
    for (;;)
        v = (uintptr_t)coco_gen_yield(g, (void *)(v + 1));
    return NULL;
}

/* ns per resume + yield, the value checked so that nothing is skipped. */
static double coco_round_trip(coco_gen_t *g, long n)
{
    void *out = NULL;
    uintptr_t sum = 0;
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        if (coco_gen_resume(g, (void *)(uintptr_t)i, &out) != COCO_OK)
            die("coco_gen_resume failed");
        sum += (uintptr_t)out;
    }
    double t1 = now_ns();
    /* Each value came back plus one (the first resume's is not seen). */
    if (sum == 0)
        die("the generator handed back nothing");
    return (t1 - t0) / (double)n;
}

/* ns per generator created, run to its first yield and destroyed. */
static double coco_life(long n)
{
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        coco_gen_t *g = coco_gen_create(echo, NULL, 0);
        if (g == NULL || coco_gen_resume(g, NULL, NULL) != COCO_OK)
            die("coco_gen_create or its first resume failed");
        coco_gen_destroy(g);
    }
    double t1 = now_ns();
    return (t1 - t0) / (double)n;
}

/* ----------------------------------------------------------- Boost peer */

static bool is_file_x(const char *p)
{
    return p != NULL && access(p, X_OK) == 0;
}

/* <dir of this program>/peers/switch_boost, also from a .libs/ dir. */
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

/* One round of the peer: its one-way jump in ns; false when it fails. */
static bool boost_round(const struct opts *o, double *jump, char version[32])
{
    char cpu[32], jumps[32];
    snprintf(cpu, sizeof cpu, "%d", o->cpu);
    snprintf(jumps, sizeof jumps, "%ld", o->steps);
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
              "--fibers", "1", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    FILE *f = fdopen(fd[0], "r");
    char line[256];
    int got = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "jump_ns %lf", jump) == 1)
            got |= 1;
        else if (sscanf(line, "boost_version %31s", version) == 1)
            got |= 2;
    }
    if (f != NULL)
        fclose(f);
    else
        close(fd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && (got & 1);
}

/* ------------------------------------------------------------------ main */

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
    fputs("usage: bench_gen [--quick] [--cpu N] [--rounds N] [--boost PATH] [--verbose]\n"
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
    o->steps = 4000000;
    o->boost = getenv("COCO_BENCH_BOOST");
    o->verbose = false;
    bool rounds_set = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quick") == 0) {
            if (!rounds_set)
                o->rounds = 3;
            o->steps = 500000;
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
        fprintf(stderr, "bench_gen: no Boost.Context peer at %s\n", o->boost);
        o->boost = NULL;
    }
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        fprintf(stderr, "bench_gen: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
        exit(EXIT_FAILURE);
    }
}

int main(int argc, char **argv)
{
    struct opts o;
    setvbuf(stdout, NULL, _IOLBF, 0);
    parse(argc, argv, &o);
    pin(o.cpu);

    coco_gen_t *g = coco_gen_create(echo, NULL, 0);
    if (g == NULL)
        die("coco_gen_create failed");
    /* Warm up: fault the stack in, fill the pool, train the predictors. */
    coco_round_trip(g, o.steps / 10 + 1);
    long lives = o.steps / 8;
    coco_life(lives / 10 + 1);

    struct series c_rt = {0}, c_life = {0}, b_rt = {0};
    char bversion[32] = "?";
    bool have_boost = o.boost != NULL;
    for (int r = 0; r < o.rounds; r++) {
        add(&c_rt, coco_round_trip(g, o.steps));
        add(&c_life, coco_life(lives));
        double bj = 0;
        if (have_boost) {
            if (boost_round(&o, &bj, bversion)) {
                add(&b_rt, 2.0 * bj);
            } else {
                fprintf(stderr, "bench_gen: %s failed; Boost.Context peer skipped\n",
                        o.boost);
                have_boost = false;
            }
        }
        if (o.verbose)
            printf("round %d: coco %.2f ns (life %.1f ns); boost %.2f ns\n", r + 1,
                   c_rt.v[r], c_life.v[r], 2.0 * bj);
    }
    coco_gen_destroy(g);

    char cpu[128];
    cpu_model(cpu, sizeof cpu);
    double crt = median(&c_rt), brt = median(&b_rt), clife = median(&c_life);
    printf("Generator step: Coco %d.%d.%d (%s switch) against Boost.Context\n"
           "  CPU: %s (pinned to %d), median of %d round%s\n",
           COCO_VERSION_MAJOR, COCO_VERSION_MINOR, COCO_VERSION_PATCH,
           COCO_USE_UCONTEXT ? "ucontext" : "assembly", cpu, o.cpu, o.rounds,
           o.rounds == 1 ? "" : "s");
    printf("\n  %-44s %9s %14s\n", "ns per operation (lower is better)", "Coco",
           "Boost.Context");
    char b[32] = "skipped";
    if (have_boost)
        snprintf(b, sizeof b, "%.1f", brt);
    printf("  %-44s %9.1f %14s\n", "round trip: resume + yield, a value each way", crt, b);
    printf("  %-44s %9.1f %14s\n", "create + first resume + destroy (pool warm)", clife,
           "-");
    printf("\n  Coco:   coco_gen_resume() + coco_gen_yield()\n"
           "  Boost:  two jump_fcontext() calls (%s)\n\n",
           have_boost ? bversion : "peer did not build: libboost-context-dev");
    if (have_boost)
        printf("  Coco / Boost round trip: %.2fx (1.00x: as fast; target: at most 1.50x)\n",
               crt / brt);
    return 0;
}
