/*
 * hookreal_pg.c - libpq's synchronous API in coroutines, under the hook
 * library, against a real PostgreSQL server (started by
 * tests/hookreal-pg.sh, which passes the connection string).
 *
 * CONNS coroutines connect at the same time, then each runs
 * "SELECT pg_sleep(0.2)" on its own connection.  With the hook, each one
 * parks in libpq's wait for the answer and the queries overlap: all are
 * done in about 0.2 s.  Without it, they run one after the other
 * (CONNS x 0.2 s), which fails the time check.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"

#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookreal.h"

#define CONNS 10
#define SLEEP_S 0.2
#define LIMIT_MS 1200.0
/* libpq formats and parses on the stack; generous. */
#define STACK (256 * 1024)

static const char *conninfo;
static coco_sched_t *sched;
static PGconn *conns[CONNS];
static int answers_ok;

static coco_waitgroup_t *wg_connected, *wg_go;
static int connected;

/* Connects (all the coroutines at once), waits for the start, runs the
 * query. */
static void query_coro(void *arg)
{
    int id = (int)(intptr_t)arg;
    char sql[128], want[32];
    conns[id] = PQconnectdb(conninfo);
    if (PQstatus(conns[id]) == CONNECTION_OK)
        connected++;
    else
        hookreal_note("connect: %s", PQerrorMessage(conns[id]));
    coco_waitgroup_done(wg_connected);
    coco_waitgroup_wait(wg_go);
    if (PQstatus(conns[id]) != CONNECTION_OK)
        return;
    snprintf(sql, sizeof sql, "SELECT pg_sleep(%.1f), 'conn-' || %d", SLEEP_S, id);
    snprintf(want, sizeof want, "conn-%d", id);
    PGresult *r = PQexec(conns[id], sql);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 2 &&
        strcmp(PQgetvalue(r, 0, 1), want) == 0)
        answers_ok++;
    else
        hookreal_note("connection %d: %s", id, PQerrorMessage(conns[id]));
    PQclear(r);
}

static void main_coro(void *arg)
{
    (void)arg;
    wg_connected = coco_waitgroup_create();
    wg_go = coco_waitgroup_create();
    coco_waitgroup_add(wg_connected, CONNS);
    coco_waitgroup_add(wg_go, 1);
    coco_coro_t *q[CONNS];
    for (int i = 0; i < CONNS; i++)
        q[i] = coco_create(sched, query_coro, (void *)(intptr_t)i, STACK);
    for (int i = 0; i < CONNS; i++)
        if (q[i] == NULL)
            coco_waitgroup_done(wg_connected);
    coco_waitgroup_wait(wg_connected);
    hookreal_ok(connected == CONNS, "%d connections made at once by %d coroutines (%d good)",
                CONNS, CONNS, connected);

    double t0 = hookreal_now_ms();
    coco_waitgroup_done(wg_go);
    for (int i = 0; i < CONNS; i++)
        if (q[i] != NULL)
            coco_join(q[i]);
    double ms = hookreal_now_ms() - t0;

    hookreal_ok(answers_ok == CONNS, "%d answers, each from its own connection (%d right)",
                CONNS, answers_ok);
    hookreal_ok(ms >= SLEEP_S * 1000.0 * 0.9, "the queries did sleep on the server (%.0f ms)", ms);
    hookreal_ok(ms < LIMIT_MS,
                "%d concurrent pg_sleep(%.1f) took %.0f ms (< %.0f ms; one after the other: %.0f)",
                CONNS, SLEEP_S, ms, LIMIT_MS, CONNS * SLEEP_S * 1000.0);
    for (int i = 0; i < CONNS; i++)
        PQfinish(conns[i]);
    coco_waitgroup_destroy(wg_connected);
    coco_waitgroup_destroy(wg_go);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: hookreal_pg CONNINFO\n");
        return 2;
    }
    conninfo = argv[1];
    sched = coco_sched_create();
    if (sched == NULL || coco_create(sched, main_coro, NULL, STACK) == NULL) {
        perror("coco_sched_create");
        return 1;
    }
    coco_sched_run(sched);
    coco_sched_destroy(sched);
    return hookreal_done();
}
