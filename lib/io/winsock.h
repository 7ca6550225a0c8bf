/*
 * winsock.h - what the Windows I/O files (io_win32.c, poll_poll.c)
 * share: starting Winsock once, and the Winsock error of the last call as
 * the errno value the API documents.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_WINSOCK_H
#define COCO_WINSOCK_H

#include "io/io.h"

#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>

/* Starts Winsock 2.2 for the process the first time; later calls only
 * report how that went.  0, or -1 with errno. */
int coco__winsock_init(void);

/* errno for a Winsock error code: WSAEWOULDBLOCK is EAGAIN, a handle that
 * is not an open socket is EBADF, and so on. */
int coco__wsa_errno(int wsa_error);

/* Sets errno from WSAGetLastError() and returns -1, for a failed call. */
int coco__wsa_fail(void);

#endif /* COCO_WINSOCK_H */
