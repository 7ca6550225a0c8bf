/*
 * check_mt.c - channels, select and the synchronisation objects shared by
 * coroutines of schedulers on different threads, and by plain threads.
 *
 * The programs here are written the way users write them: the public
 * header only, pthreads, 2 to 8 threads each running its own scheduler,
 * many coroutines, idle stretches (sleeps, so that a scheduler waits in its
 * poller and must be woken from outside) and busy ones (spins that keep a
 * thread from looking at what other threads did).  They check:
 *   - every shared object in both directions, with results that are exact
 *     (counts, sums, per-sender order, each value seen once);
 *   - timeouts that expire while the thread that would end the wait is
 *     busy, and that the object still works afterwards;
 *   - lost wake-ups: many rounds in which one thread's coroutine parks at
 *     the moment another thread wakes it, the second thread's timing swept
 *     across the window; a watchdog fails the test if a round never ends;
 *   - a stress run of many messages through shared channels, with channels
 *     closed and coroutines destroyed at random, checksummed;
 *   - plain threads using the calls that do not wait;
 *   - when coco_sched_run() reports COCO_ERROR_DEADLOCK with several
 *     schedulers, and what a thread may not do to another's scheduler;
 *   - objects destroyed while another thread's coroutines wait on them.
 * Every case runs in the ThreadSanitizer build too.  The stress run sends
 * 10^7 messages in all (an eighth under ThreadSanitizer, a quarter under
 * AddressSanitizer, less under valgrind and qemu: see stress_total(), and
 * scaled() for the other cases); COCO_MT_STRESS_MESSAGES sets its size.
 * COCO_MT_WATCHDOG=seconds shortens the watchdogs.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_ACQ_REL)

/* Coroutines on other threads do not call ck_assert (they would fail
 * from the wrong thread); they record what went wrong here, and the test
 * asserts on it once the threads are joined. */
static int fails;
static char fail_msg[512];

static void expect_failed(const char *file, int line, const char *what,
                          long got, long want)
{
    if (ADD(&fails, 1) == 1)
        snprintf(fail_msg, sizeof fail_msg, "%s:%d: %s (got %ld, want %ld)",
                 file, line, what, got, want);
}

#define EXPECT_EQ(got, want)                                             \
    do {                                                                 \
        long got_ = (long)(got), want_ = (long)(want);                   \
        if (got_ != want_)                                               \
            expect_failed(__FILE__, __LINE__, #got " == " #want, got_,   \
                          want_);                                        \
    } while (0)
#define EXPECT(cond)                                                     \
    do {                                                                 \
        if (!(cond))                                                     \
            expect_failed(__FILE__, __LINE__, #cond, 0, 1);              \
    } while (0)
/* Before each case: without Check's fork (CK_FORK=no, as under valgrind)
 * the cases share one process, and one's failures are not the next's. */
static void reset_expectations(void)
{
    STORE(&fails, 0);
    fail_msg[0] = '\0';
}

#define ASSERT_EXPECTATIONS()                                            \
    ck_assert_msg(LOAD(&fails) == 0, "%d failed expectation(s); first: %s", \
                  LOAD(&fails), fail_msg)

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void spin(unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        __asm__ __volatile__("" ::: "memory");
}

static bool under_valgrind(void)
{
    return getenv("COCO_TEST_UNDER_VALGRIND") != NULL;
}

/* Under qemu-user (the cross builds: tools/cross-check.sh runs the tests
 * through the wrapper named here). */
static bool emulated(void)
{
    return getenv("COCO_TEST_EXEC") != NULL;
}

/* Sizes for the instrumented and emulated builds, which run many times
 * slower. */
static long scaled(long n)
{
    long d = under_valgrind() ? 50 : COCO_TEST_TSAN || emulated() ? 8 : COCO_TEST_ASAN ? 2 : 1;
    return n / d > 0 ? n / d : 1;
}

/* Busy-waits (the whole thread, whatever coroutine calls it) until *p
 * reaches want; false after 30 s.  The waits in these tests are for things
 * another thread does next, so the limit is only reached on a bug. */
static bool spin_until(const long *p, long want)
{
    uint64_t start = 0;
    for (unsigned n = 0;; n++) {
        if (LOAD(p) >= want)
            return true;
        if (n % 64 == 63)
            sched_yield();
        if (n % 4096 == 4095) {
            if (start == 0)
                start = now_ms();
            else if (now_ms() - start > 30000)
                return false;
        }
    }
}

#define SPIN_UNTIL(p, want) EXPECT(spin_until((p), (want)))

/* A small deterministic generator per coroutine or thread. */
static uint32_t rnd(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (uint32_t)(*state >> 11);
}

/* A thread that runs a scheduler: made by the test (coroutines created on
 * it from the main thread before the run), or by the thread itself with
 * setup() creating its coroutines. */
struct runner {
    pthread_t thread;
    coco_sched_t *sched;
    void (*setup)(coco_sched_t *, void *);
    void *arg;
    int rc;
    uint64_t took_ms;
};

static void *runner_main(void *p)
{
    struct runner *r = p;
    if (r->sched == NULL) {
        r->sched = coco_sched_create();
        if (r->sched == NULL) {
            r->rc = COCO_ERROR_NOMEM;
            return NULL;
        }
        r->setup(r->sched, r->arg);
    }
    uint64_t t0 = now_ms();
    r->rc = coco_sched_run(r->sched);
    r->took_ms = now_ms() - t0;
    return NULL;
}

static void runner_start(struct runner *r)
{
    r->rc = 1; /* not a result: the run has not returned */
    ck_assert_int_eq(pthread_create(&r->thread, NULL, runner_main, r), 0);
}

/* Joins the thread and destroys its scheduler; returns the run's result. */
static int runner_finish(struct runner *r)
{
    ck_assert_int_eq(pthread_join(r->thread, NULL), 0);
    coco_sched_destroy(r->sched);
    r->sched = NULL;
    return r->rc;
}

static coco_sched_t *new_sched(void)
{
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    return s;
}

static coco_coro_t *go(coco_sched_t *s, void (*entry)(void *), void *arg)
{
    coco_coro_t *c = coco_create(s, entry, arg, 0);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* Fails the test when a stretch of it has not ended after `seconds`: a
 * lost wake-up shows as a wait that never ends, and this turns it into a
 * failure with a message rather than the suite's timeout. */
struct watchdog {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    unsigned seconds;
    const char *what;
    const long *progress, *total;
};

static void *watchdog_main(void *p)
{
    struct watchdog *wd = p;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wd->seconds;
    pthread_mutex_lock(&wd->mu);
    int rc = 0;
    while (!wd->stop && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&wd->cv, &wd->mu, &until);
    bool expired = !wd->stop;
    pthread_mutex_unlock(&wd->mu);
    if (expired) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s: not over after %u s (%ld of %ld done)",
                 wd->what, wd->seconds, wd->progress ? LOAD(wd->progress) : -1L,
                 wd->total ? *wd->total : -1L);
        fprintf(stderr, "%s\n", msg);
        /* Check fails a test from any thread of its forked child; without
         * the fork there is no test process of its own to end. */
        const char *fork_mode = getenv("CK_FORK");
        if (fork_mode != NULL && strcmp(fork_mode, "no") == 0)
            abort();
        ck_abort_msg("%s", msg);
    }
    return NULL;
}

static void watchdog_start(struct watchdog *wd, unsigned seconds, const char *what,
                           const long *progress, const long *total)
{
    memset(wd, 0, sizeof *wd);
    pthread_mutex_init(&wd->mu, NULL);
    pthread_cond_init(&wd->cv, NULL);
    /* COCO_MT_WATCHDOG=seconds: shorter, to see a stuck case sooner. */
    const char *e = getenv("COCO_MT_WATCHDOG");
    wd->seconds = e != NULL && atoi(e) > 0 ? (unsigned)atoi(e) : seconds;
    wd->what = what;
    wd->progress = progress;
    wd->total = total;
    ck_assert_int_eq(pthread_create(&wd->thread, NULL, watchdog_main, wd), 0);
}

static void watchdog_stop(struct watchdog *wd)
{
    pthread_mutex_lock(&wd->mu);
    wd->stop = true;
    pthread_cond_signal(&wd->cv);
    pthread_mutex_unlock(&wd->mu);
    pthread_join(wd->thread, NULL);
    pthread_cond_destroy(&wd->cv);
    pthread_mutex_destroy(&wd->mu);
}

/* The first index of seen[0..n) that is not 1, or -1.  Checked in a loop
 * of ours: Check records every assertion, which is slow by the million. */
static long first_not_once(const unsigned char *seen, long n)
{
    for (long i = 0; i < n; i++)
        if (seen[i] != 1)
            return i;
    return -1;
}

/* Idle or busy for a moment, by the value of n: what a coroutine doing
 * real work between its calls looks like. */
static void pause_a_little(unsigned n)
{
    switch (n % 16) {
    case 0:
        coco_sleep(1);  /* idle: its scheduler may sleep in the poller */
        break;
    case 1:
    case 2:
        spin(20000);    /* busy: the thread looks at nothing else */
        break;
    case 3:
    case 4:
    case 5:
        coco_yield();
        break;
    default:
        break;
    }
}

/* ------------------------------------------------- channels, threads */

/* Every thread sends to every other one on a channel of its own per pair,
 * one producer and one consumer per channel, so that order is checked. */
#define RING_MAX 8

struct ring {
    int nthreads;
    long per_channel;
    coco_channel_t *ch[RING_MAX][RING_MAX]; /* [from][to] */
    long received[RING_MAX][RING_MAX];
    long sum[RING_MAX][RING_MAX];
};

struct ring_end {
    struct ring *r;
    int from, to;
};

static void ring_produce(void *arg)
{
    struct ring_end *e = arg;
    struct ring *r = e->r;
    for (long i = 0; i < r->per_channel; i++) {
        EXPECT_EQ(coco_channel_send(r->ch[e->from][e->to], (void *)(intptr_t)(i + 1)),
                  COCO_OK);
        pause_a_little((unsigned)(i * 7 + (unsigned)e->to));
    }
}

static void ring_consume(void *arg)
{
    struct ring_end *e = arg;
    struct ring *r = e->r;
    for (long i = 0; i < r->per_channel; i++) {
        void *v = NULL;
        EXPECT_EQ(coco_channel_recv(r->ch[e->from][e->to], &v), COCO_OK);
        EXPECT_EQ((intptr_t)v, i + 1); /* one sender: in order */
        r->received[e->from][e->to]++;
        r->sum[e->from][e->to] += (intptr_t)v;
        pause_a_little((unsigned)(i * 5 + (unsigned)e->from));
    }
}

static const struct {
    int nthreads;
    size_t cap;
} ring_cases[] = {{2, 0}, {4, 0}, {4, 1}, {8, 16}, {3, 3}};

START_TEST(test_mt_channel_every_pair)
{
    struct ring *r = calloc(1, sizeof *r);
    ck_assert_ptr_nonnull(r);
    r->nthreads = ring_cases[_i].nthreads;
    r->per_channel = scaled(r->nthreads > 4 ? 400 : 1500);
    static struct ring_end ends[RING_MAX][RING_MAX];
    struct runner run[RING_MAX];
    memset(run, 0, sizeof run);
    for (int i = 0; i < r->nthreads; i++)
        run[i].sched = new_sched();
    for (int i = 0; i < r->nthreads; i++)
        for (int j = 0; j < r->nthreads; j++) {
            if (i == j)
                continue;
            r->ch[i][j] = coco_channel_create(ring_cases[_i].cap);
            ck_assert_ptr_nonnull(r->ch[i][j]);
            ends[i][j] = (struct ring_end){r, i, j};
            go(run[i].sched, ring_produce, &ends[i][j]);
            go(run[j].sched, ring_consume, &ends[i][j]);
        }
    for (int i = 0; i < r->nthreads; i++)
        runner_start(&run[i]);
    for (int i = 0; i < r->nthreads; i++)
        ck_assert_int_eq(runner_finish(&run[i]), COCO_OK);
    ASSERT_EXPECTATIONS();
    long n = r->per_channel;
    for (int i = 0; i < r->nthreads; i++)
        for (int j = 0; j < r->nthreads; j++) {
            if (i == j)
                continue;
            ck_assert_int_eq(r->received[i][j], n);
            ck_assert_int_eq(r->sum[i][j], n * (n + 1) / 2);
            ck_assert_uint_eq(coco_channel_len(r->ch[i][j]), 0);
            coco_channel_destroy(r->ch[i][j]);
        }
    free(r);
}
END_TEST

/* ------------------------------------------------------------ select */

/* Producers on three threads send with select over three channels; two
 * receivers on other threads select over the same three.  The last
 * producer closes them; every value must be received exactly once. */
#define SEL_PRODUCERS 3

struct sel {
    coco_channel_t *ch[3];
    long per_producer;
    long producers_left;
    unsigned char *seen;      /* per value: how many times received */
    long received[2];
    long closed_seen[2];
};

struct sel_producer {
    struct sel *s;
    int id;
};

static void sel_produce(void *arg)
{
    struct sel_producer *p = arg;
    struct sel *s = p->s;
    for (long i = 0; i < s->per_producer; i++) {
        void *v = (void *)(intptr_t)(p->id * s->per_producer + i + 1);
        coco_select_case_t c[3] = {
            {s->ch[0], COCO_SELECT_SEND, v, 0},
            {s->ch[1], COCO_SELECT_SEND, v, 0},
            {s->ch[2], COCO_SELECT_SEND, v, 0},
        };
        int k = coco_select(c, 3, COCO_INFINITE);
        EXPECT(k >= 0 && k < 3);
        if (k >= 0)
            EXPECT_EQ(c[k].result, COCO_OK);
        pause_a_little((unsigned)(i * 3 + (unsigned)p->id));
    }
    if (ADD(&s->producers_left, -1) == 0)
        for (int j = 0; j < 3; j++)
            coco_channel_close(s->ch[j]);
}

struct sel_receiver {
    struct sel *s;
    int id;
};

static void sel_receive(void *arg)
{
    struct sel_receiver *rv = arg;
    struct sel *s = rv->s;
    coco_select_case_t c[3] = {
        {s->ch[0], COCO_SELECT_RECV, NULL, 0},
        {s->ch[1], COCO_SELECT_RECV, NULL, 0},
        {s->ch[2], COCO_SELECT_RECV, NULL, 0},
    };
    int open = 3;
    unsigned n = 0;
    while (open > 0) {
        int k = coco_select(c, 3, COCO_INFINITE);
        EXPECT(k >= 0 && k < 3);
        if (k < 0)
            return;
        if (c[k].result == COCO_ERROR_CHANNEL_CLOSED) {
            c[k].ch = NULL; /* never chosen again */
            open--;
            s->closed_seen[rv->id]++;
            continue;
        }
        EXPECT_EQ(c[k].result, COCO_OK);
        intptr_t v = (intptr_t)c[k].value;
        EXPECT(v >= 1 && v <= SEL_PRODUCERS * s->per_producer);
        if (v >= 1 && v <= SEL_PRODUCERS * s->per_producer)
            __atomic_fetch_add(&s->seen[v - 1], 1, __ATOMIC_RELAXED);
        s->received[rv->id]++;
        pause_a_little(n++);
    }
}

