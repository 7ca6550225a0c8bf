/*
 * check_threads.c - schedulers on several threads at once, one per thread,
 * each busy with everything a scheduler does: channels (buffered and not),
 * select, timers, sleeps, yields, joins, I/O on a pipe, coroutines created
 * and destroyed.  Nothing is shared between the threads but the library's
 * process-wide state (the fault handler, the page size), so the results
 * are exact per thread.  Under ThreadSanitizer this suite is the proof that
 * the threads do not race and that the fiber annotations are right.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define THREADS 4
#define PRODUCERS 4
#define PER_PRODUCER 200
#define PIPE_BYTES 4096

/* Everything one thread does and what it observed. */
struct work {
    int rounds;                  /* whole runs, each with a new scheduler */
    /* results, summed over the rounds */
    long received, sum;          /* values through the channels */
    long order_errors;           /* values out of per-producer order */
    int timer_fired, timer_cancelled_fired;
    int sleepers_done, yields;
    long piped;                  /* bytes through the pipe */
    int joined;
    int rc;                      /* first non-OK result of a run */
};

struct round {
    struct work *w;
    coco_channel_t *unbuf, *buf, *done;
    long last[PRODUCERS];
    int pipefd[2];
};

struct producer {
    struct round *r;
    int id;
};

/* Value of producer p's i-th message: both can be read back from it. */
static intptr_t encode(int p, int i)
{
    return (intptr_t)p * 100000 + i + 1;
}

static void produce(void *arg)
{
    struct producer *pr = arg;
    /* Even producers hand over directly, odd ones through the buffer. */
    coco_channel_t *ch = pr->id % 2 == 0 ? pr->r->unbuf : pr->r->buf;
    for (int i = 0; i < PER_PRODUCER; i++) {
        if (coco_channel_send(ch, (void *)encode(pr->id, i)) != COCO_OK)
            pr->r->w->rc = COCO_ERROR;
        if (i % 50 == 0)
            coco_yield();
    }
    coco_channel_send(pr->r->done, NULL);
}

static void account(struct round *r, intptr_t v)
{
    int p = (int)(v / 100000);
    long i = (long)(v % 100000);
    if (p < 0 || p >= PRODUCERS || i != r->last[p] + 1)
        r->w->order_errors++;
    else
        r->last[p] = i;
    r->w->received++;
    r->w->sum += (long)v;
}

/* Takes from both channels with select until every producer is done. */
static void consume(void *arg)
{
    struct round *r = arg;
    int done = 0;
    while (done < PRODUCERS) {
        coco_select_case_t c[3] = {
            {r->unbuf, COCO_SELECT_RECV, NULL, 0},
            {r->buf, COCO_SELECT_RECV, NULL, 0},
            {r->done, COCO_SELECT_RECV, NULL, 0},
        };
        int k = coco_select(c, 3, COCO_INFINITE);
        if (k == 2)
            done++;
        else if (k == 0 || k == 1)
            account(r, (intptr_t)c[k].value);
        else {
            r->w->rc = k;
            return;
        }
    }
    /* What the buffered producers left behind. */
    void *v;
    while (coco_channel_try_recv(r->buf, &v) == COCO_OK)
        account(r, (intptr_t)v);
}

static void on_timer(void *arg)
{
    (*(int *)arg)++;
}

static void sleeper(void *arg)
{
    struct round *r = arg;
    for (int i = 0; i < 3; i++) {
        if (coco_sleep(1 + (uint64_t)i) != COCO_OK)
            r->w->rc = COCO_ERROR;
        coco_yield();
        r->w->yields++;
    }
    r->w->sleepers_done++;
}

static void pipe_writer(void *arg)
{
    struct round *r = arg;
    char block[256];
    memset(block, 'x', sizeof block);
    for (size_t n = 0; n < PIPE_BYTES; n += sizeof block)
        if (coco_write(r->pipefd[1], block, sizeof block) != (int)sizeof block)
            r->w->rc = COCO_ERROR;
    coco_close(r->pipefd[1]);
}

static void pipe_reader(void *arg)
{
    struct round *r = arg;
    char buf[100];
    int n;
    while ((n = coco_read(r->pipefd[0], buf, sizeof buf)) > 0)
        r->w->piped += n;
    coco_close(r->pipefd[0]);
}

static void returns_arg(void *arg)
{
    coco_yield();
    coco_exit(coco_self(), arg);
}

static void joiner(void *arg)
{
    struct round *r = arg;
    coco_coro_t *c = coco_create(coco_self()->sched, returns_arg, r, 0);
    if (coco_join(c) == r)
        r->w->joined++;
    coco_destroy(c);
}

static void parked_for_ever(void *arg)
{
    void *v;
    coco_channel_recv(arg, &v);
}

