/* Channels: the README semantics, try/timeout variants, close and destroy. */
#include "coco.h"
#include "testutil.h"

#include <stdint.h>
#include <time.h>

#define V(i) ((void *)(intptr_t)(i))

static coco_channel_t *chan;
static int results[16];
static intptr_t values[16];
static int nres;

static void reset(void)
{
    nres = 0;
    for (int i = 0; i < 16; i++) {
        results[i] = 12345;
        values[i] = -1;
    }
}

static void sender(void *arg)
{
    int k = nres++;
    results[k] = coco_channel_send(chan, arg);
}

static void receiver(void *arg)
{
    (void)arg;
    void *v = V(-7);
    int k = nres++;
    results[k] = coco_channel_recv(chan, &v);
    values[k] = (intptr_t)v;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ------------------------------------------------------------- basics */

START_TEST(test_create_queries)
{
    coco_channel_t *a = coco_channel_create(0);
    coco_channel_t *b = coco_channel_create(7);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(coco_channel_cap(a), 0);
    ck_assert_uint_eq(coco_channel_cap(b), 7);
    ck_assert_uint_eq(coco_channel_len(b), 0);
    ck_assert_int_eq(coco_channel_try_send(b, V(1)), COCO_OK);
    ck_assert_int_eq(coco_channel_try_send(b, V(2)), COCO_OK);
    ck_assert_uint_eq(coco_channel_len(b), 2);
    ck_assert_ptr_null(coco_channel_create(SIZE_MAX));
    coco_channel_destroy(a);
    coco_channel_destroy(b);
}
END_TEST

START_TEST(test_bad_input)
{
    coco_channel_t *ch = coco_channel_create(1);
    void *v;
    ck_assert_int_eq(coco_channel_send(NULL, V(1)), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_channel_recv(NULL, &v), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_channel_recv(ch, NULL), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_channel_try_send(NULL, V(1)), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_channel_try_recv(NULL, &v), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_channel_try_recv(ch, NULL), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_channel_send_timeout(NULL, V(1), 5), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_channel_recv_timeout(NULL, &v, 5), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_channel_recv_timeout(ch, NULL, 5), COCO_ERROR_INVALID);
    ck_assert_uint_eq(coco_channel_len(NULL), 0);
    ck_assert_uint_eq(coco_channel_cap(NULL), 0);
    coco_channel_close(NULL);
    coco_channel_destroy(NULL);
    coco_channel_destroy(ch);
}
END_TEST

/* Outside a coroutine nothing can wait: the call says so at once. */
START_TEST(test_outside_coroutine)
{
    coco_channel_t *u = coco_channel_create(0);
    coco_channel_t *b = coco_channel_create(1);
    void *v = V(3);
    ck_assert_int_eq(coco_channel_send(u, V(1)), COCO_ERROR_WOULDBLOCK);
    ck_assert_int_eq(coco_channel_recv(u, &v), COCO_ERROR_WOULDBLOCK);
    ck_assert_int_eq(coco_channel_send(b, V(1)), COCO_OK);
    ck_assert_int_eq(coco_channel_send(b, V(2)), COCO_ERROR_WOULDBLOCK);
    ck_assert_int_eq(coco_channel_send_timeout(b, V(2), 10), COCO_ERROR_WOULDBLOCK);
    ck_assert_int_eq(coco_channel_recv(b, &v), COCO_OK);
    ck_assert_ptr_eq(v, V(1));
    ck_assert_int_eq(coco_channel_recv_timeout(b, &v, 10), COCO_ERROR_WOULDBLOCK);
    coco_channel_destroy(u);
    coco_channel_destroy(b);
}
END_TEST

/* ------------------------------------------------------- unbuffered */

START_TEST(test_unbuffered_sender_waits)
{
    coco_sched_t *s = coco_sched_create();
    chan = coco_channel_create(0);
    reset();
    coco_coro_t *snd = coco_create(s, sender, V(42), 0);
    ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);
    ck_assert_int_eq(coco_get_state(snd), COCO_STATE_WAITING);
    ck_assert_int_eq(results[0], 12345);
    ck_assert_uint_eq(coco_channel_len(chan), 0);
    /* Still waiting with nothing else to run: the loop reports it. */
    ck_assert_int_eq(coco_sched_run_once(s), COCO_ERROR_DEADLOCK);
    ck_assert_int_eq(coco_get_state(snd), COCO_STATE_WAITING);
    coco_coro_t *rcv = coco_create(s, receiver, NULL, 0);
    ck_assert_int_eq(coco_sched_run_once(s), COCO_OK); /* receiver takes it */
    ck_assert_int_eq(coco_get_state(rcv), COCO_STATE_DEAD);
    ck_assert_int_eq(results[1], COCO_OK);
    ck_assert_int_eq(values[1], 42);
    ck_assert_int_eq(coco_get_state(snd), COCO_STATE_READY);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(results[0], COCO_OK);
    coco_destroy(snd);
    coco_destroy(rcv);
    coco_channel_destroy(chan);
    coco_sched_destroy(s);
}
END_TEST