START_TEST(test_mt_select_across_threads)
{
    struct sel s;
    memset(&s, 0, sizeof s);
    s.per_producer = scaled(3000);
    s.producers_left = SEL_PRODUCERS;
    s.ch[0] = coco_channel_create(0);
    s.ch[1] = coco_channel_create(0);
    s.ch[2] = coco_channel_create(4);
    s.seen = calloc((size_t)(SEL_PRODUCERS * s.per_producer), 1);
    ck_assert_ptr_nonnull(s.seen);
    struct runner run[4];
    memset(run, 0, sizeof run);
    for (int i = 0; i < 4; i++)
        run[i].sched = new_sched();
    struct sel_producer pr[SEL_PRODUCERS];
    for (int i = 0; i < SEL_PRODUCERS; i++) {
        pr[i] = (struct sel_producer){&s, i};
        go(run[i + 1].sched, sel_produce, &pr[i]);
    }
    struct sel_receiver rv[2] = {{&s, 0}, {&s, 1}};
    go(run[0].sched, sel_receive, &rv[0]);
    go(run[2].sched, sel_receive, &rv[1]);
    for (int i = 0; i < 4; i++)
        runner_start(&run[i]);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(runner_finish(&run[i]), COCO_OK);
    ASSERT_EXPECTATIONS();
    ck_assert_int_eq(s.received[0] + s.received[1], SEL_PRODUCERS * s.per_producer);
    long wrong = first_not_once(s.seen, SEL_PRODUCERS * s.per_producer);
    ck_assert_msg(wrong < 0, "value %ld received %d times", wrong + 1,
                  wrong < 0 ? 1 : s.seen[wrong]);
    ck_assert_int_eq(s.closed_seen[0], 3);
    ck_assert_int_eq(s.closed_seen[1], 3);
    for (int j = 0; j < 3; j++)
        coco_channel_destroy(s.ch[j]);
    free(s.seen);
}
END_TEST

/* Objects of two threads in one wait: coroutines of two schedulers
 * select over a channel made by one thread and a channel made by another,
 * with deadlines that keep firing while values arrive, and wait on a
 * condition variable made by one thread with a mutex made by the other.
 * Whoever wakes such a waiter, and the waiter's own scheduler when its
 * deadline passes, must exclude each other although neither object alone
 * decides who may touch the waiter: a wrong choice of lock shows as a
 * lost or doubled value, a wait that never ends, or a crash. */
#define MO_SENDS 2 /* senders per thread */

struct mo {
    coco_channel_t *ch[2];   /* ch[i] made by maker i */
    coco_mutex_t *mu;        /* made by maker 0 */
    coco_cond_t *cv;         /* made by maker 1 */
    pthread_barrier_t made;  /* keeps both makers alive at once */
    long per_sender;         /* values per sender, for each part */
    long total;              /* values in each part */
    long sel_got, cond_got;  /* values taken (atomic) */
    long sel_sum, cond_sum;  /* their sum (atomic) */
    long sel_timeouts, cond_timeouts;
    long sel_at_gap, cond_at_gap; /* senders at the pause midway (atomic) */
    unsigned char *sel_seen, *cond_seen;
    long queue[64];          /* under mu */
    int q_len;
};

struct mo_maker {
    struct mo *m;
    int id;
};

static void *mo_make(void *arg)
{
    struct mo_maker *mk = arg;
    struct mo *m = mk->m;
    m->ch[mk->id] = coco_channel_create(mk->id == 0 ? 0 : 2);
    if (mk->id == 0)
        m->mu = coco_mutex_create();
    else
        m->cv = coco_cond_create();
    pthread_barrier_wait(&m->made);
    return NULL;
}

struct mo_end {
    struct mo *m;
    int id; /* 0 .. 2 * MO_SENDS - 1 for senders, thread for the others */
};

/* Midway, every sender of one kind waits for the others, then all of
 * them pause for 20 ms: a stretch with nothing to take, whatever the
 * speed of the machine (an emulator may never let the takers catch up
 * otherwise), in which the takers' 1 ms deadlines must fire. */
static void mo_gap(long *at_gap)
{
    ADD(at_gap, 1);
    uint64_t t0 = now_ms();
    while (LOAD(at_gap) < 2 * MO_SENDS && now_ms() - t0 < 10000)
        coco_sleep(1);
    coco_sleep(20);
}

static void mo_select_send(void *arg)
{
    struct mo_end *e = arg;
    struct mo *m = e->m;
    for (long i = 0; i < m->per_sender; i++) {
        long v = e->id * m->per_sender + i + 1;
        if (i == m->per_sender / 2)
            mo_gap(&m->sel_at_gap);
        EXPECT_EQ(coco_channel_send(m->ch[(i + e->id) % 2], (void *)(intptr_t)v), COCO_OK);
        if (i % 37 == 36)
            coco_sleep(2); /* long enough for the selects' deadlines */
        else
            pause_a_little((unsigned)(i + (long)e->id));
    }
}

static void mo_select_recv(void *arg)
{
    struct mo_end *e = arg;
    struct mo *m = e->m;
    while (LOAD(&m->sel_got) < m->total) {
        coco_select_case_t c[2] = {
            {m->ch[e->id], COCO_SELECT_RECV, NULL, 0},
            {m->ch[1 - e->id], COCO_SELECT_RECV, NULL, 0},
        };
        int k = coco_select(c, 2, 1);
        if (k == COCO_ERROR_TIMEOUT) {
            ADD(&m->sel_timeouts, 1);
            continue;
        }
        EXPECT(k == 0 || k == 1);
        if (k != 0 && k != 1)
            return;
        EXPECT_EQ(c[k].result, COCO_OK);
        long v = (long)(intptr_t)c[k].value;
        EXPECT(v >= 1 && v <= m->total);
        if (v >= 1 && v <= m->total)
            __atomic_fetch_add(&m->sel_seen[v - 1], 1, __ATOMIC_RELAXED);
        ADD(&m->sel_sum, v);
        ADD(&m->sel_got, 1);
    }
}

static void mo_cond_produce(void *arg)
{
    struct mo_end *e = arg;
    struct mo *m = e->m;
    for (long i = 0; i < m->per_sender; i++) {
        long v = e->id * m->per_sender + i + 1;
        if (i == m->per_sender / 2)
            mo_gap(&m->cond_at_gap);
        for (;;) {
            EXPECT_EQ(coco_mutex_lock(m->mu), COCO_OK);
            if (m->q_len < 64)
                break;
            EXPECT_EQ(coco_mutex_unlock(m->mu), COCO_OK);
            coco_yield();
        }
        m->queue[m->q_len++] = v;
        EXPECT_EQ(coco_cond_signal(m->cv), COCO_OK);
        EXPECT_EQ(coco_mutex_unlock(m->mu), COCO_OK);
        if (i % 41 == 40)
            coco_sleep(2);
        else
            pause_a_little((unsigned)(i * 5 + (long)e->id));
    }
}

static void mo_cond_consume(void *arg)
{
    struct mo_end *e = arg;
    struct mo *m = e->m;
    for (;;) {
        EXPECT_EQ(coco_mutex_lock(m->mu), COCO_OK);
        while (m->q_len == 0 && LOAD(&m->cond_got) < m->total) {
            int rc = coco_cond_wait_timeout(m->cv, m->mu, 1);
            if (rc == COCO_ERROR_TIMEOUT)
                ADD(&m->cond_timeouts, 1);
            else
                EXPECT_EQ(rc, COCO_OK);
        }
        if (m->q_len == 0) { /* all taken */
            EXPECT_EQ(coco_mutex_unlock(m->mu), COCO_OK);
            return;
        }
        long v = m->queue[--m->q_len];
        EXPECT_EQ(coco_mutex_unlock(m->mu), COCO_OK);
        EXPECT(v >= 1 && v <= m->total);
        if (v >= 1 && v <= m->total)
            __atomic_fetch_add(&m->cond_seen[v - 1], 1, __ATOMIC_RELAXED);
        ADD(&m->cond_sum, v);
        ADD(&m->cond_got, 1);
    }
}

START_TEST(test_mt_objects_of_two_threads)
{
    static struct mo m;
    memset(&m, 0, sizeof m);
    m.per_sender = scaled(2000);
    m.total = 2 * MO_SENDS * m.per_sender;
    m.sel_seen = calloc((size_t)m.total, 1);
    m.cond_seen = calloc((size_t)m.total, 1);
    ck_assert_ptr_nonnull(m.sel_seen);
    ck_assert_ptr_nonnull(m.cond_seen);
    ck_assert_int_eq(pthread_barrier_init(&m.made, NULL, 2), 0);
    pthread_t maker[2];
    struct mo_maker mk[2] = {{&m, 0}, {&m, 1}};
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&maker[i], NULL, mo_make, &mk[i]), 0);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_join(maker[i], NULL), 0);
    pthread_barrier_destroy(&m.made);
    ck_assert_ptr_nonnull(m.ch[0]);
    ck_assert_ptr_nonnull(m.ch[1]);
    ck_assert_ptr_nonnull(m.mu);
    ck_assert_ptr_nonnull(m.cv);

    struct runner run[2];
    memset(run, 0, sizeof run);
    struct mo_end snd[2 * MO_SENDS], prd[2 * MO_SENDS], oth[2];
    for (int t = 0; t < 2; t++) {
        run[t].sched = new_sched();
        oth[t] = (struct mo_end){&m, t};
        go(run[t].sched, mo_select_recv, &oth[t]);
        go(run[t].sched, mo_cond_consume, &oth[t]);
    }
    for (int i = 0; i < 2 * MO_SENDS; i++) {
        snd[i] = (struct mo_end){&m, i};
        prd[i] = (struct mo_end){&m, i};
        go(run[i % 2].sched, mo_select_send, &snd[i]);
        go(run[(i + 1) % 2].sched, mo_cond_produce, &prd[i]);
    }
    struct watchdog wd;
    watchdog_start(&wd, 120, "objects of two threads", &m.sel_got, &m.total);
    for (int t = 0; t < 2; t++)
        runner_start(&run[t]);
    for (int t = 0; t < 2; t++)
        ck_assert_int_eq(runner_finish(&run[t]), COCO_OK);
    watchdog_stop(&wd);
    ASSERT_EXPECTATIONS();
    long want = m.total * (m.total + 1) / 2;
    ck_assert_int_eq(m.sel_got, m.total);
    ck_assert_int_eq(m.sel_sum, want);
    ck_assert_int_eq(m.cond_got, m.total);
    ck_assert_int_eq(m.cond_sum, want);
    long wrong = first_not_once(m.sel_seen, m.total);
    ck_assert_msg(wrong < 0, "select: value %ld received %d times", wrong + 1,
                  wrong < 0 ? 1 : m.sel_seen[wrong]);
    wrong = first_not_once(m.cond_seen, m.total);
    ck_assert_msg(wrong < 0, "cond: value %ld taken %d times", wrong + 1,
                  wrong < 0 ? 1 : m.cond_seen[wrong]);
    /* The deadlines did fire, in both kinds of wait. */
    ck_assert_int_gt(m.sel_timeouts, 0);
    ck_assert_int_gt(m.cond_timeouts, 0);
    coco_cond_destroy(m.cv);
    coco_mutex_destroy(m.mu);
    coco_channel_destroy(m.ch[0]);
    coco_channel_destroy(m.ch[1]);
    free(m.sel_seen);
    free(m.cond_seen);
}
END_TEST

/* ------------------------------------------------------------- mutex */

#define MU_THREADS 4
#define MU_COROS 8

struct mu_test {
    coco_mutex_t *mu;
    long iterations;
    long counter;      /* guarded by mu, deliberately a plain variable */
    int inside;        /* how many hold mu, by their own account */
    long timeouts;
};

static void mu_worker(void *arg)
{
    struct mu_test *t = arg;
    for (long i = 0; i < t->iterations; i++) {
        int rc;
        switch (i % 4) {
        case 0:
            rc = coco_mutex_lock_timeout(t->mu, 20000);
            break;
        case 1:
            /* A try, then the wait (as a user would back off). */
            rc = coco_mutex_trylock(t->mu);
            if (rc == COCO_ERROR_WOULDBLOCK)
                rc = coco_mutex_lock(t->mu);
            break;
        default:
            rc = coco_mutex_lock(t->mu);
            break;
        }
        EXPECT_EQ(rc, COCO_OK);
        if (rc != COCO_OK)
            return;
        EXPECT_EQ(ADD(&t->inside, 1), 1);
        long v = t->counter;
        /* Held across a switch: the others park, here and elsewhere. */
        if (i % 3 == 0)
            coco_yield();
        else if (i % 7 == 1)
            spin(3000);
        else if (i % 50 == 2)
            coco_sleep(1);
        t->counter = v + 1;
        ADD(&t->inside, -1);
        EXPECT_EQ(coco_mutex_unlock(t->mu), COCO_OK);
        pause_a_little((unsigned)i);
    }
}

START_TEST(test_mt_mutex_contended)
{
    struct mu_test t;
    memset(&t, 0, sizeof t);
    t.mu = coco_mutex_create();
    ck_assert_ptr_nonnull(t.mu);
    t.iterations = scaled(400);
    struct runner run[MU_THREADS];
    memset(run, 0, sizeof run);
    for (int i = 0; i < MU_THREADS; i++) {
        run[i].sched = new_sched();
        for (int c = 0; c < MU_COROS; c++)
            go(run[i].sched, mu_worker, &t);
    }
    for (int i = 0; i < MU_THREADS; i++)
        runner_start(&run[i]);
    for (int i = 0; i < MU_THREADS; i++)
        ck_assert_int_eq(runner_finish(&run[i]), COCO_OK);
    ASSERT_EXPECTATIONS();
    ck_assert_int_eq(t.counter, (long)MU_THREADS * MU_COROS * t.iterations);
    /* Free again: a plain thread (this one) may take it without waiting. */
    ck_assert_int_eq(coco_mutex_trylock(t.mu), COCO_OK);
    coco_mutex_destroy(t.mu);
}
END_TEST

/* -------------------------------------------------------------- cond */

/* A bounded queue guarded by a mutex and two condition variables:
 * producers on two threads, consumers on two others. */
#define Q_SIZE 8

struct queue {
    coco_mutex_t *mu;
    coco_cond_t *not_empty, *not_full;
    intptr_t item[Q_SIZE];
    int head, len;
    long total, taken, per_producer;
    long sum;
    unsigned char *seen;
};

struct q_producer {
    struct queue *q;
    int id;
};

