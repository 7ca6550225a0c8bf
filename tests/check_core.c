/*
 * check_core.c - the scheduler and the life of a coroutine: creation,
 * yielding, states, join/exit, detach, destroy, limits and misuse.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A log of events, so tests can assert the order things happened in. */
static char trace[256];
static size_t trace_len;

static void mark(char c)
{
    if (trace_len + 1 < sizeof trace) {
        trace[trace_len++] = c;
        trace[trace_len] = '\0';
    }
}

static void reset_trace(void)
{
    trace_len = 0;
    trace[0] = '\0';
}

/* Marks its letter, yields, marks it again. */
static void letter_twice(void *arg)
{
    char c = (char)(intptr_t)arg;
    mark(c);
    coco_yield();
    mark(c);
}

/* --------------------------------------------------------- scheduler */

START_TEST(test_sched_create_destroy)
{
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(coco_sched_count(s), 0);
    ck_assert_uint_eq(coco_sched_get_max_coroutines(s), COCO_MAX_COROUTINES);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK); /* nothing to run */
    coco_sched_destroy(s);
    coco_sched_destroy(NULL); /* harmless */
}
END_TEST

START_TEST(test_sched_null)
{
    ck_assert_int_eq(coco_sched_run(NULL), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_sched_run_once(NULL), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_sched_set_max_coroutines(NULL, 5), COCO_ERROR_INVALID);
    ck_assert_uint_eq(coco_sched_get_max_coroutines(NULL), 0);
    ck_assert_uint_eq(coco_sched_count(NULL), 0);
}
END_TEST

START_TEST(test_yield_interleaves)
{
    coco_sched_t *s = coco_sched_create();
    reset_trace();
    ck_assert_ptr_nonnull(coco_create(s, letter_twice, (void *)(intptr_t)'a', 0));
    ck_assert_ptr_nonnull(coco_create(s, letter_twice, (void *)(intptr_t)'b', 0));
    ck_assert_ptr_nonnull(coco_create(s, letter_twice, (void *)(intptr_t)'c', 0));
    ck_assert_uint_eq(coco_sched_count(s), 3);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_str_eq(trace, "abcabc"); /* FIFO: each runs once per round */
    ck_assert_uint_eq(coco_sched_count(s), 0);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_run_once_steps)
{
    coco_sched_t *s = coco_sched_create();
    reset_trace();
    coco_create(s, letter_twice, (void *)(intptr_t)'a', 0);
    coco_create(s, letter_twice, (void *)(intptr_t)'b', 0);
    ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);
    ck_assert_str_eq(trace, "a");
    ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);
    ck_assert_str_eq(trace, "ab");
    ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);
    ck_assert_str_eq(trace, "aba");
    ck_assert_uint_eq(coco_sched_count(s), 1);
    ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);
    ck_assert_str_eq(trace, "abab");
    ck_assert_uint_eq(coco_sched_count(s), 0);
    ck_assert_int_eq(coco_sched_run_once(s), COCO_OK); /* nothing left */
    ck_assert_str_eq(trace, "abab");
    coco_sched_destroy(s);
}
END_TEST

static int nested_rc;
static void run_nested(void *arg)
{
    coco_sched_t *s = arg;
    nested_rc = coco_sched_run(s);
    mark('n');
}

