/*
 * echo_server.c - a TCP echo server with one detached coroutine per
 * connection, all on one thread.
 *
 *   echo_server [-a ADDR] [PORT [IDLE_SECONDS]]
 *
 * It listens on the IPv4 address ADDR (default 0.0.0.0, every interface;
 * -a 127.0.0.1 keeps it to this machine) and TCP port PORT (0-65535,
 * default 7777; 0 picks a free port, printed at start).  A connection
 * that sends nothing for IDLE_SECONDS (default 60; 0 means never), or does not take
 * its echo for as long, is closed: without that limit, a client that
 * connects and goes silent would hold its coroutine and descriptor for
 * ever.  The limit is the timeout of each coco_read_timeout() and
 * coco_write_timeout() call.
 *
 * SIGINT or SIGTERM shuts it down cleanly: the signal handler writes to a
 * pipe, a coroutine waiting on that pipe closes the listening socket and
 * every connection with coco_close(), which wakes the coroutines parked
 * on them, and the scheduler returns once they have all finished.
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

#define MAX_CONNS 65536

static int stop_pipe[2];
static int server_fd = -1;
static char conn_open[MAX_CONNS];   /* descriptors of live connections */
static uint64_t idle_ms;            /* per read or write; COCO_INFINITE: none */

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    (void)!write(stop_pipe[1], "x", 1);
    errno = saved;
}

static void handle_client(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[16384]; /* room for a whole message: one read, not two */
    int n;
    while ((n = coco_read_timeout(fd, buf, sizeof buf, idle_ms)) > 0) {
        if (coco_write_timeout(fd, buf, (size_t)n, idle_ms) != n)
            break;
        /* A full buffer means more is waiting: reads and writes that
         * never have to wait never let the other connections run. */
        if (n == (int)sizeof buf)
            coco_yield();
    }
    if (fd < MAX_CONNS && conn_open[fd]) {
        conn_open[fd] = 0;
        coco_close(fd);
    }
}

static void acceptor(void *arg)
{
    (void)arg;
    for (;;) {
        struct sockaddr_in peer;
        size_t len = sizeof peer;
        int fd = coco_accept(server_fd, &peer, &len);
        if (fd < 0) {
            if (errno == EBADF)
                return; /* shut down */
            continue;   /* EMFILE and friends: coco_accept paused already */
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
            "usage: echo_server [-a ADDR] [PORT [IDLE_SECONDS]]\n"
            "  -a ADDR       IPv4 address to listen on (default 0.0.0.0: every interface)\n"
            "  PORT          TCP port, 0-65535 (default 7777; 0 picks a free one)\n"
            "  IDLE_SECONDS  close a connection idle for that long (default 60; 0: never)\n");
}

/* s as a decimal number from 0 to max, or -1. */
static long parse_number(const char *s, long max)
{
    long v = 0;
    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > (max - (*s - '0')) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

int main(int argc, char **argv)
{
    struct in_addr listen_addr = { .s_addr = htonl(INADDR_ANY) };
    long port = 7777, idle = 60;
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
            fprintf(stderr, "echo_server: -a needs an IPv4 address such as 127.0.0.1\n");
        else
            fprintf(stderr, "echo_server: unknown option %s\n", argv[a]);
        usage(stderr);
        return 2;
    }
    if (argc - a > 2 ||
        (argc - a > 0 && (port = parse_number(argv[a], 65535)) < 0) ||
        (argc - a > 1 && (idle = parse_number(argv[a + 1], 1000000)) < 0)) {
        if (argc - a > 2)
            fprintf(stderr, "echo_server: too many arguments\n");
        else if (port < 0)
            fprintf(stderr, "echo_server: PORT must be a number from 0 to 65535\n");
        else
            fprintf(stderr, "echo_server: IDLE_SECONDS must be a number from 0 to 1000000\n");
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
        fprintf(stderr, "echo_server: cannot listen on %s port %ld: %s\n",
                inet_ntoa(listen_addr), port, strerror(errno));
        return 1;
    }
    socklen_t alen = sizeof addr;
    getsockname(server_fd, (struct sockaddr *)&addr, &alen);
    printf("Listening on port %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    coco_sched_t *sched = coco_sched_create();
    coco_sched_set_max_coroutines(sched, 0); /* bounded by memory only */
    coco_create(sched, acceptor, NULL, 0);
    coco_create(sched, stopper, NULL, 0);
    int rc = coco_sched_run(sched);
    coco_sched_destroy(sched);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    return rc == COCO_OK ? 0 : 1;
}
