/*
 * check_gen.c - generators through the public header: iterators, values
 * in and out, the return value and the finished state, destroy at awkward
 * moments, nesting, generators inside scheduled coroutines (which keep
 * running around them), calls that would park made from a generator, ten
 * thousand alive at once, threads, stack overflow and bad input.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"
#include "testutil.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#ifndef _WIN32
#  include <pthread.h>
#endif

#define V(x) ((void *)(intptr_t)(x))
#define I(p) ((intptr_t)(p))

/* --------------------------------------------------------- iterators */

/* Yields 0 .. n-1, then returns n * 10. */
static void *count_to(coco_gen_t *g, void *arg)
{
    intptr_t n = I(arg);
    for (intptr_t i = 0; i < n; i++)
        coco_gen_yield(g, V(i));
    return V(n * 10);
}

START_TEST(test_gen_iterator)
{
    const intptr_t n = 1000;
    coco_gen_t *g = coco_gen_create(count_to, V(n), 0);
    ck_assert_ptr_nonnull(g);
    void *out = V(-1);
    intptr_t expect = 0;
    int rc;
    while ((rc = coco_gen_resume(g, NULL, &out)) == COCO_OK) {
        ck_assert_int_eq(I(out), expect);
        expect++;
    }
    ck_assert_int_eq(rc, COCO_GEN_DONE);
    ck_assert_int_eq(expect, n);
    ck_assert_int_eq(I(out), n * 10);
    ck_assert_int_eq(coco_gen_destroy(g), COCO_OK);
}
END_TEST

/* The return value comes once; later resumes are refused, with *out
 * cleared, and destroying the finished generator is fine. */
START_TEST(test_gen_finished)
{
    coco_gen_t *g = coco_gen_create(count_to, V(2), 0);
    void *out;
    ck_assert_int_eq(coco_gen_resume(g, NULL, &out), COCO_OK);
    ck_assert_int_eq(I(out), 0);
    ck_assert_int_eq(coco_gen_resume(g, NULL, &out), COCO_OK);
    ck_assert_int_eq(I(out), 1);
    ck_assert_int_eq(coco_gen_resume(g, NULL, &out), COCO_GEN_DONE);
    ck_assert_int_eq(I(out), 20);
    for (int i = 0; i < 3; i++) {
        out = V(7);
        ck_assert_int_eq(coco_gen_resume(g, NULL, &out), COCO_ERROR_INVALID);
        ck_assert_ptr_null(out);
    }
    ck_assert_int_eq(coco_gen_resume(g, NULL, NULL), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_gen_destroy(g), COCO_OK);
}
END_TEST

/* A function that returns at once: one resume, COCO_GEN_DONE. */
static void *returns_arg(coco_gen_t *g, void *arg)
{
    (void)g;
    return arg;
}

START_TEST(test_gen_returns_at_once)
{
    int x;
    coco_gen_t *g = coco_gen_create(returns_arg, &x, 0);
    void *out = NULL;
    ck_assert_int_eq(coco_gen_resume(g, NULL, &out), COCO_GEN_DONE);
    ck_assert_ptr_eq(out, &x);
    ck_assert_int_eq(coco_gen_destroy(g), COCO_OK);
}
END_TEST

/* ---------------------------------------------------- values in and out */

/* Sums what it is sent: yields the running sum after each value, returns
 * the sum when sent 0.  arg is the starting sum. */
static void *summer(coco_gen_t *g, void *arg)
{
    intptr_t sum = I(arg);
    intptr_t v = I(coco_gen_yield(g, V(sum)));
    while (v != 0) {
        sum += v;
        v = I(coco_gen_yield(g, V(sum)));
    }
    return V(-sum);
}

START_TEST(test_gen_values_in_out)
{
    coco_gen_t *g = coco_gen_create(summer, V(100), 0);
    void *out;
    /* The first resume's value is not seen: fn starts with arg. */
    ck_assert_int_eq(coco_gen_resume(g, V(999), &out), COCO_OK);
    ck_assert_int_eq(I(out), 100);
    intptr_t sum = 100;
    for (intptr_t v = 1; v <= 50; v++) {
        sum += v;
        ck_assert_int_eq(coco_gen_resume(g, V(v), &out), COCO_OK);
        ck_assert_int_eq(I(out), sum);
    }
    ck_assert_int_eq(coco_gen_resume(g, V(0), &out), COCO_GEN_DONE);
    ck_assert_int_eq(I(out), -sum);
    coco_gen_destroy(g);
}
END_TEST

