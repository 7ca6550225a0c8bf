/*
 * check_debug.c - coco_sched_dump() names what every coroutine waits on,
 * COCO_DEBUG=deadlock prints the dump, and coco_sched_stats() counts.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"
#include "coco.h"
#include "testutil.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The ucontext switch keeps no plain stack pointer: the dump cannot say
 * how much of a parked coroutine's stack is in use. */
#define HAVE_IN_USE (!COCO_USE_UCONTEXT)

/* ------------------------------------------------------------- helpers */

/* What dump_to_string() read back: the whole text. */
static char dump_text[16384];

/* Runs fn(arg) with its output (written to the descriptor it is given)
 * captured in dump_text; returns what fn returned. */
static int capture(int (*fn)(void *, int), void *arg)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    int rc = fn(arg, fileno(f));
    rewind(f);
    size_t n = fread(dump_text, 1, sizeof dump_text - 1, f);
    dump_text[n] = '\0';
    fclose(f);
    return rc;
}

static int dump_fn(void *s, int fd)
{
    return coco_sched_dump(s, fd);
}

/* The line of coroutine id in dump_text, copied to line. */
static const char *line_of(uint64_t id, char *line, size_t size)
{
    char head[64];
    snprintf(head, sizeof head, "coroutine %" PRIu64 " ", id);
    for (const char *p = dump_text; p != NULL && *p != '\0';) {
        const char *end = strchr(p, '\n');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (strncmp(p, head, strlen(head)) == 0) {
            ck_assert_uint_lt(len, size);
            memcpy(line, p, len);
            line[len] = '\0';
            return line;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    ck_abort_msg("no line for coroutine %" PRIu64 " in:\n%s", id, dump_text);
    return NULL;
}

/* Asserts that coroutine c's line contains the text printf'd from fmt. */
#define ASSERT_LINE(c, ...)                                                   \
    do {                                                                      \
        char want_[256], line_[1024];                                         \
        snprintf(want_, sizeof want_, __VA_ARGS__);                           \
        line_of(coco_get_id(c), line_, sizeof line_);                         \
        ck_assert_msg(strstr(line_, want_) != NULL,                           \
                      "expected \"%s\" in \"%s\"", want_, line_);             \
    } while (0)

static void park_all(coco_sched_t *s, coco_coro_t **c, size_t n)
{
    for (int round = 0; round < 100; round++) {
        size_t parked = 0;
        for (size_t i = 0; i < n; i++)
            parked += coco_get_state(c[i]) == COCO_STATE_WAITING;
        if (parked == n)
            return;
        ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);
    }
    ck_abort_msg("the coroutines did not all park");
}

/* ------------------------------------------------------- the scenario */

static coco_channel_t *ch_send, *ch_recv, *ch_sel_recv, *ch_sel_send, *ch_hold;
static coco_mutex_t *mu;
static coco_coro_t *join_target;
static int pipe_fd[2];

static void do_send(void *a) { (void)a; coco_channel_send(ch_send, NULL); }
static void do_recv(void *a) { void *v; (void)a; coco_channel_recv(ch_recv, &v); }
static void do_lock(void *a) { (void)a; coco_mutex_lock(mu); coco_mutex_unlock(mu); }
static void do_sleep(void *a) { (void)a; coco_sleep(600000); }
static void do_join(void *a) { (void)a; coco_join(join_target); }
static void do_read(void *a) { char b; (void)a; coco_read(pipe_fd[0], &b, 1); }
static void do_hold(void *a)
{
    void *v;
    (void)a;
    coco_mutex_lock(mu);
    coco_channel_recv(ch_hold, &v);
    coco_mutex_unlock(mu);
}
static void do_select(void *a)
{
    (void)a;
    coco_select_case_t cases[2] = {
        { ch_sel_recv, COCO_SELECT_RECV, NULL, 0 },
        { ch_sel_send, COCO_SELECT_SEND, NULL, 0 },
    };
    coco_select(cases, 2, COCO_INFINITE);
}

enum { HOLD, SEND, RECV, LOCK, SLEEP, JOIN, READ, SELECT, NCO };

static coco_sched_t *scenario(coco_coro_t **c)
{
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    ch_send = coco_channel_create(0);
    ch_recv = coco_channel_create(2);
    ch_sel_recv = coco_channel_create(0);
    ch_sel_send = coco_channel_create(0);
    ch_hold = coco_channel_create(0);
    mu = coco_mutex_create();
    ck_assert_int_eq(pipe(pipe_fd), 0);
    c[HOLD] = coco_create(s, do_hold, NULL, 0);
    c[SEND] = coco_create(s, do_send, NULL, 0);
    c[RECV] = coco_create(s, do_recv, NULL, 0);
    c[LOCK] = coco_create(s, do_lock, NULL, 0);
    c[SLEEP] = coco_create(s, do_sleep, NULL, 0);
    join_target = c[HOLD];
    c[JOIN] = coco_create(s, do_join, NULL, 0);
    c[READ] = coco_create(s, do_read, NULL, 0);
    c[SELECT] = coco_create(s, do_select, NULL, 0);
    park_all(s, c, NCO);
    return s;
}

static void scenario_end(coco_sched_t *s)
{
    coco_sched_destroy(s);
    coco_channel_destroy(ch_send);
    coco_channel_destroy(ch_recv);
    coco_channel_destroy(ch_sel_recv);
    coco_channel_destroy(ch_sel_send);
    coco_channel_destroy(ch_hold);
    coco_mutex_destroy(mu);
    close(pipe_fd[0]);
    close(pipe_fd[1]);
}

START_TEST(dump_names_every_wait)
{
    coco_coro_t *c[NCO];
    coco_sched_t *s = scenario(c);
    ck_assert_int_eq(capture(dump_fn, s), COCO_OK);
    ck_assert_msg(strstr(dump_text, ": 8 alive, 0 ready, 1 timers armed, "
                                    "1 waiting for I/O\n") != NULL, "%s", dump_text);
    ASSERT_LINE(c[HOLD], "waiting: channel %p recv (capacity 0, length 0);", (void *)ch_hold);
    ASSERT_LINE(c[SEND], "waiting: channel %p send (capacity 0, length 0);", (void *)ch_send);
    ASSERT_LINE(c[RECV], "waiting: channel %p recv (capacity 2, length 0);", (void *)ch_recv);
    ASSERT_LINE(c[LOCK], "waiting: mutex %p (held by coroutine %" PRIu64 ");",
                (void *)mu, coco_get_id(c[HOLD]));
    ASSERT_LINE(c[SLEEP], "waiting: sleep; waited ");
    ASSERT_LINE(c[SLEEP], " ms, deadline in ");
    ASSERT_LINE(c[JOIN], "waiting: join coroutine %" PRIu64 ";", coco_get_id(c[HOLD]));
    ASSERT_LINE(c[READ], "waiting: fd %d read;", pipe_fd[0]);
    ASSERT_LINE(c[SELECT], "waiting: select of 2 cases [channel %p recv (capacity 0, "
                "length 0), channel %p send (capacity 0, length 0)];",
                (void *)ch_sel_recv, (void *)ch_sel_send);
    for (int i = 0; i < NCO; i++) {
        ASSERT_LINE(c[i], "; created at 0x");
        ASSERT_LINE(c[i], "; stack ");
        if (HAVE_IN_USE)
            ASSERT_LINE(c[i], ", in use ");
    }
    scenario_end(s);
}
END_TEST

/* A deadline far away that already ran some time: the wait is measured. */
static void short_sleep(void *a) { (void)a; coco_sleep(50); }
START_TEST(dump_waited_grows)
{
    coco_sched_t *s = coco_sched_create();
    coco_coro_t *c = coco_create(s, do_sleep, NULL, 0);
    coco_coro_t *short_one = coco_create(s, short_sleep, NULL, 0);
    /* Until the 50 ms sleep is over; a turn may come back early. */
    for (int i = 0; i < 1000 && coco_get_state(short_one) != COCO_STATE_DEAD; i++)
        ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);
    ck_assert_int_eq(coco_get_state(short_one), COCO_STATE_DEAD);
    ck_assert_int_eq(coco_get_state(c), COCO_STATE_WAITING);
    ck_assert_int_eq(capture(dump_fn, s), COCO_OK);
    char line[1024];
    line_of(coco_get_id(c), line, sizeof line);
    unsigned long waited = 0;
    const char *p = strstr(line, "waited ");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(sscanf(p, "waited %lu ms", &waited), 1);
    ck_assert_uint_ge(waited, 50);
    ck_assert_uint_lt(waited, 600000);
    coco_sched_destroy(s);
}
END_TEST

