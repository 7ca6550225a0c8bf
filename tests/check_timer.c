/* Timers: coco_sleep, coco_timer, coco_timer_cancel and the timing wheel
 * behind them.  Time bounds are generous: the machine may be busy. */
#include "coco.h"
#include "testutil.h"

#include <stdint.h>
#include <time.h>

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ------------------------------------------------------------ sleep */

static uint64_t slept_us[8];
static int sleep_rc[8];

static void sleeper(void *arg)
{
    intptr_t ms = (intptr_t)arg;
    uint64_t t0 = now_us();
    sleep_rc[0] = coco_sleep((uint64_t)ms);
    slept_us[0] = now_us() - t0;
}

START_TEST(test_sleep_not_early)
{
    static const intptr_t delays[] = { 1, 2, 5, 20, 300 };
    for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++) {
        coco_sched_t *s = coco_sched_create();
        ck_assert_ptr_nonnull(coco_create(s, sleeper, (void *)delays[i], 0));
        ck_assert_int_eq(coco_sched_run(s), COCO_OK);
        ck_assert_int_eq(sleep_rc[0], COCO_OK);
        ck_assert_uint_ge(slept_us[0], (uint64_t)delays[i] * 1000u);
        ck_assert_uint_lt(slept_us[0], (uint64_t)delays[i] * 1000u + 500000u);
        coco_sched_destroy(s);
    }
}
END_TEST

static int order[64];
static int norder;

static void ordered_sleeper(void *arg)
{
    int ms = (int)(intptr_t)arg;
    coco_sleep((uint64_t)ms);
    order[norder++] = ms;
}

START_TEST(test_sleep_deadline_order)
{
    /* Distinct delays in a scrambled order, some crossing a wheel wrap. */
    coco_sched_t *s = coco_sched_create();
    norder = 0;
    for (int i = 0; i < 40; i++) {
        int ms = 3 + (i * 37) % 40 * 9;
        ck_assert_ptr_nonnull(coco_create(s, ordered_sleeper, (void *)(intptr_t)ms, 0));
    }
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(norder, 40);
    for (int i = 1; i < norder; i++)
        ck_assert_int_lt(order[i - 1], order[i]);
    coco_sched_destroy(s);
}
END_TEST

static void zero_sleeper(void *arg)
{
    int *steps = arg;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(coco_sleep(0), COCO_OK);
        (*steps)++;
    }
}

START_TEST(test_sleep_zero_yields)
{
    coco_sched_t *s = coco_sched_create();
    int a = 0, b = 0;
    coco_create(s, zero_sleeper, &a, 0);
    coco_create(s, zero_sleeper, &b, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(a, 3);
    ck_assert_int_eq(b, 3);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_sleep_outside_coroutine)
{
    ck_assert_int_eq(coco_sleep(10), COCO_ERROR_INVALID);
    coco_sched_t *s = coco_sched_create();
    ck_assert_int_eq(coco_sleep(10), COCO_ERROR_INVALID);
    coco_sched_destroy(s);
}
END_TEST

static void long_sleeper(void *arg)
{
    int *woke = arg;
    coco_sleep(60000);
    *woke = 1;
}

static void killer(void *arg)
{
    coco_coro_t *victim = arg;
    coco_sleep(5);
    ck_assert_int_eq(coco_get_state(victim), COCO_STATE_WAITING);
    coco_destroy(victim);
}

START_TEST(test_destroy_sleeping)
{
    coco_sched_t *s = coco_sched_create();
    int woke = 0;
    coco_coro_t *v = coco_create(s, long_sleeper, &woke, 0);
    coco_create(s, killer, v, 0);
    uint64_t t0 = now_ms();
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_uint_lt(now_ms() - t0, 10000);
    ck_assert_int_eq(woke, 0);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_destroy_sched_with_sleepers)
{
    coco_sched_t *s = coco_sched_create();
    int woke = 0;
    for (int i = 0; i < 10; i++)
        coco_create(s, long_sleeper, &woke, 0);
    ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);
    coco_sched_destroy(s); /* nothing leaks, nothing fires */
    ck_assert_int_eq(woke, 0);
}
END_TEST

/* ------------------------------------------------------------ timers */

static int fired[16];
static uint64_t fired_at[16];

static void on_fire(void *arg)
{
    int i = (int)(intptr_t)arg;
    fired[i]++;
    fired_at[i] = now_ms();
}

static void reset_fired(void)
{
    for (int i = 0; i < 16; i++) {
        fired[i] = 0;
        fired_at[i] = 0;
    }
}

START_TEST(test_timer_from_main)
{
    reset_fired();
    coco_sched_t *s = coco_sched_create();
    uint64_t t0 = now_ms();
    coco_timer_t *t = coco_timer(50, on_fire, (void *)(intptr_t)1);
    ck_assert_ptr_nonnull(t);
    /* No coroutine at all: run still waits for the timer. */
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(fired[1], 1);
    ck_assert_uint_ge(fired_at[1] - t0, 50);
    coco_timer_cancel(t); /* after it fired: harmless */
    coco_timer_cancel(t);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_timer_cancel)
{
    reset_fired();
    coco_sched_t *s = coco_sched_create();
    coco_timer_t *a = coco_timer(20, on_fire, (void *)(intptr_t)1);
    coco_timer_t *b = coco_timer(30, on_fire, (void *)(intptr_t)2);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    coco_timer_cancel(a);
    coco_timer_cancel(a); /* twice: harmless */
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(fired[1], 0);
    ck_assert_int_eq(fired[2], 1);
    /* A new timer may reuse a's storage: the old handle must not touch it. */
    coco_timer_t *c = coco_timer(10, on_fire, (void *)(intptr_t)3);
    coco_timer_cancel(a);
    coco_timer_cancel(b);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(fired[3], 1);
    coco_timer_cancel(c);
    coco_timer_cancel(NULL);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_timer_cancel_all_returns)
{
    reset_fired();
    coco_sched_t *s = coco_sched_create();
    coco_timer_t *t = coco_timer(60000, on_fire, NULL);
    coco_timer_cancel(t);
    uint64_t t0 = now_ms();
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_uint_lt(now_ms() - t0, 5000);
    coco_sched_destroy(s);
}
END_TEST

