/*
 * io_win32.c - the public I/O calls on Windows: read, write, accept,
 * connect, their timeout variants, coco_wait_fd and coco_close, for
 * sockets (Winsock SOCKET handles passed as int, as socket() returns them).
 *
 * As in io.c, every call tries the operation first and parks the coroutine
 * on readiness only when Winsock reports WSAEWOULDBLOCK.  Winsock has no
 * per-call non-blocking flag, so a socket is switched to non-blocking mode
 * (ioctlsocket FIONBIO) the first time the library sees it, and the
 * descriptor table remembers that until coco_close(), accept or connect
 * make the number new again.  Pipes, files and consoles are not sockets
 * and are refused with EBADF.  There is no SIGPIPE to suppress.  Outside a
 * coroutine nothing can park: a call that would have to wait fails with
 * EAGAIN instead.
 *
 * SPDX-License-Identifier: MIT
 */
#include "io/winsock.h"

#include <errno.h>
#include <limits.h>

/* How long a failing accept (out of handles or buffers) holds its caller
 * back, so that a loop around it cannot spin. */
#define ACCEPT_BACKOFF_MS 50
/* Longest wait for a connect between looks at SO_ERROR: older WSAPoll
 * never reports a refused connection. */
#define CONNECT_SLICE_MS 250

/* ------------------------------------------------------------ helpers */

static SOCKET sock(int fd)
{
    return (SOCKET)(unsigned)fd;
}

/* Puts fd in non-blocking mode unless the table says it already is. */
static int nonblock(int fd)
{
    coco_sched_t *s = coco__tls_sched;
    struct coco_io *io = s != NULL ? coco__io(s) : NULL;
    coco_fd_t *ent = io != NULL ? coco__fd(io, fd) : NULL;
    if (ent != NULL && ent->kind == COCO__FD_SOCKET)
        return 0;
    u_long on = 1;
    if (ioctlsocket(sock(fd), FIONBIO, &on) != 0)
        return coco__wsa_fail();
    if (ent != NULL)
        ent->kind = COCO__FD_SOCKET;
    return 0;
}

static int check_fd(int fd)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ read */

int coco_read_timeout(int fd, void *buf, size_t count, uint64_t timeout_ms)
{
    if (check_fd(fd) != 0)
        return -1;
    if (buf == NULL && count > 0) {
        errno = EINVAL;
        return -1;
    }
    if (count > INT_MAX)
        count = INT_MAX;
    if (nonblock(fd) != 0)
        return -1;
    coco_sched_t *s = coco__io_sched();
    coco_deadline_t d = coco__deadline(timeout_ms);
    for (;;) {
        int r = recv(sock(fd), buf, (int)count, 0);
        if (r != SOCKET_ERROR)
            return r;
        coco__wsa_fail();
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -1;
        if (count == 0)
            return 0; /* as read(2): a zero-length read does not wait */
        if (coco__io_park(s, fd, COCO__EV_READ, coco__remaining(s, &d)) < 0)
            return -1;
    }
}

int coco_read(int fd, void *buf, size_t count)
{
    return coco_read_timeout(fd, buf, count, COCO_INFINITE);
}

/* ------------------------------------------------------------ write */

/* A peer that went away shows as EPIPE, as on POSIX systems. */
static int send_errno(void)
{
    int e = coco__wsa_errno(WSAGetLastError());
    return e == ECONNABORTED ? EPIPE : e;
}

int coco_write_timeout(int fd, const void *buf, size_t count, uint64_t timeout_ms)
{
    if (check_fd(fd) != 0)
        return -1;
    if (buf == NULL && count > 0) {
        errno = EINVAL;
        return -1;
    }
    if (count > INT_MAX)
        count = INT_MAX;
    if (nonblock(fd) != 0)
        return -1;
    coco_sched_t *s = coco__io_sched();
    coco_deadline_t d = coco__deadline(timeout_ms);
    const char *p = buf;
    size_t done = 0;
    do {
        int r = send(sock(fd), p + done, (int)(count - done), 0);
        if (r != SOCKET_ERROR) {
            done += (size_t)r;
            continue;
        }
        errno = send_errno();
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN ||
            coco__io_park(s, fd, COCO__EV_WRITE, coco__remaining(s, &d)) < 0) {
            /* Report what went out; the error shows on the next call. */
            return done > 0 ? (int)done : -1;
        }
    } while (done < count);
    return (int)done;
}

int coco_write(int fd, const void *buf, size_t count)
{
    return coco_write_timeout(fd, buf, count, COCO_INFINITE);
}

/* ----------------------------------------------------------- accept */

