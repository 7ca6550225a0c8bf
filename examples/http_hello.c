/*
 * http_hello.c - a keep-alive HTTP/1.1 server that answers every request
 * with "Hello, World!", one detached coroutine per connection.
 *
 *   http_hello [-a ADDR] [PORT [IDLE_SECONDS]]
 *
 * It listens on the IPv4 address ADDR (default 0.0.0.0, every interface;
 * -a 127.0.0.1 keeps it to this machine) and TCP port PORT (0-65535,
 * default 8080; 0 picks a free port, printed at start).  A connection
 * that sends nothing for IDLE_SECONDS (default 60; 0 means never),
 * whether between keep-alive requests or in the middle of one, or that
 * does not take its responses for as long, is closed, as real servers
 * close idle keep-alive connections: the limit is the timeout of each coco_read_timeout() and
 * coco_write_timeout() call.
 *
 * It understands just enough HTTP for real clients (curl, wrk, browsers):
 * requests may be pipelined (all complete requests in a read are answered
 * with one write), lines may end in CRLF or a bare LF, a request body
 * announced by Content-Length is skipped, and the connection is closed
 * after the response when the client sends "Connection: close" (or speaks
 * HTTP/1.0 without asking for keep-alive).  A malformed request (a bad
 * request line, a header line without a colon, a NUL, a Content-Length
 * that is not a plain decimal number or disagrees with another one, a
 * Transfer-Encoding, which it does not implement, or a header block larger
 * than 8 KiB) is answered with 400 Bad Request and the connection closed.
 * Connections it closes after a response are closed gracefully (see
 * close_gracefully()), so the client reads the response, not a reset.
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
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 65536
#define IN_SIZE   8192
#define OUT_SIZE  16384
#define LINGER_MS 1000  /* see close_gracefully() */

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
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    *len = (size_t)(ve - v);
    return v;
}

/* The end of the line starting at p (its '\n', or hend), without a '\r'
 * before the '\n'. */
static const char *line_end(const char *p, const char *hend, const char **next)
{
    const char *eol = memchr(p, '\n', (size_t)(hend - p));
    if (eol == NULL)
        eol = hend;
    *next = eol + 1;
    if (eol > p && eol[-1] == '\r')
        eol--;
    return eol;
}

/* A character of a method or header name (a "token" in RFC 9110). */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The request line [p, eol): METHOD SP TARGET SP HTTP/1.x.  Returns the
 * minor version, or -1 if the line is malformed. */
static int request_line(const char *p, const char *eol)
{
    const char *q = p;
    while (q < eol && is_tchar((unsigned char)*q))
        q++;
    if (q == p || q == eol || *q != ' ')
        return -1;
    const char *t = ++q;
    while (q < eol && (unsigned char)*q > ' ' && *q != 0x7f)
        q++;
    if (q == t || eol - q != 9 || *q != ' ' || memcmp(q + 1, "HTTP/1.", 7) != 0 ||
        q[8] < '0' || q[8] > '9')
        return -1;
    return q[8] - '0';
}

/* The value [v, v + len) of Content-Length as a number: decimal digits
 * only, at most 15 of them (no sign, no overflow); -1 otherwise. */
static long long content_length(const char *v, size_t len)
{
    if (len == 0 || len > 15)
        return -1;
    long long n = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (v[i] - '0');
    }
    return n;
}

/* Looks at one complete request [p, hend), in one pass over its header
 * lines; returns whether the connection stays open (-1: malformed), and
 * the body length to skip. */
static int parse_request(const char *p, const char *hend, size_t *body)
{
    if (memchr(p, '\0', (size_t)(hend - p)) != NULL)
        return -1;
    const char *next;
    const char *eol = line_end(p, hend, &next);
    int minor = request_line(p, eol);
    if (minor < 0)
        return -1;
    int keep = minor > 0, seen_conn = 0;
    long long clen = -2; /* -2: no Content-Length header */
    *body = 0;
    for (p = next; p < hend; p = next) {
        eol = line_end(p, hend, &next);
        if (eol == p)  /* the blank line that ends the block */
            break;
        /* A header line is a name, a colon and a value; no folded
         * lines (starting with a space), no control characters. */
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon == NULL || colon == p || !is_tchar((unsigned char)p[0]))
            return -1;
        size_t len;
        const char *v;
        switch (p[0] | 0x20) {  /* the headers wanted start with C or T */
        case 'c':
            if ((v = header_value(p, eol, "Connection", 10, &len)) != NULL) {
                if (seen_conn)
                    break;
                seen_conn = 1;
                if (len == 5 && strncasecmp(v, "close", 5) == 0)
                    keep = 0;
                else if (len == 10 && strncasecmp(v, "keep-alive", 10) == 0)
                    keep = 1;
            } else if ((v = header_value(p, eol, "Content-Length", 14, &len)) != NULL) {
                long long n = content_length(v, len);
                if (n < 0 || (clen != -2 && n != clen))
                    return -1;
                clen = n;
            }
            break;
        case 't':
            /* Chunked bodies are not understood: reading one as the
             * next request would answer requests nobody sent. */
            if (header_value(p, eol, "Transfer-Encoding", 17, &len) != NULL)
                return -1;
            break;
        }
    }
    if (clen > 0)
        *body = (size_t)clen;
    return keep;
}

