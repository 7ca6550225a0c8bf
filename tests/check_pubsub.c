/* Publish-subscribe through the public header: fan-out, late subscribers,
 * both slow-subscriber policies, unsubscribe and destroy with coroutines
 * parked, timeouts, bad input, and a publisher and subscribers on two
 * threads, each running a scheduler. */
#include "coco.h"
#include "testutil.h"

#include <errno.h>
#include <stdint.h>
#ifdef _WIN32
#include <windows.h>
#else
#include <pthread.h>
#include <time.h>
#endif

#define M(i) ((void *)(uintptr_t)(i))
#define I(p) ((uintptr_t)(p))

static uint64_t now_ms(void)
{
#ifdef _WIN32
    /* Not GetTickCount64(): it ticks every 15.6 ms, so a 30 ms wait could
     * measure as 16. */
    LARGE_INTEGER f, now;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&now);
    return (uint64_t)(now.QuadPart / (f.QuadPart / 1000));
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
#endif
}

START_TEST(test_bad_input)
{
    errno = 0;
    ck_assert_ptr_null(coco_pubsub_create(0, COCO_PUBSUB_BLOCK));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(coco_pubsub_create(4, 7));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(coco_pubsub_create(SIZE_MAX, COCO_PUBSUB_BLOCK));
    errno = 0;
    ck_assert_ptr_null(coco_pubsub_subscribe(NULL));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coco_pubsub_publish(NULL, M(1), 0), COCO_ERROR_INVALID);
    void *m;
    ck_assert_int_eq(coco_sub_recv(NULL, &m, 0), COCO_ERROR_INVALID);
    ck_assert_uint_eq(coco_sub_dropped(NULL), 0);
    ck_assert_uint_eq(coco_sub_len(NULL), 0);
    coco_pubsub_unsubscribe(NULL);
    coco_pubsub_destroy(NULL);

    coco_pubsub_t *ps = coco_pubsub_create(1, COCO_PUBSUB_BLOCK);
    ck_assert_ptr_nonnull(ps);
    /* No subscriber: a message goes nowhere, and nothing waits. */
    ck_assert_int_eq(coco_pubsub_publish(ps, M(1), COCO_INFINITE), COCO_OK);
    coco_sub_t *sub = coco_pubsub_subscribe(ps);
    ck_assert_ptr_nonnull(sub);
    ck_assert_int_eq(coco_sub_recv(sub, NULL, 0), COCO_ERROR_INVALID);
    /* Outside a coroutine: nothing to receive, no room to publish. */
    ck_assert_int_eq(coco_sub_recv(sub, &m, COCO_INFINITE), COCO_ERROR_WOULDBLOCK);
    ck_assert_int_eq(coco_pubsub_publish(ps, M(2), COCO_INFINITE), COCO_OK);
    ck_assert_int_eq(coco_pubsub_publish(ps, M(3), COCO_INFINITE), COCO_ERROR_WOULDBLOCK);
    ck_assert_uint_eq(coco_sub_len(sub), 1);
    ck_assert_int_eq(coco_sub_recv(sub, &m, 0), COCO_OK);
    ck_assert_ptr_eq(m, M(2));
    ck_assert_uint_eq(coco_sub_dropped(sub), 0);
    coco_pubsub_unsubscribe(sub);
    coco_pubsub_destroy(ps);
}
END_TEST

/* ---------------------------------------------------------- fan-out */

#define FAN_SUBS 16
#define FAN_MSGS 3000

static coco_pubsub_t *g_ps;
static coco_sub_t *g_subs[FAN_SUBS];
static uint64_t g_sum[FAN_SUBS];
static int g_count[FAN_SUBS], g_bad[FAN_SUBS], g_rc[FAN_SUBS];

static int fan_done;

static void fan_pub(void *arg)
{
    int n = (int)(intptr_t)arg;
    for (int i = 1; i <= n; i++)
        ck_assert_int_eq(coco_pubsub_publish(g_ps, M(i), COCO_INFINITE), COCO_OK);
    fan_done = 1;
}

