/*
 * hookreal_pg.c - libpq's synchronous API in coroutines, under the hook
 * library, against a real PostgreSQL server (started by
 * tests/hookreal-pg.sh, which passes the connection string).
 *
 * CONNS coroutines each run "SELECT pg_sleep(0.2)" on a connection of
 * their own.  With the hook, each one parks in libpq's wait for the
 * answer and the queries overlap: all are done in about 0.2 s.  Without
 * it, they run one after the other (CONNS x 0.2 s), which fails the time
 * check.
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

static void query_coro(void *arg)
{
    int id = (int)(intptr_t)arg;
    char sql[128], want[32];
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
    int connected = 0;
    for (int i = 0; i < CONNS; i++) {
        conns[i] = PQconnectdb(conninfo);
        if (PQstatus(conns[i]) == CONNECTION_OK)
            connected++;
        else
            hookreal_note("connect: %s", PQerrorMessage(conns[i]));
    }
    hookreal_ok(connected == CONNS, "%d connections to PostgreSQL (%d good)", CONNS, connected);
    if (connected != CONNS)
        return;

    double t0 = hookreal_now_ms();
    coco_coro_t *q[CONNS];
    for (int i = 0; i < CONNS; i++)
        q[i] = coco_create(sched, query_coro, (void *)(intptr_t)i, STACK);
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
