/*
 * http_hello.c - a keep-alive HTTP/1.1 server that answers every request
 * with "Hello, World!", one detached coroutine per connection.
 *
 *   http_hello [PORT [IDLE_SECONDS]]
 *
 * PORT defaults to 8080 (0 picks a free port).  A connection that sends
 * nothing for IDLE_SECONDS (default 60; 0 means never), whether between
 * keep-alive requests or in the middle of one, or that does not take its
 * responses for as long, is closed, as real servers close idle keep-alive
 * connections: the limit is the timeout of each coco_read_timeout() and
 * coco_write_timeout() call.
 *
 * It understands just enough HTTP for real clients (curl, wrk, browsers):
 * requests may be pipelined (all complete requests in a read are answered
 * with one write), a request body announced by Content-Length is skipped,
 * and the connection is closed after the response when the client sends
 * "Connection: close" (or speaks HTTP/1.0 without asking for keep-alive).
 * SIGINT or SIGTERM shuts it down cleanly, as in echo_server.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 65536
#define IN_SIZE   8192
#define OUT_SIZE  16384

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "Hello, World!";
static const char RESPONSE_CLOSE[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "Connection: close\r\n"
    "\r\n"
    "Hello, World!";
static const char BAD_REQUEST[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Length: 0\r\n"
    "Connection: close\r\n"
    "\r\n";

static int stop_pipe[2];
static int server_fd = -1;
static char conn_open[MAX_CONNS];
static uint64_t idle_ms;  /* per read or write; COCO_INFINITE: none */

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    (void)!write(stop_pipe[1], "x", 1);
    errno = saved;
}

/* The value of the header line [p, eol) if it is header name (nl bytes
 * long), trimmed; NULL otherwise. */
static const char *header_value(const char *p, const char *eol,
                                const char *name, size_t nl, size_t *len)
{
    if ((size_t)(eol - p) <= nl || p[nl] != ':' || strncasecmp(p, name, nl) != 0)
        return NULL;
    const char *v = p + nl + 1;
    while (v < eol && (*v == ' ' || *v == '\t'))
        v++;
    const char *ve = eol;
    while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
        ve--;
    *len = (size_t)(ve - v);
    return v;
}

/* Looks at one complete request [p, end of headers), in one pass over its
 * header lines; returns whether the connection stays open (-1: malformed),
 * and the body length to skip. */
static int parse_request(const char *p, const char *hend, size_t *body)
{
    const char *eol = memchr(p, '\n', (size_t)(hend - p));
    if (eol == NULL)
        return -1;
    int http10 = eol - p >= 9 && memcmp(eol - 9, "HTTP/1.0", 8) == 0;
    int keep = !http10, seen_conn = 0, seen_len = 0;
    *body = 0;
    for (p = eol + 1; p < hend; p = eol + 1) {
        eol = memchr(p, '\n', (size_t)(hend - p));
        if (eol == NULL)
            eol = hend;
        if ((p[0] | 0x20) != 'c')  /* both headers wanted start with C */
            continue;
        size_t len;
        const char *v;
        if (!seen_conn && (v = header_value(p, eol, "Connection", 10, &len)) != NULL) {
            seen_conn = 1;
            if (len == 5 && strncasecmp(v, "close", 5) == 0)
                keep = 0;
            else if (len == 10 && strncasecmp(v, "keep-alive", 10) == 0)
                keep = 1;
        } else if (!seen_len &&
                   (v = header_value(p, eol, "Content-Length", 14, &len)) != NULL) {
            seen_len = 1;
            *body = (size_t)strtoul(v, NULL, 10);
        }
    }
    return keep;
}

/* The end of the header block (just past its blank line) starting at p,
 * or NULL when [p, end) does not hold all of it yet. */