int coco_accept_timeout(int fd, void *addr, size_t *addrlen, uint64_t timeout_ms)
{
    if (check_fd(fd) != 0)
        return -1;
    if ((addr == NULL) != (addrlen == NULL)) {
        errno = EINVAL;
        return -1;
    }
    if (nonblock(fd) != 0)
        return -1;
    coco_sched_t *s = coco__io_sched();
    coco_deadline_t d = coco__deadline(timeout_ms);
    for (;;) {
        int len = 0;
        if (addrlen != NULL)
            len = *addrlen > (size_t)INT_MAX ? INT_MAX : (int)*addrlen;
        SOCKET c = accept(sock(fd), addr, addrlen != NULL ? &len : NULL);
        if (c != INVALID_SOCKET) {
            if (addrlen != NULL)
                *addrlen = (size_t)len;
            /* Whatever the table knew about this number is about an older
             * socket. */
            coco__io_reset(coco__tls_sched, (int)c);
            return (int)c;
        }
        int e = coco__wsa_errno(WSAGetLastError());
        if (e == EINTR || e == ECONNRESET)
            continue; /* the connection went before we took it */
        if (e == EMFILE || e == ENOBUFS) {
            uint64_t left = coco__remaining(s, &d);
            coco__io_backoff(s, left < ACCEPT_BACKOFF_MS ? left : ACCEPT_BACKOFF_MS);
            errno = e;
            return -1;
        }
        errno = e;
        if (e != EAGAIN)
            return -1;
        if (coco__io_park(s, fd, COCO__EV_READ, coco__remaining(s, &d)) < 0)
            return -1;
    }
}

int coco_accept(int fd, void *addr, size_t *addrlen)
{
    return coco_accept_timeout(fd, addr, addrlen, COCO_INFINITE);
}

/* ---------------------------------------------------------- connect */

/* The outcome of a connect in progress: 0 connected, -1 with errno when it
 * failed, 1 while still pending. */
static int connect_state(int fd)
{
    int err = 0;
    int len = sizeof err;
    if (getsockopt(sock(fd), SOL_SOCKET, SO_ERROR, (char *)&err, &len) != 0)
        return coco__wsa_fail();
    if (err != 0) {
        errno = coco__wsa_errno(err);
        return -1;
    }
    /* No error yet: connected once the peer's address is known. */
    struct sockaddr_storage peer;
    int plen = sizeof peer;
    if (getpeername(sock(fd), (struct sockaddr *)&peer, &plen) == 0)
        return 0;
    return 1;
}

int coco_connect_timeout(int fd, const void *addr, size_t addrlen, uint64_t timeout_ms)
{
    if (check_fd(fd) != 0)
        return -1;
    if (addr == NULL || addrlen == 0 || addrlen > (size_t)INT_MAX) {
        errno = EINVAL;
        return -1;
    }
    /* A socket connects once: the number is a new socket to us. */
    coco__io_reset(coco__tls_sched, fd);
    if (nonblock(fd) != 0)
        return -1;
    coco_sched_t *s = coco__io_sched();
    if (connect(sock(fd), addr, (int)addrlen) == 0)
        return 0;
    int e = coco__wsa_errno(WSAGetLastError());
    if (e != EAGAIN && e != EINPROGRESS && e != EINTR) {
        errno = e;
        return -1;
    }
    if (s == NULL) {
        errno = EINPROGRESS; /* completes in the background */
        return -1;
    }
    coco_deadline_t d = coco__deadline(timeout_ms);
    for (;;) {
        uint64_t left = coco__remaining(s, &d);
        if (left == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        uint64_t slice = left < CONNECT_SLICE_MS ? left : CONNECT_SLICE_MS;
        if (coco__io_wait(s, fd, COCO__EV_WRITE, slice) < 0 && errno != ETIMEDOUT)
            return -1;
        int st = connect_state(fd);
        if (st <= 0)
            return st;
    }
}

int coco_connect(int fd, const void *addr, size_t addrlen)
{
    return coco_connect_timeout(fd, addr, addrlen, COCO_INFINITE);
}

/* --------------------------------------------------- wait and close */

int coco_wait_fd(int fd, int events, uint64_t timeout_ms)
{
    if (check_fd(fd) != 0)
        return -1;
    if (events <= 0 || (events & ~(COCO_READABLE | COCO_WRITABLE)) != 0) {
        errno = EINVAL;
        return -1;
    }
    if (coco__winsock_init() != 0)
        return -1;
    WSAPOLLFD pfd = { .fd = sock(fd), .events = 0, .revents = 0 };
    if (events & COCO_READABLE)
        pfd.events |= POLLRDNORM;
    if (events & COCO_WRITABLE)
        pfd.events |= POLLWRNORM;
    if (WSAPoll(&pfd, 1, 0) == SOCKET_ERROR)
        return coco__wsa_fail();
    if (pfd.revents & POLLNVAL) {
        errno = EBADF;
        return -1;
    }
    if (pfd.revents & (POLLERR | POLLHUP))
        return events; /* the next call on fd reports the error */
    int ready = ((pfd.revents & POLLRDNORM) ? COCO_READABLE : 0) |
                ((pfd.revents & POLLWRNORM) ? COCO_WRITABLE : 0);
    if (ready != 0)
        return ready;
    return coco__io_wait_events(fd, events, timeout_ms);
}

int coco_close(int fd)
{
    if (check_fd(fd) != 0)
        return -1;
    coco__io_reset(coco__tls_sched, fd);
    if (closesocket(sock(fd)) != 0)
        return coco__wsa_fail();
    coco__io_freed(coco__tls_sched); /* an acceptor may use it now */
    return 0;
}
