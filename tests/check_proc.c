/*
 * check_proc.c - coco_waitpid() and coco_signal_wait() through the public
 * header: real children (fork and exec of /bin/true, /bin/false, /bin/sh),
 * exit codes and deaths by signal, several children waited for at once,
 * timeouts, children already reaped and processes that are not children,
 * bad arguments, calls outside a coroutine, coroutines destroyed while they
 * wait (their descriptors must be closed), schedulers on several threads,
 * and signals sent by other processes and by the process itself.
 *
 * Each case runs in a process of its own (Check forks), which blocks
 * SIGUSR1 and SIGUSR2 first.  The cases named *_polling set COCO__NO_PIDFD=1,
 * which makes the library take its polling paths (no pidfd, no signalfd),
 * as on systems without them.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE 1
#endif
#include "coco.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Starts argv[0] with argv as a child whose signal mask is empty. */
static pid_t spawn(char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(argv[0], argv);
        _exit(127);
    }
    ck_assert_int_gt(pid, 0);
    return pid;
}

static pid_t spawn_sh(const char *script)
{
    char *argv[] = { (char *)"/bin/sh", (char *)"-c", (char *)script, NULL };
    return spawn(argv);
}

static void block_usr(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
}

static void polling(void)
{
    ck_assert_int_eq(setenv("COCO__NO_PIDFD", "1", 1), 0);
}

/* Open descriptors of the process. */
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own */
}

/* Makes the scheduler's poller (made on its first wait on a descriptor),
 * so that counts of descriptors taken after it do not see it come. */
static void make_poller(void *arg)
{
    (void)arg;
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    errno = 0;
    ck_assert_int_eq(coco_wait_fd(p[0], COCO_READABLE, 1), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    close(p[0]);
    close(p[1]);
}

static void warm_up(coco_sched_t *s)
{
    coco_create(s, make_poller, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
}

/* Lists the open descriptors on stderr, for a count that differs. */
static void show_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        char path[300], target[256];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        fprintf(stderr, "# fd %s -> %s\n", e->d_name, target);
    }
    if (d != NULL)
        closedir(d);
}

static void fds_are(int want)
{
    int n = count_fds();
    if (n != want)
        show_fds();
    ck_assert_int_eq(n, want);
}

/* ---------------------------------------------------- exit codes, deaths */

struct wait_job {
    pid_t pid;
    uint64_t timeout;
    int rc, err, status;
    bool done;
};

static void waiter(void *arg)
{
    struct wait_job *j = arg;
    j->status = -1;
    errno = 0;
    j->rc = coco_waitpid(j->pid, &j->status, j->timeout);
    j->err = errno;
    j->done = true;
}

static void exit_codes(void)
{
    block_usr();
    char *t[] = { (char *)"/bin/true", NULL };
    char *f[] = { (char *)"/bin/false", NULL };
    struct wait_job j[4] = {
        { .pid = spawn(t), .timeout = 10000 },
        { .pid = spawn(f), .timeout = 10000 },
        { .pid = spawn_sh("sleep 0.2; exit 7"), .timeout = 10000 },
        { .pid = spawn_sh("kill -TERM $$"), .timeout = COCO_INFINITE },
    };
    coco_sched_t *s = coco_sched_create();
    for (int i = 0; i < 4; i++)
        ck_assert_ptr_nonnull(coco_create(s, waiter, &j[i], 0));
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    for (int i = 0; i < 4; i++) {
        ck_assert(j[i].done);
        ck_assert_int_eq(j[i].rc, j[i].pid);
    }
    ck_assert(WIFEXITED(j[0].status));
    ck_assert_int_eq(WEXITSTATUS(j[0].status), 0);
    ck_assert(WIFEXITED(j[1].status));
    ck_assert_int_eq(WEXITSTATUS(j[1].status), 1);
    ck_assert(WIFEXITED(j[2].status));
    ck_assert_int_eq(WEXITSTATUS(j[2].status), 7);
    ck_assert(WIFSIGNALED(j[3].status));
    ck_assert_int_eq(WTERMSIG(j[3].status), SIGTERM);
    /* Reaped: nobody can wait for them again. */
    for (int i = 0; i < 4; i++) {
        errno = 0;
        ck_assert_int_eq(waitpid(j[i].pid, NULL, WNOHANG), -1);
        ck_assert_int_eq(errno, ECHILD);
    }
}

