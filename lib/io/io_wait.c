/*
 * io_wait.c - waiting on descriptors: the per-scheduler descriptor table
 * that records which coroutine is parked on which side of which
 * descriptor, parking and waking on readiness, the poll step the loop
 * (lib/loop) makes, and the back-off of acceptors out of descriptors.
 *
 * The backend is whichever poll_*.c file the build linked in.
 *
 * SPDX-License-Identifier: MIT
 */
#include "io/io.h"
#include "sync/wait.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#  include <pthread.h>
#  include <unistd.h>
#endif

/* ------------------------------------------------------------- fork */

/* A child of fork() that goes on running an inherited scheduler would
 * share the parent's kernel poller (an epoll instance is an open file)
 * and take readiness the parent waits for.  The child counts its forks;
 * a poller made under an older count is replaced before the child's
 * first registration or wait, which costs the loop a comparison. */
unsigned coco__forks;

#ifndef _WIN32
static void forked_child(void)
{
    coco__forks++;
}

/* Registers forked_child() once per process, whichever thread comes first. */
static void watch_forks(void)
{
    static int watching;
    if (__atomic_load_n(&watching, __ATOMIC_ACQUIRE) == 0 &&
        __atomic_exchange_n(&watching, 1, __ATOMIC_ACQ_REL) == 0)
        pthread_atfork(NULL, NULL, forked_child);
}
#endif

static int io_current(struct coco_io *io)
{
#ifndef _WIN32
    if (io->forks != coco__forks) {
        if (coco__poller_forked(io) != 0)
            return -1;
        io->forks = coco__forks;
    }
#else
    (void)io;
#endif
    return 0;
}

/* ---------------------------------------------------- descriptor table */

