/*
 * poll_poll.c - the poll(2) backend: portable POSIX, level-triggered; on
 * Windows the same over WSAPoll (sockets only).
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

/* --------------------------------------------- poll() or WSAPoll() */

#ifdef _WIN32
#  include "io/winsock.h"

typedef WSAPOLLFD pollfd_t;
typedef SHORT pollev_t;
/* WSAPoll refuses anything but these in events. */
#  define WANT_READ  POLLRDNORM
#  define WANT_WRITE POLLWRNORM

static int os_init(void)
{
    return coco__winsock_init();
}

static SOCKET os_fd(int fd)
{
    return (SOCKET)(unsigned)fd;
}

static int os_poll(pollfd_t *pfd, size_t n, int timeout_ms)
{
    int r = WSAPoll(pfd, (ULONG)n, timeout_ms);
    return r != SOCKET_ERROR ? r : coco__wsa_fail();
}
#else
typedef struct pollfd pollfd_t;
typedef short pollev_t;
#  define WANT_READ  POLLIN
#  define WANT_WRITE POLLOUT

static int os_init(void)
{
    return 0;
}

static int os_fd(int fd)
{
    return fd;
}

static int os_poll(pollfd_t *pfd, size_t n, int timeout_ms)
{
    return poll(pfd, (nfds_t)n, timeout_ms);
}

/* Nothing of this backend lives in the kernel between waits. */
int coco__poller_forked(struct coco_io *io)
{
    (void)io;
    return 0;
}
#endif

/* ------------------------------------------------------- the backend */

struct poll_state {
    pollfd_t *pfd;
    size_t len, cap;
};

int coco__poller_init(struct coco_io *io)
{
    if (os_init() != 0)
        return -1;
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

static pollev_t to_poll(unsigned events)
{
    return (pollev_t)(((events & COCO__EV_READ) ? WANT_READ : 0) |
                      ((events & COCO__EV_WRITE) ? WANT_WRITE : 0));
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
            pollfd_t *p = realloc(ps->pfd, cap * sizeof *p);
            if (p == NULL) {
                errno = ENOMEM;
                return -1;
            }
            ps->pfd = p;
            ps->cap = cap;
        }
        ent->pidx = (uint32_t)ps->len++;
        ent->reg = 1;
        ps->pfd[ent->pidx].fd = os_fd(fd);
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
    struct poll_state *ps = io->poller;
    int n = os_poll(ps->pfd, ps->len, timeout_ms);
    if (n <= 0)
        return n < 0 ? -1 : 0;
    /* Backwards: waking a coroutine may drop its entry, and the one moved
     * into its place has been seen already. */
    for (size_t i = ps->len; i-- > 0 && n > 0;) {
        if (i >= ps->len)
            continue;
        pollev_t re = ps->pfd[i].revents;
        if (re == 0)
            continue;
        n--;
        ps->pfd[i].revents = 0;
        unsigned ev = 0;
        if (re & POLLIN) /* on Windows: POLLRDNORM | POLLRDBAND */
            ev |= COCO__EV_READ;
        if (re & POLLOUT)
            ev |= COCO__EV_WRITE;
        if (re & (POLLERR | POLLHUP | POLLNVAL))
            ev |= COCO__EV_ERROR;
        coco__io_ready(io, (int)ps->pfd[i].fd, ev);
    }
    return 0;
}