/* ------------------------------------------------------------- destroy */

static int cleanup_ran;

/* Would free its buffer at the end; destroyed before that, it never
 * does (its frames are dropped, not unwound). */
static void *holds_frames(coco_gen_t *g, void *arg)
{
    (void)arg;
    char big[4096];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 10; i++)
        coco_gen_yield(g, &big[i]);
    cleanup_ran++;
    return NULL;
}

START_TEST(test_gen_destroy_suspended)
{
    cleanup_ran = 0;
    /* Never started. */
    coco_gen_t *g = coco_gen_create(holds_frames, NULL, 0);
    ck_assert_int_eq(coco_gen_destroy(g), COCO_OK);
    /* Stopped in the middle, many times over: the stacks must come back
     * (valgrind's leak check and the pool's reuse see to it). */
    for (int round = 0; round < 500; round++) {
        g = coco_gen_create(holds_frames, NULL, round % 3 == 0 ? 256 * 1024 : 0);
        ck_assert_ptr_nonnull(g);
        void *out = NULL;
        for (int i = 0; i <= round % 7; i++) {
            ck_assert_int_eq(coco_gen_resume(g, NULL, &out), COCO_OK);
            ck_assert_int_eq(*(char *)out, 'x');
        }
        ck_assert_int_eq(coco_gen_destroy(g), COCO_OK);
    }
    ck_assert_int_eq(cleanup_ran, 0);
}
END_TEST

/* From inside itself: resume and destroy are refused, and the generator
 * goes on. */
static void *self_abuse(coco_gen_t *g, void *arg)
{
    (void)arg;
    void *out = V(5);
    int r1 = coco_gen_resume(g, NULL, &out);
    int r2 = coco_gen_destroy(g);
    coco_gen_yield(g, V(r1 == COCO_ERROR_INVALID && out == NULL));
    return V(r2 == COCO_ERROR_INVALID);
}

START_TEST(test_gen_self_resume_destroy)
{
    coco_gen_t *g = coco_gen_create(self_abuse, NULL, 0);
    void *out;
    ck_assert_int_eq(coco_gen_resume(g, NULL, &out), COCO_OK);
    ck_assert_int_eq(I(out), 1);
    ck_assert_int_eq(coco_gen_resume(g, NULL, &out), COCO_GEN_DONE);
    ck_assert_int_eq(I(out), 1);
    ck_assert_int_eq(coco_gen_destroy(g), COCO_OK);
}
END_TEST

/* -------------------------------------------------------------- nesting */

/* Yields the squares of what count_to yields, doubling its return.  Its
 * inner generator is kept where the owner can see it: destroying a
 * suspended generator abandons its frames, so whoever destroys it early
 * destroys the inner one too. */
struct squares_arg {
    intptr_t n;
    coco_gen_t *inner;
};

static void *squares(coco_gen_t *g, void *arg)
{
    struct squares_arg *sa = arg;
    sa->inner = coco_gen_create(count_to, V(sa->n), 0);
    void *v;
    int rc;
    while ((rc = coco_gen_resume(sa->inner, NULL, &v)) == COCO_OK)
        coco_gen_yield(g, V(I(v) * I(v)));
    coco_gen_destroy(sa->inner);
    sa->inner = NULL;
    return rc == COCO_GEN_DONE ? V(I(v) * 2) : V(-1);
}

/* The inner one tries to yield on behalf of its resumer. */
static void *wrong_yield(coco_gen_t *g, void *arg)
{
    coco_gen_t *outer = arg;
    errno = 0;
    void *r = coco_gen_yield(outer, V(42));
    coco_gen_yield(g, V(r == NULL && errno == EINVAL));
    return NULL;
}

