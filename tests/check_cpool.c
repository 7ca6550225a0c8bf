/* Bounded coroutine pools through the public header: the bound holds,
 * submissions wait and time out, a thousand complete, destroy is refused
 * while work is unfinished or a call is parked, bad input. */
#include "coco.h"
#include "testutil.h"

#include <errno.h>
#include <stdint.h>
#ifndef _WIN32
#include <pthread.h>
#endif

static int cur, max_seen, done;
static uint64_t sum;
static coco_sem_t *gate;

static void work(void *arg)
{
    if (++cur > max_seen)
        max_seen = cur;
    for (int i = 0; i < (int)((uintptr_t)arg % 3); i++)
        coco_yield();
    sum += (uintptr_t)arg;
    done++;
    cur--;
}

/* Waits on the gate: holds its place until the test opens it. */
static void held(void *arg)
{
    (void)arg;
    if (++cur > max_seen)
        max_seen = cur;
    coco_sem_wait(gate);
    done++;
    cur--;
}

static void reset(void)
{
    cur = max_seen = done = 0;
    sum = 0;
}

START_TEST(test_bad_input)
{
    coco_sched_t *s = coco_sched_create();
    errno = 0;
    ck_assert_ptr_null(coco_pool_create(NULL, 4, 0));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(coco_pool_create(s, 0, 0));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coco_pool_submit(NULL, work, NULL, 0), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_pool_wait(NULL, 0), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_pool_destroy(NULL), COCO_ERROR_INVALID);
    ck_assert_uint_eq(coco_pool_running(NULL), 0);
    coco_pool_t *pool = coco_pool_create(s, 2, 0);
    ck_assert_ptr_nonnull(pool);
    ck_assert_int_eq(coco_pool_submit(pool, NULL, NULL, 0), COCO_ERROR_INVALID);
    /* Nothing submitted: waiting is done at once, even outside. */
    ck_assert_int_eq(coco_pool_wait(pool, COCO_INFINITE), COCO_OK);
    /* A stack size the scheduler refuses. */
    coco_pool_t *bad = coco_pool_create(s, 2, SIZE_MAX);
    ck_assert_ptr_nonnull(bad);
    ck_assert_int_ne(coco_pool_submit(bad, work, NULL, 0), COCO_OK);
    ck_assert_int_eq(coco_pool_destroy(bad), COCO_OK); /* its place came back */
    ck_assert_int_eq(coco_pool_destroy(pool), COCO_OK);
    coco_sched_destroy(s);
}
END_TEST

/* Outside a coroutine: up to max submissions go in, the next would wait. */
START_TEST(test_submit_outside)
{
    coco_sched_t *s = coco_sched_create();
    coco_pool_t *pool = coco_pool_create(s, 3, 0);
    reset();
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(coco_pool_submit(pool, work, (void *)(uintptr_t)(i + 1), 0), COCO_OK);
    ck_assert_int_eq(coco_pool_submit(pool, work, NULL, COCO_INFINITE), COCO_ERROR_WOULDBLOCK);
    ck_assert_int_eq(coco_pool_wait(pool, COCO_INFINITE), COCO_ERROR_WOULDBLOCK);
    ck_assert_int_eq(coco_pool_destroy(pool), COCO_ERROR_WOULDBLOCK);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(done, 3);
    ck_assert_uint_eq(sum, 6);
    ck_assert_int_eq(coco_pool_wait(pool, 0), COCO_OK);
    ck_assert_int_eq(coco_pool_destroy(pool), COCO_OK);
    coco_sched_destroy(s);
}
END_TEST

static coco_pool_t *g_pool;
static int submit_rc_bad, waited;

static void submitter(void *arg)
{
    int n = (int)(intptr_t)arg;
    for (int i = 1; i <= n; i++)
        if (coco_pool_submit(g_pool, work, (void *)(uintptr_t)i, COCO_INFINITE) != COCO_OK)
            submit_rc_bad++;
    if (coco_pool_wait(g_pool, COCO_INFINITE) == COCO_OK && done == n && cur == 0)
        waited = 1;
}

