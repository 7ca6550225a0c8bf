/*
 * check_workers.c - worker groups: tasks spawned from outside before the
 * run and from a plain thread during it, from inside (trees of tasks whose
 * results come back over channels), sleeps, timers and pipe I/O inside
 * workers, every worker getting work, a started coroutine staying on its
 * thread, deadlock, two runs in a row, destroying a group with tasks still
 * queued, coco_workers_self(), the thread count, and bad input.  Every
 * loop is bounded; a case that would wait for ever fails by its timeout.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE 1
#endif
#include "config.h"
#include "coco.h"
#include "testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* glibc declares pthread_self() const, so a compiler may call it once and
 * keep the answer across a park: exactly what a moved coroutine would get
 * wrong.  Calling it through a volatile pointer asks the thread each time. */
static pthread_t (*volatile thread_of_caller)(void) = pthread_self;

static long load(const long *p)
{
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static void add(long *p, long v)
{
    __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}

static void sleep_us(long us)
{
    struct timespec ts = {0, us * 1000L};
    nanosleep(&ts, NULL);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------- the threads tasks ran on */

#define MAX_THREADS 64

struct threads_seen {
    pthread_mutex_t lock;
    pthread_t t[MAX_THREADS];
    int n;
};

static void seen_init(struct threads_seen *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
}

static void seen_add(struct threads_seen *s, pthread_t self)
{
    pthread_mutex_lock(&s->lock);
    int found = 0;
    for (int i = 0; i < s->n && !found; i++)
        found = pthread_equal(s->t[i], self);
    if (!found && s->n < MAX_THREADS)
        s->t[s->n++] = self;
    pthread_mutex_unlock(&s->lock);
}

static int seen_count(struct threads_seen *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->n;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* ------------------------------------------------------------ simple tasks */

static void count_task(void *arg)
{
    add(arg, 1);
}

START_TEST(test_workers_spawn_before_run)
{
    coco_workers_t *wk = coco_workers_create(2);
    ck_assert_ptr_nonnull(wk);
    ck_assert_uint_eq(coco_workers_threads(wk), 2);
    long n = 0;
    for (int i = 0; i < 500; i++)
        ck_assert_int_eq(coco_workers_spawn(wk, count_task, &n,
                                            i % 2 ? 0 : 32 * 1024), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    ck_assert_int_eq(load(&n), 500);
    coco_workers_destroy(wk);
}
END_TEST

/* A run, then more tasks and a second run of the same group. */
START_TEST(test_workers_run_twice)
{
    coco_workers_t *wk = coco_workers_create(3);
    ck_assert_ptr_nonnull(wk);
    long n = 0;
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(coco_workers_spawn(wk, count_task, &n, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    ck_assert_int_eq(load(&n), 100);
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(coco_workers_spawn(wk, count_task, &n, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    ck_assert_int_eq(load(&n), 150);
    /* Nothing queued: returns at once. */
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    coco_workers_destroy(wk);
}
END_TEST

/* ---------------------------------- spawned from a plain thread during run */

struct outside {
    coco_workers_t *wk;
    long started;                /* set by the first task */
    long done_spawning;          /* set by the plain thread */
    long spawned_ok, ran;
};

static void outside_child(void *arg)
{
    struct outside *o = arg;
    coco_yield();
    add(&o->ran, 1);
}

/* Keeps the run going until the plain thread has spawned its tasks (at
 * most 10 s). */
static void outside_gate(void *arg)
{
    struct outside *o = arg;
    add(&o->started, 1);
    for (int i = 0; i < 10000 && load(&o->done_spawning) == 0; i++)
        coco_sleep(1);
}

static void *outside_thread(void *arg)
{
    struct outside *o = arg;
    for (int i = 0; i < 10000 && load(&o->started) == 0; i++)
        sleep_us(1000);
    for (int i = 0; i < 200; i++) {
        if (coco_workers_spawn(o->wk, outside_child, o, 0) == COCO_OK)
            add(&o->spawned_ok, 1);
        if (i % 50 == 0)
            sleep_us(500);       /* let workers park in between */
    }
    add(&o->done_spawning, 1);
    return NULL;
}

START_TEST(test_workers_spawn_from_plain_thread_during_run)
{
    struct outside o;
    memset(&o, 0, sizeof o);
    o.wk = coco_workers_create(2);
    ck_assert_ptr_nonnull(o.wk);
    ck_assert_int_eq(coco_workers_spawn(o.wk, outside_gate, &o, 0), COCO_OK);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, outside_thread, &o), 0);
    int rc = coco_workers_run(o.wk);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(rc, COCO_OK);
    ck_assert_int_eq(load(&o.spawned_ok), 200);
    ck_assert_int_eq(load(&o.done_spawning), 1);
    /* Spawned while the gate was still waiting, so all of them ran. */
    ck_assert_int_eq(load(&o.ran), 200);
    coco_workers_destroy(o.wk);
}
END_TEST

/* ------------------- spawned from a plain thread while every worker waits */

/* One reader per worker (a group of one, then of two) waits on a pipe
 * with no deadline: no worker is idle (each has a descriptor to wait
 * for), and all sleep in their pollers.  A task a plain thread spawns
 * then must wake one of them: nothing else would.  A group of one never
 * makes the process shared, which is what the first case checks. */
struct io_wake {
    coco_workers_t *wk;
    long n;                      /* workers, and readers */
    int fd[2][2];
    long started;                /* readers that have begun */
    long woken;                  /* set by the task from outside */
    long rescued;                /* the plain thread ended the wait itself */
    long got;                    /* bytes the readers read */
    pthread_t on[2];
};

static void io_wake_reader(void *arg)
{
    struct io_wake *w = arg;
    long me = __atomic_fetch_add(&w->started, 1, __ATOMIC_SEQ_CST);
    w->on[me] = thread_of_caller();
    /* Holds its worker (no yield) until the other reader has begun, so
     * that the other worker takes that one: at most 10 s. */
    uint64_t t0 = now_ns();
    while (load(&w->started) < w->n && now_ns() - t0 < 10000000000u)
        ;
    char c;
    if (coco_read(w->fd[me][0], &c, 1) == 1)
        add(&w->got, 1);
}

static void io_wake_writer(void *arg)
{
    struct io_wake *w = arg;
    add(&w->woken, 1);
    for (int i = 0; i < w->n; i++)
        ck_assert_int_eq(write(w->fd[i][1], "x", 1), 1);
}

static void *io_wake_thread(void *arg)
{
    struct io_wake *w = arg;
    for (int i = 0; i < 10000 && load(&w->started) < w->n; i++)
        sleep_us(1000);
    sleep_us(100000);            /* both readers parked, both workers asleep */
    if (coco_workers_spawn(w->wk, io_wake_writer, w, 0) != COCO_OK)
        return NULL;
    for (int i = 0; i < 3000 && load(&w->woken) == 0; i++)
        sleep_us(1000);
    if (load(&w->woken) == 0) {
        /* Nobody took the task: end the readers' wait so that the run
         * ends, and say so. */
        add(&w->rescued, 1);
        for (int i = 0; i < w->n; i++)
            ck_assert_int_eq(write(w->fd[i][1], "x", 1), 1);
    }
    return NULL;
}

START_TEST(test_workers_spawn_from_plain_thread_wakes_waiting_worker)
{
    struct io_wake w;
    memset(&w, 0, sizeof w);
    w.n = 1 + _i;
    w.wk = coco_workers_create((size_t)w.n);
    ck_assert_ptr_nonnull(w.wk);
    for (int i = 0; i < w.n; i++) {
        ck_assert_int_eq(pipe(w.fd[i]), 0);
        ck_assert_int_eq(coco_workers_spawn(w.wk, io_wake_reader, &w, 0), COCO_OK);
    }
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, io_wake_thread, &w), 0);
    ck_assert_int_eq(coco_workers_run(w.wk), COCO_OK);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(load(&w.started), w.n);
    if (w.n == 2)
        ck_assert(!pthread_equal(w.on[0], w.on[1]));
    ck_assert_int_eq(load(&w.woken), 1);
    ck_assert_int_eq(load(&w.rescued), 0);
    ck_assert_int_eq(load(&w.got), w.n);
    for (int i = 0; i < w.n; i++) {
        close(w.fd[i][0]);
        close(w.fd[i][1]);
    }
    coco_workers_destroy(w.wk);
}
END_TEST

/* ----------------------------- trees of tasks, results back over channels */

#define TREE_DEPTH 7             /* 2^8 - 1 = 255 tasks */

struct node {
    coco_channel_t *up;          /* where this subtree's sum goes */
    long id;                     /* heap numbering: children 2id, 2id+1 */
    int depth;
};

struct tree {
    long failures;
    long result;
    struct threads_seen seen;
};

static struct tree the_tree;

static void tree_node(void *arg)
{
    struct node *me = arg;
    long sum = me->id;
    seen_add(&the_tree.seen, thread_of_caller());
    if (me->depth > 0) {
        coco_workers_t *wk = coco_workers_self();
        coco_channel_t *down = coco_channel_create(2);
        struct node *kids = malloc(2 * sizeof *kids);
        if (wk == NULL || down == NULL || kids == NULL) {
            add(&the_tree.failures, 1);
            coco_channel_destroy(down);
            free(kids);
            return;
        }
        int spawned = 0;
        for (int k = 0; k < 2; k++) {
            kids[k].up = down;
            kids[k].id = 2 * me->id + k;
            kids[k].depth = me->depth - 1;
            if (coco_workers_spawn(wk, tree_node, &kids[k], 0) == COCO_OK)
                spawned++;
            else
                add(&the_tree.failures, 1);
        }
        for (int k = 0; k < spawned; k++) {
            void *v;
            if (coco_channel_recv(down, &v) == COCO_OK)
                sum += (long)(intptr_t)v;
            else
                add(&the_tree.failures, 1);
        }
        coco_channel_destroy(down);
        free(kids);
    }
    if (me->up == NULL)
        the_tree.result = sum;
    else if (coco_channel_send(me->up, (void *)(intptr_t)sum) != COCO_OK)
        add(&the_tree.failures, 1);
}

START_TEST(test_workers_nested_spawn_tree)
{
    memset(&the_tree, 0, sizeof the_tree);
    seen_init(&the_tree.seen);
    coco_workers_t *wk = coco_workers_create(4);
    ck_assert_ptr_nonnull(wk);
    struct node root = {NULL, 1, TREE_DEPTH};
    ck_assert_int_eq(coco_workers_spawn(wk, tree_node, &root, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    long n = (1L << (TREE_DEPTH + 1)) - 1;
    ck_assert_int_eq(load(&the_tree.failures), 0);
    ck_assert_int_eq(the_tree.result, n * (n + 1) / 2);
    ck_assert_int_ge(seen_count(&the_tree.seen), 1);
    coco_workers_destroy(wk);
    pthread_mutex_destroy(&the_tree.seen.lock);
}
END_TEST

/* -------------------------------------- sleep, timers and pipes in workers */

#define PIPE_PAIRS 6
#define PIPE_BLOCK 4096
#define PIPE_BLOCKS 40           /* 160 KiB: more than a pipe holds */

struct io_stats {
    long slept, fired, cancelled_fired, bytes, writers_done, failures;
};

static struct io_stats io;

static void on_timer(void *arg)
{
    add(arg, 1);
}

static void sleeper_task(void *arg)
{
    (void)arg;
    uint64_t t0 = now_ns();
    coco_timer_t *keep = coco_timer(2, on_timer, &io.fired);
    coco_timer_t *drop = coco_timer(60000, on_timer, &io.cancelled_fired);
    if (keep == NULL || drop == NULL)
        add(&io.failures, 1);
    coco_timer_cancel(drop);
    for (int i = 1; i <= 3; i++)
        if (coco_sleep((uint64_t)i) != COCO_OK)
            add(&io.failures, 1);
    /* 1 + 2 + 3 ms at least; the timer (2 ms) is due by now. */
    if (now_ns() - t0 < 6u * 1000000u)
        add(&io.failures, 1);
    coco_sleep(5);
    add(&io.slept, 1);
}

struct pipe_pair {
    int fd[2];
};

static void pipe_writer(void *arg)
{
    struct pipe_pair *p = arg;
    int fd = p->fd[1];
    char block[PIPE_BLOCK];
    memset(block, 'w', sizeof block);
    for (int i = 0; i < PIPE_BLOCKS; i++)
        if (coco_write(fd, block, sizeof block) != (int)sizeof block)
            add(&io.failures, 1);
    add(&io.writers_done, 1);
    coco_close(fd);
}

/* Spawns its writer (which may start on another worker) and reads to the
 * end. */
static void pipe_reader(void *arg)
{
    struct pipe_pair *p = arg;
    if (coco_workers_spawn(coco_workers_self(), pipe_writer, p, 0) != COCO_OK) {
        add(&io.failures, 1);
        return;
    }
    char buf[1000];
    int n;
    while ((n = coco_read(p->fd[0], buf, sizeof buf)) > 0)
        add(&io.bytes, n);
    if (n < 0)
        add(&io.failures, 1);
    coco_close(p->fd[0]);
}

START_TEST(test_workers_sleep_timers_pipes)
{
    memset(&io, 0, sizeof io);
    coco_workers_t *wk = coco_workers_create(3);
    ck_assert_ptr_nonnull(wk);
    struct pipe_pair pairs[PIPE_PAIRS];
    for (int i = 0; i < PIPE_PAIRS; i++) {
        ck_assert_int_eq(pipe(pairs[i].fd), 0);
        ck_assert_int_eq(coco_workers_spawn(wk, pipe_reader, &pairs[i], 0), COCO_OK);
    }
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(coco_workers_spawn(wk, sleeper_task, NULL, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    ck_assert_int_eq(load(&io.failures), 0);
    ck_assert_int_eq(load(&io.slept), 10);
    ck_assert_int_eq(load(&io.fired), 10);
    ck_assert_int_eq(load(&io.cancelled_fired), 0);
    ck_assert_int_eq(load(&io.writers_done), PIPE_PAIRS);
    ck_assert_int_eq(load(&io.bytes), (long)PIPE_PAIRS * PIPE_BLOCKS * PIPE_BLOCK);
    coco_workers_destroy(wk);
}
END_TEST

/* ---------------------------------------------- every worker gets work */

#define SHARE_WORKERS 4
#define SHARE_TASKS 1000

static struct threads_seen share_seen;

/* A few slices of about 10 us of work, each followed by a yield: 1000 of
 * them are some 50 ms for one thread, long enough for every worker to
 * start and take tasks. */
static void share_task(void *arg)
{
    long *done = arg;
    seen_add(&share_seen, thread_of_caller());
    for (int i = 0; i < 5; i++) {
        uint64_t until = now_ns() + 10000;
        for (int k = 0; k < 100000 && now_ns() < until; k++)
            ;
        coco_yield();
    }
    add(done, 1);
}

/* How many workers must have run a share task: all of them, but under an
 * emulator (which starts threads slowly) only that the work was shared. */
static bool under_valgrind(void)
{
    return getenv("COCO_TEST_UNDER_VALGRIND") != NULL;
}

/* Under valgrind, whose threads take turns, one worker may well run
 * everything: there the result is checked, not how it was shared. */
static int share_min_workers(void)
{
    if (under_valgrind())
        return 1;
    if (getenv("COCO_TEST_EXEC") != NULL)
        return 2;
    return SHARE_WORKERS;
}

START_TEST(test_workers_every_worker_gets_work)
{
    seen_init(&share_seen);
    coco_workers_t *wk = coco_workers_create(SHARE_WORKERS);
    ck_assert_ptr_nonnull(wk);
    long done = 0;
    for (int i = 0; i < SHARE_TASKS; i++)
        ck_assert_int_eq(coco_workers_spawn(wk, share_task, &done, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    ck_assert_int_eq(load(&done), SHARE_TASKS);
    ck_assert_int_ge(seen_count(&share_seen), share_min_workers());
    coco_workers_destroy(wk);
    pthread_mutex_destroy(&share_seen.lock);
}
END_TEST

/* A single task that spawns all the others from inside: they start out on
 * its worker's deque, so the other workers only get them by stealing. */
static void share_spawner(void *arg)
{
    for (int i = 0; i < SHARE_TASKS; i++)
        if (coco_workers_spawn(coco_workers_self(), share_task, arg, 0) != COCO_OK)
            return;
}

START_TEST(test_workers_idle_workers_steal)
{
    seen_init(&share_seen);
    coco_workers_t *wk = coco_workers_create(SHARE_WORKERS);
    ck_assert_ptr_nonnull(wk);
    long done = 0;
    ck_assert_int_eq(coco_workers_spawn(wk, share_spawner, &done, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    ck_assert_int_eq(load(&done), SHARE_TASKS);
    ck_assert_int_ge(seen_count(&share_seen), share_min_workers());
    coco_workers_destroy(wk);
    pthread_mutex_destroy(&share_seen.lock);
}
END_TEST

/* ------------------------------------------------------ thefts in a row */

#define THEFT_ROUNDS 20
#define THEFT_LIMIT_NS (10 * 1000000000ull)

struct theft {
    long ran[THEFT_ROUNDS];
    long rounds_done;
    long timed_out;
};

static struct theft theft;

static void theft_marker(void *arg)
{
    add(arg, 1);
}

/* Spawns one task at a time and keeps its worker busy without yielding
 * until the task has run: each one can only run on the other worker,
 * which has to steal it, again and again from the same worker. */
static void theft_root(void *arg)
{
    (void)arg;
    for (int i = 0; i < THEFT_ROUNDS; i++) {
        if (coco_workers_spawn(coco_workers_self(), theft_marker, &theft.ran[i], 0) !=
            COCO_OK)
            return;
        uint64_t limit = now_ns() + THEFT_LIMIT_NS;
        while (load(&theft.ran[i]) == 0 && now_ns() < limit)
            ;
        if (load(&theft.ran[i]) == 0) {
            add(&theft.timed_out, 1);
            /* Let the task run here, or the group never ends. */
            while (load(&theft.ran[i]) == 0)
                coco_yield();
            return;
        }
        add(&theft.rounds_done, 1);
    }
}

START_TEST(test_workers_thief_steals_again_and_again)
{
    memset(&theft, 0, sizeof theft);
    coco_workers_t *wk = coco_workers_create(2);
    ck_assert_ptr_nonnull(wk);
    ck_assert_int_eq(coco_workers_spawn(wk, theft_root, NULL, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    ck_assert_int_eq(load(&theft.timed_out), 0);
    ck_assert_int_eq(load(&theft.rounds_done), THEFT_ROUNDS);
    for (int i = 0; i < THEFT_ROUNDS; i++)
        ck_assert_int_eq(load(&theft.ran[i]), 1);
    coco_workers_destroy(wk);
}
END_TEST

/* ------------------------------------------- a pair spawned together */

#define PAIR_ROUNDS 20
#define PAIR_TRIPS 2000

struct pair {
    coco_channel_t *ping, *pong;
    pthread_t a, b;
    long trips;
};

static void pair_pinger(void *arg)
{
    struct pair *p = arg;
    p->a = thread_of_caller();
    void *v;
    for (long i = 0; i < PAIR_TRIPS; i++) {
        if (coco_channel_send(p->ping, (void *)i) != COCO_OK ||
            coco_channel_recv(p->pong, &v) != COCO_OK || (long)v != i)
            break;
        p->trips++;
    }
    coco_channel_close(p->ping);
}

static void pair_ponger(void *arg)
{
    struct pair *p = arg;
    p->b = thread_of_caller();
    void *v;
    while (coco_channel_recv(p->ping, &v) == COCO_OK)
        coco_channel_send(p->pong, v);
}

/* Whether timing may be trusted: not under valgrind, an emulator or
 * ThreadSanitizer, where a thread may stall for a long while. */
static bool timing_is_native(void)
{
#if defined(__SANITIZE_THREAD__)
    return false;
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
    return false;
#  endif
#endif
    return !under_valgrind() && getenv("COCO_TEST_EXEC") == NULL;
}

/* The pinger spawns its partner itself, works for a moment (40 us: the
 * other worker has time to wake up), then plays its part. */
static void pair_parent(void *arg)
{
    struct pair *p = arg;
    if (coco_workers_spawn(coco_workers_self(), pair_ponger, p, 0) != COCO_OK)
        return;
    uint64_t until = now_ns() + 40000;
    while (now_ns() < until)
        ;
    pair_pinger(p);
}

/* Two coroutines that talk only to each other, started the two usual
 * ways: spawned together from outside, or one spawning the other and
 * then waiting for it.  The group starts them on one worker, where they
 * need no other thread, unless that worker stalls (then the other one
 * takes the waiting task).  Every round must complete; natively, most
 * rounds must have kept the pair together. */
static void nothing(void *arg)
{
    (void)arg;
}

START_TEST(test_workers_pair_starts_together)
{
    /* A group run first, so that the C library has a thread stack at
     * hand and the second worker starts about as fast as the first. */
    coco_workers_t *warm = coco_workers_create(2);
    ck_assert_ptr_nonnull(warm);
    ck_assert_int_eq(coco_workers_spawn(warm, nothing, NULL, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(warm), COCO_OK);
    coco_workers_destroy(warm);
    int together = 0;
    for (int r = 0; r < PAIR_ROUNDS; r++) {
        struct pair p;
        memset(&p, 0, sizeof p);
        p.ping = coco_channel_create(0);
        p.pong = coco_channel_create(0);
        coco_workers_t *wk = coco_workers_create(2);
        ck_assert_ptr_nonnull(wk);
        if (r % 2 == 0) {
            ck_assert_int_eq(coco_workers_spawn(wk, pair_pinger, &p, 0), COCO_OK);
            ck_assert_int_eq(coco_workers_spawn(wk, pair_ponger, &p, 0), COCO_OK);
        } else {
            ck_assert_int_eq(coco_workers_spawn(wk, pair_parent, &p, 0), COCO_OK);
        }
        ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
        ck_assert_int_eq(p.trips, PAIR_TRIPS);
        together += pthread_equal(p.a, p.b) != 0;
        coco_workers_destroy(wk);
        coco_channel_destroy(p.ping);
        coco_channel_destroy(p.pong);
    }
    if (timing_is_native())
        ck_assert_int_ge(together, PAIR_ROUNDS / 2);
}
END_TEST

/* ------------------------------------- a started coroutine stays on its thread */

#define STAY_PAIRS 100
#define STAY_ROUNDS 30

struct stay {
    long moved;                  /* waits after which the thread differed */
    long checks;
    long apart;                  /* pairs whose two ends ran on two threads */
    long received;
};

static struct stay stay;

static void check_same(pthread_t home)
{
    add(&stay.checks, 1);
    if (!pthread_equal(home, thread_of_caller()))
        add(&stay.moved, 1);
}

struct stay_pair {
    coco_channel_t *ch;
    pthread_t sender;
    long sender_set;
};

/* Half a millisecond of work before the first wait: while a worker is
 * busy with it the others take the next tasks, so the two ends of most
 * pairs start on different threads and their hand-offs cross threads. */
static void spin_a_while(void)
{
    uint64_t until = now_ns() + 500000;
    for (int k = 0; k < 10000000 && now_ns() < until; k++)
        ;
}

static void stay_sender(void *arg)
{
    struct stay_pair *p = arg;
    pthread_t home = thread_of_caller();
    spin_a_while();
    p->sender = home;
    __atomic_store_n(&p->sender_set, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < STAY_ROUNDS; i++) {
        if (coco_channel_send(p->ch, (void *)(intptr_t)(i + 1)) != COCO_OK)
            break;
        check_same(home);
        if (i % 3 == 0) {
            coco_yield();
            check_same(home);
        }
        if (i % 10 == 0) {
            coco_sleep(1);
            check_same(home);
        }
    }
    coco_channel_close(p->ch);
}

static void stay_receiver(void *arg)
{
    struct stay_pair *p = arg;
    pthread_t home = thread_of_caller();
    spin_a_while();
    void *v;
    while (coco_channel_recv(p->ch, &v) == COCO_OK) {
        add(&stay.received, (long)(intptr_t)v);
        check_same(home);
        coco_yield();
        check_same(home);
    }
    check_same(home);
    if (__atomic_load_n(&p->sender_set, __ATOMIC_SEQ_CST) &&
        !pthread_equal(p->sender, home))
        add(&stay.apart, 1);
}

START_TEST(test_workers_started_coroutine_stays_on_its_thread)
{
    memset(&stay, 0, sizeof stay);
    coco_workers_t *wk = coco_workers_create(4);
    ck_assert_ptr_nonnull(wk);
    struct stay_pair *pairs = calloc(STAY_PAIRS, sizeof *pairs);
    ck_assert_ptr_nonnull(pairs);
    for (int i = 0; i < STAY_PAIRS; i++) {
        pairs[i].ch = coco_channel_create(0);
        ck_assert_ptr_nonnull(pairs[i].ch);
        ck_assert_int_eq(coco_workers_spawn(wk, stay_receiver, &pairs[i], 0), COCO_OK);
        ck_assert_int_eq(coco_workers_spawn(wk, stay_sender, &pairs[i], 0), COCO_OK);
    }
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    long per_pair = (long)STAY_ROUNDS * (STAY_ROUNDS + 1) / 2;
    ck_assert_int_eq(load(&stay.received), STAY_PAIRS * per_pair);
    ck_assert_int_gt(load(&stay.checks), STAY_PAIRS * STAY_ROUNDS);
    ck_assert_int_eq(load(&stay.moved), 0);
    /* Some pairs did talk across threads. */
    if (!under_valgrind())
        ck_assert_int_gt(load(&stay.apart), 0);
    for (int i = 0; i < STAY_PAIRS; i++)
        coco_channel_destroy(pairs[i].ch);
    free(pairs);
    coco_workers_destroy(wk);
}
END_TEST

/* A coroutine created with coco_create() on the worker's own scheduler
 * runs there and can be joined. */
struct pinned {
    long same_thread, joined, bad;
};

static struct pinned pinned;

static void pinned_child(void *arg)
{
    coco_yield();
    if (pthread_equal(*(pthread_t *)arg, thread_of_caller()))
        add(&pinned.same_thread, 1);
    coco_exit(coco_self(), arg);
}

static void pinned_parent(void *arg)
{
    (void)arg;
    pthread_t home = thread_of_caller();
    coco_coro_t *self = coco_self();
    if (self == NULL || self->sched == NULL) {
        add(&pinned.bad, 1);
        return;
    }
    coco_coro_t *c = coco_create(self->sched, pinned_child, &home, 0);
    if (c == NULL) {
        add(&pinned.bad, 1);
        return;
    }
    if (coco_join(c) == &home)
        add(&pinned.joined, 1);
    coco_destroy(c);
}

START_TEST(test_workers_coco_create_on_worker_scheduler)
{
    memset(&pinned, 0, sizeof pinned);
    coco_workers_t *wk = coco_workers_create(2);
    ck_assert_ptr_nonnull(wk);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(coco_workers_spawn(wk, pinned_parent, NULL, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    ck_assert_int_eq(load(&pinned.bad), 0);
    ck_assert_int_eq(load(&pinned.joined), 20);
    ck_assert_int_eq(load(&pinned.same_thread), 20);
    coco_workers_destroy(wk);
}
END_TEST

/* --------------------------------------------------------------- deadlock */

static void wait_for_ever(void *arg)
{
    void *v;
    coco_channel_recv(arg, &v);
}

START_TEST(test_workers_deadlock)
{
    coco_channel_t *never = coco_channel_create(0);
    ck_assert_ptr_nonnull(never);
    coco_workers_t *wk = coco_workers_create(2);
    ck_assert_ptr_nonnull(wk);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(coco_workers_spawn(wk, wait_for_ever, never, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_ERROR_DEADLOCK);
    /* The parked coroutines go with the group; the channel outlives it. */
    coco_workers_destroy(wk);
    coco_channel_destroy(never);
}
END_TEST

/* One worker's coroutine waits while another worker's sleeps before it
 * sends: that is no deadlock. */
static void late_sender(void *arg)
{
    coco_sleep(50);
    coco_channel_send(arg, (void *)(intptr_t)7);
}

static long late_got;

static void early_receiver(void *arg)
{
    void *v = NULL;
    if (coco_channel_recv(arg, &v) == COCO_OK)
        __atomic_store_n(&late_got, (long)(intptr_t)v, __ATOMIC_SEQ_CST);
}

START_TEST(test_workers_wait_is_no_deadlock_while_another_sleeps)
{
    __atomic_store_n(&late_got, 0, __ATOMIC_SEQ_CST);
    coco_channel_t *ch = coco_channel_create(0);
    ck_assert_ptr_nonnull(ch);
    coco_workers_t *wk = coco_workers_create(2);
    ck_assert_ptr_nonnull(wk);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(coco_workers_spawn(wk, early_receiver, ch, 0), COCO_OK);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(coco_workers_spawn(wk, late_sender, ch, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    ck_assert_int_eq(__atomic_load_n(&late_got, __ATOMIC_SEQ_CST), 7);
    coco_workers_destroy(wk);
    coco_channel_destroy(ch);
}
END_TEST

/* ------------------------------------------------ destroy, self, threads */

START_TEST(test_workers_destroy_with_queued_tasks)
{
    long n = 0;
    coco_workers_t *wk = coco_workers_create(2);
    ck_assert_ptr_nonnull(wk);
    for (int i = 0; i < 300; i++)
        ck_assert_int_eq(coco_workers_spawn(wk, count_task, &n, 0), COCO_OK);
    coco_workers_destroy(wk);
    ck_assert_int_eq(load(&n), 0);

    /* After a run, too. */
    wk = coco_workers_create(2);
    ck_assert_ptr_nonnull(wk);
    ck_assert_int_eq(coco_workers_spawn(wk, count_task, &n, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    ck_assert_int_eq(load(&n), 1);
    for (int i = 0; i < 300; i++)
        ck_assert_int_eq(coco_workers_spawn(wk, count_task, &n, 0), COCO_OK);
    coco_workers_destroy(wk);
    ck_assert_int_eq(load(&n), 1);
}
END_TEST

struct self_seen {
    coco_workers_t *wk;
    long matched, other;
};

static void self_task(void *arg)
{
    struct self_seen *s = arg;
    coco_yield();
    if (coco_workers_self() == s->wk)
        add(&s->matched, 1);
    else
        add(&s->other, 1);
}

static void plain_coroutine(void *arg)
{
    *(coco_workers_t **)arg = coco_workers_self();
}

START_TEST(test_workers_self)
{
    ck_assert_ptr_null(coco_workers_self());
    struct self_seen s = {NULL, 0, 0};
    s.wk = coco_workers_create(2);
    ck_assert_ptr_nonnull(s.wk);
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(coco_workers_spawn(s.wk, self_task, &s, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(s.wk), COCO_OK);
    ck_assert_int_eq(load(&s.matched), 50);
    ck_assert_int_eq(load(&s.other), 0);
    ck_assert_ptr_null(coco_workers_self());

    /* A coroutine of a scheduler of its own, with a group alive. */
    coco_workers_t *got = s.wk;
    coco_sched_t *sched = coco_sched_create();
    ck_assert_ptr_nonnull(sched);
    ck_assert_ptr_nonnull(coco_create(sched, plain_coroutine, &got, 0));
    ck_assert_int_eq(coco_sched_run(sched), COCO_OK);
    ck_assert_ptr_null(got);
    coco_sched_destroy(sched);
    coco_workers_destroy(s.wk);
}
END_TEST

static size_t cpus(void)
{
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (size_t)CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
}

START_TEST(test_workers_thread_count)
{
    coco_workers_t *wk = coco_workers_create(0);
    ck_assert_ptr_nonnull(wk);
    ck_assert_uint_eq(coco_workers_threads(wk), cpus());
    long n = 0;
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(coco_workers_spawn(wk, count_task, &n, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    ck_assert_int_eq(load(&n), 20);
    coco_workers_destroy(wk);

    wk = coco_workers_create(1);
    ck_assert_ptr_nonnull(wk);
    ck_assert_uint_eq(coco_workers_threads(wk), 1);
    ck_assert_int_eq(coco_workers_spawn(wk, count_task, &n, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    ck_assert_int_eq(load(&n), 21);
    coco_workers_destroy(wk);
}
END_TEST

/* Workers have no coroutine limit: more than COCO_MAX_COROUTINES alive at
 * once on one worker. */
#define MANY (COCO_MAX_COROUTINES + 100)

static void many_task(void *arg)
{
    coco_sleep(20);
    add(arg, 1);
}

START_TEST(test_workers_no_coroutine_limit)
{
    coco_workers_t *wk = coco_workers_create(1);
    ck_assert_ptr_nonnull(wk);
    long n = 0;
    for (int i = 0; i < MANY; i++)
        ck_assert_int_eq(coco_workers_spawn(wk, many_task, &n, 16 * 1024), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    ck_assert_int_eq(load(&n), MANY);
    coco_workers_destroy(wk);
}
END_TEST

/* ------------------------------------------------------------ bad input */

struct inside {
    coco_workers_t *wk;
    int rc;
};

static void run_from_coroutine(void *arg)
{
    struct inside *in = arg;
    in->rc = coco_workers_run(in->wk);
}

static void run_from_worker(void *arg)
{
    struct inside *in = arg;
    in->rc = coco_workers_run(coco_workers_self());
}

START_TEST(test_workers_bad_input)
{
    long n = 0;
    coco_workers_t *wk = coco_workers_create(2);
    ck_assert_ptr_nonnull(wk);
    ck_assert_int_eq(coco_workers_spawn(NULL, count_task, &n, 0), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_workers_spawn(wk, NULL, &n, 0), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_workers_run(NULL), COCO_ERROR_INVALID);
    ck_assert_uint_eq(coco_workers_threads(NULL), 0);
    coco_workers_destroy(NULL);

    /* From a coroutine of a plain scheduler: refused, and the group is
     * left as it was. */
    ck_assert_int_eq(coco_workers_spawn(wk, count_task, &n, 0), COCO_OK);
    struct inside in = {wk, 12345};
    coco_sched_t *sched = coco_sched_create();
    ck_assert_ptr_nonnull(sched);
    ck_assert_ptr_nonnull(coco_create(sched, run_from_coroutine, &in, 0));
    ck_assert_int_eq(coco_sched_run(sched), COCO_OK);
    ck_assert_int_eq(in.rc, COCO_ERROR_INVALID);
    coco_sched_destroy(sched);
    ck_assert_int_eq(load(&n), 0);

    /* From one of its own tasks, while it runs. */
    in.rc = 12345;
    ck_assert_int_eq(coco_workers_spawn(wk, run_from_worker, &in, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    ck_assert_int_eq(in.rc, COCO_ERROR_INVALID);
    ck_assert_int_eq(load(&n), 1);
    coco_workers_destroy(wk);
}
END_TEST

/* ----------------------------------------- stack overflow on every worker */

#if COCO_HAVE_OVERFLOW_DETECT
static volatile int overflow_depth_limit = 1 << 30;
static int __attribute__((noinline)) overflow_dive(int depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    if (depth >= overflow_depth_limit)
        return frame[0];
    return overflow_dive(depth + 1) + frame[0];
}

static long overflow_started, overflow_reported;
static struct threads_seen overflow_threads;

static void overflow_reported_cb(coco_coro_t *co, int code, const char *msg)
{
    (void)co;
    (void)msg;
    if (code == COCO_ERROR_STACK_OVERFLOW)
        add(&overflow_reported, 1);
}

/* Holds its worker without parking until the other one has started, so
 * the two run on both workers, then runs off its stack. */
static void overflow_task(void *arg)
{
    (void)arg;
    coco_set_error_cb(coco_self(), overflow_reported_cb);
    seen_add(&overflow_threads, thread_of_caller());
    add(&overflow_started, 1);
    uint64_t limit = now_ns() + 10 * 1000000000ull;
    while (load(&overflow_started) < 2 && now_ns() < limit)
        sleep_us(100);
    overflow_dive(0);
}

/* A worker's thread runs a scheduler made by the thread that called
 * coco_workers_run(): it needs an alternate signal stack of its own for
 * the overflow to be caught there too, not only on the caller's. */
START_TEST(test_workers_overflow_on_every_worker)
{
    seen_init(&overflow_threads);
    coco_workers_t *wk = coco_workers_create(2);
    ck_assert_ptr_nonnull(wk);
    ck_assert_int_eq(coco_workers_spawn(wk, overflow_task, NULL, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_spawn(wk, overflow_task, NULL, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    ck_assert_int_eq(overflow_threads.n, 2);
    ck_assert_int_eq(load(&overflow_reported), 2);
    /* And again, on worker threads made anew. */
    ck_assert_int_eq(coco_workers_spawn(wk, overflow_task, NULL, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_spawn(wk, overflow_task, NULL, 0), COCO_OK);
    overflow_started = 0;
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    ck_assert_int_eq(load(&overflow_reported), 4);
    coco_workers_destroy(wk);
}
END_TEST
#endif

/* ------------------------------------------------ a stack too large */

/* A stack size no worker can give is refused by the spawn: queued, the
 * task could never start and the run would never end. */
START_TEST(test_workers_spawn_refuses_huge_stack)
{
    long n = 0;
    coco_workers_t *wk = coco_workers_create(2);
    ck_assert_ptr_nonnull(wk);
    ck_assert_int_eq(coco_workers_spawn(wk, count_task, &n, SIZE_MAX), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_workers_spawn(wk, count_task, &n, ((size_t)1 << 30) + 1),
                     COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_workers_spawn(wk, count_task, &n, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    ck_assert_int_eq(load(&n), 1);
    /* The largest size coco_create() takes is queued (and dropped here,
     * unstarted). */
    ck_assert_int_eq(coco_workers_spawn(wk, count_task, &n, (size_t)1 << 30), COCO_OK);
    coco_workers_destroy(wk);
    ck_assert_int_eq(load(&n), 1);
}
END_TEST

/* ------------------------------------- a worker's pool, from another thread */

struct foreign_pool {
    coco_pool_t *pool;
    long release;                 /* the pool's function may finish */
    int rc_full, rc_free;         /* submissions from a plain thread */
    int wait_rc, destroy_rc;
};

static void foreign_pool_job(void *arg)
{
    struct foreign_pool *fp = arg;
    for (int i = 0; i < 10000 && load(&fp->release) == 0; i++)
        coco_sleep(1);
}

static void *foreign_pool_submitter(void *arg)
{
    struct foreign_pool *fp = arg;
    fp->rc_full = coco_pool_submit(fp->pool, foreign_pool_job, fp, 0);
    return NULL;
}

static void *foreign_pool_submitter_free(void *arg)
{
    struct foreign_pool *fp = arg;
    fp->rc_free = coco_pool_submit(fp->pool, foreign_pool_job, fp, COCO_INFINITE);
    return NULL;
}

/* Makes a pool of one place on its worker's scheduler, fills the place,
 * and has a plain thread submit while the worker runs (the worker's
 * thread waits for it, so its scheduler runs all along). */
static void foreign_pool_owner(void *arg)
{
    struct foreign_pool *fp = arg;
    fp->pool = coco_pool_create(coco_self()->sched, 1, 0);
    if (fp->pool == NULL)
        return;
    if (coco_pool_submit(fp->pool, foreign_pool_job, fp, 0) != COCO_OK)
        return;
    coco_yield();
    pthread_t th;
    if (pthread_create(&th, NULL, foreign_pool_submitter, fp) == 0)
        pthread_join(th, NULL);
    add(&fp->release, 1);
    fp->wait_rc = coco_pool_wait(fp->pool, 10000);
    /* With the place free again. */
    if (pthread_create(&th, NULL, foreign_pool_submitter_free, fp) == 0)
        pthread_join(th, NULL);
    fp->destroy_rc = coco_pool_destroy(fp->pool);
}

/* The pool's page: a submission from another thread while its scheduler
 * runs fails with COCO_ERROR_INVALID, full or not, and leaves the pool as
 * it was. */
START_TEST(test_workers_pool_refuses_foreign_thread)
{
    struct foreign_pool fp = {NULL, 0, 12345, 12345, 12345, 12345};
    coco_workers_t *wk = coco_workers_create(1);
    ck_assert_ptr_nonnull(wk);
    ck_assert_int_eq(coco_workers_spawn(wk, foreign_pool_owner, &fp, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    coco_workers_destroy(wk);
    ck_assert_ptr_nonnull(fp.pool);
    ck_assert_int_eq(fp.rc_full, COCO_ERROR_INVALID);
    ck_assert_int_eq(fp.rc_free, COCO_ERROR_INVALID);
    ck_assert_int_eq(fp.wait_rc, COCO_OK);
    ck_assert_int_eq(fp.destroy_rc, COCO_OK);
}
END_TEST

/* ------------------------------------ run from a scheduler loop's callback */

struct loop_cb_run {
    coco_workers_t *wk;
    int rc;
};

static void run_from_timer(void *arg)
{
    struct loop_cb_run *r = arg;
    r->rc = coco_workers_run(r->wk);
}

static void keep_loop_busy(void *arg)
{
    (void)arg;
    coco_sleep(20);
}

/* A timer's callback is outside any coroutine, but its thread's loop is
 * taken and worker 0 cannot run there: refused at once, before any other
 * worker has started and while the group is untouched. */
START_TEST(test_workers_run_refused_in_loop_callback)
{
    long n = 0;
    struct loop_cb_run r = {coco_workers_create(2), 12345};
    ck_assert_ptr_nonnull(r.wk);
    ck_assert_int_eq(coco_workers_spawn(r.wk, count_task, &n, 0), COCO_OK);
    coco_sched_t *sched = coco_sched_create();
    ck_assert_ptr_nonnull(sched);
    ck_assert_ptr_nonnull(coco_create(sched, keep_loop_busy, NULL, 0));
    ck_assert_ptr_nonnull(coco_timer(1, run_from_timer, &r));
    ck_assert_int_eq(coco_sched_run(sched), COCO_OK);
    coco_sched_destroy(sched);
    ck_assert_int_eq(r.rc, COCO_ERROR_INVALID);
    ck_assert_int_eq(load(&n), 0);
    ck_assert_int_eq(coco_workers_run(r.wk), COCO_OK);
    ck_assert_int_eq(load(&n), 1);
    coco_workers_destroy(r.wk);
}
END_TEST

/* ------------------------------------------------ out of descriptors */

#define FD_SLACK 64

/* Every worker needs descriptors of its own (its poller's, its wake-up
 * one).  With only a few left, enough for some workers and not others,
 * the run fails with COCO_ERROR_NOMEM before any task starts, or runs
 * them all: it never waits for a worker that could not start. */
START_TEST(test_workers_run_out_of_descriptors)
{
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    int lowest = open("/dev/null", O_RDONLY);
    ck_assert_int_ge(lowest, 0);
    close(lowest);
    lim = old;
    lim.rlim_cur = (rlim_t)lowest + FD_SLACK;
    if (old.rlim_max != RLIM_INFINITY && lim.rlim_cur > old.rlim_max)
        return; /* cannot be arranged here */
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
    int refused = 0, ran = 0;
    for (int room = 0; room <= 8; room++) {
        /* Take every descriptor below the limit, then give room back. */
        int fds[FD_SLACK], n = 0;
        while (n < FD_SLACK && (fds[n] = open("/dev/null", O_RDONLY)) >= 0)
            n++;
        for (int i = 0; i < room && n > 0; i++)
            close(fds[--n]);
        long count = 0;
        coco_workers_t *wk = coco_workers_create(3);
        ck_assert_ptr_nonnull(wk);
        for (int i = 0; i < 6; i++)
            ck_assert_int_eq(coco_workers_spawn(wk, count_task, &count, 0), COCO_OK);
        int rc = coco_workers_run(wk);
        coco_workers_destroy(wk);
        while (n > 0)
            close(fds[--n]);
        if (rc == COCO_ERROR_NOMEM) {
            ck_assert_int_eq(load(&count), 0);
            refused++;
        } else {
            ck_assert_int_eq(rc, COCO_OK);
            ck_assert_int_eq(load(&count), 6);
            ran++;
        }
    }
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    ck_assert_int_gt(refused, 0);
    ck_assert_int_gt(ran, 0);
}
END_TEST

/* -------------------------------------- a task no memory can be found for */

#define MIB ((size_t)1 << 20)

static struct rlimit nomem_saved_as;

/* Lets the process map only headroom bytes more than it has now (Linux
 * /proc); false when that cannot be arranged or is not enforced here. */
static bool nomem_cap(size_t headroom)
{
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return false;
    if (fscanf(f, "%lu", &pages) != 1)
        pages = 0;
    fclose(f);
    if (pages == 0 || getrlimit(RLIMIT_AS, &nomem_saved_as) != 0)
        return false;
    struct rlimit lim = nomem_saved_as;
    lim.rlim_cur = (rlim_t)((size_t)pages * (size_t)sysconf(_SC_PAGESIZE) + headroom);
    if (nomem_saved_as.rlim_max != RLIM_INFINITY && lim.rlim_cur > nomem_saved_as.rlim_max)
        return false;
    if (setrlimit(RLIMIT_AS, &lim) != 0)
        return false;
    void *p = mmap(NULL, 4 * headroom, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
        munmap(p, 4 * headroom);
        setrlimit(RLIMIT_AS, &nomem_saved_as);
        return false; /* an emulator that ignores the limit */
    }
    return true;
}

/* A task whose stack cannot be mapped, with nothing left running that
 * could give memory back: the run ends with COCO_ERROR_NOMEM instead of
 * trying for ever, the other tasks have run, and the task stays queued
 * for a later run. */
START_TEST(test_workers_run_task_without_memory)
{
    /* Sanitizers reserve huge shadow mappings and abort when they
     * cannot; valgrind's own allocator would starve first. */
    if (COCO_TEST_SANITIZED || under_valgrind())
        return;
    long small = 0, big = 0;
    coco_workers_t *wk = coco_workers_create(2);
    ck_assert_ptr_nonnull(wk);
    ck_assert_int_eq(coco_workers_spawn(wk, count_task, &big, 512 * MIB), COCO_OK);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(coco_workers_spawn(wk, count_task, &small, 0), COCO_OK);
    if (!nomem_cap(64 * MIB)) {
        coco_workers_destroy(wk);
        return;
    }
    int rc = coco_workers_run(wk);
    setrlimit(RLIMIT_AS, &nomem_saved_as);
    ck_assert_int_eq(rc, COCO_ERROR_NOMEM);
    ck_assert_int_eq(load(&small), 4);
    ck_assert_int_eq(load(&big), 0);
    /* With room again, the next run starts it. */
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    ck_assert_int_eq(load(&big), 1);
    coco_workers_destroy(wk);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("workers");
    TCase *tc = tcase_create("workers");
    /* Generous: ThreadSanitizer and valgrind run this many times slower. */
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_workers_spawn_before_run);
    tcase_add_test(tc, test_workers_run_twice);
    tcase_add_test(tc, test_workers_spawn_from_plain_thread_during_run);
    /* Its readers spin for each other to start: see
     * test_workers_thief_steals_again_and_again. */
    if (!under_valgrind())
        tcase_add_loop_test(tc, test_workers_spawn_from_plain_thread_wakes_waiting_worker, 0, 2);
    tcase_add_test(tc, test_workers_nested_spawn_tree);
    tcase_add_test(tc, test_workers_sleep_timers_pipes);
    tcase_add_test(tc, test_workers_every_worker_gets_work);
    tcase_add_test(tc, test_workers_idle_workers_steal);
    /* A task that spins without yielding for the other worker to steal
     * the next one: valgrind, which runs one thread at a time, may not
     * let that one run for long. */
    if (!under_valgrind())
        tcase_add_test(tc, test_workers_thief_steals_again_and_again);
    tcase_add_test(tc, test_workers_pair_starts_together);
    tcase_add_test(tc, test_workers_started_coroutine_stays_on_its_thread);
    tcase_add_test(tc, test_workers_coco_create_on_worker_scheduler);
    tcase_add_test(tc, test_workers_deadlock);
    tcase_add_test(tc, test_workers_wait_is_no_deadlock_while_another_sleeps);
    tcase_add_test(tc, test_workers_destroy_with_queued_tasks);
    tcase_add_test(tc, test_workers_self);
    tcase_add_test(tc, test_workers_thread_count);
    tcase_add_test(tc, test_workers_no_coroutine_limit);
    tcase_add_test(tc, test_workers_bad_input);
    tcase_add_test(tc, test_workers_spawn_refuses_huge_stack);
    tcase_add_test(tc, test_workers_pool_refuses_foreign_thread);
    tcase_add_test(tc, test_workers_run_refused_in_loop_callback);
    /* Valgrind keeps descriptors of its own near the limit. */
    if (!under_valgrind())
        tcase_add_test(tc, test_workers_run_out_of_descriptors);
    tcase_add_test(tc, test_workers_run_task_without_memory);
#if COCO_HAVE_OVERFLOW_DETECT
    /* Not under valgrind: memcheck takes the guard-page fault for an
     * invalid write and stops there. */
    if (!under_valgrind())
        tcase_add_test(tc, test_workers_overflow_on_every_worker);
#endif
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