static void q_produce(void *arg)
{
    struct q_producer *p = arg;
    struct queue *q = p->q;
    for (long i = 0; i < q->per_producer; i++) {
        EXPECT_EQ(coco_mutex_lock(q->mu), COCO_OK);
        while (q->len == Q_SIZE)
            EXPECT_EQ(coco_cond_wait(q->not_full, q->mu), COCO_OK);
        q->item[(q->head + q->len) % Q_SIZE] = p->id * q->per_producer + i + 1;
        q->len++;
        /* Signal with the mutex held, or just after letting it go. */
        if (i % 2 == 0) {
            coco_cond_signal(q->not_empty);
            coco_mutex_unlock(q->mu);
        } else {
            coco_mutex_unlock(q->mu);
            coco_cond_signal(q->not_empty);
        }
        pause_a_little((unsigned)(i + (unsigned)p->id));
    }
}

static void q_consume(void *arg)
{
    struct queue *q = arg;
    unsigned n = 0;
    for (;;) {
        EXPECT_EQ(coco_mutex_lock(q->mu), COCO_OK);
        while (q->len == 0 && q->taken < q->total)
            EXPECT_EQ(coco_cond_wait(q->not_empty, q->mu), COCO_OK);
        if (q->len == 0) {
            /* All taken: let the other consumers see it too. */
            coco_cond_broadcast(q->not_empty);
            coco_mutex_unlock(q->mu);
            return;
        }
        intptr_t v = q->item[q->head];
        q->head = (q->head + 1) % Q_SIZE;
        q->len--;
        q->taken++;
        q->sum += v;
        if (v >= 1 && v <= q->total)
            q->seen[v - 1]++;
        coco_cond_signal(q->not_full);
        coco_mutex_unlock(q->mu);
        pause_a_little(n++);
    }
}

START_TEST(test_mt_cond_queue)
{
    struct queue q;
    memset(&q, 0, sizeof q);
    q.mu = coco_mutex_create();
    q.not_empty = coco_cond_create();
    q.not_full = coco_cond_create();
    q.per_producer = scaled(600);
    q.total = 8 * q.per_producer;
    q.seen = calloc((size_t)q.total, 1);
    ck_assert_ptr_nonnull(q.seen);
    struct runner run[4];
    memset(run, 0, sizeof run);
    for (int i = 0; i < 4; i++)
        run[i].sched = new_sched();
    struct q_producer pr[8];
    for (int i = 0; i < 8; i++) {
        pr[i] = (struct q_producer){&q, i};
        go(run[1 + i % 2].sched, q_produce, &pr[i]);  /* threads 1, 2 */
    }
    for (int i = 0; i < 4; i++) {
        go(run[0].sched, q_consume, &q);
        go(run[3].sched, q_consume, &q);
    }
    for (int i = 0; i < 4; i++)
        runner_start(&run[i]);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(runner_finish(&run[i]), COCO_OK);
    ASSERT_EXPECTATIONS();
    ck_assert_int_eq(q.taken, q.total);
    ck_assert_int_eq(q.sum, q.total * (q.total + 1) / 2);
    long wrong = first_not_once(q.seen, q.total);
    ck_assert_msg(wrong < 0, "item %ld taken %d times", wrong + 1,
                  wrong < 0 ? 1 : q.seen[wrong]);
    coco_cond_destroy(q.not_empty);
    coco_cond_destroy(q.not_full);
    coco_mutex_destroy(q.mu);
    free(q.seen);
}
END_TEST

/* Waiters on three threads, rounds of broadcasts from a fourth. */
#define BC_WAITERS 5
#define BC_ROUNDS 30

struct bcast {
    coco_mutex_t *mu;
    coco_cond_t *cv;
    long arrived[BC_ROUNDS + 1], woke[BC_ROUNDS + 1];
    long generation;
};

static void bc_wait(void *arg)
{
    struct bcast *b = arg;
    for (long r = 1; r <= BC_ROUNDS; r++) {
        EXPECT_EQ(coco_mutex_lock(b->mu), COCO_OK);
        b->arrived[r]++;
        while (b->generation < r)
            EXPECT_EQ(coco_cond_wait(b->cv, b->mu), COCO_OK);
        b->woke[r]++;
        coco_mutex_unlock(b->mu);
        pause_a_little((unsigned)r);
    }
}

static void bc_broadcast(void *arg)
{
    struct bcast *b = arg;
    for (long r = 1; r <= BC_ROUNDS; r++) {
        for (;;) {
            EXPECT_EQ(coco_mutex_lock(b->mu), COCO_OK);
            if (b->arrived[r] == 3 * BC_WAITERS)
                break;
            coco_mutex_unlock(b->mu);
            coco_sleep(1);
        }
        b->generation = r;
        if (r % 2)
            coco_cond_broadcast(b->cv);
        coco_mutex_unlock(b->mu);
        if (r % 2 == 0)
            coco_cond_broadcast(b->cv);
    }
}

START_TEST(test_mt_cond_broadcast)
{
    struct bcast b;
    memset(&b, 0, sizeof b);
    b.mu = coco_mutex_create();
    b.cv = coco_cond_create();
    struct runner run[4];
    memset(run, 0, sizeof run);
    for (int i = 0; i < 4; i++)
        run[i].sched = new_sched();
    for (int i = 0; i < 3; i++)
        for (int w = 0; w < BC_WAITERS; w++)
            go(run[i].sched, bc_wait, &b);
    go(run[3].sched, bc_broadcast, &b);
    for (int i = 0; i < 4; i++)
        runner_start(&run[i]);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(runner_finish(&run[i]), COCO_OK);
    ASSERT_EXPECTATIONS();
    for (int r = 1; r <= BC_ROUNDS; r++)
        ck_assert_int_eq(b.woke[r], 3 * BC_WAITERS);
    coco_cond_destroy(b.cv);
    coco_mutex_destroy(b.mu);
}
END_TEST

/* --------------------------------------------------------- semaphore */

#define SEM_UNITS 3

struct sem_test {
    coco_sem_t *limit;        /* SEM_UNITS at a time */
    coco_sem_t *items;        /* counts items posted by the producers */
    long iterations, per_producer;
    int inside, most_inside;
    long consumed;
};