static void *outer_of_wrong(coco_gen_t *g, void *arg)
{
    (void)arg;
    coco_gen_t *inner = coco_gen_create(wrong_yield, g, 0);
    void *v = NULL;
    int rc = coco_gen_resume(inner, NULL, &v);
    coco_gen_destroy(inner);
    return V(rc == COCO_OK && I(v) == 1);
}

START_TEST(test_gen_nested)
{
    struct squares_arg sa = { 20, NULL };
    coco_gen_t *g = coco_gen_create(squares, &sa, 0);
    void *out;
    intptr_t i = 0;
    int rc;
    while ((rc = coco_gen_resume(g, NULL, &out)) == COCO_OK) {
        ck_assert_int_eq(I(out), i * i);
        i++;
    }
    ck_assert_int_eq(rc, COCO_GEN_DONE);
    ck_assert_int_eq(i, 20);
    ck_assert_int_eq(I(out), 400);
    ck_assert_ptr_null(sa.inner);
    coco_gen_destroy(g);

    g = coco_gen_create(outer_of_wrong, NULL, 0);
    ck_assert_int_eq(coco_gen_resume(g, NULL, &out), COCO_GEN_DONE);
    ck_assert_int_eq(I(out), 1);
    coco_gen_destroy(g);
}
END_TEST

/* ------------------------------------------------- would-park calls */

/* Bits of what a generator sees of the library when it calls what would
 * park. */
enum {
    SAW_NO_SELF = 1,       /* coco_self() is NULL */
    SAW_SLEEP_INVALID = 2, /* coco_sleep() fails as outside a coroutine */
    SAW_RECV_WOULDBLOCK = 4,
    SAW_SEND_WOULDBLOCK = 8,
    SAW_YIELD_RETURNS = 16,
    SAW_ALL = 31
};

static void *tries_to_park(coco_gen_t *g, void *arg)
{
    coco_channel_t *ch = arg;
    for (;;) {
        int saw = 0;
        if (coco_self() == NULL)
            saw |= SAW_NO_SELF;
        if (coco_sleep(1) == COCO_ERROR_INVALID)
            saw |= SAW_SLEEP_INVALID;
        void *v;
        if (coco_channel_recv(ch, &v) == COCO_ERROR_WOULDBLOCK)
            saw |= SAW_RECV_WOULDBLOCK;
        if (coco_channel_send(ch, V(1)) == COCO_ERROR_WOULDBLOCK)
            saw |= SAW_SEND_WOULDBLOCK;
        coco_yield();
        saw |= SAW_YIELD_RETURNS;
        if (coco_gen_yield(g, V(saw)) == NULL)
            break;
    }
    return NULL;
}

START_TEST(test_gen_park_from_plain_code)
{
    coco_channel_t *ch = coco_channel_create(0); /* unbuffered: no peer */
    coco_gen_t *g = coco_gen_create(tries_to_park, ch, 0);
    void *out;
    ck_assert_int_eq(coco_gen_resume(g, NULL, &out), COCO_OK);
    ck_assert_int_eq(I(out), SAW_ALL);
    ck_assert_int_eq(coco_gen_resume(g, V(1), &out), COCO_OK);
    ck_assert_int_eq(I(out), SAW_ALL);
    ck_assert_int_eq(coco_gen_resume(g, NULL, &out), COCO_GEN_DONE);
    coco_gen_destroy(g);
    coco_channel_destroy(ch);
}
END_TEST

/* -------------------------------------- inside a scheduled coroutine */

static struct {
    coco_channel_t *ch;
    int ticks;                 /* the other coroutine's progress */
    int steps;                 /* the driver's generator steps */
    int order_ok;              /* the two interleaved as expected */
    int saw;                   /* what the generator saw, ANDed */
    bool self_back;            /* coco_self() right after each resume */
    bool sleep_back;           /* coco_sleep() works after the generator */
    coco_coro_t *driver;
} in_co;

static void ticker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50; i++) {
        in_co.ticks++;
        coco_yield();
    }
}

