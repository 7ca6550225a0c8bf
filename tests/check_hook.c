/*
 * check_hook.c - libcoco-hook, linked into the test: plain read, write,
 * poll, select, the sleeps, connect and accept park only the calling
 * coroutine; descriptors the application made non-blocking still say
 * EAGAIN; socket timeouts, close and dup2 under a parked call, fork,
 * signals, errno, calls outside coroutines, and getaddrinfo.
 */
#define _GNU_SOURCE 1
#include <coco.h>

#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Timing bounds are generous: the machine is shared, and valgrind or an
 * emulator is slow. */
static double slack(void)
{
    if (getenv("COCO_TEST_UNDER_VALGRIND") != NULL || getenv("COCO_TEST_EXEC") != NULL)
        return 10.0;
    return COCO_TEST_SANITIZED ? 3.0 : 1.0;
}

static void run(void (**fns)(void *), void **args, int n)
{
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    for (int i = 0; i < n; i++)
        ck_assert_ptr_nonnull(coco_create(s, fns[i], args != NULL ? args[i] : NULL, 0));
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
}

/* A ticker coroutine: counts while the others are parked. */
static volatile int ticks;
static volatile int stop_ticking;
static void ticker(void *arg)
{
    (void)arg;
    while (!stop_ticking && ticks < 100000) {
        ticks++;
        usleep(1000);
    }
}

/* ------------------------------------------------ pipes: many readers */

#define NREADERS 16
static int rpipes[NREADERS][2];
static int read_ok;
static int worked_before_data;

static void pipe_reader(void *arg)
{
    int i = (int)(intptr_t)arg;
    char c = 0;
    if (read(rpipes[i][0], &c, 1) == 1 && c == 'a' + i % 26)
        read_ok++;
}

static void pipe_worker(void *arg)
{
    (void)arg;
    /* Runs only if every reader parked instead of blocking the thread. */
    for (int i = 0; i < 5; i++)
        coco_yield();
    worked_before_data = 1;
    for (int i = 0; i < NREADERS; i++) {
        char c = (char)('a' + i % 26);
        ck_assert_int_eq(write(rpipes[i][1], &c, 1), 1);
    }
}

START_TEST(test_pipe_many_readers)
{
    void (*fns[NREADERS + 1])(void *);
    void *args[NREADERS + 1];
    for (int i = 0; i < NREADERS; i++) {
        ck_assert_int_eq(pipe(rpipes[i]), 0);
        fns[i] = pipe_reader;
        args[i] = (void *)(intptr_t)i;
    }
    fns[NREADERS] = pipe_worker;
    args[NREADERS] = NULL;
    read_ok = 0;
    worked_before_data = 0;
    run(fns, args, NREADERS + 1);
    ck_assert_int_eq(worked_before_data, 1);
    ck_assert_int_eq(read_ok, NREADERS);
    for (int i = 0; i < NREADERS; i++) {
        close(rpipes[i][0]);
        close(rpipes[i][1]);
        /* The application's descriptors are still blocking. */
    }
}
END_TEST

/* ------------------------------------------ socketpair: ping and pong */

static int sp[2];
static int pongs;

static void pinger(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++) {
        int v = i, back = -1;
        ck_assert_int_eq(send(sp[0], &v, sizeof v, 0), (ssize_t)sizeof v);
        ck_assert_int_eq(recv(sp[0], &back, sizeof back, 0), (ssize_t)sizeof back);
        ck_assert_int_eq(back, i + 1);
        pongs++;
    }
    shutdown(sp[0], SHUT_WR);
}

static void ponger(void *arg)
{
    (void)arg;
    int v;
    ssize_t r;
    while ((r = read(sp[1], &v, sizeof v)) == (ssize_t)sizeof v) {
        v++;
        struct iovec iov = { &v, sizeof v };
        ck_assert_int_eq(writev(sp[1], &iov, 1), (ssize_t)sizeof v);
    }
    ck_assert_int_eq(r, 0);
}

START_TEST(test_socketpair_pingpong)
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    pongs = 0;
    void (*fns[])(void *) = { ponger, pinger };
    run(fns, NULL, 2);
    ck_assert_int_eq(pongs, 200);
    close(sp[0]);
    close(sp[1]);
}
END_TEST

/* --------------------------------------------------------- TCP loopback */

#define BIG (4u << 20)
static int lfd;
static struct sockaddr_in laddr;
static size_t tcp_received;

static int listen_any(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&laddr, 0, sizeof laddr);
    laddr.sin_family = AF_INET;
    laddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&laddr, sizeof laddr), 0);
    socklen_t len = sizeof laddr;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&laddr, &len), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    return fd;
}

