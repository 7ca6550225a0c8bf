/*
 * io.c - the public I/O calls: read, write, accept, connect, their timeout
 * variants, coco_wait_fd and coco_close, for every system.  The system
 * calls themselves are one attempt each behind io_os.h (io_posix.c,
 * io_win32.c); what to do when an attempt would have to wait is here.
 *
 * Every call tries the system call first and parks the coroutine on
 * readiness only when it reports EAGAIN, with one exception: a read from a
 * TCP socket whose previous read came up short.  A short read means the
 * kernel's queue was emptied; until the backend reports new data (which
 * clears the mark, see coco__io_ready) another recv() could only say
 * EAGAIN, so the reader parks straight away and saves that system call on
 * every message of a request/response exchange.  TCP alone qualifies (the
 * system says which sockets do, coco__os_short_read): a TCP read stops
 * early only at urgent data, which the backend watches for; Unix-domain,
 * datagram and pipe reads can stop early for other reasons.  A hang-up or
 * error is a state, not an arrival: the backend reports it once, possibly
 * before the read that empties the data ahead of it, so once one has been
 * seen the shortcut is off for the descriptor (see coco__io_ready).
 *
 * A coroutine whose calls never have to wait yields now and then, so that
 * it cannot starve the others.  Outside a coroutine nothing can park: a
 * call that would have to wait fails with EAGAIN instead.
 *
 * SPDX-License-Identifier: MIT
 */
#include "io/io.h"
#include "io/io_os.h"
#include "core/mt.h"

#include <errno.h>
#include <limits.h>

/* How long a failing accept (out of descriptors) holds its caller back, so
 * that a loop around it cannot spin. */
#define ACCEPT_BACKOFF_MS 50

/* ------------------------------------------------------------ helpers */

/* The table entry of fd if the table already covers it. */
static coco_fd_t *known(coco_sched_t *s, int fd)
{
    struct coco_io *io = s != NULL ? s->io : NULL;
    return io != NULL && (size_t)fd < io->nfds ? &io->fds[fd] : NULL;
}

static bool would_block(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK;
}

/* A coroutine whose reads always find data and whose writes always find
 * room would never give up the thread: one that pipelines requests
 * without reading the answers could starve every other connection.  After
 * this many I/O calls in a row that did not have to wait, the caller
 * yields once, which costs next to nothing when nobody else is ready. */
#define IO_STREAK_MAX 64

static void io_done_without_waiting(coco_sched_t *s)
{
    if (s == NULL)
        return;
    if (s->io_streak_co != s->current) {
        s->io_streak_co = s->current;
        s->io_streak = 0;
    }
    if (++s->io_streak >= IO_STREAK_MAX) {
        s->io_streak = 0;
        coco_yield();
    }
}

/* Marks ent drained after a read of r bytes out of n asked, when a short
 * read on its descriptor proves the queue empty. */
static void note_read(coco_fd_t *ent, int fd, ssize_t r, size_t n)
{
    if (ent == NULL || r <= 0 || (size_t)r >= n)
        return;
    if (ent->short_read == COCO__SHORT_UNKNOWN)
        ent->short_read = coco__poller_sees_arrivals ? coco__os_short_read(fd)
                                                     : COCO__SHORT_UNSURE;
    ent->drained = ent->short_read == COCO__SHORT_DRAINS;
}

/* ------------------------------------------------------------ read */

