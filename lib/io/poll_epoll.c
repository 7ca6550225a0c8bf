/*
 * poll_epoll.c - the epoll backend (Linux).
 *
 * A descriptor is registered once, edge-triggered for both directions, the
 * first time a coroutine parks on it, and stays registered until it is
 * forgotten (coco_close(), or the number turning up again from accept or
 * connect).  Parking and waking then cost no system call at all: the I/O
 * calls always try the operation first and park only on EAGAIN, which is
 * exactly the condition after which an edge is guaranteed to be reported.
 * A readiness edge that arrives while nobody is parked wakes nobody; it
 * only tells the table that the descriptor has news (see io.c).  Urgent
 * data (EPOLLPRI) is watched too, because a TCP read stops short of it.
 *
 * SPDX-License-Identifier: MIT
 */
#include "io/io.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_EVENTS 256

/* Every arrival of data is an edge, and an edge is never lost: one that
 * comes while nobody is parked still reaches coco__io_ready(). */
const int coco__poller_sees_arrivals = 1;

struct epoll_state {
    int epfd;
    struct epoll_event ev[MAX_EVENTS];
};

int coco__poller_init(struct coco_io *io)
{
    struct epoll_state *ep = malloc(sizeof *ep);
    if (ep == NULL) {
        errno = ENOMEM;
        return -1;
    }
    ep->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ep->epfd < 0) {
        int e = errno;
        free(ep);
        errno = e;
        return -1;
    }
    io->poller = ep;
    return 0;
}

void coco__poller_fini(struct coco_io *io)
{
    struct epoll_state *ep = io->poller;
    if (ep == NULL)
        return;
    close(ep->epfd);
    free(ep);
    io->poller = NULL;
}

int coco__poller_want(struct coco_io *io, int fd, coco_fd_t *ent, unsigned events)
{
    struct epoll_state *ep = io->poller;
    if (events == 0 || ent->reg)
        return 0;
    struct epoll_event ev;
    ev.events = EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = 0;
    ev.data.fd = fd;
    if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        /* Still registered from an earlier life of the same file. */
        if (errno != EEXIST || epoll_ctl(ep->epfd, EPOLL_CTL_MOD, fd, &ev) != 0)
            return -1;
    }
    ent->reg = 1;
    return 0;
}

void coco__poller_forget(struct coco_io *io, int fd, coco_fd_t *ent)
{
    /* No system call: closing a descriptor drops its registration, and
     * registering a new one under the same number needs no removal
     * first.  Were the old file still open elsewhere (a dup), its events
     * would only cause spurious wakes, after which the I/O call retries. */
    (void)io;
    (void)fd;
    ent->reg = 0;
}

int coco__poller_wait(struct coco_io *io, int timeout_ms)
{
    struct epoll_state *ep = io->poller;
    int n = epoll_wait(ep->epfd, ep->ev, MAX_EVENTS, timeout_ms);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        uint32_t e = ep->ev[i].events;
        unsigned ev = 0;
        if (e & (EPOLLIN | EPOLLRDHUP))
            ev |= COCO__EV_READ;
        if (e & EPOLLOUT)
            ev |= COCO__EV_WRITE;
        if (e & (EPOLLERR | EPOLLHUP))
            ev |= COCO__EV_ERROR;
        if (e & EPOLLPRI)
            ev |= COCO__EV_READ | COCO__EV_URGENT;
        coco__io_ready(io, ep->ev[i].data.fd, ev);
    }
    return 0;
}
