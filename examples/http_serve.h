/*
 * http_serve.h - the HTTP side of the example servers http_hello.c and
 * http_workers.c: just enough HTTP/1.1 for real clients (see
 * http_hello.c), and the loop serving one connection with Coco's I/O
 * calls.  Included by each example; everything in it is static.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef HTTP_SERVE_H
#define HTTP_SERVE_H

#include "coco.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

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
static void close_gracefully(int fd, int (*is_open)(int fd))
{
    if (!is_open(fd))  /* closed by the shutdown already */
        return;
    shutdown(fd, SHUT_WR);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char buf[4096];
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        int64_t spent = (int64_t)(t.tv_sec - t0.tv_sec) * 1000 +
                        (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= LINGER_MS || !is_open(fd) ||
            coco_read_timeout(fd, buf, sizeof buf, (uint64_t)(LINGER_MS - spent)) <= 0)
            break;
    }
}

/* Serves the connection fd until the client closes it, asks to close, is
 * idle for idle_ms, or sends a malformed request; leaves fd open.
 * is_open(fd) is false once the program's shutdown has closed or shut
 * fd down under it. */
static void http_serve(int fd, uint64_t idle_ms, int (*is_open)(int fd))
{
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
                    return;
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
        close_gracefully(fd, is_open);
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

#endif /* HTTP_SERVE_H */