static void sem_limited(void *arg)
{
    struct sem_test *t = arg;
    for (long i = 0; i < t->iterations; i++) {
        int rc = i % 2 ? coco_sem_wait(t->limit) : coco_sem_wait_timeout(t->limit, 20000);
        EXPECT_EQ(rc, COCO_OK);
        int in = ADD(&t->inside, 1);
        EXPECT(in <= SEM_UNITS);
        int most = LOAD(&t->most_inside);
        while (in > most && !__atomic_compare_exchange_n(&t->most_inside, &most, in, false,
                                                          __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            ;
        pause_a_little((unsigned)i + 3);
        ADD(&t->inside, -1);
        EXPECT_EQ(coco_sem_post(t->limit), COCO_OK);
    }
}

static void sem_producer(void *arg)
{
    struct sem_test *t = arg;
    for (long i = 0; i < t->per_producer; i++) {
        EXPECT_EQ(coco_sem_post(t->items), COCO_OK);
        pause_a_little((unsigned)i);
    }
}

static void sem_consumer(void *arg)
{
    struct sem_test *t = arg;
    /* Two consumers take what three producers post. */
    for (long i = 0; i < t->per_producer * 3 / 2; i++) {
        EXPECT_EQ(coco_sem_wait(t->items), COCO_OK);
        ADD(&t->consumed, 1);
        pause_a_little((unsigned)i + 1);
    }
}

START_TEST(test_mt_sem)
{
    struct sem_test t;
    memset(&t, 0, sizeof t);
    t.limit = coco_sem_create(SEM_UNITS);
    t.items = coco_sem_create(0);
    t.iterations = scaled(300);
    t.per_producer = 2 * scaled(500);
    struct runner run[4];
    memset(run, 0, sizeof run);
    for (int i = 0; i < 4; i++) {
        run[i].sched = new_sched();
        for (int c = 0; c < 6; c++)
            go(run[i].sched, sem_limited, &t);
    }
    for (int i = 0; i < 3; i++)
        go(run[i].sched, sem_producer, &t);
    go(run[3].sched, sem_consumer, &t);
    go(run[0].sched, sem_consumer, &t);
    for (int i = 0; i < 4; i++)
        runner_start(&run[i]);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(runner_finish(&run[i]), COCO_OK);
    ASSERT_EXPECTATIONS();
    ck_assert_int_le(t.most_inside, SEM_UNITS);
    ck_assert_uint_eq(coco_sem_value(t.limit), SEM_UNITS);
    ck_assert_int_eq(t.consumed, 3 * t.per_producer);
    ck_assert_uint_eq(coco_sem_value(t.items), 0);
    coco_sem_destroy(t.limit);
    coco_sem_destroy(t.items);
}
END_TEST

/* --------------------------------------------------------- waitgroup */

struct wg_test {
    coco_waitgroup_t *wg;
    long work_done;
    long waiters_saw[2];
};

static void wg_worker(void *arg)
{
    struct wg_test *t = arg;
    uint64_t seed = (uint64_t)(uintptr_t)coco_self() | 1;
    for (int i = 0; i < 20; i++)
        pause_a_little(rnd(&seed));
    ADD(&t->work_done, 1);
    EXPECT_EQ(coco_waitgroup_done(t->wg), COCO_OK);
}

static void wg_waiter0(void *arg)
{
    struct wg_test *t = arg;
    EXPECT_EQ(coco_waitgroup_wait(t->wg), COCO_OK);
    t->waiters_saw[0] = LOAD(&t->work_done);
}

static void wg_waiter1(void *arg)
{
    struct wg_test *t = arg;
    EXPECT_EQ(coco_waitgroup_wait_timeout(t->wg, 30000), COCO_OK);
    t->waiters_saw[1] = LOAD(&t->work_done);
}

START_TEST(test_mt_waitgroup)
{
    struct wg_test t;
    memset(&t, 0, sizeof t);
    t.wg = coco_waitgroup_create();
    ck_assert_int_eq(coco_waitgroup_add(t.wg, 4 * 8), COCO_OK);
    struct runner run[5];
    memset(run, 0, sizeof run);
    for (int i = 0; i < 5; i++)
        run[i].sched = new_sched();
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 8; c++)
            go(run[i].sched, wg_worker, &t);
    go(run[4].sched, wg_waiter0, &t);
    go(run[2].sched, wg_waiter1, &t);
    for (int i = 0; i < 5; i++)
        runner_start(&run[i]);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(runner_finish(&run[i]), COCO_OK);
    ASSERT_EXPECTATIONS();
    ck_assert_int_eq(t.waiters_saw[0], 32);
    ck_assert_int_eq(t.waiters_saw[1], 32);
    coco_waitgroup_destroy(t.wg);
}
END_TEST

/* ----------------------------------------- timeouts, the other busy */

/* Thread A's coroutine waits on an object with a short timeout while the
 * coroutine of thread B that would end the wait keeps its thread busy;
 * the timeout must expire.  Then A waits again and B, no longer busy,
 * ends the wait: the expired wait left nothing behind. */
enum obj_kind {
    K_RECV, K_SEND, K_SELECT, K_MUTEX, K_COND, K_SEM, K_WAITGROUP, K_NKINDS
};
static const char *const kind_name[] = {
    "recv", "send", "select", "mutex", "cond", "sem", "waitgroup"
};

struct to_test {
    int kind;
    coco_channel_t *ch, *ch2;
    coco_mutex_t *mu;
    coco_cond_t *cv;
    coco_sem_t *sem;
    coco_waitgroup_t *wg;
    long b_busy, a_timed_out;
    int flag;          /* cond: the predicate, guarded by mu */
    uint64_t waited_ms;
};

#define SHORT_MS 50

static void to_a(void *arg)
{
    struct to_test *t = arg;
    SPIN_UNTIL(&t->b_busy, 1);
    uint64_t t0 = now_ms();
    void *v = NULL;
    int rc;
    coco_select_case_t c[2] = {
        {t->ch, COCO_SELECT_RECV, NULL, 0},
        {t->ch2, COCO_SELECT_RECV, NULL, 0},
    };
    switch (t->kind) {
    case K_RECV:
        rc = coco_channel_recv_timeout(t->ch, &v, SHORT_MS);
        break;
    case K_SEND:
        rc = coco_channel_send_timeout(t->ch, (void *)1, SHORT_MS);
        break;
    case K_SELECT:
        rc = coco_select(c, 2, SHORT_MS);
        break;
    case K_MUTEX:
        rc = coco_mutex_lock_timeout(t->mu, SHORT_MS);
        break;
    case K_COND:
        EXPECT_EQ(coco_mutex_lock(t->mu), COCO_OK);
        rc = coco_cond_wait_timeout(t->cv, t->mu, SHORT_MS);
        coco_mutex_unlock(t->mu); /* held again on every return */
        break;
    case K_SEM:
        rc = coco_sem_wait_timeout(t->sem, SHORT_MS);
        break;
    default:
        rc = coco_waitgroup_wait_timeout(t->wg, SHORT_MS);
        break;
    }
    t->waited_ms = now_ms() - t0;
    EXPECT_EQ(rc, COCO_ERROR_TIMEOUT);
    STORE(&t->a_timed_out, 1);
    /* Again, B ending the wait this time. */
    switch (t->kind) {
    case K_RECV:
        EXPECT_EQ(coco_channel_recv_timeout(t->ch, &v, 30000), COCO_OK);
        EXPECT_EQ((intptr_t)v, 42);
        break;
    case K_SEND:
        EXPECT_EQ(coco_channel_send_timeout(t->ch, (void *)42, 30000), COCO_OK);
        break;
    case K_SELECT:
        c[0].value = c[1].value = NULL;
        EXPECT_EQ(coco_select(c, 2, 30000), 1);
        EXPECT_EQ((intptr_t)c[1].value, 42);
        break;
    case K_MUTEX:
        EXPECT_EQ(coco_mutex_lock_timeout(t->mu, 30000), COCO_OK);
        EXPECT_EQ(coco_mutex_unlock(t->mu), COCO_OK);
        break;
    case K_COND:
        EXPECT_EQ(coco_mutex_lock(t->mu), COCO_OK);
        while (!t->flag)
            EXPECT_EQ(coco_cond_wait_timeout(t->cv, t->mu, 30000), COCO_OK);
        coco_mutex_unlock(t->mu);
        break;
    case K_SEM:
        EXPECT_EQ(coco_sem_wait_timeout(t->sem, 30000), COCO_OK);
        break;
    default:
        EXPECT_EQ(coco_waitgroup_wait_timeout(t->wg, 30000), COCO_OK);
        break;
    }
}

static void to_b(void *arg)
{
    struct to_test *t = arg;
    if (t->kind == K_MUTEX)
        EXPECT_EQ(coco_mutex_lock(t->mu), COCO_OK);
    STORE(&t->b_busy, 1);
    /* Busy: this thread runs nothing else until A's wait has expired. */
    SPIN_UNTIL(&t->a_timed_out, 1);
    void *v = NULL;
    switch (t->kind) {
    case K_RECV:
        EXPECT_EQ(coco_channel_send(t->ch, (void *)42), COCO_OK);
        break;
    case K_SEND:
        EXPECT_EQ(coco_channel_recv(t->ch, &v), COCO_OK);
        EXPECT_EQ((intptr_t)v, 42);  /* not the value of the expired send */
        break;
    case K_SELECT:
        EXPECT_EQ(coco_channel_send(t->ch2, (void *)42), COCO_OK);
        break;
    case K_MUTEX:
        coco_sleep(5);
        EXPECT_EQ(coco_mutex_unlock(t->mu), COCO_OK);
        break;
    case K_COND:
        EXPECT_EQ(coco_mutex_lock(t->mu), COCO_OK);
        t->flag = 1;
        EXPECT_EQ(coco_cond_signal(t->cv), COCO_OK);
        coco_mutex_unlock(t->mu);
        break;
    case K_SEM:
        EXPECT_EQ(coco_sem_post(t->sem), COCO_OK);
        break;
    default:
        EXPECT_EQ(coco_waitgroup_done(t->wg), COCO_OK);
        break;
    }
}

START_TEST(test_mt_timeout_while_other_busy)
{
    struct to_test t;
    memset(&t, 0, sizeof t);
    t.kind = _i;
    t.ch = coco_channel_create(0);
    t.ch2 = coco_channel_create(0);
    t.mu = coco_mutex_create();
    t.cv = coco_cond_create();
    t.sem = coco_sem_create(0);
    t.wg = coco_waitgroup_create();
    coco_waitgroup_add(t.wg, 1);
    struct runner a = {0}, b = {0};
    a.sched = new_sched();
    b.sched = new_sched();
    go(a.sched, to_a, &t);
    go(b.sched, to_b, &t);
    runner_start(&a);
    runner_start(&b);
    ck_assert_int_eq(runner_finish(&a), COCO_OK);
    ck_assert_int_eq(runner_finish(&b), COCO_OK);
    ASSERT_EXPECTATIONS();
    /* Not early (the clock may round a millisecond either way). */
    ck_assert_msg(t.waited_ms + 1 >= SHORT_MS, "%s: timed out after %llu ms",
                  kind_name[t.kind], (unsigned long long)t.waited_ms);
    ck_assert_uint_eq(coco_channel_len(t.ch), 0);
    coco_channel_destroy(t.ch);
    coco_channel_destroy(t.ch2);
    coco_cond_destroy(t.cv);
    coco_mutex_destroy(t.mu);
    coco_sem_destroy(t.sem);
    coco_waitgroup_destroy(t.wg);
}
END_TEST

/* ------------------------------------------------------ lost wake-ups */

/* Round after round, A's coroutine parks on an object while B wakes it
 * "at the same moment": A says it is about to wait, B spins a number of
 * times that changes from round to round (so that across the rounds B's
 * wake lands before, inside and after A's park) and then wakes it.  A
 * lost wake-up leaves A waiting for ever; the watchdog turns that into a
 * failure.  B is a coroutine of another scheduler, or a plain thread. */
enum lw_kind {
    LW_RECV0,        /* A receives, unbuffered; B sends */
    LW_RECV1,        /* A receives, capacity 1; B sends */
    LW_SEND0,        /* A sends, unbuffered; B receives */
    LW_SELECT,       /* A selects over two channels; B sends on one */
    LW_MUTEX,        /* A locks what B holds; B unlocks */
    LW_COND,         /* A waits; B locks, sets the predicate, signals */
    LW_COND_AFTER,   /* the same, B signalling after it unlocked */
    LW_SEM,          /* A waits; B posts */
    LW_WAITGROUP,    /* A waits; B done() */
    /* B is a plain thread (A's waits have a long deadline: a scheduler
     * whose coroutines only wait for plain threads has no one else to
     * hear from, see coco_sched_run()): */
    LW_PLAIN_TRY_SEND,
    LW_PLAIN_TRY_RECV,
    LW_PLAIN_SEM_POST,
    LW_PLAIN_WG_DONE,
    LW_PLAIN_CLOSE,
    LW_PLAIN_COND,
    LW_NKINDS
};
static const char *const lw_name[] = {
    "recv0", "recv1", "send0", "select", "mutex", "cond", "cond_after", "sem",
    "waitgroup", "plain_try_send", "plain_try_recv", "plain_sem_post",
    "plain_wg_done", "plain_close", "plain_cond"
};

#define LW_LONG_MS 30000

struct lw {
    int kind;
    long rounds;
    unsigned spin_max;
    long a_ready;       /* round A is about to wait in */
    long a_done;        /* last round A finished */
    long b_locked;      /* mutex: round for which B holds the mutex */
    long b_done;        /* last round B finished */
    coco_channel_t *ch, *ch2;
    coco_channel_t *per_round;   /* plain close: this round's channel */
    coco_mutex_t *mu;
    coco_cond_t *cv;
    coco_sem_t *sem;
    coco_waitgroup_t *wg;
    long generation;    /* cond predicate (atomic for the plain thread) */
};

/* B's delay in round r: on even rounds a fine sweep of the first
 * microsecond or so (A about to park), on odd rounds a coarser one of some
 * hundred microseconds (A's scheduler spinning on its inbox, then going to
 * sleep in its poller, then asleep). */
static unsigned lw_spin(const struct lw *t, long r)
{
    if (r % 2 == 0)
        return (unsigned)((r * 7919) % (long)t->spin_max);
    return (unsigned)((r * 7919) % (long)(t->spin_max * 50));
}

static void lw_a(void *arg)
{
    struct lw *t = arg;
    for (long r = 1; r <= t->rounds; r++) {
        void *v = NULL;
        coco_select_case_t c[2] = {
            {t->ch, COCO_SELECT_RECV, NULL, 0},
            {t->ch2, COCO_SELECT_RECV, NULL, 0},
        };
        switch (t->kind) {
        case LW_MUTEX:
            SPIN_UNTIL(&t->b_locked, r);
            break;
        case LW_COND:
        case LW_COND_AFTER:
        case LW_PLAIN_COND:
            EXPECT_EQ(coco_mutex_lock(t->mu), COCO_OK);
            break;
        case LW_WAITGROUP:
        case LW_PLAIN_WG_DONE:
            EXPECT_EQ(coco_waitgroup_add(t->wg, 1), COCO_OK);
            break;
        case LW_PLAIN_CLOSE:
            t->per_round = coco_channel_create(0);
            break;
        default:
            break;
        }
        STORE(&t->a_ready, r);
        spin((unsigned)(r % 64)); /* A's side of the window moves a little too */
        switch (t->kind) {
        case LW_RECV0:
        case LW_RECV1:
            EXPECT_EQ(coco_channel_recv(t->ch, &v), COCO_OK);
            EXPECT_EQ((intptr_t)v, r);
            break;
        case LW_SEND0:
            EXPECT_EQ(coco_channel_send(t->ch, (void *)(intptr_t)r), COCO_OK);
            break;
        case LW_SELECT:
            EXPECT_EQ(coco_select(c, 2, COCO_INFINITE), (int)(r % 2));
            EXPECT_EQ((intptr_t)c[r % 2].value, r);
            break;
        case LW_MUTEX:
            EXPECT_EQ(coco_mutex_lock(t->mu), COCO_OK);
            EXPECT_EQ(coco_mutex_unlock(t->mu), COCO_OK);
            break;
        case LW_COND:
        case LW_COND_AFTER:
            while (LOAD(&t->generation) < r)
                EXPECT_EQ(coco_cond_wait(t->cv, t->mu), COCO_OK);
            coco_mutex_unlock(t->mu);
            break;
        case LW_PLAIN_COND:
            while (LOAD(&t->generation) < r)
                EXPECT_EQ(coco_cond_wait_timeout(t->cv, t->mu, LW_LONG_MS), COCO_OK);
            coco_mutex_unlock(t->mu);
            break;
        case LW_SEM:
            EXPECT_EQ(coco_sem_wait(t->sem), COCO_OK);
            break;
        case LW_WAITGROUP:
            EXPECT_EQ(coco_waitgroup_wait(t->wg), COCO_OK);
            break;
        case LW_PLAIN_TRY_SEND:
            EXPECT_EQ(coco_channel_recv_timeout(t->ch, &v, LW_LONG_MS), COCO_OK);
            EXPECT_EQ((intptr_t)v, r);
            break;
        case LW_PLAIN_TRY_RECV:
            EXPECT_EQ(coco_channel_send_timeout(t->ch, (void *)(intptr_t)r, LW_LONG_MS),
                      COCO_OK);
            break;
        case LW_PLAIN_SEM_POST:
            EXPECT_EQ(coco_sem_wait_timeout(t->sem, LW_LONG_MS), COCO_OK);
            break;
        case LW_PLAIN_WG_DONE:
            EXPECT_EQ(coco_waitgroup_wait_timeout(t->wg, LW_LONG_MS), COCO_OK);
            break;
        case LW_PLAIN_CLOSE:
            EXPECT_EQ(coco_channel_recv_timeout(t->per_round, &v, LW_LONG_MS),
                      COCO_ERROR_CHANNEL_CLOSED);
            /* B's close has returned before the channel goes. */
            SPIN_UNTIL(&t->b_done, r);
            coco_channel_destroy(t->per_round);
            break;
        default:
            break;
        }
        STORE(&t->a_done, r);
        if (LOAD(&fails) > 0)
            return;
    }
}

/* B's side, the same for a coroutine and a plain thread. */
static void lw_b_rounds(struct lw *t)
{
    for (long r = 1; r <= t->rounds; r++) {
        void *v = NULL;
        if (t->kind == LW_MUTEX) {
            EXPECT_EQ(coco_mutex_lock(t->mu), COCO_OK);
            STORE(&t->b_locked, r);
        }
        SPIN_UNTIL(&t->a_ready, r);
        unsigned n = lw_spin(t, r);
        switch (t->kind) {
        case LW_RECV0:
        case LW_RECV1:
            spin(n);
            EXPECT_EQ(coco_channel_send(t->ch, (void *)(intptr_t)r), COCO_OK);
            break;
        case LW_SEND0:
            spin(n);
            EXPECT_EQ(coco_channel_recv(t->ch, &v), COCO_OK);
            EXPECT_EQ((intptr_t)v, r);
            break;
        case LW_SELECT:
            spin(n);
            EXPECT_EQ(coco_channel_send(r % 2 ? t->ch2 : t->ch, (void *)(intptr_t)r),
                      COCO_OK);
            break;
        case LW_MUTEX:
            spin(n);
            EXPECT_EQ(coco_mutex_unlock(t->mu), COCO_OK);
            break;
        case LW_COND:
            spin(n);
            EXPECT_EQ(coco_mutex_lock(t->mu), COCO_OK);
            STORE(&t->generation, r);
            EXPECT_EQ(coco_cond_signal(t->cv), COCO_OK);
            coco_mutex_unlock(t->mu);
            break;
        case LW_COND_AFTER:
            EXPECT_EQ(coco_mutex_lock(t->mu), COCO_OK);
            STORE(&t->generation, r);
            coco_mutex_unlock(t->mu);
            spin(n);
            EXPECT_EQ(coco_cond_signal(t->cv), COCO_OK);
            break;
        case LW_SEM:
        case LW_PLAIN_SEM_POST:
            spin(n);
            EXPECT_EQ(coco_sem_post(t->sem), COCO_OK);
            break;
        case LW_WAITGROUP:
        case LW_PLAIN_WG_DONE:
            spin(n);
            EXPECT_EQ(coco_waitgroup_done(t->wg), COCO_OK);
            break;
        case LW_PLAIN_TRY_SEND: {
            /* Succeeds only once A is parked in its receive. */
            spin(n);
            int rc;
            while ((rc = coco_channel_try_send(t->ch, (void *)(intptr_t)r)) ==
                   COCO_ERROR_WOULDBLOCK)
                sched_yield();
            EXPECT_EQ(rc, COCO_OK);
            break;
        }
        case LW_PLAIN_TRY_RECV: {
            spin(n);
            int rc;
            while ((rc = coco_channel_try_recv(t->ch, &v)) == COCO_ERROR_WOULDBLOCK)
                sched_yield();
            EXPECT_EQ(rc, COCO_OK);
            EXPECT_EQ((intptr_t)v, r);
            break;
        }
        case LW_PLAIN_CLOSE:
            spin(n);
            coco_channel_close(t->per_round);
            break;
        case LW_PLAIN_COND:
            /* A plain thread cannot hold the mutex, so a signal may come
             * before A waits: it signals until A is through. */
            spin(n);
            STORE(&t->generation, r);
            while (LOAD(&t->a_done) < r && LOAD(&fails) == 0) {
                EXPECT_EQ(coco_cond_signal(t->cv), COCO_OK);
                sched_yield();
            }
            break;
        default:
            break;
        }
        STORE(&t->b_done, r);
        if (LOAD(&fails) > 0)
            return;
        /* Round r of A is over before round r + 1 of B starts. */
        SPIN_UNTIL(&t->a_done, r);
    }
}

static void lw_b(void *arg)
{
    lw_b_rounds(arg);
}

static void *lw_plain(void *arg)
{
    lw_b_rounds(arg);
    return NULL;
}

START_TEST(test_mt_lost_wakeup)
{
    struct lw t;
    memset(&t, 0, sizeof t);
    t.kind = _i;
    t.rounds = scaled(12000);
    t.spin_max = 3001;
    t.ch = coco_channel_create(t.kind == LW_RECV1 ? 1 : 0);
    t.ch2 = coco_channel_create(0);
    t.mu = coco_mutex_create();
    t.cv = coco_cond_create();
    t.sem = coco_sem_create(0);
    t.wg = coco_waitgroup_create();
    bool plain = t.kind >= LW_PLAIN_TRY_SEND;
    char what[64];
    snprintf(what, sizeof what, "lost wake-up test %s", lw_name[t.kind]);
    struct watchdog wd;
    watchdog_start(&wd, 120, what, &t.a_done, &t.rounds);

    struct runner a = {0}, b = {0};
    pthread_t pt;
    a.sched = new_sched();
    go(a.sched, lw_a, &t);
    if (plain) {
        ck_assert_int_eq(pthread_create(&pt, NULL, lw_plain, &t), 0);
    } else {
        b.sched = new_sched();
        go(b.sched, lw_b, &t);
        runner_start(&b);
    }
    runner_start(&a);
    int rca = runner_finish(&a);
    int rcb = COCO_OK;
    if (plain)
        pthread_join(pt, NULL);
    else
        rcb = runner_finish(&b);
    watchdog_stop(&wd);
    ASSERT_EXPECTATIONS();
    ck_assert_int_eq(rca, COCO_OK);
    ck_assert_int_eq(rcb, COCO_OK);
    ck_assert_int_eq(t.a_done, t.rounds);
    ck_assert_int_eq(t.b_done, t.rounds);
    coco_channel_destroy(t.ch);
    coco_channel_destroy(t.ch2);
    coco_cond_destroy(t.cv);
    coco_mutex_destroy(t.mu);
    coco_sem_destroy(t.sem);
    coco_waitgroup_destroy(t.wg);
}
END_TEST

/* ------------------------------------------------------------ stress */

/* Producers on every thread claim message numbers from a shared counter
 * and send them on shared channels; consumers on every thread take them
 * (receive or select) and count each number.  A manager coroutine per
 * thread meanwhile destroys producers and consumers of its own thread at
 * random (starting new ones in their place) and replaces channels with new
 * ones, closing the old.  At the end every number must have been received
 * exactly once, except that a number whose producer was destroyed while
 * its send was pending may be missing (the send may or may not have been
 * taken).  Nothing may be received twice. */
#define ST_SLOTS 4
#define ST_PRODUCERS 6
#define ST_CONSUMERS 6

static const size_t st_cap[ST_SLOTS] = {0, 1, 16, 64};

struct stress {
    long total;
    long next_id;
    coco_channel_t *slot[ST_SLOTS];     /* the channels in use */
    pthread_mutex_t all_mu;
    coco_channel_t **all;               /* every channel made, freed at the end */
    size_t nall, all_cap;
    unsigned char *seen, *maybe;        /* per message number */
    long received;
    long managers_left;
    int final;                          /* the slots are closed for good */
    long closes, destroyed_producers, destroyed_consumers;
};

struct st_thread;

struct st_prod {
    struct st_thread *th;
    long inflight;      /* the number being sent, or -1 */
    bool finished;
};

struct st_cons {
    struct st_thread *th;
    int mode;           /* 0: select over all slots; else receive on one */
    int slot;
};

struct st_thread {
    struct stress *st;
    int id;
    coco_coro_t *prod[ST_PRODUCERS], *cons[ST_CONSUMERS];
    struct st_prod ps[ST_PRODUCERS];
    struct st_cons cs[ST_CONSUMERS];
    int producers_running;
};

static void st_record(struct stress *st, void *v)
{
    intptr_t id = (intptr_t)v - 1;
    EXPECT(id >= 0 && id < st->total);
    if (id < 0 || id >= st->total)
        return;
    __atomic_fetch_add(&st->seen[id], 1, __ATOMIC_RELAXED);
    ADD(&st->received, 1);
}

static coco_channel_t *st_new_channel(struct stress *st, size_t cap)
{
    coco_channel_t *ch = coco_channel_create(cap);
    EXPECT(ch != NULL);
    pthread_mutex_lock(&st->all_mu);
    if (st->nall == st->all_cap) {
        st->all_cap = st->all_cap ? 2 * st->all_cap : 64;
        st->all = realloc(st->all, st->all_cap * sizeof *st->all);
    }
    st->all[st->nall++] = ch;
    pthread_mutex_unlock(&st->all_mu);
    return ch;
}

static void st_produce(void *arg)
{
    struct st_prod *p = arg;
    struct stress *st = p->th->st;
    for (;;) {
        long id = ADD(&st->next_id, 1) - 1;
        if (id >= st->total)
            break;
        p->inflight = id;
        void *v = (void *)(intptr_t)(id + 1);
        for (;;) {
            int j = (int)(id % ST_SLOTS), rc;
            coco_channel_t *ch = LOAD(&st->slot[j]);
            if (id % 5 == 0) {
                coco_select_case_t c[2] = {
                    {ch, COCO_SELECT_SEND, v, 0},
                    {LOAD(&st->slot[(j + 1) % ST_SLOTS]), COCO_SELECT_SEND, v, 0},
                };
                int k = coco_select(c, 2, COCO_INFINITE);
                EXPECT(k == 0 || k == 1);
                rc = k >= 0 ? c[k].result : k;
            } else {
                rc = coco_channel_send(ch, v);
            }
            if (rc == COCO_OK)
                break;
            /* Closed under us: the slot has a new channel already. */
            EXPECT_EQ(rc, COCO_ERROR_CHANNEL_CLOSED);
            if (rc != COCO_ERROR_CHANNEL_CLOSED)
                return;
        }
        p->inflight = -1;
        if (id % 256 == 0)
            pause_a_little((unsigned)(id / 256));
    }
    p->finished = true;
    p->th->producers_running--;
}

static void st_consume(void *arg)
{
    struct st_cons *c = arg;
    struct stress *st = c->th->st;
    bool gone[ST_SLOTS] = {false};
    int left = ST_SLOTS;
    unsigned n = 0;
    while (left > 0) {
        coco_channel_t *cur[ST_SLOTS];
        for (int j = 0; j < ST_SLOTS; j++)
            cur[j] = LOAD(&st->slot[j]);
        int k, rc;
        void *v = NULL;
        if (c->mode == 0) {
            coco_select_case_t cs[ST_SLOTS];
            for (int j = 0; j < ST_SLOTS; j++)
                cs[j] = (coco_select_case_t){gone[j] ? NULL : cur[j], COCO_SELECT_RECV,
                                             NULL, 0};
            k = coco_select(cs, ST_SLOTS, COCO_INFINITE);
            EXPECT(k >= 0 && k < ST_SLOTS);
            if (k < 0)
                return;
            rc = cs[k].result;
            v = cs[k].value;
        } else {
            while (gone[c->slot])
                c->slot = (c->slot + 1) % ST_SLOTS;
            k = c->slot;
            rc = coco_channel_recv(cur[k], &v);
        }
        if (rc == COCO_OK) {
            st_record(st, v);
            if (++n % 256 == 0)
                pause_a_little(n / 256);
            continue;
        }
        EXPECT_EQ(rc, COCO_ERROR_CHANNEL_CLOSED);
        if (rc != COCO_ERROR_CHANNEL_CLOSED)
            return;
        /* Closed for good, or replaced (then the next round sees the new
         * channel). */
        if (LOAD(&st->final) && LOAD(&st->slot[k]) == cur[k]) {
            gone[k] = true;
            left--;
        }
    }
}

static void st_manage(void *arg)
{
    struct st_thread *th = arg;
    struct stress *st = th->st;
    coco_sched_t *s = coco_self()->sched;
    uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(th->id + 1);
    for (int k = 0; k < ST_PRODUCERS; k++) {
        th->ps[k] = (struct st_prod){th, -1, false};
        th->prod[k] = coco_create(s, st_produce, &th->ps[k], 0);
        EXPECT(th->prod[k] != NULL);
    }
    th->producers_running = ST_PRODUCERS;
    for (int k = 0; k < ST_CONSUMERS; k++) {
        th->cs[k] = (struct st_cons){th, k % 2, (th->id + k) % ST_SLOTS};
        th->cons[k] = coco_create(s, st_consume, &th->cs[k], 0);
        EXPECT(th->cons[k] != NULL);
    }
    while (LOAD(&st->next_id) < st->total) {
        if (rnd(&seed) % 4 == 0)
            coco_sleep(1);
        else
            coco_yield();
        uint32_t r = rnd(&seed);
        if (r % 8 == 0) {
            int k = (int)(r / 8 % ST_PRODUCERS);
            struct st_prod *p = &th->ps[k];
            coco_destroy(th->prod[k]);
            if (p->finished) {
                th->prod[k] = NULL;
                continue;
            }
            if (p->inflight >= 0)
                STORE(&st->maybe[p->inflight], 1);
            p->inflight = -1;
            th->prod[k] = coco_create(s, st_produce, p, 0);
            EXPECT(th->prod[k] != NULL);
            ADD(&st->destroyed_producers, 1);
        } else if (r % 8 == 1) {
            int k = (int)(r / 8 % ST_CONSUMERS);
            coco_destroy(th->cons[k]);
            th->cons[k] = coco_create(s, st_consume, &th->cs[k], 0);
            EXPECT(th->cons[k] != NULL);
            ADD(&st->destroyed_consumers, 1);
        } else if (r % 64 == 2) {
            /* Replace a channel: the new one first, so that whoever finds
             * the old one closed finds the new one in its place. */
            int j = (int)(r / 64 % ST_SLOTS);
            coco_channel_t *fresh = st_new_channel(st, st_cap[j]);
            coco_channel_t *old = __atomic_exchange_n(&st->slot[j], fresh,
                                                      __ATOMIC_ACQ_REL);
            coco_channel_close(old);
            void *v;
            while (coco_channel_try_recv(old, &v) == COCO_OK)
                st_record(st, v);
            ADD(&st->closes, 1);
        }
        if (LOAD(&fails) > 0)
            break;
    }
    while (th->producers_running > 0 && LOAD(&fails) == 0)
        coco_sleep(1);
    if (ADD(&st->managers_left, -1) == 0) {
        STORE(&st->final, 1);
        for (int j = 0; j < ST_SLOTS; j++)
            coco_channel_close(LOAD(&st->slot[j]));
    }
}

static void st_setup(coco_sched_t *s, void *arg)
{
    struct st_thread *th = arg;
    coco_coro_t *m = coco_create(s, st_manage, th, 0);
    EXPECT(m != NULL);
}

static const int st_threads[] = {2, 4, 8};
#define ST_CASES 3

static long stress_total(void)
{
    const char *e = getenv("COCO_MT_STRESS_MESSAGES");
    long all = e != NULL ? atol(e) : 10000000L;
    if (e == NULL)
        all = COCO_TEST_TSAN ? all / 8 : under_valgrind() ? all / 1000
            : emulated() ? all / 20
            : COCO_TEST_ASAN ? all / 4 : all;
    return all / ST_CASES > 1000 ? all / ST_CASES : 1000;
}

START_TEST(test_mt_stress)
{
    struct stress *st = calloc(1, sizeof *st);
    ck_assert_ptr_nonnull(st);
    st->total = stress_total();
    int nthreads = st_threads[_i];
    st->managers_left = nthreads;
    pthread_mutex_init(&st->all_mu, NULL);
    st->seen = calloc((size_t)st->total, 1);
    st->maybe = calloc((size_t)st->total, 1);
    ck_assert(st->seen != NULL && st->maybe != NULL);
    for (int j = 0; j < ST_SLOTS; j++)
        st->slot[j] = st_new_channel(st, st_cap[j]);
    struct st_thread th[8];
    struct runner run[8];
    memset(th, 0, sizeof th);
    memset(run, 0, sizeof run);
    struct watchdog wd;
    watchdog_start(&wd, 400, "stress", &st->received, &st->total);
    uint64_t t0 = now_ms();
    for (int i = 0; i < nthreads; i++) {
        th[i].st = st;
        th[i].id = i;
        run[i].setup = st_setup;
        run[i].arg = &th[i];
        runner_start(&run[i]);
    }
    for (int i = 0; i < nthreads; i++)
        ck_assert_int_eq(runner_finish(&run[i]), COCO_OK);
    uint64_t took = now_ms() - t0;
    watchdog_stop(&wd);
    ASSERT_EXPECTATIONS();
    /* What was given back to channels no one looked at any more. */
    long drained = 0;
    for (size_t i = 0; i < st->nall; i++) {
        void *v;
        while (coco_channel_try_recv(st->all[i], &v) == COCO_OK) {
            st_record(st, v);
            drained++;
        }
        coco_channel_destroy(st->all[i]);
    }
    ASSERT_EXPECTATIONS();
    /* Counted here, asserted once: Check records every assertion. */
    long once = 0, missing = 0, twice = -1, lost = -1;
    for (long id = 0; id < st->total; id++) {
        if (st->seen[id] > 1 && twice < 0)
            twice = id;
        if (st->seen[id] == 0 && !st->maybe[id] && lost < 0)
            lost = id;
        once += st->seen[id] == 1;
        missing += st->seen[id] == 0;
    }
    ck_assert_msg(twice < 0, "message %ld received %d times", twice,
                  twice < 0 ? 0 : st->seen[twice]);
    ck_assert_msg(lost < 0, "message %ld lost (its producer was never destroyed)", lost);
    ck_assert_int_eq(once + missing, st->total);
    fprintf(stderr, "stress: %d threads, %ld messages in %llu ms; %ld closes, "
            "%ld producers and %ld consumers destroyed, %ld drained at the end, "
            "%ld not sent (producer destroyed mid-send)\n",
            nthreads, st->total, (unsigned long long)took, st->closes,
            st->destroyed_producers, st->destroyed_consumers, drained, missing);
    free(st->all);
    free(st->seen);
    free(st->maybe);
    pthread_mutex_destroy(&st->all_mu);
    free(st);
}
END_TEST

/* ------------------------------------------------------ plain threads */

/* A scheduler's coroutines wait on objects that threads with no scheduler
 * feed and drain with the calls that do not wait.  The coroutines' waits
 * have deadlines (long ones): with nothing but plain threads to wake them,
 * a scheduler whose coroutines all wait without one would have no one to
 * hear from and report COCO_ERROR_DEADLOCK. */
#define PL_SENDERS 2
#define PL_CONSUMERS 4
#define PL_SEM_WAITERS 2

struct plain {
    long per_sender, sem_units, per_coro_send;
    coco_channel_t *in;      /* plain threads -> coroutines */
    coco_channel_t *out;     /* a coroutine -> a plain thread */
    coco_sem_t *sem;
    coco_mutex_t *mu;
    coco_cond_t *cv;
    coco_waitgroup_t *wg;
    long flag, cond_woke;
    long received, sum, out_sum, out_count, sem_taken;
    int closed_seen, wg_rc;
};

static void pl_consume(void *arg)
{
    struct plain *p = arg;
    for (;;) {
        void *v = NULL;
        int rc = coco_channel_recv_timeout(p->in, &v, 30000);
        if (rc == COCO_ERROR_CHANNEL_CLOSED) {
            ADD(&p->closed_seen, 1);
            return;
        }
        EXPECT_EQ(rc, COCO_OK);
        if (rc != COCO_OK)
            return;
        p->received++;
        p->sum += (intptr_t)v;
    }
}

static void pl_sem_wait(void *arg)
{
    struct plain *p = arg;
    for (long i = 0; i < p->sem_units / PL_SEM_WAITERS; i++) {
        EXPECT_EQ(coco_sem_wait_timeout(p->sem, 30000), COCO_OK);
        p->sem_taken++;
    }
}

static void pl_produce(void *arg)
{
    struct plain *p = arg;
    for (long i = 0; i < p->per_coro_send; i++) {
        EXPECT_EQ(coco_channel_send_timeout(p->out, (void *)(intptr_t)(i + 1), 30000),
                  COCO_OK);
        pause_a_little((unsigned)i);
    }
    coco_channel_close(p->out);
}

static void pl_cond_wait(void *arg)
{
    struct plain *p = arg;
    EXPECT_EQ(coco_mutex_lock(p->mu), COCO_OK);
    while (!LOAD(&p->flag))
        EXPECT_EQ(coco_cond_wait_timeout(p->cv, p->mu, 30000), COCO_OK);
    STORE(&p->cond_woke, 1);
    coco_mutex_unlock(p->mu);
}

static void pl_wg_wait(void *arg)
{
    struct plain *p = arg;
    p->wg_rc = coco_waitgroup_wait_timeout(p->wg, 30000);
}

static void *pl_sender(void *arg)
{
    struct plain *p = arg;
    for (long i = 0; i < p->per_sender; i++) {
        int rc;
        while ((rc = coco_channel_try_send(p->in, (void *)(intptr_t)(i + 1))) ==
               COCO_ERROR_WOULDBLOCK)
            sched_yield();
        EXPECT_EQ(rc, COCO_OK);
    }
    EXPECT_EQ(coco_waitgroup_done(p->wg), COCO_OK);
    return NULL;
}

static void *pl_other(void *arg)
{
    struct plain *p = arg;
    for (long i = 0; i < p->sem_units; i++) {
        EXPECT_EQ(coco_sem_post(p->sem), COCO_OK);
        if (i % 16 == 0)
            sched_yield();
    }
    for (;;) {
        void *v = NULL;
        int rc = coco_channel_try_recv(p->out, &v);
        if (rc == COCO_ERROR_WOULDBLOCK) {
            sched_yield();
            continue;
        }
        if (rc == COCO_ERROR_CHANNEL_CLOSED)
            break;
        EXPECT_EQ(rc, COCO_OK);
        p->out_count++;
        p->out_sum += (intptr_t)v;
    }
    /* No mutex to hold here: signal until the waiter has seen the flag. */
    STORE(&p->flag, 1);
    for (int n = 0; !LOAD(&p->cond_woke); n++) {
        EXPECT_EQ(n % 2 ? coco_cond_signal(p->cv) : coco_cond_broadcast(p->cv), COCO_OK);
        usleep(100);
        if (n > 200000) {
            EXPECT(!"the condition waiter never woke");
            break;
        }
    }
    EXPECT_EQ(coco_waitgroup_done(p->wg), COCO_OK);
    return NULL;
}

START_TEST(test_mt_plain_threads)
{
    struct plain p;
    memset(&p, 0, sizeof p);
    p.per_sender = scaled(5000);
    p.sem_units = 2 * scaled(3000);
    p.per_coro_send = scaled(3000);
    p.in = coco_channel_create(8);
    p.out = coco_channel_create(0);
    p.sem = coco_sem_create(0);
    p.mu = coco_mutex_create();
    p.cv = coco_cond_create();
    p.wg = coco_waitgroup_create();
    coco_waitgroup_add(p.wg, PL_SENDERS + 1);
    struct runner r = {0};
    r.sched = new_sched();
    for (int i = 0; i < PL_CONSUMERS; i++)
        go(r.sched, pl_consume, &p);
    for (int i = 0; i < PL_SEM_WAITERS; i++)
        go(r.sched, pl_sem_wait, &p);
    go(r.sched, pl_produce, &p);
    go(r.sched, pl_cond_wait, &p);
    go(r.sched, pl_wg_wait, &p);
    runner_start(&r);
    pthread_t t[PL_SENDERS + 1];
    for (int i = 0; i < PL_SENDERS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, pl_sender, &p), 0);
    ck_assert_int_eq(pthread_create(&t[PL_SENDERS], NULL, pl_other, &p), 0);
    for (int i = 0; i < PL_SENDERS; i++)
        pthread_join(t[i], NULL);
    /* All sent: this thread closes, the consumers see it once drained. */
    coco_channel_close(p.in);
    pthread_join(t[PL_SENDERS], NULL);
    ck_assert_int_eq(runner_finish(&r), COCO_OK);
    ASSERT_EXPECTATIONS();
    long n = p.per_sender;
    ck_assert_int_eq(p.received, PL_SENDERS * n);
    ck_assert_int_eq(p.sum, PL_SENDERS * n * (n + 1) / 2);
    ck_assert_int_eq(p.closed_seen, PL_CONSUMERS);
    ck_assert_int_eq(p.sem_taken, p.sem_units);
    ck_assert_uint_eq(coco_sem_value(p.sem), 0);
    ck_assert_int_eq(p.out_count, p.per_coro_send);
    ck_assert_int_eq(p.out_sum, p.per_coro_send * (p.per_coro_send + 1) / 2);
    ck_assert_int_eq(p.cond_woke, 1);
    ck_assert_int_eq(p.wg_rc, COCO_OK);
    coco_channel_destroy(p.in);
    coco_channel_destroy(p.out);
    coco_sem_destroy(p.sem);
    coco_cond_destroy(p.cv);
    coco_mutex_destroy(p.mu);
    coco_waitgroup_destroy(p.wg);
}
END_TEST

