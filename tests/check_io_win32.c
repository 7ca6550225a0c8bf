/*
 * check_io_win32.c - the I/O calls on Windows, over loopback TCP sockets
 * (Windows has no socketpair() and the library drives sockets only):
 * parking on readiness, end of file, a vanished peer, timeouts, accept and
 * connect, coco_wait_fd, coco_close waking a parked reader, calls that
 * never wait still letting other coroutines run, and bad input.  The
 * POSIX suite is check_io.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"
#include "testutil.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <winsock2.h>
#include <ws2tcpip.h>
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

static uint64_t now_ms(void)
{
    return GetTickCount64();
}

/* A listening socket on 127.0.0.1 and an ephemeral port; its address in *sa. */
static SOCKET listener(struct sockaddr_in *sa)
{
    SOCKET l = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    ck_assert(l != INVALID_SOCKET);
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(l, (struct sockaddr *)sa, sizeof *sa), 0);
    ck_assert_int_eq(listen(l, 64), 0);
    int len = sizeof *sa;
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)sa, &len), 0);
    return l;
}

/* Two connected TCP sockets, blocking as socket() makes them. */
static void tcp_pair(int sv[2])
{
    struct sockaddr_in sa;
    SOCKET l = listener(&sa);
    SOCKET c = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    ck_assert(c != INVALID_SOCKET);
    ck_assert_int_eq(connect(c, (struct sockaddr *)&sa, sizeof sa), 0);
    SOCKET a = accept(l, NULL, NULL);
    ck_assert(a != INVALID_SOCKET);
    closesocket(l);
    sv[0] = (int)c;
    sv[1] = (int)a;
}

