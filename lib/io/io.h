/*
 * io.h - the I/O layer's private interface: the per-scheduler descriptor
 * table, parking on readiness, and the backend (poller) interface that
 * each of poll_epoll.c, poll_kqueue.c and poll_poll.c (poll(2), or
 * WSAPoll on Windows) implements.  Exactly one backend is linked into the
 * library, the one configure chose.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_IO_H
#define COCO_IO_H

#include "timer/deadline.h"

#include <errno.h>

/* Readiness, as the loop and the backends speak it. */
#define COCO__EV_READ  1u
#define COCO__EV_WRITE 2u
#define COCO__EV_ERROR 4u   /* error or hang-up: wakes both directions */
#define COCO__EV_URGENT 8u  /* TCP urgent data: reads may stop short of it */
#define COCO__EV_HUP 16u    /* the peer shut down its side: comes only once */

/* A coroutine parked on a descriptor (wait_on COCO__ON_IO) keeps in
 * wait_obj the descriptor and the sides it waits on (COCO__EV_READ and/or
 * COCO__EV_WRITE), so nothing points into the table, which may move. */
static inline void *coco__io_tag(int fd, unsigned events)
{
    return (void *)(((uintptr_t)fd << 2) | events);
}
static inline int coco__io_tag_fd(const void *tag)
{
    return (int)((uintptr_t)tag >> 2);
}
static inline unsigned coco__io_tag_events(const void *tag)
{
    return (unsigned)((uintptr_t)tag & (COCO__EV_READ | COCO__EV_WRITE));
}

/* What the table knows about one descriptor number: a socket, a pipe
 * that takes a per-call non-blocking flag (RWF_NOWAIT), or anything else. */
enum { COCO__FD_UNKNOWN = 0, COCO__FD_SOCKET, COCO__FD_FIFO, COCO__FD_OTHER };
/* A descriptor the io layer's own calls made for one wait (a pidfd, a
 * signalfd, lib/io/proc.c): nobody does I/O on it through the table. */
enum { COCO__FD_OWNED = COCO__FD_OTHER + 1 };
/* Whether a short read on the descriptor proves its queue empty. */
enum { COCO__SHORT_UNKNOWN = 0, COCO__SHORT_DRAINS, COCO__SHORT_UNSURE };

typedef struct coco_fd {
    coco_co_t *reader;          /* parked waiting to read, or NULL */
    coco_co_t *writer;          /* parked waiting to write, or NULL */
    uint8_t kind;               /* COCO__FD_*: how to make calls non-blocking */
    uint8_t reg;                /* owned by the backend */
    uint8_t short_read;         /* COCO__SHORT_*, learnt on the first one */
    uint8_t drained;            /* emptied by a short read, no edge since */
    uint32_t pidx;              /* owned by the backend */
} coco_fd_t;

struct coco_io {
    coco_fd_t *fds;             /* indexed by descriptor */
    size_t nfds;
    void *poller;               /* the backend's state */
    unsigned forks;             /* coco__forks when the poller was made */
    /* The wake descriptor other threads write to (an eventfd, a pipe, or
     * on Windows a loopback socket that sends to itself), registered for
     * reading with nobody parked on it: its readiness only ends the wait. */
    bool wake_armed;
    int wake_rd, wake_wr;
};

/* How many times this process came out of fork() as the child: a poller
 * made under another count may be shared with the parent. */
extern unsigned coco__forks;

/* The io state of s, created (with its backend) on first use; NULL on
 * failure with errno set. */
struct coco_io *coco__io(coco_sched_t *s);
/* The table entry of fd, growing the table; NULL when out of memory. */
coco_fd_t *coco__fd(struct coco_io *io, int fd);

/* Holds the running coroutine back for at most ms after a call ran out of
 * descriptors or memory, or until coco_close() gives a descriptor back,
 * whichever comes first (lib/io/io_wait.c). */
void coco__io_backoff(coco_sched_t *s, uint64_t ms);
/* A descriptor was given back: wakes the coroutines in coco__io_backoff(). */
void coco__io_freed(coco_sched_t *s);

/* Parks the running coroutine until fd is ready for one of events
 * (COCO__EV_READ and/or COCO__EV_WRITE), for at most timeout_ms.  Returns
 * the events seen (> 0), or -1 with errno: ETIMEDOUT, EBADF when the
 * descriptor was closed with coco_close() meanwhile, EBUSY when another
 * coroutine already waits on that side, ENOMEM. */
int coco__io_wait(coco_sched_t *s, int fd, unsigned events, uint64_t timeout_ms);
/* Unlinks a coroutine parked on a descriptor (wait_on COCO__ON_IO).  A
 * descriptor of coco__io_wait_owned() is closed here when the coroutine
 * will not run again to close it (destroyed, with its scheduler or not). */
void coco__io_cancel(coco_co_t *co);
#ifndef _WIN32
/* coco__io_wait() for reading on fd, a descriptor the caller made for this
 * wait alone.  The caller closes it with coco__io_owned_close() once the
 * coroutine runs again, whatever the result; if the coroutine is destroyed
 * while parked, the io layer closes it. */
int coco__io_wait_owned(coco_sched_t *s, int fd, uint64_t timeout_ms);
void coco__io_owned_close(coco_sched_t *s, int fd);
#endif
/* Waits up to timeout_ms (-1: no limit) for readiness and wakes whoever it
 * releases; when nothing waits on I/O, just sleeps that long.  COCO_OK or
 * COCO_ERROR. */