/* ---------------------------------------------------------- deadlock */

/* n threads talk for a while, then every coroutine of every thread waits
 * for something no one will do: each run returns COCO_ERROR_DEADLOCK. */
struct dl {
    int n;
    long rounds;
    coco_channel_t *ring[4];     /* ring[i]: to thread i, buffered */
    coco_channel_t *never;
    coco_mutex_t *mu;
    coco_cond_t *cv;
    long talked;
};

struct dl_thread {
    struct dl *d;
    int id;
};

static void dl_talk(void *arg)
{
    struct dl_thread *t = arg;
    struct dl *d = t->d;
    for (long i = 0; i < d->rounds; i++) {
        void *v = NULL;
        EXPECT_EQ(coco_channel_send(d->ring[(t->id + 1) % d->n], (void *)(intptr_t)(i + 1)),
                  COCO_OK);
        EXPECT_EQ(coco_channel_recv(d->ring[t->id], &v), COCO_OK);
        EXPECT_EQ((intptr_t)v, i + 1);
        pause_a_little((unsigned)i);
    }
    ADD(&d->talked, 1);
    void *v;
    coco_channel_recv(d->never, &v); /* for ever */
    EXPECT(!"a receive no one sends to returned");
}

static void dl_sleep_then_wait(void *arg)
{
    struct dl_thread *t = arg;
    coco_sleep(10 * (uint64_t)(t->id + 1));
    EXPECT_EQ(coco_mutex_lock(t->d->mu), COCO_OK);
    coco_cond_wait(t->d->cv, t->d->mu); /* for ever */
    EXPECT(!"a condition no one signals woke");
}