static void driver(void *arg)
{
    (void)arg;
    coco_gen_t *g = coco_gen_create(tries_to_park, in_co.ch, 0);
    in_co.saw = SAW_ALL;
    in_co.self_back = true;
    for (int i = 0; i < 20; i++) {
        int before = in_co.ticks;
        void *out = NULL;
        if (coco_gen_resume(g, V(1), &out) != COCO_OK)
            return;
        in_co.saw &= (int)I(out);
        if (coco_self() != in_co.driver)
            in_co.self_back = false;
        /* The generator ran nested: the ticker did not move meanwhile. */
        if (in_co.ticks == before)
            in_co.order_ok++;
        in_co.steps++;
        coco_yield(); /* the ticker runs now */
    }
    void *out;
    coco_gen_resume(g, NULL, &out); /* sends NULL: it returns */
    coco_gen_destroy(g);
    in_co.sleep_back = coco_sleep(1) == COCO_OK;
}

START_TEST(test_gen_in_coroutine)
{
    memset(&in_co, 0, sizeof in_co);
    coco_sched_t *s = coco_sched_create();
    in_co.ch = coco_channel_create(0);
    coco_create(s, ticker, NULL, 0);
    in_co.driver = coco_create(s, driver, NULL, 0);
    ck_assert_ptr_nonnull(in_co.driver);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(in_co.steps, 20);
    ck_assert_int_eq(in_co.order_ok, 20);
    ck_assert_int_eq(in_co.ticks, 50);
    ck_assert_int_eq(in_co.saw, SAW_ALL);
    ck_assert(in_co.self_back);
    ck_assert(in_co.sleep_back);
    coco_destroy(in_co.driver);
    coco_channel_destroy(in_co.ch);
    coco_sched_destroy(s);
}
END_TEST

/* Many coroutines, each pulling from generators of its own, one of them
 * destroyed half-way, with switches between every step. */
static atomic_long many_sum;

static void puller(void *arg)
{
    intptr_t n = I(arg);
    coco_gen_t *a = coco_gen_create(count_to, V(n), 0);
    struct squares_arg sa = { n, NULL };
    coco_gen_t *b = coco_gen_create(squares, &sa, 0);
    void *va, *vb;
    long sum = 0;
    for (intptr_t i = 0; i < n; i++) {
        if (coco_gen_resume(a, NULL, &va) != COCO_OK)
            return;
        if (i < n / 2) {
            if (coco_gen_resume(b, NULL, &vb) != COCO_OK)
                return;
            sum += I(vb);
        } else if (i == n / 2) {
            /* Suspended, with its inner one alive and suspended too. */
            if (coco_gen_destroy(b) != COCO_OK || sa.inner == NULL ||
                coco_gen_destroy(sa.inner) != COCO_OK)
                return;
        }
        sum += I(va);
        coco_yield();
    }
    if (coco_gen_resume(a, NULL, &va) == COCO_GEN_DONE)
        sum += I(va);
    coco_gen_destroy(a);
    atomic_fetch_add(&many_sum, sum);
}

static long puller_expect(intptr_t n)
{
    long sum = n * 10;
    for (intptr_t i = 0; i < n; i++)
        sum += i + (i < n / 2 ? i * i : 0);
    return sum;
}

