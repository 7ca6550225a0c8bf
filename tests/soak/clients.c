/*
 * clients.c - what one soak client thread does until its time is up.
 *
 * A well-behaved client opens connections, sends batches of pipelined
 * requests (split into random pieces on the wire) and checks every reply:
 * a reply that is wrong, or does not come within the timeout, is counted.
 * A misbehaving client cycles through the ways real clients mistreat a
 * server and checks what the server owes it even then: the replies to the
 * complete requests it sent, a clean close when it half-closes or stays
 * silent past the server's idle timeout, and a close when it never reads
 * what the server writes.
 *
 * SPDX-License-Identifier: MIT
 */
#include "soak.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_BATCH 8
#define OUT_CAP   (MAX_BATCH * 20480)

const char *const soak_bad_names[BAD_KINDS] = {
    "reset mid-request", "half-close", "idle", "byte at a time", "connect-close",
    "never reads",
};

typedef struct batch {
    char out[OUT_CAP];
    size_t off[MAX_BATCH], len[MAX_BATCH];
    bool closes[MAX_BATCH];
    int n;
    size_t total;
} batch_t;

/* Fills b with n complete requests of at most max bytes each; the last
 * may ask the server to close when last_round. */
static void build_batch(const proto_t *p, batch_t *b, int n, size_t max,
                        bool last_round, rng_t *rng)
{
    b->n = 0;
    b->total = 0;
    for (int i = 0; i < n; i++) {
        size_t len = 0;
        for (int tries = 0; tries < 50 && len == 0; tries++)
            len = p->request(b->out + b->total, max, rng, last_round && i == n - 1,
                             &b->closes[i]);
        if (len == 0)
            break;
        b->off[i] = b->total;
        b->len[i] = len;
        b->total += len;
        b->n++;
    }
}

/* Sends the batch in one to three pieces cut at random points. */
static int send_pieces(conn_t *c, const batch_t *b, rng_t *rng)
{
    size_t done = 0;
    int pieces = (int)rng_range(rng, 1, 3);
    for (int i = 1; i <= pieces; i++) {
        size_t end = i == pieces ? b->total : rng_range(rng, (uint32_t)done, (uint32_t)b->total);
        if (end > done && net_send(c, b->out + done, end - done) != NET_OK)
            return -1;
        done = end;
    }
    return 0;
}

/* Shows what went wrong, for the first few failures only: enough to
 * start looking, without drowning the log. */
static void show_failure(const char *what, const conn_t *c, const char *req, size_t len)
{
    static int shown;
    if (__atomic_fetch_add(&shown, 1, __ATOMIC_RELAXED) >= 5)
        return;
    flockfile(stderr);
    fprintf(stderr, "soak_client: %s reply to a request of %zu bytes:\n", what, len);
    fprintf(stderr, "  request: \"%.*s\"\n", (int)(len < 200 ? len : 200), req);
    fprintf(stderr, "  received (%zu bytes): \"%.*s\"\n", c->len,
            (int)(c->len < 300 ? c->len : 300), c->buf ? c->buf : "");
    funlockfile(stderr);
}

/* Checks the replies to every request of b; false at the first bad one
 * (the rest count as lost: they were never answered as they should be). */
static bool check_replies(const proto_t *p, conn_t *c, const batch_t *b, stats_t *st)
{
    for (int i = 0; i < b->n; i++) {
        int r = p->reply(c, b->out + b->off[i], b->len[i], b->closes[i]);
        if (r == REPLY_OK) {
            st->ok++;
            continue;
        }
        if (r == REPLY_WRONG)
            st->wrong++;
        else
            st->lost++;
        show_failure(r == REPLY_WRONG ? "wrong" : "lost", c, b->out + b->off[i], b->len[i]);
        st->lost += (uint64_t)(b->n - i - 1);
        return false;
    }
    return true;
}

/* One batch of pipelined requests, sent and answered; *closes when the
 * server was asked to close after it. */
