/*
 * hookreal_curl.c - libcurl's easy API in coroutines, under the hook
 * library, against examples/http_hello (started by tests/hookreal-curl.sh,
 * which passes its port).
 *
 * TRANSFERS coroutines each run one curl_easy_perform() on a handle of
 * their own; every body must be the server's.  The transfers must overlap:
 * each coroutine counts itself in flight from the start of its transfer to
 * its end, and the most seen at once while a body arrives is recorded.
 * Without the hook each transfer runs to its end before the next coroutine
 * starts, so that count stays at one.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookreal.h"

#define TRANSFERS 20
#define BODY "Hello, World!"
/* libcurl keeps sizeable buffers on the stack; generous. */
#define STACK (512 * 1024)

static int port;
static coco_sched_t *sched;
static int in_flight, most_in_flight;
static int transfers_ok;

struct body {
    char buf[256];
    size_t len;
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
    struct body *b = arg;
    size_t len = size * n;
    if (in_flight > most_in_flight)
        most_in_flight = in_flight;
    if (len > sizeof b->buf - 1 - b->len)
        return 0; /* more than the server sends: an error */
    memcpy(b->buf + b->len, data, len);
    b->len += len;
    b->buf[b->len] = '\0';
    return len;
}

static void transfer_coro(void *arg)
{
    int id = (int)(intptr_t)arg;
    char url[128];
    struct body b = {.len = 0};
    long code = 0;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/transfer/%d", port, id);
    CURL *h = curl_easy_init();
    if (h == NULL)
        return;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    in_flight++;
    CURLcode rc = curl_easy_perform(h);
    in_flight--;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_OK && code == 200 && strcmp(b.buf, BODY) == 0)
        transfers_ok++;
    else
        hookreal_note("transfer %d: %s, HTTP %ld, body '%s'", id, curl_easy_strerror(rc), code,
                      b.buf);
    curl_easy_cleanup(h);
}

static void main_coro(void *arg)
{
    (void)arg;
    double t0 = hookreal_now_ms();
    coco_coro_t *t[TRANSFERS];
    for (int i = 0; i < TRANSFERS; i++)
        t[i] = coco_create(sched, transfer_coro, (void *)(intptr_t)i, STACK);
    for (int i = 0; i < TRANSFERS; i++)
        if (t[i] != NULL)
            coco_join(t[i]);
    hookreal_note("%d transfers in %.1f ms", TRANSFERS, hookreal_now_ms() - t0);
    hookreal_ok(transfers_ok == TRANSFERS, "%d transfers, each with the server's body (%d right)",
                TRANSFERS, transfers_ok);
    hookreal_ok(most_in_flight > 1, "the transfers overlapped (%d of %d in flight at once)",
                most_in_flight, TRANSFERS);
}

int main(int argc, char **argv)
{
    if (argc != 2 || (port = atoi(argv[1])) <= 0) {
        fprintf(stderr, "usage: hookreal_curl PORT\n");
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "curl_global_init failed\n");
        return 1;
    }
    sched = coco_sched_create();
    if (sched == NULL || coco_create(sched, main_coro, NULL, STACK) == NULL) {
        perror("coco_sched_create");
        return 1;
    }
    coco_sched_run(sched);
    coco_sched_destroy(sched);
    curl_global_cleanup();
    return hookreal_done();
}