START_TEST(test_bound_and_many)
{
    coco_sched_t *s = coco_sched_create();
    g_pool = coco_pool_create(s, 4, 16 * 1024);
    reset();
    submit_rc_bad = waited = 0;
    coco_create(s, submitter, (void *)(intptr_t)1000, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(submit_rc_bad, 0);
    ck_assert_int_eq(waited, 1);
    ck_assert_int_eq(done, 1000);
    ck_assert_uint_eq(sum, 1000u * 1001u / 2);
    ck_assert_int_eq(max_seen, 4); /* reached, never passed */
    ck_assert_uint_eq(coco_pool_running(g_pool), 0);
    ck_assert_int_eq(coco_pool_destroy(g_pool), COCO_OK);
    coco_sched_destroy(s);
}
END_TEST

/* Several submitters at once share the places. */
START_TEST(test_many_submitters)
{
    coco_sched_t *s = coco_sched_create();
    g_pool = coco_pool_create(s, 3, 0);
    reset();
    submit_rc_bad = waited = 0;
    for (int i = 0; i < 10; i++)
        coco_create(s, submitter, (void *)(intptr_t)100, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(submit_rc_bad, 0);
    ck_assert_int_eq(done, 1000);
    ck_assert_uint_eq(sum, 10u * (100u * 101u / 2));
    ck_assert_int_eq(max_seen, 3);
    ck_assert_int_eq(coco_pool_destroy(g_pool), COCO_OK);
    coco_sched_destroy(s);
}
END_TEST

static int steps;

static void awkward(void *arg)
{
    (void)arg;
    /* max 1: the first holds its place on the gate. */
    ck_assert_int_eq(coco_pool_submit(g_pool, held, NULL, COCO_INFINITE), COCO_OK);
    coco_yield();
    ck_assert_uint_eq(coco_pool_running(g_pool), 1);
    ck_assert_int_eq(coco_pool_submit(g_pool, held, NULL, 0), COCO_ERROR_TIMEOUT);
    ck_assert_int_eq(coco_pool_submit(g_pool, held, NULL, 20), COCO_ERROR_TIMEOUT);
    ck_assert_int_eq(coco_pool_wait(g_pool, 20), COCO_ERROR_TIMEOUT);
    /* Work running: destroy refuses and changes nothing. */
    ck_assert_int_eq(coco_pool_destroy(g_pool), COCO_ERROR_WOULDBLOCK);
    steps = 1;
    /* Parks until the gate opens. */
    ck_assert_int_eq(coco_pool_submit(g_pool, work, (void *)(uintptr_t)5, COCO_INFINITE), COCO_OK);
    steps = 3;
    ck_assert_int_eq(coco_pool_wait(g_pool, COCO_INFINITE), COCO_OK);
    ck_assert_int_eq(done, 2);
    ck_assert_int_eq(coco_pool_destroy(g_pool), COCO_OK);
    steps = 4;
}

static void opener(void *arg)
{
    (void)arg;
    while (steps != 1)
        coco_yield();
    coco_yield();
    /* A submitter is parked in the pool: destroying it now would leave it
     * nothing to come back to. */
    ck_assert_int_eq(coco_pool_destroy(g_pool), COCO_ERROR_WOULDBLOCK);
    steps = 2;
    coco_sem_post(gate);
}

START_TEST(test_waits_timeouts_destroy)
{
    coco_sched_t *s = coco_sched_create();
    g_pool = coco_pool_create(s, 1, 0);
    gate = coco_sem_create(0);
    reset();
    steps = 0;
    coco_create(s, awkward, NULL, 0);
    coco_create(s, opener, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(steps, 4);
    ck_assert_int_eq(max_seen, 1);
    coco_sem_destroy(gate);
    coco_sched_destroy(s);
}
END_TEST

/* The pool belongs to its scheduler: a foreign scheduler's coroutine... is
 * not tested here; a second scheduler on the same thread may submit. */
START_TEST(test_submit_from_other_sched)
{
    coco_sched_t *s = coco_sched_create();
    coco_sched_t *t = coco_sched_create();
    g_pool = coco_pool_create(s, 2, 0);
    reset();
    submit_rc_bad = waited = 0;
    coco_create(t, submitter, (void *)(intptr_t)2, 0);
    /* The submitter's wait parks on t until s runs the work. */
    ck_assert_int_eq(coco_sched_run_once(t), COCO_OK);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(coco_sched_run(t), COCO_OK);
    ck_assert_int_eq(done, 2);
    ck_assert_int_eq(waited, 1);
    ck_assert_int_eq(coco_pool_destroy(g_pool), COCO_OK);
    coco_sched_destroy(t);
    coco_sched_destroy(s);
}
END_TEST

#ifndef _WIN32
/* While the pool's scheduler runs, a coroutine of a scheduler on another
 * thread may not submit: the pool's coroutines would be made on a
 * scheduler that thread does not run. */
static int foreign_rc, foreign_done;

static void foreign_submitter(void *arg)
{
    (void)arg;
    __atomic_store_n(&foreign_rc, coco_pool_submit(g_pool, work, NULL, COCO_INFINITE),
                     __ATOMIC_RELAXED);
}

static void *foreign_thread(void *arg)
{
    (void)arg;
    coco_sched_t *t = coco_sched_create();
    coco_create(t, foreign_submitter, NULL, 0);
    coco_sched_run(t);
    coco_sched_destroy(t);
    __atomic_store_n(&foreign_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void foreign_host(void *arg)
{
    (void)arg;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, foreign_thread, NULL), 0);
    while (!__atomic_load_n(&foreign_done, __ATOMIC_ACQUIRE))
        coco_sleep(1);
    pthread_join(th, NULL);
}

START_TEST(test_submit_from_other_thread)
{
    coco_sched_t *s = coco_sched_create();
    g_pool = coco_pool_create(s, 2, 0);
    reset();
    foreign_rc = 12345;
    foreign_done = 0;
    coco_create(s, foreign_host, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(foreign_rc, COCO_ERROR_INVALID);
    /* Refused, the submission gave its place back. */
    ck_assert_int_eq(coco_pool_destroy(g_pool), COCO_OK);
    ck_assert_int_eq(done, 0);
    coco_sched_destroy(s);
}
END_TEST
#endif

int main(void)
{
    Suite *su = suite_create("cpool");
    TCase *tc = tcase_create("cpool");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_submit_outside);
    tcase_add_test(tc, test_bound_and_many);
    tcase_add_test(tc, test_many_submitters);
    tcase_add_test(tc, test_waits_timeouts_destroy);
    tcase_add_test(tc, test_submit_from_other_sched);
#ifndef _WIN32
    tcase_add_test(tc, test_submit_from_other_thread);
#endif
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