static bool exchange(const client_cfg_t *cfg, conn_t *c, batch_t *b, bool last_round,
                     rng_t *rng, stats_t *st, bool *closes)
{
    const proto_t *p = cfg->proto;
    build_batch(p, b, (int)rng_range(rng, 1, (uint32_t)p->max_pipeline), 20480,
                last_round, rng);
    *closes = b->n > 0 && b->closes[b->n - 1];
    uint64_t t0 = net_now_ms();
    if (send_pieces(c, b, rng) != 0) {
        st->lost += (uint64_t)b->n;
        show_failure("no", c, b->out, b->total);
        return false;
    }
    bool ok = check_replies(p, c, b, st);
    uint64_t t = net_now_ms() - t0;
    if (ok && t > st->slowest_ms)
        st->slowest_ms = t;
    return ok;
}

static bool open_conn(const client_cfg_t *cfg, conn_t *c, int rcvbuf, stats_t *st)
{
    if (net_connect(c, cfg->port, cfg->timeout_ms, rcvbuf) != NET_OK) {
        st->connect_failed++;
        net_sleep_ms(10);
        return false;
    }
    st->connections++;
    return true;
}

void client_good(const client_cfg_t *cfg, rng_t *rng, stats_t *st)
{
    conn_t c = { .fd = -1 };
    batch_t *b = malloc(sizeof *b);
    if (b == NULL)
        abort();
    while (net_now_ms() < cfg->end_ms) {
        if (!open_conn(cfg, &c, 0, st))
            continue;
        int rounds = (int)rng_range(rng, 1, 20);
        bool ok = true, closes = false;
        for (int r = 0; r < rounds && ok && !closes; r++)
            ok = exchange(cfg, &c, b, r == rounds - 1, rng, st, &closes);
        /* A server that announced it would close must do so. */
        if (ok && closes && net_expect_eof(&c, cfg->timeout_ms) != NET_EOF) {
            st->wrong++;
            show_failure("no close after the", &c, b->out, b->total);
        }
        net_close(&c);
    }
    net_free(&c);
    free(b);
}

/* ------------------------------------------------------- misbehaviour */

/* A few good exchanges, then a reset: in the middle of a request, or
 * right after a burst of requests whose replies the server is writing. */
static bool bad_reset(const client_cfg_t *cfg, conn_t *c, batch_t *b, rng_t *rng, stats_t *st)
{
    bool closes;
    int good = (int)rng_range(rng, 0, 2);
    for (int i = 0; i < good; i++) {
        if (!exchange(cfg, c, b, false, rng, st, &closes))
            return false;
    }
    if (rng_range(rng, 0, 1) == 0) {
        size_t n = cfg->proto->partial(b->out, OUT_CAP, rng);
        if (net_send(c, b->out, n) != NET_OK)
            return false;
    } else {
        build_batch(cfg->proto, b, cfg->proto->max_pipeline, 20480, false, rng);
        if (net_send(c, b->out, b->total) != NET_OK)
            return false;
    }
    net_reset(c);
    return true;
}

/* Complete requests and a partial one, then shutdown(SHUT_WR): the
 * server owes the replies, then (echo) the partial bytes, then a close. */
static bool bad_half_close(const client_cfg_t *cfg, conn_t *c, batch_t *b, rng_t *rng,
                           stats_t *st)
{
    const proto_t *p = cfg->proto;
    build_batch(p, b, (int)rng_range(rng, 0, 2), 20480, false, rng);
    size_t part = p->partial(b->out + b->total, 4096, rng);
    if (net_send(c, b->out, b->total + part) != NET_OK)
        return false;
    shutdown(c->fd, SHUT_WR);
    if (!check_replies(p, c, b, st))
        return false;
    if (p->echoes_partial) {
        if (net_fill(c, part) != NET_OK || memcmp(c->buf, b->out + b->total, part) != 0)
            return false;
        net_consume(c, part);
    }
    return net_expect_eof(c, cfg->timeout_ms) == NET_EOF;
}

/* Silence, from the start or after part of a request.  With an idle
 * timeout the server must close, not before it and not much after; with
 * none it must keep the connection. */
