/*
 * check_io_late.c - an I/O call with a timeout whose descriptor became
 * ready in time must not fail with ETIMEDOUT because the scheduler got
 * round to it late.
 *
 * In each test one coroutine parks with a 50 ms limit; a second one makes
 * the descriptor ready at once, then keeps the thread for 150 ms without
 * yielding, as a busy server does.  When the loop next runs, both the
 * deadline and the readiness are due.  The waiting call must see the
 * readiness: data was there, space was there, a connection was queued,
 * well within its limit.  (Found by the soak test: under load, clients
 * that had sent their next request in time were dropped as idle.)
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef COCO_TEST_BACKEND
#define COCO_TEST_BACKEND "default"
#endif

#define LIMIT_MS 50
#define BUSY_MS  150

struct late {
    int fd[2];          /* the waiter's descriptor, and the other end */
    int rc, err;
    char buf[64];
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Holds the thread, as a coroutine doing a long computation does. */
static void busy(void)
{
    uint64_t end = now_ms() + BUSY_MS;
    while (now_ms() < end)
        ;
}

/* Runs waiter then helper on one scheduler, in that order. */
static void run_pair(void (*waiter)(void *), void (*helper)(void *), struct late *l)
{
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(coco_create(s, waiter, l, 0));
    ck_assert_ptr_nonnull(coco_create(s, helper, l, 0));
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
}

/* ---------------------------------------------------------------- read */

static void late_reader(void *arg)
{
    struct late *l = arg;
    errno = 0;
    l->rc = coco_read_timeout(l->fd[0], l->buf, sizeof l->buf, LIMIT_MS);
    l->err = errno;
}

static void writer_then_busy(void *arg)
{
    struct late *l = arg;
    ck_assert_int_eq(write(l->fd[1], "in time", 7), 7);
    busy();
}

START_TEST(test_read_ready_in_time)
{
    struct late l;
    memset(&l, 0, sizeof l);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, l.fd), 0);
    run_pair(late_reader, writer_then_busy, &l);
    ck_assert_msg(l.rc == 7, "read returned %d (%s)", l.rc, strerror(l.err));
    ck_assert_int_eq(memcmp(l.buf, "in time", 7), 0);
    close(l.fd[0]);
    close(l.fd[1]);
}
END_TEST

/* --------------------------------------------------------------- write */

static void late_writer(void *arg)
{
    struct late *l = arg;
    errno = 0;
    l->rc = coco_write_timeout(l->fd[0], "x", 1, LIMIT_MS);
    l->err = errno;
}

static void drainer_then_busy(void *arg)
{
    struct late *l = arg;
    char b[4096];
    while (recv(l->fd[1], b, sizeof b, MSG_DONTWAIT) > 0)
        ;
    busy();
}

START_TEST(test_write_ready_in_time)
{
    struct late l;
    memset(&l, 0, sizeof l);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, l.fd), 0);
    /* Full, so the writer has to park. */
    char b[4096];
    memset(b, 'f', sizeof b);
    while (send(l.fd[0], b, sizeof b, MSG_DONTWAIT) > 0)
        ;
    ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
    run_pair(late_writer, drainer_then_busy, &l);
    ck_assert_msg(l.rc == 1, "write returned %d (%s)", l.rc, strerror(l.err));
    close(l.fd[0]);
    close(l.fd[1]);
}
END_TEST

/* -------------------------------------------------------------- accept */

static void late_acceptor(void *arg)
{
    struct late *l = arg;
    errno = 0;
    l->rc = coco_accept_timeout(l->fd[0], NULL, NULL, LIMIT_MS);
    l->err = errno;
}

static void connector_then_busy(void *arg)
{
    struct late *l = arg;
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    ck_assert_int_eq(getsockname(l->fd[0], (struct sockaddr *)&a, &len), 0);
    l->fd[1] = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(l->fd[1], 0);
    /* Completes at once on loopback: the listener's queue takes it. */
    ck_assert_int_eq(connect(l->fd[1], (struct sockaddr *)&a, sizeof a), 0);
    busy();
}

START_TEST(test_accept_ready_in_time)
{
    struct late l;
    memset(&l, 0, sizeof l);
    l.fd[0] = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(l.fd[0], 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(l.fd[0], (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(l.fd[0], 8), 0);
    run_pair(late_acceptor, connector_then_busy, &l);
    ck_assert_msg(l.rc >= 0, "accept returned %d (%s)", l.rc, strerror(l.err));
    close(l.rc);
    close(l.fd[0]);
    close(l.fd[1]);
}
END_TEST

/* ------------------------------------------------ a real timeout stays */

static void idle_helper(void *arg)
{
    (void)arg;
    busy();
}

START_TEST(test_nothing_ready_still_times_out)
{
    struct late l;
    memset(&l, 0, sizeof l);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, l.fd), 0);
    run_pair(late_reader, idle_helper, &l);
    ck_assert_int_eq(l.rc, -1);
    ck_assert_int_eq(l.err, ETIMEDOUT);
    close(l.fd[0]);
    close(l.fd[1]);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("io deadlines (" COCO_TEST_BACKEND ")");
    TCase *tc = tcase_create("late_loop");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_read_ready_in_time);
    tcase_add_test(tc, test_write_ready_in_time);
    tcase_add_test(tc, test_accept_ready_in_time);
    tcase_add_test(tc, test_nothing_ready_still_times_out);
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
