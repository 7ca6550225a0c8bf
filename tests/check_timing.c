/* Timing scenarios, written the way programs use the library: only the
 * public header.  A timed wait must never end before its timeout has
 * elapsed since the call, whatever the scheduler did before it: sat idle
 * in I/O with no timer pending, or ran a coroutine that kept the CPU (or
 * made a blocking call) without parking.  Also: timer handles kept across
 * schedulers that are destroyed and re-created, coco_sched_run_once()
 * stepping one, two and many coroutines, and coco_timer() with no or a
 * fallen-back current scheduler.
 *
 * Times are only checked as lower bounds (and against a generous upper
 * bound of several seconds): the machine may be busy. */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE 1
#endif
#include "coco.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void sleep_us(uint64_t us)
{
    struct timespec ts = { (time_t)(us / 1000000u), (long)(us % 1000000u) * 1000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ------------------------------------------------- the timed waits */

enum op {
    OP_SLEEP, OP_RECV, OP_SEND, OP_SELECT, OP_MUTEX, OP_SEM, OP_COND,
    OP_WAITGROUP, OP_READ, OP_WRITE, OP_ACCEPT, OP_CONNECT, OP_WAIT_FD,
    OP_TIMER, OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
    "sleep", "recv", "send", "select", "mutex", "sem", "cond", "waitgroup",
    "read", "write", "accept", "connect", "wait_fd", "timer"
};

/* What the waits wait on: nothing ever makes them ready. */
static struct {
    coco_channel_t *ch;       /* unbuffered, nobody on the other side */
    coco_channel_t *quit;     /* the mutex holder waits here */
    coco_mutex_t *held;       /* locked by another coroutine */
    coco_mutex_t *mu;         /* for the condition variable */
    coco_cond_t *cv;
    coco_sem_t *sem;          /* 0 */
    coco_waitgroup_t *wg;     /* 1 outstanding */
    int rpipe[2];             /* empty */
    int wpipe[2];             /* full */
    int listener;             /* nobody connects */
    int full_listener;        /* accept queue full: connects hang */
    struct sockaddr_in full_addr;
    int spare[4];             /* the connections that filled it */
    int wake[2];              /* the idle stretch reads here */
} w;

static void fill_pipe(int fd)
{
    char buf[4096];
    memset(buf, 'x', sizeof buf);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    while (write(fd, buf, sizeof buf) > 0)
        ;
    while (write(fd, buf, 1) > 0)
        ;
}

static int tcp_listener(int backlog, struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, backlog), 0);
    socklen_t len = sizeof a;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    if (addr != NULL)
        *addr = a;
    return fd;
}

