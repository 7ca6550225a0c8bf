/*
 * check_pool.c - coco_blocking_call() and its pool of helper threads: the
 * result comes back, the coroutine alone waits while the others run, no
 * more functions run at once than the limit allows, a call that times out
 * or whose coroutine is destroyed before its function started never
 * starts it, one that had started runs to its end and is freed, and the
 * pool works from a forked child and from schedulers on several threads.
 *
 * Nothing here measures speed: the functions wait for what the test
 * wants to see (a count reached, a gate opened), with a limit of seconds
 * only so that a broken pool fails instead of hanging.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"
#include "testutil.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#ifdef _WIN32
#  include <windows.h>
#else
#  include <netdb.h>
#  include <pthread.h>
#  include <signal.h>
#  include <sys/socket.h>
#  include <sys/wait.h>
#  include <unistd.h>
#endif

#define GIVE_UP_MS 10000

static void nap_ms(long ms)
{
#ifdef _WIN32
    Sleep((DWORD)ms);
#else
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
#endif
}

/* On a helper thread: waits until *v >= target; false after GIVE_UP_MS. */
static bool thread_wait_for(atomic_int *v, int target)
{
    for (int i = 0; i < GIVE_UP_MS; i++) {
        if (atomic_load(v) >= target)
            return true;
        nap_ms(1);
    }
    return false;
}

/* In a coroutine: the same, sleeping as a coroutine. */
static bool coro_wait_for(atomic_int *v, int target)
{
    for (int i = 0; i < GIVE_UP_MS; i++) {
        if (atomic_load(v) >= target)
            return true;
        coco_sleep(1);
    }
    return false;
}

/* Runs entry(arg) as the one coroutine of a new scheduler, to its end. */
static void run_one(void (*entry)(void *), void *arg)
{
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(coco_create(s, entry, arg, 0));
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
}

static void *plus_one(void *arg)
{
    return (void *)((intptr_t)arg + 1);
}

static void *returns_null(void *arg)
{
    (void)arg;
    return NULL;
}

/* ---------------------------------------------------------------- result */

struct result_case {
    int rc1, rc2, rc3;
    void *res1, *res2;
};

static void calls_plus_one(void *arg)
{
    struct result_case *c = arg;
    c->res1 = (void *)0x1;
    c->rc1 = coco_blocking_call(plus_one, (void *)41, &c->res1, COCO_INFINITE);
    c->res2 = (void *)0x1;
    c->rc2 = coco_blocking_call(returns_null, NULL, &c->res2, 5000);
    c->rc3 = coco_blocking_call(plus_one, NULL, NULL, COCO_INFINITE);
}

START_TEST(test_pool_result)
{
    struct result_case c = { -100, -100, -100, NULL, NULL };
    run_one(calls_plus_one, &c);
    ck_assert_int_eq(c.rc1, COCO_OK);
    ck_assert_ptr_eq(c.res1, (void *)42);
    ck_assert_int_eq(c.rc2, COCO_OK);
    ck_assert_ptr_null(c.res2);
    ck_assert_int_eq(c.rc3, COCO_OK);
}
END_TEST

/* ------------------------------------------------------------ cost model */

#ifdef COCO_TEST_STATIC_LINK
/* The library's mode: 0 while no object is shared between threads.  The
 * symbol is hidden in the shared library; only a static link of the
 * suite (check_pool_static) sees it. */
extern int coco__mt;

/* Waiting for a helper thread does not make the process pay for objects
 * shared between threads. */
START_TEST(test_pool_keeps_single_mode)
{
    ck_assert_int_eq(__atomic_load_n(&coco__mt, __ATOMIC_RELAXED), 0);
    struct result_case c = { -100, -100, -100, NULL, NULL };
    run_one(calls_plus_one, &c);
    ck_assert_int_eq(c.rc1, COCO_OK);
    ck_assert_int_eq(__atomic_load_n(&coco__mt, __ATOMIC_RELAXED), 0);
}
END_TEST
#endif

/* Coroutines on a shared stack: their frames are copied away while they
 * wait, and back before they run; the result lands in the caller's
 * frame all the same. */
static atomic_int shared_right;

