/*
 * poll.h for Windows builds - the one poll(2) use the shared I/O code has
 * outside a backend: the event loop's idle wait, poll(NULL, 0, ms), when
 * timers are armed but no descriptor is watched.  WSAPoll refuses an empty
 * set, so an empty set sleeps; a non-empty one goes to WSAPoll (sockets
 * only).  Only Windows builds put this directory on the include path.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_COMPAT_WIN32_POLL_H
#define COCO_COMPAT_WIN32_POLL_H

#include <winsock2.h>

typedef unsigned long nfds_t;

static inline int coco__compat_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
    if (n == 0) {
        Sleep(timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms);
        return 0;
    }
    return WSAPoll(fds, n, timeout_ms);
}

#define poll coco__compat_poll

#endif /* COCO_COMPAT_WIN32_POLL_H */
