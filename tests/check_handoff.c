/* Hand-offs to coroutines that are destroyed before they run, and the
 * order in which waiters are served.  Written like programs: the public
 * header only, a controlling coroutine that releases a resource and then
 * destroys the coroutine it went to, many coroutines, sequences. */
#include "coco.h"
#include "testutil.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define MAXW 64

static coco_sched_t *s;
static coco_mutex_t *mu;
static coco_sem_t *sem;
static coco_cond_t *cv;
static coco_channel_t *ch, *ch2;
static coco_waitgroup_t *wg;
static coco_coro_t *w[MAXW];
static int got[MAXW];        /* per waiter: times it got the resource */
static int got_order[MAXW], ngot;
static void *vals[MAXW];     /* per waiter: the value it received */
static int rcs[MAXW];
static bool shared_waiters;
static bool have_shared;    /* this build runs shared stacks */

static void setup(void)
{
    s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    memset(got, 0, sizeof got);
    memset(vals, 0, sizeof vals);
    ngot = 0;
    shared_waiters = false;
    for (int i = 0; i < MAXW; i++)
        rcs[i] = 12345;
}

static void note(int id)
{
    got[id]++;
    got_order[ngot++] = id;
}

/* Starts waiter id running fn, with a stack of its own or on a shared
 * one. */
static void spawn(void (*fn)(void *), int id)
{
    /* Where this build has no shared stacks, their cases run on stacks
     * of their own. */
    if (shared_waiters && have_shared) {
        coco_attr_t attr;
        coco_attr_init(&attr);
        attr.flags = COCO_ATTR_SHARED_STACK;
        w[id] = coco_create_attr(s, fn, (void *)(intptr_t)id, &attr);
    } else {
        w[id] = coco_create(s, fn, (void *)(intptr_t)id, 0);
    }
    ck_assert_ptr_nonnull(w[id]);
}

static void *V(int i)
{
    return (void *)(intptr_t)(1000 + i);
}

/* Lets every other ready coroutine run until it parks. */
static void settle(void)
{
    for (int i = 0; i < 4; i++)
        coco_yield();
}

/* ---------------------------------------------------------------- mutex */

static void mutex_waiter(void *arg)
{
    int id = (int)(intptr_t)arg;
    rcs[id] = coco_mutex_lock(mu);
    if (rcs[id] != COCO_OK)
        return;
    note(id);
    coco_yield();
    coco_mutex_unlock(mu);
}

/* The unlocker destroys the waiter it handed the mutex to: the next
 * waiter gets it, and once everyone is done the mutex is free. */
static void mutex_ctl_one(void *arg)
{
    (void)arg;
    ck_assert_int_eq(coco_mutex_lock(mu), COCO_OK);
    for (int i = 0; i < 3; i++)
        spawn(mutex_waiter, i);
    settle();
    ck_assert_int_eq(coco_mutex_unlock(mu), COCO_OK); /* to waiter 0 */
    coco_destroy(w[0]);
}

