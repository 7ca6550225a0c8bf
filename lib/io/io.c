/*
 * io.c - the public I/O calls: read, write, accept, connect, their timeout
 * variants, coco_wait_fd and coco_close.
 *
 * Every call tries the system call first and parks the coroutine on
 * readiness only when it reports EAGAIN, with one exception: a read from a
 * TCP socket whose previous read came up short.  A short read means the
 * kernel's queue was emptied; until the backend reports new data (which
 * clears the mark, see coco__io_ready) another recv() could only say
 * EAGAIN, so the reader parks straight away and saves that system call on
 * every message of a request/response exchange.  TCP alone qualifies: a
 * TCP read stops early only at urgent data, which the backend watches for;
 * Unix-domain, datagram and pipe reads can stop early for other reasons.
 * A hang-up or error is a state, not an arrival: the backend reports it
 * once, possibly before the read that empties the data ahead of it, so
 * once one has been seen the shortcut is off for the descriptor (see
 * coco__io_ready).
 *
 * Descriptors are taken as socket() and pipe() return them: sockets are
 * driven with MSG_DONTWAIT (and MSG_NOSIGNAL, so a vanished peer is an
 * EPIPE, never a SIGPIPE), which needs no change to the descriptor.
 * Pipes, often shared with other processes that expect them to block
 * (a redirected stdout), are driven with RWF_NOWAIT where the system has
 * it (Linux), which needs no change either.  Anything else (a terminal)
 * is switched to O_NONBLOCK for the one system call only and back at
 * once, when it was blocking.  The sockets that
 * accept and connect are switched to O_NONBLOCK for good: connect(2) and
 * accept(2) have no per-call flag.  Outside a coroutine nothing can park:
 * a call that would have to wait fails with EAGAIN instead.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE 1 /* accept4 */
#endif
#include "io/io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* Pipes on Linux take a per-call non-blocking flag. */
#if defined(HAVE_PREADV2) && defined(HAVE_PWRITEV2) && defined(RWF_NOWAIT)
#  define HAVE_RWF_NOWAIT 1
#endif

#ifndef MSG_NOSIGNAL
#  define MSG_NOSIGNAL 0   /* hosts without it get F_SETNOSIGPIPE below */
#endif

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

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

static ssize_t write_nosigpipe(int fd, const void *buf, size_t n, bool nowait);

/* One read or write on a descriptor that is not a socket, without
 * blocking and without leaving the open file description (which other
 * processes may share) non-blocking. */