int coco__io_poll(coco_sched_t *s, int timeout_ms);
/* Releases the descriptor table and the poller of s. */
void coco__io_fini(coco_sched_t *s);
/* The wake descriptor of s: made and registered (COCO_OK, or COCO_ERROR
 * with errno set); written (from any thread, with s's inbox lock
 * held: the lock of its sleep flags); emptied after a wait it ended. */
int coco__io_wake_arm(coco_sched_t *s);
void coco__io_wake_notify(coco_sched_t *s);
void coco__io_wake_clear(coco_sched_t *s);
/* The system's side of it (io_posix.c, io_win32.c): 0 or -1 with errno. */
int coco__io_wake_open(struct coco_io *io);
void coco__io_wake_close(struct coco_io *io);
void coco__io_wake_write(struct coco_io *io);
void coco__io_wake_read(struct coco_io *io);
/* The backend saw fd ready (COCO__EV_* bits): wakes its waiters. */
void coco__io_ready(struct coco_io *io, int fd, unsigned events);
/* fd is a new descriptor (just accepted, or connecting) or is going away:
 * wakes anyone still parked on the number with EBADF and drops whatever
 * the table and the backend remembered about it. */
void coco__io_reset(coco_sched_t *s, int fd);

/* ----------------------------------------------------------- backend */

/* Nonzero when the backend reports, through coco__io_ready(), every
 * arrival of data on a watched descriptor (or polls its current state),
 * so that a reader whose last read came up short may park before trying
 * again.  Each backend defines it. */
extern const int coco__poller_sees_arrivals;

/* Sets up io->poller.  0, or -1 with errno. */
int coco__poller_init(struct coco_io *io);
void coco__poller_fini(struct coco_io *io);
/* The set of parked directions on fd changed to events (0: none).  0, or
 * -1 with errno (EBADF, EPERM for a descriptor the backend cannot watch). */
int coco__poller_want(struct coco_io *io, int fd, coco_fd_t *ent, unsigned events);
/* fd is about to be closed or has been replaced: forget it. */
void coco__poller_forget(struct coco_io *io, int fd, coco_fd_t *ent);
/* Waits up to timeout_ms (-1: no limit) and calls coco__io_ready() for
 * every ready descriptor.  0, or -1 with errno. */
int coco__poller_wait(struct coco_io *io, int timeout_ms);
#ifndef _WIN32
/* The process is a child of fork(): gives it a poller of its own that
 * watches what the table has registered.  0, or -1 with errno (the old
 * poller is kept then). */
int coco__poller_forked(struct coco_io *io);
#endif

/* ------------------------------------------- helpers of the I/O calls */
/* Used by the I/O calls in io.c. */

/* The scheduler of the running coroutine, or NULL outside one. */
static inline coco_sched_t *coco__io_sched(void)
{
    coco_sched_t *s = coco__tls_running;
    return s != NULL && s->current != NULL ? s : NULL;
}

/* When a call with a limit started waiting: the clock is read only once
 * the call first has to park, and never for a call without a limit, so
 * the path where the system call succeeds reads no clock. */
typedef struct coco_deadline {
    uint64_t limit;     /* timeout_ms of the call */
    uint64_t start;     /* valid once started */
    bool started;
} coco_deadline_t;

static inline coco_deadline_t coco__deadline(uint64_t timeout_ms)
{
    coco_deadline_t d = { timeout_ms, 0, false };
    return d;
}

/* Time left of the call; s is NULL outside a coroutine (nothing left). */
static inline uint64_t coco__remaining(coco_sched_t *s, coco_deadline_t *d)
{
    if (s == NULL)
        return 0;
    if (d->limit == COCO_INFINITE)
        return COCO_INFINITE;
    if (!d->started) {
        d->start = coco__now_ms(s);
        d->started = true;
        return d->limit;
    }
    uint64_t spent = coco__now_ms(s) - d->start;
    return spent >= d->limit ? 0 : d->limit - spent;
}

/* Parks for dir on fd; the COCO__EV_* bits seen, or -1 with errno
 * (ETIMEDOUT when no time is left, EAGAIN outside a coroutine). */
static inline int coco__io_park(coco_sched_t *s, int fd, unsigned dir, uint64_t left)
{
    if (s == NULL) {
        errno = EAGAIN;
        return -1;
    }
    if (left == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    s->io_streak = 0; /* it gives up the thread now */
    return coco__io_wait(s, fd, dir, left);
}

/* The slow half of coco_wait_fd(), once a poll found fd not ready: parks
 * until it is ready for events (COCO_READABLE | COCO_WRITABLE) and says
 * for which, or -1 with errno.  An error or hang-up reports all of events:
 * the next call on fd tells which. */
static inline int coco__io_wait_events(int fd, int events, uint64_t timeout_ms)
{
    unsigned dir = ((events & COCO_READABLE) ? COCO__EV_READ : 0u) |
                   ((events & COCO_WRITABLE) ? COCO__EV_WRITE : 0u);
    int r = coco__io_park(coco__io_sched(), fd, dir, timeout_ms);
    if (r < 0)
        return -1;
    unsigned got = (unsigned)r;
    if (got & COCO__EV_ERROR)
        return events;
    int ready = ((got & COCO__EV_READ) ? COCO_READABLE : 0) |
                ((got & COCO__EV_WRITE) ? COCO_WRITABLE : 0);
    ready &= events;
    return ready != 0 ? ready : events;
}

#endif /* COCO_IO_H */