static int one_round(struct work *w)
{
    struct round r;
    memset(&r, 0, sizeof r);
    r.w = w;
    for (int p = 0; p < PRODUCERS; p++)
        r.last[p] = 0;
    if (pipe(r.pipefd) != 0)
        return COCO_ERROR;
    coco_sched_t *s = coco_sched_create();
    if (s == NULL)
        return COCO_ERROR_NOMEM;
    r.unbuf = coco_channel_create(0);
    r.buf = coco_channel_create(16);
    r.done = coco_channel_create(PRODUCERS);
    coco_channel_t *never = coco_channel_create(0);

    struct producer pr[PRODUCERS];
    for (int p = 0; p < PRODUCERS; p++) {
        pr[p].r = &r;
        pr[p].id = p;
        coco_create(s, produce, &pr[p], 0);
    }
    coco_create(s, consume, &r, 0);
    coco_create(s, sleeper, &r, 0);
    coco_create(s, sleeper, &r, 32 * 1024);
    coco_create(s, pipe_writer, &r, 0);
    coco_create(s, pipe_reader, &r, 0);
    coco_create(s, joiner, &r, 0);
    coco_timer(2, on_timer, &w->timer_fired);
    coco_timer_t *t = coco_timer(60000, on_timer, &w->timer_cancelled_fired);
    coco_timer_cancel(t);
    /* Parked when the run ends: destroyed with its stack mid-call. */
    coco_coro_t *stuck = coco_create(s, parked_for_ever, never, 0);

    int rc = coco_sched_run(s);
    /* Only `stuck` is left, and the run says so. */
    if (rc == COCO_ERROR_DEADLOCK && coco_get_state(stuck) == COCO_STATE_WAITING)
        rc = COCO_OK;
    coco_destroy(stuck);
    coco_sched_destroy(s);
    coco_channel_destroy(r.unbuf);
    coco_channel_destroy(r.buf);
    coco_channel_destroy(r.done);
    coco_channel_destroy(never);
    return rc;
}

static void *thread_main(void *arg)
{
    struct work *w = arg;
    for (int i = 0; i < w->rounds; i++) {
        int rc = one_round(w);
        if (rc != COCO_OK && w->rc == COCO_OK)
            w->rc = rc;
    }
    return NULL;
}

static void run_threads(struct work *w, int n)
{
    pthread_t t[THREADS];
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, thread_main, &w[i]), 0);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
}

static long expected_sum(void)
{
    long sum = 0;
    for (int p = 0; p < PRODUCERS; p++)
        for (int i = 0; i < PER_PRODUCER; i++)
            sum += (long)encode(p, i);
    return sum;
}

START_TEST(test_threads_busy_schedulers)
{
    struct work w[THREADS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < THREADS; i++)
        w[i].rounds = 3;
    run_threads(w, THREADS);
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(w[i].rc, COCO_OK);
        ck_assert_int_eq(w[i].received, 3L * PRODUCERS * PER_PRODUCER);
        ck_assert_int_eq(w[i].sum, 3 * expected_sum());
        ck_assert_int_eq(w[i].order_errors, 0);
        ck_assert_int_eq(w[i].timer_fired, 3);
        ck_assert_int_eq(w[i].timer_cancelled_fired, 0);
        ck_assert_int_eq(w[i].sleepers_done, 3 * 2);
        ck_assert_int_eq(w[i].yields, 3 * 2 * 3);
        ck_assert_int_eq(w[i].piped, 3L * PIPE_BYTES);
        ck_assert_int_eq(w[i].joined, 3);
    }
}
END_TEST

/* Threads that start together race to install the process-wide fault
 * handler and each set up its own alternate signal stack. */
static void *create_destroy(void *arg)
{
    int *ok = arg;
    for (int i = 0; i < 20; i++) {
        coco_sched_t *s = coco_sched_create();
        if (s == NULL)
            return NULL;
        long sum = 0;
        for (int k = 0; k < 5; k++)
            coco_create(s, returns_arg, &sum, 16 * 1024);
        if (coco_sched_run(s) == COCO_OK && coco_sched_count(s) == 0)
            (*ok)++;
        coco_sched_destroy(s);
    }
    return NULL;
}

START_TEST(test_threads_create_destroy_schedulers)
{
    pthread_t t[THREADS];
    int ok[THREADS] = {0};
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, create_destroy, &ok[i]), 0);
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
        ck_assert_int_eq(ok[i], 20);
    }
}
END_TEST

/* A scheduler is bound to the thread that runs it: another thread's
 * current scheduler is untouched by it. */
static void *no_current(void *arg)
{
    (void)arg;
    return coco_self() == NULL ? (void *)1 : NULL;
}

static void asks_other_thread(void *arg)
{
    pthread_t t;
    void *res = NULL;
    if (pthread_create(&t, NULL, no_current, NULL) == 0)
        pthread_join(t, &res);
    *(int *)arg = res == (void *)1;
}

