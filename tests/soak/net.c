/*
 * net.c - the soak client's side of a TCP connection: non-blocking
 * socket, a growing receive buffer, and a deadline on every wait so that
 * a reply the server never sends shows up as lost instead of a hang.
 *
 * SPDX-License-Identifier: MIT
 */
#include "soak.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint64_t net_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void net_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int net_connect(conn_t *c, int port, int timeout_ms, int rcvbuf)
{
    c->fd = -1;
    c->timeout_ms = timeout_ms;
    c->len = 0;
    c->connect_ms = net_now_ms();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return NET_ERROR;
    /* Before connect, so that the window announced is the small one. */
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Blocking connect: on loopback it completes at once unless the
     * listen queue is full, and then waiting is the right thing. */
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return NET_ERROR;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    c->fd = fd;
    return NET_OK;
}

/* Waits for events on the socket; NET_TIMEOUT when none came in time. */
static int wait_for(conn_t *c, short events, int timeout_ms, short *got)
{
    struct pollfd p = { c->fd, events, 0 };
    int r;
    while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    if (r < 0)
        return NET_ERROR;
    if (r == 0)
        return NET_TIMEOUT;
    *got = p.revents;
    return NET_OK;
}

/* One recv into the buffer: NET_OK with some bytes, NET_EOF, NET_ERROR,
 * or NET_TIMEOUT when nothing was there (EAGAIN). */
static int recv_some(conn_t *c)
{
    if (c->cap - c->len < 4096) {
        size_t cap = c->cap ? c->cap * 2 : 16384;
        char *b = realloc(c->buf, cap);
        if (b == NULL)
            return NET_ERROR;
        c->buf = b;
        c->cap = cap;
    }
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (n > 0) {
        c->len += (size_t)n;
        return NET_OK;
    }
    if (n == 0)
        return NET_EOF;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return NET_TIMEOUT;
    return NET_ERROR;
}

int net_send(conn_t *c, const char *out, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = send(c->fd, out + done, n - done, MSG_NOSIGNAL);
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return NET_ERROR;
        short got = 0;
        int r = wait_for(c, POLLIN | POLLOUT, c->timeout_ms, &got);
        if (r != NET_OK)
            return r;
        if (got & POLLIN) {
            r = recv_some(c);
            if (r == NET_EOF || r == NET_ERROR)
                return r;
        }
    }
    return NET_OK;
}

int net_fill(conn_t *c, size_t want)
{
    while (c->len < want) {
        int r = recv_some(c);
        if (r == NET_OK)
            continue;
        if (r != NET_TIMEOUT)
            return r;
        short got = 0;
        r = wait_for(c, POLLIN, c->timeout_ms, &got);
        if (r != NET_OK)
            return r;
    }
    return NET_OK;
}

void net_consume(conn_t *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

int net_expect_eof(conn_t *c, int timeout_ms)
{
    uint64_t end = net_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        if (c->len > 0)
            return NET_ERROR;   /* the server said more than expected */
        int r = recv_some(c);
        if (r == NET_EOF)
            return NET_EOF;
        if (r == NET_OK)
            continue;
        if (r == NET_ERROR)
            return NET_ERROR;
        uint64_t now = net_now_ms();
        if (now >= end)
            return NET_TIMEOUT;
        short got = 0;
        r = wait_for(c, POLLIN, (int)(end - now), &got);
        if (r == NET_ERROR)
            return r;
    }
}

int net_flood(conn_t *c, const char *buf, size_t n, int wait_ms)
{
    size_t off = 0;
    for (;;) {
        ssize_t w = send(c->fd, buf + off, n - off, MSG_NOSIGNAL);
        if (w > 0) {
            off = (off + (size_t)w) % n;
            continue;
        }
        if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
            return NET_EOF;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return NET_ERROR;
        short got = 0;
        int r = wait_for(c, POLLOUT, wait_ms, &got);
        if (r != NET_OK)
            return r;
        if (got & (POLLERR | POLLHUP))
            return NET_EOF;
    }
}

void net_reset(conn_t *c)
{
    struct linger lg = { 1, 0 };
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    net_close(c);
}

void net_close(conn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->len = 0;
}

void net_free(conn_t *c)
{
    net_close(c);
    free(c->buf);
    c->buf = NULL;
    c->cap = 0;
}