static coco_sched_t *self_sched;
static void dump_self(void *a)
{
    (void)a;
    *(int *)a = capture(dump_fn, self_sched);
}
START_TEST(dump_from_the_running_coroutine)
{
    self_sched = coco_sched_create();
    int rc = -100;
    coco_coro_t *c = coco_create(self_sched, dump_self, &rc, 0);
    uint64_t id = coco_get_id(c);
    ck_assert_int_eq(coco_sched_run(self_sched), COCO_OK);
    ck_assert_int_eq(rc, COCO_OK);
    char line[1024];
    line_of(id, line, sizeof line);
    ck_assert_msg(strstr(line, " running; created at 0x") != NULL, "%s", line);
    ck_assert_ptr_nonnull(strstr(line, ", in use "));
    coco_sched_destroy(self_sched);
}
END_TEST

/* From a signal handler that interrupts a coroutine, as a SIGQUIT
 * handler would. */
static coco_sched_t *sig_sched;
static int sig_fd, sig_rc = -100;
static void on_usr1(int sig)
{
    (void)sig;
    sig_rc = coco_sched_dump(sig_sched, sig_fd);
}
static void raiser(void *a)
{
    (void)a;
    raise(SIGUSR1);
}
static int signal_fn(void *arg, int fd)
{
    (void)arg;
    sig_fd = fd;
    sig_sched = coco_sched_create();
    ch_send = coco_channel_create(0);
    coco_create(sig_sched, do_send, NULL, 0);
    coco_create(sig_sched, raiser, NULL, 0);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old);
    int rc = coco_sched_run(sig_sched);
    sigaction(SIGUSR1, &old, NULL);
    coco_sched_destroy(sig_sched);
    coco_channel_destroy(ch_send);
    return rc;
}
START_TEST(dump_from_a_signal_handler)
{
    ck_assert_int_eq(capture(signal_fn, NULL), COCO_ERROR_DEADLOCK);
    ck_assert_int_eq(sig_rc, COCO_OK);
    ck_assert_msg(strstr(dump_text, "coroutine 1 waiting: channel ") != NULL, "%s", dump_text);
    ck_assert_msg(strstr(dump_text, "coroutine 2 running; created at 0x") != NULL, "%s", dump_text);
}
END_TEST

