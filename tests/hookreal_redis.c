/*
 * hookreal_redis.c - hiredis' synchronous API in coroutines, under the
 * hook library, against a real redis-server (started by
 * tests/hookreal-redis.sh, which passes its port).
 *
 * One coroutine blocks in BLPOP (a wait on the server's side, with a
 * timeout of BLPOP_TIMEOUT_S) on its own connection; meanwhile WORKERS
 * coroutines do SET/GET round trips on theirs.  When they are done, one
 * more coroutine sees the server report a blocked client, and pushes the
 * element that releases the BLPOP.  Another coroutine's BLPOP, which
 * nothing releases, must end after the read timeout hiredis set on its
 * connection (SO_RCVTIMEO).  Without the hook the first BLPOP blocks the
 * whole thread until its timeout: the round trips come after it and the
 * pushed element is never seen by it, which fails the checks below.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "hookreal.h"

#define WORKERS 5
#define ROUNDS 100
#define BLPOP_TIMEOUT_S 3
/* hiredis formats on the stack; generous. */
#define STACK (256 * 1024)
#define LIST "coco:hookreal:list"

static int port;
static coco_sched_t *sched;
static int blpop_returned;       /* set when the BLPOP coroutine got its reply */
static int workers_ok;           /* workers whose round trips all matched */
static int workers_before_blpop; /* workers that finished while BLPOP waited */
static int blocked_seen;         /* the server counted a blocked client */
static double t_start, t_blpop;
static char blpop_key[64], blpop_value[64];
static int blpop_type = -1;

static redisContext *connect_redis(void)
{
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c != NULL && c->err) {
        hookreal_note("connect: %s", c->errstr);
        redisFree(c);
        return NULL;
    }
    return c;
}

static void blpop_coro(void *arg)
{
    (void)arg;
    redisContext *c = connect_redis();
    if (c == NULL)
        return;
    redisReply *r = redisCommand(c, "BLPOP %s %d", LIST, BLPOP_TIMEOUT_S);
    t_blpop = hookreal_now_ms();
    blpop_returned = 1;
    if (r != NULL) {
        blpop_type = r->type;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            snprintf(blpop_key, sizeof blpop_key, "%s", r->element[0]->str);
            snprintf(blpop_value, sizeof blpop_value, "%s", r->element[1]->str);
        }
        freeReplyObject(r);
    } else {
        hookreal_note("BLPOP: %s", c->errstr);
    }
    redisFree(c);
}

/* A BLPOP that nothing releases, on a connection with a read timeout of
 * READ_TIMEOUT_MS (SO_RCVTIMEO, set by hiredis): the read must give up
 * after that time, with hiredis' I/O error, while the others run on. */
#define READ_TIMEOUT_MS 300
static double timeout_ms_taken = -1;
static int timeout_err;

static void timeout_coro(void *arg)
{
    (void)arg;
    redisContext *c = connect_redis();
    if (c == NULL)
        return;
    struct timeval tv = {0, READ_TIMEOUT_MS * 1000};
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        redisFree(c);
        return;
    }
    double t0 = hookreal_now_ms();
    redisReply *r = redisCommand(c, "BLPOP %s:never 5", LIST);
    timeout_ms_taken = hookreal_now_ms() - t0;
    timeout_err = r == NULL ? c->err : -1;
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);
}

static void worker_coro(void *arg)
{
    int id = (int)(intptr_t)arg;
    redisContext *c = connect_redis();
    if (c == NULL)
        return;
    int good = 0;
    for (int i = 0; i < ROUNDS; i++) {
        char key[64], val[64];
        snprintf(key, sizeof key, "coco:hookreal:%d:%d", id, i);
        snprintf(val, sizeof val, "value-%d-%d", id, i * 7);
        redisReply *r = redisCommand(c, "SET %s %s", key, val);
        int set_ok = r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
        if (r != NULL)
            freeReplyObject(r);
        r = redisCommand(c, "GET %s", key);
        if (set_ok && r != NULL && r->type == REDIS_REPLY_STRING && strcmp(r->str, val) == 0)
            good++;
        if (r != NULL)
            freeReplyObject(r);
    }
    if (good == ROUNDS)
        workers_ok++;
    if (!blpop_returned)
        workers_before_blpop++;
    redisFree(c);
}