static void tcp_server(void *arg)
{
    (void)arg;
    int c = accept(lfd, NULL, NULL);
    ck_assert_int_ge(c, 0);
    char *buf = malloc(65536);
    ssize_t r;
    while ((r = recv(c, buf, 65536, 0)) > 0)
        tcp_received += (size_t)r;
    ck_assert_int_eq(r, 0);
    free(buf);
    close(c);
}

static void tcp_client(void *arg)
{
    (void)arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&laddr, sizeof laddr), 0);
    /* The application still sees a blocking socket. */
    ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    char *buf = calloc(1, BIG);
    /* One blocking write of 4 MiB: all of it, over many waits. */
    ck_assert_int_eq(write(fd, buf, BIG), (ssize_t)BIG);
    free(buf);
    close(fd);
}

START_TEST(test_tcp_loopback)
{
    lfd = listen_any();
    tcp_received = 0;
    ticks = 0;
    stop_ticking = 0;
    void (*fns[])(void *) = { tcp_server, tcp_client };
    run(fns, NULL, 2);
    ck_assert_uint_eq(tcp_received, BIG);
    close(lfd);
}
END_TEST

/* Two acceptors on one listening socket, two clients. */
static int accepted;
static void acceptor(void *arg)
{
    (void)arg;
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    ck_assert_int_ge(c, 0);
    char x;
    ck_assert_int_eq(read(c, &x, 1), 1);
    accepted++;
    close(c);
}

static void late_client(void *arg)
{
    (void)arg;
    usleep(20000);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&laddr, sizeof laddr), 0);
    ck_assert_int_eq(write(fd, "x", 1), 1);
    close(fd);
}

START_TEST(test_two_acceptors)
{
    lfd = listen_any();
    accepted = 0;
    void (*fns[])(void *) = { acceptor, acceptor, late_client, late_client };
    run(fns, NULL, 4);
    ck_assert_int_eq(accepted, 2);
    close(lfd);
}
END_TEST

/* ------------------------------------------------------------- sleeps */

static void sleep_us(void *arg)
{
    (void)arg;
    ck_assert_int_eq(usleep(100000), 0);
}

static void sleep_ns(void *arg)
{
    (void)arg;
    struct timespec ts = { 0, 100000000L };
    ck_assert_int_eq(nanosleep(&ts, NULL), 0);
}

static void sleep_poll(void *arg)
{
    (void)arg;
    ck_assert_int_eq(poll(NULL, 0, 100), 0);
}

START_TEST(test_sleeps_side_by_side)
{
    void (*fns[])(void *) = { sleep_us, sleep_ns, sleep_poll };
    double t0 = now_ms();
    run(fns, NULL, 3);
    double t = now_ms() - t0;
    ck_assert_msg(t >= 99.0, "three 100 ms sleeps took %.1f ms", t);
    /* In series they would take 300 ms. */
    ck_assert_msg(t < 100.0 + 150.0 * slack(), "three 100 ms sleeps took %.1f ms", t);
}
END_TEST

/* A worker group: every worker thread runs a scheduler, so a hooked sleep
 * in a task parks the task, not the worker. */
static int group_tasks_done;

static void group_task(void *arg)
{
    int fds[2];
    (void)arg;
    ck_assert_ptr_nonnull(coco_workers_self());
    ck_assert_int_eq(usleep(100000), 0);
    /* And a pipe of its own: the write wakes nobody, the read must not
     * wait for long. */
    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(write(fds[1], "w", 1), 1);
    char c = 0;
    ck_assert_int_eq(read(fds[0], &c, 1), 1);
    ck_assert_int_eq(c, 'w');
    close(fds[0]);
    close(fds[1]);
    __atomic_add_fetch(&group_tasks_done, 1, __ATOMIC_RELAXED);
}

START_TEST(test_worker_group_sleeps)
{
    /* Eight tasks of 100 ms on two workers: 400 ms if each sleep held
     * its worker's thread. */
    coco_workers_t *wk = coco_workers_create(2);
    ck_assert_ptr_nonnull(wk);
    group_tasks_done = 0;
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(coco_workers_spawn(wk, group_task, NULL, 0), COCO_OK);
    double t0 = now_ms();
    ck_assert_int_eq(coco_workers_run(wk), COCO_OK);
    double t = now_ms() - t0;
    coco_workers_destroy(wk);
    ck_assert_int_eq(group_tasks_done, 8);
    ck_assert_msg(t >= 99.0, "eight 100 ms sleeps took %.1f ms", t);
    ck_assert_msg(t < 100.0 + 250.0 * slack(), "eight 100 ms sleeps on 2 workers took %.1f ms", t);
}
END_TEST

static void sleep_one_second(void *arg)
{
    (void)arg;
    ck_assert_uint_eq(sleep(1), 0);
}

