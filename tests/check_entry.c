/*
 * check_entry.c - how a coroutine starts and how it ends when its function
 * simply returns.
 *
 * The context switch calls the coroutine's function from the first frame
 * of its context, with no wrapper of the library in between, and calls
 * the library back when the function returns.  These cases hold that path
 * to what coco_exit(self, NULL) would do: the function gets its argument
 * on an ABI-aligned stack, coco_join() hands the NULL result to parked and
 * late joiners, and detached coroutines are finished and freed.  Each
 * runs on both kinds of stack: a coroutine's own, and a shared one (where
 * the build has them), with more coroutines than shared stacks so that
 * frames are copied out and back between the start and the return.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"
#include "coco.h"
#include "testutil.h"

#include <stddef.h>
#include <stdint.h>

/* Where coco_create_attr() refuses shared stacks (see coco_create_attr(3)):
 * the ucontext switch, Windows, and AddressSanitizer builds. */
#if COCO_USE_UCONTEXT || defined(_WIN32) || COCO_TEST_ASAN
#  define STACK_KINDS 1
#else
#  define STACK_KINDS 2
#endif

/* More than the shared stacks of one size (four), so that they are
 * shared for real. */
#define N 9

/* _i of a loop test: 0 = own stacks, 1 = shared stacks. */
static coco_coro_t *spawn(coco_sched_t *s, int kind, void (*fn)(void *), void *arg)
{
    coco_attr_t a;
    ck_assert_int_eq(coco_attr_init(&a), COCO_OK);
    if (kind == 1)
        a.flags = COCO_ATTR_SHARED_STACK;
    coco_coro_t *c = coco_create_attr(s, fn, arg, &a);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* Through a volatile, so that the compiler cannot answer from the
 * alignment it assumes the stack has. */
static int aligned_for_any_type(void *p)
{
    void *volatile seen = p;
    return (uintptr_t)seen % _Alignof(max_align_t) == 0;
}

static int started, ended, misaligned;
static intptr_t arg_sum;

/* Records its argument and whether its stack was aligned as the ABI wants
 * at a function's entry (a local of the strictest alignment lands on such
 * an address only then), parks twice, and returns. */
static void returner(void *arg)
{
    max_align_t local;
    if (!aligned_for_any_type(&local))
        misaligned++;
    started++;
    arg_sum += (intptr_t)arg;
    coco_yield();
    coco_sleep(1);
    ended++;
}

static void exits_with_arg(void *arg)
{
    coco_exit(coco_self(), arg);
}

static coco_coro_t *targets[N];
static void *join_results[N];
static int joins_done;

static void joiner(void *arg)
{
    intptr_t i = (intptr_t)arg;
    join_results[i] = coco_join(targets[i]);
    joins_done++;
}

static void reset(void)
{
    started = ended = misaligned = joins_done = 0;
    arg_sum = 0;
    for (int i = 0; i < N; i++) {
        targets[i] = NULL;
        join_results[i] = (void *)&joins_done; /* anything but NULL */
    }
}

/* A joiner parked before its target returns is woken with NULL, even in a
 * descriptor whose last coroutine left another result. */
START_TEST(test_return_gives_null_to_parked_joiner)
{
    static int answer = 42;
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    reset();
    /* Fill descriptors with a non-NULL result, then free them. */
    coco_coro_t *old[N];
    for (int i = 0; i < N; i++)
        old[i] = spawn(s, _i, exits_with_arg, &answer);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    for (int i = 0; i < N; i++)
        coco_destroy(old[i]);
    for (intptr_t i = 0; i < N; i++)
        targets[i] = spawn(s, _i, returner, (void *)(i + 1));
    for (intptr_t i = 0; i < N; i++)
        spawn(s, _i, joiner, (void *)i);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(started, N);
    ck_assert_int_eq(ended, N);
    ck_assert_int_eq(misaligned, 0);
    ck_assert_int_eq(arg_sum, N * (N + 1) / 2);
    ck_assert_int_eq(joins_done, N);
    for (int i = 0; i < N; i++) {
        ck_assert_ptr_eq(join_results[i], NULL);
        ck_assert_int_eq(coco_get_state(targets[i]), COCO_STATE_DEAD);
        coco_destroy(targets[i]);
    }
    ck_assert_uint_eq(coco_sched_count(s), 0);
    coco_sched_destroy(s);
}
END_TEST

/* Joining after the return: NULL at once, as often as asked, while the
 * descriptor is kept; a coroutine that called coco_exit() alongside keeps
 * its own result. */
static coco_coro_t *exiter;
static void *late[N + 1][2];

static void late_joiner(void *arg)
{
    (void)arg;
    for (int i = 0; i < N; i++) {
        late[i][0] = coco_join(targets[i]);
        late[i][1] = coco_join(targets[i]);
    }
    late[N][0] = coco_join(exiter);
    late[N][1] = coco_join(exiter);
}

START_TEST(test_return_gives_null_to_late_joiner)
{
    static int answer = 7;
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    reset();
    for (intptr_t i = 0; i < N; i++)
        targets[i] = spawn(s, _i, returner, (void *)(i + 1));
    exiter = spawn(s, _i, exits_with_arg, &answer);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(ended, N);
    ck_assert_int_eq(misaligned, 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(coco_get_state(targets[i]), COCO_STATE_DEAD);
    for (int i = 0; i < N + 1; i++)
        late[i][0] = late[i][1] = &answer;
    spawn(s, _i, late_joiner, NULL);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    for (int i = 0; i < N; i++) {
        ck_assert_ptr_eq(late[i][0], NULL);
        ck_assert_ptr_eq(late[i][1], NULL);
        coco_destroy(targets[i]);
    }
    ck_assert_ptr_eq(late[N][0], &answer);
    ck_assert_ptr_eq(late[N][1], &answer);
    coco_destroy(exiter);
    coco_sched_destroy(s);
}
END_TEST

/* Detached coroutines that return are finished and their descriptors
 * freed, rounds after rounds (every round reuses the descriptors and
 * stacks of the one before). */
START_TEST(test_return_finishes_detached)
{
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    for (int round = 0; round < 3; round++) {
        reset();
        for (intptr_t i = 0; i < N; i++) {
            targets[i] = spawn(s, _i, returner, (void *)(i + 1));
            ck_assert_int_eq(coco_detach(targets[i]), COCO_OK);
        }
        ck_assert_uint_eq(coco_sched_count(s), N);
        ck_assert_int_eq(coco_sched_run(s), COCO_OK);
        ck_assert_int_eq(started, N);
        ck_assert_int_eq(ended, N);
        ck_assert_int_eq(misaligned, 0);
        ck_assert_int_eq(arg_sum, N * (N + 1) / 2);
        ck_assert_uint_eq(coco_sched_count(s), 0);
        for (int i = 0; i < N; i++) {
            /* Freed: the handle no longer names a coroutine. */
            ck_assert_uint_eq(coco_get_id(targets[i]), 0);
            ck_assert_int_eq(coco_detach(targets[i]), COCO_ERROR_INVALID);
        }
    }
    coco_sched_destroy(s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("entry");
    TCase *tc = tcase_create("return");
    tcase_set_timeout(tc, 20);
    tcase_add_loop_test(tc, test_return_gives_null_to_parked_joiner, 0, STACK_KINDS);
    tcase_add_loop_test(tc, test_return_gives_null_to_late_joiner, 0, STACK_KINDS);
    tcase_add_loop_test(tc, test_return_finishes_detached, 0, STACK_KINDS);
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