/* Waits (a bounded number of polls) until the server reports a blocked
 * client, then pushes the element BLPOP waits for. */
static void push_coro(void *arg)
{
    (void)arg;
    redisContext *c = connect_redis();
    if (c == NULL)
        return;
    for (int i = 0; i < 100 && !blocked_seen && !blpop_returned; i++) {
        redisReply *r = redisCommand(c, "INFO clients");
        const char *b;
        if (r != NULL && r->type == REDIS_REPLY_STRING &&
            (b = strstr(r->str, "blocked_clients:")) != NULL &&
            atoi(b + strlen("blocked_clients:")) >= 1)
            blocked_seen = 1;
        if (r != NULL)
            freeReplyObject(r);
        if (!blocked_seen)
            coco_sleep(10);
    }
    redisReply *r = redisCommand(c, "RPUSH %s released", LIST);
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);
}

static void main_coro(void *arg)
{
    (void)arg;
    redisContext *c = connect_redis();
    hookreal_ok(c != NULL, "connect to redis-server on 127.0.0.1:%d", port);
    if (c == NULL)
        return;
    redisReply *r = redisCommand(c, "DEL %s", LIST);
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);

    t_start = hookreal_now_ms();
    coco_coro_t *waiter = coco_create(sched, blpop_coro, NULL, STACK);
    coco_coro_t *timed = coco_create(sched, timeout_coro, NULL, STACK);
    coco_coro_t *w[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        w[i] = coco_create(sched, worker_coro, (void *)(intptr_t)i, STACK);
    for (int i = 0; i < WORKERS; i++)
        coco_join(w[i]);
    double t_workers = hookreal_now_ms();
    coco_coro_t *pusher = coco_create(sched, push_coro, NULL, STACK);
    coco_join(pusher);
    coco_join(waiter);
    coco_join(timed);

    hookreal_note("round trips done after %.1f ms, BLPOP returned after %.1f ms",
                  t_workers - t_start, t_blpop - t_start);
    hookreal_ok(workers_ok == WORKERS, "%d x %d SET/GET round trips correct (%d connections good)",
                WORKERS, ROUNDS, workers_ok);
    hookreal_ok(workers_before_blpop == WORKERS,
                "the round trips ran while BLPOP was blocked (%d of %d workers finished first)",
                workers_before_blpop, WORKERS);
    hookreal_ok(blocked_seen, "the server saw the BLPOP client blocked");
    hookreal_ok(blpop_type == REDIS_REPLY_ARRAY && strcmp(blpop_key, LIST) == 0 &&
                    strcmp(blpop_value, "released") == 0,
                "BLPOP returned the pushed element (got type %d, '%s' '%s')", blpop_type,
                blpop_key, blpop_value);
    hookreal_ok(timeout_err == REDIS_ERR_IO && timeout_ms_taken >= READ_TIMEOUT_MS * 0.9 &&
                    timeout_ms_taken < 5000 * 0.75,
                "a read timeout of %d ms (SO_RCVTIMEO) ends a BLPOP of 5 s with an I/O error "
                "(error %d after %.0f ms)",
                READ_TIMEOUT_MS, timeout_err, timeout_ms_taken);
    /* The element is the proof that the push released it; the time is
     * a second look, with room for a busy machine. */
    hookreal_ok(t_blpop - t_start < BLPOP_TIMEOUT_S * 1000.0 * 0.9,
                "BLPOP was released by the push, not its timeout (%.0f ms)", t_blpop - t_start);
}

int main(int argc, char **argv)
{
    if (argc != 2 || (port = atoi(argv[1])) <= 0) {
        fprintf(stderr, "usage: hookreal_redis PORT\n");
        return 2;
    }
    sched = coco_sched_create();
    if (sched == NULL || coco_create(sched, main_coro, NULL, STACK) == NULL) {
        perror("coco_sched_create");
        return 1;
    }
    coco_sched_run(sched);
    coco_sched_destroy(sched);
    return hookreal_done();
}
