/*
 * tls_echo.c - a TLS echo server, and its client, with libcoco-tls: one
 * coroutine per connection, all on one thread.
 *
 *   tls_echo server CERT KEY [PORT]
 *   tls_echo client CA HOST PORT
 *
 * The server listens on 127.0.0.1 port PORT (default 7443; 0 picks a free
 * port, printed at start) with the certificate chain CERT and its key KEY
 * (PEM files), and sends back whatever each client sends.  A handshake
 * must end within 10 seconds, and a connection idle for 60 is closed.
 * SIGINT or SIGTERM shuts it down: the listening socket is closed and
 * every connection shut down for reading and writing, which ends the
 * coroutines serving them.
 *
 * The client connects to 127.0.0.1 port PORT, verifies the server's
 * certificate against the CA certificates in CA and the name HOST, sends
 * its standard input and writes the echo to its standard output; at the
 * end of its input it sends the closing alert and exits.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 65536
#define HANDSHAKE_MS 10000
#define IDLE_MS 60000

static SSL_CTX *ctx;
static int stop_pipe[2];
static int server_fd = -1;
static char conn_open[MAX_CONNS];
static int status;

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    (void)!write(stop_pipe[1], "x", 1);
    errno = saved;
}

static void serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    coco_tls_t *tls = coco_tls_accept(ctx, fd, HANDSHAKE_MS);
    if (tls == NULL) {
        fprintf(stderr, "tls_echo: %s\n", coco_tls_error());
        conn_open[fd] = 0;
        coco_close(fd);
        return;
    }
    char buf[16384];
    int n;
    while ((n = coco_tls_read_timeout(tls, buf, sizeof buf, IDLE_MS)) > 0)
        if (coco_tls_write_timeout(tls, buf, (size_t)n, IDLE_MS) != n)
            break;
    if (n == 0)
        coco_tls_shutdown(tls, 1000);
    conn_open[fd] = 0;
    coco_tls_close(tls);
}

static void acceptor(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = coco_accept(server_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EBADF)
                return; /* shut down */
            continue;
        }
        if (fd >= MAX_CONNS) {
            coco_close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        coco_coro_t *co = coco_create(coco_self()->sched, serve, (void *)(intptr_t)fd, 0);
        if (co == NULL) {
            coco_close(fd);
            continue;
        }
        conn_open[fd] = 1;
        coco_detach(co);
    }
}

static void stopper(void *arg)
{
    (void)arg;
    char c;
    while (coco_read(stop_pipe[0], &c, 1) < 0 && errno == EINTR)
        ;
    printf("Shutting down\n");
    fflush(stdout);
    coco_close(server_fd);
    /* Each connection's coroutine sees the end of its stream and closes
     * the socket itself. */
    for (int fd = 0; fd < MAX_CONNS; fd++)
        if (conn_open[fd])
            shutdown(fd, SHUT_RDWR);
}

static int run_server(const char *cert, const char *key, long port)
{
    ctx = coco_tls_ctx_server(cert, key);
    if (ctx == NULL) {
        fprintf(stderr, "tls_echo: %s\n", coco_tls_error());
        return 1;
    }
    if (pipe(stop_pipe) != 0) {
        perror("pipe");
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    server_fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(server_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    if (bind(server_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(server_fd, 1024) != 0) {
        fprintf(stderr, "tls_echo: cannot listen on port %ld: %s\n", port, strerror(errno));
        return 1;
    }
    socklen_t alen = sizeof addr;
    getsockname(server_fd, (struct sockaddr *)&addr, &alen);
    printf("Listening on port %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    coco_sched_t *sched = coco_sched_create();
    coco_sched_set_max_coroutines(sched, 0);
    coco_create(sched, acceptor, NULL, 0);
    coco_create(sched, stopper, NULL, 0);
    int rc = coco_sched_run(sched);
    coco_sched_destroy(sched);
    SSL_CTX_free(ctx);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    return rc == COCO_OK ? 0 : 1;
}

struct client_args {
    const char *host;
    long port;
};

/* Sends standard input in chunks and copies each chunk's echo out. */
static void client(void *arg)
{
    struct client_args *a = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)a->port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    if (fd < 0 || coco_connect_timeout(fd, &addr, sizeof addr, HANDSHAKE_MS) != 0) {
        fprintf(stderr, "tls_echo: connect: %s\n", strerror(errno));
        status = 1;
        if (fd >= 0)
            close(fd);
        return;
    }
    coco_tls_t *tls = coco_tls_connect(ctx, fd, a->host, HANDSHAKE_MS);
    if (tls == NULL) {
        fprintf(stderr, "tls_echo: %s\n", coco_tls_error());
        status = 1;
        coco_close(fd);
        return;
    }
    char buf[16384], echo[16384];
    int n;
    while ((n = coco_read(0, buf, sizeof buf)) > 0) {
        if (coco_tls_write_timeout(tls, buf, (size_t)n, IDLE_MS) != n)
            break;
        int got = 0;
        while (got < n) {
            int m = coco_tls_read_timeout(tls, echo + got, (size_t)(n - got), IDLE_MS);
            if (m <= 0)
                break;
            got += m;
        }
        if (got < n || coco_write(1, echo, (size_t)n) != n) {
            n = -1;
            break;
        }
    }
    if (n < 0) {
        fprintf(stderr, "tls_echo: %s\n", coco_tls_error());
        status = 1;
    } else {
        coco_tls_shutdown(tls, 1000);
    }
    coco_tls_close(tls);
}

static int run_client(const char *ca, const char *host, long port)
{
    ctx = coco_tls_ctx_client(ca, 0);
    if (ctx == NULL) {
        fprintf(stderr, "tls_echo: %s\n", coco_tls_error());
        return 1;
    }
    struct client_args a = { host, port };
    coco_sched_t *sched = coco_sched_create();
    coco_create(sched, client, &a, 0);
    int rc = coco_sched_run(sched);
    coco_sched_destroy(sched);
    SSL_CTX_free(ctx);
    return rc == COCO_OK ? status : 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: tls_echo server CERT KEY [PORT]\n"
               "       tls_echo client CA HOST PORT\n");
}

/* s as a decimal number from 0 to 65535, or -1. */
static long parse_port(const char *s)
{
    long v = 0;
    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > 6553)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v <= 65535 ? v : -1;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc >= 4 && argc <= 5 && strcmp(argv[1], "server") == 0) {
        long port = argc == 5 ? parse_port(argv[4]) : 7443;
        if (port >= 0)
            return run_server(argv[2], argv[3], port);
    } else if (argc == 5 && strcmp(argv[1], "client") == 0) {
        long port = parse_port(argv[4]);
        if (port > 0)
            return run_client(argv[2], argv[3], port);
    }
    usage(stderr);
    return 2;
}
