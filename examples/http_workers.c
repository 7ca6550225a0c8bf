/*
 * http_workers.c - the server of http_hello.c on a worker group: the same
 * keep-alive HTTP/1.1 "Hello, World!" answers (examples/http_serve.h),
 * with connections spread over several threads.
 *
 *   http_workers [-a ADDR] [-w THREADS] [PORT [IDLE_SECONDS]]
 *
 * THREADS is the size of the group (default 0: one per CPU the process may
 * use); ADDR, PORT and IDLE_SECONDS are as in http_hello.c.
 *
 * One coroutine accepts, and spawns each connection's handler into the
 * group with coco_workers_spawn().  A handler not yet started is taken by
 * whichever worker is free (an idle worker steals it from a busy one);
 * once started it stays on that worker, so a connection's reads, writes
 * and timers are all on one thread.  The alternative, one listening
 * socket per worker (SO_REUSEPORT) with an accept loop on each, is not
 * used: a spawned task cannot be sent to a given worker, so there is no
 * way to put one accept loop on every worker; the kernel spreads
 * connections over the sockets by a hash, blind to how busy each worker
 * is, where stealing follows the load; and outside Linux the option does
 * not spread connections at all.  With keep-alive clients accepting is
 * rare, so one accept loop is not what limits the rate.
 *
 * SIGINT or SIGTERM shuts it down: the listening socket is closed and
 * every connection shut down, each handler closes its own descriptor,
 * and coco_workers_run() returns once all have finished.
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
static coco_workers_t *workers;
/* Connections open, set by the acceptor and cleared by their handlers on
 * any worker; read by the shutdown.  Atomic: several threads. */
static char conn_open[MAX_CONNS];
static int stopping;
static uint64_t idle_ms;  /* per read or write; COCO_INFINITE: none */

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    (void)!write(stop_pipe[1], "x", 1);
    errno = saved;
}

/* False once the shutdown has begun: it shuts every connection down. */
static int conn_is_open(int fd)
{
    (void)fd;
    return !__atomic_load_n(&stopping, __ATOMIC_ACQUIRE);
}

static void handle_client(void *arg)
{
    int fd = (int)(intptr_t)arg;
    http_serve(fd, idle_ms, conn_is_open);
    __atomic_store_n(&conn_open[fd], 0, __ATOMIC_RELEASE);
    coco_close(fd);
}

/* The shutdown, on the acceptor's worker: a descriptor is closed by the
 * thread whose coroutines wait on it, so the listening socket is closed
 * here, and the connections, which handlers on any worker wait on, are
 * only shut down (they then read an end of file and close them). */
static void stopper(void *arg)
{
    (void)arg;
    char c;
    while (coco_read(stop_pipe[0], &c, 1) < 0 && errno == EINTR)
        ;
    printf("Shutting down\n");
    fflush(stdout);
    __atomic_store_n(&stopping, 1, __ATOMIC_RELEASE);
    coco_close(server_fd);
    for (int fd = 0; fd < MAX_CONNS; fd++)
        if (__atomic_load_n(&conn_open[fd], __ATOMIC_ACQUIRE))
            shutdown(fd, SHUT_RDWR);
}

static void acceptor(void *arg)
{
    (void)arg;
    /* The stopper shares this worker (coco_create() on its scheduler), so
     * it may close the socket this loop waits on. */
    coco_coro_t *st = coco_create(coco_self()->sched, stopper, NULL, 0);
    if (st == NULL) {
        fprintf(stderr, "http_workers: cannot create the shutdown coroutine\n");
        exit(1);
    }
    coco_detach(st);
    for (;;) {
        int fd = coco_accept(server_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EBADF)
                return;
            continue;
        }
        if (fd >= MAX_CONNS || __atomic_load_n(&stopping, __ATOMIC_ACQUIRE)) {
            coco_close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        /* Marked before the spawn: the handler may start, and end, on
         * another worker before the spawn returns. */
        __atomic_store_n(&conn_open[fd], 1, __ATOMIC_RELEASE);
        if (coco_workers_spawn(workers, handle_client, (void *)(intptr_t)fd, 0) != COCO_OK) {
            __atomic_store_n(&conn_open[fd], 0, __ATOMIC_RELEASE);
            coco_close(fd);
        }
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: http_workers [-a ADDR] [-w THREADS] [PORT [IDLE_SECONDS]]\n"
            "  -a ADDR       IPv4 address to listen on (default 0.0.0.0: every interface)\n"
            "  -w THREADS    worker threads, 0-1024 (default 0: one per CPU)\n"
            "  PORT          TCP port, 0-65535 (default 8080; 0 picks a free one)\n"
            "  IDLE_SECONDS  close a connection idle for that long (default 60; 0: never)\n");
}

int main(int argc, char **argv)
{
    struct in_addr listen_addr = { .s_addr = htonl(INADDR_ANY) };
    long port = 8080, idle = 60, threads = 0;
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
        if (strcmp(argv[a], "-w") == 0 && a + 1 < argc &&
            (threads = parse_number(argv[a + 1], 1024)) >= 0) {
            a++;
            continue;
        }
        if (strcmp(argv[a], "-w") == 0)
            fprintf(stderr, "http_workers: -w needs a number from 0 to 1024\n");
        else if (strcmp(argv[a], "-a") == 0)
            fprintf(stderr, "http_workers: -a needs an IPv4 address such as 127.0.0.1\n");
        else
            fprintf(stderr, "http_workers: unknown option %s\n", argv[a]);
        usage(stderr);
        return 2;
    }
    if (argc - a > 2 ||
        (argc - a > 0 && (port = parse_number(argv[a], 65535)) < 0) ||
        (argc - a > 1 && (idle = parse_number(argv[a + 1], 1000000)) < 0)) {
        if (argc - a > 2)
            fprintf(stderr, "http_workers: too many arguments\n");
        else if (port < 0)
            fprintf(stderr, "http_workers: PORT must be a number from 0 to 65535\n");
        else
            fprintf(stderr, "http_workers: IDLE_SECONDS must be a number from 0 to 1000000\n");
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
        fprintf(stderr, "http_workers: cannot listen on %s port %ld: %s\n",
                inet_ntoa(listen_addr), port, strerror(errno));
        return 1;
    }
    socklen_t alen = sizeof addr;
    getsockname(server_fd, (struct sockaddr *)&addr, &alen);
    printf("Listening on port %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    workers = coco_workers_create((size_t)threads);
    if (workers == NULL) {
        fprintf(stderr, "http_workers: cannot create the worker group: %s\n", strerror(errno));
        return 1;
    }
    int err = coco_workers_spawn(workers, acceptor, NULL, 0);
    if (err != COCO_OK) {
        fprintf(stderr, "http_workers: cannot start the accept loop: %s\n", coco_strerror(err));
        return 1;
    }
    int rc = coco_workers_run(workers);
    coco_workers_destroy(workers);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    return rc == COCO_OK ? 0 : 1;
}
