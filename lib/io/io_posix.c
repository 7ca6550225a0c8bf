/*
 * io_posix.c - the attempts under the I/O calls on POSIX systems (see
 * io_os.h): one recv, send, accept, connect, poll or close each, never
 * waiting.
 *
 * Descriptors are taken as socket() and pipe() return them: sockets are
 * driven with MSG_DONTWAIT (and MSG_NOSIGNAL, so a vanished peer is an
 * EPIPE, never a SIGPIPE), which needs no change to the descriptor.
 * Pipes, often shared with other processes that expect them to block
 * (a redirected stdout), are driven with RWF_NOWAIT where the system has
 * it (Linux), which needs no change either.  Anything else (a terminal)
 * is switched to O_NONBLOCK for the one system call only and back at
 * once, when it was blocking.  The sockets that accept and connect are
 * switched to O_NONBLOCK for good: connect(2) and accept(2) have no
 * per-call flag.
 *
 * Sockets are the common case: their read and write attempts are inline
 * in io_posix.h, and the pipe and terminal paths here are kept out of line
 * so that the socket path stays short.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE 1 /* accept4 */
#endif
#include "io/io_os.h"

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
#ifdef __linux__
#  include <sys/eventfd.h>
#endif

/* Pipes on Linux take a per-call non-blocking flag. */
#if defined(HAVE_PREADV2) && defined(HAVE_PWRITEV2) && defined(RWF_NOWAIT)
#  define HAVE_RWF_NOWAIT 1
#endif

/* The paths for descriptors that are not sockets (the socket path is
 * inline, in io_posix.h). */
#if defined(__GNUC__)
#  define IO_COLD __attribute__((noinline, cold))
#else
#  define IO_COLD COCO__NOINLINE
#endif

/* The connect of a POSIX system that fails is reported by every backend
 * (as an error or hang-up): wait for it as long as the call may. */
const uint64_t coco__os_connect_slice_ms = COCO_INFINITE;

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

int coco__os_nonblock(int fd)
{
    return set_nonblock(fd);
}

/* ------------------------------------------------- not a socket */

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

/* What a descriptor that is not a socket is. */
static IO_COLD uint8_t other_kind(int fd)
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
 * cache" and its EAGAIN cannot be waited for.)  Without a per-call flag
 * the descriptor's mode is checked every time: another process may have
 * changed it. */
static IO_COLD ssize_t other_rw(coco_fd_t *ent, int fd, void *rbuf, const void *wbuf,
                                size_t n)
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

/* ------------------------------------------------- read and write */

/* What follows the refusal of recv() or send(): the table learns what fd
 * is, and the call goes the way that suits it. */
IO_COLD ssize_t coco__os_read_other(coco_fd_t *ent, int fd, void *buf, size_t n)
{
    if (ent != NULL && ent->kind <= COCO__FD_SOCKET)
        ent->kind = other_kind(fd);
    return other_rw(ent, fd, buf, NULL, n);
}

IO_COLD ssize_t coco__os_write_other(coco_fd_t *ent, int fd, const void *buf, size_t n)
{
    if (ent != NULL && ent->kind <= COCO__FD_SOCKET)
        ent->kind = other_kind(fd);
    return other_rw(ent, fd, NULL, buf, n);
}

/* A TCP read stops early only at urgent data, which the backends report;
 * Unix-domain, datagram and pipe reads can stop early for other reasons. */
uint8_t coco__os_short_read(int fd)
{
#if defined(SO_PROTOCOL) && defined(IPPROTO_TCP)
    int proto = 0;
    socklen_t len = sizeof proto;
    if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == 0 && proto == IPPROTO_TCP)
        return COCO__SHORT_DRAINS;
#else
    (void)fd;
#endif
    return COCO__SHORT_UNSURE;
}

/* ---------------------------------------------- accept and connect */

/* The accepted socket is non-blocking and close-on-exec: a server's
 * connections are its own, not something every program it runs (system,
 * popen) should hold open. */
int coco__os_accept(int fd, void *addr, size_t *addrlen)
{
    socklen_t len = 0;
    if (addrlen != NULL)
        len = *addrlen > (size_t)INT_MAX ? (socklen_t)INT_MAX : (socklen_t)*addrlen;
    socklen_t *lenp = addrlen != NULL ? &len : NULL;
#if defined(HAVE_ACCEPT4) && defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
    int c = accept4(fd, addr, lenp, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    int c = accept(fd, addr, lenp);
    if (c >= 0 && (set_nonblock(c) != 0 || fcntl(c, F_SETFD, FD_CLOEXEC) != 0)) {
        int e = errno;
        close(c);
        errno = e;
        return -1;
    }
#endif
    if (c >= 0 && addrlen != NULL)
        *addrlen = len;
    return c;
}

int coco__os_connect(int fd, const void *addr, size_t addrlen)
{
    if (connect(fd, addr, (socklen_t)addrlen) == 0)
        return COCO__OS_CONNECTED;
    if (errno == EINPROGRESS || errno == EINTR)
        return COCO__OS_PENDING;
    /* A Unix-domain listener whose backlog is full refuses at once with
     * EAGAIN where a blocking connect(2) would wait; nothing reports room
     * in another socket's backlog. */
    if (errno == EAGAIN && ((const struct sockaddr *)addr)->sa_family == AF_UNIX)
        return COCO__OS_REFUSED_NOW;
    return -1;
}

int coco__os_connect_state(int fd, const void *addr, size_t addrlen)
{
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
        return COCO__OS_CONNECTED;
    if (errno == EALREADY || errno == EINPROGRESS || errno == EINTR)
        return COCO__OS_PENDING;
    return -1;
}

/* ------------------------------------------------- poll and close */

int coco__os_ready(int fd, unsigned events)
{
    struct pollfd pfd = { .fd = fd, .events = 0, .revents = 0 };
    if (events & COCO__EV_READ)
        pfd.events |= POLLIN;
    if (events & COCO__EV_WRITE)
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
    return (int)(((pfd.revents & POLLIN) ? COCO__EV_READ : 0u) |
                 ((pfd.revents & POLLOUT) ? COCO__EV_WRITE : 0u) |
                 ((pfd.revents & (POLLERR | POLLHUP)) ? COCO__EV_ERROR : 0u));
}

int coco__os_close(int fd)
{
    return close(fd);
}

/* ------------------------------------------------------ wake descriptor */

int coco__io_wake_open(struct coco_io *io)
{
#ifdef __linux__
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return -1;
    io->wake_rd = io->wake_wr = fd;
#else
    int p[2];
    if (pipe(p) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        (void)fcntl(p[i], F_SETFD, FD_CLOEXEC);
        (void)fcntl(p[i], F_SETFL, fcntl(p[i], F_GETFL) | O_NONBLOCK);
    }
    io->wake_rd = p[0];
    io->wake_wr = p[1];
#endif
    return 0;
}

void coco__io_wake_close(struct coco_io *io)
{
    if (io->wake_wr != io->wake_rd)
        close(io->wake_wr);
    close(io->wake_rd);
    io->wake_armed = false;
}

void coco__io_wake_write(struct coco_io *io)
{
    uint64_t one = 1;
    /* Full (a pipe) or at its limit (an eventfd): a wake-up is pending
     * anyway. */
    ssize_t n = write(io->wake_wr, &one, io->wake_wr == io->wake_rd ? sizeof one : 1);
    (void)n;
}

void coco__io_wake_read(struct coco_io *io)
{
    char buf[64];
    while (read(io->wake_rd, buf, sizeof buf) > 0)
        ;
}
