/*
 * poll_kqueue.c - the kqueue backend (macOS, the BSDs).
 *
 * Same policy as the epoll backend: a descriptor is registered once, for
 * both filters, edge-triggered (EV_CLEAR), the first time a coroutine
 * parks on it, and stays registered until it is forgotten.  The I/O calls
 * try the operation first and park only on EAGAIN, after which an edge is
 * guaranteed.  Written to the backend interface; not exercised by the
 * Linux build.
 *
 * SPDX-License-Identifier: MIT
 */
#include "io/io.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_EVENTS 256

struct kq_state {
    int kq;
    struct kevent ev[MAX_EVENTS];
};

int coco__poller_init(struct coco_io *io)
{
    struct kq_state *k = malloc(sizeof *k);
    if (k == NULL) {
        errno = ENOMEM;
        return -1;
    }
    k->kq = kqueue();
    if (k->kq < 0) {
        int e = errno;
        free(k);
        errno = e;
        return -1;
    }
    io->poller = k;
    return 0;
}

void coco__poller_fini(struct coco_io *io)
{
    struct kq_state *k = io->poller;
    if (k == NULL)
        return;
    close(k->kq);
    free(k);
    io->poller = NULL;
}

/* Not relied on: the read filter reports no urgent data, before which a
 * TCP read can stop short, and this backend cannot be run here. */
const int coco__poller_sees_arrivals = 0;

int coco__poller_want(struct coco_io *io, int fd, coco_fd_t *ent, unsigned events)
{
    struct kq_state *k = io->poller;
    if (events == 0 || ent->reg)
        return 0;
    struct kevent ch[2];
    EV_SET(&ch[0], (uintptr_t)fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, NULL);
    EV_SET(&ch[1], (uintptr_t)fd, EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, NULL);
    if (kevent(k->kq, ch, 2, NULL, 0, NULL) != 0)
        return -1;
    ent->reg = 1;
    return 0;
}

void coco__poller_forget(struct coco_io *io, int fd, coco_fd_t *ent)
{
    /* No system call: closing a descriptor drops its registration, even
     * when the file stays open elsewhere (kevents belong to the number),
     * and registering a new one under the same number needs no removal
     * first. */
    (void)io;
    (void)fd;
    ent->reg = 0;
}

int coco__poller_forked(struct coco_io *io)
{
    /* A child does not inherit a kqueue: the old number is not ours to
     * close.  Make one and register afresh what someone is parked on. */
    struct kq_state *k = io->poller;
    int kq = kqueue();
    if (kq < 0)
        return -1;
    k->kq = kq;
    for (size_t fd = 0; fd < io->nfds; fd++) {
        coco_fd_t *ent = &io->fds[fd];
        if (!ent->reg)
            continue;
        ent->reg = 0;
        unsigned events = (ent->reader != NULL ? COCO__EV_READ : 0u) |
                          (ent->writer != NULL ? COCO__EV_WRITE : 0u);
        if (io->wake_armed && (int)fd == io->wake_rd)
            events |= COCO__EV_READ;
        if (events != 0 && coco__poller_want(io, (int)fd, ent, events) != 0)
            coco__io_ready(io, (int)fd, COCO__EV_ERROR);
    }
    return 0;
}

int coco__poller_wait(struct coco_io *io, int timeout_ms)
{
    struct kq_state *k = io->poller;
    struct timespec ts, *tp = NULL;
    if (timeout_ms >= 0) {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
        tp = &ts;
    }
    int n = kevent(k->kq, NULL, 0, k->ev, MAX_EVENTS, tp);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        const struct kevent *e = &k->ev[i];
        unsigned ev = e->filter == EVFILT_READ ? COCO__EV_READ : COCO__EV_WRITE;
        if (e->flags & (EV_ERROR | EV_EOF))
            ev |= COCO__EV_ERROR;
        coco__io_ready(io, (int)e->ident, ev);
    }
    return 0;
}
