/*
 * proc.c - waiting for child processes and for signals from a coroutine
 * (coco_waitpid, coco_signal_wait).  POSIX only.
 *
 * A child is waited for through a descriptor that becomes readable when
 * it ends: on Linux a pidfd (pidfd_open(2), 5.3 and later), parked on in
 * the scheduler's poller like any descriptor.  Where there is none (another
 * system, an older kernel, a seccomp filter that refuses the call), the
 * coroutine polls waitpid(WNOHANG) between sleeps that grow from 1 to 50 ms.
 * Either way the status is taken with waitpid(2), so the child is reaped
 * by the call that returns it and by nobody else.
 *
 * A signal is waited for through a signalfd(2) made for the wait, with
 * the set asked for; elsewhere the coroutine polls sigtimedwait(2) with a
 * zero timeout between the same sleeps.  Systems with neither refuse the
 * call (ENOSYS).
 *
 * The descriptors are made per call and closed before it returns; the io
 * layer closes them when the coroutine is destroyed while parked
 * (coco__io_wait_owned).
 *
 * COCO__NO_PIDFD=1 in the environment makes pidfd_open and signalfd look
 * missing, so that the polling paths run on Linux too; it exists for the
 * test suite.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE 1 /* syscall, NSIG */
#endif
#include "io/io.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#  include <sys/signalfd.h>
#  include <sys/syscall.h>
#endif

#ifndef NSIG
#  define NSIG 65
#endif

/* Polling: the first sleep, and the longest. */
#define POLL_FIRST_MS 1u
#define POLL_MAX_MS   50u

static bool forced_fallback(void)
{
    const char *v = getenv("COCO__NO_PIDFD");
    return v != NULL && v[0] == '1';
}

/* The next sleep of a polling loop, never past what is left. */
static uint64_t poll_step(unsigned *backoff, uint64_t left)
{
    uint64_t ms = *backoff;
    if (*backoff < POLL_MAX_MS)
        *backoff = *backoff * 2 > POLL_MAX_MS ? POLL_MAX_MS : *backoff * 2;
    return ms < left ? ms : left;
}

/* ------------------------------------------------------------ children */

/* A descriptor readable once pid has ended, or -1 with errno. */
static int pidfd_of(pid_t pid)
{
#if defined(__linux__) && defined(SYS_pidfd_open)
    if (forced_fallback()) {
        errno = ENOSYS;
        return -1;
    }
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

int coco_waitpid(pid_t pid, int *status, uint64_t timeout_ms)
{
    if (pid <= 0) {
        errno = EINVAL;
        return -1;
    }
    coco_sched_t *s = coco__io_sched();
    coco_deadline_t d = coco__deadline(timeout_ms);
    unsigned backoff = POLL_FIRST_MS;
    bool use_pidfd = true;
    for (;;) {
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1; /* ECHILD: not a child, or reaped already */
        if (r == pid) {
            if (status != NULL)
                *status = st;
            return (int)pid;
        }
        /* Still running. */
        if (s == NULL) {
            errno = EAGAIN;
            return -1;
        }
        uint64_t left = coco__remaining(s, &d);
        if (left == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (use_pidfd) {
            int pfd = pidfd_of(pid);
            if (pfd < 0) {
                /* No pidfd here (or ESRCH: reaped meanwhile, which
                 * waitpid says next): poll. */
                use_pidfd = false;
                continue;
            }
            s->io_streak = 0;
            int rc = coco__io_wait_owned(s, pfd, left);
            int e = errno;
            coco__io_owned_close(s, pfd);
            if (rc < 0 && e != ETIMEDOUT) {
                errno = e;
                return -1;
            }
            /* Readable: it ended.  Should waitpid not see it yet, the
             * descriptor would stay readable for ever: poll instead. */
            if (rc > 0)
                use_pidfd = false;
            continue;
        }
        if (coco_sleep(poll_step(&backoff, left)) != COCO_OK) {
            errno = ENOMEM;
            return -1;
        }
    }
}

/* ------------------------------------------------------------- signals */

/* set is a set coco_signal_wait() can wait for: not empty, no SIGKILL or
 * SIGSTOP, and every signal of it blocked in the calling thread (else it
 * would be handled or kill the process before any wait could take it). */
static bool set_ok(const sigset_t *set)
{
    sigset_t blocked;
    if (set == NULL || pthread_sigmask(SIG_BLOCK, NULL, &blocked) != 0)
        return false;
    bool any = false;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sigismember(set, sig) != 1)
            continue;
        if (sig == SIGKILL || sig == SIGSTOP || sigismember(&blocked, sig) != 1)
            return false;
        any = true;
    }
    return any;
}

/* Takes a pending signal of set without waiting: its number, or 0. */
static int take_pending(const sigset_t *set)
{
#if defined(_POSIX_REALTIME_SIGNALS) && _POSIX_REALTIME_SIGNALS > 0
    static const struct timespec zero = { 0, 0 };
    for (;;) {
        int sig = sigtimedwait(set, NULL, &zero);
        if (sig > 0)
            return sig;
        if (errno != EINTR)
            return 0;
    }
#else
    (void)set;
    return 0;
#endif
}

#ifdef __linux__
/* Parks on a signalfd for set: the signal's number, 0 when another waiter
 * took it first, or -1 with errno (ETIMEDOUT; ENOSYS when no signalfd
 * could be made). */
static int signalfd_wait(coco_sched_t *s, const sigset_t *set, uint64_t left)
{
    if (forced_fallback()) {
        errno = ENOSYS;
        return -1;
    }
    int fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        errno = ENOSYS; /* refused, whatever the reason: poll instead */
        return -1;
    }
    s->io_streak = 0;
    int rc = coco__io_wait_owned(s, fd, left);
    int e = errno;
    int sig = 0;
    if (rc > 0) {
        struct signalfd_siginfo si;
        if (read(fd, &si, sizeof si) == (ssize_t)sizeof si)
            sig = (int)si.ssi_signo;
    }
    coco__io_owned_close(s, fd);
    if (rc < 0) {
        errno = e;
        return -1;
    }
    return sig;
}
#endif

int coco_signal_wait(const sigset_t *set, uint64_t timeout_ms)
{
    if (!set_ok(set)) {
        errno = EINVAL;
        return -1;
    }
#if !defined(__linux__) && \
    !(defined(_POSIX_REALTIME_SIGNALS) && _POSIX_REALTIME_SIGNALS > 0)
    (void)timeout_ms;
    errno = ENOSYS;
    return -1;
#else
    coco_sched_t *s = coco__io_sched();
    coco_deadline_t d = coco__deadline(timeout_ms);
    unsigned backoff = POLL_FIRST_MS;
    bool use_fd = true;
    for (;;) {
        int sig = take_pending(set);
        if (sig > 0)
            return sig;
        if (s == NULL) {
            errno = EAGAIN;
            return -1;
        }
        uint64_t left = coco__remaining(s, &d);
        if (left == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
#ifdef __linux__
        if (use_fd) {
            sig = signalfd_wait(s, set, left);
            if (sig > 0)
                return sig;
            if (sig == 0 || errno == ETIMEDOUT)
                continue; /* taken by another waiter, or out of time */
            if (errno != ENOSYS)
                return -1;
            use_fd = false;
        }
#else
        (void)use_fd;
#endif
        if (coco_sleep(poll_step(&backoff, left)) != COCO_OK) {
            errno = ENOMEM;
            return -1;
        }
    }
#endif
}