static ssize_t other_io(int fd, void *rbuf, const void *wbuf, size_t n)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    bool toggle = !(fl & O_NONBLOCK);
    if (toggle && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    ssize_t r = wbuf != NULL ? write_nosigpipe(fd, wbuf, n, false) : read(fd, rbuf, n);
    if (toggle) {
        int e = errno;
        fcntl(fd, F_SETFL, fl);
        errno = e;
    }
    return r;
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

/* ------------------------------------------------------- single tries */

/* Does a short read on the socket fd prove its receive queue empty? */
static uint8_t short_read_kind(int fd)
{
#if defined(SO_PROTOCOL) && defined(IPPROTO_TCP)
    int proto = 0;
    socklen_t len = sizeof proto;
    if (coco__poller_sees_arrivals &&
        getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == 0 &&
        proto == IPPROTO_TCP)
        return COCO__SHORT_DRAINS;
#else
    (void)fd;
#endif
    return COCO__SHORT_UNSURE;
}

/* Marks ent drained after a read of r bytes out of n asked. */
static void note_read(coco_fd_t *ent, int fd, ssize_t r, size_t n)
{
    if (r <= 0 || (size_t)r >= n)
        return;
    if (ent->short_read == COCO__SHORT_UNKNOWN)
        ent->short_read = short_read_kind(fd);
    ent->drained = ent->short_read == COCO__SHORT_DRAINS;
}

/* What a descriptor that is not a socket is. */
static uint8_t other_kind(int fd)
{
#if defined(HAVE_RWF_NOWAIT)
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
        return COCO__FD_FIFO;
#else
    (void)fd;
#endif
    return COCO__FD_OTHER;
}

/* One read or write on a descriptor that is not a socket.  A pipe known
 * to the table gets RWF_NOWAIT, which changes nothing on the descriptor;
 * a kernel that refuses it for pipes makes it an ordinary descriptor.
 * (Not for regular files, where RWF_NOWAIT means "only from the page
 * cache" and its EAGAIN cannot be waited for.) */
static ssize_t other_rw(coco_fd_t *ent, int fd, void *rbuf, const void *wbuf, size_t n)
{
#if defined(HAVE_RWF_NOWAIT)
    if (ent != NULL && ent->kind == COCO__FD_FIFO) {
        ssize_t r;
        if (wbuf != NULL) {
            r = write_nosigpipe(fd, wbuf, n, true);
        } else {
            struct iovec v = { rbuf, n };
            r = preadv2(fd, &v, 1, -1, RWF_NOWAIT);
        }
        if (r >= 0 || (errno != EOPNOTSUPP && errno != EINVAL && errno != ENOSYS))
            return r;
        ent->kind = COCO__FD_OTHER;
    }
#else
    (void)ent;
#endif
    return other_io(fd, rbuf, wbuf, n);
}

static ssize_t try_read(coco_sched_t *s, int fd, void *buf, size_t n)
{
    coco_fd_t *ent = known(s, fd);
    if (ent == NULL || ent->kind <= COCO__FD_SOCKET) {
        ssize_t r = recv(fd, buf, n, MSG_DONTWAIT);
        if (r >= 0 || errno != ENOTSOCK) {
            if (ent != NULL) {
                ent->kind = COCO__FD_SOCKET;
                note_read(ent, fd, r, n);
            }
            return r;
        }
        if (ent != NULL)
            ent->kind = other_kind(fd);
    }
    /* Not a socket.  Without a per-call flag its mode is checked every
     * time: another process may have changed it. */
    return other_rw(ent, fd, buf, NULL, n);
}

/* write(2) to something that is not a socket, without SIGPIPE; with
 * RWF_NOWAIT when nowait is set. */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t n, bool nowait)
{
#if defined(F_SETNOSIGPIPE)
    (void)nowait;
    fcntl(fd, F_SETNOSIGPIPE, 1);
    return write(fd, buf, n);
#else
    /* Block SIGPIPE for the one call; if it raised one that was not
     * already pending, take it back before unblocking. */
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    ssize_t r;
#if defined(HAVE_RWF_NOWAIT)
    if (nowait) {
        struct iovec v = { (void *)buf, n };
        r = pwritev2(fd, &v, 1, -1, RWF_NOWAIT);
    } else
#endif
        r = write(fd, buf, n);
    (void)nowait;
    int e = errno;
    if (r < 0 && e == EPIPE && !was_pending) {
        const struct timespec zero = { 0, 0 };
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return r;
#endif
}

static ssize_t try_write(coco_sched_t *s, int fd, const void *buf, size_t n)
{
    coco_fd_t *ent = known(s, fd);
    if (ent == NULL || ent->kind <= COCO__FD_SOCKET) {
        ssize_t r = send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r >= 0 || errno != ENOTSOCK) {
            if (ent != NULL)
                ent->kind = COCO__FD_SOCKET;
            return r;
        }
        if (ent != NULL)
            ent->kind = other_kind(fd);
    }
    return other_rw(ent, fd, NULL, buf, n);
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
    if (count == 0) {
        /* As read(2): 0 at once, or an error the descriptor has. */
        char none;
        ssize_t r = try_read(s, fd, &none, 0);
        return r >= 0 || would_block(errno) || errno == EINTR ? 0 : -1;
    }
    coco_deadline_t d = coco__deadline(timeout_ms);
    coco_fd_t *ent = known(s, fd);
    if (ent != NULL && ent->drained && timeout_ms != 0) {
        /* Emptied by the last read and no news since: wait first. */
        ent->drained = 0;
        if (coco__io_park(s, fd, COCO__EV_READ, coco__remaining(s, &d)) < 0)
            return -1;
    }
    for (;;) {
        ssize_t r = try_read(s, fd, buf, count);
        if (r >= 0) {
            io_done_without_waiting(s);
            return (int)r;
        }
        if (errno == EINTR)
            continue;
        if (!would_block(errno))
            return -1;
        if (coco__io_park(s, fd, COCO__EV_READ, coco__remaining(s, &d)) < 0)
            return -1;
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
        ssize_t r = try_write(s, fd, p + done, count - done);
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

/* The accepted socket is non-blocking and close-on-exec: a server's
 * connections are its own, not something every program it runs (system,
 * popen) should hold open. */
static int accept_nonblock(int fd, void *addr, socklen_t *len)
{
#if defined(HAVE_ACCEPT4) && defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    int c = accept(fd, addr, len);
    if (c >= 0 && (set_nonblock(c) != 0 || fcntl(c, F_SETFD, FD_CLOEXEC) != 0)) {
        int e = errno;
        close(c);
        errno = e;
        return -1;
    }
    return c;
#endif
}

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
    if (set_nonblock(fd) != 0)
        return -1;
    coco_sched_t *s = coco__io_sched();
    coco_deadline_t d = coco__deadline(timeout_ms);
    for (;;) {
        socklen_t len = 0;
        if (addrlen != NULL)
            len = *addrlen > (size_t)INT_MAX ? (socklen_t)INT_MAX : (socklen_t)*addrlen;
        int c = accept_nonblock(fd, addr, addrlen != NULL ? &len : NULL);
        if (c >= 0) {
            if (addrlen != NULL)
                *addrlen = len;
            /* Whatever the table knew about this number is about an older
             * descriptor. */
            coco__io_reset(coco__tls_sched, c);
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
    if (set_nonblock(fd) != 0)
        return -1;
    coco_sched_t *s = coco__io_sched();
    coco_deadline_t d = coco__deadline(timeout_ms);
    /* A Unix-domain listener whose backlog is full refuses at once with
     * EAGAIN where a blocking connect(2) would wait: retry on a timer,
     * since nothing reports room in another socket's backlog. */
    bool unix_domain = ((const struct sockaddr *)addr)->sa_family == AF_UNIX;
    uint64_t retry_ms = 1;
    int rc;
    while ((rc = connect(fd, addr, (socklen_t)addrlen)) != 0 && errno == EAGAIN &&
           unix_domain && s != NULL) {
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
    if (rc != 0 && errno != EINPROGRESS && errno != EINTR)
        return -1; /* EISCONN and EALREADY included: nothing changed */
    /* A socket connects once: the number is a new descriptor to us. */
    coco__io_reset(coco__tls_sched, fd);
    if (rc == 0)
        return 0;
    if (s == NULL) {
        errno = EINPROGRESS; /* completes in the background */
        return -1;
    }
    for (;;) {
        if (coco__io_park(s, fd, COCO__EV_WRITE, coco__remaining(s, &d)) < 0)
            return -1;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            return -1;
        if (err != 0) {
            errno = err;
            return -1;
        }
        /* No error yet is not success: ask connect(2) itself, which also
         * marks the socket connected, so that connecting it again says
         * EISCONN. */
        if (connect(fd, addr, (socklen_t)addrlen) == 0 || errno == EISCONN)
            return 0;
        if (errno != EALREADY && errno != EINPROGRESS && errno != EINTR)
            return -1;
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
    if (events <= 0 || (events & ~(COCO_READABLE | COCO_WRITABLE)) != 0) {
        errno = EINVAL;
        return -1;
    }
    /* Ask first: an edge-triggered backend only reports changes. */
    struct pollfd pfd = { .fd = fd, .events = 0, .revents = 0 };
    if (events & COCO_READABLE)
        pfd.events |= POLLIN;
    if (events & COCO_WRITABLE)
        pfd.events |= POLLOUT;
    int n;
    while ((n = poll(&pfd, 1, 0)) < 0 && errno == EINTR)
        ;
    if (n < 0)
        return -1;
    if (pfd.revents & POLLNVAL) {
        errno = EBADF;
        return -1;
    }
    int ready = 0;
    if (pfd.revents & (POLLERR | POLLHUP))
        return events; /* the next call on fd reports the error */
    if (pfd.revents & POLLIN)
        ready |= COCO_READABLE;
    if (pfd.revents & POLLOUT)
        ready |= COCO_WRITABLE;
    if (ready != 0)
        return ready;
    return coco__io_wait_events(fd, events, timeout_ms);
}

int coco_close(int fd)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    coco__io_reset(coco__tls_sched, fd);
    int rc = close(fd);
    if (rc == 0 || errno != EBADF)
        coco__io_freed(coco__tls_sched); /* an acceptor may use it now */
    return rc;
}
