/*
 * bench_hook_redis.c - hiredis against one redis-server, three ways, in
 * the same run:
 *   coco     N coroutines on one scheduler, each with its own connection,
 *            hiredis' synchronous API, the hook library preloaded (this
 *            program runs itself again with LD_PRELOAD for that);
 *   async    N connections on one libevent loop, hiredis' asynchronous API
 *            through its libevent adapter;
 *   threads  N POSIX threads, each with its own connection, the
 *            synchronous API (no hook).
 * Every connection keeps one request in flight (SET and GET in turn, the
 * answer checked), so the three drive the server alike.  For N = 10 and
 * 100: requests per second and the client's CPU time per request
 * (getrusage over the measured window: every thread of the client), then
 * the ratios that matter: coco's throughput over async's, and requests
 * per CPU-second of coco over threads'.  The client runs on one CPU (the
 * last), the server is started on another by bench/bench-hook-redis.sh.
 * Each figure is the median of ROUNDS rounds, each round in another order.
 *
 *   bench_hook_redis -p PORT -H HOOK_LIBRARY      the whole comparison
 *   bench_hook_redis -p PORT -m MODE -n N         one run: prints
 *                                                 "REQUESTS SECONDS CPU_SECONDS"
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE 1
#include "coco.h"

#include <errno.h>
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOTAL_REQUESTS 20000 /* per run, shared among the N connections */
#define ROUNDS 3

static int port;
static int nconn;
static long per_conn;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double t0, c0, t1, c1;
static long done_requests, bad_answers;

static void die(const char *what)
{
    fprintf(stderr, "bench_hook_redis: %s\n", what);
    exit(1);
}

/* ------------------------------------------------------ synchronous API */

static redisContext *sync_connect(void)
{
    struct timeval tv = {10, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c == NULL || c->err)
        die(c != NULL ? c->errstr : "redisConnect");
    return c;
}

/* per_conn requests on c: SET then GET of one key, in turn.  Returns the
 * count of wrong answers. */
static long sync_loop(redisContext *c, int id)
{
    char key[32], val[32];
    long bad = 0;
    snprintf(key, sizeof key, "bench:%d", id);
    for (long i = 0; i < per_conn; i++) {
        redisReply *r;
        if (i % 2 == 0) {
            snprintf(val, sizeof val, "%ld", i);
            r = redisCommand(c, "SET %s %s", key, val);
            if (r == NULL || r->type != REDIS_REPLY_STATUS)
                bad++;
        } else {
            r = redisCommand(c, "GET %s", key);
            if (r == NULL || r->type != REDIS_REPLY_STRING || strcmp(r->str, val) != 0)
                bad++;
        }
        if (r == NULL)
            die(c->errstr);
        freeReplyObject(r);
    }
    return bad;
}

/* coroutines */
static coco_waitgroup_t *wg_ready, *wg_go, *wg_done;

static void coco_client(void *arg)
{
    int id = (int)(intptr_t)arg;
    redisContext *c = sync_connect();
    coco_waitgroup_done(wg_ready);
    coco_waitgroup_wait(wg_go);
    bad_answers += sync_loop(c, id);
    done_requests += per_conn;
    coco_waitgroup_done(wg_done);
    redisFree(c);
}

static void coco_main(void *arg)
{
    coco_sched_t *s = arg;
    wg_ready = coco_waitgroup_create();
    wg_go = coco_waitgroup_create();
    wg_done = coco_waitgroup_create();
    coco_waitgroup_add(wg_ready, nconn);
    coco_waitgroup_add(wg_go, 1);
    coco_waitgroup_add(wg_done, nconn);
    for (int i = 0; i < nconn; i++)
        if (coco_create(s, coco_client, (void *)(intptr_t)i, 256 * 1024) == NULL)
            die("coco_create");
    coco_waitgroup_wait(wg_ready);
    t0 = now_s();
    c0 = cpu_s();
    coco_waitgroup_done(wg_go);
    coco_waitgroup_wait(wg_done);
    t1 = now_s();
    c1 = cpu_s();
}