START_TEST(test_sleep_seconds)
{
    void (*fns[])(void *) = { sleep_one_second, sleep_one_second };
    double t0 = now_ms();
    run(fns, NULL, 2);
    double t = now_ms() - t0;
    ck_assert_msg(t >= 999.0 && t < 1000.0 + 700.0 * slack(), "two sleep(1) took %.1f ms", t);
}
END_TEST

/* ------------------------------------------------------- poll, select */

static int pp[3][2];
static int poll_result, poll_index;
static double poll_ms;

static void poller(void *arg)
{
    (void)arg;
    struct pollfd p[3];
    for (int i = 0; i < 3; i++) {
        p[i].fd = pp[i][0];
        p[i].events = POLLIN;
        p[i].revents = 0;
    }
    double t0 = now_ms();
    poll_result = poll(p, 3, 5000);
    poll_ms = now_ms() - t0;
    poll_index = -1;
    for (int i = 0; i < 3; i++)
        if (p[i].revents & POLLIN)
            poll_index = i;
    /* A timeout with nothing ready. */
    char c;
    ck_assert_int_eq(read(pp[1][0], &c, 1), 1);
    t0 = now_ms();
    ck_assert_int_eq(poll(p, 3, 50), 0);
    ck_assert_double_ge(now_ms() - t0, 49.0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(p[i].revents, 0);
}

static void poke_second(void *arg)
{
    (void)arg;
    usleep(30000);
    ck_assert_int_eq(write(pp[1][1], "x", 1), 1);
}

START_TEST(test_poll_several)
{
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pipe(pp[i]), 0);
    ticks = 0;
    stop_ticking = 0;
    void (*fns[])(void *) = { poller, poke_second };
    run(fns, NULL, 2);
    ck_assert_int_eq(poll_result, 1);
    ck_assert_int_eq(poll_index, 1);
    ck_assert_double_ge(poll_ms, 25.0);
    for (int i = 0; i < 3; i++) {
        close(pp[i][0]);
        close(pp[i][1]);
    }
}
END_TEST

static int select_result, select_ready;

static void selector(void *arg)
{
    (void)arg;
    fd_set rd;
    FD_ZERO(&rd);
    int maxfd = 0;
    for (int i = 0; i < 3; i++) {
        FD_SET(pp[i][0], &rd);
        if (pp[i][0] > maxfd)
            maxfd = pp[i][0];
    }
    struct timeval tv = { 5, 0 };
    select_result = select(maxfd + 1, &rd, NULL, NULL, &tv);
    select_ready = FD_ISSET(pp[1][0], &rd) && !FD_ISSET(pp[0][0], &rd) &&
                   !FD_ISSET(pp[2][0], &rd);
    ck_assert(tv.tv_sec < 5); /* the time left, as Linux reports it */
    /* And a timeout. */
    char c;
    ck_assert_int_eq(read(pp[1][0], &c, 1), 1);
    FD_ZERO(&rd);
    FD_SET(pp[0][0], &rd);
    struct timeval shortv = { 0, 40000 };
    double t0 = now_ms();
    ck_assert_int_eq(select(pp[0][0] + 1, &rd, NULL, NULL, &shortv), 0);
    ck_assert_double_ge(now_ms() - t0, 39.0);
    ck_assert(!FD_ISSET(pp[0][0], &rd));
}

START_TEST(test_select_several)
{
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pipe(pp[i]), 0);
    void (*fns[])(void *) = { selector, poke_second };
    run(fns, NULL, 2);
    ck_assert_int_eq(select_result, 1);
    ck_assert_int_eq(select_ready, 1);
    for (int i = 0; i < 3; i++) {
        close(pp[i][0]);
        close(pp[i][1]);
    }
}
END_TEST

/* ------------------------------------- the application's non-blocking */

static void user_nonblock(void *arg)
{
    (void)arg;
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK), 0);
    char c;
    errno = 0;
    ck_assert_int_eq(read(p[0], &c, 1), -1);
    ck_assert_int_eq(errno, EAGAIN);
    close(p[0]);
    close(p[1]);

    int s[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    int on = 1;
    ck_assert_int_eq(ioctl(s[0], FIONBIO, &on), 0);
    errno = 0;
    ck_assert_int_eq(recv(s[0], &c, 1, 0), -1);
    ck_assert_int_eq(errno, EAGAIN);
    /* Flags the application asked for are its own. */
    errno = 0;
    ck_assert_int_eq(recv(s[1], &c, 1, MSG_DONTWAIT), -1);
    ck_assert_int_eq(errno, EAGAIN);
    close(s[0]);
    close(s[1]);
}

START_TEST(test_user_nonblock)
{
    void (*fns[])(void *) = { user_nonblock };
    run(fns, NULL, 1);
}
END_TEST

