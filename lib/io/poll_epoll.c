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
 * epoll watches an open file, not a number: when a descriptor is closed
 * while a dup of it (or a forked child) keeps the file open, the file
 * stays registered and goes on reporting under its old number, which
 * may by then name another file.  So each registration carries the
 * entry's generation (pidx, which this backend does not otherwise use),
 * bumped whenever the table forgets the number, and events of an older
 * generation are dropped.  That costs a comparison per event and no
 * system call at close.
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
    ev.data.u64 = (uint64_t)ent->pidx << 32 | (uint32_t)fd;
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
    /* No system call: closing the last descriptor of a file drops its
     * registration, and registering a new file under the same number
     * needs no removal first.  Should the old file live on elsewhere,
     * its events still come, with a generation that no longer matches. */
    (void)io;
    (void)fd;
    ent->reg = 0;
    ent->pidx++;
}

int coco__poller_forked(struct coco_io *io)
{
    struct epoll_state *ep = io->poller;
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return -1;
    close(ep->epfd); /* the parent's instance lives on in the parent */
    ep->epfd = epfd;
    /* Register afresh whatever someone is parked on; an edge-triggered
     * registration reports the state the file is in when it is made. */
    for (size_t fd = 0; fd < io->nfds; fd++) {
        coco_fd_t *ent = &io->fds[fd];
        if (!ent->reg)
            continue;
        ent->reg = 0;
        ent->drained = 0;
        unsigned events = (ent->reader != NULL ? COCO__EV_READ : 0u) |
                          (ent->writer != NULL ? COCO__EV_WRITE : 0u);
        if (io->wake_armed && (int)fd == io->wake_rd)
            events |= COCO__EV_READ;
        if (events != 0 && coco__poller_want(io, (int)fd, ent, events) != 0)
            coco__io_ready(io, (int)fd, COCO__EV_ERROR); /* let the call see why */
    }
    return 0;
}

int coco__poller_wait(struct coco_io *io, int timeout_ms)
{
    struct epoll_state *ep = io->poller;
    int n = epoll_wait(ep->epfd, ep->ev, MAX_EVENTS, timeout_ms);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        uint32_t e = ep->ev[i].events;
        uint64_t data = ep->ev[i].data.u64;
        int fd = (int)(uint32_t)data;
        if ((size_t)fd >= io->nfds || io->fds[fd].pidx != (uint32_t)(data >> 32))
            continue; /* a file this number named before */
        unsigned ev = 0;
        if (e & EPOLLIN)
            ev |= COCO__EV_READ;
        if (e & EPOLLRDHUP)
            ev |= COCO__EV_READ | COCO__EV_HUP;
        if (e & EPOLLOUT)
            ev |= COCO__EV_WRITE;
        if (e & (EPOLLERR | EPOLLHUP))
            ev |= COCO__EV_ERROR;
        if (e & EPOLLPRI)
            ev |= COCO__EV_READ | COCO__EV_URGENT;
        coco__io_ready(io, fd, ev);
    }
    return 0;
}