static void shared_caller(void *arg)
{
    void *res = NULL;
    char pad[512];
    memset(pad, (int)(intptr_t)arg, sizeof pad);
    if (coco_blocking_call(plus_one, arg, &res, COCO_INFINITE) == COCO_OK &&
        res == (void *)((intptr_t)arg + 1) && pad[0] == (char)(intptr_t)arg &&
        pad[511] == (char)(intptr_t)arg)
        atomic_fetch_add(&shared_right, 1);
}

START_TEST(test_pool_shared_stack_callers)
{
    if (!coco_test_shared_stacks())
        return;
    atomic_store(&shared_right, 0);
    coco_attr_t attr;
    coco_attr_init(&attr);
    attr.flags = COCO_ATTR_SHARED_STACK;
    coco_sched_t *s = coco_sched_create();
    for (intptr_t i = 1; i <= 20; i++)
        ck_assert_ptr_nonnull(coco_create_attr(s, shared_caller, (void *)i, &attr));
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    ck_assert_int_eq(atomic_load(&shared_right), 20);
}
END_TEST

/* ----------------------------------------------------------- concurrency */

#define CALLERS 100
#define LIMIT 4

static atomic_int running, peak, finished, gave_up;

static void note_running(void)
{
    int now = atomic_fetch_add(&running, 1) + 1;
    int p = atomic_load(&peak);
    while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
        ;
}

/* Holds its thread until `target` functions ran at once (or that was
 * given up on once), then a little longer, so that a thread over the
 * limit would be caught running alongside. */
static int peak_target;

static void *counted(void *arg)
{
    note_running();
    if (!atomic_load(&gave_up) && !thread_wait_for(&peak, peak_target))
        atomic_store(&gave_up, 1);
    nap_ms(2);
    atomic_fetch_sub(&running, 1);
    atomic_fetch_add(&finished, 1);
    return arg;
}

static atomic_int right_results;

static void calls_counted(void *arg)
{
    void *res = NULL;
    if (coco_blocking_call(counted, arg, &res, COCO_INFINITE) == COCO_OK &&
        res == arg)
        atomic_fetch_add(&right_results, 1);
}

static void reset_counts(int target)
{
    atomic_store(&running, 0);
    atomic_store(&peak, 0);
    atomic_store(&finished, 0);
    atomic_store(&gave_up, 0);
    atomic_store(&right_results, 0);
    peak_target = target;
}

START_TEST(test_pool_concurrency_is_the_limit)
{
    ck_assert_int_eq(coco_blocking_set_max_threads(LIMIT), COCO_OK);
    reset_counts(LIMIT);
    coco_sched_t *s = coco_sched_create();
    for (intptr_t i = 0; i < CALLERS; i++)
        ck_assert_ptr_nonnull(coco_create(s, calls_counted, (void *)(i + 1), 0));
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    ck_assert_int_eq(atomic_load(&finished), CALLERS);
    ck_assert_int_eq(atomic_load(&right_results), CALLERS);
    ck_assert_int_eq(atomic_load(&gave_up), 0);
    ck_assert_int_eq(atomic_load(&peak), LIMIT);
}
END_TEST

/* A lower limit set while threads of a higher one are alive holds for the
 * next calls. */
START_TEST(test_pool_lower_limit)
{
    ck_assert_int_eq(coco_blocking_set_max_threads(8), COCO_OK);
    reset_counts(8);
    coco_sched_t *s = coco_sched_create();
    for (intptr_t i = 0; i < 16; i++)
        coco_create(s, calls_counted, (void *)(i + 1), 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(atomic_load(&peak), 8);

    ck_assert_int_eq(coco_blocking_set_max_threads(2), COCO_OK);
    reset_counts(2);
    for (intptr_t i = 0; i < 16; i++)
        coco_create(s, calls_counted, (void *)(i + 1), 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    ck_assert_int_eq(atomic_load(&right_results), 16);
    ck_assert_int_eq(atomic_load(&peak), 2);
    ck_assert_int_eq(coco_blocking_set_max_threads(LIMIT), COCO_OK);
}
END_TEST

/* ------------------------------------------- the others run meanwhile */

static atomic_int ticks, stop_ticking;

static void ticker(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_ticking)) {
        atomic_fetch_add(&ticks, 1);
        coco_sleep(1);
    }
}

/* Returns only once the ticker has ticked 20 times while it blocked. */
static void *waits_for_ticks(void *arg)
{
    (void)arg;
    int from = atomic_load(&ticks);
    return thread_wait_for(&ticks, from + 20) ? (void *)1 : NULL;
}