static void run_coco(void)
{
    coco_sched_t *s = coco_sched_create();
    if (s == NULL || coco_create(s, coco_main, s, 0) == NULL)
        die("coco_sched_create");
    coco_sched_run(s);
    coco_sched_destroy(s);
}

/* threads */
static pthread_barrier_t barrier;

static void *thread_client(void *arg)
{
    int id = (int)(intptr_t)arg;
    redisContext *c = sync_connect();
    pthread_barrier_wait(&barrier); /* all connected */
    pthread_barrier_wait(&barrier); /* the clock started */
    long bad = sync_loop(c, id);
    redisFree(c);
    return (void *)(intptr_t)bad;
}

static void run_threads(void)
{
    pthread_t *t = calloc((size_t)nconn, sizeof *t);
    if (t == NULL || pthread_barrier_init(&barrier, NULL, (unsigned)nconn + 1) != 0)
        die("pthread_barrier_init");
    for (int i = 0; i < nconn; i++) {
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setstacksize(&a, 256 * 1024);
        if (pthread_create(&t[i], &a, thread_client, (void *)(intptr_t)i) != 0)
            die("pthread_create");
        pthread_attr_destroy(&a);
    }
    pthread_barrier_wait(&barrier);
    t0 = now_s();
    c0 = cpu_s();
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < nconn; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        bad_answers += (long)(intptr_t)bad;
    }
    t1 = now_s();
    c1 = cpu_s();
    done_requests = per_conn * nconn;
    free(t);
}

/* ---------------------------------------------------- asynchronous API */

struct aconn {
    redisAsyncContext *ac;
    int id;
    long sent;
    char key[32], val[32];
};

static struct event_base *base;
static int connected, finished;
static struct aconn *aconns;

static void async_next(struct aconn *a);

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct aconn *a = priv;
    redisReply *r = reply;
    if (r == NULL)
        die("async: no reply");
    if (a->sent % 2 == 1) {
        if (r->type != REDIS_REPLY_STATUS)
            bad_answers++;
    } else if (r->type != REDIS_REPLY_STRING || strcmp(r->str, a->val) != 0) {
        bad_answers++;
    }
    done_requests++;
    async_next(a);
}

static void async_next(struct aconn *a)
{
    if (a->sent == per_conn) {
        if (++finished == nconn) {
            t1 = now_s();
            c1 = cpu_s();
            for (int i = 0; i < nconn; i++)
                redisAsyncDisconnect(aconns[i].ac);
        }
        return;
    }
    int rc;
    if (a->sent % 2 == 0) {
        snprintf(a->val, sizeof a->val, "%ld", a->sent);
        rc = redisAsyncCommand(a->ac, on_reply, a, "SET %s %s", a->key, a->val);
    } else {
        rc = redisAsyncCommand(a->ac, on_reply, a, "GET %s", a->key);
    }
    if (rc != REDIS_OK)
        die("redisAsyncCommand");
    a->sent++;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    (void)ac;
    if (status != REDIS_OK)
        die("async connect");
    if (++connected == nconn) {
        t0 = now_s();
        c0 = cpu_s();
        for (int i = 0; i < nconn; i++)
            async_next(&aconns[i]);
    }
}

static void run_async(void)
{
    base = event_base_new();
    aconns = calloc((size_t)nconn, sizeof *aconns);
    if (base == NULL || aconns == NULL)
        die("event_base_new");
    for (int i = 0; i < nconn; i++) {
        struct aconn *a = &aconns[i];
        a->id = i;
        snprintf(a->key, sizeof a->key, "bench:%d", i);
        a->ac = redisAsyncConnect("127.0.0.1", port);
        if (a->ac == NULL || a->ac->err)
            die("redisAsyncConnect");
        redisLibeventAttach(a->ac, base);
        redisAsyncSetConnectCallback(a->ac, on_connect);
    }
    event_base_dispatch(base);
    event_base_free(base);
    free(aconns);
}

/* ------------------------------------------------------------- driver */

struct result {
    double rate, cpu_us;
};