START_TEST(test_exit_codes) { exit_codes(); }
END_TEST
START_TEST(test_exit_codes_polling) { polling(); exit_codes(); }
END_TEST

/* -------------------------------------------------------------- timeout */

static void timeout_then_kill(void)
{
    char *sl[] = { (char *)"/bin/sleep", (char *)"5", NULL };
    struct wait_job j = { .pid = spawn(sl), .timeout = 150 };
    coco_sched_t *s = coco_sched_create();
    uint64_t t0 = now_ms();
    coco_create(s, waiter, &j, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    uint64_t took = now_ms() - t0;
    ck_assert_int_eq(j.rc, -1);
    ck_assert_int_eq(j.err, ETIMEDOUT);
    ck_assert_uint_ge(took, 150);
    ck_assert_uint_lt(took, 3000);
    ck_assert_int_eq(j.status, -1); /* untouched */
    /* Still a child, still running: kill it and reap it with the call. */
    ck_assert_int_eq(kill(j.pid, SIGKILL), 0);
    j.timeout = COCO_INFINITE;
    j.done = false;
    coco_create(s, waiter, &j, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert(j.done);
    ck_assert_int_eq(j.rc, j.pid);
    ck_assert(WIFSIGNALED(j.status));
    ck_assert_int_eq(WTERMSIG(j.status), SIGKILL);
    /* A zero timeout only checks. */
    j.pid = spawn(sl);
    j.timeout = 0;
    coco_create(s, waiter, &j, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(j.rc, -1);
    ck_assert_int_eq(j.err, ETIMEDOUT);
    kill(j.pid, SIGKILL);
    ck_assert_int_eq(waitpid(j.pid, NULL, 0), j.pid);
    coco_sched_destroy(s);
}

START_TEST(test_timeout) { timeout_then_kill(); }
END_TEST
START_TEST(test_timeout_polling) { polling(); timeout_then_kill(); }
END_TEST

/* --------------------------------------------------- ECHILD and EINVAL */

static void bad_pids(void *arg)
{
    int *ok = arg;
    int st = 12345;
    char *t[] = { (char *)"/bin/true", NULL };
    pid_t pid = spawn(t);
    ck_assert_int_eq(coco_waitpid(pid, &st, 5000), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* Reaped already. */
    st = 12345;
    errno = 0;
    ck_assert_int_eq(coco_waitpid(pid, &st, 5000), -1);
    ck_assert_int_eq(errno, ECHILD);
    ck_assert_int_eq(st, 12345);
    /* Alive, but not a child: our parent, init. */
    errno = 0;
    ck_assert_int_eq(coco_waitpid(getppid(), NULL, 5000), -1);
    ck_assert_int_eq(errno, ECHILD);
    errno = 0;
    ck_assert_int_eq(coco_waitpid(1, NULL, COCO_INFINITE), -1);
    ck_assert_int_eq(errno, ECHILD);
    /* Ourselves. */
    errno = 0;
    ck_assert_int_eq(coco_waitpid(getpid(), NULL, 100), -1);
    ck_assert_int_eq(errno, ECHILD);
    /* Process groups and "any child" are refused. */
    pid_t bad[] = { 0, -1, -2, -getpid() };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        ck_assert_int_eq(coco_waitpid(bad[i], &st, 100), -1);
        ck_assert_int_eq(errno, EINVAL);
    }
    /* A NULL status is fine. */
    pid = spawn(t);
    ck_assert_int_eq(coco_waitpid(pid, NULL, 5000), pid);
    *ok = 1;
}

START_TEST(test_echild_einval)
{
    int ok = 0;
    coco_sched_t *s = coco_sched_create();
    coco_create(s, bad_pids, &ok, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    ck_assert_int_eq(ok, 1);
}
END_TEST

START_TEST(test_echild_einval_polling)
{
    polling();
    int ok = 0;
    coco_sched_t *s = coco_sched_create();
    coco_create(s, bad_pids, &ok, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    ck_assert_int_eq(ok, 1);
}
END_TEST

/* Two coroutines wait for the same child: one gets the status, the
 * other ECHILD. */
START_TEST(test_same_child_twice)
{
    struct wait_job j[2];
    memset(j, 0, sizeof j);
    j[0].pid = j[1].pid = spawn_sh("sleep 0.1; exit 3");
    j[0].timeout = j[1].timeout = 5000;
    coco_sched_t *s = coco_sched_create();
    coco_create(s, waiter, &j[0], 0);
    coco_create(s, waiter, &j[1], 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    int got = j[0].rc == j[0].pid ? 0 : 1;
    ck_assert_int_eq(j[got].rc, j[got].pid);
    ck_assert(WIFEXITED(j[got].status) && WEXITSTATUS(j[got].status) == 3);
    ck_assert_int_eq(j[1 - got].rc, -1);
    ck_assert_int_eq(j[1 - got].err, ECHILD);
}
END_TEST

/* ------------------------------------------------- outside a coroutine */

START_TEST(test_outside_coroutine)
{
    block_usr();
    pid_t pid = spawn_sh("sleep 0.2");
    int st = -1;
    errno = 0;
    ck_assert_int_eq(coco_waitpid(pid, &st, COCO_INFINITE), -1);
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_int_eq(st, -1);
    /* Once it has ended, the same call reaps it. */
    int rc;
    uint64_t t0 = now_ms();
    while ((rc = coco_waitpid(pid, &st, COCO_INFINITE)) < 0 && errno == EAGAIN &&
           now_ms() - t0 < 5000)
        usleep(10000);
    ck_assert_int_eq(rc, pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    errno = 0;
    ck_assert_int_eq(coco_signal_wait(&set, COCO_INFINITE), -1);
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_int_eq(raise(SIGUSR1), 0);
    ck_assert_int_eq(coco_signal_wait(&set, COCO_INFINITE), SIGUSR1);
    errno = 0;
    ck_assert_int_eq(coco_signal_wait(&set, 0), -1);
    ck_assert_int_eq(errno, EAGAIN);
}
END_TEST

/* ------------------------------------------- the scheduler keeps going */

struct ticker {
    bool *stop;
    int ticks;
};

static void tick(void *arg)
{
    struct ticker *t = arg;
    while (!*t->stop) {
        coco_sleep(5);
        t->ticks++;
    }
}

struct until {
    struct wait_job job;
    bool stop;
    int ticks_at_start;
    struct ticker *ticker;
};

static void wait_then_stop(void *arg)
{
    struct until *u = arg;
    u->ticks_at_start = u->ticker->ticks;
    waiter(&u->job);
    u->stop = true;
}

static void others_run(void)
{
    struct until u;
    memset(&u, 0, sizeof u);
    struct ticker t = { &u.stop, 0 };
    u.ticker = &t;
    u.job.pid = spawn_sh("sleep 0.4; exit 5");
    u.job.timeout = 10000;
    coco_sched_t *s = coco_sched_create();
    coco_create(s, wait_then_stop, &u, 0);
    coco_create(s, tick, &t, 0);
    uint64_t t0 = now_ms();
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    uint64_t took = now_ms() - t0;
    coco_sched_destroy(s);
    ck_assert_int_eq(u.job.rc, u.job.pid);
    ck_assert(WIFEXITED(u.job.status) && WEXITSTATUS(u.job.status) == 5);
    ck_assert_int_eq(u.ticks_at_start, 0);
    /* Some 400 ms of 5 ms sleeps (the child may have started its sleep
     * before the run): dozens of ticks, 0 if the wait had blocked the
     * thread. */
    ck_assert_uint_ge(took, 200);
    ck_assert_int_ge(t.ticks, 5);
}

START_TEST(test_others_run) { others_run(); }
END_TEST
START_TEST(test_others_run_polling) { polling(); others_run(); }
END_TEST

/* ------------------------------------------- destroyed while it waits */

static void sig_waiter(void *arg);

struct sig_job {
    sigset_t set;
    uint64_t timeout;
    int rc, err;
    bool done;
};

static void destroyed_waiters(bool whole_sched)
{
    block_usr();
    coco_sched_t *s = coco_sched_create();
    warm_up(s);
    int before = count_fds();

    char *sl[] = { (char *)"/bin/sleep", (char *)"5", NULL };
    struct wait_job j = { .pid = spawn(sl), .timeout = COCO_INFINITE };
    struct sig_job sj = { .timeout = COCO_INFINITE };
    sigemptyset(&sj.set);
    sigaddset(&sj.set, SIGUSR2);
    coco_coro_t *a = coco_create(s, waiter, &j, 0);
    coco_coro_t *b = coco_create(s, sig_waiter, &sj, 0);
    /* One step each: they run and park (a step with nothing ready would
     * wait for them). */
    ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);
    ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);
    ck_assert_int_eq(coco_get_state(a), COCO_STATE_WAITING);
    ck_assert_int_eq(coco_get_state(b), COCO_STATE_WAITING);
    ck_assert(!j.done && !sj.done);
    /* A pidfd and a signalfd; valgrind knows neither system call, and
     * there both waits poll instead. */
    if (getenv("COCO_TEST_UNDER_VALGRIND") != NULL) {
        int opened = count_fds() - before;
        ck_assert(opened == 0 || opened == 2);
    } else {
        fds_are(before + 2);
    }
    if (whole_sched) {
        coco_sched_destroy(s);
        s = NULL;
    } else {
        coco_destroy(a);
        coco_destroy(b);
    }
    fds_are(before - (whole_sched ? 1 : 0)); /* and the epoll */
    /* The child was not reaped by the destroyed waiter. */
    ck_assert_int_eq(waitpid(j.pid, NULL, WNOHANG), 0);
    kill(j.pid, SIGKILL);
    if (s != NULL) {
        /* The scheduler goes on: the same child, waited again. */
        j.done = false;
        coco_create(s, waiter, &j, 0);
        ck_assert_int_eq(coco_sched_run(s), COCO_OK);
        ck_assert(j.done);
        ck_assert_int_eq(j.rc, j.pid);
        ck_assert(WIFSIGNALED(j.status) && WTERMSIG(j.status) == SIGKILL);
        coco_sched_destroy(s);
    } else {
        ck_assert_int_eq(waitpid(j.pid, NULL, 0), j.pid);
    }
}

START_TEST(test_destroy_waiting) { destroyed_waiters(false); }
END_TEST
START_TEST(test_sched_destroy_waiting) { destroyed_waiters(true); }
END_TEST

/* Polling waiters hold no descriptor; destroying them is a plain sleep's. */
START_TEST(test_destroy_waiting_polling)
{
    polling();
    block_usr();
    coco_sched_t *s = coco_sched_create();
    char *sl[] = { (char *)"/bin/sleep", (char *)"5", NULL };
    struct wait_job j = { .pid = spawn(sl), .timeout = COCO_INFINITE };
    struct sig_job sj = { .timeout = COCO_INFINITE };
    sigemptyset(&sj.set);
    sigaddset(&sj.set, SIGUSR2);
    int before = count_fds();
    coco_coro_t *a = coco_create(s, waiter, &j, 0);
    coco_coro_t *b = coco_create(s, sig_waiter, &sj, 0);
    /* One step each: they run and park (a step with nothing ready would
     * wait for them). */
    ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);
    ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);
    ck_assert_int_eq(coco_get_state(a), COCO_STATE_WAITING);
    ck_assert_int_eq(coco_get_state(b), COCO_STATE_WAITING);
    coco_destroy(a);
    coco_destroy(b);
    ck_assert_int_le(count_fds(), before + 1); /* at most an epoll */
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    ck_assert_int_eq(waitpid(j.pid, NULL, WNOHANG), 0);
    kill(j.pid, SIGKILL);
    ck_assert_int_eq(waitpid(j.pid, NULL, 0), j.pid);
}
END_TEST

/* ------------------------------------------------------------- signals */

static void sig_waiter(void *arg)
{
    struct sig_job *j = arg;
    errno = 0;
    j->rc = coco_signal_wait(&j->set, j->timeout);
    j->err = errno;
    j->done = true;
}

static void sig_from_other_process(void)
{
    block_usr();
    struct sig_job sj = { .timeout = 10000 };
    sigemptyset(&sj.set);
    sigaddset(&sj.set, SIGUSR1);
    char script[64];
    snprintf(script, sizeof script, "sleep 0.1; kill -USR1 %ld", (long)getpid());
    struct wait_job j = { .pid = spawn_sh(script), .timeout = 10000 };
    coco_sched_t *s = coco_sched_create();
    coco_create(s, sig_waiter, &sj, 0);
    coco_create(s, waiter, &j, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    ck_assert_int_eq(j.rc, j.pid);
    ck_assert(WIFEXITED(j.status) && WEXITSTATUS(j.status) == 0);
    ck_assert(sj.done);
    ck_assert_int_eq(sj.rc, SIGUSR1);
}

START_TEST(test_signal_other_process) { sig_from_other_process(); }
END_TEST
START_TEST(test_signal_other_process_polling) { polling(); sig_from_other_process(); }
END_TEST

struct sender {
    int order; /* 1: raise(SIGUSR2) first, 2: kill(SIGUSR1) first */
};

static void send_both(void *arg)
{
    struct sender *sd = arg;
    coco_sleep(20); /* the waiters are parked by now */
    if (sd->order == 1) {
        raise(SIGUSR2);
        coco_sleep(20);
        kill(getpid(), SIGUSR1);
    } else {
        kill(getpid(), SIGUSR1);
        coco_sleep(20);
        raise(SIGUSR2);
    }
}

static void sig_two_waiters(void)
{
    block_usr();
    struct sig_job a = { .timeout = 10000 }, b = { .timeout = 10000 };
    sigemptyset(&a.set);
    sigaddset(&a.set, SIGUSR1);
    sigemptyset(&b.set);
    sigaddset(&b.set, SIGUSR2);
    for (int order = 1; order <= 2; order++) {
        a.done = b.done = false;
        struct sender sd = { order };
        coco_sched_t *s = coco_sched_create();
        coco_create(s, sig_waiter, &a, 0);
        coco_create(s, sig_waiter, &b, 0);
        coco_create(s, send_both, &sd, 0);
        ck_assert_int_eq(coco_sched_run(s), COCO_OK);
        coco_sched_destroy(s);
        ck_assert(a.done && b.done);
        ck_assert_int_eq(a.rc, SIGUSR1);
        ck_assert_int_eq(b.rc, SIGUSR2);
    }
    /* Nothing left pending. */
    sigset_t pend;
    sigpending(&pend);
    ck_assert(!sigismember(&pend, SIGUSR1) && !sigismember(&pend, SIGUSR2));
}

START_TEST(test_signal_two_waiters) { sig_two_waiters(); }
END_TEST
START_TEST(test_signal_two_waiters_polling) { polling(); sig_two_waiters(); }
END_TEST

/* A signal already pending is taken at once; one set may hold several. */
START_TEST(test_signal_pending_and_sets)
{
    block_usr();
    raise(SIGUSR2);
    struct sig_job j = { .timeout = 0 };
    sigemptyset(&j.set);
    sigaddset(&j.set, SIGUSR1);
    sigaddset(&j.set, SIGUSR2);
    coco_sched_t *s = coco_sched_create();
    coco_create(s, sig_waiter, &j, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(j.rc, SIGUSR2);
    /* Now nothing is pending: a zero timeout only checks. */
    j.done = false;
    coco_create(s, sig_waiter, &j, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(j.rc, -1);
    ck_assert_int_eq(j.err, ETIMEDOUT);
    coco_sched_destroy(s);
}
END_TEST

static void sig_timeout(void)
{
    block_usr();
    struct sig_job j = { .timeout = 150 };
    sigemptyset(&j.set);
    sigaddset(&j.set, SIGUSR1);
    coco_sched_t *s = coco_sched_create();
    coco_create(s, sig_waiter, &j, 0);
    uint64_t t0 = now_ms();
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    uint64_t took = now_ms() - t0;
    coco_sched_destroy(s);
    ck_assert_int_eq(j.rc, -1);
    ck_assert_int_eq(j.err, ETIMEDOUT);
    ck_assert_uint_ge(took, 150);
    ck_assert_uint_lt(took, 3000);
}

START_TEST(test_signal_timeout) { sig_timeout(); }
END_TEST
START_TEST(test_signal_timeout_polling) { polling(); sig_timeout(); }
END_TEST

static void sig_bad_sets(void *arg)
{
    int *ok = arg;
    sigset_t set;
    errno = 0;
    ck_assert_int_eq(coco_signal_wait(NULL, 100), -1);
    ck_assert_int_eq(errno, EINVAL);
    sigemptyset(&set);
    errno = 0;
    ck_assert_int_eq(coco_signal_wait(&set, 100), -1);
    ck_assert_int_eq(errno, EINVAL);
    /* SIGHUP is not blocked here: its default action would take it. */
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGHUP);
    errno = 0;
    ck_assert_int_eq(coco_signal_wait(&set, 100), -1);
    ck_assert_int_eq(errno, EINVAL);
    sigemptyset(&set);
    sigaddset(&set, SIGKILL);
    errno = 0;
    ck_assert_int_eq(coco_signal_wait(&set, 100), -1);
    ck_assert_int_eq(errno, EINVAL);
    *ok = 1;
}

START_TEST(test_signal_einval)
{
    block_usr();
    int ok = 0;
    coco_sched_t *s = coco_sched_create();
    coco_create(s, sig_bad_sets, &ok, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    ck_assert_int_eq(ok, 1);
    sig_bad_sets(&ok); /* outside a coroutine: the same checks */
}
END_TEST

/* ------------------------------------------------------------- threads */

struct thread_job {
    struct wait_job w;
    struct sig_job sg;
};

static void *thread_main(void *arg)
{
    struct thread_job *tj = arg;
    coco_sched_t *s = coco_sched_create();
    coco_create(s, waiter, &tj->w, 0);
    coco_create(s, sig_waiter, &tj->sg, 0);
    int rc = coco_sched_run(s);
    coco_sched_destroy(s);
    return (void *)(intptr_t)rc;
}

/* Two schedulers on two threads each wait for a child of their own and
 * for SIGUSR1; the process is sent SIGUSR1 once: exactly one waiter takes
 * it, the other times out. */
START_TEST(test_threads)
{
    block_usr(); /* before the threads: they inherit the mask */
    struct thread_job tj[2];
    memset(tj, 0, sizeof tj);
    tj[0].w.pid = spawn_sh("sleep 0.1; exit 11");
    tj[1].w.pid = spawn_sh("sleep 0.2; exit 12");
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        tj[i].w.timeout = 10000;
        tj[i].sg.timeout = 1500;
        sigemptyset(&tj[i].sg.set);
        sigaddset(&tj[i].sg.set, SIGUSR1);
        ck_assert_int_eq(pthread_create(&th[i], NULL, thread_main, &tj[i]), 0);
    }
    usleep(300000);
    ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
    for (int i = 0; i < 2; i++) {
        void *rc;
        pthread_join(th[i], &rc);
        ck_assert_int_eq((int)(intptr_t)rc, COCO_OK);
        ck_assert_int_eq(tj[i].w.rc, tj[i].w.pid);
        ck_assert(WIFEXITED(tj[i].w.status));
        ck_assert_int_eq(WEXITSTATUS(tj[i].w.status), 11 + i);
    }
    int got = (tj[0].sg.rc == SIGUSR1) + (tj[1].sg.rc == SIGUSR1);
    int timed = (tj[0].sg.err == ETIMEDOUT) + (tj[1].sg.err == ETIMEDOUT);
    ck_assert_int_eq(got, 1);
    ck_assert_int_eq(timed, 1);
}
END_TEST

/* ------------------------------------------------------ as a user would */

#define MANY 16

struct many {
    struct wait_job j[MANY];
    coco_coro_t *co[MANY];
};

/* Destroys every fourth waiter while they all wait. */
static void reaper_killer(void *arg)
{
    struct many *m = arg;
    coco_sleep(30);
    for (int i = 0; i < MANY; i += 4)
        coco_destroy(m->co[i]);
}

static void many_children(void)
{
    block_usr();
    struct many m;
    memset(&m, 0, sizeof m);
    coco_sched_t *s = coco_sched_create();
    warm_up(s);
    int before = count_fds();
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < MANY; i++) {
            char script[64];
            /* The ones to be destroyed outlive the round, however slow
             * forking is (under sanitizers); the others end at once. */
            if (i % 4 == 0)
                snprintf(script, sizeof script, "sleep 5; exit %d", i + 20);
            else
                snprintf(script, sizeof script, "sleep 0.%d; exit %d", 2 + i % 3, i + 20);
            m.j[i].pid = spawn_sh(script);
            m.j[i].timeout = 10000;
            m.j[i].done = false;
            m.co[i] = coco_create(s, waiter, &m.j[i], 0);
            ck_assert_ptr_nonnull(m.co[i]);
        }
        coco_create(s, reaper_killer, &m, 0);
        ck_assert_int_eq(coco_sched_run(s), COCO_OK);
        for (int i = 0; i < MANY; i++) {
            if (i % 4 == 0) {
                /* Destroyed: never returned, the child left for us. */
                ck_assert(!m.j[i].done);
                int st;
                ck_assert_int_eq(waitpid(m.j[i].pid, &st, WNOHANG), 0);
                ck_assert_int_eq(kill(m.j[i].pid, SIGKILL), 0);
                ck_assert_int_eq(waitpid(m.j[i].pid, &st, 0), m.j[i].pid);
                ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
            } else {
                ck_assert(m.j[i].done);
                ck_assert_int_eq(m.j[i].rc, m.j[i].pid);
                ck_assert(WIFEXITED(m.j[i].status));
                ck_assert_int_eq(WEXITSTATUS(m.j[i].status), i + 20);
                coco_destroy(m.co[i]);
            }
        }
        fds_are(before);
    }
    coco_sched_destroy(s);
}

START_TEST(test_many_children) { many_children(); }
END_TEST
START_TEST(test_many_children_polling) { polling(); many_children(); }
END_TEST

int main(void)
{
    Suite *su = suite_create("proc");
    TCase *tc = tcase_create("proc");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_exit_codes);
    tcase_add_test(tc, test_exit_codes_polling);
    tcase_add_test(tc, test_timeout);
    tcase_add_test(tc, test_timeout_polling);
    tcase_add_test(tc, test_echild_einval);
    tcase_add_test(tc, test_echild_einval_polling);
    tcase_add_test(tc, test_same_child_twice);
    tcase_add_test(tc, test_outside_coroutine);
    tcase_add_test(tc, test_others_run);
    tcase_add_test(tc, test_others_run_polling);
    tcase_add_test(tc, test_destroy_waiting);
    tcase_add_test(tc, test_sched_destroy_waiting);
    tcase_add_test(tc, test_destroy_waiting_polling);
    tcase_add_test(tc, test_signal_other_process);
    tcase_add_test(tc, test_signal_other_process_polling);
    tcase_add_test(tc, test_signal_two_waiters);
    tcase_add_test(tc, test_signal_two_waiters_polling);
    tcase_add_test(tc, test_signal_pending_and_sets);
    tcase_add_test(tc, test_signal_timeout);
    tcase_add_test(tc, test_signal_timeout_polling);
    tcase_add_test(tc, test_signal_einval);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_many_children);
    tcase_add_test(tc, test_many_children_polling);
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
