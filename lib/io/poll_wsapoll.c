/*
 * poll_wsapoll.c - the WSAPoll backend, for Windows: level-triggered,
 * sockets only.
 *
 * The same design as poll_poll.c: the WSAPOLLFD array holds exactly the
 * sockets someone is parked on, each entry's place remembered in the
 * descriptor table, so a wait hands the array to Winsock as it is.
 *
 * Windows before 10 version 2004 does not report a failed connect()
 * through WSAPoll; io_win32.c looks at SO_ERROR while it waits.
 *
 * SPDX-License-Identifier: MIT
 */
#include "io/winsock.h"

#include <errno.h>
#include <stdlib.h>

struct wsapoll_state {
    WSAPOLLFD *pfd;
    size_t len, cap;
};

int coco__poller_init(struct coco_io *io)
{
    if (coco__winsock_init() != 0)
        return -1;
    struct wsapoll_state *ps = calloc(1, sizeof *ps);
    if (ps == NULL) {
        errno = ENOMEM;
        return -1;
    }
    io->poller = ps;
    return 0;
}

void coco__poller_fini(struct coco_io *io)
{
    struct wsapoll_state *ps = io->poller;
    if (ps == NULL)
        return;
    free(ps->pfd);
    free(ps);
    io->poller = NULL;
}

static SHORT to_poll(unsigned events)
{
    /* WSAPoll refuses anything but these in events. */
    return (SHORT)(((events & COCO__EV_READ) ? POLLRDNORM : 0) |
                   ((events & COCO__EV_WRITE) ? POLLWRNORM : 0));
}

static void drop(struct coco_io *io, struct wsapoll_state *ps, coco_fd_t *ent)
{
    size_t i = ent->pidx;
    ps->len--;
    if (i != ps->len) {
        ps->pfd[i] = ps->pfd[ps->len];
        io->fds[ps->pfd[i].fd].pidx = (uint32_t)i;
    }
    ent->reg = 0;
}

int coco__poller_want(struct coco_io *io, int fd, coco_fd_t *ent, unsigned events)
{
    struct wsapoll_state *ps = io->poller;
    if (events == 0) {
        if (ent->reg)
            drop(io, ps, ent);
        return 0;
    }
    if (!ent->reg) {
        if (ps->len == ps->cap) {
            size_t cap = ps->cap ? ps->cap * 2 : 64;
            WSAPOLLFD *p = realloc(ps->pfd, cap * sizeof *p);
            if (p == NULL) {
                errno = ENOMEM;
                return -1;
            }
            ps->pfd = p;
            ps->cap = cap;
        }
        ent->pidx = (uint32_t)ps->len++;
        ent->reg = 1;
        ps->pfd[ent->pidx].fd = (SOCKET)(unsigned)fd;
        ps->pfd[ent->pidx].revents = 0;
    }
    ps->pfd[ent->pidx].events = to_poll(events);
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
    struct wsapoll_state *ps = io->poller;
    int n = WSAPoll(ps->pfd, (ULONG)ps->len, timeout_ms);
    if (n == SOCKET_ERROR)
        return coco__wsa_fail();
    /* Backwards: waking a coroutine may drop its entry, and the one moved
     * into its place has been seen already. */
    for (size_t i = ps->len; i-- > 0 && n > 0;) {
        if (i >= ps->len)
            continue;
        SHORT re = ps->pfd[i].revents;
        if (re == 0)
            continue;
        n--;
        ps->pfd[i].revents = 0;
        unsigned ev = 0;
        if (re & (POLLRDNORM | POLLRDBAND))
            ev |= COCO__EV_READ;
        if (re & POLLWRNORM)
            ev |= COCO__EV_WRITE;
        if (re & (POLLERR | POLLHUP | POLLNVAL))
            ev |= COCO__EV_ERROR;
        coco__io_ready(io, (int)ps->pfd[i].fd, ev);
    }
    return 0;
}
