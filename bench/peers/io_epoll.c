/*
 * io_epoll.c - the plain C peer of bench_io: one thread, one level-
 * triggered epoll loop, fixed replies.  The one-core physical limit that
 * Coco's servers are measured against.
 *
 *   io_epoll echo|http PORT      (PORT 0 picks a free one)
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

/* Partial request bytes carried over per connection (http mode). */
static char carry[65536][4];
static unsigned char carry_len[65536];

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            return;
        }
    }
}

/* Counts complete requests, remembering the last 3 bytes for a request
 * end split across reads. */
static size_t count_requests(int fd, const char *buf, size_t n)
{
    size_t reqs = 0;
    unsigned char cl = carry_len[fd];
    char w[4];
    memcpy(w, carry[fd], 4);
    for (size_t i = 0; i < n; i++) {
        w[0] = w[1]; w[1] = w[2]; w[2] = w[3]; w[3] = buf[i];
        if (cl < 4)
            cl++;
        if (cl == 4 && memcmp(w, "\r\n\r\n", 4) == 0) {
            reqs++;
            cl = 0;
            memset(w, 0, 4);
        }
    }
    memcpy(carry[fd], w, 4);
    carry_len[fd] = cl;
    return reqs;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: io_epoll echo|http PORT\n");
        return 2;
    }
    int http = strcmp(argv[1], "http") == 0;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 1024) != 0) {
        perror("bind/listen");
        return 1;
    }
    socklen_t al = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &al);
    printf("Listening on port %d\n", ntohs(a.sin_port));
    fflush(stdout);
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    static struct epoll_event evs[256];
    static char buf[65536], out[65536];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (c >= 65536) {
                        close(c);
                        continue;
                    }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    carry_len[c] = 0;
                    struct epoll_event ce = { .events = EPOLLIN, .data.fd = c };
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf);
            if (r <= 0) {
                if (r == 0 || (errno != EAGAIN && errno != EINTR))
                    close(fd);
                continue;
            }
            if (!http) {
                write_all(fd, buf, (size_t)r);
                continue;
            }
            size_t reqs = count_requests(fd, buf, (size_t)r), olen = 0;
            for (size_t k = 0; k < reqs; k++) {
                if (olen + sizeof RESPONSE - 1 > sizeof out) {
                    write_all(fd, out, olen);
                    olen = 0;
                }
                memcpy(out + olen, RESPONSE, sizeof RESPONSE - 1);
                olen += sizeof RESPONSE - 1;
            }
            write_all(fd, out, olen);
        }
    }
}