struct coco_io *coco__io(coco_sched_t *s)
{
    if (s->io != NULL)
        return io_current(s->io) == 0 ? s->io : NULL;
#ifndef _WIN32
    watch_forks();
#endif
    struct coco_io *io = calloc(1, sizeof *io);
    if (io == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    if (coco__poller_init(io) != 0) {
        int e = errno;
        free(io);
        errno = e;
        return NULL;
    }
    io->forks = coco__forks;
    s->io = io;
    return io;
}

coco_fd_t *coco__fd(struct coco_io *io, int fd)
{
    if ((size_t)fd >= io->nfds) {
        size_t n = io->nfds ? io->nfds : 64;
        while (n <= (size_t)fd)
            n *= 2;
        coco_fd_t *t = realloc(io->fds, n * sizeof *t);
        if (t == NULL)
            return NULL;
        memset(t + io->nfds, 0, (n - io->nfds) * sizeof *t);
        io->fds = t;
        io->nfds = n;
    }
    return &io->fds[fd];
}

static unsigned parked_events(const coco_fd_t *ent)
{
    return (ent->reader != NULL ? COCO__EV_READ : 0u) |
           (ent->writer != NULL ? COCO__EV_WRITE : 0u);
}

/* ------------------------------------------------------ park and wake */

/* Takes co off every side of its descriptor it is parked on. */
static void io_unlink(coco_sched_t *s, coco_co_t *co)
{
    int fd = coco__io_tag_fd(co->wait_obj);
    struct coco_io *io = s->io;
    coco_fd_t *ent = &io->fds[fd];
    if (ent->reader == co)
        ent->reader = NULL;
    if (ent->writer == co)
        ent->writer = NULL;
    s->io_waiting--;
    coco__poller_want(io, fd, ent, parked_events(ent));
}

#ifndef _WIN32
/* Forgets and closes a descriptor of coco__io_wait_owned(). */
static void owned_release(struct coco_io *io, int fd)
{
    coco_fd_t *ent = &io->fds[fd];
    coco__poller_forget(io, fd, ent);
    ent->kind = COCO__FD_UNKNOWN;
    ent->short_read = COCO__SHORT_UNKNOWN;
    ent->drained = 0;
    close(fd);
}
#endif

void coco__io_cancel(coco_co_t *co)
{
    coco_sched_t *s = co->pub.sched;
    io_unlink(s, co);
#ifndef _WIN32
    /* Parked, and not woken by its deadline: the coroutine is destroyed
     * (alone or with its scheduler) and never closes what it waited on.
     * A deadline sets COCO__TIMED_OUT before it cancels the wait. */
    int fd = coco__io_tag_fd(co->wait_obj);
    if (s->io->fds[fd].kind == COCO__FD_OWNED &&
        co->state == COCO_STATE_WAITING && !(co->flags & COCO__TIMED_OUT))
        owned_release(s->io, fd);
#endif
}

static void io_wake(coco_sched_t *s, coco_co_t *co, intptr_t result)
{
    io_unlink(s, co);
    co->wait_result = (int32_t)result;
    coco__wake(s, co);
    coco__prefetch_stack(co);
}

/* The sides of events fd is ready on now (COCO__EV_ERROR included), 0 if
 * none: asked once, without waiting. */
static unsigned ready_now(int fd, unsigned events)
{
    struct pollfd p = { .fd = fd, .events = 0, .revents = 0 };
    if (events & COCO__EV_READ)
        p.events |= POLLIN;
    if (events & COCO__EV_WRITE)
        p.events |= POLLOUT;
    if (poll(&p, 1, 0) <= 0)
        return 0;
    return ((p.revents & POLLIN) ? COCO__EV_READ : 0u) |
           ((p.revents & POLLOUT) ? COCO__EV_WRITE : 0u) |
           ((p.revents & (POLLERR | POLLHUP)) ? COCO__EV_ERROR : 0u);
}

int coco__io_wait(coco_sched_t *s, int fd, unsigned events, uint64_t timeout_ms)
{
    coco_co_t *co = s->current;
    struct coco_io *io = coco__io(s);
    if (io == NULL)
        return -1;
    coco_fd_t *ent = coco__fd(io, fd);
    if (ent == NULL) {
        errno = ENOMEM;
        return -1;
    }
    if (((events & COCO__EV_READ) && ent->reader != NULL) ||
        ((events & COCO__EV_WRITE) && ent->writer != NULL)) {
        errno = EBUSY;
        return -1;
    }
    if (coco__poller_want(io, fd, ent, parked_events(ent) | events) != 0)
        return -1;
    if (events & COCO__EV_READ)
        ent->reader = co;
    if (events & COCO__EV_WRITE)
        ent->writer = co;
    s->io_waiting++;
    co->wait_obj = coco__io_tag(fd, events);
    co->wait_on = COCO__ON_IO;
    co->wait_result = 0;
    s->stats.parks_io++;
    int rc = coco__park_timeout(s, timeout_ms);
    if (rc == COCO_ERROR_TIMEOUT) {
        /* The loop expires timers before it polls: when it runs late, a
         * deadline and a readiness that came before it are both due, and
         * the deadline wins.  Ask the descriptor before calling it a
         * timeout, so a busy scheduler does not drop a peer that was on
         * time.  Only the timeout path pays for the system call. */
        unsigned got = ready_now(fd, events);
        if (got != 0)
            return (int)got;
        errno = ETIMEDOUT;
        return -1;
    }
    if (rc != COCO_OK) {
        errno = ENOMEM;
        return -1;
    }
    if (co->wait_result < 0) {
        errno = (int)-co->wait_result;
        return -1;
    }
    return (int)co->wait_result;
}

#ifndef _WIN32
int coco__io_wait_owned(coco_sched_t *s, int fd, uint64_t timeout_ms)
{
    struct coco_io *io = coco__io(s);
    coco_fd_t *ent = io != NULL ? coco__fd(io, fd) : NULL;
    if (ent == NULL) {
        if (io != NULL)
            errno = ENOMEM;
        return -1;
    }
    ent->kind = COCO__FD_OWNED;
    return coco__io_wait(s, fd, COCO__EV_READ, timeout_ms);
}

void coco__io_owned_close(coco_sched_t *s, int fd)
{
    struct coco_io *io = s != NULL ? s->io : NULL;
    if (fd < 0)
        return;
    if (io == NULL || (size_t)fd >= io->nfds)
        close(fd); /* the table never had it */
    else if (io->fds[fd].kind == COCO__FD_OWNED)
        owned_release(io, fd);
    /* else someone closed it with coco_close() meanwhile */
}
#endif

void coco__io_ready(struct coco_io *io, int fd, unsigned events)
{
    if (fd < 0 || (size_t)fd >= io->nfds)
        return;
    coco_fd_t *ent = &io->fds[fd];
    coco_co_t *r = ent->reader, *w = ent->writer;
    /* New data (or an error) since the last short read: the next read
     * must try the system call again, whether or not anyone is parked. */
    if (events & (COCO__EV_READ | COCO__EV_ERROR))
        ent->drained = 0;
    /* A hang-up, an error or urgent data is reported once, and may be
     * reported before the read that empties the queue ahead of it: from
     * then on a short read proves nothing. */
    if (events & (COCO__EV_URGENT | COCO__EV_HUP | COCO__EV_ERROR))
        ent->short_read = COCO__SHORT_UNSURE;
    if (r != NULL && (events & (COCO__EV_READ | COCO__EV_ERROR))) {
        coco_sched_t *s = r->pub.sched;
        s->stats.io_wakes++;
        io_wake(s, r, (intptr_t)(events & (COCO__EV_READ | COCO__EV_WRITE | COCO__EV_ERROR)));
    }
    if (w != NULL && w != r && (events & (COCO__EV_WRITE | COCO__EV_ERROR))) {
        coco_sched_t *s = w->pub.sched;
        s->stats.io_wakes++;
        io_wake(s, w, (intptr_t)(events & (COCO__EV_READ | COCO__EV_WRITE | COCO__EV_ERROR)));
    }
}

void coco__io_reset(coco_sched_t *s, int fd)
{
    struct coco_io *io = s != NULL ? s->io : NULL;
    if (io == NULL || fd < 0 || (size_t)fd >= io->nfds)
        return;
    coco_fd_t *ent = &io->fds[fd];
    if (ent->reader != NULL)
        io_wake(s, ent->reader, -EBADF);
    if (ent->writer != NULL)
        io_wake(s, ent->writer, -EBADF);
    coco__poller_forget(io, fd, ent);
    ent->kind = COCO__FD_UNKNOWN;
    ent->short_read = COCO__SHORT_UNKNOWN;
    ent->drained = 0;
}

/* ------------------------------------------------------ the poll step */

int coco__io_poll(coco_sched_t *s, int timeout_ms)
{
    /* The wake descriptor and coroutines woken from other threads count
     * as descriptor waits, but a poll that may not wait has nothing to
     * learn from the kernel about them: the loop reads the inbox. */
    size_t real = s->io_waiting - s->remote_armed - s->remote_waits;
    if (real > 0 || (timeout_ms != 0 && s->io_waiting > 0)) {
        s->stats.polls++;
        if (io_current(s->io) != 0 ||
            (coco__poller_wait(s->io, timeout_ms) != 0 && errno != EINTR))
            return COCO_ERROR;
    } else if (timeout_ms != 0) {
        if (timeout_ms < 0)
            return COCO_OK; /* nothing could ever end the wait */
        poll(NULL, 0, timeout_ms);
    }
    return COCO_OK;
}

void coco__io_fini(coco_sched_t *s)
{
    struct coco_io *io = s->io;
    if (io != NULL) {
        /* In a child of fork() the poller's descriptor may not be ours
         * (a kqueue is not inherited): replace it, then close that. */
        (void)io_current(io);
        if (io->wake_armed) {
            coco__io_wake_close(io);
            s->remote_armed = false;
        }
        coco__poller_fini(io);
        free(io->fds);
        free(io);
        s->io = NULL;
        s->io_waiting = 0;
    }
}

/* ------------------------------------------------------ wake descriptor */

int coco__io_wake_arm(coco_sched_t *s)
{
    if (s->remote_armed)
        return COCO_OK;
    struct coco_io *io = coco__io(s);
    if (io == NULL)
        return COCO_ERROR;
    if (coco__io_wake_open(io) != 0)
        return COCO_ERROR;
    coco_fd_t *ent = coco__fd(io, io->wake_rd);
    if (ent == NULL || coco__poller_want(io, io->wake_rd, ent, COCO__EV_READ) != 0) {
        int e = ent == NULL ? ENOMEM : errno;
        coco__io_wake_close(io);
        errno = e;
        return COCO_ERROR;
    }
    io->wake_armed = true;
    s->remote_armed = true;
    s->io_waiting++;
    return COCO_OK;
}

void coco__io_wake_notify(coco_sched_t *s)
{
    coco__io_wake_write(s->io);
}

void coco__io_wake_clear(coco_sched_t *s)
{
    coco__io_wake_read(s->io);
}

/* ------------------------------------------------------------ back-off */

void coco__io_backoff(coco_sched_t *s, uint64_t ms)
{
    if (ms == 0)
        return;
    /* Parked on the scheduler's queue, where coco_close() finds it; a
     * shared-stack coroutine whose record cannot be had sleeps instead. */
    coco__sect_enter_any();
    if (coco__wait_alone(&s->fd_freed, ms) == COCO_ERROR_NOMEM)
        coco_sleep(ms);
}

void coco__io_freed(coco_sched_t *s)
{
    if (s != NULL && s->fd_freed.head != NULL) {
        coco__sect_enter_any();
        coco__waitq_fire_all(&s->fd_freed, COCO_OK);
        coco__sect_leave();
    }
}
