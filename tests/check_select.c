/* Select: readiness, parking on several channels, fairness, timeouts. */
#include "coco.h"
#include "testutil.h"

#include <stdint.h>

#define V(i) ((void *)(intptr_t)(i))
#define NCH 12

static coco_channel_t *chs[NCH];
static coco_select_case_t cases[NCH];
static int sel_rc;
static uint64_t sel_timeout;
static size_t sel_n;

static void make_channels(size_t cap)
{
    for (int i = 0; i < NCH; i++)
        chs[i] = coco_channel_create(cap);
}

static void free_channels(void)
{
    for (int i = 0; i < NCH; i++)
        coco_channel_destroy(chs[i]);
}

static void set_case(int i, coco_select_op_t op, void *value)
{
    cases[i].ch = chs[i];
    cases[i].op = op;
    cases[i].value = value;
    cases[i].result = 12345;
}

static void selector(void *arg)
{
    (void)arg;
    sel_rc = coco_select(cases, sel_n, sel_timeout);
}

START_TEST(test_bad_input)
{
    coco_select_case_t c = { NULL, COCO_SELECT_RECV, NULL, 0 };
    ck_assert_int_eq(coco_select(NULL, 1, 0), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_select(&c, 0, 0), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_select_try(NULL, 1), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_select_try(&c, 0), COCO_ERROR_INVALID);
    c.op = (coco_select_op_t)9;
    ck_assert_int_eq(coco_select_try(&c, 1), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_select(&c, 1, COCO_INFINITE), COCO_ERROR_INVALID);

    /* No channel at all and no deadline: nothing could ever finish it. */
    coco_sched_t *s = coco_sched_create();
    cases[0] = (coco_select_case_t){ NULL, COCO_SELECT_RECV, NULL, 0 };
    sel_n = 1;
    sel_timeout = COCO_INFINITE;
    sel_rc = 12345;
    coco_create(s, selector, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(sel_rc, COCO_ERROR_INVALID);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_try_and_outside)
{
    make_channels(1);
    set_case(0, COCO_SELECT_RECV, NULL);
    set_case(1, COCO_SELECT_RECV, NULL);
    ck_assert_int_eq(coco_select_try(cases, 2), COCO_ERROR_WOULDBLOCK);
    ck_assert_int_eq(coco_select(cases, 2, COCO_INFINITE), COCO_ERROR_WOULDBLOCK);
    ck_assert_int_eq(coco_channel_try_send(chs[1], V(8)), COCO_OK);
    ck_assert_int_eq(coco_select_try(cases, 2), 1);
    ck_assert_int_eq(cases[1].result, COCO_OK);
    ck_assert_ptr_eq(cases[1].value, V(8));
    ck_assert_uint_eq(coco_channel_len(chs[1]), 0);

    set_case(2, COCO_SELECT_SEND, V(3));
    cases[0].ch = NULL; /* a NULL channel is never chosen */
    cases[1].ch = NULL;
    ck_assert_int_eq(coco_select(cases, 3, 0), 2);
    ck_assert_int_eq(cases[2].result, COCO_OK);
    ck_assert_uint_eq(coco_channel_len(chs[2]), 1);
    free_channels();
}
END_TEST

/* A parked select is completed by one peer; its other records are gone. */
START_TEST(test_parked_recv)
{
    coco_sched_t *s = coco_sched_create();
    make_channels(0);
    for (int i = 0; i < 3; i++)
        set_case(i, COCO_SELECT_RECV, NULL);
    set_case(3, COCO_SELECT_SEND, V(30));
    sel_n = 4;
    sel_timeout = COCO_INFINITE;
    sel_rc = 12345;
    coco_coro_t *co = coco_create(s, selector, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    ck_assert_int_eq(coco_get_state(co), COCO_STATE_WAITING);
    ck_assert_int_eq(coco_channel_try_send(chs[1], V(11)), COCO_OK);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(sel_rc, 1);
    ck_assert_int_eq(cases[1].result, COCO_OK);
    ck_assert_ptr_eq(cases[1].value, V(11));
    /* Nobody waits any more on the other channels. */
    void *v;
    ck_assert_int_eq(coco_channel_try_send(chs[0], V(1)), COCO_ERROR_WOULDBLOCK);
    ck_assert_int_eq(coco_channel_try_send(chs[2], V(1)), COCO_ERROR_WOULDBLOCK);
    ck_assert_int_eq(coco_channel_try_recv(chs[3], &v), COCO_ERROR_WOULDBLOCK);
    coco_destroy(co);
    free_channels();
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_parked_send)
{
    coco_sched_t *s = coco_sched_create();
    make_channels(0);
    set_case(0, COCO_SELECT_RECV, NULL);
    set_case(1, COCO_SELECT_SEND, V(21));
    sel_n = 2;
    sel_timeout = COCO_INFINITE;
    coco_create(s, selector, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    void *v;
    ck_assert_int_eq(coco_channel_try_recv(chs[1], &v), COCO_OK);
    ck_assert_ptr_eq(v, V(21));
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(sel_rc, 1);
    ck_assert_int_eq(cases[1].result, COCO_OK);
    ck_assert_int_eq(coco_channel_try_send(chs[0], V(1)), COCO_ERROR_WOULDBLOCK);
    free_channels();
    coco_sched_destroy(s);
}
END_TEST

/* More cases than fit the records kept on the stack. */
START_TEST(test_many_cases)
{
    coco_sched_t *s = coco_sched_create();
    make_channels(0);
    for (int i = 0; i < NCH; i++)
        set_case(i, COCO_SELECT_RECV, NULL);
    sel_n = NCH;
    sel_timeout = COCO_INFINITE;
    coco_create(s, selector, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    ck_assert_int_eq(coco_channel_try_send(chs[NCH - 1], V(5)), COCO_OK);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(sel_rc, NCH - 1);
    ck_assert_ptr_eq(cases[NCH - 1].value, V(5));
    for (int i = 0; i < NCH - 1; i++)
        ck_assert_int_eq(coco_channel_try_send(chs[i], V(1)), COCO_ERROR_WOULDBLOCK);
    free_channels();
    coco_sched_destroy(s);
}
END_TEST

/* Every ready case gets its share; the later ones are not starved. */
START_TEST(test_fairness)
{
    int hits[4] = {0};
    make_channels(1);
    for (int i = 0; i < 4; i++)
        set_case(i, COCO_SELECT_RECV, NULL);
    for (int round = 0; round < 4000; round++) {
        for (int i = 0; i < 4; i++)
            if (coco_channel_len(chs[i]) == 0)
                coco_channel_try_send(chs[i], V(i));
        int k = coco_select_try(cases, 4);
        ck_assert_int_ge(k, 0);
        ck_assert_int_lt(k, 4);
        ck_assert_ptr_eq(cases[k].value, V(k));
        hits[k]++;
    }
    for (int i = 0; i < 4; i++)
        ck_assert_int_gt(hits[i], 600);
    free_channels();
}
END_TEST

START_TEST(test_closed_case)
{
    coco_sched_t *s = coco_sched_create();
    make_channels(0);
    set_case(0, COCO_SELECT_RECV, NULL);
    set_case(1, COCO_SELECT_RECV, NULL);
    sel_n = 2;
    sel_timeout = COCO_INFINITE;
    coco_create(s, selector, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    coco_channel_close(chs[0]);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(sel_rc, 0);
    ck_assert_int_eq(cases[0].result, COCO_ERROR_CHANNEL_CLOSED);
    /* A closed channel is always ready. */
    ck_assert_int_eq(coco_select_try(cases, 2), 0);
    ck_assert_int_eq(cases[0].result, COCO_ERROR_CHANNEL_CLOSED);
    set_case(2, COCO_SELECT_SEND, V(1));
    coco_channel_close(chs[2]);
    cases[0].ch = NULL;
    ck_assert_int_eq(coco_select_try(cases, 3), 2);
    ck_assert_int_eq(cases[2].result, COCO_ERROR_CHANNEL_CLOSED);
    free_channels();
    coco_sched_destroy(s);
}
END_TEST

/* Destroying one of the channels wakes the select, which then points at
 * nothing freed. */
START_TEST(test_destroy_while_parked)
{
    coco_sched_t *s = coco_sched_create();
    make_channels(0);
    set_case(0, COCO_SELECT_RECV, NULL);
    set_case(1, COCO_SELECT_SEND, V(2));
    sel_n = 2;
    sel_timeout = COCO_INFINITE;
    coco_create(s, selector, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    coco_channel_destroy(chs[1]);
    chs[1] = NULL;
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(sel_rc, 1);
    ck_assert_int_eq(cases[1].result, COCO_ERROR_CHANNEL_CLOSED);
    ck_assert_int_eq(coco_channel_try_send(chs[0], V(1)), COCO_ERROR_WOULDBLOCK);
    free_channels();
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_timeout)
{
    coco_sched_t *s = coco_sched_create();
    make_channels(0);
    set_case(0, COCO_SELECT_RECV, NULL);
    set_case(1, COCO_SELECT_SEND, V(1));
    sel_n = 2;
    sel_timeout = 20;
    sel_rc = 12345;
    coco_create(s, selector, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(sel_rc, COCO_ERROR_TIMEOUT);
    void *v;
    ck_assert_int_eq(coco_channel_try_send(chs[0], V(1)), COCO_ERROR_WOULDBLOCK);
    ck_assert_int_eq(coco_channel_try_recv(chs[1], &v), COCO_ERROR_WOULDBLOCK);

    sel_timeout = 0;
    sel_rc = 12345;
    coco_create(s, selector, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(sel_rc, COCO_ERROR_TIMEOUT);

    /* Only NULL channels and a deadline: it just waits that long. */
    cases[0].ch = cases[1].ch = NULL;
    sel_timeout = 5;
    coco_create(s, selector, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(sel_rc, COCO_ERROR_TIMEOUT);
    free_channels();
    coco_sched_destroy(s);
}
END_TEST

/* Select loops between coroutines: every value sent arrives once. */
#define FAN 4
#define PER 2000
static long fan_sum, fan_count;
static void fan_producer(void *arg)
{
    coco_channel_t *ch = arg;
    for (int i = 1; i <= PER; i++)
        coco_channel_send(ch, V(i));
    coco_channel_close(ch);
}
static void fan_consumer(void *arg)
{
    (void)arg;
    coco_select_case_t c[FAN];
    for (int i = 0; i < FAN; i++)
        c[i] = (coco_select_case_t){ chs[i], COCO_SELECT_RECV, NULL, 0 };
    int open = FAN;
    while (open > 0) {
        int k = coco_select(c, FAN, COCO_INFINITE);
        if (k < 0)
            break;
        if (c[k].result == COCO_ERROR_CHANNEL_CLOSED) {
            c[k].ch = NULL;
            open--;
        } else {
            fan_sum += (intptr_t)c[k].value;
            fan_count++;
        }
    }
}

START_TEST(test_fan_in)
{
    coco_sched_t *s = coco_sched_create();
    make_channels(0);
    fan_sum = fan_count = 0;
    coco_create(s, fan_consumer, NULL, 0);
    for (int i = 0; i < FAN; i++)
        coco_create(s, fan_producer, chs[i], 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(fan_count, FAN * PER);
    ck_assert_int_eq(fan_sum, (long)FAN * PER * (PER + 1) / 2);
    free_channels();
    coco_sched_destroy(s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("select");
    TCase *tc = tcase_create("select");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_try_and_outside);
    tcase_add_test(tc, test_parked_recv);
    tcase_add_test(tc, test_parked_send);
    tcase_add_test(tc, test_many_cases);
    tcase_add_test(tc, test_fairness);
    tcase_add_test(tc, test_closed_case);
    tcase_add_test(tc, test_destroy_while_parked);
    tcase_add_test(tc, test_fan_in);
    suite_add_tcase(su, tc);
    tc = tcase_create("timeout");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_timeout);
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
