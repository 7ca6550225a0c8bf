/*
 * hookreal_dns.c - getaddrinfo() in a coroutine, under the hook library,
 * against a resolver that answers late (tests/dns_responder.c, started by
 * tests/hookreal-dns.sh in namespaces where it is the system's resolver).
 *
 *   hookreal_dns NAME ADDRESS DELAY_MS
 *
 * One coroutine looks NAME up while another counts ticks of TICK_MS.
 * The lookup must give ADDRESS, take about DELAY_MS (so the answer did
 * come from the late responder), and the ticker must go on meanwhile.
 * Without the hook the lookup holds the whole thread: no tick in between.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hookreal.h"

#define TICK_MS 5
#define STACK (256 * 1024)

static const char *name, *want;
static int delay_ms;
static coco_sched_t *sched;
static volatile int ticks;
static int lookup_done;

static void ticker_coro(void *arg)
{
    (void)arg;
    /* Bounded: 2000 ticks is ten seconds. */
    for (int i = 0; i < 2000 && !lookup_done; i++) {
        coco_sleep(TICK_MS);
        ticks++;
    }
}

static void lookup_coro(void *arg)
{
    (void)arg;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    /* Let the ticker start first. */
    coco_sleep(2 * TICK_MS);
    int before = ticks;
    double t0 = hookreal_now_ms();
    int rc = getaddrinfo(name, "80", &hints, &res);
    double ms = hookreal_now_ms() - t0;
    int during = ticks - before;
    lookup_done = 1;

    char got[INET_ADDRSTRLEN] = "";
    if (rc == 0 && res != NULL && res->ai_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, got, sizeof got);
    hookreal_ok(rc == 0 && strcmp(got, want) == 0, "getaddrinfo(\"%s\") gives %s (%s, got '%s')",
                name, want, rc == 0 ? "no error" : gai_strerror(rc), got);
    hookreal_ok(ms >= delay_ms * 0.8, "the lookup waited for the late answer (%.0f ms, delay %d ms)",
                ms, delay_ms);
    /* Expected about ms / TICK_MS; a tenth of that is plenty on a busy
     * machine, and without the hook there is none. */
    hookreal_ok(during >= delay_ms / TICK_MS / 10,
                "another coroutine kept running during the lookup (%d ticks of %d ms in %.0f ms)",
                during, TICK_MS, ms);
    if (res != NULL)
        freeaddrinfo(res);
}

int main(int argc, char **argv)
{
    if (argc != 4 || (delay_ms = atoi(argv[3])) <= 0) {
        fprintf(stderr, "usage: hookreal_dns NAME ADDRESS DELAY_MS\n");
        return 2;
    }
    name = argv[1];
    want = argv[2];
    sched = coco_sched_create();
    if (sched == NULL || coco_create(sched, ticker_coro, NULL, STACK) == NULL ||
        coco_create(sched, lookup_coro, NULL, STACK) == NULL) {
        perror("coco_sched_create");
        return 1;
    }
    coco_sched_run(sched);
    coco_sched_destroy(sched);
    return hookreal_done();
}
