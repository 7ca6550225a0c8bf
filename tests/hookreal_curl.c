/*
 * hookreal_curl.c - libcurl's easy API in coroutines, under the hook
 * library, against examples/http_hello (started by tests/hookreal-curl.sh,
 * which passes its port).
 *
 * TRANSFERS coroutines each run one curl_easy_perform() on a handle of
 * their own; every body must be the server's.  So that every transfer
 * has to wait, the server is stopped (SIGSTOP) before they start, and a
 * thread of the program lets it go on (SIGCONT) RESUME_MS later: its
 * kernel still accepts the connections and takes the requests.  Each
 * coroutine counts itself in flight from the start of its transfer to its
 * end; the thread reads that count when it resumes the server.  With the
 * hook all the transfers are waiting then; without it the first one holds
 * the thread and the count is one.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookreal.h"

#define TRANSFERS 20
#define BODY "Hello, World!"
/* libcurl keeps sizeable buffers on the stack; generous. */
#define STACK (512 * 1024)

#define RESUME_MS 300

static int port;
static pid_t server;
static int waiting_at_resume = -1;
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
    int now = __atomic_load_n(&in_flight, __ATOMIC_RELAXED);
    if (now > most_in_flight)
        most_in_flight = now;
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
    __atomic_add_fetch(&in_flight, 1, __ATOMIC_RELAXED);
    CURLcode rc = curl_easy_perform(h);
    __atomic_sub_fetch(&in_flight, 1, __ATOMIC_RELAXED);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_OK && code == 200 && strcmp(b.buf, BODY) == 0)
        transfers_ok++;
    else
        hookreal_note("transfer %d: %s, HTTP %ld, body '%s'", id, curl_easy_strerror(rc), code,
                      b.buf);
    curl_easy_cleanup(h);
}

/* A thread of its own, so that it runs whatever the coroutines do. */
static void *resume_server(void *arg)
{
    (void)arg;
    struct timespec ts = {0, RESUME_MS * 1000000L};
    nanosleep(&ts, NULL);
    waiting_at_resume = __atomic_load_n(&in_flight, __ATOMIC_RELAXED);
    kill(server, SIGCONT);
    return NULL;
}

static void main_coro(void *arg)
{
    (void)arg;
    pthread_t resumer;
    hookreal_ok(kill(server, SIGSTOP) == 0, "the server is stopped");
    if (pthread_create(&resumer, NULL, resume_server, NULL) != 0) {
        kill(server, SIGCONT);
        hookreal_ok(0, "pthread_create");
        return;
    }
    double t0 = hookreal_now_ms();
    coco_coro_t *t[TRANSFERS];
    for (int i = 0; i < TRANSFERS; i++)
        t[i] = coco_create(sched, transfer_coro, (void *)(intptr_t)i, STACK);
    for (int i = 0; i < TRANSFERS; i++)
        if (t[i] != NULL)
            coco_join(t[i]);
    hookreal_note("%d transfers in %.1f ms", TRANSFERS, hookreal_now_ms() - t0);
    pthread_join(resumer, NULL);
    hookreal_ok(transfers_ok == TRANSFERS, "%d transfers, each with the server's body (%d right)",
                TRANSFERS, transfers_ok);
    /* All of them, unless the machine is very busy. */
    hookreal_ok(waiting_at_resume >= TRANSFERS / 2,
                "the transfers waited for the stopped server together (%d of %d; most at once: %d)",
                waiting_at_resume, TRANSFERS, most_in_flight);
}

int main(int argc, char **argv)
{
    if (argc != 3 || (port = atoi(argv[1])) <= 0 || (server = (pid_t)atoi(argv[2])) <= 0) {
        fprintf(stderr, "usage: hookreal_curl PORT SERVER_PID\n");
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