START_TEST(test_threads_current_is_per_thread)
{
    coco_sched_t *s = coco_sched_create();
    int seen = -1;
    coco_create(s, asks_other_thread, &seen, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(seen, 1);
    coco_sched_destroy(s);
}
END_TEST

/* A scheduler may be handed to another thread, and destroyed there.  Each
 * thread that made it, or ran it, may have it as its current scheduler
 * (the one coco_timer() acts on outside a coroutine), and the thread that
 * made it keeps the list its newest remaining one comes from.  Cases:
 *   0  main makes A and B; a thread runs B, main's current, and destroys it
 *   1  main makes A and B; a thread runs A and destroys it
 *   2  main makes A alone; a thread runs it and destroys it
 *   3  main makes and runs A; a thread that never ran it destroys it
 *   4  a thread makes A; main runs it; the thread destroys it
 * Afterwards main's current is the newest scheduler it made that is left
 * (none in 2-4: coco_timer() fails with EINVAL), and a scheduler made
 * next works as any other. */
#define XD_CASES 5

struct xd {
    coco_sched_t *s;       /* the one handed over */
    int run_it;            /* the other thread runs it first */
    int rc;
};

static void xd_noop(void *arg)
{
    (void)arg;
}

static void xd_fire(void *arg)
{
    (*(int *)arg)++;
}

static void *xd_destroy(void *arg)
{
    struct xd *x = arg;
    x->rc = x->run_it ? coco_sched_run(x->s) : COCO_OK;
    coco_sched_destroy(x->s);
    return NULL;
}

static void *xd_make(void *arg)
{
    struct xd *x = arg;
    x->s = coco_sched_create();
    return NULL;
}

/* Runs f(x) on a thread of its own, to the end. */
static void xd_thread(void *(*f)(void *), struct xd *x)
{
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, f, x), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
}

START_TEST(test_threads_destroyed_by_other_thread)
{
    int c = _i;
    coco_sched_t *a = NULL, *b = NULL;
    struct xd x = { NULL, 1, -1 };
    if (c <= 2) {
        a = coco_sched_create();
        ck_assert_ptr_nonnull(a);
        if (c <= 1) {
            b = coco_sched_create();
            ck_assert_ptr_nonnull(b);
        }
        x.s = c == 1 ? a : c == 0 ? b : a;
        ck_assert_ptr_nonnull(coco_create(x.s, xd_noop, NULL, 0));
        xd_thread(xd_destroy, &x);
        ck_assert_int_eq(x.rc, COCO_OK);
    } else if (c == 3) {
        a = coco_sched_create();
        ck_assert_ptr_nonnull(coco_create(a, xd_noop, NULL, 0));
        ck_assert_int_eq(coco_sched_run(a), COCO_OK);
        x.s = a;
        x.run_it = 0;
        xd_thread(xd_destroy, &x);
    } else {
        xd_thread(xd_make, &x);
        ck_assert_ptr_nonnull(x.s);
        ck_assert_ptr_nonnull(coco_create(x.s, xd_noop, NULL, 0));
        ck_assert_int_eq(coco_sched_run(x.s), COCO_OK);
        x.run_it = 0;
        xd_thread(xd_destroy, &x);
    }
    /* What is left: A in case 0, B in case 1, nothing else. */
    coco_sched_t *left = c == 0 ? a : c == 1 ? b : NULL;
    int fired = 0;
    errno = 0;
    coco_timer_t *tm = coco_timer(1, xd_fire, &fired);
    if (left == NULL) {
        ck_assert_ptr_null(tm);
        ck_assert_int_eq(errno, EINVAL);
    } else {
        ck_assert_ptr_nonnull(tm);
        ck_assert_int_eq(coco_sched_run(left), COCO_OK);
        ck_assert_int_eq(fired, 1);
    }
    /* A scheduler made now is current, and runs. */
    coco_sched_t *n = coco_sched_create();
    ck_assert_ptr_nonnull(n);
    ck_assert_ptr_nonnull(coco_timer(1, xd_fire, &fired));
    ck_assert_ptr_nonnull(coco_create(n, xd_noop, NULL, 0));
    ck_assert_int_eq(coco_sched_run(n), COCO_OK);
    ck_assert_int_eq(fired, left == NULL ? 1 : 2);
    coco_sched_destroy(n);
    /* Then the one left is current again. */
    tm = coco_timer(1, xd_fire, &fired);
    if (left == NULL) {
        ck_assert_ptr_null(tm);
    } else {
        ck_assert_ptr_nonnull(tm);
        ck_assert_int_eq(coco_sched_run(left), COCO_OK);
        ck_assert_int_eq(fired, 3);
        coco_sched_destroy(left);
    }
}
END_TEST

int main(void)
{
    Suite *su = suite_create("threads");
    TCase *tc = tcase_create("threads");
    /* Generous: ThreadSanitizer and valgrind run this many times slower. */
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_threads_busy_schedulers);
    tcase_add_test(tc, test_threads_create_destroy_schedulers);
    tcase_add_test(tc, test_threads_current_is_per_thread);
    tcase_add_loop_test(tc, test_threads_destroyed_by_other_thread, 0, XD_CASES);
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