/* Receives until the pub-sub goes, checking the order. */
static void fan_sub(void *arg)
{
    int k = (int)(intptr_t)arg;
    uintptr_t last = 0;
    void *m;
    int rc;
    while ((rc = coco_sub_recv(g_subs[k], &m, COCO_INFINITE)) == COCO_OK) {
        if (I(m) != last + 1)
            g_bad[k]++;
        last = I(m);
        g_sum[k] += I(m);
        g_count[k]++;
        if ((k & 3) == 0 && (last % 7) == 0)
            coco_yield(); /* some subscribers are slower */
    }
    g_rc[k] = rc;
}

static void fan_closer(void *arg)
{
    (void)arg;
    /* Once the publisher is done and every subscriber has taken all. */
    while (!fan_done)
        coco_yield();
    for (int k = 0; k < FAN_SUBS; k++)
        while (coco_sub_len(g_subs[k]) != 0)
            coco_yield();
    coco_pubsub_destroy(g_ps);
}

static void fan_out(int policy, size_t backlog)
{
    int shared = coco_test_shared_stacks();
    coco_sched_t *s = coco_sched_create();
    g_ps = coco_pubsub_create(backlog, policy);
    ck_assert_ptr_nonnull(g_ps);
    for (int k = 0; k < FAN_SUBS; k++) {
        g_subs[k] = coco_pubsub_subscribe(g_ps);
        ck_assert_ptr_nonnull(g_subs[k]);
        g_sum[k] = 0;
        g_count[k] = g_bad[k] = 0;
        g_rc[k] = 1;
        /* Where the build has them, every other subscriber runs on a
         * shared stack: its waits go through records on the heap. */
        coco_attr_t attr;
        coco_attr_init(&attr);
        if ((k & 1) && shared)
            attr.flags = COCO_ATTR_SHARED_STACK;
        ck_assert_ptr_nonnull(coco_create_attr(s, fan_sub, (void *)(intptr_t)k, &attr));
    }
    fan_done = 0;
    ck_assert_ptr_nonnull(coco_create(s, fan_pub, (void *)(intptr_t)FAN_MSGS, 0));
    ck_assert_ptr_nonnull(coco_create(s, fan_closer, NULL, 0));
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    uint64_t want = (uint64_t)FAN_MSGS * (FAN_MSGS + 1) / 2;
    for (int k = 0; k < FAN_SUBS; k++) {
        ck_assert_int_eq(g_rc[k], COCO_ERROR_CHANNEL_CLOSED);
        ck_assert_int_eq(g_bad[k], 0);
        ck_assert_int_eq(g_count[k], FAN_MSGS);
        ck_assert_uint_eq(g_sum[k], want);
    }
    coco_sched_destroy(s);
}

START_TEST(test_fan_out_block)
{
    fan_out(COCO_PUBSUB_BLOCK, 4);
}
END_TEST

START_TEST(test_fan_out_block_backlog1)
{
    fan_out(COCO_PUBSUB_BLOCK, 1);
}
END_TEST

/* ------------------------------------------------------ late subscriber */

START_TEST(test_late_subscriber)
{
    coco_pubsub_t *ps = coco_pubsub_create(16, COCO_PUBSUB_BLOCK);
    coco_sub_t *a = coco_pubsub_subscribe(ps);
    for (int i = 1; i <= 5; i++)
        ck_assert_int_eq(coco_pubsub_publish(ps, M(i), 0), COCO_OK);
    coco_sub_t *b = coco_pubsub_subscribe(ps);
    for (int i = 6; i <= 8; i++)
        ck_assert_int_eq(coco_pubsub_publish(ps, M(i), 0), COCO_OK);
    void *m;
    for (int i = 6; i <= 8; i++) {
        ck_assert_int_eq(coco_sub_recv(b, &m, 0), COCO_OK);
        ck_assert_ptr_eq(m, M(i));
    }
    ck_assert_int_eq(coco_sub_recv(b, &m, 0), COCO_ERROR_WOULDBLOCK);
    for (int i = 1; i <= 8; i++) {
        ck_assert_int_eq(coco_sub_recv(a, &m, 0), COCO_OK);
        ck_assert_ptr_eq(m, M(i));
    }
    /* Unsubscribed, b no longer takes room: a alone counts. */
    coco_pubsub_unsubscribe(b);
    for (int i = 9; i <= 24; i++)
        ck_assert_int_eq(coco_pubsub_publish(ps, M(i), 0), COCO_OK);
    ck_assert_int_eq(coco_pubsub_publish(ps, M(25), 0), COCO_ERROR_WOULDBLOCK);
    ck_assert_uint_eq(coco_sub_len(a), 16);
    coco_pubsub_destroy(ps);
}
END_TEST