/* A socket this library made non-blocking (it connected in a coroutine)
 * that the application then makes non-blocking and blocking again. */
static int conn_fd;
static void connect_only(void *arg)
{
    (void)arg;
    conn_fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(conn_fd, (struct sockaddr *)&laddr, sizeof laddr), 0);
}

static void flag_dance(void *arg)
{
    (void)arg;
    char c;
    ck_assert_int_eq(fcntl(conn_fd, F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_eq(fcntl(conn_fd, F_SETFL, fcntl(conn_fd, F_GETFL) | O_NONBLOCK), 0);
    ck_assert_int_ne(fcntl(conn_fd, F_GETFL) & O_NONBLOCK, 0);
    errno = 0;
    ck_assert_int_eq(read(conn_fd, &c, 1), -1);
    ck_assert_int_eq(errno, EAGAIN);
    int off = 0;
    ck_assert_int_eq(ioctl(conn_fd, FIONBIO, &off), 0);
    ck_assert_int_eq(fcntl(conn_fd, F_GETFL) & O_NONBLOCK, 0);
}

START_TEST(test_flag_handover)
{
    lfd = listen_any();
    void (*fns[])(void *) = { connect_only, flag_dance };
    run(fns, NULL, 2);
    close(conn_fd);
    close(lfd);
}
END_TEST

/* ------------------------------- the application's non-blocking flag */

/* The real O_NONBLOCK of fd, past the library's fcntl(). */
static int real_nonblock(int fd)
{
    long fl = syscall(SYS_fcntl, fd, F_GETFL);
    ck_assert_int_ge(fl, 0);
    return (fl & O_NONBLOCK) != 0;
}

static void expect_eagain(int fd)
{
    char c;
    errno = 0;
    ck_assert_int_eq(read(fd, &c, 1), -1);
    ck_assert_int_eq(errno, EAGAIN);
}

/* Every way the application makes a descriptor non-blocking: its reads
 * say EAGAIN in a coroutine. */
static void nonblock_paths(void *arg)
{
    (void)arg;
    int s[2], p[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
    expect_eagain(s[0]);
    close(s[0]);
    close(s[1]);

    ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
    expect_eagain(p[0]);
    close(p[0]);
    close(p[1]);

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    ck_assert_int_eq(fcntl(s[0], F_SETFL, fcntl(s[0], F_GETFL) | O_NONBLOCK), 0);
    expect_eagain(s[0]);
    close(s[0]);
    close(s[1]);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ck_assert_int_ge(fd, 0);
    char c;
    errno = 0;
    ck_assert_int_eq(accept(fd, NULL, NULL), -1); /* not listening */
    ck_assert_int_eq(errno, EINVAL);
    close(fd);

    /* accept4 with SOCK_NONBLOCK, and a listener the application made
     * non-blocking. */
    int l = listen_any();
    ck_assert_int_eq(fcntl(l, F_SETFL, O_NONBLOCK), 0);
    errno = 0;
    ck_assert_int_eq(accept(l, NULL, NULL), -1);
    ck_assert_int_eq(errno, EAGAIN);
    int cl = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(cl, 0);
    ck_assert_int_eq(connect(cl, (struct sockaddr *)&laddr, sizeof laddr), 0);
    int a = -1;
    for (int i = 0; i < 1000 && a < 0; i++) {
        a = accept4(l, NULL, NULL, SOCK_NONBLOCK);
        if (a < 0)
            coco_sleep(1);
    }
    ck_assert_int_ge(a, 0);
    errno = 0;
    ck_assert_int_eq(recv(a, &c, 1, 0), -1);
    ck_assert_int_eq(errno, EAGAIN);
    close(a);
    close(cl);
    close(l);
}

START_TEST(test_nonblock_paths)
{
    void (*fns[])(void *) = { nonblock_paths };
    run(fns, NULL, 1);
}
END_TEST

/* A socket made non-blocking by the application and then blocking again
 * in a coroutine (as hiredis connects): the library keeps the flag on
 * underneath, the application sees it off, and a read parks. */
static int sw[2];
static int sw_read;

static void switch_back_reader(void *arg)
{
    int by_ioctl = (int)(intptr_t)arg;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sw), 0);
    expect_eagain(sw[0]);
    if (by_ioctl) {
        int off = 0;
        ck_assert_int_eq(ioctl(sw[0], FIONBIO, &off), 0);
    } else {
        ck_assert_int_eq(fcntl(sw[0], F_SETFL, fcntl(sw[0], F_GETFL) & ~O_NONBLOCK), 0);
    }
    ck_assert_int_eq(fcntl(sw[0], F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_eq(real_nonblock(sw[0]), 1);
    char c = 0;
    ticks = 0;
    ck_assert_int_eq(read(sw[0], &c, 1), 1); /* parks: the ticker runs */
    ck_assert_int_eq(c, 'x');
    ck_assert_int_gt(ticks, 0);
    sw_read = 1;
    /* Non-blocking again: its own flag, EAGAIN once more. */
    if (by_ioctl) {
        int on = 1;
        ck_assert_int_eq(ioctl(sw[0], FIONBIO, &on), 0);
    } else {
        ck_assert_int_eq(fcntl(sw[0], F_SETFL, fcntl(sw[0], F_GETFL) | O_NONBLOCK), 0);
    }
    ck_assert_int_ne(fcntl(sw[0], F_GETFL) & O_NONBLOCK, 0);
    expect_eagain(sw[0]);
    stop_ticking = 1;
}

static void switch_back_writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        usleep(5000);
    ck_assert_int_eq(write(sw[1], "x", 1), 1);
}

static void switch_back(int by_ioctl)
{
    sw_read = 0;
    stop_ticking = 0;
    void (*fns[])(void *) = { switch_back_reader, ticker, switch_back_writer };
    void *args[] = { (void *)(intptr_t)by_ioctl, NULL, NULL };
    run(fns, args, 3);
    ck_assert_int_eq(sw_read, 1);
    close(sw[0]);
    close(sw[1]);
}

START_TEST(test_switch_back_fcntl)
{
    switch_back(0);
}
END_TEST

START_TEST(test_switch_back_ioctl)
{
    switch_back(1);
}
END_TEST

/* A terminal (switched to O_NONBLOCK for each attempt): the application's
 * own flag, seen by that attempt, says EAGAIN; without it a read parks. */
static int pty_m = -1, pty_s = -1;

static void pty_reader(void *arg)
{
    (void)arg;
    ck_assert_int_eq(fcntl(pty_m, F_SETFL, fcntl(pty_m, F_GETFL) | O_NONBLOCK), 0);
    expect_eagain(pty_m);
    ck_assert_int_eq(fcntl(pty_m, F_SETFL, fcntl(pty_m, F_GETFL) & ~O_NONBLOCK), 0);
    /* A terminal is not taken over: the flag is really off. */
    ck_assert_int_eq(real_nonblock(pty_m), 0);
    char c = 0;
    ticks = 0;
    ck_assert_int_eq(read(pty_m, &c, 1), 1);
    ck_assert_int_eq(c, 'y');
    ck_assert_int_gt(ticks, 0);
    sw_read = 1;
    stop_ticking = 1;
}

static void pty_writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        usleep(5000);
    ck_assert_int_eq(write(pty_s, "y\n", 2), 2);
}

START_TEST(test_terminal_flag)
{
    pty_m = posix_openpt(O_RDWR | O_NOCTTY);
    if (pty_m < 0 || grantpt(pty_m) != 0 || unlockpt(pty_m) != 0 ||
        (pty_s = open(ptsname(pty_m), O_RDWR | O_NOCTTY)) < 0) {
        if (pty_m >= 0)
            close(pty_m);
        return; /* no pseudo-terminals here */
    }
    sw_read = 0;
    stop_ticking = 0;
    void (*fns[])(void *) = { pty_reader, ticker, pty_writer };
    run(fns, NULL, 3);
    ck_assert_int_eq(sw_read, 1);
    close(pty_s);
    close(pty_m);
}
END_TEST

/* The number of such a socket closed behind the library's back (the
 * system call itself) and taken by a descriptor made non-blocking:
 * EAGAIN, not a wait. */
static void reused_behind(void *arg)
{
    int how = (int)(intptr_t)arg;
    int s[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    ck_assert_int_eq(fcntl(s[0], F_SETFL, fcntl(s[0], F_GETFL) & ~O_NONBLOCK), 0);
    ck_assert_int_eq(real_nonblock(s[0]), 1);
    int n = s[0];
    ck_assert_int_eq(syscall(SYS_close, n), 0);
    int p[2];
    if (how == 0) {
        ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
    } else {
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p), 0);
    }
    ck_assert_int_eq(p[0], n);
    expect_eagain(n);
    close(p[0]);
    close(p[1]);
    close(s[1]);
}