/* Runs one mode in a child (with LD_PRELOAD=hook when hook is set). */
static int run_child(const char *self, const char *mode, int n, const char *hook,
                     struct result *out)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char p[16], ns[16];
        snprintf(p, sizeof p, "%d", port);
        snprintf(ns, sizeof ns, "%d", n);
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        if (hook != NULL)
            setenv("LD_PRELOAD", hook, 1);
        else
            unsetenv("LD_PRELOAD");
        execl(self, self, "-p", p, "-m", mode, "-n", ns, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    char buf[256];
    ssize_t len = 0, got;
    while (len < (ssize_t)sizeof buf - 1 &&
           (got = read(fd[0], buf + len, sizeof buf - 1 - (size_t)len)) > 0)
        len += got;
    buf[len < 0 ? 0 : len] = '\0';
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    double req, secs, cpu;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || sscanf(buf, "%lf %lf %lf", &req, &secs, &cpu) != 3)
        return -1;
    out->rate = req / secs;
    out->cpu_us = cpu / req * 1e6;
    return 0;
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

static void pin_last_cpu(void)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu > 1) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET((int)ncpu - 1, &set);
        (void)sched_setaffinity(0, sizeof set, &set);
    }
}

static int compare(const char *self, const char *hook)
{
    static const char *modes[] = {"coco", "async", "threads"};
    static const int sizes[] = {10, 100};
    pin_last_cpu();
    printf("hiredis against redis-server on 127.0.0.1:%d, %d requests a run "
           "(SET/GET in turn, one in flight per connection), median of %d\n",
           port, TOTAL_REQUESTS, ROUNDS);
    printf("%-5s %-8s %12s %14s\n", "N", "client", "requests/s", "CPU us/request");
    int failed = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        int n = sizes[si];
        double rate[3][ROUNDS], cpu[3][ROUNDS], mr[3], mc[3];
        for (int r = 0; r < ROUNDS; r++)
            for (int k = 0; k < 3; k++) {
                int m = (k + r) % 3;
                struct result res;
                if (run_child(self, modes[m], n, m == 0 ? hook : NULL, &res) != 0) {
                    fprintf(stderr, "bench_hook_redis: the %s run (N=%d) failed\n", modes[m], n);
                    return 1;
                }
                rate[m][r] = res.rate;
                cpu[m][r] = res.cpu_us;
            }
        for (int m = 0; m < 3; m++) {
            mr[m] = median(rate[m], ROUNDS);
            mc[m] = median(cpu[m], ROUNDS);
            printf("%-5d %-8s %12.0f %14.2f\n", n, modes[m], mr[m], mc[m]);
        }
        printf("N=%d: coco/async throughput %.2f (goal >= 0.90); "
               "coco/threads requests per CPU-second %.2f%s\n",
               n, mr[0] / mr[1], mc[2] / mc[0], n == 100 ? " (goal >= 2)" : "");
    }
    return failed;
}

int main(int argc, char **argv)
{
    const char *mode = NULL, *hook = NULL;
    int opt;
    nconn = 10;
    while ((opt = getopt(argc, argv, "p:m:n:H:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'm': mode = optarg; break;
        case 'n': nconn = atoi(optarg); break;
        case 'H': hook = optarg; break;
        default:
            fprintf(stderr, "usage: bench_hook_redis -p PORT (-H HOOK_LIBRARY | -m MODE -n N)\n");
            return 2;
        }
    }
    if (port <= 0 || nconn <= 0 || (mode == NULL && hook == NULL)) {
        fprintf(stderr, "usage: bench_hook_redis -p PORT (-H HOOK_LIBRARY | -m MODE -n N)\n");
        return 2;
    }
    if (mode == NULL)
        return compare("/proc/self/exe", hook);
    per_conn = TOTAL_REQUESTS / nconn;
    if (strcmp(mode, "coco") == 0)
        run_coco();
    else if (strcmp(mode, "async") == 0)
        run_async();
    else if (strcmp(mode, "threads") == 0)
        run_threads();
    else
        die("unknown mode");
    if (bad_answers != 0 || done_requests != per_conn * nconn)
        die("wrong answers");
    printf("%ld %.6f %.6f\n", done_requests, t1 - t0, c1 - c0);
    return 0;
}
