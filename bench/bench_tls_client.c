/*
 * bench_tls_client.c - the load of bench_tls.sh: TLS clients in
 * coroutines of one thread, against an echo server on 127.0.0.1.
 *
 *   bench_tls_client CA PORT hs SECONDS CONNS
 *       CONNS coroutines each make full handshakes in a loop (TCP connect,
 *       TLS 1.3 handshake verified against CA, one byte echoed so that
 *       servers that finish the handshake lazily do so, close_notify, and
 *       the server's close_notify and close awaited);
 *       prints the number of handshakes.
 *   bench_tls_client CA PORT bulk SECONDS CONNS
 *       CONNS connections each send 64 KiB and read its echo, in a loop;
 *       prints the bytes echoed.
 *
 * Only TLS_AES_128_GCM_SHA256 is offered, so that every server runs the
 * same cipher.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BULK_CHUNK 65536

static SSL_CTX *ctx;
static int port;
static double end_at;
static unsigned long long done_count, failures;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static coco_tls_t *open_conn(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return NULL;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (coco_connect_timeout(fd, &a, sizeof a, 5000) != 0) {
        if (failures == 0)
            fprintf(stderr, "bench_tls_client: connect: %s\n", strerror(errno));
        close(fd);
        return NULL;
    }
    coco_tls_t *t = coco_tls_connect(ctx, fd, "localhost", 5000);
    if (t == NULL) {
        fprintf(stderr, "bench_tls_client: %s\n", coco_tls_error());
        coco_close(fd);
    }
    return t;
}

static void handshakes(void *arg)
{
    (void)arg;
    while (now_s() < end_at) {
        coco_tls_t *t = open_conn();
        char c = 'x';
        if (t == NULL || coco_tls_write(t, &c, 1) != 1 ||
            coco_tls_read_timeout(t, &c, 1, 5000) != 1) {
            failures++;
            if (t != NULL)
                coco_tls_close(t);
            if (failures > 100)
                return;
            continue;
        }
        done_count++;
        /* The server closes first (after our alert, with its own), so
         * that TIME_WAIT falls on its side and the client's ephemeral
         * ports are not used up. */
        coco_tls_shutdown(t, 1000);
        coco_tls_read_timeout(t, &c, 1, 1000);
        coco_tls_close(t);
    }
}

static void bulk(void *arg)
{
    (void)arg;
    static char out[BULK_CHUNK];
    char *in = malloc(BULK_CHUNK);
    coco_tls_t *t = open_conn();
    if (t == NULL || in == NULL) {
        failures++;
        free(in);
        return;
    }
    while (now_s() < end_at) {
        if (coco_tls_write(t, out, BULK_CHUNK) != BULK_CHUNK) {
            failures++;
            break;
        }
        int got = 0;
        while (got < BULK_CHUNK) {
            int n = coco_tls_read_timeout(t, in + got, BULK_CHUNK - (size_t)got, 5000);
            if (n <= 0)
                break;
            got += n;
        }
        if (got < BULK_CHUNK) {
            failures++;
            break;
        }
        done_count += BULK_CHUNK;
    }
    coco_tls_shutdown(t, 1000);
    coco_tls_close(t);
    free(in);
}

int main(int argc, char **argv)
{
    if (argc != 6 || (strcmp(argv[3], "hs") != 0 && strcmp(argv[3], "bulk") != 0)) {
        fprintf(stderr, "usage: bench_tls_client CA PORT hs|bulk SECONDS CONNS\n");
        return 2;
    }
    port = atoi(argv[2]);
    double seconds = atof(argv[4]);
    int conns = atoi(argv[5]);
    ctx = coco_tls_ctx_client(argv[1], 0);
    if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256")) {
        fprintf(stderr, "bench_tls_client: %s\n", coco_tls_error());
        return 1;
    }
    coco_sched_t *s = coco_sched_create();
    end_at = now_s() + seconds;
    for (int i = 0; i < conns; i++)
        coco_create(s, strcmp(argv[3], "hs") == 0 ? handshakes : bulk, NULL, 0);
    int rc = coco_sched_run(s);
    coco_sched_destroy(s);
    SSL_CTX_free(ctx);
    printf("%llu %llu\n", done_count, failures);
    return rc == COCO_OK ? 0 : 1;
}
