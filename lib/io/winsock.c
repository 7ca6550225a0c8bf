/*
 * winsock.c - Winsock start-up and its error codes in errno terms.
 *
 * SPDX-License-Identifier: MIT
 */
#include "io/winsock.h"

#include <errno.h>

static volatile LONG init_state; /* 0 not yet, 1 starting, 2 up, 3 failed */

int coco__winsock_init(void)
{
    if (InterlockedCompareExchange(&init_state, 1, 0) == 0) {
        WSADATA wd;
        /* Never cleaned up: sockets the application still holds would go
         * with it. */
        int rc = WSAStartup(MAKEWORD(2, 2), &wd);
        InterlockedExchange(&init_state, rc == 0 ? 2 : 3);
    }
    while (InterlockedCompareExchange(&init_state, 1, 1) == 1)
        Sleep(0);
    if (init_state != 2) {
        errno = ENOSYS;
        return -1;
    }
    return 0;
}

int coco__wsa_errno(int wsa_error)
{
    switch (wsa_error) {
    case WSAEWOULDBLOCK:    return EAGAIN;
    case WSAEINPROGRESS:    return EINPROGRESS;
    case WSAEALREADY:       return EALREADY;
    case WSAENOTSOCK:       /* the handle is not an open socket */
    case WSAEBADF:
    case WSANOTINITIALISED: return EBADF;
    case WSAEINTR:          return EINTR;
    case WSAEINVAL:         return EINVAL;
    case WSAEFAULT:         return EFAULT;
    case WSAEMFILE:         return EMFILE;
    case WSAENOBUFS:        return ENOBUFS;
    case WSAEMSGSIZE:       return EMSGSIZE;
    case WSAEACCES:         return EACCES;
    case WSAECONNRESET:     return ECONNRESET;
    case WSAECONNABORTED:   return ECONNABORTED;
    case WSAECONNREFUSED:   return ECONNREFUSED;
    case WSAESHUTDOWN:      return EPIPE;
    case WSAENOTCONN:       return ENOTCONN;
    case WSAEISCONN:        return EISCONN;
    case WSAETIMEDOUT:      return ETIMEDOUT;
    case WSAENETDOWN:       return ENETDOWN;
    case WSAENETUNREACH:    return ENETUNREACH;
    case WSAENETRESET:      return ENETRESET;
    case WSAEHOSTUNREACH:   return EHOSTUNREACH;
    case WSAEADDRINUSE:     return EADDRINUSE;
    case WSAEADDRNOTAVAIL:  return EADDRNOTAVAIL;
    case WSAEAFNOSUPPORT:   return EAFNOSUPPORT;
    case WSAEOPNOTSUPP:     return EOPNOTSUPP;
    default:                return EIO;
    }
}

int coco__wsa_fail(void)
{
    errno = coco__wsa_errno(WSAGetLastError());
    return -1;
}