/* ------------------------------------------------------ slow subscriber */

static int published, slow_rc, steps_ok;
static coco_sub_t *fast, *slow;

static void slow_pub(void *arg)
{
    int n = (int)(intptr_t)arg;
    for (int i = 1; i <= n; i++) {
        ck_assert_int_eq(coco_pubsub_publish(g_ps, M(i), COCO_INFINITE), COCO_OK);
        published = i;
    }
}

static void fast_recv(void *arg)
{
    int n = (int)(intptr_t)arg;
    void *m;
    for (int i = 1; i <= n; i++) {
        ck_assert_int_eq(coco_sub_recv(fast, &m, COCO_INFINITE), COCO_OK);
        ck_assert_ptr_eq(m, M(i));
    }
}

/* The publisher waits for the slow subscriber, and goes on one message per
 * message it takes. */
static void slow_recv(void *arg)
{
    int n = (int)(intptr_t)arg;
    void *m;
    for (int y = 0; y < 10; y++)
        coco_yield();
    /* Backlog 2: the third message waits. */
    ck_assert_int_eq(published, 2);
    for (int i = 1; i <= n; i++) {
        ck_assert_int_eq(coco_sub_recv(slow, &m, COCO_INFINITE), COCO_OK);
        ck_assert_ptr_eq(m, M(i));
        for (int y = 0; y < 5; y++)
            coco_yield();
        int want = i + 2 < n ? i + 2 : n;
        if (published == want)
            steps_ok++;
    }
}

