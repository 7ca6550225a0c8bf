/*
 * check_urgent.c - urgent coroutines: they run before every ready
 * coroutine that is not urgent, in the order they became ready.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"
#include "testutil.h"

#include <check.h>
#include <string.h>

/* ------------------------------------------------------------- the log */

#define LOG_MAX 256

static char run_log[LOG_MAX + 1];
static int log_n;

static void log_reset(void)
{
    memset(run_log, 0, sizeof run_log);
    log_n = 0;
}

static void log_put(char c)
{
    if (log_n < LOG_MAX)
        run_log[log_n++] = c;
}

/* Logs its letter, then yields, times times over. */
struct stepper {
    char name;
    int times;
};

static void stepper(void *arg)
{
    const struct stepper *st = arg;
    for (int i = 0; i < st->times; i++) {
        log_put(st->name);
        coco_yield();
    }
}

static coco_coro_t *make(coco_sched_t *s, void (*fn)(void *), void *arg,
                         unsigned flags)
{
    coco_attr_t a;
    ck_assert_int_eq(coco_attr_init(&a), COCO_OK);
    a.flags = flags;
    coco_coro_t *co = coco_create_attr(s, fn, arg, &a);
    ck_assert_ptr_nonnull(co);
    return co;
}

/* ---------------------------------------------------------------- order */

/* Strict priority: an urgent coroutine that yields with no other urgent
 * one ready goes on running; the others wait until it is done. */
START_TEST(test_urgent_runs_first_and_keeps_running)
{
    log_reset();
    coco_sched_t *s = coco_sched_create();
    struct stepper a = { 'a', 3 }, b = { 'b', 3 }, u = { 'U', 3 };
    make(s, stepper, &a, 0);
    make(s, stepper, &b, 0);
    make(s, stepper, &u, COCO_ATTR_URGENT);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_str_eq(run_log, "UUUababab");
    coco_sched_destroy(s);
}
END_TEST

/* Urgent ones take turns among themselves, in the order they became
 * ready, before the others. */
START_TEST(test_urgent_ones_take_turns)
{
    log_reset();
    coco_sched_t *s = coco_sched_create();
    struct stepper a = { 'a', 2 }, u = { 'U', 3 }, v = { 'V', 2 };
    make(s, stepper, &a, 0);
    make(s, stepper, &u, COCO_ATTR_URGENT);
    make(s, stepper, &v, COCO_ATTR_URGENT);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_str_eq(run_log, "UVUVUaa");
    coco_sched_destroy(s);
}
END_TEST

/* ------------------------------------------------------------ wake-ups */

static coco_channel_t *wake_ch;

static void urgent_receiver(void *arg)
{
    (void)arg;
    void *v;
    while (coco_channel_recv(wake_ch, &v) == COCO_OK)
        log_put((char)(intptr_t)v);
}

/* Sends its letter in upper case on its second step. */
static void sender(void *arg)
{
    const struct stepper *st = arg;
    for (int i = 0; i < st->times; i++) {
        log_put(st->name);
        if (i == 1)
            ck_assert_int_eq(coco_channel_try_send(wake_ch,
                                                   (void *)(intptr_t)(st->name - 'a' + 'A')),
                             COCO_OK);
        coco_yield();
    }
}

/* A parked urgent coroutine, once woken, runs before the coroutines that
 * were ready before it. */
START_TEST(test_woken_urgent_goes_first)
{
    log_reset();
    coco_sched_t *s = coco_sched_create();
    wake_ch = coco_channel_create(0);
    struct stepper a = { 'a', 3 }, b = { 'b', 3 };
    make(s, urgent_receiver, NULL, COCO_ATTR_URGENT);
    make(s, sender, &a, 0);
    make(s, stepper, &b, 0);
    /* The receiver parks first; then a, b, a (sends A, which the receiver
     * takes at once: it runs before b), b, a, b; then only the receiver
     * is left, waiting for ever. */
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    ck_assert_str_eq(run_log, "abaAbab");
    coco_channel_destroy(wake_ch);
    coco_sched_destroy(s);
}
END_TEST

static void timed_urgent(void *arg)
{
    (void)arg;
    ck_assert_int_eq(coco_sleep(20), COCO_OK);
    log_put('U');
}

static int busy_steps;

/* Yields until the urgent sleeper has logged, counting its steps after
 * that: none may come between the sleeper's wake-up and its run. */
static void busy_until_logged(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000000 && strchr(run_log, 'U') == NULL; i++) {
        busy_steps++;
        coco_yield();
    }
}

/* Woken by its timer while the others keep yielding: it runs as soon as
 * the loop sees the timer, ahead of them all. */