/* A parked receiver gets the value straight from the sender: it never
 * shows in the ring, even on a buffered channel. */
START_TEST(test_direct_handoff)
{
    coco_sched_t *s = coco_sched_create();
    chan = coco_channel_create(4);
    reset();
    coco_create(s, receiver, NULL, 0);
    ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);
    ck_assert_int_eq(coco_channel_try_send(chan, V(9)), COCO_OK);
    ck_assert_uint_eq(coco_channel_len(chan), 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(results[0], COCO_OK);
    ck_assert_int_eq(values[0], 9);
    coco_channel_destroy(chan);
    coco_sched_destroy(s);
}
END_TEST

/* --------------------------------------------------------- buffered */

static int sent_before_wait;
static void fill_then_block(void *arg)
{
    (void)arg;
    for (int i = 0; i < 4; i++) {
        results[i] = coco_channel_send(chan, V(i));
        sent_before_wait = i + 1;
    }
}

START_TEST(test_buffered_capacity)
{
    coco_sched_t *s = coco_sched_create();
    chan = coco_channel_create(3);
    reset();
    sent_before_wait = 0;
    coco_coro_t *co = coco_create(s, fill_then_block, NULL, 0);
    ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);
    ck_assert_int_eq(sent_before_wait, 3);
    ck_assert_int_eq(coco_get_state(co), COCO_STATE_WAITING);
    ck_assert_uint_eq(coco_channel_len(chan), 3);
    void *v;
    ck_assert_int_eq(coco_channel_try_recv(chan, &v), COCO_OK);
    ck_assert_ptr_eq(v, V(0));
    /* The parked sender's value moved into the freed slot. */
    ck_assert_uint_eq(coco_channel_len(chan), 3);
    ck_assert_int_eq(coco_get_state(co), COCO_STATE_READY);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(sent_before_wait, 4);
    for (int i = 1; i < 4; i++) {
        ck_assert_int_eq(coco_channel_try_recv(chan, &v), COCO_OK);
        ck_assert_ptr_eq(v, V(i));
    }
    ck_assert_int_eq(coco_channel_try_recv(chan, &v), COCO_ERROR_WOULDBLOCK);
    coco_destroy(co);
    coco_channel_destroy(chan);
    coco_sched_destroy(s);
}
END_TEST

#define ORDER_N 5000
static int order_errors, order_count;
static void seq_sender(void *arg)
{
    intptr_t base = (intptr_t)arg;
    for (intptr_t i = 0; i < ORDER_N; i++)
        coco_channel_send(chan, V(base + i));
}
static void seq_receiver(void *arg)
{
    (void)arg;
    intptr_t next[2] = {0, 100000};
    void *v;
    while (coco_channel_recv(chan, &v) == COCO_OK) {
        intptr_t x = (intptr_t)v;
        int k = x >= 100000;
        if (x != next[k])
            order_errors++;
        next[k] = x + 1;
        if (++order_count == 2 * ORDER_N)
            coco_channel_close(chan);
    }
}