START_TEST(test_mt_deadlock_all_stuck)
{
    struct dl d;
    memset(&d, 0, sizeof d);
    d.n = 2 + _i;  /* 2, 3, 4 threads */
    d.rounds = 50;
    for (int i = 0; i < d.n; i++)
        d.ring[i] = coco_channel_create(1);
    d.never = coco_channel_create(0);
    d.mu = coco_mutex_create();
    d.cv = coco_cond_create();
    struct watchdog wd;
    long want = d.n;
    watchdog_start(&wd, 60, "deadlock across threads", &d.talked, &want);
    struct dl_thread dt[4];
    struct runner run[4];
    memset(run, 0, sizeof run);
    for (int i = 0; i < d.n; i++) {
        dt[i] = (struct dl_thread){&d, i};
        run[i].sched = new_sched();
        go(run[i].sched, dl_talk, &dt[i]);
        go(run[i].sched, dl_sleep_then_wait, &dt[i]);
    }
    for (int i = 0; i < d.n; i++)
        runner_start(&run[i]);
    for (int i = 0; i < d.n; i++) {
        ck_assert_int_eq(pthread_join(run[i].thread, NULL), 0);
        ck_assert_msg(run[i].rc == COCO_ERROR_DEADLOCK, "thread %d of %d: run returned %d",
                      i, d.n, run[i].rc);
    }
    watchdog_stop(&wd);
    ASSERT_EXPECTATIONS();
    ck_assert_int_eq(d.talked, d.n);
    /* The schedulers go with their coroutines still parked on the objects;
     * the objects go after. */
    for (int i = 0; i < d.n; i++)
        coco_sched_destroy(run[i].sched);
    for (int i = 0; i < d.n; i++)
        coco_channel_destroy(d.ring[i]);
    coco_channel_destroy(d.never);
    coco_cond_destroy(d.cv);
    coco_mutex_destroy(d.mu);
}
END_TEST

/* Thread A's only coroutine waits for a value thread B sends only after a
 * long stretch of work (busy, then idle, then busy): not a deadlock. */
struct dl_busy {
    coco_channel_t *ch;
    long got;
};

static void dlb_wait(void *arg)
{
    struct dl_busy *b = arg;
    void *v = NULL;
    EXPECT_EQ(coco_channel_recv(b->ch, &v), COCO_OK);
    b->got = (intptr_t)v;
}

static void dlb_work(void *arg)
{
    struct dl_busy *b = arg;
    uint64_t t0 = now_ms();
    while (now_ms() - t0 < 100)
        spin(10000);                  /* busy, no switch at all */
    coco_sleep(100);                  /* idle */
    for (int i = 0; i < 100; i++) {   /* busy with switches */
        spin(10000);
        coco_yield();
    }
    EXPECT_EQ(coco_channel_send(b->ch, (void *)7), COCO_OK);
}

START_TEST(test_mt_deadlock_not_while_other_works)
{
    struct dl_busy b = {coco_channel_create(0), 0};
    struct runner a = {0}, w = {0};
    a.sched = new_sched();
    w.sched = new_sched();
    go(a.sched, dlb_wait, &b);
    go(w.sched, dlb_work, &b);
    runner_start(&a);
    runner_start(&w);
    ck_assert_int_eq(runner_finish(&a), COCO_OK);
    ck_assert_int_eq(runner_finish(&w), COCO_OK);
    ASSERT_EXPECTATIONS();
    ck_assert_int_eq(b.got, 7);
    coco_channel_destroy(b.ch);
}
END_TEST

/* A scheduler of another thread that is not inside coco_sched_run() may
 * still act: made but never run (then run, or destroyed), or between two
 * runs. */
struct dl_late {
    coco_channel_t *ch;
    long got;
    long returned;
};

static void dll_wait(void *arg)
{
    struct dl_late *l = arg;
    void *v = NULL;
    int rc = coco_channel_recv(l->ch, &v);
    if (rc == COCO_OK)
        l->got = (intptr_t)v;
}

static void dll_send(void *arg)
{
    struct dl_late *l = arg;
    coco_yield();                     /* run_once stops here */
    EXPECT_EQ(coco_channel_send(l->ch, (void *)9), COCO_OK);
}

static void *dll_thread(void *arg)
{
    struct runner *r = arg;
    r->rc = coco_sched_run(r->sched);
    STORE(&((struct dl_late *)r->arg)->returned, 1);
    return NULL;
}

enum { LATE_RUN, LATE_DESTROY, LATE_BETWEEN_RUNS };

START_TEST(test_mt_deadlock_waits_for_unstarted)
{
    struct dl_late l = {coco_channel_create(0), 0, 0};
    coco_sched_t *later = new_sched();  /* this thread's, not run yet */
    go(later, dll_send, &l);
    if (_i == LATE_BETWEEN_RUNS)
        ck_assert_int_eq(coco_sched_run_once(later), COCO_OK);
    struct runner a = {0};
    a.sched = new_sched();
    a.arg = &l;
    go(a.sched, dll_wait, &l);
    ck_assert_int_eq(pthread_create(&a.thread, NULL, dll_thread, &a), 0);
    usleep(300 * 1000);
    /* A waits: `later` may still send. */
    ck_assert_int_eq(LOAD(&l.returned), 0);
    if (_i == LATE_DESTROY) {
        coco_sched_destroy(later);
        ck_assert_int_eq(pthread_join(a.thread, NULL), 0);
        ck_assert_int_eq(a.rc, COCO_ERROR_DEADLOCK);
        ck_assert_int_eq(l.got, 0);
    } else {
        ck_assert_int_eq(coco_sched_run(later), COCO_OK);
        ck_assert_int_eq(pthread_join(a.thread, NULL), 0);
        ck_assert_int_eq(a.rc, COCO_OK);
        ck_assert_int_eq(l.got, 9);
        coco_sched_destroy(later);
    }
    ASSERT_EXPECTATIONS();
    coco_sched_destroy(a.sched);
    coco_channel_destroy(l.ch);
}
END_TEST

/* --------------------------------------------------------- bad input */

struct bad {
    coco_channel_t *ch;
    long running, go_on;
    long got;
};

static void bad_parked(void *arg)
{
    struct bad *b = arg;
    void *v = NULL;
    EXPECT_EQ(coco_channel_recv_timeout(b->ch, &v, 30000), COCO_OK);
    b->got = (intptr_t)v;
}

static void bad_busy(void *arg)
{
    struct bad *b = arg;
    STORE(&b->running, 1);
    SPIN_UNTIL(&b->go_on, 1);
}

/* Each call on its own, so that one going wrong does not hide another. */
enum { BAD_RUN, BAD_CREATE, BAD_DESTROY, BAD_JOIN, BAD_DETACH, BAD_SCHED_DESTROY,
       BAD_SELF, BAD_NCALLS };

START_TEST(test_mt_other_threads_scheduler)
{
    struct bad b;
    memset(&b, 0, sizeof b);
    b.ch = coco_channel_create(0);
    struct runner r = {0};
    r.sched = new_sched();
    coco_coro_t *parked = go(r.sched, bad_parked, &b);
    go(r.sched, bad_busy, &b);
    runner_start(&r);
    ck_assert(spin_until(&b.running, 1));
    /* r.sched is inside coco_sched_run() on r.thread now, running
     * bad_busy; this thread made it, and has no coroutine of its own. */
    coco_coro_t *self = NULL;
    switch (_i) {
    case BAD_RUN:
        ck_assert_int_eq(coco_sched_run(r.sched), COCO_ERROR_INVALID);
        ck_assert_int_eq(coco_sched_run_once(r.sched), COCO_ERROR_INVALID);
        break;
    case BAD_CREATE:
        errno = 0;
        ck_assert_ptr_null(coco_create(r.sched, bad_parked, &b, 0));
        ck_assert_int_eq(errno, EPERM);
        break;
    case BAD_DESTROY:
        coco_destroy(parked);                    /* nothing happens */
        break;
    case BAD_JOIN:
        ck_assert_ptr_null(coco_join(parked));
        break;
    case BAD_DETACH:
        ck_assert_int_eq(coco_detach(parked), COCO_ERROR_INVALID);
        break;
    case BAD_SCHED_DESTROY:
        coco_sched_destroy(r.sched);             /* nothing happens */
        break;
    default:
        /* Not a coroutine here, whatever the other thread runs (asserted
         * once that thread is joined). */
        self = coco_self();
        break;
    }
    STORE(&b.go_on, 1);
    /* The parked coroutine is still there to take this. */
    int rc;
    uint64_t t0 = now_ms();
    while ((rc = coco_channel_try_send(b.ch, (void *)5)) == COCO_ERROR_WOULDBLOCK &&
           now_ms() - t0 < 30000)
        sched_yield();
    ck_assert_int_eq(rc, COCO_OK);
    ck_assert_int_eq(runner_finish(&r), COCO_OK);
    ASSERT_EXPECTATIONS();
    ck_assert_int_eq(b.got, 5);
    coco_channel_destroy(b.ch);
    ck_assert_ptr_null(self);
}
END_TEST

/* An object destroyed while coroutines of another thread wait on it: they
 * resume with COCO_ERROR_CHANNEL_CLOSED (channels) or COCO_ERROR_INVALID,
 * and never touch it again (ASan would see it). */
#define DP_WAITERS 4

enum dp_kind { DP_RECV, DP_SEND, DP_SELECT, DP_MUTEX, DP_COND, DP_SEM, DP_WG, DP_NKINDS };

