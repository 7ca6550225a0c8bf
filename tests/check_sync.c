/* Mutex, condition variable, semaphore and wait group for coroutines. */
#include "coco.h"
#include "testutil.h"

#include <stdint.h>

static coco_mutex_t *mu;
static coco_cond_t *cv;
static coco_sem_t *sem;
static coco_waitgroup_t *wg;
static int inside, max_inside, order[16], norder, rcs[16], nrc;

static void reset(void)
{
    inside = max_inside = norder = nrc = 0;
    for (int i = 0; i < 16; i++)
        order[i] = rcs[i] = 12345;
}

static void enter(void)
{
    if (++inside > max_inside)
        max_inside = inside;
}

/* ---------------------------------------------------------------- mutex */

START_TEST(test_mutex_bad_input)
{
    ck_assert_int_eq(coco_mutex_lock(NULL), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_mutex_trylock(NULL), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_mutex_lock_timeout(NULL, 1), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_mutex_unlock(NULL), COCO_ERROR_INVALID);
    coco_mutex_destroy(NULL);
    coco_mutex_t *m = coco_mutex_create();
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(coco_mutex_unlock(m), COCO_ERROR_INVALID); /* not locked */
    /* Outside coroutines: a free mutex is taken, a held one would wait. */
    ck_assert_int_eq(coco_mutex_lock(m), COCO_OK);
    ck_assert_int_eq(coco_mutex_trylock(m), COCO_ERROR_WOULDBLOCK);
    ck_assert_int_eq(coco_mutex_lock(m), COCO_ERROR_WOULDBLOCK);
    ck_assert_int_eq(coco_mutex_unlock(m), COCO_OK);
    ck_assert_int_eq(coco_mutex_trylock(m), COCO_OK);
    ck_assert_int_eq(coco_mutex_unlock(m), COCO_OK);
    coco_mutex_destroy(m);
}
END_TEST

static void locker(void *arg)
{
    int id = (int)(intptr_t)arg;
    int rc = coco_mutex_lock(mu);
    if (rc != COCO_OK) {
        rcs[nrc++] = rc;
        return;
    }
    order[norder++] = id;
    enter();
    for (int i = 0; i < 5; i++)
        coco_yield();
    inside--;
    { int rc_ = coco_mutex_unlock(mu); rcs[nrc++] = rc_; }
}

START_TEST(test_mutex_exclusion_fifo)
{
    coco_sched_t *s = coco_sched_create();
    mu = coco_mutex_create();
    reset();
    for (int i = 0; i < 4; i++)
        coco_create(s, locker, (void *)(intptr_t)i, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(max_inside, 1);
    ck_assert_int_eq(norder, 4);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(order[i], i);
        ck_assert_int_eq(rcs[i], COCO_OK);
    }
    coco_mutex_destroy(mu);
    coco_sched_destroy(s);
}
END_TEST

static void misuser(void *arg)
{
    (void)arg;
    rcs[0] = coco_mutex_unlock(mu);           /* held by main */
    coco_mutex_t *m2 = coco_mutex_create();
    rcs[1] = coco_mutex_lock(m2);
    rcs[2] = coco_mutex_lock(m2);             /* not recursive */
    rcs[3] = coco_mutex_unlock(m2);
    coco_mutex_destroy(m2);
}