static void run1(void (*fn)(void *), void *arg)
{
    coco_sched_t *s = coco_sched_create();
    coco_create(s, fn, arg, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
}

/* --------------------------------------------------- read and write */

struct pair_ctx {
    int sv[2];
    int n, err;
    char buf[64];
    int reader_state;   /* the reader's state seen by the writer */
    coco_coro_t *reader;
    uint64_t elapsed;
};

static void reader(void *arg)
{
    struct pair_ctx *c = arg;
    c->n = coco_read(c->sv[0], c->buf, sizeof c->buf);
    c->err = errno;
}

static void writer(void *arg)
{
    struct pair_ctx *c = arg;
    c->reader_state = coco_get_state(c->reader);
    coco_write(c->sv[1], "hello", 5);
}

START_TEST(test_read_parks_until_data)
{
    struct pair_ctx c = { .n = -2 };
    tcp_pair(c.sv);
    coco_sched_t *s = coco_sched_create();
    c.reader = coco_create(s, reader, &c, 0);
    coco_create(s, writer, &c, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(c.reader_state, COCO_STATE_WAITING);
    ck_assert_int_eq(c.n, 5);
    ck_assert_mem_eq(c.buf, "hello", 5);
    coco_sched_destroy(s);
    coco_close(c.sv[0]);
    coco_close(c.sv[1]);
}
END_TEST

static void closer(void *arg)
{
    struct pair_ctx *c = arg;
    coco_yield();
    coco_close(c->sv[1]);
}

START_TEST(test_read_eof)
{
    struct pair_ctx c = { .n = -2 };
    tcp_pair(c.sv);
    coco_sched_t *s = coco_sched_create();
    c.reader = coco_create(s, reader, &c, 0);
    coco_create(s, closer, &c, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(c.n, 0);
    coco_sched_destroy(s);
    coco_close(c.sv[0]);
}
END_TEST

/* The peer resets the connection: writing fails with an error, as
 * write(2) does on a socket whose peer is gone. */
static void writes_to_gone_peer(void *arg)
{
    struct pair_ctx *c = arg;
    static char chunk[4096];
    c->n = 0;
    for (int i = 0; i < 1000; i++) {
        int r = coco_write(c->sv[0], chunk, sizeof chunk);
        if (r < 0) {
            c->n = r;
            c->err = errno;
            return;
        }
        coco_sleep(1);
    }
}

START_TEST(test_write_to_reset_peer)
{
    struct pair_ctx c = { .n = -2 };
    tcp_pair(c.sv);
    struct linger lg = { 1, 0 }; /* close with a reset */
    setsockopt((SOCKET)c.sv[1], SOL_SOCKET, SO_LINGER, (const char *)&lg, sizeof lg);
    closesocket((SOCKET)c.sv[1]);
    run1(writes_to_gone_peer, &c);
    ck_assert_int_eq(c.n, -1);
    ck_assert_msg(c.err == ECONNRESET || c.err == EPIPE,
                  "errno %d, expected ECONNRESET or EPIPE", c.err);
    coco_close(c.sv[0]);
}
END_TEST

/* A large transfer: the writer parks whenever the socket buffer is full. */
#define BIG (4u << 20)
static uint32_t big_sum_out, big_sum_in;
static size_t big_got;

static void big_writer(void *arg)
{
    struct pair_ctx *c = arg;
    static unsigned char chunk[65536];
    for (size_t off = 0; off < BIG; off += sizeof chunk) {
        for (size_t i = 0; i < sizeof chunk; i++) {
            chunk[i] = (unsigned char)((off + i) * 2654435761u >> 24);
            big_sum_out += chunk[i];
        }
        ck_assert_int_eq(coco_write(c->sv[1], chunk, sizeof chunk), (int)sizeof chunk);
    }
    coco_close(c->sv[1]);
}

static void big_reader(void *arg)
{
    struct pair_ctx *c = arg;
    static unsigned char buf[7919];
    int r;
    while ((r = coco_read(c->sv[0], buf, sizeof buf)) > 0) {
        for (int i = 0; i < r; i++)
            big_sum_in += buf[i];
        big_got += (size_t)r;
    }
    c->n = r;
}

START_TEST(test_large_transfer)
{
    struct pair_ctx c = { .n = -2 };
    tcp_pair(c.sv);
    big_sum_out = big_sum_in = 0;
    big_got = 0;
    coco_sched_t *s = coco_sched_create();
    coco_create(s, big_reader, &c, 0);
    coco_create(s, big_writer, &c, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(c.n, 0);
    ck_assert_uint_eq(big_got, BIG);
    ck_assert_uint_eq(big_sum_in, big_sum_out);
    coco_sched_destroy(s);
    coco_close(c.sv[0]);
}
END_TEST

static void reads_with_timeout(void *arg)
{
    struct pair_ctx *c = arg;
    uint64_t t0 = now_ms();
    c->n = coco_read_timeout(c->sv[0], c->buf, sizeof c->buf, 60);
    c->err = errno;
    c->elapsed = now_ms() - t0;
}

START_TEST(test_read_timeout)
{
    struct pair_ctx c = { .n = -2 };
    tcp_pair(c.sv);
    run1(reads_with_timeout, &c);
    ck_assert_int_eq(c.n, -1);
    ck_assert_int_eq(c.err, ETIMEDOUT);
    ck_assert_uint_ge(c.elapsed, 55);  /* GetTickCount64 ticks coarsely */
    ck_assert_uint_lt(c.elapsed, 2000);
    coco_close(c.sv[0]);
    coco_close(c.sv[1]);
}
END_TEST

/* coco_close() from another coroutine wakes the parked reader: EBADF. */
static void closes_reader_socket(void *arg)
{
    struct pair_ctx *c = arg;
    coco_yield();
    coco_close(c->sv[0]);
}

START_TEST(test_close_wakes_reader)
{
    struct pair_ctx c = { .n = -2 };
    tcp_pair(c.sv);
    coco_sched_t *s = coco_sched_create();
    c.reader = coco_create(s, reader, &c, 0);
    coco_create(s, closes_reader_socket, &c, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(c.n, -1);
    ck_assert_int_eq(c.err, EBADF);
    coco_sched_destroy(s);
    coco_close(c.sv[1]);
}
END_TEST

/* ------------------------------------------------- accept and connect */

#define CLIENTS 40
struct server_ctx {
    int lfd;
    struct sockaddr_in sa;
    int served;
    int echoed;
    size_t peer_len;
};

static void handle(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[32];
    int n = coco_read(fd, buf, sizeof buf);
    if (n > 0)
        coco_write(fd, buf, (size_t)n);
    coco_close(fd);
}

static void server(void *arg)
{
    struct server_ctx *sv = arg;
    for (int i = 0; i < CLIENTS; i++) {
        struct sockaddr_in peer;
        size_t len = sizeof peer;
        int fd = coco_accept(sv->lfd, &peer, &len);
        ck_assert_int_ge(fd, 0);
        sv->peer_len = len;
        sv->served++;
        coco_detach(coco_create(coco_self()->sched, handle, (void *)(intptr_t)fd, 0));
    }
}

static void client(void *arg)
{
    struct server_ctx *sv = arg;
    int fd = (int)socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    ck_assert_int_eq(coco_connect(fd, &sv->sa, sizeof sv->sa), 0);
    char msg[16], back[16];
    int len = snprintf(msg, sizeof msg, "ping %d", fd);
    ck_assert_int_eq(coco_write(fd, msg, (size_t)len), len);
    int got = 0, n;
    while (got < len && (n = coco_read(fd, back + got, sizeof back - (size_t)got)) > 0)
        got += n;
    if (got == len && memcmp(msg, back, (size_t)len) == 0)
        sv->echoed++;
    coco_close(fd);
}

START_TEST(test_accept_connect_echo)
{
    struct server_ctx sv = { 0 };
    sv.lfd = (int)listener(&sv.sa);
    coco_sched_t *s = coco_sched_create();
    coco_create(s, server, &sv, 0);
    for (int i = 0; i < CLIENTS; i++)
        coco_detach(coco_create(s, client, &sv, 0));
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(sv.served, CLIENTS);
    ck_assert_int_eq(sv.echoed, CLIENTS);
    ck_assert_uint_eq(sv.peer_len, sizeof(struct sockaddr_in));
    coco_sched_destroy(s);
    coco_close(sv.lfd);
}
END_TEST

static void accepts_with_timeout(void *arg)
{
    struct pair_ctx *c = arg;
    uint64_t t0 = now_ms();
    c->n = coco_accept_timeout(c->sv[0], NULL, NULL, 50);
    c->err = errno;
    c->elapsed = now_ms() - t0;
}

START_TEST(test_accept_timeout)
{
    struct pair_ctx c = { .n = -2 };
    struct sockaddr_in sa;
    c.sv[0] = (int)listener(&sa);
    run1(accepts_with_timeout, &c);
    ck_assert_int_eq(c.n, -1);
    ck_assert_int_eq(c.err, ETIMEDOUT);
    ck_assert_uint_ge(c.elapsed, 45);
    coco_close(c.sv[0]);
}
END_TEST

static void connects_refused(void *arg)
{
    struct pair_ctx *c = arg;
    struct sockaddr_in sa;
    SOCKET l = listener(&sa);
    closesocket(l); /* nobody listens on that port any more */
    c->sv[0] = (int)socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    c->n = coco_connect_timeout(c->sv[0], &sa, sizeof sa, 10000);
    c->err = errno;
}

START_TEST(test_connect_refused)
{
    struct pair_ctx c = { .n = -2 };
    run1(connects_refused, &c);
    ck_assert_int_eq(c.n, -1);
    ck_assert_int_eq(c.err, ECONNREFUSED);
    coco_close(c.sv[0]);
}
END_TEST

/* ------------------------------------------------------- coco_wait_fd */

static void waits_readable(void *arg)
{
    struct pair_ctx *c = arg;
    c->n = coco_wait_fd(c->sv[0], COCO_READABLE, 5000);
}

static void sends_later(void *arg)
{
    struct pair_ctx *c = arg;
    coco_sleep(10);
    coco_write(c->sv[1], "x", 1);
}

START_TEST(test_wait_fd)
{
    struct pair_ctx c = { .n = -2 };
    tcp_pair(c.sv);
    /* Writable at once, outside any coroutine. */
    ck_assert_int_eq(coco_wait_fd(c.sv[1], COCO_WRITABLE, 0), COCO_WRITABLE);
    coco_sched_t *s = coco_sched_create();
    coco_create(s, waits_readable, &c, 0);
    coco_create(s, sends_later, &c, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(c.n, COCO_READABLE);
    coco_sched_destroy(s);
    coco_close(c.sv[0]);
    coco_close(c.sv[1]);
}
END_TEST

/* ---------------------------------------------------------- fairness */

/* A coroutine whose calls never have to wait (a socket with plenty of data
 * queued, or plenty of room to write into) still lets the others run: one
 * that is ready gets the thread within a bounded number of those calls. */
#define GREEDY_CALLS 2048
#define GREEDY_BOUND 256

struct greedy_ctx {
    int sv[2];
    int calls;          /* done by the greedy coroutine so far */
    int calls_seen;     /* what the other coroutine saw when it ran */
};

static void greedy_reader(void *arg)
{
    struct greedy_ctx *g = arg;
    char c;
    while (g->calls < GREEDY_CALLS && coco_read(g->sv[0], &c, 1) == 1)
        g->calls++;
}

static void greedy_writer(void *arg)
{
    struct greedy_ctx *g = arg;
    while (g->calls < GREEDY_CALLS && coco_write(g->sv[0], "x", 1) == 1)
        g->calls++;
}

static void patient(void *arg)
{
    struct greedy_ctx *g = arg;
    g->calls_seen = g->calls;
}

static void run_greedy(struct greedy_ctx *g, void (*greedy)(void *))
{
    coco_sched_t *s = coco_sched_create();
    coco_create(s, greedy, g, 0);
    coco_create(s, patient, g, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    coco_close(g->sv[0]);
    coco_close(g->sv[1]);
    ck_assert_int_eq(g->calls, GREEDY_CALLS);
    /* The other coroutine ran long before the greedy one was done. */
    ck_assert_int_ge(g->calls_seen, 1);
    ck_assert_int_le(g->calls_seen, GREEDY_BOUND);
}

START_TEST(test_read_streak_yields)
{
    struct greedy_ctx g = { .calls_seen = -1 };
    tcp_pair(g.sv);
    static char block[GREEDY_CALLS];
    memset(block, 'x', sizeof block);
    ck_assert_int_eq(send((SOCKET)g.sv[1], block, (int)sizeof block, 0), (int)sizeof block);
    /* All of it queued at the reader before the coroutines start, so that
     * not one read has to wait. */
    u_long queued = 0;
    for (int i = 0; i < 2000 && queued < sizeof block; i++) {
        ck_assert_int_eq(ioctlsocket((SOCKET)g.sv[0], FIONREAD, &queued), 0);
        if (queued < sizeof block)
            Sleep(1);
    }
    ck_assert_uint_eq(queued, sizeof block);
    run_greedy(&g, greedy_reader);
}
END_TEST

START_TEST(test_write_streak_yields)
{
    struct greedy_ctx g = { .calls_seen = -1 };
    tcp_pair(g.sv);
    run_greedy(&g, greedy_writer);
}
END_TEST

/* ---------------------------------------------------------- bad input */

START_TEST(test_bad_input)
{
    char buf[4];
    errno = 0;
    ck_assert_int_eq(coco_read(-1, buf, sizeof buf), -1);
    ck_assert_int_eq(errno, EBADF);
    ck_assert_int_eq(coco_write(-1, buf, sizeof buf), -1);
    ck_assert_int_eq(errno, EBADF);
    ck_assert_int_eq(coco_close(-1), -1);
    ck_assert_int_eq(errno, EBADF);
    int sv[2];
    tcp_pair(sv);
    ck_assert_int_eq(coco_read(sv[0], NULL, 4), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coco_wait_fd(sv[0], 0, 0), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coco_wait_fd(sv[0], 8, 0), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coco_connect(sv[0], NULL, 16), -1);
    ck_assert_int_eq(errno, EINVAL);
    size_t len = 4;
    ck_assert_int_eq(coco_accept(sv[0], NULL, &len), -1);
    ck_assert_int_eq(errno, EINVAL);
    /* Outside a coroutine nothing can park: EAGAIN instead of waiting. */
    ck_assert_int_eq(coco_read(sv[0], buf, sizeof buf), -1);
    ck_assert_int_eq(errno, EAGAIN);
    coco_close(sv[0]);
    coco_close(sv[1]);
    /* A closed socket, and a handle that never was one. */
    ck_assert_int_eq(coco_read(sv[0], buf, sizeof buf), -1);
    ck_assert_int_eq(errno, EBADF);
    ck_assert_int_eq(coco_write(0x7ffc, buf, sizeof buf), -1);
    ck_assert_int_eq(errno, EBADF);
}
END_TEST

int main(void)
{
    WSADATA wd;
    if (WSAStartup(MAKEWORD(2, 2), &wd) != 0)
        return 99;
    Suite *su = suite_create("io_win32");
    TCase *tc = tcase_create("stream");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_read_parks_until_data);
    tcase_add_test(tc, test_read_eof);
    tcase_add_test(tc, test_write_to_reset_peer);
    tcase_add_test(tc, test_large_transfer);
    tcase_add_test(tc, test_read_timeout);
    tcase_add_test(tc, test_close_wakes_reader);
    suite_add_tcase(su, tc);

    tc = tcase_create("connections");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_accept_connect_echo);
    tcase_add_test(tc, test_accept_timeout);
    tcase_add_test(tc, test_connect_refused);
    tcase_add_test(tc, test_wait_fd);
    suite_add_tcase(su, tc);

    tc = tcase_create("fairness");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_read_streak_yields);
    tcase_add_test(tc, test_write_streak_yields);
    suite_add_tcase(su, tc);

    tc = tcase_create("misuse");
    tcase_add_test(tc, test_bad_input);
    suite_add_tcase(su, tc);
    int rc = coco_test_run(su);
    WSACleanup();
    return rc;
}