static void calls_waits_for_ticks(void *arg)
{
    int *ok = arg;
    void *res = NULL;
    *ok = coco_blocking_call(waits_for_ticks, NULL, &res, COCO_INFINITE) ==
          COCO_OK && res == (void *)1;
    atomic_store(&stop_ticking, 1);
}

START_TEST(test_pool_others_run_while_fn_blocks)
{
    atomic_store(&ticks, 0);
    atomic_store(&stop_ticking, 0);
    int ok = 0;
    coco_sched_t *s = coco_sched_create();
    coco_create(s, ticker, NULL, 0);
    coco_create(s, calls_waits_for_ticks, &ok, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    ck_assert_int_eq(ok, 1);
    ck_assert_int_ge(atomic_load(&ticks), 20);
}
END_TEST

/* -------------------------------------------------- timeouts, destroys */

static atomic_int gate, gate_started, gate_finished, never_ran;
static int dropped_result; /* what the gated function returns */

/* Holds the pool's one thread until the gate opens. */
static void *gated(void *arg)
{
    (void)arg;
    atomic_fetch_add(&gate_started, 1);
    thread_wait_for(&gate, 1);
    atomic_fetch_add(&gate_finished, 1);
    return &dropped_result;
}

/* Must never be called. */
static void *counts_a_run(void *arg)
{
    (void)arg;
    atomic_fetch_add(&never_ran, 1);
    return NULL;
}

static void reset_gate(void)
{
    atomic_store(&gate, 0);
    atomic_store(&gate_started, 0);
    atomic_store(&gate_finished, 0);
    atomic_store(&never_ran, 0);
}

static void calls_gated(void *arg)
{
    int *rc = arg;
    *rc = coco_blocking_call(gated, NULL, NULL, COCO_INFINITE);
}

struct timeout_case {
    int rc_queued, rc_zero, rc_after, started_first;
};

static void times_out_queued(void *arg)
{
    struct timeout_case *c = arg;
    /* The one thread is busy with the gated call: this one stays queued
     * until it times out. */
    c->started_first = coro_wait_for(&gate_started, 1);
    c->rc_queued = coco_blocking_call(counts_a_run, NULL, NULL, 20);
    c->rc_zero = coco_blocking_call(counts_a_run, NULL, NULL, 0);
    atomic_store(&gate, 1);
    /* The thread serves the queue in order: when this call is back, it
     * has been past the timed-out one. */
    c->rc_after = coco_blocking_call(returns_null, NULL, NULL, COCO_INFINITE);
}

START_TEST(test_pool_timeout_before_start)
{
    ck_assert_int_eq(coco_blocking_set_max_threads(1), COCO_OK);
    reset_gate();
    struct timeout_case c = { -100, -100, -100, 0 };
    int rc_gated = -100;
    coco_sched_t *s = coco_sched_create();
    coco_create(s, calls_gated, &rc_gated, 0);
    coco_create(s, times_out_queued, &c, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    ck_assert_int_eq(c.started_first, 1);
    ck_assert_int_eq(c.rc_queued, COCO_ERROR_TIMEOUT);
    ck_assert_int_eq(c.rc_zero, COCO_ERROR_TIMEOUT);
    ck_assert_int_eq(c.rc_after, COCO_OK);
    ck_assert_int_eq(rc_gated, COCO_OK);
    ck_assert_int_eq(atomic_load(&never_ran), 0);
    ck_assert_int_eq(coco_blocking_set_max_threads(LIMIT), COCO_OK);
}
END_TEST

static void times_out_running(void *arg)
{
    struct timeout_case *c = arg;
    void *res = (void *)0x1;
    /* A first call leaves the pool's one thread idle, waiting for work;
     * then half a second is time enough for it to take the next: the
     * case wants the function started when the call times out. */
    coco_blocking_call(returns_null, NULL, NULL, COCO_INFINITE);
    c->rc_queued = coco_blocking_call(gated, NULL, &res, 500);
    c->started_first = atomic_load(&gate_started);
    c->rc_zero = res == (void *)0x1; /* untouched */
    atomic_store(&gate, 1);
    c->rc_after = coco_blocking_call(returns_null, NULL, NULL, COCO_INFINITE);
}

START_TEST(test_pool_timeout_after_start)
{
    ck_assert_int_eq(coco_blocking_set_max_threads(1), COCO_OK);
    reset_gate();
    struct timeout_case c = { -100, -100, -100, 0 };
    coco_sched_t *s = coco_sched_create();
    coco_create(s, times_out_running, &c, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    ck_assert_int_eq(c.rc_queued, COCO_ERROR_TIMEOUT);
    ck_assert_int_eq(c.started_first, 1);
    ck_assert_int_eq(c.rc_zero, 1);
    ck_assert_int_eq(c.rc_after, COCO_OK);
    /* The one thread finished the gated call before it took the next. */
    ck_assert_int_eq(atomic_load(&gate_finished), 1);
    ck_assert_int_eq(coco_blocking_set_max_threads(LIMIT), COCO_OK);
}
END_TEST

static coco_coro_t *running_caller, *queued_caller;
static int rc_never = -100;

static void calls_counts_a_run(void *arg)
{
    (void)arg;
    rc_never = coco_blocking_call(counts_a_run, NULL, NULL, COCO_INFINITE);
}

struct destroy_case {
    int started, rc_after, state_running, state_queued;
};

static void destroys_callers(void *arg)
{
    struct destroy_case *c = arg;
    c->started = coro_wait_for(&gate_started, 1);
    coco_yield(); /* the queued caller has queued its call */
    c->state_running = coco_get_state(running_caller);
    c->state_queued = coco_get_state(queued_caller);
    coco_destroy(running_caller);
    coco_destroy(queued_caller);
    atomic_store(&gate, 1);
    c->rc_after = coco_blocking_call(returns_null, NULL, NULL, COCO_INFINITE);
}

START_TEST(test_pool_destroy_waiting_coroutine)
{
    ck_assert_int_eq(coco_blocking_set_max_threads(1), COCO_OK);
    reset_gate();
    struct destroy_case c = { 0, -100, -1, -1 };
    int rc_gated = -100;
    rc_never = -100;
    coco_sched_t *s = coco_sched_create();
    running_caller = coco_create(s, calls_gated, &rc_gated, 0);
    queued_caller = coco_create(s, calls_counts_a_run, NULL, 0);
    coco_create(s, destroys_callers, &c, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    ck_assert_int_eq(c.started, 1);
    ck_assert_int_eq(c.state_running, COCO_STATE_WAITING);
    ck_assert_int_eq(c.state_queued, COCO_STATE_WAITING);
    ck_assert_int_eq(c.rc_after, COCO_OK);
    /* Neither destroyed coroutine ran again; the started function ran to
     * its end, the queued one never ran. */
    ck_assert_int_eq(rc_gated, -100);
    ck_assert_int_eq(rc_never, -100);
    ck_assert_int_eq(atomic_load(&gate_finished), 1);
    ck_assert_int_eq(atomic_load(&never_ran), 0);
    ck_assert_int_eq(coco_blocking_set_max_threads(LIMIT), COCO_OK);
}
END_TEST

/* ------------------------------------------------------- worker groups */

static atomic_int worker_right;

static void worker_task(void *arg)
{
    void *res = NULL;
    if (coco_workers_self() != NULL &&
        coco_blocking_call(plus_one, arg, &res, COCO_INFINITE) == COCO_OK &&
        res == (void *)((intptr_t)arg + 1))
        atomic_fetch_add(&worker_right, 1);
}

/* Coroutines of a worker group wait for the pool like any other. */
START_TEST(test_pool_from_workers)
{
    atomic_store(&worker_right, 0);
    coco_workers_t *wk = coco_workers_create(2);
    ck_assert_ptr_nonnull(wk);
    for (intptr_t i = 0; i < 40; i++)
        ck_assert_int_eq(coco_workers_spawn(wk, worker_task, (void *)i, 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    coco_workers_destroy(wk);
    ck_assert_int_eq(atomic_load(&worker_right), 40);
}
END_TEST

/* ---------------------------------------------------------- bad input */

static void calls_null_fn(void *arg)
{
    *(int *)arg = coco_blocking_call(NULL, NULL, NULL, COCO_INFINITE);
}

START_TEST(test_pool_outside_coroutine)
{
    void *res = (void *)0x1;
    ck_assert_int_eq(coco_blocking_call(plus_one, NULL, &res, COCO_INFINITE),
                     COCO_ERROR_WOULDBLOCK);
    coco_sched_t *s = coco_sched_create();
    ck_assert_int_eq(coco_blocking_call(plus_one, NULL, &res, COCO_INFINITE),
                     COCO_ERROR_WOULDBLOCK);
    ck_assert_ptr_eq(res, (void *)0x1);
    int rc = -100;
    coco_create(s, calls_null_fn, &rc, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(rc, COCO_ERROR_INVALID);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_pool_set_max_threads_range)
{
    ck_assert_int_eq(coco_blocking_set_max_threads(0), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_blocking_set_max_threads(1025), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_blocking_set_max_threads(SIZE_MAX), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_blocking_set_max_threads(1), COCO_OK);
    ck_assert_int_eq(coco_blocking_set_max_threads(1024), COCO_OK);
    ck_assert_int_eq(coco_blocking_set_max_threads(LIMIT), COCO_OK);
}
END_TEST

#ifndef _WIN32
/* The rest speaks POSIX: name lookups, fork, threads of the test's own. */

/* ------------------------------------------------------------- getaddrinfo */

struct lookup {
    int rc;
    struct addrinfo *res;
};

static void *resolve_localhost(void *arg)
{
    struct lookup *l = arg;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    l->rc = getaddrinfo("localhost", "80", &hints, &l->res);
    return l;
}

static void calls_resolve(void *arg)
{
    struct lookup *l = arg;
    void *res = NULL;
    if (coco_blocking_call(resolve_localhost, l, &res, COCO_INFINITE) != COCO_OK ||
        res != l)
        l->rc = -1000;
}

START_TEST(test_pool_getaddrinfo)
{
    struct lookup l = { -100, NULL };
    run_one(calls_resolve, &l);
    ck_assert_int_eq(l.rc, 0);
    ck_assert_ptr_nonnull(l.res);
    ck_assert(l.res->ai_family == AF_INET || l.res->ai_family == AF_INET6);
    freeaddrinfo(l.res);
}
END_TEST

/* ------------------------------------------------------------------ fork */

static void calls_plus_one_in_child(void *arg)
{
    void *res = NULL;
    *(int *)arg = coco_blocking_call(plus_one, (void *)1, &res, 5000) == COCO_OK &&
                  res == (void *)2;
}

START_TEST(test_pool_fork_child)
{
    /* The parent has idle helper threads when it forks. */
    ck_assert_int_eq(coco_blocking_set_max_threads(2), COCO_OK);
    reset_counts(2);
    coco_sched_t *s = coco_sched_create();
    for (intptr_t i = 0; i < 4; i++)
        coco_create(s, calls_counted, (void *)(i + 1), 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    ck_assert_int_eq(atomic_load(&peak), 2);

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        alarm(30);
        int ok = 0;
        coco_sched_t *cs = coco_sched_create();
        coco_create(cs, calls_plus_one_in_child, &ok, 0);
        int rc = coco_sched_run(cs);
        coco_sched_destroy(cs);
        _exit(rc == COCO_OK && ok ? 0 : 1);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    ck_assert_int_eq(coco_blocking_set_max_threads(LIMIT), COCO_OK);
}
END_TEST

/* ------------------------------------------------ several schedulers */

#define THREADS 4
#define PER_THREAD 25

struct sched_thread {
    atomic_int right;
    int rc;
};

static void calls_plus_one_checked(void *arg)
{
    struct sched_thread *t = arg;
    for (intptr_t i = 0; i < 4; i++) {
        void *res = NULL;
        if (coco_blocking_call(plus_one, (void *)i, &res, COCO_INFINITE) == COCO_OK &&
            res == (void *)(i + 1))
            atomic_fetch_add(&t->right, 1);
    }
}

static void *scheduler_thread(void *arg)
{
    struct sched_thread *t = arg;
    coco_sched_t *s = coco_sched_create();
    if (s == NULL) {
        t->rc = COCO_ERROR_NOMEM;
        return NULL;
    }
    for (int i = 0; i < PER_THREAD; i++)
        coco_create(s, calls_plus_one_checked, t, 0);
    t->rc = coco_sched_run(s);
    coco_sched_destroy(s);
    return NULL;
}

START_TEST(test_pool_several_schedulers)
{
    ck_assert_int_eq(coco_blocking_set_max_threads(3), COCO_OK);
    struct sched_thread t[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        atomic_init(&t[i].right, 0);
        t[i].rc = -100;
        ck_assert_int_eq(pthread_create(&th[i], NULL, scheduler_thread, &t[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(t[i].rc, COCO_OK);
        ck_assert_int_eq(atomic_load(&t[i].right), PER_THREAD * 4);
    }
    ck_assert_int_eq(coco_blocking_set_max_threads(LIMIT), COCO_OK);
}
END_TEST

/* ----------------------------------------------------------- environment */

/* Run as `check_pool --peak TARGET`: 16 calls at once, and the exit
 * status is the most that ran together. */
static int peak_main(int target)
{
    reset_counts(target);
    coco_sched_t *s = coco_sched_create();
    for (intptr_t i = 0; i < 16; i++)
        coco_create(s, calls_counted, (void *)(i + 1), 0);
    if (coco_sched_run(s) != COCO_OK || atomic_load(&right_results) != 16)
        return 100;
    coco_sched_destroy(s);
    return atomic_load(&peak);
}

/* The peak of a fresh process run with COCO_BLOCKING_THREADS=value. */
static int peak_with_env(const char *value, int target)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    ck_assert_int_gt(n, 0);
    self[n] = '\0';
    char arg[16];
    snprintf(arg, sizeof arg, "%d", target);
    /* In a cross build the program runs under an emulator, named by
     * COCO_TEST_EXEC. */
    const char *run = getenv("COCO_TEST_EXEC");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setenv("COCO_BLOCKING_THREADS", value, 1);
        if (run != NULL && *run != '\0')
            execl(run, run, self, "--peak", arg, (char *)NULL);
        else
            execl(self, self, "--peak", arg, (char *)NULL);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

START_TEST(test_pool_environment)
{
    ck_assert_int_eq(peak_with_env("2", 2), 2);
    ck_assert_int_eq(peak_with_env("6", 6), 6);
    /* Out of range or not a number: the default, 4. */
    ck_assert_int_eq(peak_with_env("0", 4), 4);
    ck_assert_int_eq(peak_with_env("many", 4), 4);
}
END_TEST

#endif /* !_WIN32 */

int main(int argc, char **argv)
{
#ifndef _WIN32
    if (argc == 3 && strcmp(argv[1], "--peak") == 0)
        return peak_main(atoi(argv[2]));
#else
    (void)argc;
    (void)argv;
#endif
    Suite *su = suite_create("pool");
    TCase *tc = tcase_create("pool");
    /* Generous: ThreadSanitizer and valgrind run this many times slower. */
    tcase_set_timeout(tc, 120);
#ifdef COCO_TEST_STATIC_LINK
    /* First: with CK_FORK=no a later case's schedulers on several
     * threads switch the process to shared mode for good. */
    tcase_add_test(tc, test_pool_keeps_single_mode);
#endif
    tcase_add_test(tc, test_pool_result);
    tcase_add_test(tc, test_pool_shared_stack_callers);
    tcase_add_test(tc, test_pool_concurrency_is_the_limit);
    tcase_add_test(tc, test_pool_lower_limit);
    tcase_add_test(tc, test_pool_others_run_while_fn_blocks);
    tcase_add_test(tc, test_pool_timeout_before_start);
    tcase_add_test(tc, test_pool_timeout_after_start);
    tcase_add_test(tc, test_pool_destroy_waiting_coroutine);
    tcase_add_test(tc, test_pool_from_workers);
    tcase_add_test(tc, test_pool_outside_coroutine);
    tcase_add_test(tc, test_pool_set_max_threads_range);
#ifndef _WIN32
    /* Not under valgrind (make check-valgrind sets the variable): glibc
     * keeps a thread's resolver state until the thread ends, and the
     * pool's thread outlives the test, so memcheck finds that state lost
     * at exit (and in every child forked after). */
    if (getenv("COCO_TEST_UNDER_VALGRIND") == NULL)
        tcase_add_test(tc, test_pool_getaddrinfo);
    /* Not under ThreadSanitizer, nor under the emulator of a cross build
     * (COCO_TEST_EXEC): neither lets a process that forked with threads
     * running start threads of its own (qemu-user aborts). */
    if (!COCO_TEST_TSAN && getenv("COCO_TEST_EXEC") == NULL)
        tcase_add_test(tc, test_pool_fork_child);
    tcase_add_test(tc, test_pool_several_schedulers);
    tcase_add_test(tc, test_pool_environment);
#endif
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