struct dp {
    int kind;
    coco_channel_t *ch, *other;
    coco_mutex_t *mu, *cond_mu;
    coco_cond_t *cv;
    coco_sem_t *sem;
    coco_waitgroup_t *wg;
    long held, all_parked;
    int rc[DP_WAITERS];
    long resumed;
};

static void dp_waiter(void *arg)
{
    struct dp *d = arg;
    int rc;
    void *v = NULL;
    coco_select_case_t c[2] = {
        {d->ch, COCO_SELECT_RECV, NULL, 0},
        {d->other, COCO_SELECT_RECV, NULL, 0},
    };
    switch (d->kind) {
    case DP_RECV:
        rc = coco_channel_recv(d->ch, &v);
        break;
    case DP_SEND:
        rc = coco_channel_send(d->ch, (void *)1);
        break;
    case DP_SELECT:
        rc = coco_select(c, 2, COCO_INFINITE);
        EXPECT_EQ(rc, 0);
        if (rc == 0)
            rc = c[0].result;
        break;
    case DP_MUTEX:
        rc = coco_mutex_lock(d->mu);
        break;
    case DP_COND:
        EXPECT_EQ(coco_mutex_lock(d->cond_mu), COCO_OK);
        rc = coco_cond_wait(d->cv, d->cond_mu);
        EXPECT_EQ(coco_mutex_unlock(d->cond_mu), COCO_OK); /* held again */
        break;
    case DP_SEM:
        rc = coco_sem_wait(d->sem);
        break;
    default:
        rc = coco_waitgroup_wait(d->wg);
        break;
    }
    d->rc[ADD(&d->resumed, 1) - 1] = rc;
}

/* Runs after every waiter, each of which ran until it parked. */
static void dp_reporter(void *arg)
{
    struct dp *d = arg;
    STORE(&d->all_parked, 1);
}

static void dp_destroyer(void *arg)
{
    struct dp *d = arg;
    if (d->kind == DP_MUTEX)
        EXPECT_EQ(coco_mutex_lock(d->mu), COCO_OK);
    STORE(&d->held, 1);
    while (!LOAD(&d->all_parked))
        coco_sleep(1);
    coco_sleep(20);
    switch (d->kind) {
    case DP_RECV:
    case DP_SEND:
    case DP_SELECT:
        coco_channel_destroy(d->ch);
        break;
    case DP_MUTEX:
        coco_mutex_destroy(d->mu);
        break;
    case DP_COND:
        coco_cond_destroy(d->cv);
        break;
    case DP_SEM:
        coco_sem_destroy(d->sem);
        break;
    default:
        coco_waitgroup_destroy(d->wg);
        break;
    }
}

static void dp_start_waiters(void *arg)
{
    struct dp *d = arg;
    /* The mutex case waits until the other thread holds it. */
    SPIN_UNTIL(&d->held, 1);
    coco_sched_t *s = coco_self()->sched;
    for (int i = 0; i < DP_WAITERS; i++)
        EXPECT(coco_create(s, dp_waiter, d, 0) != NULL);
    EXPECT(coco_create(s, dp_reporter, d, 0) != NULL);
}

START_TEST(test_mt_destroy_while_parked)
{
    struct dp d;
    memset(&d, 0, sizeof d);
    d.kind = _i;
    d.ch = coco_channel_create(0);
    d.other = coco_channel_create(0);
    d.mu = coco_mutex_create();
    d.cond_mu = coco_mutex_create();
    d.cv = coco_cond_create();
    d.sem = coco_sem_create(0);
    d.wg = coco_waitgroup_create();
    coco_waitgroup_add(d.wg, 1);
    struct runner w = {0}, k = {0};
    w.sched = new_sched();
    k.sched = new_sched();
    go(w.sched, dp_start_waiters, &d);
    go(k.sched, dp_destroyer, &d);
    runner_start(&k);
    runner_start(&w);
    ck_assert_int_eq(runner_finish(&w), COCO_OK);
    ck_assert_int_eq(runner_finish(&k), COCO_OK);
    ASSERT_EXPECTATIONS();
    int want = d.kind <= DP_SELECT ? COCO_ERROR_CHANNEL_CLOSED : COCO_ERROR_INVALID;
    ck_assert_int_eq(d.resumed, DP_WAITERS);
    for (int i = 0; i < DP_WAITERS; i++)
        ck_assert_msg(d.rc[i] == want, "waiter %d: %d, want %d", i, d.rc[i], want);
    /* What was not destroyed above. */
    if (d.kind > DP_SELECT)
        coco_channel_destroy(d.ch);
    if (d.kind != DP_MUTEX)
        coco_mutex_destroy(d.mu);
    if (d.kind != DP_COND)
        coco_cond_destroy(d.cv);
    if (d.kind != DP_SEM)
        coco_sem_destroy(d.sem);
    if (d.kind != DP_WG)
        coco_waitgroup_destroy(d.wg);
    coco_channel_destroy(d.other);
    coco_mutex_destroy(d.cond_mu);
}
END_TEST

/* ------------------------------------------- woken, then destroyed */

/* Coroutines another thread woke wait in their scheduler's inbox until
 * its loop takes them in.  Here the loop cannot (one of its coroutines
 * runs without yielding) while a plain thread hands a value to each of
 * four parked receivers, and that coroutine then destroys the second
 * and third of them.  Values are still received in the order they were
 * sent (check_handoff): the two receivers left take the first two, the
 * last two go back to the channel, and the two run in the order they
 * were woken. */
#define IX_N 4

struct ix {
    coco_channel_t *ch;
    coco_coro_t *rx[IX_N];
    int parked;          /* receivers about to park (this thread only) */
    int spinning;        /* the busy coroutine runs (atomic) */
    int sent;            /* values the plain thread handed (atomic) */
    int order[IX_N];     /* which receiver ran, in order */
    long got[IX_N];      /* what each received */
    int ran;
    long back[2];        /* what the busy coroutine received again */
};

static void ix_rx(void *arg)
{
    struct ix *x = arg;
    int me = x->parked++;
    void *v = NULL;
    int rc = coco_channel_recv(x->ch, &v);
    EXPECT_EQ(rc, COCO_OK);
    x->got[me] = (long)(intptr_t)v;
    x->order[x->ran++] = me;
}

static void ix_busy(void *arg)
{
    struct ix *x = arg;
    while (x->parked < IX_N)
        coco_yield();
    coco_yield(); /* the last receiver parks */
    STORE(&x->spinning, 1);
    /* Busy for its scheduler, but not for the system: the sender must get
     * the processor (valgrind runs one thread at a time, and hands over
     * at a system call sooner than at the end of a time slice). */
    uint64_t t0 = now_ms();
    while (LOAD(&x->sent) < IX_N && now_ms() - t0 < 60000)
        sched_yield();
    EXPECT_EQ(LOAD(&x->sent), IX_N);
    /* All four are woken and none has been taken in by the loop. */
    for (int i = 0; i < IX_N; i++)
        EXPECT_EQ(coco_get_state(x->rx[i]), COCO_STATE_READY);
    coco_destroy(x->rx[1]);
    coco_destroy(x->rx[2]);
    for (int i = 0; i < 2; i++) {
        void *v = NULL;
        EXPECT_EQ(coco_channel_recv_timeout(x->ch, &v, 5000), COCO_OK);
        x->back[i] = (long)(intptr_t)v;
    }
}

static void *ix_sender(void *arg)
{
    struct ix *x = arg;
    uint64_t t0 = now_ms();
    while (!LOAD(&x->spinning) && now_ms() - t0 < 60000)
        sched_yield();
    for (long i = 1; i <= IX_N; i++) {
        int rc = coco_channel_send_timeout(x->ch, (void *)(intptr_t)i, 5000);
        EXPECT_EQ(rc, COCO_OK);
        ADD(&x->sent, 1);
    }
    return NULL;
}

START_TEST(test_mt_destroyed_in_inbox)
{
    struct ix x;
    memset(&x, 0, sizeof x);
    x.ch = coco_channel_create(0);
    ck_assert_ptr_nonnull(x.ch);
    coco_sched_t *s = new_sched();
    for (int i = 0; i < IX_N; i++)
        ck_assert_ptr_nonnull(x.rx[i] = go(s, ix_rx, &x));
    ck_assert_ptr_nonnull(go(s, ix_busy, &x));
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, ix_sender, &x), 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ASSERT_EXPECTATIONS();
    ck_assert_int_eq(x.back[0], 3);
    ck_assert_int_eq(x.back[1], 4);
    ck_assert_int_eq(x.ran, 2);
    ck_assert_int_eq(x.order[0], 0);
    ck_assert_int_eq(x.order[1], 3);
    ck_assert_int_eq(x.got[0], 1);
    ck_assert_int_eq(x.got[3], 2);
    coco_sched_destroy(s);
    coco_channel_destroy(x.ch);
}
END_TEST

/* ------------------------------------------------------- single mode */

/* A program with one scheduler on one thread never switches to shared
 * mode, however much it uses the objects.  Nothing in the interface says
 * which mode the process is in; what shows it is that in shared mode a
 * running scheduler opens a descriptor other threads wake it through (an
 * eventfd on Linux).  So: no eventfd while the single-threaded program
 * runs, and (to show the probe sees one when there is one) an eventfd
 * once a plain thread has used one of its channels. */
#if defined(__linux__)
static int count_eventfds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[300], target[128];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        if (strstr(target, "eventfd") != NULL)
            n++;
    }
    closedir(d);
    return n;
}
#else
static int count_eventfds(void)
{
    return -1;
}
#endif

struct single {
    coco_channel_t *ch, *buf;
    coco_mutex_t *mu;
    coco_cond_t *cv;
    coco_sem_t *sem;
    coco_waitgroup_t *wg;
    long counter, received;
    int eventfds_seen;
};

static void single_worker(void *arg)
{
    struct single *g = arg;
    for (int i = 0; i < 200; i++) {
        EXPECT_EQ(coco_mutex_lock(g->mu), COCO_OK);
        g->counter++;
        if (i % 7 == 0)
            coco_yield();
        coco_mutex_unlock(g->mu);
        EXPECT_EQ(coco_channel_send(i % 2 ? g->ch : g->buf, (void *)1), COCO_OK);
        EXPECT_EQ(coco_sem_post(g->sem), COCO_OK);
        if (i % 50 == 0)
            coco_sleep(1);
    }
    EXPECT_EQ(coco_waitgroup_done(g->wg), COCO_OK);
}

static void single_taker(void *arg)
{
    struct single *g = arg;
    for (int i = 0; i < 200; i++) {
        coco_select_case_t c[2] = {
            {g->ch, COCO_SELECT_RECV, NULL, 0},
            {g->buf, COCO_SELECT_RECV, NULL, 0},
        };
        EXPECT(coco_select(c, 2, 1000) >= 0);
        EXPECT_EQ(coco_sem_wait_timeout(g->sem, 1000), COCO_OK);
        g->received++;
    }
    EXPECT_EQ(coco_mutex_lock(g->mu), COCO_OK);
    coco_cond_broadcast(g->cv);
    coco_mutex_unlock(g->mu);
}

static void single_watch(void *arg)
{
    struct single *g = arg;
    EXPECT_EQ(coco_waitgroup_wait(g->wg), COCO_OK);
    g->eventfds_seen = count_eventfds();
}

static void *single_plain(void *arg)
{
    struct single *g = arg;
    EXPECT_EQ(coco_channel_try_send(g->buf, (void *)1), COCO_OK);
    return NULL;
}

static void single_recv(void *arg)
{
    struct single *g = arg;
    void *v;
    EXPECT_EQ(coco_channel_recv_timeout(g->buf, &v, 10000), COCO_OK);
    g->eventfds_seen = count_eventfds();
}

START_TEST(test_mt_single_thread_stays_single)
{
    const char *fork_mode = getenv("CK_FORK");
    if ((fork_mode != NULL && strcmp(fork_mode, "no") == 0) || count_eventfds() < 0)
        return; /* earlier cases shared this process, or nothing to look at */
    ck_assert_int_eq(count_eventfds(), 0);
    struct single g;
    memset(&g, 0, sizeof g);
    g.ch = coco_channel_create(0);
    g.buf = coco_channel_create(4);
    g.mu = coco_mutex_create();
    g.cv = coco_cond_create();
    g.sem = coco_sem_create(0);
    g.wg = coco_waitgroup_create();
    coco_sched_t *s = new_sched();
    coco_sched_t *idle = new_sched();   /* a second one, never run */
    ck_assert_int_eq(coco_waitgroup_add(g.wg, 8), COCO_OK);
    for (int i = 0; i < 8; i++) {
        go(s, single_worker, &g);
        go(s, single_taker, &g);
    }
    go(s, single_watch, &g);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ASSERT_EXPECTATIONS();
    ck_assert_int_eq(g.counter, 8 * 200);
    ck_assert_int_eq(g.received, 8 * 200);
    ck_assert_int_eq(g.eventfds_seen, 0);
    /* The same thread outside coroutines: still single. */
    ck_assert_int_eq(coco_channel_try_send(g.buf, (void *)1), COCO_OK);
    void *v;
    ck_assert_int_eq(coco_channel_try_recv(g.buf, &v), COCO_OK);
    go(s, single_watch, &g);
    g.eventfds_seen = -1;
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(g.eventfds_seen, 0);
    /* A plain thread uses the channel: from now on the process shares. */
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, single_plain, &g), 0);
    pthread_join(t, NULL);
    go(s, single_recv, &g);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ASSERT_EXPECTATIONS();
    ck_assert_int_ge(g.eventfds_seen, 1);
    coco_sched_destroy(idle);
    coco_sched_destroy(s);
    coco_channel_destroy(g.ch);
    coco_channel_destroy(g.buf);
    coco_mutex_destroy(g.mu);
    coco_cond_destroy(g.cv);
    coco_sem_destroy(g.sem);
    coco_waitgroup_destroy(g.wg);
}
END_TEST

/* ------------------------------------------ deadlock grace, replaced */

/* A thread destroys its scheduler and makes another at once, which sends
 * to a coroutine of another thread that has waited all along.  The
 * destroy leaves the waiting thread alone for a moment, but a thread
 * about to make or run a scheduler is what the second of grace is for:
 * the waiting thread must get the value, not COCO_ERROR_DEADLOCK. */
START_TEST(test_mt_deadlock_grace_after_destroy)
{
    struct dl_late l = {coco_channel_create(0), 0, 0};
    coco_sched_t *first = new_sched();  /* this thread's, never run */
    struct runner a = {0};
    a.sched = new_sched();
    a.arg = &l;
    go(a.sched, dll_wait, &l);
    ck_assert_int_eq(pthread_create(&a.thread, NULL, dll_thread, &a), 0);
    usleep(300 * 1000);
    ck_assert_int_eq(LOAD(&l.returned), 0);
    coco_sched_destroy(first);
    coco_sched_t *second = new_sched();
    go(second, dll_send, &l);
    ck_assert_int_eq(coco_sched_run(second), COCO_OK);
    ck_assert_int_eq(pthread_join(a.thread, NULL), 0);
    ck_assert_int_eq(a.rc, COCO_OK);
    ck_assert_int_eq(l.got, 9);
    ASSERT_EXPECTATIONS();
    coco_sched_destroy(second);
    coco_sched_destroy(a.sched);
    coco_channel_destroy(l.ch);
}
END_TEST