static void run_order(size_t cap)
{
    coco_sched_t *s = coco_sched_create();
    chan = coco_channel_create(cap);
    order_errors = order_count = 0;
    coco_create(s, seq_sender, V(0), 0);
    coco_create(s, seq_receiver, NULL, 0);
    coco_create(s, seq_sender, V(100000), 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(order_count, 2 * ORDER_N);
    ck_assert_int_eq(order_errors, 0);
    coco_channel_destroy(chan);
    coco_sched_destroy(s);
}

START_TEST(test_order_unbuffered) { run_order(0); }
END_TEST
START_TEST(test_order_buffered) { run_order(5); }
END_TEST

/* ------------------------------------------------------------- FIFO */

START_TEST(test_fifo_receivers)
{
    coco_sched_t *s = coco_sched_create();
    chan = coco_channel_create(0);
    reset();
    for (int i = 0; i < 4; i++)
        coco_create(s, receiver, NULL, 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(coco_channel_try_send(chan, V(10 + i)), COCO_OK);
    ck_assert_int_eq(coco_channel_try_send(chan, V(99)), COCO_ERROR_WOULDBLOCK);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(results[i], COCO_OK);
        ck_assert_int_eq(values[i], 10 + i);
    }
    coco_channel_destroy(chan);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_fifo_senders)
{
    coco_sched_t *s = coco_sched_create();
    chan = coco_channel_create(1);
    reset();
    for (int i = 0; i < 4; i++)
        coco_create(s, sender, V(20 + i), 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    void *v;
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(coco_channel_try_recv(chan, &v), COCO_OK);
        ck_assert_ptr_eq(v, V(20 + i));
    }
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(results[i], COCO_OK);
    coco_channel_destroy(chan);
    coco_sched_destroy(s);
}
END_TEST

/* ------------------------------------------------------------ close */

START_TEST(test_close_wakes_receivers)
{
    coco_sched_t *s = coco_sched_create();
    chan = coco_channel_create(2);
    reset();
    for (int i = 0; i < 3; i++)
        coco_create(s, receiver, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    coco_channel_close(chan);
    coco_channel_close(chan); /* harmless */
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(results[i], COCO_ERROR_CHANNEL_CLOSED);
        ck_assert_int_eq(values[i], 0);
    }
    coco_channel_destroy(chan);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_close_wakes_senders)
{
    coco_sched_t *s = coco_sched_create();
    chan = coco_channel_create(0);
    reset();
    for (int i = 0; i < 3; i++)
        coco_create(s, sender, V(i), 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    coco_channel_close(chan);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(results[i], COCO_ERROR_CHANNEL_CLOSED);
    ck_assert_int_eq(coco_channel_send(chan, V(1)), COCO_ERROR_CHANNEL_CLOSED);
    ck_assert_int_eq(coco_channel_try_send(chan, V(1)), COCO_ERROR_CHANNEL_CLOSED);
    coco_channel_destroy(chan);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_close_drains_buffer)
{
    coco_channel_t *ch = coco_channel_create(3);
    void *v;
    ck_assert_int_eq(coco_channel_send(ch, V(1)), COCO_OK);
    ck_assert_int_eq(coco_channel_send(ch, V(2)), COCO_OK);
    coco_channel_close(ch);
    ck_assert_int_eq(coco_channel_send(ch, V(3)), COCO_ERROR_CHANNEL_CLOSED);
    ck_assert_int_eq(coco_channel_recv(ch, &v), COCO_OK);
    ck_assert_ptr_eq(v, V(1));
    ck_assert_int_eq(coco_channel_try_recv(ch, &v), COCO_OK);
    ck_assert_ptr_eq(v, V(2));
    ck_assert_int_eq(coco_channel_recv(ch, &v), COCO_ERROR_CHANNEL_CLOSED);
    ck_assert_ptr_null(v);
    ck_assert_int_eq(coco_channel_try_recv(ch, &v), COCO_ERROR_CHANNEL_CLOSED);
    coco_channel_destroy(ch);
}
END_TEST

/* The README producer/consumer: everything sent arrives, then closed. */
static int readme_got[10], readme_n, readme_last;
static void readme_producer(void *arg)
{
    coco_channel_t *ch = arg;
    for (int i = 0; i < 10; i++)
        coco_channel_send(ch, V(i));
    coco_channel_close(ch);
}
static void readme_consumer(void *arg)
{
    coco_channel_t *ch = arg;
    void *val;
    while ((readme_last = coco_channel_recv(ch, &val)) == COCO_OK)
        readme_got[readme_n++] = (int)(intptr_t)val;
}

START_TEST(test_readme_pipeline)
{
    coco_sched_t *s = coco_sched_create();
    coco_channel_t *ch = coco_channel_create(5);
    readme_n = 0;
    coco_create(s, readme_producer, ch, 0);
    coco_create(s, readme_consumer, ch, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(readme_n, 10);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(readme_got[i], i);
    ck_assert_int_eq(readme_last, COCO_ERROR_CHANNEL_CLOSED);
    coco_channel_destroy(ch);
    coco_sched_destroy(s);
}
END_TEST

/* ---------------------------------------------------------- destroy */

static void destroyer(void *arg)
{
    (void)arg;
    coco_channel_destroy(chan);
    chan = NULL;
}

/* Parked receivers and senders wake with CLOSED and never touch the freed
 * channel (run under valgrind or ASan to see the difference). */
START_TEST(test_destroy_with_waiters)
{
    coco_sched_t *s = coco_sched_create();
    coco_channel_t *ch = coco_channel_create(0);
    chan = ch;
    reset();
    coco_create(s, receiver, NULL, 0);
    coco_create(s, receiver, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    coco_create(s, destroyer, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(results[0], COCO_ERROR_CHANNEL_CLOSED);
    ck_assert_int_eq(results[1], COCO_ERROR_CHANNEL_CLOSED);

    chan = coco_channel_create(0);
    reset();
    coco_create(s, sender, V(1), 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    coco_channel_destroy(chan); /* from outside the coroutines */
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(results[0], COCO_ERROR_CHANNEL_CLOSED);
    coco_sched_destroy(s);
}
END_TEST

/* A coroutine destroyed while parked leaves the channel's queue. */
START_TEST(test_destroy_parked_coroutine)
{
    coco_sched_t *s = coco_sched_create();
    chan = coco_channel_create(0);
    reset();
    coco_coro_t *r = coco_create(s, receiver, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    coco_destroy(r);
    ck_assert_int_eq(coco_channel_try_send(chan, V(5)), COCO_ERROR_WOULDBLOCK);
    coco_create(s, sender, V(6), 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    /* The scheduler goes first, with the sender still parked. */
    coco_sched_destroy(s);
    void *v;
    ck_assert_int_eq(coco_channel_try_recv(chan, &v), COCO_ERROR_WOULDBLOCK);
    coco_channel_destroy(chan);
}
END_TEST

/* ------------------------------------------------------------ timeouts */

static uint64_t elapsed;
static void recv_with_timeout(void *arg)
{
    void *v = V(-1);
    uint64_t t0 = now_ms();
    results[0] = coco_channel_recv_timeout(chan, &v, (uint64_t)(intptr_t)arg);
    elapsed = now_ms() - t0;
    values[0] = (intptr_t)v;
}
static void send_with_timeout(void *arg)
{
    uint64_t t0 = now_ms();
    results[1] = coco_channel_send_timeout(chan, V(77), (uint64_t)(intptr_t)arg);
    elapsed = now_ms() - t0;
}

START_TEST(test_recv_timeout_expires)
{
    coco_sched_t *s = coco_sched_create();
    chan = coco_channel_create(1);
    reset();
    coco_create(s, recv_with_timeout, V(30), 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(results[0], COCO_ERROR_TIMEOUT);
    ck_assert_uint_ge(elapsed, 25);
    ck_assert_uint_lt(elapsed, 5000);
    /* The waiter left the queue: a later send goes to the ring. */
    ck_assert_int_eq(coco_channel_try_send(chan, V(1)), COCO_OK);
    ck_assert_uint_eq(coco_channel_len(chan), 1);
    coco_channel_destroy(chan);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_send_timeout_expires)
{
    coco_sched_t *s = coco_sched_create();
    chan = coco_channel_create(0);
    reset();
    coco_create(s, send_with_timeout, V(20), 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(results[1], COCO_ERROR_TIMEOUT);
    ck_assert_uint_ge(elapsed, 15);
    void *v;
    ck_assert_int_eq(coco_channel_try_recv(chan, &v), COCO_ERROR_WOULDBLOCK);
    coco_channel_destroy(chan);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_timeout_zero)
{
    coco_sched_t *s = coco_sched_create();
    chan = coco_channel_create(0);
    reset();
    coco_create(s, recv_with_timeout, V(0), 0);
    coco_create(s, send_with_timeout, V(0), 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(results[0], COCO_ERROR_TIMEOUT);
    ck_assert_int_eq(results[1], COCO_ERROR_TIMEOUT);
    coco_channel_destroy(chan);
    coco_sched_destroy(s);
}
END_TEST

static void late_sender(void *arg)
{
    (void)arg;
    coco_sleep(10);
    results[2] = coco_channel_send(chan, V(55));
}

START_TEST(test_recv_timeout_in_time)
{
    coco_sched_t *s = coco_sched_create();
    chan = coco_channel_create(0);
    reset();
    coco_create(s, recv_with_timeout, V(5000), 0);
    coco_create(s, late_sender, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(results[0], COCO_OK);
    ck_assert_int_eq(values[0], 55);
    ck_assert_int_eq(results[2], COCO_OK);
    ck_assert_uint_lt(elapsed, 4000);
    coco_channel_destroy(chan);
    coco_sched_destroy(s);
}
END_TEST

/* Deadlines racing with hand-offs: whatever a send reports as delivered
 * is received exactly once, and nothing else is. */
static long sent_sum, recv_sum, sent_n, recv_n;
static int stress_live;
static void stress_sender(void *arg)
{
    intptr_t id = (intptr_t)arg;
    for (intptr_t i = 1; i <= 200; i++) {
        intptr_t v = id * 1000 + i;
        if (coco_channel_send_timeout(chan, V(v), (uint64_t)(i % 3)) == COCO_OK) {
            sent_sum += v;
            sent_n++;
        }
        if (i % 50 == 0)
            coco_sleep(1);
    }
    if (--stress_live == 0)
        coco_channel_close(chan);
}
static void stress_receiver(void *arg)
{
    uint64_t ms = (uint64_t)(intptr_t)arg;
    for (;;) {
        void *v;
        int rc = coco_channel_recv_timeout(chan, &v, ms);
        if (rc == COCO_ERROR_CHANNEL_CLOSED)
            break;
        if (rc == COCO_OK) {
            recv_sum += (intptr_t)v;
            recv_n++;
        }
    }
}

static void run_stress(size_t cap)
{
    coco_sched_t *s = coco_sched_create();
    chan = coco_channel_create(cap);
    sent_sum = recv_sum = sent_n = recv_n = 0;
    stress_live = 4;
    for (int i = 0; i < 6; i++)
        coco_create(s, stress_receiver, V(1 + i % 3), 0);
    for (int i = 1; i <= 4; i++)
        coco_create(s, stress_sender, V(i), 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_gt(sent_n, 0);
    ck_assert_int_eq(recv_n, sent_n);
    ck_assert_int_eq(recv_sum, sent_sum);
    coco_channel_destroy(chan);
    coco_sched_destroy(s);
}

START_TEST(test_timeout_stress_unbuffered) { run_stress(0); }
END_TEST
START_TEST(test_timeout_stress_buffered) { run_stress(3); }
END_TEST

int main(void)
{
    Suite *su = suite_create("channel");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_create_queries);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_outside_coroutine);
    tcase_add_test(tc, test_unbuffered_sender_waits);
    tcase_add_test(tc, test_direct_handoff);
    tcase_add_test(tc, test_buffered_capacity);
    tcase_add_test(tc, test_order_unbuffered);
    tcase_add_test(tc, test_order_buffered);
    tcase_add_test(tc, test_fifo_receivers);
    tcase_add_test(tc, test_fifo_senders);
    suite_add_tcase(su, tc);

    tc = tcase_create("close");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_close_wakes_receivers);
    tcase_add_test(tc, test_close_wakes_senders);
    tcase_add_test(tc, test_close_drains_buffer);
    tcase_add_test(tc, test_readme_pipeline);
    tcase_add_test(tc, test_destroy_with_waiters);
    tcase_add_test(tc, test_destroy_parked_coroutine);
    suite_add_tcase(su, tc);

    tc = tcase_create("timeout");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_recv_timeout_expires);
    tcase_add_test(tc, test_send_timeout_expires);
    tcase_add_test(tc, test_timeout_zero);
    tcase_add_test(tc, test_recv_timeout_in_time);
    tcase_add_test(tc, test_timeout_stress_unbuffered);
    tcase_add_test(tc, test_timeout_stress_buffered);
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