static void run_mutex_one(bool shared)
{
    setup();
    shared_waiters = shared;
    mu = coco_mutex_create();
    coco_create(s, mutex_ctl_one, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(got[0], 0);
    ck_assert_int_eq(got[1], 1);
    ck_assert_int_eq(got[2], 1);
    ck_assert_int_eq(got_order[0], 1);
    ck_assert_int_eq(coco_mutex_trylock(mu), COCO_OK);
    ck_assert_int_eq(coco_mutex_unlock(mu), COCO_OK);
    coco_mutex_destroy(mu);
    coco_sched_destroy(s);
}

START_TEST(test_mutex_destroyed_owner_passes_on)
{
    run_mutex_one(false);
}
END_TEST

START_TEST(test_mutex_destroyed_owner_passes_on_shared)
{
    run_mutex_one(true);
}
END_TEST

/* Two destroyed in a row, then the last one too: the mutex ends free. */
static void mutex_ctl_all(void *arg)
{
    (void)arg;
    ck_assert_int_eq(coco_mutex_lock(mu), COCO_OK);
    for (int i = 0; i < 3; i++)
        spawn(mutex_waiter, i);
    settle();
    coco_mutex_unlock(mu);
    coco_destroy(w[0]);   /* it passes to 1 */
    coco_destroy(w[1]);   /* and on to 2 */
    coco_destroy(w[2]);   /* and back to the mutex */
    rcs[10] = coco_mutex_trylock(mu);
    if (rcs[10] == COCO_OK)
        coco_mutex_unlock(mu);
}

START_TEST(test_mutex_destroy_every_waiter)
{
    setup();
    shared_waiters = false;
    mu = coco_mutex_create();
    coco_create(s, mutex_ctl_all, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(rcs[10], COCO_OK);
    ck_assert_int_eq(ngot, 0);
    coco_mutex_destroy(mu);
    coco_sched_destroy(s);
}
END_TEST

/* A waiter destroyed while it still waits (nothing handed yet) leaves the
 * queue; the hand-off goes to the next. */
static void mutex_ctl_waiting(void *arg)
{
    (void)arg;
    coco_mutex_lock(mu);
    for (int i = 0; i < 3; i++)
        spawn(mutex_waiter, i);
    settle();
    coco_destroy(w[0]);
    coco_mutex_unlock(mu);
}

START_TEST(test_mutex_destroy_while_waiting)
{
    setup();
    mu = coco_mutex_create();
    coco_create(s, mutex_ctl_waiting, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(got[0], 0);
    ck_assert_int_eq(got_order[0], 1);
    ck_assert_int_eq(got_order[1], 2);
    ck_assert_int_eq(coco_mutex_trylock(mu), COCO_OK);
    coco_mutex_unlock(mu);
    coco_mutex_destroy(mu);
    coco_sched_destroy(s);
}
END_TEST

/* The thread holds the mutex, unlocks it to a parked coroutine and
 * destroys that one between two steps of the loop. */
START_TEST(test_mutex_destroyed_from_outside)
{
    setup();
    mu = coco_mutex_create();
    ck_assert_int_eq(coco_mutex_lock(mu), COCO_OK);
    for (int i = 0; i < 2; i++)
        spawn(mutex_waiter, i);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    ck_assert_int_eq(coco_mutex_unlock(mu), COCO_OK);
    coco_destroy(w[0]);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(got[1], 1);
    ck_assert_int_eq(coco_mutex_trylock(mu), COCO_OK);
    coco_mutex_unlock(mu);
    coco_mutex_destroy(mu);
    coco_sched_destroy(s);
}
END_TEST

/* Many lockers, every third destroyed right after it was handed the
 * mutex: every other one gets it exactly once, in queue order. */
static void mutex_ctl_many(void *arg)
{
    (void)arg;
    coco_mutex_lock(mu);
    for (int i = 0; i < 48; i++)
        spawn(mutex_waiter, i);
    settle();
    coco_mutex_unlock(mu);
    for (int i = 0; i < 48; i += 3) {
        /* Wait until the mutex has been handed to it, then destroy it. */
        for (int spin = 0; spin < 1000; spin++) {
            if (coco_get_state(w[i]) == COCO_STATE_READY)
                break;
            coco_yield();
        }
        coco_destroy(w[i]);
    }
}

START_TEST(test_mutex_many_destroyed)
{
    setup();
    mu = coco_mutex_create();
    coco_create(s, mutex_ctl_many, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    for (int i = 0; i < 48; i++)
        ck_assert_int_eq(got[i], i % 3 == 0 ? 0 : 1);
    for (int k = 1; k < ngot; k++)
        ck_assert_int_lt(got_order[k - 1], got_order[k]);
    ck_assert_int_eq(coco_mutex_trylock(mu), COCO_OK);
    coco_mutex_unlock(mu);
    coco_mutex_destroy(mu);
    coco_sched_destroy(s);
}
END_TEST

/* ------------------------------------------------------------ semaphore */

static void sem_waiter(void *arg)
{
    int id = (int)(intptr_t)arg;
    rcs[id] = coco_sem_wait(sem);
    if (rcs[id] == COCO_OK)
        note(id);
}

static void sem_ctl(void *arg)
{
    (void)arg;
    for (int i = 0; i < 4; i++)
        spawn(sem_waiter, i);
    settle();
    coco_sem_post(sem);         /* to 0 */
    coco_destroy(w[0]);         /* passes to 1 */
    coco_sem_post(sem);         /* to 2 */
    coco_destroy(w[1]);         /* passes to 3 */
    coco_destroy(w[2]);         /* nobody left: back in the count */
    coco_destroy(w[3]);         /* likewise */
    rcs[20] = (int)coco_sem_value(sem);
}

START_TEST(test_sem_unit_passes_on)
{
    setup();
    sem = coco_sem_create(0);
    coco_create(s, sem_ctl, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(rcs[20], 2);
    ck_assert_int_eq(ngot, 0);
    ck_assert_uint_eq(coco_sem_value(sem), 2);
    coco_sem_destroy(sem);
    coco_sched_destroy(s);
}
END_TEST

static void sem_ctl_next(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        spawn(sem_waiter, i);
    settle();
    coco_sem_post(sem);
    coco_destroy(w[0]);
}

START_TEST(test_sem_next_waiter_gets_unit)
{
    for (int shared = 0; shared < 2; shared++) {
        setup();
        shared_waiters = shared;
        sem = coco_sem_create(0);
        coco_create(s, sem_ctl_next, NULL, 0);
        ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
        ck_assert_int_eq(ngot, 1);
        ck_assert_int_eq(got[1], 1);
        ck_assert_uint_eq(coco_sem_value(sem), 0);
        coco_sem_destroy(sem); /* releases waiter 2 */
        ck_assert_int_eq(coco_sched_run(s), COCO_OK);
        ck_assert_int_eq(rcs[2], COCO_ERROR_INVALID);
        coco_sched_destroy(s);
    }
}
END_TEST

/* -------------------------------------------------------------- channel */

static void receiver(void *arg)
{
    int id = (int)(intptr_t)arg;
    rcs[id] = coco_channel_recv(ch, &vals[id]);
    if (rcs[id] == COCO_OK)
        note(id);
}

static void chan_ctl_next(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        spawn(receiver, i);
    settle();
    ck_assert_int_eq(coco_channel_send(ch, V(0)), COCO_OK); /* to 0 */
    ck_assert_int_eq(coco_channel_send(ch, V(1)), COCO_OK); /* to 1 */
    coco_destroy(w[0]);     /* 1 takes V(0) instead, V(1) goes on to 2 */
}

/* The value handed to a destroyed receiver goes to the next one, in
 * order. */
START_TEST(test_chan_value_to_next_receiver)
{
    for (int shared = 0; shared < 2; shared++) {
        for (size_t cap = 0; cap < 3; cap += 2) {
            setup();
            shared_waiters = shared;
            ch = coco_channel_create(cap);
            coco_create(s, chan_ctl_next, NULL, 0);
            ck_assert_int_eq(coco_sched_run(s), COCO_OK);
            ck_assert_int_eq(got[0], 0);
            ck_assert_ptr_eq(vals[1], V(0));
            ck_assert_ptr_eq(vals[2], V(1));
            ck_assert_uint_eq(coco_channel_len(ch), 0);
            coco_channel_destroy(ch);
            coco_sched_destroy(s);
        }
    }
}
END_TEST

static int drained;
static void *drain_vals[MAXW];

static void drainer(void *arg)
{
    (void)arg;
    void *v;
    while (coco_channel_recv(ch, &v) == COCO_OK)
        drain_vals[drained++] = v;
}

static void sender(void *arg)
{
    int id = (int)(intptr_t)arg;
    rcs[id] = coco_channel_send(ch, V(id));
}

/* Receivers 0 and 1 are handed V(0) and V(1); the buffer is filled and
 * senders park behind it; then both receivers are destroyed in a row,
 * before they ran: their values come back ahead of everything else and
 * in order, whether the buffer is full or the channel unbuffered. */
static void killer(void *arg)
{
    (void)arg;
    coco_destroy(w[0]);
    coco_destroy(w[1]);
}

static void chan_ctl_back(void *arg)
{
    (void)arg;
    int cap = (int)coco_channel_cap(ch);
    spawn(receiver, 0);
    spawn(receiver, 1);
    settle();
    for (int i = 2 + cap; i < 6; i++)
        spawn(sender, i);
    coco_create(s, killer, NULL, 0); /* runs after the senders parked */
    coco_channel_send(ch, V(0));
    coco_channel_send(ch, V(1));
    for (int i = 2; i < 2 + cap; i++)
        coco_channel_try_send(ch, V(i));
    settle();
    coco_create(s, drainer, NULL, 0);
    settle();
    coco_channel_close(ch);
}

START_TEST(test_chan_values_back_in_order)
{
    for (int shared = 0; shared < 2; shared++) {
        for (size_t cap = 0; cap < 4; cap++) {
            setup();
            drained = 0;
            shared_waiters = shared;
            ch = coco_channel_create(cap);
            coco_create(s, chan_ctl_back, NULL, 0);
            ck_assert_int_eq(coco_sched_run(s), COCO_OK);
            ck_assert_int_eq(drained, 6);
            for (int i = 0; i < 6; i++)
                ck_assert_ptr_eq(drain_vals[i], V(i));
            ck_assert_int_eq(ngot, 0);
            for (int i = 2 + (int)cap; i < 6; i++)
                ck_assert_int_eq(rcs[i], COCO_OK);
            coco_channel_destroy(ch);
            coco_sched_destroy(s);
        }
    }
}
END_TEST

/* Three receivers are handed V(0), V(1), V(2) in turn and the first is
 * destroyed: the other two take V(0) and V(1), and V(2) waits in the
 * channel, so values are still received in the order they were sent. */
static void chan_ctl_order(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        spawn(receiver, i);
    settle();
    for (int i = 0; i < 3; i++)
        coco_channel_send(ch, V(i));
    coco_channel_try_send(ch, V(3)); /* buffered, or refused */
    coco_destroy(w[0]);
}

START_TEST(test_chan_order_kept)
{
    for (int shared = 0; shared < 2; shared++) {
        for (size_t cap = 0; cap < 3; cap += 2) {
            setup();
            shared_waiters = shared;
            ch = coco_channel_create(cap);
            coco_create(s, chan_ctl_order, NULL, 0);
            ck_assert_int_eq(coco_sched_run(s), COCO_OK);
            ck_assert_int_eq(ngot, 2);
            ck_assert_ptr_eq(vals[1], V(0));
            ck_assert_ptr_eq(vals[2], V(1));
            void *v = NULL;
            ck_assert_int_eq(coco_channel_try_recv(ch, &v), COCO_OK);
            ck_assert_ptr_eq(v, V(2));
            if (cap > 0) {
                ck_assert_int_eq(coco_channel_try_recv(ch, &v), COCO_OK);
                ck_assert_ptr_eq(v, V(3));
            }
            ck_assert_int_eq(coco_channel_try_recv(ch, &v), COCO_ERROR_WOULDBLOCK);
            coco_channel_destroy(ch);
            coco_sched_destroy(s);
        }
    }
}
END_TEST

/* A returned value is there for try_recv, still counts in len, and is
 * received after a close like any buffered value. */
static void chan_ctl_closed(void *arg)
{
    (void)arg;
    spawn(receiver, 0);
    settle();
    coco_channel_send(ch, V(0));
    coco_channel_close(ch);
    coco_destroy(w[0]);
    rcs[30] = (int)coco_channel_len(ch);
    rcs[31] = coco_channel_try_recv(ch, &vals[31]);
    rcs[32] = coco_channel_try_recv(ch, &vals[32]);
}

/* A buffered channel: the value handed to a parked receiver, then a later
 * value into the buffer, taken by another receive; the first receiver is
 * destroyed.  Its value is not lost: it comes next, after the later one
 * that was already received. */
static coco_coro_t *overtaken_r1;
static void *overtaken_got[3];

static void overtaken_recv(void *arg)
{
    (void)arg;
    void *v = NULL;
    coco_channel_recv(ch, &v);
    overtaken_got[2] = v; /* never runs: destroyed first */
}

static void overtaken_send(void *arg)
{
    (void)arg;
    ck_assert_int_eq(coco_channel_send(ch, V(1)), COCO_OK); /* to r1 */
    ck_assert_int_eq(coco_channel_send(ch, V(2)), COCO_OK); /* buffered */
    ck_assert_int_eq(coco_channel_try_recv(ch, &overtaken_got[0]), COCO_OK);
    coco_destroy(overtaken_r1);
    ck_assert_int_eq(coco_channel_try_recv(ch, &overtaken_got[1]), COCO_OK);
}

START_TEST(test_chan_value_back_after_overtaken)
{
    setup();
    ch = coco_channel_create(1);
    overtaken_got[0] = overtaken_got[1] = overtaken_got[2] = NULL;
    overtaken_r1 = coco_create(s, overtaken_recv, NULL, 0);
    ck_assert_ptr_nonnull(overtaken_r1);
    ck_assert_ptr_nonnull(coco_create(s, overtaken_send, NULL, 0));
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_ptr_eq(overtaken_got[0], V(2));
    ck_assert_ptr_eq(overtaken_got[1], V(1));
    ck_assert_ptr_null(overtaken_got[2]);
    ck_assert_uint_eq(coco_channel_len(ch), 0);
    coco_channel_destroy(ch);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_chan_value_back_after_close)
{
    setup();
    ch = coco_channel_create(0);
    coco_create(s, chan_ctl_closed, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(rcs[30], 1);
    ck_assert_int_eq(rcs[31], COCO_OK);
    ck_assert_ptr_eq(vals[31], V(0));
    ck_assert_int_eq(rcs[32], COCO_ERROR_CHANNEL_CLOSED);
    coco_channel_destroy(ch);
    coco_sched_destroy(s);
}
END_TEST

/* The channel goes first, then the receiver it handed a value to: the
 * destroy must not touch the freed channel (run under the sanitizers
 * and valgrind to see it). */
static void chan_ctl_gone(void *arg)
{
    (void)arg;
    spawn(receiver, 0);
    spawn(receiver, 1);
    settle();
    coco_channel_send(ch, V(0));
    coco_channel_destroy(ch);   /* 1 resumes closed; 0 keeps V(0) */
    ch = NULL;
    coco_destroy(w[0]);
}

START_TEST(test_chan_destroyed_before_receiver)
{
    setup();
    ch = coco_channel_create(1);
    coco_create(s, chan_ctl_gone, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(rcs[1], COCO_ERROR_CHANNEL_CLOSED);
    coco_sched_destroy(s);
}
END_TEST

/* Many receivers, values sent one at a time, every other receiver
 * destroyed as soon as it has been handed one: each value arrives exactly
 * once. */
static void chan_ctl_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < 40; i++)
        spawn(receiver, i);
    settle();
    for (int k = 0; k < 40; k++) {
        coco_channel_send(ch, V(k));
        if (k % 2 == 0)
            coco_destroy(w[k]);
        if (k % 7 == 0)
            settle();
    }
    settle();
    coco_channel_close(ch);
}

START_TEST(test_chan_many_destroyed)
{
    setup();
    ch = coco_channel_create(40);
    coco_create(s, chan_ctl_many, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    int seen[40] = {0};
    int ok = 0;
    for (int i = 0; i < 40; i++) {
        if (rcs[i] != COCO_OK)
            continue;
        ok++;
        intptr_t v = (intptr_t)vals[i] - 1000;
        ck_assert(v >= 0 && v < 40);
        seen[v]++;
    }
    /* Each value went to a receiver that ran, or waits in the channel. */
    int left = (int)coco_channel_len(ch);
    ck_assert_int_eq(ok + left, 40);
    ck_assert_int_lt(ok, 40);
    void *v;
    while (coco_channel_try_recv(ch, &v) == COCO_OK)
        seen[(intptr_t)v - 1000]++;
    for (int i = 0; i < 40; i++)
        ck_assert_int_eq(seen[i], 1);
    coco_channel_destroy(ch);
    coco_sched_destroy(s);
}
END_TEST

/* --------------------------------------------------------------- select */

static void selector(void *arg)
{
    int id = (int)(intptr_t)arg;
    coco_select_case_t c[2] = {
        {.ch = ch, .op = COCO_SELECT_RECV},
        {.ch = ch2, .op = COCO_SELECT_RECV},
    };
    int i = coco_select(c, 2, COCO_INFINITE);
    rcs[id] = i;
    if (i >= 0)
        vals[id] = c[i].value;
}

static void select_ctl(void *arg)
{
    (void)arg;
    spawn(selector, 0);
    spawn(receiver, 1);
    settle();
    coco_channel_send(ch, V(7));    /* to the selector */
    coco_destroy(w[0]);             /* on to receiver 1 */
    spawn(selector, 2);
    settle();
    coco_channel_send(ch2, V(8));   /* to selector 2 */
    coco_destroy(w[2]);             /* back into ch2 */
}

START_TEST(test_select_value_passes_on)
{
    for (int shared = 0; shared < 2; shared++) {
        setup();
        shared_waiters = shared;
        ch = coco_channel_create(0);
        ch2 = coco_channel_create(1);
        coco_create(s, select_ctl, NULL, 0);
        ck_assert_int_eq(coco_sched_run(s), COCO_OK);
        ck_assert_ptr_eq(vals[1], V(7));
        void *v = NULL;
        ck_assert_int_eq(coco_channel_try_recv(ch2, &v), COCO_OK);
        ck_assert_ptr_eq(v, V(8));
        coco_channel_destroy(ch);
        coco_channel_destroy(ch2);
        coco_sched_destroy(s);
    }
}
END_TEST

/* ----------------------------------------------------------------- cond */

static int cond_flag;

static void cond_waiter(void *arg)
{
    int id = (int)(intptr_t)arg;
    coco_mutex_lock(mu);
    rcs[id] = coco_cond_wait(cv, mu);
    if (rcs[id] == COCO_OK)
        note(id);
    coco_mutex_unlock(mu);
}

/* A signal whose waiter is destroyed before it runs wakes the next one. */
static void cond_ctl(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        spawn(cond_waiter, i);
    settle();
    coco_mutex_lock(mu);
    coco_cond_signal(cv);       /* to 0 */
    coco_destroy(w[0]);         /* on to 1 */
    coco_mutex_unlock(mu);
    settle();
    cond_flag = ngot;
    coco_cond_signal(cv);       /* to 2 */
}

START_TEST(test_cond_signal_passes_on)
{
    for (int shared = 0; shared < 2; shared++) {
        setup();
        shared_waiters = shared;
        mu = coco_mutex_create();
        cv = coco_cond_create();
        coco_create(s, cond_ctl, NULL, 0);
        ck_assert_int_eq(coco_sched_run(s), COCO_OK);
        ck_assert_int_eq(cond_flag, 1);
        ck_assert_int_eq(got[1], 1);
        ck_assert_int_eq(got[2], 1);
        ck_assert_int_eq(coco_mutex_trylock(mu), COCO_OK);
        coco_mutex_unlock(mu);
        coco_cond_destroy(cv);
        coco_mutex_destroy(mu);
        coco_sched_destroy(s);
    }
}
END_TEST

/* Signalled, the waiter runs and parks again to take the mutex back; the
 * unlock hands the mutex to it and it is destroyed: the mutex is free. */
static void cond_ctl_relock(void *arg)
{
    (void)arg;
    spawn(cond_waiter, 0);
    settle();
    coco_mutex_lock(mu);
    coco_cond_signal(cv);
    settle();                   /* 0 now waits for the mutex */
    coco_mutex_unlock(mu);      /* to 0 */
    coco_destroy(w[0]);
    rcs[40] = coco_mutex_trylock(mu);
    if (rcs[40] == COCO_OK)
        coco_mutex_unlock(mu);
}

START_TEST(test_cond_relock_passes_on)
{
    setup();
    mu = coco_mutex_create();
    cv = coco_cond_create();
    coco_create(s, cond_ctl_relock, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(rcs[40], COCO_OK);
    coco_cond_destroy(cv);
    coco_mutex_destroy(mu);
    coco_sched_destroy(s);
}
END_TEST

/* ------------------------------------------------------------ waitgroup */

static void wg_waiter(void *arg)
{
    int id = (int)(intptr_t)arg;
    rcs[id] = coco_waitgroup_wait(wg);
    if (rcs[id] == COCO_OK)
        note(id);
}

static void wg_ctl(void *arg)
{
    (void)arg;
    coco_waitgroup_add(wg, 1);
    for (int i = 0; i < 3; i++)
        spawn(wg_waiter, i);
    settle();
    coco_waitgroup_done(wg);    /* all three released */
    coco_destroy(w[1]);
}

START_TEST(test_waitgroup_others_still_released)
{
    setup();
    wg = coco_waitgroup_create();
    coco_create(s, wg_ctl, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(got[0], 1);
    ck_assert_int_eq(got[1], 0);
    ck_assert_int_eq(got[2], 1);
    ck_assert_int_eq(coco_waitgroup_wait(wg), COCO_OK);
    coco_waitgroup_destroy(wg);
    coco_sched_destroy(s);
}
END_TEST

/* -------------------------------------------------------- timed waiters */

/* Waiters with a deadline, half of them on shared stacks: what the
 * destroyed one was handed goes on before any deadline passes. */
static void timed_waiter(void *arg)
{
    int id = (int)(intptr_t)arg;
    switch (id % 3) {
    case 0:
        rcs[id] = coco_sem_wait_timeout(sem, 2000);
        break;
    case 1:
        rcs[id] = coco_mutex_lock_timeout(mu, 2000);
        if (rcs[id] == COCO_OK)
            coco_mutex_unlock(mu);
        break;
    default:
        rcs[id] = coco_channel_recv_timeout(ch, &vals[id], 2000);
        break;
    }
    if (rcs[id] == COCO_OK)
        note(id);
}

static void timed_ctl(void *arg)
{
    (void)arg;
    coco_mutex_lock(mu);
    for (int i = 0; i < 12; i++) {
        shared_waiters = i % 2;
        spawn(timed_waiter, i);
    }
    settle();
    coco_sem_post(sem);                 /* to 0 */
    coco_mutex_unlock(mu);              /* to 1 */
    coco_channel_send(ch, V(2));        /* to 2 */
    coco_destroy(w[0]);                 /* on to 3 */
    coco_destroy(w[1]);                 /* on to 4 */
    coco_destroy(w[2]);                 /* on to 5 */
    coco_sem_post(sem);                 /* 6 */
    coco_sem_post(sem);                 /* 9 */
    coco_channel_send(ch, V(8));        /* 8 */
    coco_channel_send(ch, V(11));       /* 11 */
}

START_TEST(test_timed_waiters_pass_on)
{
    setup();
    sem = coco_sem_create(0);
    mu = coco_mutex_create();
    ch = coco_channel_create(0);
    coco_create(s, timed_ctl, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    for (int i = 3; i < 12; i++)
        ck_assert_msg(rcs[i] == COCO_OK, "waiter %d: %d", i, rcs[i]);
    ck_assert_ptr_eq(vals[5], V(2));
    ck_assert_ptr_eq(vals[8], V(8));
    ck_assert_ptr_eq(vals[11], V(11));
    ck_assert_uint_eq(coco_sem_value(sem), 0);
    ck_assert_int_eq(coco_mutex_trylock(mu), COCO_OK);
    coco_mutex_unlock(mu);
    coco_channel_destroy(ch);
    coco_mutex_destroy(mu);
    coco_sem_destroy(sem);
    coco_sched_destroy(s);
}
END_TEST

/* ------------------------------------------------ scheduler destruction */

/* The scheduler goes while a mutex, a unit and a value are handed to
 * coroutines that never ran: each goes back to its object, which outlives
 * the scheduler. */
START_TEST(test_sched_destroy_with_handoffs)
{
    for (int shared = 0; shared < 2; shared++) {
        setup();
        shared_waiters = shared;
        mu = coco_mutex_create();
        sem = coco_sem_create(0);
        ch = coco_channel_create(0);
        ch2 = coco_channel_create(1);
        ck_assert_int_eq(coco_mutex_lock(mu), COCO_OK);
        spawn(mutex_waiter, 0);
        spawn(sem_waiter, 1);
        spawn(receiver, 2);
        spawn(mutex_waiter, 3);     /* behind 0: the mutex passes 0, 3, free */
        spawn(sem_waiter, 4);       /* gets the unit after 1 */
        spawn(selector, 5);         /* on ch and ch2 */
        ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
        ck_assert_int_eq(coco_mutex_unlock(mu), COCO_OK);
        ck_assert_int_eq(coco_sem_post(sem), COCO_OK);
        ck_assert_int_eq(coco_channel_try_send(ch, V(2)), COCO_OK);
        ck_assert_int_eq(coco_channel_try_send(ch, V(3)), COCO_OK); /* to 5 */
        ck_assert_int_eq(ngot, 0);
        coco_sched_destroy(s);
        ck_assert_int_eq(coco_mutex_trylock(mu), COCO_OK);
        ck_assert_int_eq(coco_mutex_unlock(mu), COCO_OK);
        ck_assert_uint_eq(coco_sem_value(sem), 1);
        void *v = NULL;
        ck_assert_int_eq(coco_channel_try_recv(ch, &v), COCO_OK);
        ck_assert_ptr_eq(v, V(2));
        ck_assert_int_eq(coco_channel_try_recv(ch, &v), COCO_OK);
        ck_assert_ptr_eq(v, V(3));
        ck_assert_int_eq(coco_channel_try_recv(ch, &v), COCO_ERROR_WOULDBLOCK);
        ck_assert_int_eq(coco_channel_try_recv(ch2, &v), COCO_ERROR_WOULDBLOCK);
        coco_channel_destroy(ch2);
        coco_channel_destroy(ch);
        coco_sem_destroy(sem);
        coco_mutex_destroy(mu);
    }
}
END_TEST

/* ----------------------------------------------------------------- join */

static coco_coro_t *target;
static int target_go;

static void join_target(void *arg)
{
    (void)arg;
    while (!target_go)
        coco_yield();
}

static void joiner(void *arg)
{
    int id = (int)(intptr_t)arg;
    void *r = coco_join(target);
    (void)r;
    note(id);
}

/* Joiners resume in the order they called coco_join(), like every other
 * wait queue; one destroyed while it waits drops out of the order. */
static void join_ctl(void *arg)
{
    (void)arg;
    target = coco_create(s, join_target, NULL, 0);
    for (int i = 0; i < 6; i++) {
        spawn(joiner, i);
        settle();   /* so that they join in this order */
    }
    coco_destroy(w[3]);
    target_go = 1;
    coco_join(target);
    note(10);
    coco_destroy(target);
}

START_TEST(test_join_fifo)
{
    setup();
    target_go = 0;
    coco_create(s, join_ctl, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    int want[] = {0, 1, 2, 4, 5, 10};
    ck_assert_int_eq(ngot, 6);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(got_order[i], want[i]);
    coco_sched_destroy(s);
}
END_TEST

int main(void)
{
    have_shared = coco_test_shared_stacks();
    Suite *su = suite_create("handoff");
    TCase *tc = tcase_create("handoff");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_mutex_destroyed_owner_passes_on);
    tcase_add_test(tc, test_mutex_destroyed_owner_passes_on_shared);
    tcase_add_test(tc, test_mutex_destroy_every_waiter);
    tcase_add_test(tc, test_mutex_destroy_while_waiting);
    tcase_add_test(tc, test_mutex_destroyed_from_outside);
    tcase_add_test(tc, test_mutex_many_destroyed);
    tcase_add_test(tc, test_sem_unit_passes_on);
    tcase_add_test(tc, test_sem_next_waiter_gets_unit);
    tcase_add_test(tc, test_chan_value_to_next_receiver);
    tcase_add_test(tc, test_chan_values_back_in_order);
    tcase_add_test(tc, test_chan_order_kept);
    tcase_add_test(tc, test_chan_value_back_after_close);
    tcase_add_test(tc, test_chan_value_back_after_overtaken);
    tcase_add_test(tc, test_chan_destroyed_before_receiver);
    tcase_add_test(tc, test_chan_many_destroyed);
    tcase_add_test(tc, test_select_value_passes_on);
    tcase_add_test(tc, test_cond_signal_passes_on);
    tcase_add_test(tc, test_cond_relock_passes_on);
    tcase_add_test(tc, test_waitgroup_others_still_released);
    tcase_add_test(tc, test_timed_waiters_pass_on);
    tcase_add_test(tc, test_sched_destroy_with_handoffs);
    tcase_add_test(tc, test_join_fifo);
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
