/*
 * soak.h - what the parts of the soak client share: a connection with a
 * receive buffer and a deadline on every wait, the two protocols it
 * speaks (echo and HTTP), and the counters each client thread keeps.
 *
 * The client is plain POSIX (threads, poll) and does not use Coco, so a
 * fault in the library cannot hide a fault it should report.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SOAK_H
#define SOAK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ random */

typedef struct rng {
    uint64_t s;
} rng_t;

static inline uint32_t rng_next(rng_t *r)
{
    /* xorshift64*: enough to vary sizes and choices, reproducible by seed */
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return (uint32_t)((r->s * 0x2545F4914F6CDD1DULL) >> 32);
}

/* A number in [lo, hi]. */
static inline uint32_t rng_range(rng_t *r, uint32_t lo, uint32_t hi)
{
    return lo + rng_next(r) % (hi - lo + 1);
}

/* -------------------------------------------------------- connection */

/* What a wait on the server ended with. */
enum { NET_OK = 0, NET_EOF, NET_TIMEOUT, NET_ERROR };

typedef struct conn {
    int fd;
    int timeout_ms;     /* the longest wait for any progress */
    char *buf;          /* received and not yet consumed */
    size_t len, cap;
    uint64_t connect_ms; /* net_now_ms() as net_connect() began */
} conn_t;

/* rcvbuf: the receive buffer to ask for (0: the system's default). */
int net_connect(conn_t *c, int port, int timeout_ms, int rcvbuf);
/* Sends all of out while taking in whatever the server sends meanwhile,
 * so a server that answers as it reads never deadlocks against us. */
int net_send(conn_t *c, const char *out, size_t n);
/* Receives until at least want bytes are buffered. */
int net_fill(conn_t *c, size_t want);
void net_consume(conn_t *c, size_t n);
/* Waits for the server to close: NET_EOF if it does with nothing more
 * buffered, NET_ERROR if more data or a reset comes first. */
int net_expect_eof(conn_t *c, int timeout_ms);
/* Sends buf over and over without ever reading, until the server closes
 * the connection (NET_EOF) or no byte could be sent for wait_ms
 * (NET_TIMEOUT). */
int net_flood(conn_t *c, const char *buf, size_t n, int wait_ms);
/* Closes with SO_LINGER 0, so the server sees a reset. */
void net_reset(conn_t *c);
void net_close(conn_t *c);
void net_free(conn_t *c);
void net_sleep_ms(int ms);
uint64_t net_now_ms(void);

/* ---------------------------------------------------------- protocols */

/* How the server answered one request. */
enum { REPLY_OK = 0, REPLY_WRONG, REPLY_LOST };

typedef struct proto {
    const char *name;
    int max_pipeline;   /* requests sent before reading the replies */
    /* Writes one complete request into buf (cap bytes) and returns its
     * length; last_one asks the server to close after answering it when
     * the protocol has a way to say so, and *closes tells whether it did. */
    size_t (*request)(char *buf, size_t cap, rng_t *rng, bool last_one, bool *closes);
    /* Reads and checks the reply to request req. */
    int (*reply)(conn_t *c, const char *req, size_t len, bool closes);
    /* A strict prefix of some request: where a client stops halfway. */
    size_t (*partial)(char *buf, size_t cap, rng_t *rng);
    /* Whether the server sends a partial request back (echo) before it
     * sees end of file and closes, rather than nothing (HTTP). */
    bool echoes_partial;
} proto_t;

extern const proto_t soak_echo;
extern const proto_t soak_http;

/* ------------------------------------------------------------ clients */

/* The ways a misbehaving client treats the server, in turn. */
enum {
    BAD_RESET,          /* reset (SO_LINGER 0) in the middle of a request */
    BAD_HALF_CLOSE,     /* shutdown(SHUT_WR) after a partial request */
    BAD_IDLE,           /* connects and sends nothing */
    BAD_BYTEWISE,       /* sends a request one byte at a time */
    BAD_CONNECT_CLOSE,  /* connects and closes at once */
    BAD_NO_READ,        /* sends requests and never reads the replies */
    BAD_KINDS
};

typedef struct stats {
    uint64_t ok, wrong, lost;       /* replies to complete requests */
    uint64_t connect_failed;
    uint64_t connections;
    uint64_t slowest_ms;            /* longest wait for a batch's replies */
    uint64_t bad_done[BAD_KINDS];   /* misbehaviours carried out */
    uint64_t bad_failed[BAD_KINDS]; /* ... where the server did not cope */
    uint64_t idle_min_ms, idle_max_ms; /* when idle connections were closed */
} stats_t;

typedef struct client_cfg {
    const proto_t *proto;
    int port;
    int timeout_ms;     /* longest wait for a reply */
    int idle_ms;        /* the server's idle timeout; 0: it has none */
    uint64_t end_ms;    /* net_now_ms() at which to stop */
} client_cfg_t;

void client_good(const client_cfg_t *cfg, rng_t *rng, stats_t *st);
void client_bad(const client_cfg_t *cfg, rng_t *rng, int first_kind, stats_t *st);
/* One connection, one request, its reply checked: the server still works. */
int client_probe(const client_cfg_t *cfg);
extern const char *const soak_bad_names[BAD_KINDS];

#endif