static coco_timer_t *victim_timer;

static void cancel_other(void *arg)
{
    (void)arg;
    fired[4]++;
    coco_timer_cancel(victim_timer);
}

static void rearm(void *arg)
{
    intptr_t left = (intptr_t)arg;
    fired[5]++;
    if (left > 0)
        ck_assert_ptr_nonnull(coco_timer((uint64_t)left, rearm, (void *)(left - 1)));
}

START_TEST(test_timer_callback_arms_and_cancels)
{
    reset_fired();
    coco_sched_t *s = coco_sched_create();
    /* Same slot: the callback cancels a timer of the batch being run. */
    ck_assert_ptr_nonnull(coco_timer(15, cancel_other, NULL));
    victim_timer = coco_timer(15, on_fire, (void *)(intptr_t)6);
    /* Later slot. */
    coco_timer(5, cancel_other, NULL);
    coco_timer_t *late = coco_timer(40, on_fire, (void *)(intptr_t)7);
    ck_assert_ptr_nonnull(coco_timer(1, rearm, (void *)(intptr_t)5));
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(fired[5], 6);
    ck_assert_int_eq(fired[7], 1);
    /* victim_timer was cancelled by the 5 ms callback, then again by the
     * 15 ms one (a stale handle by then). */
    ck_assert_int_eq(fired[6], 0);
    ck_assert_int_eq(fired[4], 2);
    coco_timer_cancel(late);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_timer_order_and_bounds)
{
    reset_fired();
    coco_sched_t *s = coco_sched_create();
    static const int delay[] = { 270, 3, 120, 0, 1, 257, 64, 512 };
    /* A timer's deadline is its delay from when it was armed.  Under
     * valgrind or an emulator arming one can take milliseconds, so the
     * order is only asserted between deadlines that are apart for sure. */
    uint64_t armed[8][2];
    for (int i = 0; i < 8; i++) {
        armed[i][0] = now_ms();
        ck_assert_ptr_nonnull(coco_timer((uint64_t)delay[i], on_fire, (void *)(intptr_t)i));
        armed[i][1] = now_ms();
    }
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    int compared = 0;
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(fired[i], 1);
        ck_assert_uint_ge(fired_at[i] - armed[i][0], (uint64_t)delay[i]);
        for (int j = 0; j < 8; j++)
            if (armed[j][1] + (uint64_t)delay[j] + 1 < armed[i][0] + (uint64_t)delay[i]) {
                ck_assert_uint_le(fired_at[j], fired_at[i]);
                compared++;
            }
    }
    /* However slow the arming, 512 ms and 0 ms stay apart. */
    ck_assert_int_gt(compared, 0);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_timer_bad_input)
{
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_null(coco_timer(10, NULL, NULL));
    coco_timer_cancel((coco_timer_t *)(uintptr_t)0x12345678u); /* unknown */
    coco_sched_destroy(s);
    /* No scheduler on this thread any more. */
    ck_assert_ptr_null(coco_timer(10, on_fire, NULL));
    coco_timer_cancel(NULL);
}
END_TEST

START_TEST(test_destroy_sched_with_timers)
{
    reset_fired();
    coco_sched_t *s = coco_sched_create();
    for (int i = 0; i < 200; i++)
        ck_assert_ptr_nonnull(coco_timer((uint64_t)(1000 + i * 997), on_fire, (void *)(intptr_t)8));
    coco_sched_destroy(s); /* frees them; they never fire */
    ck_assert_int_eq(fired[8], 0);
}
END_TEST

static void spin_timers(void *arg)
{
    (void)arg;
    /* Many arm/cancel cycles reuse handle storage without growing it. */
    for (int i = 0; i < 10000; i++) {
        coco_timer_t *t = coco_timer((uint64_t)(i % 5000), on_fire, (void *)(intptr_t)9);
        ck_assert_ptr_nonnull(t);
        coco_timer_cancel(t);
    }
}

START_TEST(test_timer_churn)
{
    reset_fired();
    coco_sched_t *s = coco_sched_create();
    coco_create(s, spin_timers, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(fired[9], 0);
    coco_sched_destroy(s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("timer");
    TCase *tc = tcase_create("sleep");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_sleep_not_early);
    tcase_add_test(tc, test_sleep_deadline_order);
    tcase_add_test(tc, test_sleep_zero_yields);
    tcase_add_test(tc, test_sleep_outside_coroutine);
    tcase_add_test(tc, test_destroy_sleeping);
    tcase_add_test(tc, test_destroy_sched_with_sleepers);
    suite_add_tcase(su, tc);
    tc = tcase_create("timer");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_timer_from_main);
    tcase_add_test(tc, test_timer_cancel);
    tcase_add_test(tc, test_timer_cancel_all_returns);
    tcase_add_test(tc, test_timer_callback_arms_and_cancels);
    tcase_add_test(tc, test_timer_order_and_bounds);
    tcase_add_test(tc, test_timer_bad_input);
    tcase_add_test(tc, test_destroy_sched_with_timers);
    tcase_add_test(tc, test_timer_churn);
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