START_TEST(test_run_nested_refused)
{
    coco_sched_t *s = coco_sched_create();
    reset_trace();
    nested_rc = 12345;
    coco_create(s, run_nested, s, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(nested_rc, COCO_ERROR_INVALID);
    ck_assert_str_eq(trace, "n");
    coco_sched_destroy(s);
}
END_TEST

static void destroy_own_sched(void *arg)
{
    coco_sched_destroy(arg); /* refused while running */
    mark('d');
}

START_TEST(test_sched_destroy_while_running_refused)
{
    coco_sched_t *s = coco_sched_create();
    reset_trace();
    coco_create(s, destroy_own_sched, s, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_str_eq(trace, "d");
    coco_sched_destroy(s);
}
END_TEST

static void never_runs(void *arg)
{
    (void)arg;
    mark('X');
}

START_TEST(test_sched_destroy_with_live_coroutines)
{
    coco_sched_t *s = coco_sched_create();
    reset_trace();
    for (int i = 0; i < 100; i++)
        ck_assert_ptr_nonnull(coco_create(s, never_runs, NULL, 0));
    coco_sched_destroy(s); /* frees them all; none ran */
    ck_assert_str_eq(trace, "");
}
END_TEST

/* ------------------------------------------------------- coroutines */

static coco_coro_t *seen_self;
static coco_sched_t *seen_sched;
static coco_state_t seen_state;
static void observe_self(void *arg)
{
    (void)arg;
    seen_self = coco_self();
    seen_sched = seen_self->sched;
    seen_state = coco_get_state(seen_self);
}

START_TEST(test_self_and_state)
{
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_null(coco_self());
    coco_coro_t *c = coco_create(s, observe_self, NULL, 0);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_eq(c->sched, s);
    ck_assert_int_eq(coco_get_state(c), COCO_STATE_CREATED);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_ptr_eq(seen_self, c);
    ck_assert_ptr_eq(seen_sched, s);
    ck_assert_int_eq(seen_state, COCO_STATE_RUNNING);
    ck_assert_int_eq(coco_get_state(c), COCO_STATE_DEAD);
    ck_assert_ptr_null(coco_self());
    coco_destroy(c);
    coco_sched_destroy(s);
}
END_TEST

static coco_coro_t *watched;
static coco_state_t watched_states[4];
static void yielder(void *arg)
{
    (void)arg;
    coco_yield();
}
static void watcher(void *arg)
{
    (void)arg;
    watched_states[0] = coco_get_state(watched); /* has yielded: READY */
    coco_yield();
    watched_states[1] = coco_get_state(watched); /* finished: DEAD */
}

/* coco_running_slot(): one address per thread, holding the scheduler the
 * thread runs while it runs one. */
static coco_sched_t *const *slot_seen;
static coco_sched_t *slot_sched_seen;

static void read_slot(void *arg)
{
    (void)arg;
    slot_seen = coco_running_slot();
    slot_sched_seen = *slot_seen;
    coco_yield();
    ck_assert_ptr_eq(*coco_running_slot(), coco_self()->sched);
}

static void *slot_of_thread(void *arg)
{
    (void)arg;
    return (void *)coco_running_slot();
}

START_TEST(test_running_slot)
{
    coco_sched_t *const *slot = coco_running_slot();
    ck_assert_ptr_nonnull(slot);
    ck_assert_ptr_null(*slot);
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_null(*slot); /* made, not running */
    ck_assert_ptr_nonnull(coco_create(s, read_slot, NULL, 0));
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_ptr_eq(slot_seen, slot);
    ck_assert_ptr_eq(slot_sched_seen, s);
    ck_assert_ptr_null(*slot); /* the run is over */
    ck_assert_ptr_eq(coco_running_slot(), slot);
    pthread_t t;
    void *other = NULL;
    ck_assert_int_eq(pthread_create(&t, NULL, slot_of_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(t, &other), 0);
    ck_assert_ptr_nonnull(other);
    ck_assert_ptr_ne(other, (void *)slot);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_states_ready_and_dead)
{
    coco_sched_t *s = coco_sched_create();
    watched = coco_create(s, yielder, NULL, 0);
    coco_create(s, watcher, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(watched_states[0], COCO_STATE_READY);
    ck_assert_int_eq(watched_states[1], COCO_STATE_DEAD);
    coco_destroy(watched);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_ids_unique)
{
    coco_sched_t *s = coco_sched_create();
    coco_coro_t *a = coco_create(s, never_runs, NULL, 0);
    coco_coro_t *b = coco_create(s, never_runs, NULL, 0);
    ck_assert_uint_ne(coco_get_id(a), 0);
    ck_assert_uint_gt(coco_get_id(b), coco_get_id(a));
    ck_assert_uint_eq(coco_get_id(NULL), 0);
    ck_assert_int_eq(coco_get_state(NULL), COCO_STATE_DEAD);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_create_bad_arguments)
{
    coco_sched_t *s = coco_sched_create();
    errno = 0;
    ck_assert_ptr_null(coco_create(NULL, never_runs, NULL, 0));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(coco_create(s, NULL, NULL, 0));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(coco_create(s, never_runs, NULL, SIZE_MAX));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(coco_create(s, never_runs, NULL, (size_t)4 << 30));
    ck_assert_uint_eq(coco_sched_count(s), 0);
    coco_sched_destroy(s);
}
END_TEST

/* Uses most of a large stack, and checks a tiny request still works. */
static size_t used_bytes;
static void use_stack(void *arg)
{
    size_t n = (size_t)(uintptr_t)arg;
    volatile char big[200 * 1024];
    memset((char *)big, 0x5a, n);
    used_bytes = 0;
    for (size_t i = 0; i < n; i++)
        used_bytes += big[i] == 0x5a;
}

START_TEST(test_stack_sizes)
{
    coco_sched_t *s = coco_sched_create();
    used_bytes = 0;
    coco_create(s, use_stack, (void *)(uintptr_t)(200 * 1024), 256 * 1024);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_uint_eq(used_bytes, 200 * 1024);
    reset_trace();
    coco_create(s, letter_twice, (void *)(intptr_t)'t', 1); /* rounded up */
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_str_eq(trace, "tt");
    coco_sched_destroy(s);
}
END_TEST

/* The stack pool: a stack released by a finished coroutine is the one the
 * next coroutine gets, with no new mapping. */
static uintptr_t local_addr;
static void record_local(void *arg)
{
    volatile int here = 0;
    (void)arg;
    local_addr = (uintptr_t)&here;
}

START_TEST(test_stack_reused)
{
    coco_sched_t *s = coco_sched_create();
    coco_coro_t *c = coco_create(s, record_local, NULL, 0);
    coco_sched_run(s);
    uintptr_t first = local_addr;
    coco_destroy(c);
    for (int i = 0; i < 5; i++) {
        c = coco_create(s, record_local, NULL, 0);
        coco_sched_run(s);
        coco_destroy(c);
        ck_assert_uint_eq(local_addr, first);
    }
    coco_sched_destroy(s);
}
END_TEST

/* Floating-point and callee-saved registers survive switches. */
static double fp_result[2];
static void fp_worker(void *arg)
{
    int k = (int)(intptr_t)arg;
    double acc = k + 0.5;
    for (int i = 1; i <= 100; i++) {
        acc = acc * 1.0001 + i;
        coco_yield();
    }
    fp_result[k] = acc;
}

START_TEST(test_registers_preserved)
{
    double expect[2];
    for (int k = 0; k < 2; k++) {
        double acc = k + 0.5;
        for (int i = 1; i <= 100; i++)
            acc = acc * 1.0001 + i;
        expect[k] = acc;
    }
    coco_sched_t *s = coco_sched_create();
    coco_create(s, fp_worker, (void *)(intptr_t)0, 0);
    coco_create(s, fp_worker, (void *)(intptr_t)1, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert(fp_result[0] == expect[0]);
    ck_assert(fp_result[1] == expect[1]);
    coco_sched_destroy(s);
}
END_TEST

#if defined(__x86_64__) && defined(__GNUC__) && !defined(_WIN32)
/* The SysV ABI makes the control bits of MXCSR and of the x87 control word
 * callee-saved, so each coroutine keeps its own rounding modes.  The
 * switch reloads them only when they differ: both directions are tried. */
static unsigned read_mxcsr(void)
{
    unsigned v;
    __asm__ volatile("stmxcsr %0" : "=m"(v));
    return v;
}

static unsigned read_fpucw(void)
{
    unsigned short v;
    __asm__ volatile("fnstcw %0" : "=m"(v));
    return v;
}

static void set_modes(unsigned mxcsr_rc, unsigned fpucw_rc)
{
    unsigned m = (read_mxcsr() & ~0x6000u) | mxcsr_rc;
    unsigned short c = (unsigned short)((read_fpucw() & ~0x0C00u) | fpucw_rc);
    __asm__ volatile("ldmxcsr %0" : : "m"(m));
    __asm__ volatile("fldcw %0" : : "m"(c));
}

static unsigned modes_seen[2][3]; /* [coroutine][step]: both fields' bits */
static unsigned current_modes(void)
{
    return (read_mxcsr() & 0x6000u) | (read_fpucw() & 0x0C00u);
}

static void changes_modes(void *arg)
{
    (void)arg;
    set_modes(0x6000u, 0x0C00u); /* round toward zero */
    for (int i = 0; i < 3; i++) {
        coco_yield();
        modes_seen[0][i] = current_modes();
    }
}

static void keeps_modes(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        modes_seen[1][i] = current_modes();
        coco_yield();
    }
}

START_TEST(test_fp_modes_per_coroutine)
{
    unsigned before = current_modes();
    ck_assert_uint_eq(before, 0); /* round to nearest, the default */
    coco_sched_t *s = coco_sched_create();
    coco_create(s, changes_modes, NULL, 0);
    coco_create(s, keeps_modes, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(modes_seen[0][i], 0x6000u | 0x0C00u);
        ck_assert_uint_eq(modes_seen[1][i], 0);
    }
    /* The thread that ran the loop has its own modes back. */
    ck_assert_uint_eq(current_modes(), before);
    coco_sched_destroy(s);
}
END_TEST

static volatile double fp_operand = 1.0;

/* As changes_modes, and raises MXCSR's sticky inexact flag on the way. */
static void changes_modes_inexact(void *arg)
{
    (void)arg;
    set_modes(0x6000u, 0x0C00u);
    fp_operand = fp_operand / 3.0;
    for (int i = 0; i < 3; i++) {
        coco_yield();
        modes_seen[0][i] = current_modes();
    }
}

/* The sticky exception flags differ between the two coroutines; the
 * modes must still follow each one. */
START_TEST(test_fp_modes_with_exception_flags)
{
    memset(modes_seen, 0xff, sizeof modes_seen);
    coco_sched_t *s = coco_sched_create();
    coco_create(s, changes_modes_inexact, NULL, 0);
    coco_create(s, keeps_modes, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(modes_seen[0][i], 0x6000u | 0x0C00u);
        ck_assert_uint_eq(modes_seen[1][i], 0);
    }
    ck_assert_uint_eq(current_modes(), 0);
    coco_sched_destroy(s);
}
END_TEST

static unsigned modes_at_start;
static void records_modes(void *arg)
{
    (void)arg;
    modes_at_start = current_modes();
}

/* A new coroutine starts with the modes in effect when it was created. */
START_TEST(test_fp_modes_inherited)
{
    coco_sched_t *s = coco_sched_create();
    set_modes(0x4000u, 0x0800u); /* round up */
    coco_create(s, records_modes, NULL, 0);
    set_modes(0, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_uint_eq(modes_at_start, 0x4000u | 0x0800u);
    ck_assert_uint_eq(current_modes(), 0);
    coco_sched_destroy(s);
}
END_TEST
#endif

static long total;
static void add_in_steps(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < 10; i++) {
        total += n;
        coco_yield();
    }
}

START_TEST(test_many_coroutines)
{
    coco_sched_t *s = coco_sched_create();
    total = 0;
    for (long i = 1; i <= 1000; i++)
        ck_assert_ptr_nonnull(coco_create(s, add_in_steps, (void *)(intptr_t)i, 0));
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(total, 10L * 1000 * 1001 / 2);
    coco_sched_destroy(s);
}
END_TEST

/* -------------------------------------------------------- exit, join */

static int answer = 21;
static void nested_exit(int *p)
{
    coco_exit(coco_self(), p);
}
static void exits_early(void *arg)
{
    mark('e');
    nested_exit(arg);
    mark('X'); /* never reached */
}

static void *joined_result;
static coco_coro_t *join_target;
static void joiner(void *arg)
{
    (void)arg;
    mark('j');
    joined_result = coco_join(join_target);
    mark('J');
}

START_TEST(test_exit_and_join)
{
    coco_sched_t *s = coco_sched_create();
    reset_trace();
    joined_result = NULL;
    coco_create(s, joiner, NULL, 0);
    join_target = coco_create(s, exits_early, &answer, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_str_eq(trace, "jeJ");
    ck_assert_ptr_eq(joined_result, &answer);
    ck_assert_int_eq(coco_get_state(join_target), COCO_STATE_DEAD);
    coco_destroy(join_target);
    coco_sched_destroy(s);
}
END_TEST

static void *late_results[2];
static void late_joiner(void *arg)
{
    /* Joining an already finished coroutine returns at once, and may be
     * repeated until the descriptor is destroyed. */
    (void)arg;
    late_results[0] = coco_join(join_target);
    late_results[1] = coco_join(join_target);
}

START_TEST(test_join_finished)
{
    coco_sched_t *s = coco_sched_create();
    join_target = coco_create(s, exits_early, &answer, 0);
    coco_sched_run(s);
    coco_create(s, late_joiner, NULL, 0);
    coco_sched_run(s);
    ck_assert_ptr_eq(late_results[0], &answer);
    ck_assert_ptr_eq(late_results[1], &answer);
    coco_destroy(join_target);
    coco_sched_destroy(s);
}
END_TEST

static int joiners_done;
static void counting_joiner(void *arg)
{
    (void)arg;
    if (coco_join(join_target) == &answer)
        joiners_done++;
}

START_TEST(test_join_many_joiners)
{
    coco_sched_t *s = coco_sched_create();
    joiners_done = 0;
    for (int i = 0; i < 5; i++)
        coco_create(s, counting_joiner, NULL, 0);
    join_target = coco_create(s, exits_early, &answer, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(joiners_done, 5);
    coco_destroy(join_target);
    coco_sched_destroy(s);
}
END_TEST

static void *misuse_results[3];
static void join_misuse(void *arg)
{
    (void)arg;
    misuse_results[0] = coco_join(coco_self());
    misuse_results[1] = coco_join(NULL);
    misuse_results[2] = coco_join(join_target); /* detached */
    mark('m');
}

START_TEST(test_join_misuse)
{
    coco_sched_t *s = coco_sched_create();
    reset_trace();
    join_target = coco_create(s, exits_early, &answer, 0);
    ck_assert_int_eq(coco_detach(join_target), COCO_OK);
    misuse_results[0] = misuse_results[1] = misuse_results[2] = &answer;
    coco_create(s, join_misuse, NULL, 0);
    /* Outside a coroutine there is nothing to park: NULL at once. */
    ck_assert_ptr_null(coco_join(join_target));
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_ptr_null(misuse_results[0]);
    ck_assert_ptr_null(misuse_results[1]);
    ck_assert_ptr_null(misuse_results[2]);
    ck_assert_str_eq(trace, "em");
    coco_sched_destroy(s);
}
END_TEST

static void wrong_exit(void *arg)
{
    coco_exit(arg, NULL); /* not ourselves: ignored */
    mark('w');
    coco_exit(NULL, NULL); /* ignored */
    mark('W');
}

START_TEST(test_exit_misuse)
{
    coco_sched_t *s = coco_sched_create();
    reset_trace();
    coco_coro_t *other = coco_create(s, letter_twice, (void *)(intptr_t)'o', 0);
    coco_create(s, wrong_exit, other, 0);
    coco_exit(NULL, NULL); /* outside any coroutine: ignored */
    coco_yield();          /* likewise */
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_str_eq(trace, "owWo");
    coco_sched_destroy(s);
}
END_TEST

static coco_coro_t *peer_a, *peer_b;
static void join_peer_b(void *arg) { (void)arg; coco_join(peer_b); }
static void join_peer_a(void *arg) { (void)arg; coco_join(peer_a); }

START_TEST(test_deadlock_reported)
{
    coco_sched_t *s = coco_sched_create();
    peer_a = coco_create(s, join_peer_b, NULL, 0);
    peer_b = coco_create(s, join_peer_a, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    ck_assert_int_eq(coco_get_state(peer_a), COCO_STATE_WAITING);
    ck_assert_int_eq(coco_get_state(peer_b), COCO_STATE_WAITING);
    ck_assert_uint_eq(coco_sched_count(s), 2);
    ck_assert_int_eq(coco_sched_run_once(s), COCO_ERROR_DEADLOCK);
    /* Breaking the cycle lets the other one finish. */
    coco_destroy(peer_a);
    ck_assert_int_eq(coco_get_state(peer_b), COCO_STATE_READY);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(coco_get_state(peer_b), COCO_STATE_DEAD);
    coco_sched_destroy(s);
}
END_TEST

/* ------------------------------------------------------------ detach */

START_TEST(test_detach)
{
    coco_sched_t *s = coco_sched_create();
    reset_trace();
    coco_coro_t *c = coco_create(s, letter_twice, (void *)(intptr_t)'d', 0);
    ck_assert_int_eq(coco_detach(c), COCO_OK);
    ck_assert_int_eq(coco_detach(c), COCO_ERROR_INVALID); /* twice */
    ck_assert_int_eq(coco_detach(NULL), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_str_eq(trace, "dd");
    ck_assert_uint_eq(coco_sched_count(s), 0);
    /* Its descriptor went back to the scheduler when it finished. */
    ck_assert_uint_eq(coco_get_id(c), 0);
    coco_destroy(c); /* harmless: already gone */

    c = coco_create(s, never_runs, NULL, 0);
    coco_sched_run(s);
    ck_assert_int_eq(coco_detach(c), COCO_OK); /* finished: freed now */
    ck_assert_uint_eq(coco_get_id(c), 0);
    coco_sched_destroy(s);
}
END_TEST

static void detach_self(void *arg)
{
    (void)arg;
    ck_assert_int_eq(coco_detach(coco_self()), COCO_OK);
    mark('s');
}

START_TEST(test_detach_self)
{
    coco_sched_t *s = coco_sched_create();
    reset_trace();
    coco_coro_t *c = coco_create(s, detach_self, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_str_eq(trace, "s");
    ck_assert_uint_eq(coco_get_id(c), 0);
    coco_sched_destroy(s);
}
END_TEST

/* ----------------------------------------------------------- destroy */

START_TEST(test_destroy_before_run)
{
    coco_sched_t *s = coco_sched_create();
    reset_trace();
    coco_coro_t *c = coco_create(s, never_runs, NULL, 0);
    coco_destroy(c);
    coco_destroy(c); /* twice: recognised, harmless */
    coco_destroy(NULL);
    ck_assert_uint_eq(coco_sched_count(s), 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_str_eq(trace, "");
    coco_sched_destroy(s);
}
END_TEST

static coco_coro_t *victim;
static void destroys_victim(void *arg)
{
    (void)arg;
    coco_destroy(victim); /* victim is READY after its first yield */
    mark('k');
}

START_TEST(test_destroy_ready)
{
    coco_sched_t *s = coco_sched_create();
    reset_trace();
    victim = coco_create(s, letter_twice, (void *)(intptr_t)'v', 0);
    coco_create(s, destroys_victim, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_str_eq(trace, "vk"); /* the victim never resumed */
    coco_sched_destroy(s);
}
END_TEST

static void destroys_self(void *arg)
{
    (void)arg;
    mark('1');
    coco_destroy(coco_self());
    mark('X');
}

START_TEST(test_destroy_self)
{
    coco_sched_t *s = coco_sched_create();
    reset_trace();
    coco_coro_t *c = coco_create(s, destroys_self, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_str_eq(trace, "1");
    ck_assert_uint_eq(coco_get_id(c), 0);
    ck_assert_uint_eq(coco_sched_count(s), 0);
    coco_sched_destroy(s);
}
END_TEST

static void destroys_join_target(void *arg)
{
    (void)arg;
    coco_destroy(join_target);
    mark('k');
}

START_TEST(test_destroy_joined_target)
{
    coco_sched_t *s = coco_sched_create();
    reset_trace();
    joined_result = &answer;
    coco_create(s, joiner, NULL, 0);                 /* parks on the target */
    join_target = coco_create(s, letter_twice, (void *)(intptr_t)'t', 0);
    coco_create(s, destroys_join_target, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_str_eq(trace, "jtkJ");
    ck_assert_ptr_null(joined_result); /* woken with no result */
    coco_sched_destroy(s);
}
END_TEST

static coco_coro_t *parked_joiner;
static void destroys_joiner(void *arg)
{
    (void)arg;
    coco_destroy(parked_joiner);
    mark('k');
}

START_TEST(test_destroy_parked_joiner)
{
    coco_sched_t *s = coco_sched_create();
    reset_trace();
    parked_joiner = coco_create(s, joiner, NULL, 0);
    join_target = coco_create(s, letter_twice, (void *)(intptr_t)'t', 0);
    coco_create(s, destroys_joiner, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_str_eq(trace, "jtkt"); /* the joiner never came back */
    coco_destroy(join_target);
    coco_sched_destroy(s);
}
END_TEST

/* ------------------------------------------------------------ limits */

START_TEST(test_coroutine_limit)
{
    coco_sched_t *s = coco_sched_create();
    ck_assert_int_eq(coco_sched_set_max_coroutines(s, 3), COCO_OK);
    ck_assert_uint_eq(coco_sched_get_max_coroutines(s), 3);
    for (int i = 0; i < 3; i++)
        ck_assert_ptr_nonnull(coco_create(s, never_runs, NULL, 0));
    errno = 0;
    ck_assert_ptr_null(coco_create(s, never_runs, NULL, 0));
    ck_assert_int_eq(errno, EAGAIN);
    coco_sched_run(s); /* they finish: room again */
    ck_assert_ptr_nonnull(coco_create(s, never_runs, NULL, 0));
    coco_sched_destroy(s);
}
END_TEST

/* Hitting the limit is told apart from other failures: EAGAIN is set for
 * nothing else, and the first refusal of each scheduler says on stderr
 * what was hit and what raises it. */
#if !defined(_WIN32) /* reads its own stderr through a pipe */
START_TEST(test_coroutine_limit_reported_once)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(stderr);
    int saved = dup(2);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_eq(dup2(fds[1], 2), 2);
    coco_sched_t *s = coco_sched_create();
    coco_sched_set_max_coroutines(s, 2);
    for (int i = 0; i < 2; i++)
        ck_assert_ptr_nonnull(coco_create(s, never_runs, NULL, 0));
    for (int i = 0; i < 3; i++) {
        errno = 0;
        ck_assert_ptr_null(coco_create(s, never_runs, NULL, 0));
        ck_assert_int_eq(errno, EAGAIN);
    }
    ck_assert_uint_eq(coco_sched_count(s), coco_sched_get_max_coroutines(s));
    fflush(stderr);
    ck_assert_int_eq(dup2(saved, 2), 2);
    close(saved);
    close(fds[1]);
    char buf[512];
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_msg(strstr(buf, "coroutine limit reached: 2 alive") != NULL, "stderr: '%s'", buf);
    ck_assert_msg(strstr(buf, "coco_sched_set_max_coroutines()") != NULL, "stderr: '%s'", buf);
    ck_assert_msg(strchr(buf, '\n') == buf + n - 1, "more than one line: '%s'", buf);
    coco_sched_set_max_coroutines(s, 3);
    ck_assert_ptr_nonnull(coco_create(s, never_runs, NULL, 0));
    coco_sched_destroy(s);
}
END_TEST
#endif

START_TEST(test_default_limit_and_lifting_it)
{
    coco_sched_t *s = coco_sched_create();
    const size_t extra = 50;
    for (size_t i = 0; i < COCO_MAX_COROUTINES; i++)
        ck_assert_ptr_nonnull(coco_create(s, never_runs, NULL, 0));
    ck_assert_ptr_null(coco_create(s, never_runs, NULL, 0));
    ck_assert_int_eq(coco_sched_set_max_coroutines(s, 0), COCO_OK); /* no limit */
    for (size_t i = 0; i < extra; i++)
        ck_assert_ptr_nonnull(coco_create(s, never_runs, NULL, 0));
    ck_assert_uint_eq(coco_sched_count(s), COCO_MAX_COROUTINES + extra);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_uint_eq(coco_sched_count(s), 0);
    coco_sched_destroy(s);
}
END_TEST

/* ----------------------------------------------------------- threads */

/* Each thread's coroutines add into that thread's own sum. */
static void add_in_steps_local(void *arg)
{
    long *sum = arg;
    for (int i = 0; i < 10; i++) {
        *sum += 100;
        coco_yield();
    }
}

static void *thread_main(void *arg)
{
    long *sum = arg;
    coco_sched_t *s = coco_sched_create();
    for (long i = 1; i <= 100; i++)
        coco_create(s, add_in_steps_local, (void *)sum, 0);
    int rc = coco_sched_run(s);
    coco_sched_destroy(s);
    return (void *)(intptr_t)rc;
}

START_TEST(test_one_scheduler_per_thread)
{
    long sums[2] = {0, 0};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, thread_main, &sums[i]), 0);
    for (int i = 0; i < 2; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        ck_assert_int_eq((int)(intptr_t)rc, COCO_OK);
        ck_assert_int_eq(sums[i], 100 * 1000);
    }
}
END_TEST

/* ----------------------------------------------------------- library */

START_TEST(test_version_and_strerror)
{
    ck_assert_uint_eq(coco_version(), COCO_VERSION_HEX);
    ck_assert_uint_eq(coco_version() >> 16, COCO_VERSION_MAJOR);
    const int codes[] = {COCO_OK, COCO_ERROR, COCO_ERROR_NOMEM,
                         COCO_ERROR_STACK_OVERFLOW, COCO_ERROR_CHANNEL_CLOSED,
                         COCO_ERROR_INVALID, COCO_ERROR_TIMEOUT,
                         COCO_ERROR_WOULDBLOCK, COCO_ERROR_DEADLOCK};
    const size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        ck_assert_ptr_nonnull(coco_strerror(codes[i]));
        ck_assert_str_ne(coco_strerror(codes[i]), "unknown error");
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(coco_strerror(codes[i]), coco_strerror(codes[j]));
    }
    ck_assert_str_eq(coco_strerror(-1000), "unknown error");
}
END_TEST

int main(void)
{
    Suite *su = suite_create("core");
    TCase *tc;

    tc = tcase_create("scheduler");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_sched_create_destroy);
    tcase_add_test(tc, test_sched_null);
    tcase_add_test(tc, test_yield_interleaves);
    tcase_add_test(tc, test_run_once_steps);
    tcase_add_test(tc, test_run_nested_refused);
    tcase_add_test(tc, test_sched_destroy_while_running_refused);
    tcase_add_test(tc, test_sched_destroy_with_live_coroutines);
    tcase_add_test(tc, test_deadlock_reported);
    suite_add_tcase(su, tc);

    tc = tcase_create("coroutine");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_self_and_state);
    tcase_add_test(tc, test_running_slot);
    tcase_add_test(tc, test_states_ready_and_dead);
    tcase_add_test(tc, test_ids_unique);
    tcase_add_test(tc, test_create_bad_arguments);
    tcase_add_test(tc, test_stack_sizes);
    tcase_add_test(tc, test_stack_reused);
    tcase_add_test(tc, test_registers_preserved);
#if defined(__x86_64__) && defined(__GNUC__) && !defined(_WIN32)
    tcase_add_test(tc, test_fp_modes_per_coroutine);
    tcase_add_test(tc, test_fp_modes_inherited);
    tcase_add_test(tc, test_fp_modes_with_exception_flags);
#endif
    tcase_add_test(tc, test_many_coroutines);
    suite_add_tcase(su, tc);

    tc = tcase_create("join_exit");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_exit_and_join);
    tcase_add_test(tc, test_join_finished);
    tcase_add_test(tc, test_join_many_joiners);
    tcase_add_test(tc, test_join_misuse);
    tcase_add_test(tc, test_exit_misuse);
    suite_add_tcase(su, tc);

    tc = tcase_create("detach_destroy");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_detach);
    tcase_add_test(tc, test_detach_self);
    tcase_add_test(tc, test_destroy_before_run);
    tcase_add_test(tc, test_destroy_ready);
    tcase_add_test(tc, test_destroy_self);
    tcase_add_test(tc, test_destroy_joined_target);
    tcase_add_test(tc, test_destroy_parked_joiner);
    suite_add_tcase(su, tc);

    tc = tcase_create("limits");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_coroutine_limit);
#if !defined(_WIN32)
    tcase_add_test(tc, test_coroutine_limit_reported_once);
#endif
    tcase_add_test(tc, test_default_limit_and_lifting_it);
    tcase_add_test(tc, test_one_scheduler_per_thread);
    tcase_add_test(tc, test_version_and_strerror);
    suite_add_tcase(su, tc);

    return coco_test_run(su);
}
