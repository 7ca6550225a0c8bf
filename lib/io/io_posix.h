/*
 * io_posix.h - the read and write attempts of POSIX systems (io_os.h),
 * inline: the socket case is the path of every coco_read() and
 * coco_write() and takes one system call.  Descriptors that are not
 * sockets (pipes, terminals) take the out-of-line path in io_posix.c.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_IO_POSIX_H
#define COCO_IO_POSIX_H

#include "io/io.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifndef MSG_NOSIGNAL
#  define MSG_NOSIGNAL 0   /* hosts without it get F_SETNOSIGPIPE in io_posix.c */
#endif

/* A read or write on fd, which recv() or send() just refused as not a
 * socket, or which the table knows is none. */
ssize_t coco__os_read_other(coco_fd_t *ent, int fd, void *buf, size_t n);
ssize_t coco__os_write_other(coco_fd_t *ent, int fd, const void *buf, size_t n);

static inline ssize_t coco__os_read(coco_fd_t *ent, int fd, void *buf, size_t n)
{
    if (ent == NULL || ent->kind <= COCO__FD_SOCKET) {
        ssize_t r = recv(fd, buf, n, MSG_DONTWAIT);
        if (r >= 0 || errno != ENOTSOCK) {
            if (ent != NULL)
                ent->kind = COCO__FD_SOCKET;
            return r;
        }
    }
    return coco__os_read_other(ent, fd, buf, n);
}

static inline ssize_t coco__os_write(coco_fd_t *ent, int fd, const void *buf, size_t n)
{
    if (ent == NULL || ent->kind <= COCO__FD_SOCKET) {
        ssize_t r = send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r >= 0 || errno != ENOTSOCK) {
            if (ent != NULL)
                ent->kind = COCO__FD_SOCKET;
            return r;
        }
    }
    return coco__os_write_other(ent, fd, buf, n);
}

#endif /* COCO_IO_POSIX_H */