int coco_read_timeout(int fd, void *buf, size_t count, uint64_t timeout_ms)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    if (buf == NULL && count > 0) {
        errno = EINVAL;
        return -1;
    }
    if (count > INT_MAX)
        count = INT_MAX;
    coco_sched_t *s = coco__io_sched();
    coco_fd_t *ent = known(s, fd);
    if (count == 0) {
        /* As read(2): 0 at once, or an error the descriptor has. */
        char none;
        ssize_t r = coco__os_read(ent, fd, &none, 0);
        return r >= 0 || would_block(errno) || errno == EINTR ? 0 : -1;
    }
    coco_deadline_t d = coco__deadline(timeout_ms);
    if (ent != NULL && ent->drained && timeout_ms != 0) {
        /* Emptied by the last read and no news since: wait first. */
        ent->drained = 0;
        if (coco__io_park(s, fd, COCO__EV_READ, coco__remaining(s, &d)) < 0)
            return -1;
        ent = known(s, fd); /* others may have grown the table meanwhile */
    }
    for (;;) {
        ssize_t r = coco__os_read(ent, fd, buf, count);
        if (r >= 0) {
            note_read(ent, fd, r, count);
            io_done_without_waiting(s);
            return (int)r;
        }
        if (errno == EINTR)
            continue;
        if (!would_block(errno))
            return -1;
        if (coco__io_park(s, fd, COCO__EV_READ, coco__remaining(s, &d)) < 0)
            return -1;
        ent = known(s, fd);
    }
}

int coco_read(int fd, void *buf, size_t count)
{
    return coco_read_timeout(fd, buf, count, COCO_INFINITE);
}

/* ------------------------------------------------------------ write */

int coco_write_timeout(int fd, const void *buf, size_t count, uint64_t timeout_ms)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    if (buf == NULL && count > 0) {
        errno = EINVAL;
        return -1;
    }
    if (count > INT_MAX)
        count = INT_MAX;
    coco_sched_t *s = coco__io_sched();
    coco_deadline_t d = coco__deadline(timeout_ms);
    const char *p = buf;
    size_t done = 0;
    do {
        ssize_t r = coco__os_write(known(s, fd), fd, p + done, count - done);
        if (r >= 0) {
            done += (size_t)r;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (!would_block(errno) ||
            coco__io_park(s, fd, COCO__EV_WRITE, coco__remaining(s, &d)) < 0) {
            /* Report what went out; the error shows on the next call. */
            return done > 0 ? (int)done : -1;
        }
    } while (done < count);
    io_done_without_waiting(s);
    return (int)done;
}

int coco_write(int fd, const void *buf, size_t count)
{
    return coco_write_timeout(fd, buf, count, COCO_INFINITE);
}

/* ----------------------------------------------------------- accept */

/* Out of descriptors or memory: the condition lasts until something is
 * freed elsewhere, so a caller that retried at once would spin. */
static bool out_of_resources(int e)
{
    return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

/* Reports e after holding the caller back for a while (no longer than
 * the call's time left, and no longer than until coco_close() frees a
 * descriptor), letting the other coroutines run. */
static int back_off(coco_sched_t *s, coco_deadline_t *d, int e)
{
    uint64_t left = coco__remaining(s, d);
    coco__io_backoff(s, left < ACCEPT_BACKOFF_MS ? left : ACCEPT_BACKOFF_MS);
    errno = e;
    return -1;
}

int coco_accept_timeout(int fd, void *addr, size_t *addrlen, uint64_t timeout_ms)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    if ((addr == NULL) != (addrlen == NULL)) {
        errno = EINVAL;
        return -1;
    }
    if (coco__os_nonblock(fd) != 0)
        return -1;
    coco_sched_t *s = coco__io_sched();
    coco_deadline_t d = coco__deadline(timeout_ms);
    for (;;) {
        int c = coco__os_accept(fd, addr, addrlen);
        if (c >= 0) {
            /* Whatever the table knew about this number is about an older
             * descriptor. */
            coco__io_reset(coco__sched_here(), c);
            io_done_without_waiting(s);
            return c;
        }
        int e = errno;
        if (e == EINTR || e == ECONNABORTED)
            continue;
        /* The connection stays queued and the socket stays readable. */
        if (out_of_resources(e))
            return back_off(s, &d, e);
        if (!would_block(e))
            return -1;
        if (coco__io_park(s, fd, COCO__EV_READ, coco__remaining(s, &d)) < 0) {
            /* Waiting needs the poller and a table entry, which the same
             * shortage can deny. */
            e = errno;
            return out_of_resources(e) ? back_off(s, &d, e) : -1;
        }
    }
}