START_TEST(test_slow_subscriber_blocks_publisher)
{
    coco_sched_t *s = coco_sched_create();
    g_ps = coco_pubsub_create(2, COCO_PUBSUB_BLOCK);
    fast = coco_pubsub_subscribe(g_ps);
    slow = coco_pubsub_subscribe(g_ps);
    published = steps_ok = 0;
    coco_create(s, slow_pub, (void *)(intptr_t)10, 0);
    coco_create(s, fast_recv, (void *)(intptr_t)10, 0);
    coco_create(s, slow_recv, (void *)(intptr_t)10, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(published, 10);
    ck_assert_int_eq(steps_ok, 10);
    ck_assert_uint_eq(coco_sub_dropped(slow), 0);
    coco_pubsub_destroy(g_ps);
    coco_sched_destroy(s);
}
END_TEST

static void timed_pub(void *arg)
{
    (void)arg;
    ck_assert_int_eq(coco_pubsub_publish(g_ps, M(1), 0), COCO_OK);
    /* slow is full: the message goes to nobody. */
    ck_assert_int_eq(coco_pubsub_publish(g_ps, M(2), 0), COCO_ERROR_TIMEOUT);
    uint64_t t0 = now_ms();
    ck_assert_int_eq(coco_pubsub_publish(g_ps, M(3), 30), COCO_ERROR_TIMEOUT);
    ck_assert_uint_ge(now_ms() - t0, 25);
    ck_assert_uint_eq(coco_sub_len(fast), 1);
    published = 1;
}

static void timed_recv(void *arg)
{
    (void)arg;
    void *m;
    ck_assert_int_eq(coco_sub_recv(fast, &m, 0), COCO_OK);
    ck_assert_ptr_eq(m, M(1));
    ck_assert_int_eq(coco_sub_recv(fast, &m, 0), COCO_ERROR_TIMEOUT);
    uint64_t t0 = now_ms();
    ck_assert_int_eq(coco_sub_recv(fast, &m, 30), COCO_ERROR_TIMEOUT);
    ck_assert_uint_ge(now_ms() - t0, 25);
    slow_rc = 1;
}

START_TEST(test_timeouts)
{
    coco_sched_t *s = coco_sched_create();
    g_ps = coco_pubsub_create(1, COCO_PUBSUB_BLOCK);
    fast = coco_pubsub_subscribe(g_ps);
    slow = coco_pubsub_subscribe(g_ps);
    published = slow_rc = 0;
    coco_create(s, timed_pub, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(published, 1);
    coco_create(s, timed_recv, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(slow_rc, 1);
    void *m;
    ck_assert_int_eq(coco_sub_recv(slow, &m, 0), COCO_OK);
    ck_assert_ptr_eq(m, M(1));
    ck_assert_int_eq(coco_sub_recv(slow, &m, 0), COCO_ERROR_WOULDBLOCK);
    coco_pubsub_destroy(g_ps);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_drop_oldest_counts)
{
    coco_pubsub_t *ps = coco_pubsub_create(3, COCO_PUBSUB_DROP_OLDEST);
    coco_sub_t *lazy = coco_pubsub_subscribe(ps);
    coco_sub_t *keen = coco_pubsub_subscribe(ps);
    void *m;
    for (int i = 1; i <= 10; i++) {
        /* Never waits, even outside a coroutine with a full backlog. */
        ck_assert_int_eq(coco_pubsub_publish(ps, M(i), COCO_INFINITE), COCO_OK);
        ck_assert_int_eq(coco_sub_recv(keen, &m, 0), COCO_OK);
        ck_assert_ptr_eq(m, M(i));
    }
    ck_assert_uint_eq(coco_sub_dropped(lazy), 7);
    ck_assert_uint_eq(coco_sub_dropped(keen), 0);
    ck_assert_uint_eq(coco_sub_len(lazy), 3);
    for (int i = 8; i <= 10; i++) {
        ck_assert_int_eq(coco_sub_recv(lazy, &m, 0), COCO_OK);
        ck_assert_ptr_eq(m, M(i));
    }
    ck_assert_int_eq(coco_sub_recv(lazy, &m, 0), COCO_ERROR_WOULDBLOCK);
    /* Once more, with the ring wrapped round. */
    for (int i = 11; i <= 15; i++)
        ck_assert_int_eq(coco_pubsub_publish(ps, M(i), 0), COCO_OK);
    ck_assert_uint_eq(coco_sub_dropped(lazy), 9);
    ck_assert_uint_eq(coco_sub_dropped(keen), 5 - 3);
    for (int i = 13; i <= 15; i++) {
        ck_assert_int_eq(coco_sub_recv(lazy, &m, 0), COCO_OK);
        ck_assert_ptr_eq(m, M(i));
    }
    coco_pubsub_destroy(ps);
}
END_TEST

/* ------------------------------------- unsubscribe, destroy while parked */

static int pub_rc, recv_rcs[4], nrecv_rc;

static void blocked_pub(void *arg)
{
    pub_rc = coco_pubsub_publish(g_ps, arg, COCO_INFINITE);
}

static void unsub_slow(void *arg)
{
    (void)arg;
    ck_assert_int_eq(pub_rc, 1); /* the publisher is parked */
    ck_assert_uint_eq(coco_sub_len(fast), 0);
    coco_pubsub_unsubscribe(slow);
    coco_yield();
    ck_assert_int_eq(pub_rc, COCO_OK);
    void *m;
    ck_assert_int_eq(coco_sub_recv(fast, &m, 0), COCO_OK);
    ck_assert_ptr_eq(m, M(2));
}

START_TEST(test_unsubscribe_frees_blocked_publisher)
{
    coco_sched_t *s = coco_sched_create();
    g_ps = coco_pubsub_create(1, COCO_PUBSUB_BLOCK);
    fast = coco_pubsub_subscribe(g_ps);
    slow = coco_pubsub_subscribe(g_ps);
    ck_assert_int_eq(coco_pubsub_publish(g_ps, M(1), 0), COCO_OK);
    void *m;
    ck_assert_int_eq(coco_sub_recv(fast, &m, 0), COCO_OK);
    pub_rc = 1;
    coco_create(s, blocked_pub, M(2), 0);
    coco_create(s, unsub_slow, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(pub_rc, COCO_OK);
    coco_pubsub_destroy(g_ps);
    coco_sched_destroy(s);
}
END_TEST

static void parked_recv(void *arg)
{
    void *m = M(99);
    int rc = coco_sub_recv(arg, &m, COCO_INFINITE);
    recv_rcs[nrecv_rc++] = rc;
}

static void destroyer(void *arg)
{
    (void)arg;
    coco_pubsub_destroy(g_ps);
}

/* Resumes n coroutines of s, one at a time. */
static void step(coco_sched_t *s, int n)
{
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);
}

START_TEST(test_destroy_with_parked)
{
    coco_sched_t *s = coco_sched_create();
    g_ps = coco_pubsub_create(1, COCO_PUBSUB_BLOCK);
    coco_sub_t *a = coco_pubsub_subscribe(g_ps);
    coco_sub_t *b = coco_pubsub_subscribe(g_ps);
    coco_sub_t *c = coco_pubsub_subscribe(g_ps);
    nrecv_rc = 0;
    pub_rc = 1;
    coco_create(s, parked_recv, a, 0);
    coco_create(s, parked_recv, a, 0);
    coco_create(s, parked_recv, b, 0);
    step(s, 3);
    /* c is full: a publisher parks. */
    ck_assert_int_eq(coco_pubsub_publish(g_ps, M(1), 0), COCO_OK);
    ck_assert_uint_eq(coco_sub_len(c), 1);
    coco_create(s, blocked_pub, M(2), 0);
    step(s, 3);
    /* Two of the receivers got message 1 and finished; park another. */
    ck_assert_int_eq(nrecv_rc, 2);
    coco_create(s, parked_recv, b, 0);
    step(s, 1);
    ck_assert_int_eq(pub_rc, 1);
    coco_create(s, destroyer, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(pub_rc, COCO_ERROR_CHANNEL_CLOSED);
    ck_assert_int_eq(nrecv_rc, 4);
    ck_assert_int_eq(recv_rcs[0], COCO_OK);
    ck_assert_int_eq(recv_rcs[1], COCO_OK);
    ck_assert_int_eq(recv_rcs[2], COCO_ERROR_CHANNEL_CLOSED);
    ck_assert_int_eq(recv_rcs[3], COCO_ERROR_CHANNEL_CLOSED);
    coco_sched_destroy(s);
}
END_TEST

/* A receiver handed a message and destroyed before it ran: the message
 * stays with its subscriber. */
START_TEST(test_handed_receiver_destroyed)
{
    coco_sched_t *s = coco_sched_create();
    coco_pubsub_t *ps = coco_pubsub_create(2, COCO_PUBSUB_BLOCK);
    coco_sub_t *sub = coco_pubsub_subscribe(ps);
    nrecv_rc = 0;
    coco_coro_t *r = coco_create(s, parked_recv, sub, 0);
    ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);
    ck_assert_int_eq(coco_pubsub_publish(ps, M(1), 0), COCO_OK);
    ck_assert_uint_eq(coco_sub_len(sub), 0); /* handed */
    ck_assert_int_eq(coco_pubsub_publish(ps, M(2), 0), COCO_OK);
    coco_destroy(r);
    ck_assert_int_eq(nrecv_rc, 0);
    void *m;
    ck_assert_int_eq(coco_sub_recv(sub, &m, 0), COCO_OK);
    ck_assert_ptr_eq(m, M(1));
    ck_assert_int_eq(coco_sub_recv(sub, &m, 0), COCO_OK);
    ck_assert_ptr_eq(m, M(2));
    ck_assert_uint_eq(coco_sub_dropped(sub), 0);
    coco_pubsub_destroy(ps);
    coco_sched_destroy(s);
}
END_TEST

#ifndef _WIN32
/* ---------------------------------------------------------- two threads */

#define MT_SUBS 6
#define MT_MSGS 20000

static coco_pubsub_t *mt_ps;
static coco_sub_t *mt_subs[MT_SUBS];
static uint64_t mt_sum[MT_SUBS];
static int mt_bad[MT_SUBS], mt_count[MT_SUBS];

static void mt_pub(void *arg)
{
    (void)arg;
    for (int i = 1; i <= MT_MSGS; i++)
        if (coco_pubsub_publish(mt_ps, M(i), COCO_INFINITE) != COCO_OK)
            return;
}

static void mt_recv(void *arg)
{
    int k = (int)(intptr_t)arg;
    uintptr_t last = 0;
    void *m;
    for (int i = 0; i < MT_MSGS; i++) {
        if (coco_sub_recv(mt_subs[k], &m, 10000) != COCO_OK)
            return;
        if (I(m) != last + 1)
            mt_bad[k]++;
        last = I(m);
        mt_sum[k] += I(m);
        mt_count[k]++;
    }
}

static void *mt_thread(void *arg)
{
    int publisher = arg != NULL;
    coco_sched_t *s = coco_sched_create();
    if (publisher)
        coco_create(s, mt_pub, NULL, 0);
    else
        for (int k = 0; k < MT_SUBS; k++)
            coco_create(s, mt_recv, (void *)(intptr_t)k, 0);
    coco_sched_run(s);
    coco_sched_destroy(s);
    return NULL;
}

START_TEST(test_two_threads)
{
    int policy = _i == 0 ? COCO_PUBSUB_BLOCK : COCO_PUBSUB_DROP_OLDEST;
    mt_ps = coco_pubsub_create(policy == COCO_PUBSUB_BLOCK ? 4 : MT_MSGS, policy);
    for (int k = 0; k < MT_SUBS; k++) {
        mt_subs[k] = coco_pubsub_subscribe(mt_ps);
        mt_sum[k] = 0;
        mt_bad[k] = mt_count[k] = 0;
    }
    pthread_t a, b;
    ck_assert_int_eq(pthread_create(&b, NULL, mt_thread, NULL), 0);
    ck_assert_int_eq(pthread_create(&a, NULL, mt_thread, (void *)1), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    uint64_t want = (uint64_t)MT_MSGS * (MT_MSGS + 1) / 2;
    for (int k = 0; k < MT_SUBS; k++) {
        ck_assert_int_eq(mt_count[k], MT_MSGS);
        ck_assert_int_eq(mt_bad[k], 0);
        ck_assert_uint_eq(mt_sum[k], want);
        ck_assert_uint_eq(coco_sub_dropped(mt_subs[k]), 0);
    }
    coco_pubsub_destroy(mt_ps);
}
END_TEST
#endif

int main(void)
{
    Suite *su = suite_create("pubsub");
    TCase *tc = tcase_create("pubsub");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_fan_out_block);
    tcase_add_test(tc, test_fan_out_block_backlog1);
    tcase_add_test(tc, test_late_subscriber);
    tcase_add_test(tc, test_slow_subscriber_blocks_publisher);
    tcase_add_test(tc, test_timeouts);
    tcase_add_test(tc, test_drop_oldest_counts);
    tcase_add_test(tc, test_unsubscribe_frees_blocked_publisher);
    tcase_add_test(tc, test_destroy_with_parked);
    tcase_add_test(tc, test_handed_receiver_destroyed);
#ifndef _WIN32
    tcase_add_loop_test(tc, test_two_threads, 0, 2);
#endif
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