START_TEST(dump_rejects_bad_arguments)
{
    coco_sched_t *s = coco_sched_create();
    coco_create(s, do_sleep, NULL, 0);
    ck_assert_int_eq(coco_sched_dump(NULL, 1), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_sched_dump(s, -1), COCO_ERROR_INVALID);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    close(p[1]);
    ck_assert_int_eq(coco_sched_dump(s, p[1]), COCO_ERROR); /* closed: EBADF */
    close(p[0]);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(dump_shared_stack)
{
    if (!coco_test_shared_stacks())
        return;
    coco_sched_t *s = coco_sched_create();
    ch_send = coco_channel_create(0);
    coco_attr_t attr;
    coco_attr_init(&attr);
    attr.flags = COCO_ATTR_SHARED_STACK;
    coco_coro_t *a = coco_create_attr(s, do_send, NULL, &attr);
    coco_coro_t *b = coco_create_attr(s, do_send, NULL, &attr);
    coco_sched_run_once(s);
    ck_assert_int_eq(capture(dump_fn, s), COCO_OK);
    ASSERT_LINE(a, "waiting: channel %p send (capacity 0, length 0); shared stack ",
                (void *)ch_send);
    ASSERT_LINE(a, ", in use ");
    ASSERT_LINE(b, "created; entry 0x");
    coco_sched_destroy(s);
    coco_channel_destroy(ch_send);
}
END_TEST

/* ----------------------------------------------------- COCO_DEBUG=deadlock */

static int deadlock_fn(void *arg, int fd)
{
    (void)arg;
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    coco_sched_t *s = coco_sched_create();
    ch_send = coco_channel_create(0);
    coco_create(s, do_send, NULL, 0);
    int rc = coco_sched_run(s);
    coco_sched_destroy(s);
    coco_channel_destroy(ch_send);
    dup2(saved, 2);
    close(saved);
    return rc;
}

START_TEST(deadlock_dump_on_request)
{
    setenv("COCO_DEBUG", "other,deadlock", 1);
    ck_assert_int_eq(capture(deadlock_fn, NULL), COCO_ERROR_DEADLOCK);
    ck_assert_msg(strstr(dump_text, "coco: deadlock: ") == dump_text, "%s", dump_text);
    ck_assert_msg(strstr(dump_text, ": 1 alive, 0 ready") != NULL, "%s", dump_text);
    ck_assert_msg(strstr(dump_text, "waiting: channel ") != NULL, "%s", dump_text);
    ck_assert_msg(strstr(dump_text, " send (capacity 0, length 0); created at 0x") != NULL,
                  "%s", dump_text);

    setenv("COCO_DEBUG", "deadlocks", 1);
    ck_assert_int_eq(capture(deadlock_fn, NULL), COCO_ERROR_DEADLOCK);
    ck_assert_str_eq(dump_text, "");
    unsetenv("COCO_DEBUG");
    ck_assert_int_eq(capture(deadlock_fn, NULL), COCO_ERROR_DEADLOCK);
    ck_assert_str_eq(dump_text, "");
}
END_TEST


/* ------------------------------------------------------------- counters */

static coco_stats_t stats_of(coco_sched_t *s)
{
    coco_stats_t st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    ck_assert_int_eq(coco_sched_stats(s, &st), COCO_OK);
    ck_assert_uint_eq(st.size, sizeof st);
    return st;
}

static void yield5(void *a)
{
    (void)a;
    for (int i = 0; i < 5; i++)
        coco_yield();
}

START_TEST(stats_yields)
{
    coco_sched_t *s = coco_sched_create();
    coco_stats_t st = stats_of(s);
    ck_assert_uint_eq(st.switches, 0);
    coco_create(s, yield5, NULL, 0);
    coco_create(s, yield5, NULL, 0);
    st = stats_of(s);
    ck_assert_uint_eq(st.created, 2);
    ck_assert_uint_gt(st.stack_bytes_mapped, 0);
    ck_assert_uint_le(st.stack_bytes_resident, st.stack_bytes_mapped);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    st = stats_of(s);
    /* A, B, A, ... each yield hands over; A ends, the loop resumes B
     * once more and B ends. */
    ck_assert_uint_eq(st.yields, 10);
    ck_assert_uint_eq(st.parks, 0);
    ck_assert_uint_eq(st.finished, 2);
    ck_assert_uint_eq(st.loop_switches, 2);
    ck_assert_uint_eq(st.switches, 12);
    ck_assert_uint_eq(st.created + st.ready + st.running + st.waiting, 0);
    coco_sched_destroy(s);
}
END_TEST

static coco_channel_t *pp;
static void pp_send(void *a)
{
    (void)a;
    for (intptr_t i = 1; i <= 4; i++)
        coco_channel_send(pp, (void *)i);
}
static void pp_recv(void *a)
{
    void *v;
    (void)a;
    for (int i = 0; i < 4; i++)
        coco_channel_recv(pp, &v);
}

START_TEST(stats_channel)
{
    coco_sched_t *s = coco_sched_create();
    pp = coco_channel_create(0);
    coco_create(s, pp_send, NULL, 0);
    coco_create(s, pp_recv, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_stats_t st = stats_of(s);
    /* The sender parks on 1 and 3, the receiver waits for 2 and 4. */
    ck_assert_uint_eq(st.parks_sync, 4);
    ck_assert_uint_eq(st.parks, 4);
    ck_assert_uint_eq(st.finished, 2);
    ck_assert_uint_eq(st.switches, 6);
    ck_assert_uint_eq(st.loop_switches, 2);
    ck_assert_uint_eq(st.dead, 2);
    coco_sched_destroy(s);
    coco_channel_destroy(pp);
}
END_TEST

static void sleep1(void *a) { (void)a; coco_sleep(1); }
static void recv_late(void *a) { void *v; (void)a; coco_channel_recv_timeout(pp, &v, 60000); }
static void send_now(void *a) { (void)a; coco_channel_send(pp, NULL); }
static coco_coro_t *joined;
static void join_it(void *a) { (void)a; coco_join(joined); }

START_TEST(stats_timers_and_joins)
{
    coco_sched_t *s = coco_sched_create();
    pp = coco_channel_create(0);
    joined = coco_create(s, sleep1, NULL, 0);
    coco_create(s, join_it, NULL, 0);
    coco_create(s, recv_late, NULL, 0);
    coco_create(s, send_now, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_stats_t st = stats_of(s);
    ck_assert_uint_eq(st.parks_sleep, 1);
    ck_assert_uint_eq(st.parks_join, 1);
    ck_assert_uint_eq(st.parks_sync, 1);
    ck_assert_uint_eq(st.timers_armed, 2);
    ck_assert_uint_eq(st.timers_fired, 1);    /* the sleep */
    ck_assert_uint_eq(st.timers_cancelled, 1); /* the receive's deadline */
    ck_assert_uint_eq(st.finished, 4);
    coco_sched_destroy(s);
    coco_channel_destroy(pp);
}
END_TEST

static void read_pipe(void *a) { char b; (void)a; coco_read(pipe_fd[0], &b, 1); }
static void write_pipe(void *a)
{
    (void)a;
    coco_yield();
    ck_assert_int_eq(coco_write(pipe_fd[1], "x", 1), 1);
}

START_TEST(stats_io)
{
    ck_assert_int_eq(pipe(pipe_fd), 0);
    coco_sched_t *s = coco_sched_create();
    coco_create(s, read_pipe, NULL, 0);
    coco_create(s, write_pipe, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_stats_t st = stats_of(s);
    ck_assert_uint_eq(st.parks_io, 1);
    ck_assert_uint_eq(st.io_wakes, 1);
    ck_assert_uint_ge(st.polls, 1);
    coco_sched_destroy(s);
    close(pipe_fd[0]);
    close(pipe_fd[1]);
}
END_TEST

/* A caller built against an older, shorter coco_stats_t. */
START_TEST(stats_size_versioning)
{
    coco_sched_t *s = coco_sched_create();
    coco_create(s, yield5, NULL, 0);
    coco_create(s, yield5, NULL, 0);
    coco_sched_run(s);
    coco_stats_t st;
    memset(&st, 0xa5, sizeof st);
    st.size = offsetof(coco_stats_t, yields);
    ck_assert_int_eq(coco_sched_stats(s, &st), COCO_OK);
    ck_assert_uint_eq(st.size, offsetof(coco_stats_t, yields));
    ck_assert_uint_eq(st.switches, 12);
    ck_assert_uint_eq(st.loop_switches, 2);
    ck_assert_uint_eq(st.yields, 0xa5a5a5a5a5a5a5a5u); /* not written */
    /* A newer, longer one gets what this library has. */
    struct { coco_stats_t st; uint64_t later; } big;
    memset(&big, 0, sizeof big);
    big.st.size = sizeof big;
    ck_assert_int_eq(coco_sched_stats(s, &big.st), COCO_OK);
    ck_assert_uint_eq(big.st.size, sizeof(coco_stats_t));
    ck_assert_uint_eq(big.st.yields, 10);
    st.size = 0;
    ck_assert_int_eq(coco_sched_stats(s, &st), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_sched_stats(NULL, &big.st), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_sched_stats(s, NULL), COCO_ERROR_INVALID);
    coco_sched_destroy(s);
}
END_TEST

/* ---------------------------------------------------------------- suite */

static Suite *debug_suite(void)
{
    Suite *su = suite_create("debug");
    TCase *tc = tcase_create("dump");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, dump_names_every_wait);
    tcase_add_test(tc, dump_waited_grows);
    tcase_add_test(tc, dump_from_the_running_coroutine);
    tcase_add_test(tc, dump_from_a_signal_handler);
    tcase_add_test(tc, dump_rejects_bad_arguments);
    tcase_add_test(tc, dump_shared_stack);
    tcase_add_test(tc, deadlock_dump_on_request);
    suite_add_tcase(su, tc);
    tc = tcase_create("stats");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, stats_yields);
    tcase_add_test(tc, stats_channel);
    tcase_add_test(tc, stats_timers_and_joins);
    tcase_add_test(tc, stats_io);
    tcase_add_test(tc, stats_size_versioning);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    return coco_test_run(debug_suite());
}