/* The end of the header block (just past its blank line) starting at p,
 * or NULL when [p, end) does not hold all of it yet.  Lines end in CRLF
 * or in a bare LF. */
static char *headers_end(char *p, char *end)
{
    for (char *q = p; q < end && (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++) {
        if (q + 1 < end && q[1] == '\n')
            return q + 2;
        if (q + 2 < end && q[1] == '\r' && q[2] == '\n')
            return q + 3;
    }
    return NULL;
}

/* Closes a connection after its last response without a reset: closing
 * a socket with unread input makes the kernel send one, and the reset can
 * destroy the response before the client has read it.  So: no more
 * output (the client sees the end of file after the response), then read
 * and discard what the client still sends, for a second at most, until it
 * closes its side. */
static void close_gracefully(int fd)
{
    if (!conn_open[fd])  /* closed by the shutdown already */
        return;
    shutdown(fd, SHUT_WR);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char buf[4096];
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        int64_t spent = (int64_t)(t.tv_sec - t0.tv_sec) * 1000 +
                        (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= LINGER_MS || !conn_open[fd] ||
            coco_read_timeout(fd, buf, sizeof buf, (uint64_t)(LINGER_MS - spent)) <= 0)
            break;
    }
}

static void handle_client(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char in[IN_SIZE], out[OUT_SIZE];
    size_t have = 0, skip = 0;
    int keep = 1, last_sent = 0;
    /* The body of the last request is read even after its response:
     * closing with unread data makes the kernel reset the connection,
     * and the reset can destroy the response before the client reads it
     * (close_gracefully() then reads whatever else the client sends). */
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
        last_sent = !keep;
        /* The read filled the buffer, so more is waiting: reads and writes
         * that never have to wait never let the other connections run. */
        if (have == sizeof in)
            coco_yield();
        memmove(in, in + used, have - used);
        have -= used;
        if (keep && have == sizeof in) { /* a header block larger than the buffer */
            last_sent = coco_write_timeout(fd, BAD_REQUEST, sizeof BAD_REQUEST - 1,
                                           idle_ms) == (int)sizeof BAD_REQUEST - 1;
            break;
        }
    }
    if (last_sent)
        close_gracefully(fd);
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
    printf("Shutting down\n");
    fflush(stdout);
    coco_close(server_fd);
    for (int fd = 0; fd < MAX_CONNS; fd++) {
        if (conn_open[fd]) {
            conn_open[fd] = 0;
            coco_close(fd);
        }
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: http_hello [-a ADDR] [PORT [IDLE_SECONDS]]\n"
            "  -a ADDR       IPv4 address to listen on (default 0.0.0.0: every interface)\n"
            "  PORT          TCP port, 0-65535 (default 8080; 0 picks a free one)\n"
            "  IDLE_SECONDS  close a connection idle for that long (default 60; 0: never)\n");
}

/* s as a decimal number from 0 to max, or -1. */
static long parse_number(const char *s, long max)
{
    long v = 0;
    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > (max - (*s - '0')) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

int main(int argc, char **argv)
{
    struct in_addr listen_addr = { .s_addr = htonl(INADDR_ANY) };
    long port = 8080, idle = 60;
    int a = 1;
    for (; a < argc && argv[a][0] == '-' && argv[a][1] != '\0'; a++) {
        if (strcmp(argv[a], "--") == 0) {
            a++;
            break;
        }
        if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[a], "-a") == 0 && a + 1 < argc &&
            inet_pton(AF_INET, argv[a + 1], &listen_addr) == 1) {
            a++;
            continue;
        }
        if (strcmp(argv[a], "-a") == 0)
            fprintf(stderr, "http_hello: -a needs an IPv4 address such as 127.0.0.1\n");
        else
            fprintf(stderr, "http_hello: unknown option %s\n", argv[a]);
        usage(stderr);
        return 2;
    }
    if (argc - a > 2 ||
        (argc - a > 0 && (port = parse_number(argv[a], 65535)) < 0) ||
        (argc - a > 1 && (idle = parse_number(argv[a + 1], 1000000)) < 0)) {
        if (argc - a > 2)
            fprintf(stderr, "http_hello: too many arguments\n");
        else if (port < 0)
            fprintf(stderr, "http_hello: PORT must be a number from 0 to 65535\n");
        else
            fprintf(stderr, "http_hello: IDLE_SECONDS must be a number from 0 to 1000000\n");
        usage(stderr);
        return 2;
    }
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
        .sin_addr = listen_addr,
    };
    if (bind(server_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(server_fd, 1024) != 0) {
        fprintf(stderr, "http_hello: cannot listen on %s port %ld: %s\n",
                inet_ntoa(listen_addr), port, strerror(errno));
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
