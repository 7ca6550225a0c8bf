/*
 * poll_poll.c - the poll(2) backend: portable POSIX, level-triggered.
 *
 * The pollfd array holds exactly the descriptors someone is parked on,
 * kept up to date as coroutines park and wake (each entry's place in the
 * array is remembered in the descriptor table), so a wait hands the array
 * to the kernel as it is.
 *
 * SPDX-License-Identifier: MIT
 */
#include "io/io.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

struct poll_state {
    struct pollfd *pfd;
    size_t len, cap;
};

int coco__poller_init(struct coco_io *io)
{
    struct poll_state *ps = calloc(1, sizeof *ps);
    if (ps == NULL) {
        errno = ENOMEM;
        return -1;
    }
    io->poller = ps;
    return 0;
}

void coco__poller_fini(struct coco_io *io)
{
    struct poll_state *ps = io->poller;
    if (ps == NULL)
        return;
    free(ps->pfd);
    free(ps);
    io->poller = NULL;
}

static short to_poll(unsigned events)
{
    return (short)(((events & COCO__EV_READ) ? POLLIN : 0) |
                   ((events & COCO__EV_WRITE) ? POLLOUT : 0));
}

static void drop(struct coco_io *io, struct poll_state *ps, coco_fd_t *ent)
{
    size_t i = ent->pidx;
    ps->len--;
    if (i != ps->len) {
        ps->pfd[i] = ps->pfd[ps->len];
        io->fds[ps->pfd[i].fd].pidx = (uint32_t)i;
    }
    ent->reg = 0;
}

/* Level-triggered and asked afresh on every wait: a reader that parks
 * while data is queued is woken by the very next poll. */
const int coco__poller_sees_arrivals = 1;

int coco__poller_want(struct coco_io *io, int fd, coco_fd_t *ent, unsigned events)
{
    struct poll_state *ps = io->poller;
    if (events == 0) {
        if (ent->reg)
            drop(io, ps, ent);
        return 0;
    }
    if (!ent->reg) {
        if (ps->len == ps->cap) {
            size_t cap = ps->cap ? ps->cap * 2 : 64;
            struct pollfd *p = realloc(ps->pfd, cap * sizeof *p);
            if (p == NULL) {
                errno = ENOMEM;
                return -1;
            }
            ps->pfd = p;
            ps->cap = cap;
        }
        ent->pidx = (uint32_t)ps->len++;
        ent->reg = 1;
        ps->pfd[ent->pidx].fd = fd;
        ps->pfd[ent->pidx].revents = 0;
    }
    ps->pfd[ent->pidx].events = to_poll(events);
    return 0;
}

/* Nothing of this backend lives in the kernel between waits. */
int coco__poller_forked(struct coco_io *io)
{
    (void)io;
    return 0;
}

void coco__poller_forget(struct coco_io *io, int fd, coco_fd_t *ent)
{
    (void)fd;
    if (ent->reg)
        drop(io, io->poller, ent);
}

int coco__poller_wait(struct coco_io *io, int timeout_ms)
{
    struct poll_state *ps = io->poller;
    int n = poll(ps->pfd, (nfds_t)ps->len, timeout_ms);
    if (n <= 0)
        return n < 0 ? -1 : 0;
    /* Backwards: waking a coroutine may drop its entry, and the one moved
     * into its place has been seen already. */
    for (size_t i = ps->len; i-- > 0 && n > 0;) {
        if (i >= ps->len)
            continue;
        short re = ps->pfd[i].revents;
        if (re == 0)
            continue;
        n--;
        ps->pfd[i].revents = 0;
        unsigned ev = 0;
        if (re & POLLIN)
            ev |= COCO__EV_READ;
        if (re & POLLOUT)
            ev |= COCO__EV_WRITE;
        if (re & (POLLERR | POLLHUP | POLLNVAL))
            ev |= COCO__EV_ERROR;
        coco__io_ready(io, ps->pfd[i].fd, ev);
    }
    return 0;
}