static char *headers_end(char *p, char *end)
{
    for (char *q = p; q < end && (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++) {
        if (q - p >= 3 && q[-1] == '\r' && q[-2] == '\n' && q[-3] == '\r')
            return q + 1;
    }
    return NULL;
}

static void handle_client(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char in[IN_SIZE], out[OUT_SIZE];
    size_t have = 0, skip = 0;
    int keep = 1;
    /* The body of the last request is read even after its response:
     * closing with unread data makes the kernel reset the connection,
     * and the reset can destroy the response before the client reads it. */
    while (keep || skip > 0) {
        int n = coco_read_timeout(fd, in + have, sizeof in - have, idle_ms);
        if (n <= 0)
            break;
        have += (size_t)n;
        size_t used = 0, olen = 0;
        for (;;) {
            if (skip > 0) { /* the rest of a request body */
                size_t k = have - used < skip ? have - used : skip;
                used += k;
                skip -= k;
                if (skip > 0)
                    break;
            }
            if (!keep)
                break;
            char *start = in + used;
            char *hend = headers_end(start, in + have);
            if (hend == NULL)
                break;
            keep = parse_request(start, hend, &skip);
            const char *r = keep > 0 ? RESPONSE : keep == 0 ? RESPONSE_CLOSE : BAD_REQUEST;
            size_t rl = keep > 0 ? sizeof RESPONSE - 1 :
                        keep == 0 ? sizeof RESPONSE_CLOSE - 1 : sizeof BAD_REQUEST - 1;
            if (keep < 0)
                keep = 0;
            if (olen + rl > sizeof out) {
                if (coco_write_timeout(fd, out, olen, idle_ms) != (int)olen)
                    goto done;
                olen = 0;
            }
            memcpy(out + olen, r, rl);
            olen += rl;
            used = (size_t)(hend - in);
        }
        if (olen > 0 && coco_write_timeout(fd, out, olen, idle_ms) != (int)olen)
            break;
        /* The read filled the buffer, so more is waiting: reads and writes
         * that never have to wait never let the other connections run. */
        if (have == sizeof in)
            coco_yield();
        memmove(in, in + used, have - used);
        have -= used;
        if (keep && have == sizeof in) { /* a header block larger than the buffer */
            coco_write_timeout(fd, BAD_REQUEST, sizeof BAD_REQUEST - 1, idle_ms);
            break;
        }
    }
done:
    if (fd < MAX_CONNS && conn_open[fd]) {
        conn_open[fd] = 0;
        coco_close(fd);
    }
}

static void acceptor(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = coco_accept(server_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EBADF)
                return;
            continue;
        }
        if (fd >= MAX_CONNS) {
            coco_close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        coco_coro_t *co = coco_create(coco_self()->sched, handle_client,
                                      (void *)(intptr_t)fd, 0);
        if (co == NULL) {
            coco_close(fd);
            continue;
        }
        conn_open[fd] = 1;
        coco_detach(co);
    }
}

static void stopper(void *arg)
{
    (void)arg;
    char c;
    while (coco_read(stop_pipe[0], &c, 1) < 0 && errno == EINTR)
        ;
    coco_close(server_fd);
    for (int fd = 0; fd < MAX_CONNS; fd++) {
        if (conn_open[fd]) {
            conn_open[fd] = 0;
            coco_close(fd);
        }
    }
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    int idle = argc > 2 ? atoi(argv[2]) : 60;
    idle_ms = idle > 0 ? (uint64_t)idle * 1000 : COCO_INFINITE;
    if (pipe(stop_pipe) != 0) {
        perror("pipe");
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    server_fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(server_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)port),
        .sin_addr.s_addr = htonl(INADDR_ANY),
    };
    if (bind(server_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(server_fd, 1024) != 0) {
        perror("bind/listen");
        return 1;
    }
    socklen_t alen = sizeof addr;
    getsockname(server_fd, (struct sockaddr *)&addr, &alen);
    printf("Listening on port %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    coco_sched_t *sched = coco_sched_create();
    coco_sched_set_max_coroutines(sched, 0);
    coco_create(sched, acceptor, NULL, 0);
    coco_create(sched, stopper, NULL, 0);
    int rc = coco_sched_run(sched);
    coco_sched_destroy(sched);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    return rc == COCO_OK ? 0 : 1;
}
