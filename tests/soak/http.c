/*
 * http.c - HTTP/1.1 as the soak client speaks it to a server that
 * answers every request with 200 and "Hello, World!".  Requests vary the
 * way real clients do (GET and POST with a body, header name case,
 * HTTP/1.0 keep-alive, Connection: close on the last one); each response
 * is parsed, not compared as a whole: status line, Content-Length, the
 * body, and whether the server says it will close.
 *
 * SPDX-License-Identifier: MIT
 */
#include "soak.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BODY "Hello, World!"
#define MAX_HEADERS 8192

/* Where the blank line ending a header block in [p, p + n) ends, or 0. */
static size_t headers_end(const char *p, size_t n)
{
    for (size_t i = 3; i < n; i++) {
        if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r')
            return i + 1;
    }
    return 0;
}

/* Headers and an optional body of n random printable bytes. */
static size_t http_request(char *buf, size_t cap, rng_t *rng, bool last_one, bool *closes)
{
    *closes = last_one && rng_range(rng, 0, 3) == 0;
    int kind = (int)rng_range(rng, 0, 5);
    size_t body = 0;
    int len;
    if (*closes && kind == 0) {
        /* HTTP/1.0 without keep-alive closes by default. */
        len = snprintf(buf, cap, "GET /soak/%u HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
                       rng_next(rng));
    } else if (kind == 1) {
        len = snprintf(buf, cap, "GET / HTTP/1.0\r\nConnection: %s\r\n\r\n",
                       *closes ? "close" : "keep-alive");
    } else if (kind <= 3) {
        body = rng_range(rng, 0, 3000);
        len = snprintf(buf, cap,
                       "POST /soak HTTP/1.1\r\nHost: 127.0.0.1\r\n%s: %zu\r\n%s\r\n",
                       kind == 2 ? "Content-Length" : "content-length", body,
                       *closes ? "Connection: close\r\n" : "");
    } else {
        len = snprintf(buf, cap,
                       "GET /soak/%u HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: coco-soak\r\n"
                       "Accept: */*\r\n%s\r\n",
                       rng_next(rng), *closes ? "Connection: close\r\n" : "");
    }
    if (len < 0 || (size_t)len + body > cap)
        return 0;
    for (size_t i = 0; i < body; i++)
        buf[(size_t)len + i] = (char)rng_range(rng, ' ', '~');
    return (size_t)len + body;
}

/* Reads until the buffer holds a whole header block; its length, or 0. */
static size_t read_headers(conn_t *c, int *res)
{
    for (;;) {
        size_t end = headers_end(c->buf, c->len);
        if (end > 0)
            return end;
        if (c->len > MAX_HEADERS) {
            *res = REPLY_WRONG;
            return 0;
        }
        if (net_fill(c, c->len + 1) != NET_OK) {
            *res = REPLY_LOST;
            return 0;
        }
    }
}

/* The value of header name in the block [p, end), or NULL. */
static const char *header(const char *p, const char *end, const char *name)
{
    size_t nl = strlen(name);
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        p++;
        if ((size_t)(end - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            p += nl + 1;
            while (*p == ' ')
                p++;
            return p;
        }
    }
    return NULL;
}

static int http_reply(conn_t *c, const char *req, size_t len, bool closes)
{
    (void)req;
    (void)len;
    int res = REPLY_OK;
    size_t hlen = read_headers(c, &res);
    if (hlen == 0)
        return res;
    const char *h = c->buf, *hend = c->buf + hlen;
    if (strncmp(h, "HTTP/1.1 200 ", 13) != 0)
        return REPLY_WRONG;
    const char *cl = header(h, hend, "Content-Length");
    if (cl == NULL || strtoul(cl, NULL, 10) != sizeof BODY - 1)
        return REPLY_WRONG;
    const char *conn = header(h, hend, "Connection");
    bool says_close = conn != NULL && strncasecmp(conn, "close", 5) == 0;
    if (says_close != closes)
        return REPLY_WRONG;
    if (net_fill(c, hlen + sizeof BODY - 1) != NET_OK)
        return REPLY_LOST;
    int same = memcmp(c->buf + hlen, BODY, sizeof BODY - 1) == 0;
    net_consume(c, hlen + sizeof BODY - 1);
    return same ? REPLY_OK : REPLY_WRONG;
}

/* A request cut inside its header block: the server cannot answer it. */
static size_t http_partial(char *buf, size_t cap, rng_t *rng)
{
    bool closes;
    size_t n = http_request(buf, cap, rng, false, &closes);
    size_t hdr = headers_end(buf, n);
    if (hdr == 0)
        return 0;
    return rng_range(rng, 1, (uint32_t)hdr - 1);
}

const proto_t soak_http = {
    .name = "http",
    .max_pipeline = 8,
    .request = http_request,
    .reply = http_reply,
    .partial = http_partial,
    .echoes_partial = false,
};
