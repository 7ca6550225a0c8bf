/*
 * io_win32.c - the attempts under the I/O calls on Windows (see io_os.h),
 * over Winsock: one recv, send, accept, connect, WSAPoll or closesocket
 * each, never waiting, for sockets (SOCKET handles passed as int, as
 * socket() returns them).
 *
 * Winsock has no per-call non-blocking flag, so a socket is switched to
 * non-blocking mode (ioctlsocket FIONBIO) the first time the library sees
 * it, and the descriptor table remembers that until coco_close(), accept
 * or connect make the number new again.  Pipes, files and consoles are
 * not sockets and are refused with EBADF.  There is no SIGPIPE to
 * suppress.
 *
 * SPDX-License-Identifier: MIT
 */
#include "io/winsock.h"
#include "io/io_os.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* Older WSAPoll never reports a refused connection: look at SO_ERROR at
 * least this often while a connect is under way. */
const uint64_t coco__os_connect_slice_ms = 250;

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

int coco__os_nonblock(int fd)
{
    return nonblock(fd);
}

/* ------------------------------------------------- read and write */

ssize_t coco__os_read(coco_fd_t *ent, int fd, void *buf, size_t n)
{
    if ((ent == NULL || ent->kind != COCO__FD_SOCKET) && nonblock(fd) != 0)
        return -1;
    int r = recv(sock(fd), buf, (int)n, 0);
    return r != SOCKET_ERROR ? r : coco__wsa_fail();
}

ssize_t coco__os_write(coco_fd_t *ent, int fd, const void *buf, size_t n)
{
    if ((ent == NULL || ent->kind != COCO__FD_SOCKET) && nonblock(fd) != 0)
        return -1;
    int r = send(sock(fd), buf, (int)n, 0);
    if (r != SOCKET_ERROR)
        return r;
    /* A peer that went away shows as EPIPE, as on POSIX systems. */
    int e = coco__wsa_errno(WSAGetLastError());
    errno = e == ECONNABORTED ? EPIPE : e;
    return -1;
}

/* Telling a TCP socket from others would cost a query per socket for a
 * saving WSAPoll's level-triggered wait already makes small. */
uint8_t coco__os_short_read(int fd)
{
    (void)fd;
    return COCO__SHORT_UNSURE;
}

/* ---------------------------------------------- accept and connect */

int coco__os_accept(int fd, void *addr, size_t *addrlen)
{
    int len = 0;
    if (addrlen != NULL)
        len = *addrlen > (size_t)INT_MAX ? INT_MAX : (int)*addrlen;
    SOCKET c = accept(sock(fd), addr, addrlen != NULL ? &len : NULL);
    if (c == INVALID_SOCKET) {
        int e = coco__wsa_errno(WSAGetLastError());
        /* The connection went before it was taken. */
        errno = e == ECONNRESET ? ECONNABORTED : e;
        return -1;
    }
    if (addrlen != NULL)
        *addrlen = (size_t)len;
    return (int)c;
}

int coco__os_connect(int fd, const void *addr, size_t addrlen)
{
    if (connect(sock(fd), addr, (int)addrlen) == 0)
        return COCO__OS_CONNECTED;
    int e = coco__wsa_errno(WSAGetLastError());
    /* A non-blocking connect under way says WSAEWOULDBLOCK. */
    if (e == EAGAIN || e == EINPROGRESS || e == EINTR)
        return COCO__OS_PENDING;
    errno = e;
    return -1;
}

int coco__os_connect_state(int fd, const void *addr, size_t addrlen)
{
    (void)addr;
    (void)addrlen;
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
        return COCO__OS_CONNECTED;
    return COCO__OS_PENDING;
}

/* ------------------------------------------------- poll and close */

int coco__os_ready(int fd, unsigned events)
{
    if (coco__winsock_init() != 0)
        return -1;
    WSAPOLLFD pfd = { .fd = sock(fd), .events = 0, .revents = 0 };
    if (events & COCO__EV_READ)
        pfd.events |= POLLRDNORM;
    if (events & COCO__EV_WRITE)
        pfd.events |= POLLWRNORM;
    if (WSAPoll(&pfd, 1, 0) == SOCKET_ERROR)
        return coco__wsa_fail();
    if (pfd.revents & POLLNVAL) {
        errno = EBADF;
        return -1;
    }
    return (int)(((pfd.revents & POLLRDNORM) ? COCO__EV_READ : 0u) |
                 ((pfd.revents & POLLWRNORM) ? COCO__EV_WRITE : 0u) |
                 ((pfd.revents & (POLLERR | POLLHUP)) ? COCO__EV_ERROR : 0u));
}

int coco__os_close(int fd)
{
    return closesocket(sock(fd)) == 0 ? 0 : coco__wsa_fail();
}

/* ------------------------------------------------------ wake descriptor */

/* A UDP socket on the loopback interface, connected to itself: a datagram
 * sent to it makes it readable for WSAPoll. */
int coco__io_wake_open(struct coco_io *io)
{
    SOCKET so = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    if (so == INVALID_SOCKET)
        return coco__wsa_fail();
    struct sockaddr_in a;
    int len = (int)sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    u_long on = 1;
    if (bind(so, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(so, (struct sockaddr *)&a, &len) != 0 ||
        connect(so, (struct sockaddr *)&a, sizeof a) != 0 ||
        ioctlsocket(so, FIONBIO, &on) != 0) {
        int rc = coco__wsa_fail();
        closesocket(so);
        return rc;
    }
    io->wake_rd = io->wake_wr = (int)so;
    return 0;
}

void coco__io_wake_close(struct coco_io *io)
{
    closesocket(sock(io->wake_rd));
    io->wake_armed = false;
}

void coco__io_wake_write(struct coco_io *io)
{
    char b = 1;
    (void)send(sock(io->wake_wr), &b, 1, 0);
}

void coco__io_wake_read(struct coco_io *io)
{
    char buf[64];
    while (recv(sock(io->wake_rd), buf, sizeof buf, 0) > 0)
        ;
}