START_TEST(test_gen_many_coroutines)
{
    atomic_store(&many_sum, 0);
    coco_sched_t *s = coco_sched_create();
    for (int i = 0; i < 100; i++)
        coco_create(s, puller, V(30), 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(atomic_load(&many_sum), 100 * puller_expect(30));
    coco_sched_destroy(s);
}
END_TEST

/* The same on a worker group: coroutines on several threads, each with
 * generators resumed on whatever thread runs it. */
START_TEST(test_gen_on_workers)
{
    atomic_store(&many_sum, 0);
    coco_workers_t *wk = coco_workers_create(2);
    ck_assert_ptr_nonnull(wk);
    for (int i = 0; i < 40; i++)
        ck_assert_int_eq(coco_workers_spawn(wk, puller, V(25), 0), COCO_OK);
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    coco_workers_destroy(wk);
    ck_assert_int_eq(atomic_load(&many_sum), 40 * puller_expect(25));
}
END_TEST

/* ------------------------------------------------------ many at once */

START_TEST(test_gen_ten_thousand)
{
    enum { N = 10000 };
    static coco_gen_t *gs[N];
    for (int i = 0; i < N; i++) {
        gs[i] = coco_gen_create(count_to, V(i % 4), 16 * 1024);
        ck_assert_ptr_nonnull(gs[i]);
    }
    /* Round-robin: every one alive and suspended at once. */
    for (int step = 0; step < 3; step++) {
        for (int i = 0; i < N; i++) {
            void *out = NULL;
            int rc = coco_gen_resume(gs[i], NULL, &out);
            if (step < i % 4) {
                ck_assert_int_eq(rc, COCO_OK);
                ck_assert_int_eq(I(out), step);
            } else if (step == i % 4) {
                ck_assert_int_eq(rc, COCO_GEN_DONE);
                ck_assert_int_eq(I(out), (i % 4) * 10);
            } else {
                ck_assert_int_eq(rc, COCO_ERROR_INVALID);
            }
        }
    }
    /* Finished ones and ones still suspended (i % 4 == 3) go together. */
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(coco_gen_destroy(gs[i]), COCO_OK);
}
END_TEST

/* ---------------------------------------------------------- bad input */

START_TEST(test_gen_bad_input)
{
    errno = 0;
    ck_assert_ptr_null(coco_gen_create(NULL, NULL, 0));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(coco_gen_create(count_to, NULL, (size_t)1 << 31));
    ck_assert_int_eq(errno, EINVAL);
    void *out = V(3);
    ck_assert_int_eq(coco_gen_resume(NULL, NULL, &out), COCO_ERROR_INVALID);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(coco_gen_resume(NULL, NULL, NULL), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_gen_destroy(NULL), COCO_ERROR_INVALID);
    /* Yield outside any generator, and on one that is not running. */
    errno = 0;
    ck_assert_ptr_null(coco_gen_yield(NULL, V(1)));
    ck_assert_int_eq(errno, EINVAL);
    coco_gen_t *g = coco_gen_create(count_to, V(3), 1); /* rounded up */
    ck_assert_ptr_nonnull(g);
    errno = 0;
    ck_assert_ptr_null(coco_gen_yield(g, V(1)));
    ck_assert_int_eq(errno, EINVAL);
    /* ... which left it untouched. */
    ck_assert_int_eq(coco_gen_resume(g, NULL, &out), COCO_OK);
    ck_assert_int_eq(I(out), 0);
    ck_assert_int_eq(coco_gen_resume(g, NULL, NULL), COCO_OK);
    ck_assert_int_eq(coco_gen_destroy(g), COCO_OK);
    ck_assert_str_eq(coco_strerror(COCO_ERROR_INVALID), "invalid argument");
}
END_TEST

/* ------------------------------------------------------------- threads */

#ifndef _WIN32
static struct {
    atomic_int in_fn;          /* the generator is inside its function */
    atomic_int release;        /* ... and may yield */
    int second_rc;             /* a resume tried meanwhile */
} conc;

static void *waits_for_release(coco_gen_t *g, void *arg)
{
    (void)arg;
    for (intptr_t i = 0;; i++) {
        atomic_store(&conc.in_fn, 1);
        while (!atomic_load(&conc.release))
            ;
        atomic_store(&conc.release, 0);
        atomic_store(&conc.in_fn, 0);
        coco_gen_yield(g, V(i));
    }
    return NULL;
}

static void *resume_once(void *arg)
{
    void *out = NULL;
    int rc = coco_gen_resume(arg, NULL, &out);
    return V(rc == COCO_OK ? I(out) : -100 + rc);
}

START_TEST(test_gen_threads)
{
    coco_gen_t *g = coco_gen_create(waits_for_release, NULL, 0);
    /* Resumed from one thread, then another, then this one: it carries
     * on where it stopped. */
    for (intptr_t i = 0; i < 3; i++) {
        pthread_t t;
        atomic_store(&conc.release, 1);
        ck_assert_int_eq(pthread_create(&t, NULL, resume_once, g), 0);
        void *r;
        pthread_join(t, &r);
        ck_assert_int_eq(I(r), i);
    }
    /* A second resume while one runs it is refused. */
    atomic_store(&conc.in_fn, 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, resume_once, g), 0);
    while (!atomic_load(&conc.in_fn))
        ;
    void *out = V(9);
    conc.second_rc = coco_gen_resume(g, NULL, &out);
    ck_assert_int_eq(coco_gen_destroy(g), COCO_ERROR_INVALID);
    atomic_store(&conc.release, 1);
    void *r;
    pthread_join(t, &r);
    ck_assert_int_eq(conc.second_rc, COCO_ERROR_INVALID);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(I(r), 3);
    ck_assert_int_eq(coco_gen_destroy(g), COCO_OK);
}
END_TEST
#endif

