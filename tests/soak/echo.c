/*
 * echo.c - the echo protocol as the soak client speaks it: a request is
 * any run of bytes, and the reply must be the same bytes.  Payloads are
 * random (zero bytes included) and their sizes range from one byte to
 * several times the server's read buffer, so replies arrive in pieces.
 *
 * SPDX-License-Identifier: MIT
 */
#include "soak.h"

#include <string.h>

static void fill_random(char *buf, size_t n, rng_t *rng)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)rng_next(rng);
}

static size_t echo_request(char *buf, size_t cap, rng_t *rng, bool last_one, bool *closes)
{
    (void)last_one;
    *closes = false;    /* the protocol has no way to ask */
    /* Mostly short lines, one in eight up to 16 KiB. */
    size_t max = rng_range(rng, 0, 7) == 0 ? 16384 : 512;
    size_t n = rng_range(rng, 1, (uint32_t)(max < cap ? max : cap));
    fill_random(buf, n, rng);
    return n;
}

static int echo_reply(conn_t *c, const char *req, size_t len, bool closes)
{
    (void)closes;
    if (net_fill(c, len) != NET_OK)
        return REPLY_LOST;
    int same = memcmp(c->buf, req, len) == 0;
    net_consume(c, len);
    return same ? REPLY_OK : REPLY_WRONG;
}

static size_t echo_partial(char *buf, size_t cap, rng_t *rng)
{
    size_t n = rng_range(rng, 1, (uint32_t)(cap < 2000 ? cap : 2000));
    fill_random(buf, n, rng);
    return n;
}

const proto_t soak_echo = {
    .name = "echo",
    .max_pipeline = 4,
    .request = echo_request,
    .reply = echo_reply,
    .partial = echo_partial,
    .echoes_partial = true,
};