int coco_accept(int fd, void *addr, size_t *addrlen)
{
    return coco_accept_timeout(fd, addr, addrlen, COCO_INFINITE);
}

/* ---------------------------------------------------------- connect */

int coco_connect_timeout(int fd, const void *addr, size_t addrlen, uint64_t timeout_ms)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    if (addr == NULL || addrlen == 0 || addrlen > (size_t)INT_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (coco__os_nonblock(fd) != 0)
        return -1;
    coco_sched_t *s = coco__io_sched();
    coco_deadline_t d = coco__deadline(timeout_ms);
    /* A listener without room that nothing will report: retry on a timer,
     * as a blocking connect would wait. */
    uint64_t retry_ms = 1;
    int st;
    while ((st = coco__os_connect(fd, addr, addrlen)) == COCO__OS_REFUSED_NOW) {
        errno = EAGAIN; /* what the caller sees when it cannot wait */
        if (s == NULL)
            return -1;
        uint64_t left = coco__remaining(s, &d);
        if (left == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (coco_sleep(left < retry_ms ? left : retry_ms) != COCO_OK) {
            errno = EAGAIN; /* no timer to be had: report the refusal */
            return -1;
        }
        if (retry_ms < 16)
            retry_ms *= 2;
    }
    if (st < 0)
        return -1; /* EISCONN and EALREADY included: nothing changed */
    /* A socket connects once: the number is a new descriptor to us. */
    coco__io_reset(coco__sched_here(), fd);
    if (st == COCO__OS_CONNECTED)
        return 0;
    if (s == NULL) {
        errno = EINPROGRESS; /* completes in the background */
        return -1;
    }
    for (;;) {
        uint64_t left = coco__remaining(s, &d);
        uint64_t slice = left < coco__os_connect_slice_ms ? left : coco__os_connect_slice_ms;
        /* A slice that ran out is only a time to look again. */
        if (coco__io_park(s, fd, COCO__EV_WRITE, slice) < 0 &&
            (errno != ETIMEDOUT || slice == left))
            return -1;
        st = coco__os_connect_state(fd, addr, addrlen);
        if (st != COCO__OS_PENDING)
            return st == COCO__OS_CONNECTED ? 0 : -1;
    }
}

int coco_connect(int fd, const void *addr, size_t addrlen)
{
    return coco_connect_timeout(fd, addr, addrlen, COCO_INFINITE);
}

/* --------------------------------------------------- wait and close */

int coco_wait_fd(int fd, int events, uint64_t timeout_ms)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    if ((unsigned)events > (COCO_READABLE | COCO_WRITABLE | COCO_NOT_READY) ||
        (events & (COCO_READABLE | COCO_WRITABLE)) == 0) {
        errno = EINVAL;
        return -1;
    }
    bool ask = !(events & COCO_NOT_READY);
    events &= COCO_READABLE | COCO_WRITABLE;
    /* Ask first: an edge-triggered backend only reports changes.  Unless
     * the caller's attempt found fd not ready and nothing ran since: any
     * change after it is an edge the poller has yet to report, as when
     * coco_read() parks after EAGAIN. */
    if (ask) {
        int got = coco__os_ready(fd, ((events & COCO_READABLE) ? COCO__EV_READ : 0u) |
                                     ((events & COCO_WRITABLE) ? COCO__EV_WRITE : 0u));
        if (got < 0)
            return -1;
        if ((unsigned)got & COCO__EV_ERROR)
            return events; /* the next call on fd reports the error */
        int ready = (((unsigned)got & COCO__EV_READ) ? COCO_READABLE : 0) |
                    (((unsigned)got & COCO__EV_WRITE) ? COCO_WRITABLE : 0);
        if (ready != 0)
            return ready;
    }
    return coco__io_wait_events(fd, events, timeout_ms);
}

int coco_close(int fd)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    coco__io_reset(coco__sched_here(), fd);
    int rc = coco__os_close(fd);
    if (rc == 0 || errno != EBADF)
        coco__io_freed(coco__sched_here()); /* an acceptor may use it now */
    return rc;
}