START_TEST(test_reused_behind)
{
    void (*fns[])(void *) = { reused_behind, reused_behind };
    void *args[] = { (void *)(intptr_t)0, (void *)(intptr_t)1 };
    run(fns, args, 2);
}
END_TEST

/* ------------------------------------------------------- SO_RCVTIMEO */

static double timeo_ms;
static int timeo_errno;

static void timed_reader(void *arg)
{
    (void)arg;
    struct timeval tv = { 0, 100000 };
    ck_assert_int_eq(setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    char c;
    double t0 = now_ms();
    errno = 0;
    ck_assert_int_eq(read(sp[0], &c, 1), -1);
    timeo_errno = errno;
    timeo_ms = now_ms() - t0;
    stop_ticking = 1;
}

START_TEST(test_rcvtimeo)
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    ticks = 0;
    stop_ticking = 0;
    void (*fns[])(void *) = { timed_reader, ticker };
    run(fns, NULL, 2);
    ck_assert_int_eq(timeo_errno, EAGAIN);
    ck_assert_double_ge(timeo_ms, 99.0);
    ck_assert_double_lt(timeo_ms, 100.0 + 200.0 * slack());
    ck_assert_int_gt(ticks, 10); /* the others ran meanwhile */
    close(sp[0]);
    close(sp[1]);
}
END_TEST

