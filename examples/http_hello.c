/*
 * http_hello.c - a keep-alive HTTP/1.1 server that answers every request
 * with "Hello, World!", one detached coroutine per connection.
 *
 *   http_hello [-a ADDR] [PORT [IDLE_SECONDS]]
 *
 * It listens on the IPv4 address ADDR (default 0.0.0.0, every interface;
 * -a 127.0.0.1 keeps it to this machine) and TCP port PORT (0-65535,
 * default 8080; 0 picks a free port, printed at start).  A connection
 * that sends nothing for IDLE_SECONDS (default 60; 0 means never),
 * whether between keep-alive requests or in the middle of one, or that
 * does not take its responses for as long, is closed, as real servers
 * close idle keep-alive connections: the limit is the timeout of each coco_read_timeout() and
 * coco_write_timeout() call.
 *
 * It understands just enough HTTP for real clients (curl, wrk, browsers):
 * requests may be pipelined (all complete requests in a read are answered
 * with one write), lines may end in CRLF or a bare LF, a request body
 * announced by Content-Length is skipped, and the connection is closed
 * after the response when the client sends "Connection: close" (or speaks
 * HTTP/1.0 without asking for keep-alive).  A malformed request (a bad
 * request line, a header line without a colon, a NUL, a Content-Length
 * that is not a plain decimal number or disagrees with another one, a
 * Transfer-Encoding, which it does not implement, or a header block larger
 * than 8 KiB) is answered with 400 Bad Request and the connection closed.
 * Connections it closes after a response are closed gracefully (see
 * close_gracefully()), so the client reads the response, not a reset.
 * SIGINT or SIGTERM shuts it down cleanly, as in echo_server.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"

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

#include "http_serve.h"

#define MAX_CONNS 65536

static int stop_pipe[2];
static int server_fd = -1;
static char conn_open[MAX_CONNS];
static uint64_t idle_ms;  /* per read or write; COCO_INFINITE: none */

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    (void)!write(stop_pipe[1], "x", 1);
    errno = saved;
}

/* Whether fd is still open: the shutdown closes every connection. */
static int conn_is_open(int fd)
{
    return conn_open[fd];
}

static void handle_client(void *arg)
{
    int fd = (int)(intptr_t)arg;
    http_serve(fd, idle_ms, conn_is_open);
    if (fd < MAX_CONNS && conn_open[fd]) {
        conn_open[fd] = 0;
        coco_close(fd);
    }
}

static void acceptor(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = coco_accept(server_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EBADF)
                return;
            continue;
        }
        if (fd >= MAX_CONNS) {
            coco_close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        coco_coro_t *co = coco_create(coco_self()->sched, handle_client,
                                      (void *)(intptr_t)fd, 0);
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
    for (int fd = 0; fd < MAX_CONNS; fd++) {
        if (conn_open[fd]) {
            conn_open[fd] = 0;
            coco_close(fd);
        }
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: http_hello [-a ADDR] [PORT [IDLE_SECONDS]]\n"
            "  -a ADDR       IPv4 address to listen on (default 0.0.0.0: every interface)\n"
            "  PORT          TCP port, 0-65535 (default 8080; 0 picks a free one)\n"
            "  IDLE_SECONDS  close a connection idle for that long (default 60; 0: never)\n");
}

int main(int argc, char **argv)
{
    struct in_addr listen_addr = { .s_addr = htonl(INADDR_ANY) };
    long port = 8080, idle = 60;
    int a = 1;
    for (; a < argc && argv[a][0] == '-' && argv[a][1] != '\0'; a++) {
        if (strcmp(argv[a], "--") == 0) {
            a++;
            break;
        }
        if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[a], "-a") == 0 && a + 1 < argc &&
            inet_pton(AF_INET, argv[a + 1], &listen_addr) == 1) {
            a++;
            continue;
        }
        if (strcmp(argv[a], "-a") == 0)
            fprintf(stderr, "http_hello: -a needs an IPv4 address such as 127.0.0.1\n");
        else
            fprintf(stderr, "http_hello: unknown option %s\n", argv[a]);
        usage(stderr);
        return 2;
    }
    if (argc - a > 2 ||
        (argc - a > 0 && (port = parse_number(argv[a], 65535)) < 0) ||
        (argc - a > 1 && (idle = parse_number(argv[a + 1], 1000000)) < 0)) {
        if (argc - a > 2)
            fprintf(stderr, "http_hello: too many arguments\n");
        else if (port < 0)
            fprintf(stderr, "http_hello: PORT must be a number from 0 to 65535\n");
        else
            fprintf(stderr, "http_hello: IDLE_SECONDS must be a number from 0 to 1000000\n");
        usage(stderr);
        return 2;
    }
    idle_ms = idle > 0 ? (uint64_t)idle * 1000 : COCO_INFINITE;
    if (pipe(stop_pipe) != 0) {
        perror("pipe");
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    server_fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(server_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)port),
        .sin_addr = listen_addr,
    };
    if (bind(server_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(server_fd, 1024) != 0) {
        fprintf(stderr, "http_hello: cannot listen on %s port %ld: %s\n",
                inet_ntoa(listen_addr), port, strerror(errno));
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
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    return rc == COCO_OK ? 0 : 1;
}