/* ------------------------------------------- handed, then destroyed */

/* A plain thread hands a mutex, a unit or a value to one of the
 * coroutines of another thread parked on the object, and destroys the
 * object at once.  The one handed it may be about to take it (it found
 * the hand-off, and waits for the lock the destroy holds): it must see
 * that the object is gone, keep what it was handed (COCO_OK), and never
 * touch the object; the others wake as from any destroy.  Many rounds:
 * the window is a few hundred nanoseconds wide. */
enum hd_kind { HD_MUTEX, HD_SEM, HD_RECV, HD_NKINDS };
#define HD_WAITERS 4

struct hd {
    int kind;
    coco_mutex_t *mu;
    coco_sem_t *sem;
    coco_channel_t *ch;
    long parked;
    int ok, gone, other;
};

static void hd_waiter(void *arg)
{
    struct hd *h = arg;
    void *v = NULL;
    int rc;
    ADD(&h->parked, 1);
    switch (h->kind) {
    case HD_MUTEX:
        rc = coco_mutex_lock(h->mu); /* held, or gone: not touched again */
        break;
    case HD_SEM:
        rc = coco_sem_wait(h->sem);
        break;
    default:
        rc = coco_channel_recv(h->ch, &v);
        if (rc == COCO_OK)
            EXPECT_EQ((intptr_t)v, 5);
        break;
    }
    int gone = h->kind == HD_RECV ? COCO_ERROR_CHANNEL_CLOSED : COCO_ERROR_INVALID;
    if (rc == COCO_OK)
        h->ok++;
    else if (rc == gone)
        h->gone++;
    else
        h->other++;
}

START_TEST(test_mt_handed_then_destroyed)
{
    for (int round = 0; round < (int)scaled(200); round++) {
        struct hd h;
        memset(&h, 0, sizeof h);
        h.kind = _i;
        h.mu = coco_mutex_create();
        h.sem = coco_sem_create(0);
        h.ch = coco_channel_create(0);
        ck_assert_int_eq(coco_mutex_lock(h.mu), COCO_OK); /* this thread holds it */
        struct runner r = {0};
        r.sched = new_sched();
        for (int i = 0; i < HD_WAITERS; i++)
            go(r.sched, hd_waiter, &h);
        runner_start(&r);
        ck_assert(spin_until(&h.parked, HD_WAITERS));
        usleep(200 + 50 * (unsigned)(round % 16)); /* in their waits */
        switch (h.kind) {
        case HD_MUTEX:
            ck_assert_int_eq(coco_mutex_unlock(h.mu), COCO_OK);
            coco_mutex_destroy(h.mu);
            h.mu = NULL;
            break;
        case HD_SEM:
            ck_assert_int_eq(coco_sem_post(h.sem), COCO_OK);
            coco_sem_destroy(h.sem);
            h.sem = NULL;
            break;
        default:
            ck_assert_int_eq(coco_channel_try_send(h.ch, (void *)5), COCO_OK);
            coco_channel_destroy(h.ch);
            h.ch = NULL;
            break;
        }
        ck_assert_int_eq(runner_finish(&r), COCO_OK);
        ASSERT_EXPECTATIONS();
        ck_assert_int_eq(h.ok, 1);
        ck_assert_int_eq(h.gone, HD_WAITERS - 1);
        ck_assert_int_eq(h.other, 0);
        if (h.mu != NULL) {
            ck_assert_int_eq(coco_mutex_unlock(h.mu), COCO_OK);
            coco_mutex_destroy(h.mu);
        }
        coco_sem_destroy(h.sem);
        coco_channel_destroy(h.ch);
    }
}
END_TEST

/* ------------------------------------------ state of a remote wake */

/* coco_get_state() on a coroutine that another thread is waking at that
 * moment: the watcher, on the coroutine's own thread, sees it go from
 * waiting to ready without its loop running in between (a data race
 * that ThreadSanitizer reports if the waker's store is not atomic). */
struct gs {
    coco_channel_t *ch;
    coco_coro_t *rx;
    long watching;
    int seen_ready;
    long got;
};

static void gs_rx(void *arg)
{
    struct gs *g = arg;
    void *v = NULL;
    EXPECT_EQ(coco_channel_recv(g->ch, &v), COCO_OK);
    g->got = (long)(intptr_t)v;
}

static void gs_watch(void *arg)
{
    struct gs *g = arg;
    EXPECT_EQ(coco_get_state(g->rx), COCO_STATE_WAITING);
    STORE(&g->watching, 1);
    uint64_t t0 = now_ms();
    coco_state_t st;
    while ((st = coco_get_state(g->rx)) == COCO_STATE_WAITING && now_ms() - t0 < 30000)
        spin(100);
    g->seen_ready = st == COCO_STATE_READY;
}

static void *gs_sender(void *arg)
{
    struct gs *g = arg;
    if (spin_until(&g->watching, 1))
        EXPECT_EQ(coco_channel_try_send(g->ch, (void *)3), COCO_OK);
    return NULL;
}

START_TEST(test_mt_state_while_woken)
{
    struct gs g;
    memset(&g, 0, sizeof g);
    g.ch = coco_channel_create(0);
    coco_sched_t *s = new_sched();
    g.rx = go(s, gs_rx, &g);
    go(s, gs_watch, &g);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, gs_sender, &g), 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ASSERT_EXPECTATIONS();
    ck_assert(g.seen_ready);
    ck_assert_int_eq(g.got, 3);
    coco_sched_destroy(s);
    coco_channel_destroy(g.ch);
}
END_TEST

/* ------------------------------------ deadlock grace, from the last */

/* The second of grace counts from the moment every scheduler is stuck,
 * not from when the first one was.  A starts alone and waits for a value
 * (its grace would end at about 1 s); B starts later, works on its
 * timers and gets stuck at 600 ms for good; this thread makes a third
 * scheduler at 1300 ms, which sends A the value.  Every scheduler was
 * stuck from 600 ms only: A must get the value, and B alone is left
 * deadlocked. */
struct dg {
    coco_sem_t *never;
};

static void dg_stuck_later(void *arg)
{
    struct dg *g = arg;
    coco_sleep(500);
    coco_sem_wait(g->never); /* for ever */
    EXPECT(!"a semaphore no one posts was taken");
}

START_TEST(test_mt_deadlock_grace_from_last)
{
    struct dl_late l = {coco_channel_create(0), 0, 0};
    struct dg g;
    memset(&g, 0, sizeof g);
    g.never = coco_sem_create(0);
    struct runner a = {0}, b = {0};
    a.sched = new_sched();
    a.arg = &l;
    go(a.sched, dll_wait, &l);
    uint64_t t0 = now_ms();
    ck_assert_int_eq(pthread_create(&a.thread, NULL, dll_thread, &a), 0);
    usleep(100 * 1000);
    b.sched = new_sched();
    go(b.sched, dg_stuck_later, &g);
    runner_start(&b);
    while (now_ms() - t0 < 1300)
        usleep(10 * 1000);
    coco_sched_t *third = new_sched();
    go(third, dll_send, &l);
    ck_assert_int_eq(coco_sched_run(third), COCO_OK);
    ck_assert_int_eq(pthread_join(a.thread, NULL), 0);
    ck_assert_int_eq(a.rc, COCO_OK);
    ck_assert_int_eq(l.got, 9);
    coco_sched_destroy(third);
    /* B waits for A's scheduler while it may still be run again. */
    coco_sched_destroy(a.sched);
    ck_assert_int_eq(pthread_join(b.thread, NULL), 0);
    ck_assert_int_eq(b.rc, COCO_ERROR_DEADLOCK);
    coco_sched_destroy(b.sched);   /* takes its coroutine off never */
    ASSERT_EXPECTATIONS();
    coco_sem_destroy(g.never);
    coco_channel_destroy(l.ch);
}
END_TEST

/* The same when a scheduler driven by coco_sched_run_once() was stuck,
 * and its thread then gave it a new coroutine between two steps: the
 * scheduler acted again (the new one sleeps a while), and only once that
 * one waits for good are both stuck.  The rule must not count from the
 * first time they were.  The step that gives the thread its turn ends
 * when a plain thread destroys a scheduler it made (which made the others
 * wait until then, and makes them look at the rule again): not at the
 * end of the grace, where the verdict could come first.  The coroutine is
 * added once the destroy is under way: by then no verdict can come sooner
 * than a second later. */
struct dg2 {
    coco_sem_t *never;
    uint64_t t0, parked_at, b_returned_at;
    long b_running, dummy_made, dummy_gone, stepping;
};

/* Gone 300 ms after the steps began, when the scheduler they drive sleeps
 * stuck (an emulator may take longer than that to get there from t0).
 * Marked gone first: the step it ends must find the mark. */
static void *dg2_dummy(void *arg)
{
    struct dg2 *g = arg;
    coco_sched_t *d = coco_sched_create();
    STORE(&g->dummy_made, 1);
    while (!LOAD(&g->stepping) && now_ms() - g->t0 < 30000)
        usleep(1000);
    uint64_t t1 = now_ms();
    while (now_ms() - t1 < 300)
        usleep(10 * 1000);
    STORE(&g->dummy_gone, 1);
    coco_sched_destroy(d);
    return NULL;
}

/* B's: once it runs, the process shares its objects, and the scheduler
 * this thread drives is not alone on its thread any more. */
static void dg2_b_wait(void *arg)
{
    struct dg2 *g = arg;
    STORE(&g->b_running, 1);
    coco_sem_wait(g->never); /* for ever */
    EXPECT(!"a semaphore no one posts was taken");
}

static void dg2_wait(void *arg)
{
    struct dg2 *g = arg;
    coco_sem_wait(g->never); /* for ever */
    EXPECT(!"a semaphore no one posts was taken");
}

static void dg2_late(void *arg)
{
    struct dg2 *g = arg;
    coco_sleep(700);
    STORE(&g->parked_at, now_ms() - g->t0);
    dg2_wait(g);
}

static void *dg2_b(void *arg)
{
    struct runner *r = arg;
    struct dg2 *g = r->arg;
    r->rc = coco_sched_run(r->sched);
    STORE(&g->b_returned_at, now_ms() - g->t0);
    return NULL;
}

START_TEST(test_mt_deadlock_grace_after_new_coroutine)
{
    struct dg2 g;
    memset(&g, 0, sizeof g);
    g.never = coco_sem_create(0);
    g.t0 = now_ms();
    pthread_t dummy;
    ck_assert_int_eq(pthread_create(&dummy, NULL, dg2_dummy, &g), 0);
    ck_assert(spin_until(&g.dummy_made, 1));
    coco_sched_t *s = new_sched();
    go(s, dg2_wait, &g);
    struct runner b = {0};
    b.sched = new_sched();
    b.arg = &g;
    go(b.sched, dg2_b_wait, &g);
    ck_assert_int_eq(pthread_create(&b.thread, NULL, dg2_b, &b), 0);
    ck_assert(spin_until(&g.b_running, 1));
    int rc;
    bool added = false;
    STORE(&g.stepping, 1);
    while ((rc = coco_sched_run_once(s)) == COCO_OK && now_ms() - g.t0 < 30000) {
        if (!added && LOAD(&g.dummy_gone)) {
            go(s, dg2_late, &g);
            added = true;
        }
    }
    ck_assert_int_eq(rc, COCO_ERROR_DEADLOCK);
    ck_assert_int_eq(pthread_join(dummy, NULL), 0);
    ck_assert_int_eq(pthread_join(b.thread, NULL), 0);
    ck_assert_int_eq(b.rc, COCO_ERROR_DEADLOCK);
    ck_assert(added);
    ck_assert_uint_ne(LOAD(&g.parked_at), 0);
    /* A second, less the clock's granularity. */
    ck_assert_msg(LOAD(&g.b_returned_at) >= LOAD(&g.parked_at) + 990,
                  "deadlock reported %llu ms after the last one got stuck",
                  (unsigned long long)(LOAD(&g.b_returned_at) - LOAD(&g.parked_at)));
    ASSERT_EXPECTATIONS();
    coco_sched_destroy(b.sched);
    coco_sched_destroy(s);
    coco_sem_destroy(g.never);
}
END_TEST

/* -------------------------------------------------------------- main */

int main(void)
{
    Suite *su = suite_create("mt");
    /* Generous limits: the instrumented builds are many times slower, and
     * the watchdogs fail stuck cases with a message well before. */
    TCase *tc = tcase_create("objects");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, reset_expectations, NULL);
    tcase_add_loop_test(tc, test_mt_channel_every_pair, 0,
                        (int)(sizeof ring_cases / sizeof ring_cases[0]));
    tcase_add_test(tc, test_mt_select_across_threads);
    tcase_add_test(tc, test_mt_objects_of_two_threads);
    tcase_add_test(tc, test_mt_mutex_contended);
    tcase_add_test(tc, test_mt_cond_queue);
    tcase_add_test(tc, test_mt_cond_broadcast);
    tcase_add_test(tc, test_mt_sem);
    tcase_add_test(tc, test_mt_waitgroup);
    tcase_add_loop_test(tc, test_mt_timeout_while_other_busy, 0, K_NKINDS);
    tcase_add_test(tc, test_mt_plain_threads);
    suite_add_tcase(su, tc);

    tc = tcase_create("lost_wakeup");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, reset_expectations, NULL);
    tcase_add_loop_test(tc, test_mt_lost_wakeup, 0, LW_NKINDS);
    suite_add_tcase(su, tc);

    tc = tcase_create("stress");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, reset_expectations, NULL);
    tcase_add_loop_test(tc, test_mt_stress, 0, ST_CASES);
    suite_add_tcase(su, tc);

    tc = tcase_create("rules");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, reset_expectations, NULL);
    tcase_add_loop_test(tc, test_mt_deadlock_all_stuck, 0, 3);
    tcase_add_test(tc, test_mt_deadlock_not_while_other_works);
    tcase_add_loop_test(tc, test_mt_deadlock_waits_for_unstarted, 0, 3);
    tcase_add_loop_test(tc, test_mt_other_threads_scheduler, 0, BAD_NCALLS);
    tcase_add_loop_test(tc, test_mt_destroy_while_parked, 0, DP_NKINDS);
    tcase_add_test(tc, test_mt_destroyed_in_inbox);
    tcase_add_test(tc, test_mt_single_thread_stays_single);
    tcase_add_test(tc, test_mt_deadlock_grace_after_destroy);
    tcase_add_loop_test(tc, test_mt_handed_then_destroyed, 0, HD_NKINDS);
    tcase_add_test(tc, test_mt_state_while_woken);
    tcase_add_test(tc, test_mt_deadlock_grace_from_last);
    tcase_add_test(tc, test_mt_deadlock_grace_after_new_coroutine);
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