/* -------------------------------------------- close and dup2 under it */

static int parked_result, parked_errno;

static void parked_reader(void *arg)
{
    (void)arg;
    char c;
    errno = 0;
    parked_result = (int)read(sp[0], &c, 1);
    parked_errno = errno;
}

static void closer(void *arg)
{
    (void)arg;
    usleep(20000);
    ck_assert_int_eq(close(sp[0]), 0);
}

START_TEST(test_close_under_parked)
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    void (*fns[])(void *) = { parked_reader, closer };
    run(fns, NULL, 2);
    ck_assert_int_eq(parked_result, -1);
    ck_assert_int_eq(parked_errno, EBADF);
    close(sp[1]);
}
END_TEST

static int other[2];
static void duper(void *arg)
{
    (void)arg;
    usleep(20000);
    ck_assert_int_eq(dup2(other[0], sp[0]), sp[0]);
    /* The number now reads the other pipe. */
    ck_assert_int_eq(write(other[1], "z", 1), 1);
    char c = 0;
    ck_assert_int_eq(read(sp[0], &c, 1), 1);
    ck_assert_int_eq(c, 'z');
}

START_TEST(test_dup2_under_parked)
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    ck_assert_int_eq(pipe(other), 0);
    void (*fns[])(void *) = { parked_reader, duper };
    run(fns, NULL, 2);
    ck_assert_int_eq(parked_result, -1);
    ck_assert_int_eq(parked_errno, EBADF);
    close(sp[0]);
    close(sp[1]);
    close(other[0]);
    close(other[1]);
}
END_TEST

/* ------------------------------------------ outside coroutines: libc */

static void *late_writer(void *arg)
{
    int fd = (int)(intptr_t)arg;
    struct timespec ts = { 0, 100000000L };
    nanosleep(&ts, NULL);
    ck_assert_int_eq(write(fd, "late", 4), 4);
    return NULL;
}

START_TEST(test_outside_blocks_on_hook_nonblock)
{
    /* A socket connected in a coroutine is non-blocking underneath... */
    lfd = listen_any();
    void (*fns[])(void *) = { connect_only };
    run(fns, NULL, 1);
    int srv = accept(lfd, NULL, NULL);
    ck_assert_int_ge(srv, 0);
    /* ... and a read on it outside any coroutine, with no scheduler left,
     * blocks until the data comes, as it would without the library. */
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, late_writer, (void *)(intptr_t)srv), 0);
    char buf[8];
    double t0 = now_ms();
    errno = 0;
    ck_assert_int_eq(read(conn_fd, buf, sizeof buf), 4);
    ck_assert_double_ge(now_ms() - t0, 50.0);
    pthread_join(t, NULL);
    close(srv);
    close(conn_fd);
    close(lfd);
}
END_TEST