static void setup_objects(enum op op)
{
    memset(&w, 0, sizeof w);
    w.ch = coco_channel_create(0);
    w.quit = coco_channel_create(0);
    w.held = coco_mutex_create();
    w.mu = coco_mutex_create();
    w.cv = coco_cond_create();
    w.sem = coco_sem_create(0);
    w.wg = coco_waitgroup_create();
    ck_assert_int_eq(coco_waitgroup_add(w.wg, 1), COCO_OK);
    ck_assert_int_eq(pipe(w.rpipe), 0);
    ck_assert_int_eq(pipe(w.wpipe), 0);
    ck_assert_int_eq(pipe(w.wake), 0);
    fill_pipe(w.wpipe[1]);
    w.listener = -1;
    w.full_listener = -1;
    for (int i = 0; i < 4; i++)
        w.spare[i] = -1;
    if (op == OP_ACCEPT)
        w.listener = tcp_listener(4, NULL);
    if (op == OP_CONNECT) {
        /* With a backlog of 0 the queue holds one connection; once it is
         * full the kernel drops further handshakes, and a connect waits. */
        w.full_listener = tcp_listener(0, &w.full_addr);
        for (int i = 0; i < 4; i++) {
            w.spare[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            connect(w.spare[i], (struct sockaddr *)&w.full_addr, sizeof w.full_addr);
        }
        sleep_us(50000);
    }
}

static void teardown_objects(void)
{
    coco_channel_destroy(w.ch);
    coco_channel_destroy(w.quit);
    coco_mutex_destroy(w.held);
    coco_mutex_destroy(w.mu);
    coco_cond_destroy(w.cv);
    coco_sem_destroy(w.sem);
    coco_waitgroup_destroy(w.wg);
    int fds[] = { w.rpipe[0], w.rpipe[1], w.wpipe[0], w.wpipe[1], w.wake[0],
                  w.wake[1], w.listener, w.full_listener, w.spare[0],
                  w.spare[1], w.spare[2], w.spare[3] };
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

static void holder(void *arg)
{
    (void)arg;
    ck_assert_int_eq(coco_mutex_lock(w.held), COCO_OK);
    void *v;
    coco_channel_recv(w.quit, &v); /* until the channel is closed */
    coco_mutex_unlock(w.held);
}

static volatile int timer_fired;
static uint64_t timer_fired_at;

static void on_timer(void *arg)
{
    (void)arg;
    timer_fired_at = now_us();
    timer_fired = 1;
}

/* Waits ms on op, which must time out; returns after checking the result. */
static void timed_wait(enum op op, uint64_t ms)
{
    char buf[16] = { 0 };
    int rc, e;
    switch (op) {
    case OP_SLEEP:
        ck_assert_int_eq(coco_sleep(ms), COCO_OK);
        break;
    case OP_RECV: {
        void *v;
        ck_assert_int_eq(coco_channel_recv_timeout(w.ch, &v, ms), COCO_ERROR_TIMEOUT);
        break;
    }
    case OP_SEND:
        ck_assert_int_eq(coco_channel_send_timeout(w.ch, buf, ms), COCO_ERROR_TIMEOUT);
        break;
    case OP_SELECT: {
        coco_select_case_t c[2] = {
            { .ch = w.ch, .op = COCO_SELECT_RECV },
            { .ch = w.ch, .op = COCO_SELECT_SEND, .value = buf },
        };
        ck_assert_int_eq(coco_select(c, 1, ms), COCO_ERROR_TIMEOUT);
        break;
    }
    case OP_MUTEX:
        ck_assert_int_eq(coco_mutex_lock_timeout(w.held, ms), COCO_ERROR_TIMEOUT);
        break;
    case OP_SEM:
        ck_assert_int_eq(coco_sem_wait_timeout(w.sem, ms), COCO_ERROR_TIMEOUT);
        break;
    case OP_COND:
        ck_assert_int_eq(coco_mutex_lock(w.mu), COCO_OK);
        ck_assert_int_eq(coco_cond_wait_timeout(w.cv, w.mu, ms), COCO_ERROR_TIMEOUT);
        ck_assert_int_eq(coco_mutex_unlock(w.mu), COCO_OK);
        break;
    case OP_WAITGROUP:
        ck_assert_int_eq(coco_waitgroup_wait_timeout(w.wg, ms), COCO_ERROR_TIMEOUT);
        break;
    case OP_READ:
        rc = coco_read_timeout(w.rpipe[0], buf, sizeof buf, ms);
        e = errno;
        ck_assert_int_eq(rc, -1);
        ck_assert_int_eq(e, ETIMEDOUT);
        break;
    case OP_WRITE:
        rc = coco_write_timeout(w.wpipe[1], buf, sizeof buf, ms);
        e = errno;
        ck_assert_int_eq(rc, -1);
        ck_assert_int_eq(e, ETIMEDOUT);
        break;
    case OP_ACCEPT:
        rc = coco_accept_timeout(w.listener, NULL, NULL, ms);
        e = errno;
        ck_assert_int_eq(rc, -1);
        ck_assert_int_eq(e, ETIMEDOUT);
        break;
    case OP_CONNECT: {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        ck_assert_int_ge(fd, 0);
        rc = coco_connect_timeout(fd, &w.full_addr, sizeof w.full_addr, ms);
        e = errno;
        close(fd);
        ck_assert_int_eq(rc, -1);
        ck_assert_int_eq(e, ETIMEDOUT);
        break;
    }
    case OP_WAIT_FD:
        rc = coco_wait_fd(w.rpipe[0], COCO_READABLE, ms);
        e = errno;
        ck_assert_int_eq(rc, -1);
        ck_assert_int_eq(e, ETIMEDOUT);
        break;
    case OP_TIMER: {
        /* The callback runs from the loop; wait for it in small sleeps. */
        timer_fired = 0;
        uint64_t t0 = now_us();
        ck_assert_ptr_nonnull(coco_timer(ms, on_timer, NULL));
        while (!timer_fired)
            coco_sleep(1);
        ck_assert_uint_ge(timer_fired_at - t0, ms * 1000u);
        break;
    }
    default:
        ck_abort();
    }
}

static void *write_later(void *arg)
{
    (void)arg;
    sleep_us(300000);
    ck_assert_int_eq(write(w.wake[1], "!", 1), 1);
    return NULL;
}

struct scenario {
    enum op op;
    bool idle;       /* else busy */
    uint64_t ms;
    uint64_t took_us;
};

static void measure(void *arg)
{
    struct scenario *sc = arg;
    /* Some timer has been used before: the scheduler keeps a clock. */
    ck_assert_int_eq(coco_sleep(1), COCO_OK);
    pthread_t th;
    if (sc->idle) {
        /* The loop blocks in I/O, no timer pending, for about 300 ms. */
        ck_assert_int_eq(pthread_create(&th, NULL, write_later, NULL), 0);
        char c;
        ck_assert_int_eq(coco_read(w.wake[0], &c, 1), 1);
    } else {
        /* This coroutine keeps the thread for 40 ms without parking. */
        sleep_us(40000);
    }
    uint64_t t0 = now_us();
    timed_wait(sc->op, sc->ms);
    sc->took_us = now_us() - t0;
    if (sc->idle)
        pthread_join(th, NULL);
    coco_channel_close(w.quit);
}

static void run_scenario(enum op op, bool idle, uint64_t ms)
{
    setup_objects(op);
    struct scenario sc = { op, idle, ms, 0 };
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(coco_create(s, holder, NULL, 0));
    ck_assert_ptr_nonnull(coco_create(s, measure, &sc, 0));
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    teardown_objects();
    if (sc.took_us < ms * 1000u)
        ck_abort_msg("%s after %s stretch: a %llu ms wait ended after %llu us",
                     op_names[op], idle ? "an idle" : "a busy",
                     (unsigned long long)ms, (unsigned long long)sc.took_us);
    ck_assert_uint_lt(sc.took_us, ms * 1000u + 5000000u);
}

START_TEST(test_idle_then_timed_wait)
{
    run_scenario((enum op)_i, true, 200);
}
END_TEST

START_TEST(test_busy_then_timed_wait)
{
    run_scenario((enum op)_i, false, 60);
}
END_TEST

/* ---------------------------------------- handles across schedulers */

static int fired_count;

static void count_fire(void *arg)
{
    (void)arg;
    fired_count++;
}

START_TEST(test_stale_handle_other_scheduler)
{
    /* Schedulers come and go at (very likely) the same address; a handle
     * kept from an earlier one must never cancel a later one's timer. */
    coco_timer_t *old[8];
    for (int round = 0; round < 8; round++) {
        coco_sched_t *s = coco_sched_create();
        ck_assert_ptr_nonnull(s);
        fired_count = 0;
        coco_timer_t *t = coco_timer(1, count_fire, NULL);
        ck_assert_ptr_nonnull(t);
        for (int i = 0; i < round; i++) {
            ck_assert_ptr_ne(old[i], t);
            coco_timer_cancel(old[i]);
        }
        ck_assert_int_eq(coco_sched_run(s), COCO_OK);
        ck_assert_int_eq(fired_count, 1);
        old[round] = t;
        coco_sched_destroy(s);
    }
}
END_TEST

START_TEST(test_stale_handle_after_many_timers)
{
    /* The same, with several timers per scheduler and the handles of a
     * destroyed scheduler cancelled while the new ones are armed. */
    coco_timer_t *old[16];
    int nold = 0;
    for (int round = 0; round < 4; round++) {
        coco_sched_t *s = coco_sched_create();
        fired_count = 0;
        coco_timer_t *t[4];
        for (int i = 0; i < 4; i++)
            ck_assert_ptr_nonnull(t[i] = coco_timer((uint64_t)i + 1, count_fire, NULL));
        for (int i = 0; i < nold; i++)
            coco_timer_cancel(old[i]);
        ck_assert_int_eq(coco_sched_run(s), COCO_OK);
        ck_assert_int_eq(fired_count, 4);
        for (int i = 0; i < 4 && nold < 16; i++)
            old[nold++] = t[i];
        coco_sched_destroy(s);
    }
}
END_TEST

/* ---------------------------------------------------- coco_timer() */

START_TEST(test_timer_no_scheduler_sets_errno)
{
    errno = 0;
    ck_assert_ptr_null(coco_timer(10, count_fire, NULL));
    ck_assert_int_eq(errno, EINVAL);
    coco_sched_t *s = coco_sched_create();
    errno = 0;
    ck_assert_ptr_null(coco_timer(10, NULL, NULL));
    ck_assert_int_eq(errno, EINVAL);
    coco_sched_destroy(s);
    errno = 0;
    ck_assert_ptr_null(coco_timer(10, count_fire, NULL));
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_timer_after_newest_scheduler_destroyed)
{
    coco_sched_t *s1 = coco_sched_create();
    coco_sched_t *s2 = coco_sched_create();
    coco_sched_t *s3 = coco_sched_create();
    ck_assert_ptr_nonnull(s3);
    coco_sched_destroy(s3);
    coco_sched_destroy(s2);
    /* s1 remains: coco_timer() arms on it. */
    fired_count = 0;
    ck_assert_ptr_nonnull(coco_timer(1, count_fire, NULL));
    ck_assert_int_eq(coco_sched_run(s1), COCO_OK);
    ck_assert_int_eq(fired_count, 1);
    /* Destroying one that is not current changes nothing. */
    coco_sched_t *s4 = coco_sched_create();
    coco_sched_t *s5 = coco_sched_create();
    coco_sched_destroy(s4);
    ck_assert_ptr_nonnull(coco_timer(1, count_fire, NULL));
    ck_assert_int_eq(coco_sched_run(s5), COCO_OK);
    ck_assert_int_eq(fired_count, 2);
    coco_sched_destroy(s5);
    /* Back to s1 again. */
    ck_assert_ptr_nonnull(coco_timer(1, count_fire, NULL));
    ck_assert_int_eq(coco_sched_run(s1), COCO_OK);
    ck_assert_int_eq(fired_count, 3);
    coco_sched_destroy(s1);
    errno = 0;
    ck_assert_ptr_null(coco_timer(1, count_fire, NULL));
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* ---------------------------------------------------- run_once */

static int steps[64];

static void stepper(void *arg)
{
    int *n = arg;
    for (int i = 0; i < 5; i++) {
        (*n)++;
        coco_yield();
    }
}

static int total_steps(int n)
{
    int t = 0;
    for (int i = 0; i < n; i++)
        t += steps[i];
    return t;
}

static void check_run_once(int n)
{
    memset(steps, 0, sizeof steps);
    coco_sched_t *s = coco_sched_create();
    for (int i = 0; i < n; i++)
        ck_assert_ptr_nonnull(coco_create(s, stepper, &steps[i], 0));
    /* Each call runs one coroutine until it yields: one step in all. */
    for (int call = 1; call <= 5 * n; call++) {
        ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);
        ck_assert_int_eq(total_steps(n), call);
        /* Round robin: nobody is more than one step ahead. */
        for (int i = 0; i < n; i++)
            ck_assert_int_le(steps[i], (call + n - 1) / n);
    }
    while (coco_sched_count(s) > 0)
        ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);
    ck_assert_int_eq(total_steps(n), 5 * n);
    coco_sched_destroy(s);
}

START_TEST(test_run_once_one)
{
    check_run_once(1);
}
END_TEST

START_TEST(test_run_once_two)
{
    check_run_once(2);
}
END_TEST

START_TEST(test_run_once_many)
{
    check_run_once(50);
}
END_TEST

static void sleepy_stepper(void *arg)
{
    int *n = arg;
    for (int i = 0; i < 3; i++) {
        (*n)++;
        coco_sleep(i == 1 ? 2 : 0);
        (*n)++;
        coco_yield();
    }
}

START_TEST(test_run_once_one_with_sleep)
{
    /* A frame loop: run_once per frame, one background coroutine. */
    memset(steps, 0, sizeof steps);
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(coco_create(s, sleepy_stepper, &steps[0], 0));
    int frames = 0, last = 0;
    while (coco_sched_count(s) > 0) {
        ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);
        ck_assert_int_le(steps[0] - last, 1);
        last = steps[0];
        ck_assert_int_lt(++frames, 10000);
    }
    ck_assert_int_eq(steps[0], 6);
    ck_assert_int_ge(frames, 6);
    /* coco_sched_run still runs everything in one call. */
    ck_assert_ptr_nonnull(coco_create(s, stepper, &steps[1], 0));
    ck_assert_ptr_nonnull(coco_create(s, stepper, &steps[2], 0));
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(steps[1] + steps[2], 10);
    coco_sched_destroy(s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("timing");
    TCase *tc = tcase_create("idle");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_idle_then_timed_wait, 0, OP_COUNT);
    suite_add_tcase(su, tc);
    tc = tcase_create("busy");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_busy_then_timed_wait, 0, OP_COUNT);
    suite_add_tcase(su, tc);
    tc = tcase_create("handles");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_stale_handle_other_scheduler);
    tcase_add_test(tc, test_stale_handle_after_many_timers);
    tcase_add_test(tc, test_timer_no_scheduler_sets_errno);
    tcase_add_test(tc, test_timer_after_newest_scheduler_destroyed);
    suite_add_tcase(su, tc);
    tc = tcase_create("run_once");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_run_once_one);
    tcase_add_test(tc, test_run_once_two);
    tcase_add_test(tc, test_run_once_many);
    tcase_add_test(tc, test_run_once_one_with_sleep);
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