/* ---------------------------------------------------- stack overflow */

static volatile int depth_limit = 1 << 30;
static int __attribute__((noinline)) dive(int depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    if (depth >= depth_limit)
        return frame[0];
    return dive(depth + 1) + frame[0];
}

static void *overflows_later(coco_gen_t *g, void *arg)
{
    (void)arg;
    coco_gen_yield(g, V(1));
    dive(0);
    return V(2);
}

static bool overflow_in_co_ok;

static void overflow_in_coroutine(void *arg)
{
    (void)arg;
    coco_coro_t *self = coco_self();
    coco_gen_t *g = coco_gen_create(overflows_later, NULL, 0);
    void *out;
    int r1 = coco_gen_resume(g, NULL, &out);
    int r2 = coco_gen_resume(g, NULL, &out);
    int r3 = coco_gen_resume(g, NULL, &out);
    coco_gen_destroy(g);
    /* The coroutine is itself again, and may park. */
    overflow_in_co_ok = r1 == COCO_OK && r2 == COCO_ERROR_STACK_OVERFLOW &&
                        r3 == COCO_ERROR_INVALID && coco_self() == self &&
                        coco_sleep(1) == COCO_OK;
}

START_TEST(test_gen_overflow)
{
    coco_gen_t *g = coco_gen_create(overflows_later, NULL, 0);
    void *out = V(5);
    ck_assert_int_eq(coco_gen_resume(g, NULL, &out), COCO_OK);
    ck_assert_int_eq(I(out), 1);
    ck_assert_int_eq(coco_gen_resume(g, NULL, &out), COCO_ERROR_STACK_OVERFLOW);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(coco_gen_resume(g, NULL, &out), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_gen_destroy(g), COCO_OK);
    /* Again, so the handler was left properly, and from a coroutine. */
    g = coco_gen_create(overflows_later, NULL, 32 * 1024);
    ck_assert_int_eq(coco_gen_resume(g, NULL, &out), COCO_OK);
    ck_assert_int_eq(coco_gen_resume(g, NULL, &out), COCO_ERROR_STACK_OVERFLOW);
    coco_gen_destroy(g);
    overflow_in_co_ok = false;
    coco_sched_t *s = coco_sched_create();
    coco_create(s, overflow_in_coroutine, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert(overflow_in_co_ok);
    coco_sched_destroy(s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("gen");
    TCase *tc = tcase_create("gen");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_gen_iterator);
    tcase_add_test(tc, test_gen_finished);
    tcase_add_test(tc, test_gen_returns_at_once);
    tcase_add_test(tc, test_gen_values_in_out);
    tcase_add_test(tc, test_gen_destroy_suspended);
    tcase_add_test(tc, test_gen_self_resume_destroy);
    tcase_add_test(tc, test_gen_nested);
    tcase_add_test(tc, test_gen_park_from_plain_code);
    tcase_add_test(tc, test_gen_in_coroutine);
    tcase_add_test(tc, test_gen_many_coroutines);
    tcase_add_test(tc, test_gen_on_workers);
    tcase_add_test(tc, test_gen_ten_thousand);
    tcase_add_test(tc, test_gen_bad_input);
#ifndef _WIN32
    tcase_add_test(tc, test_gen_threads);
#endif
    suite_add_tcase(su, tc);
#if COCO_TEST_OVERFLOW
    /* Not under valgrind: memcheck takes the guard-page fault for an
     * invalid write and stops there. */
    if (getenv("COCO_TEST_UNDER_VALGRIND") == NULL) {
        tc = tcase_create("overflow");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_gen_overflow);
        suite_add_tcase(su, tc);
    }
#else
    (void)test_gen_overflow;
#endif
    return coco_test_run(su);
}