START_TEST(test_outside_is_libc)
{
    int p[2];
    ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
    char c;
    errno = 0;
    ck_assert_int_eq(read(p[0], &c, 1), -1);
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_int_ne(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
    errno = 1234;
    ck_assert_int_eq(write(p[1], "a", 1), 1);
    ck_assert_int_eq(errno, 1234);
    struct pollfd pf = { p[0], POLLIN, 0 };
    ck_assert_int_eq(poll(&pf, 1, 1000), 1);
    double t0 = now_ms();
    ck_assert_int_eq(usleep(20000), 0);
    ck_assert_double_ge(now_ms() - t0, 19.0);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* ---------------------------------------------------------------- errno */

static void errno_kept(void *arg)
{
    (void)arg;
    char c;
    errno = 4321;
    /* Parks (the data comes later), succeeds: errno as it was. */
    ck_assert_int_eq(read(sp[0], &c, 1), 1);
    ck_assert_int_eq(errno, 4321);
    /* A failure sets what libc would. */
    ck_assert_int_eq(read(-1, &c, 1), -1);
    ck_assert_int_eq(errno, EBADF);
    errno = 4321;
    ck_assert_int_eq(write(sp[0], "y", 1), 1);
    ck_assert_int_eq(errno, 4321);
}

static void errno_feeder(void *arg)
{
    (void)arg;
    usleep(10000);
    ck_assert_int_eq(write(sp[1], "x", 1), 1);
}

START_TEST(test_errno)
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    void (*fns[])(void *) = { errno_kept, errno_feeder };
    run(fns, NULL, 2);
    close(sp[0]);
    close(sp[1]);
}
END_TEST

/* ------------------------------------------------------------------ fork */

START_TEST(test_fork)
{
    /* A socket the library made non-blocking in a coroutine; the child
     * of fork() runs no scheduler and blocks in read as libc would. */
    lfd = listen_any();
    void (*fns[])(void *) = { connect_only };
    run(fns, NULL, 1);
    int srv = accept(lfd, NULL, NULL);
    ck_assert_int_ge(srv, 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char buf[8];
        ssize_t r = read(conn_fd, buf, sizeof buf);
        ssize_t w = write(conn_fd, "back", 4);
        _exit(r == 4 && memcmp(buf, "ping", 4) == 0 && w == 4 ? 0 : 1);
    }
    usleep(50000);
    ck_assert_int_eq(write(srv, "ping", 4), 4);
    char buf[8];
    ck_assert_int_eq(read(srv, buf, sizeof buf), 4);
    ck_assert_int_eq(memcmp(buf, "back", 4), 0);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(srv);
    close(conn_fd);
    close(lfd);
}
END_TEST

/* ------------------------------------------------------------- signals */

static volatile sig_atomic_t handled;
static void on_usr1(int sig)
{
    (void)sig;
    handled++;
}

static pthread_t sched_thread;
static void *kick_later(void *arg)
{
    (void)arg;
    struct timespec ts = { 0, 60000000L };
    nanosleep(&ts, NULL);
    pthread_kill(sched_thread, SIGUSR1);
    return NULL;
}

static int intr_result, intr_errno;
static double intr_ms;
static long intr_rem_ms;

static void intr_poll(void *arg)
{
    (void)arg;
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    struct pollfd pf = { p[0], POLLIN, 0 };
    double t0 = now_ms();
    errno = 0;
    intr_result = poll(&pf, 1, 5000);
    intr_errno = errno;
    intr_ms = now_ms() - t0;
    close(p[0]);
    close(p[1]);
}

static void intr_nanosleep(void *arg)
{
    (void)arg;
    struct timespec ts = { 5, 0 }, rem = { 0, 0 };
    double t0 = now_ms();
    errno = 0;
    intr_result = nanosleep(&ts, &rem);
    intr_errno = errno;
    intr_ms = now_ms() - t0;
    intr_rem_ms = (long)rem.tv_sec * 1000 + rem.tv_nsec / 1000000;
}

static void intr_read(void *arg)
{
    (void)arg;
    char c;
    double t0 = now_ms();
    errno = 0;
    intr_result = (int)read(sp[0], &c, 1);
    intr_errno = errno;
    intr_ms = now_ms() - t0;
}

static void restart_feeder(void *arg)
{
    (void)arg;
    /* Not usleep(): the handler ends every sleep of the thread with EINTR. */
    coco_sleep(200);
    ck_assert_int_eq(write(sp[1], "r", 1), 1);
}

static void run_kicked(void (*fn)(void *), int flags, void (*other_fn)(void *))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    /* The application sees its own handler. */
    struct sigaction now;
    ck_assert_int_eq(sigaction(SIGUSR1, NULL, &now), 0);
    ck_assert_ptr_eq((void *)now.sa_handler, (void *)on_usr1);
    handled = 0;
    sched_thread = pthread_self();
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, kick_later, NULL), 0);
    void (*fns[2])(void *) = { fn, other_fn };
    run(fns, NULL, other_fn != NULL ? 2 : 1);
    pthread_join(t, NULL);
    ck_assert_int_eq(handled, 1);
}

START_TEST(test_eintr_poll)
{
    run_kicked(intr_poll, SA_RESTART, NULL);
    ck_assert_int_eq(intr_result, -1);
    ck_assert_int_eq(intr_errno, EINTR);
    ck_assert_double_lt(intr_ms, 60.0 + 500.0 * slack());
}
END_TEST

START_TEST(test_eintr_nanosleep)
{
    run_kicked(intr_nanosleep, 0, NULL);
    ck_assert_int_eq(intr_result, -1);
    ck_assert_int_eq(intr_errno, EINTR);
    ck_assert_double_lt(intr_ms, 60.0 + 500.0 * slack());
    ck_assert_int_gt(intr_rem_ms, 3000);
}
END_TEST