START_TEST(test_urgent_woken_by_timer)
{
    log_reset();
    busy_steps = 0;
    coco_sched_t *s = coco_sched_create();
    make(s, timed_urgent, NULL, COCO_ATTR_URGENT);
    make(s, busy_until_logged, NULL, 0);
    make(s, busy_until_logged, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_str_eq(run_log, "U");
    ck_assert_int_gt(busy_steps, 0);
    coco_sched_destroy(s);
}
END_TEST

/* ------------------------------------------------------ coco_set_urgent */

/* Queued coroutines move when they become urgent or stop being urgent. */
START_TEST(test_set_urgent_moves_queued)
{
    log_reset();
    coco_sched_t *s = coco_sched_create();
    struct stepper a = { 'a', 1 }, b = { 'b', 1 }, c = { 'c', 1 }, d = { 'd', 1 };
    coco_coro_t *ca = make(s, stepper, &a, 0);
    make(s, stepper, &b, 0);
    coco_coro_t *cc = make(s, stepper, &c, 0);
    coco_coro_t *cd = make(s, stepper, &d, COCO_ATTR_URGENT);
    ck_assert_int_eq(coco_is_urgent(cd), 1);
    ck_assert_int_eq(coco_is_urgent(ca), 0);
    ck_assert_int_eq(coco_set_urgent(cc, 1), COCO_OK);  /* c d a b */
    ck_assert_int_eq(coco_set_urgent(cc, 1), COCO_OK);  /* no change */
    ck_assert_int_eq(coco_set_urgent(cd, 0), COCO_OK);  /* c a b d */
    ck_assert_int_eq(coco_set_urgent(ca, 1), COCO_OK);  /* c a b d */
    ck_assert_int_eq(coco_is_urgent(cc), 1);
    ck_assert_int_eq(coco_is_urgent(cd), 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_str_eq(run_log, "cabd");
    coco_sched_destroy(s);
}
END_TEST

static coco_coro_t *to_promote;

/* Makes another coroutine urgent from inside, then yields: that one runs
 * next, ahead of those queued before it. */
static void promoter(void *arg)
{
    (void)arg;
    log_put('p');
    ck_assert_int_eq(coco_set_urgent(to_promote, 1), COCO_OK);
    coco_yield();
    log_put('p');
}

/* A running coroutine makes itself urgent: the others wait. */
static void self_promoter(void *arg)
{
    (void)arg;
    log_put('s');
    coco_yield();
    ck_assert_int_eq(coco_set_urgent(coco_self(), 1), COCO_OK);
    for (int i = 0; i < 3; i++) {
        log_put('S');
        coco_yield();
    }
    ck_assert_int_eq(coco_set_urgent(coco_self(), 0), COCO_OK);
    coco_yield();
    log_put('s');
}

START_TEST(test_set_urgent_while_running)
{
    log_reset();
    coco_sched_t *s = coco_sched_create();
    struct stepper a = { 'a', 3 }, z = { 'z', 1 };
    make(s, promoter, NULL, 0);
    make(s, stepper, &a, 0);
    to_promote = make(s, stepper, &z, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    /* p, then z (made urgent, queued behind a), then a and p... */
    ck_assert_str_eq(run_log, "pzapaa");
    coco_sched_destroy(s);

    log_reset();
    s = coco_sched_create();
    struct stepper b = { 'b', 4 };
    make(s, self_promoter, NULL, 0);
    make(s, stepper, &b, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_str_eq(run_log, "sbSSSbsbb");
    coco_sched_destroy(s);
}
END_TEST

/* -------------------------------------------------- more than one thing */

/* Urgent coroutines on shared stacks, destroyed while queued, and many
 * of each kind: the order holds and nothing is lost. */
static int finished_n;
static void count_finish(void *arg)
{
    const struct stepper *st = arg;
    for (int i = 0; i < st->times; i++) {
        log_put(st->name);
        coco_yield();
    }
    finished_n++;
}

START_TEST(test_urgent_mixed_kinds_and_destroys)
{
    log_reset();
    finished_n = 0;
    coco_sched_t *s = coco_sched_create();
    struct stepper o = { 'o', 2 }, u = { 'U', 2 }, x = { 'X', 2 };
    /* Shared stacks where the build has them (not ucontext, Windows or
     * AddressSanitizer). */
    unsigned shared = coco_test_shared_stacks() ? COCO_ATTR_SHARED_STACK : 0;
    coco_coro_t *victims[4];
    for (int i = 0; i < 4; i++) {
        make(s, count_finish, &o, i % 2 ? shared : 0);
        make(s, count_finish, &u, COCO_ATTR_URGENT | (i % 2 ? shared : 0));
        victims[i] = make(s, count_finish, &x, i % 2 ? COCO_ATTR_URGENT : 0);
    }
    /* Destroyed while queued, urgent or not: the rest of the queue stays
     * in order. */
    for (int i = 0; i < 4; i++)
        coco_destroy(victims[i]);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(finished_n, 8);
    ck_assert_str_eq(run_log, "UUUUUUUUoooooooo");
    coco_sched_destroy(s);
}
END_TEST

/* ------------------------------------------------------------ bad input */

static void nothing(void *arg)
{
    (void)arg;
}

START_TEST(test_urgent_bad_input)
{
    ck_assert_int_eq(coco_set_urgent(NULL, 1), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_is_urgent(NULL), 0);
    coco_sched_t *s = coco_sched_create();
    coco_coro_t *co = coco_create(s, nothing, NULL, 0);
    ck_assert_ptr_nonnull(co);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    /* Finished (and joinable): no longer anything to rank. */
    ck_assert_int_eq(coco_set_urgent(co, 1), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_is_urgent(co), 0);
    coco_destroy(co);
    /* Flags the attribute does not know are still refused. */
    coco_attr_t a;
    coco_attr_init(&a);
    a.flags = COCO_ATTR_URGENT | 0x80u;
    ck_assert_ptr_null(coco_create_attr(s, nothing, NULL, &a));
    coco_sched_destroy(s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("urgent");
    TCase *tc = tcase_create("urgent");
    tcase_add_test(tc, test_urgent_runs_first_and_keeps_running);
    tcase_add_test(tc, test_urgent_ones_take_turns);
    tcase_add_test(tc, test_woken_urgent_goes_first);
    tcase_add_test(tc, test_urgent_woken_by_timer);
    tcase_add_test(tc, test_set_urgent_moves_queued);
    tcase_add_test(tc, test_set_urgent_while_running);
    tcase_add_test(tc, test_urgent_mixed_kinds_and_destroys);
    tcase_add_test(tc, test_urgent_bad_input);
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