START_TEST(test_mutex_misuse)
{
    coco_sched_t *s = coco_sched_create();
    mu = coco_mutex_create();
    reset();
    ck_assert_int_eq(coco_mutex_lock(mu), COCO_OK);
    coco_create(s, misuser, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(rcs[0], COCO_ERROR_INVALID);
    ck_assert_int_eq(rcs[1], COCO_OK);
    ck_assert_int_eq(rcs[2], COCO_ERROR_DEADLOCK);
    ck_assert_int_eq(rcs[3], COCO_OK);
    ck_assert_int_eq(coco_mutex_unlock(mu), COCO_OK);
    coco_mutex_destroy(mu);
    coco_sched_destroy(s);
}
END_TEST

static void lock_and_finish(void *arg)
{
    (void)arg;
    rcs[0] = coco_mutex_lock(mu);
}

/* Not the owner, though it has the descriptor of the coroutine that
 * finished holding the mutex. */
static void heir(void *arg)
{
    (void)arg;
    coco_cond_t *c = coco_cond_create();
    rcs[1] = coco_mutex_lock_timeout(mu, 0);
    rcs[2] = coco_mutex_trylock(mu);
    rcs[3] = coco_mutex_unlock(mu);
    rcs[4] = coco_cond_wait_timeout(c, mu, 0);
    coco_cond_destroy(c);
}

START_TEST(test_mutex_owner_descriptor_reused)
{
    coco_sched_t *s = coco_sched_create();
    mu = coco_mutex_create();
    reset();
    coco_coro_t *first = coco_create(s, lock_and_finish, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(rcs[0], COCO_OK);
    coco_destroy(first);
    coco_coro_t *second = coco_create(s, heir, NULL, 0);
    ck_assert_ptr_eq(second, first); /* the recycled descriptor */
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(rcs[1], COCO_ERROR_TIMEOUT);
    ck_assert_int_eq(rcs[2], COCO_ERROR_WOULDBLOCK);
    ck_assert_int_eq(rcs[3], COCO_ERROR_INVALID);
    ck_assert_int_eq(rcs[4], COCO_ERROR_INVALID);
    coco_mutex_destroy(mu);
    coco_sched_destroy(s);
}
END_TEST

static void holder(void *arg)
{
    coco_mutex_lock(mu);
    coco_sleep((uint64_t)(intptr_t)arg);
    coco_mutex_unlock(mu);
}
static void timed_locker(void *arg)
{
    { int rc_ = coco_mutex_lock_timeout(mu, (uint64_t)(intptr_t)arg); rcs[nrc++] = rc_; }
    if (rcs[nrc - 1] == COCO_OK)
        coco_mutex_unlock(mu);
}

START_TEST(test_mutex_timeout)
{
    coco_sched_t *s = coco_sched_create();
    mu = coco_mutex_create();
    reset();
    coco_create(s, holder, (void *)(intptr_t)60, 0);
    coco_create(s, timed_locker, (void *)(intptr_t)10, 0);
    coco_create(s, timed_locker, (void *)(intptr_t)0, 0);
    coco_create(s, timed_locker, (void *)(intptr_t)10000, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(rcs[0], COCO_ERROR_TIMEOUT); /* timeout 0 */
    ck_assert_int_eq(rcs[1], COCO_ERROR_TIMEOUT); /* 10 ms */
    ck_assert_int_eq(rcs[2], COCO_OK);
    ck_assert_int_eq(coco_mutex_trylock(mu), COCO_OK);
    coco_mutex_destroy(mu);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_mutex_destroy_with_waiters)
{
    coco_sched_t *s = coco_sched_create();
    mu = coco_mutex_create();
    reset();
    ck_assert_int_eq(coco_mutex_lock(mu), COCO_OK);
    coco_create(s, locker, (void *)(intptr_t)1, 0);
    coco_create(s, locker, (void *)(intptr_t)2, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    coco_mutex_destroy(mu);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(nrc, 2);
    ck_assert_int_eq(rcs[0], COCO_ERROR_INVALID);
    ck_assert_int_eq(rcs[1], COCO_ERROR_INVALID);
    ck_assert_int_eq(norder, 0);
    coco_sched_destroy(s);
}
END_TEST

/* ----------------------------------------------------------------- cond */

static int ready_flag, woken;
static void cond_waiter(void *arg)
{
    (void)arg;
    coco_mutex_lock(mu);
    while (!ready_flag) {
        int rc = coco_cond_wait(cv, mu);
        if (rc != COCO_OK) {
            rcs[nrc++] = rc;
            break;
        }
    }
    woken++;
    /* The wait gave the mutex back: unlocking it must succeed. */
    { int rc_ = coco_mutex_unlock(mu); rcs[nrc++] = rc_; }
}

START_TEST(test_cond_signal_broadcast)
{
    coco_sched_t *s = coco_sched_create();
    mu = coco_mutex_create();
    cv = coco_cond_create();
    reset();
    ready_flag = woken = 0;
    for (int i = 0; i < 3; i++)
        coco_create(s, cond_waiter, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    ck_assert_int_eq(woken, 0);
    ready_flag = 1;
    ck_assert_int_eq(coco_cond_signal(cv), COCO_OK);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    ck_assert_int_eq(woken, 1);
    ck_assert_int_eq(coco_cond_broadcast(cv), COCO_OK);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(woken, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(rcs[i], COCO_OK);
    ck_assert_int_eq(coco_cond_signal(cv), COCO_OK); /* nobody waits */
    coco_cond_destroy(cv);
    coco_mutex_destroy(mu);
    coco_sched_destroy(s);
}
END_TEST

static void cond_timed(void *arg)
{
    (void)arg;
    coco_mutex_lock(mu);
    rcs[0] = coco_cond_wait_timeout(cv, mu, 15);
    rcs[1] = coco_mutex_unlock(mu);
    rcs[2] = coco_cond_wait(cv, mu); /* mutex not held */
}

START_TEST(test_cond_timeout_and_misuse)
{
    ck_assert_int_eq(coco_cond_signal(NULL), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_cond_broadcast(NULL), COCO_ERROR_INVALID);
    coco_cond_destroy(NULL);
    coco_sched_t *s = coco_sched_create();
    mu = coco_mutex_create();
    cv = coco_cond_create();
    ck_assert_int_eq(coco_cond_wait(NULL, mu), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_cond_wait(cv, NULL), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_cond_wait_timeout(NULL, mu, 5), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_cond_wait_timeout(cv, mu, 5), COCO_ERROR_INVALID); /* not held */
    ck_assert_int_eq(coco_mutex_lock(mu), COCO_OK);
    ck_assert_int_eq(coco_cond_wait(cv, mu), COCO_ERROR_WOULDBLOCK); /* outside */
    ck_assert_int_eq(coco_mutex_unlock(mu), COCO_OK);
    reset();
    coco_create(s, cond_timed, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(rcs[0], COCO_ERROR_TIMEOUT);
    ck_assert_int_eq(rcs[1], COCO_OK);
    ck_assert_int_eq(rcs[2], COCO_ERROR_INVALID);
    coco_cond_destroy(cv);
    coco_mutex_destroy(mu);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_cond_destroy_with_waiters)
{
    coco_sched_t *s = coco_sched_create();
    mu = coco_mutex_create();
    cv = coco_cond_create();
    reset();
    ready_flag = woken = 0;
    coco_create(s, cond_waiter, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    coco_cond_destroy(cv);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(rcs[0], COCO_ERROR_INVALID);
    ck_assert_int_eq(rcs[1], COCO_OK); /* still got the mutex back */
    coco_mutex_destroy(mu);
    coco_sched_destroy(s);
}
END_TEST

/* ------------------------------------------------------------ semaphore */

START_TEST(test_sem_counts)
{
    ck_assert_int_eq(coco_sem_wait(NULL), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_sem_trywait(NULL), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_sem_wait_timeout(NULL, 1), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_sem_post(NULL), COCO_ERROR_INVALID);
    ck_assert_uint_eq(coco_sem_value(NULL), 0);
    coco_sem_destroy(NULL);
    coco_sem_t *sm = coco_sem_create(2);
    ck_assert_uint_eq(coco_sem_value(sm), 2);
    ck_assert_int_eq(coco_sem_trywait(sm), COCO_OK);
    ck_assert_int_eq(coco_sem_wait(sm), COCO_OK);
    ck_assert_int_eq(coco_sem_trywait(sm), COCO_ERROR_WOULDBLOCK);
    ck_assert_int_eq(coco_sem_wait(sm), COCO_ERROR_WOULDBLOCK); /* outside */
    ck_assert_int_eq(coco_sem_post(sm), COCO_OK);
    ck_assert_uint_eq(coco_sem_value(sm), 1);
    coco_sem_destroy(sm);
}
END_TEST

static void sem_worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    int rc = coco_sem_wait(sem);
    if (rc != COCO_OK) {
        rcs[nrc++] = rc;
        return;
    }
    order[norder++] = id;
    enter();
    for (int i = 0; i < 3; i++)
        coco_yield();
    inside--;
    coco_sem_post(sem);
}

START_TEST(test_sem_limits_and_fifo)
{
    coco_sched_t *s = coco_sched_create();
    sem = coco_sem_create(3);
    reset();
    for (int i = 0; i < 10; i++)
        coco_create(s, sem_worker, (void *)(intptr_t)i, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(max_inside, 3);
    ck_assert_int_eq(norder, 10);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(order[i], i);
    ck_assert_uint_eq(coco_sem_value(sem), 3);
    coco_sem_destroy(sem);
    coco_sched_destroy(s);
}
END_TEST

static void sem_timed(void *arg)
{
    { int rc_ = coco_sem_wait_timeout(sem, (uint64_t)(intptr_t)arg); rcs[nrc++] = rc_; }
}

START_TEST(test_sem_timeout_and_destroy)
{
    coco_sched_t *s = coco_sched_create();
    sem = coco_sem_create(0);
    reset();
    coco_create(s, sem_timed, (void *)(intptr_t)10, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(rcs[0], COCO_ERROR_TIMEOUT);
    /* The timed-out waiter left: a post is kept, not lost to it. */
    ck_assert_int_eq(coco_sem_post(sem), COCO_OK);
    ck_assert_uint_eq(coco_sem_value(sem), 1);
    ck_assert_int_eq(coco_sem_trywait(sem), COCO_OK);
    coco_create(s, sem_timed, (void *)(intptr_t)COCO_INFINITE, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    coco_sem_destroy(sem);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(rcs[1], COCO_ERROR_INVALID);
    coco_sched_destroy(s);
}
END_TEST

/* ------------------------------------------------------------ waitgroup */

static int finished;
static void wg_worker(void *arg)
{
    for (int i = 0; i < (int)(intptr_t)arg; i++)
        coco_yield();
    finished++;
    coco_waitgroup_done(wg);
}
static void wg_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++) {
        coco_waitgroup_add(wg, 1);
        coco_create(coco_self()->sched, wg_worker, (void *)(intptr_t)(i * 3), 0);
    }
    rcs[0] = coco_waitgroup_wait(wg);
    order[0] = finished;
}

START_TEST(test_waitgroup)
{
    coco_sched_t *s = coco_sched_create();
    wg = coco_waitgroup_create();
    reset();
    finished = 0;
    coco_create(s, wg_main, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(rcs[0], COCO_OK);
    ck_assert_int_eq(order[0], 5);
    ck_assert_int_eq(coco_waitgroup_wait(wg), COCO_OK); /* zero: no wait */
    coco_waitgroup_destroy(wg);
    coco_sched_destroy(s);
}
END_TEST

static void wg_timed(void *arg)
{
    { int rc_ = coco_waitgroup_wait_timeout(wg, (uint64_t)(intptr_t)arg); rcs[nrc++] = rc_; }
}

START_TEST(test_waitgroup_errors)
{
    ck_assert_int_eq(coco_waitgroup_add(NULL, 1), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_waitgroup_done(NULL), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_waitgroup_wait(NULL), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_waitgroup_wait_timeout(NULL, 1), COCO_ERROR_INVALID);
    coco_waitgroup_destroy(NULL);
    coco_sched_t *s = coco_sched_create();
    wg = coco_waitgroup_create();
    ck_assert_int_eq(coco_waitgroup_done(wg), COCO_ERROR_INVALID); /* below 0 */
    ck_assert_int_eq(coco_waitgroup_add(wg, 2), COCO_OK);
    ck_assert_int_eq(coco_waitgroup_add(wg, -3), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_waitgroup_wait(wg), COCO_ERROR_WOULDBLOCK); /* outside */
    reset();
    coco_create(s, wg_timed, (void *)(intptr_t)10, 0);
    coco_create(s, wg_timed, (void *)(intptr_t)0, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(rcs[0], COCO_ERROR_TIMEOUT);
    ck_assert_int_eq(rcs[1], COCO_ERROR_TIMEOUT);
    coco_create(s, wg_timed, (void *)(intptr_t)COCO_INFINITE, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    coco_waitgroup_destroy(wg);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(rcs[2], COCO_ERROR_INVALID);
    coco_sched_destroy(s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("sync");
    TCase *tc = tcase_create("mutex");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_mutex_bad_input);
    tcase_add_test(tc, test_mutex_exclusion_fifo);
    tcase_add_test(tc, test_mutex_misuse);
    tcase_add_test(tc, test_mutex_owner_descriptor_reused);
    tcase_add_test(tc, test_mutex_timeout);
    tcase_add_test(tc, test_mutex_destroy_with_waiters);
    suite_add_tcase(su, tc);
    tc = tcase_create("cond");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_cond_signal_broadcast);
    tcase_add_test(tc, test_cond_timeout_and_misuse);
    tcase_add_test(tc, test_cond_destroy_with_waiters);
    suite_add_tcase(su, tc);
    tc = tcase_create("sem");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_sem_counts);
    tcase_add_test(tc, test_sem_limits_and_fifo);
    tcase_add_test(tc, test_sem_timeout_and_destroy);
    suite_add_tcase(su, tc);
    tc = tcase_create("waitgroup");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_waitgroup);
    tcase_add_test(tc, test_waitgroup_errors);
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