static bool bad_idle(const client_cfg_t *cfg, conn_t *c, batch_t *b, rng_t *rng, stats_t *st)
{
    const proto_t *p = cfg->proto;
    /* Silent from the start, the connection is idle from the server's
     * first read, which may come before this thread, back from connect(),
     * reads the clock: on a loaded machine it may not run again for tens
     * of milliseconds after the handshake.  So from before the connect. */
    uint64_t t0 = c->connect_ms;
    if (rng_range(rng, 0, 1) == 0) {
        t0 = net_now_ms();
        size_t part = p->partial(b->out, 4096, rng);
        if (net_send(c, b->out, part) != NET_OK)
            return false;
        if (p->echoes_partial) {
            if (net_fill(c, part) != NET_OK || memcmp(c->buf, b->out, part) != 0)
                return false;
            net_consume(c, part);
        }
    }
    if (cfg->idle_ms == 0)
        return net_expect_eof(c, 1000) == NET_TIMEOUT;
    int r = net_expect_eof(c, cfg->idle_ms + cfg->timeout_ms);
    uint64_t t = net_now_ms() - t0;
    if (st->idle_min_ms == 0 || t < st->idle_min_ms)
        st->idle_min_ms = t;
    if (t > st->idle_max_ms)
        st->idle_max_ms = t;
    /* The server's clock starts after ours; a few ms of timer rounding. */
    return r == NET_EOF && t + 20 >= (uint64_t)cfg->idle_ms;
}

/* Small requests one byte per send, a little apart: the server must put
 * them together and answer each. */
static bool bad_bytewise(const client_cfg_t *cfg, conn_t *c, batch_t *b, rng_t *rng,
                         stats_t *st)
{
    build_batch(cfg->proto, b, (int)rng_range(rng, 1, 2), 256, false, rng);
    for (size_t i = 0; i < b->total; i++) {
        if (net_send(c, b->out + i, 1) != NET_OK)
            return false;
        if (rng_range(rng, 0, 3) == 0)
            net_sleep_ms(1);
    }
    return check_replies(cfg->proto, c, b, st);
}

/* Requests sent without end and no reply ever read, through a small
 * receive window: the server's writes stall, and with an idle timeout it
 * must give up on the connection within that time; without one it must
 * simply keep it. */
static bool bad_no_read(const client_cfg_t *cfg, conn_t *c, batch_t *b, rng_t *rng)
{
    build_batch(cfg->proto, b, cfg->proto->max_pipeline, 20480, false, rng);
    if (cfg->idle_ms == 0)
        return net_flood(c, b->out, b->total, 500) == NET_TIMEOUT;
    return net_flood(c, b->out, b->total, cfg->idle_ms + cfg->timeout_ms) == NET_EOF;
}

void client_bad(const client_cfg_t *cfg, rng_t *rng, int first_kind, stats_t *st)
{
    conn_t c = { .fd = -1 };
    batch_t *b = malloc(sizeof *b);
    if (b == NULL)
        abort();
    for (int kind = first_kind % BAD_KINDS; net_now_ms() < cfg->end_ms;
         kind = (kind + 1) % BAD_KINDS) {
        if (!open_conn(cfg, &c, kind == BAD_NO_READ ? 4096 : 0, st))
            continue;
        bool ok = true;
        switch (kind) {
        case BAD_RESET:      ok = bad_reset(cfg, &c, b, rng, st); break;
        case BAD_HALF_CLOSE: ok = bad_half_close(cfg, &c, b, rng, st); break;
        case BAD_IDLE:       ok = bad_idle(cfg, &c, b, rng, st); break;
        case BAD_BYTEWISE:   ok = bad_bytewise(cfg, &c, b, rng, st); break;
        case BAD_NO_READ:    ok = bad_no_read(cfg, &c, b, rng); break;
        default:    /* BAD_CONNECT_CLOSE: a plain close or a reset */
            if (rng_range(rng, 0, 1) == 0)
                net_reset(&c);
            break;
        }
        st->bad_done[kind]++;
        if (!ok)
            st->bad_failed[kind]++;
        net_close(&c);
    }
    net_free(&c);
    free(b);
}

int client_probe(const client_cfg_t *cfg)
{
    conn_t c = { .fd = -1 };
    stats_t st;
    memset(&st, 0, sizeof st);
    rng_t rng = { 0x50a4 };
    batch_t *b = malloc(sizeof *b);
    bool ok = b != NULL && open_conn(cfg, &c, 0, &st);
    if (ok) {
        build_batch(cfg->proto, b, 1, 256, false, &rng);
        ok = send_pieces(&c, b, &rng) == 0 && check_replies(cfg->proto, &c, b, &st);
    }
    net_free(&c);
    free(b);
    return ok && st.ok == 1 ? 0 : 1;
}
