/*
 * io_os.h - the system's side of the I/O calls: one attempt at each
 * operation, never waiting, with the outcome in errno terms (EAGAIN: it
 * would have to wait).  io.c holds everything about waiting -- argument
 * checks, deadlines, parking, fairness, the accept back-off, the shortcut
 * for drained sockets -- once for every system; io_posix.c implements
 * these attempts for POSIX systems and io_win32.c over Winsock.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_IO_OS_H
#define COCO_IO_OS_H

#include "io/io.h"

#include <sys/types.h>

/* One read of at most n bytes (n <= INT_MAX) from fd: the count, 0 at end
 * of file, or -1 with errno.  ent is fd's table entry, or NULL when the
 * table does not cover fd yet; the attempt keeps in ent->kind what it
 * learnt about the descriptor.
 *   ssize_t coco__os_read(coco_fd_t *ent, int fd, void *buf, size_t n);
 * One write of at most n bytes (n <= INT_MAX), the same way.  A peer that
 * went away is EPIPE, never a signal.
 *   ssize_t coco__os_write(coco_fd_t *ent, int fd, const void *buf, size_t n);
 * POSIX systems have these two inline (io_posix.h). */
#ifdef _WIN32
ssize_t coco__os_read(coco_fd_t *ent, int fd, void *buf, size_t n);
ssize_t coco__os_write(coco_fd_t *ent, int fd, const void *buf, size_t n);
#else
#  include "io/io_posix.h"
#endif

/* Whether a read of fd that returned less than asked proves its queue
 * empty until the backend reports an arrival: COCO__SHORT_DRAINS or
 * COCO__SHORT_UNSURE.  Asked once per descriptor. */
uint8_t coco__os_short_read(int fd);

/* Puts a socket that accepts or connects into non-blocking mode for good.
 * 0, or -1 with errno. */
int coco__os_nonblock(int fd);

/* One accept on the listening socket fd: the new socket, non-blocking and
 * (where the system has the notion) close-on-exec, or -1 with errno.  A
 * connection that went before it was taken is ECONNABORTED.  addr and
 * addrlen as for coco_accept(). */
int coco__os_accept(int fd, void *addr, size_t *addrlen);

/* How a connect stands. */
enum {
    COCO__OS_CONNECTED = 0,     /* done */
    COCO__OS_PENDING = 1,       /* under way: wait until fd is writable */
    COCO__OS_REFUSED_NOW = 2    /* the listener has no room, and nothing
                                 * will report when it has: try later */
};
/* Starts connecting fd to addr: COCO__OS_*, or -1 with errno (EISCONN and
 * EALREADY when the socket was connected or connecting already). */
int coco__os_connect(int fd, const void *addr, size_t addrlen);
/* After a wait: COCO__OS_CONNECTED, COCO__OS_PENDING, or -1 with the
 * errno the connect failed with.  Takes the address again for systems
 * that finish a connect by repeating it. */
int coco__os_connect_state(int fd, const void *addr, size_t addrlen);
/* Longest wait for a connect between two looks at its state:
 * COCO_INFINITE where the backend reports a failed connect. */
extern const uint64_t coco__os_connect_slice_ms;

/* Which of events (COCO__EV_READ, COCO__EV_WRITE) fd is ready for now,
 * with COCO__EV_ERROR for an error or hang-up; 0 if none.  -1 with errno
 * (EBADF: not an open descriptor). */
int coco__os_ready(int fd, unsigned events);

/* Closes fd.  0, or -1 with errno. */
int coco__os_close(int fd);

#endif /* COCO_IO_OS_H */