START_TEST(test_eintr_read)
{
    /* Without SA_RESTART a read ends with EINTR... */
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    run_kicked(intr_read, 0, NULL);
    ck_assert_int_eq(intr_result, -1);
    ck_assert_int_eq(intr_errno, EINTR);
    close(sp[0]);
    close(sp[1]);
    /* ... with it, the read goes on and gets the data. */
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    run_kicked(intr_read, SA_RESTART, restart_feeder);
    ck_assert_int_eq(intr_result, 1);
    ck_assert_double_ge(intr_ms, 150.0);
    close(sp[0]);
    close(sp[1]);
    signal(SIGUSR1, SIG_DFL);
}
END_TEST

/* ------------------------------------------------------------------ DNS */

static int gai_rc;
static int ticks_at_answer;

static void resolver(void *arg)
{
    (void)arg;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    gai_rc = getaddrinfo("localhost", "80", &hints, &res);
    ticks_at_answer = ticks;
    if (gai_rc == 0) {
        ck_assert_ptr_nonnull(res);
        ck_assert_int_eq(res->ai_family, AF_INET);
        freeaddrinfo(res);
    }
    struct hostent *he = gethostbyname("localhost");
    ck_assert_ptr_nonnull(he);
    ck_assert_int_eq(he->h_addrtype, AF_INET);
    char host[64];
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(getnameinfo((struct sockaddr *)&sin, sizeof sin, host, sizeof host,
                                 NULL, 0, NI_NUMERICHOST), 0);
    ck_assert_str_eq(host, "127.0.0.1");
    stop_ticking = 1;
}

/* Keeps the pool's only helper thread busy for 100 ms, so that the lookup
 * queued behind it cannot finish before its coroutine parks. */
static void *busy_100ms(void *arg)
{
    (void)arg;
    struct timespec ts = { 0, 100000000L };
    nanosleep(&ts, NULL);
    return NULL;
}

static void pool_hog(void *arg)
{
    (void)arg;
    ck_assert_int_eq(coco_blocking_call(busy_100ms, NULL, NULL, COCO_INFINITE), COCO_OK);
}

START_TEST(test_getaddrinfo)
{
    ticks = 0;
    stop_ticking = 0;
    ck_assert_int_eq(coco_blocking_set_max_threads(1), COCO_OK);
    void (*fns[])(void *) = { pool_hog, resolver, ticker };
    run(fns, NULL, 3);
    ck_assert_int_eq(coco_blocking_set_max_threads(4), COCO_OK);
    ck_assert_int_eq(gai_rc, 0);
    /* The ticker ran while the lookup was under way on a helper thread:
     * a lookup on the scheduler's thread would have finished first. */
    ck_assert_int_gt(ticks_at_answer, 0);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("hook");
    TCase *tc = tcase_create("io");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_pipe_many_readers);
    tcase_add_test(tc, test_socketpair_pingpong);
    tcase_add_test(tc, test_tcp_loopback);
    tcase_add_test(tc, test_two_acceptors);
    tcase_add_test(tc, test_user_nonblock);
    tcase_add_test(tc, test_flag_handover);
    tcase_add_test(tc, test_nonblock_paths);
    tcase_add_test(tc, test_switch_back_fcntl);
    tcase_add_test(tc, test_switch_back_ioctl);
    tcase_add_test(tc, test_reused_behind);
    tcase_add_test(tc, test_terminal_flag);
    tcase_add_test(tc, test_rcvtimeo);
    tcase_add_test(tc, test_close_under_parked);
    tcase_add_test(tc, test_dup2_under_parked);
    tcase_add_test(tc, test_errno);
    suite_add_tcase(su, tc);

    tc = tcase_create("wait");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sleeps_side_by_side);
    tcase_add_test(tc, test_worker_group_sleeps);
    tcase_add_test(tc, test_sleep_seconds);
    tcase_add_test(tc, test_poll_several);
    tcase_add_test(tc, test_select_several);
    suite_add_tcase(su, tc);

    tc = tcase_create("process");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_outside_is_libc);
    tcase_add_test(tc, test_outside_blocks_on_hook_nonblock);
    tcase_add_test(tc, test_fork);
    tcase_add_test(tc, test_eintr_poll);
    tcase_add_test(tc, test_eintr_nanosleep);
    tcase_add_test(tc, test_eintr_read);
    /* Not under valgrind (make check-valgrind sets the variable): glibc's
     * resolver keeps per-thread state in the pool's helper thread, which
     * is still alive at exit, and memcheck counts it definitely lost. */
    if (getenv("COCO_TEST_UNDER_VALGRIND") == NULL)
        tcase_add_test(tc, test_getaddrinfo);
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
