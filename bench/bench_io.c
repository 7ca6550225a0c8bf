/*
 * bench_io.c - network throughput of Coco's example servers against two
 * peers measured in the same run: a plain single-threaded C epoll loop
 * (bench/peers/io_epoll, the one-core limit) and a Go goroutine-per-
 * connection server (bench/peers/io_go, GOMAXPROCS=1).
 *
 * Loads, all over 127.0.0.1 with the server on one CPU and the load
 * generator on another:
 *   - TCP echo ping-pong, 64 B and 4 KiB messages, 100 and 1000
 *     connections, driven by an epoll client in this process;
 *   - HTTP "Hello, World!" with wrk -t1 -c256 (keep-alive).
 * And one on two threads: the same HTTP load against examples/http_workers
 * on a worker group of two (coco-2w) and the Go server with GOMAXPROCS=2
 * (go-2), each server free to use both CPUs (wrk stays on its own; the
 * single-threaded Coco server runs too, pinned as above, for reference).
 * There the figure that counts is requests per server CPU-second.
 * For each: the rate, the server's CPU time per message or request (from
 * /proc/PID/stat over the measured window; the sharper figure when the
 * load generator saturates its own core), and Coco's speed-up over each peer
 * (its rate / the peer's; the peer's CPU time / Coco's: above 1, Coco is ahead).
 * Each figure is the median of three rounds; a round runs every server
 * once, each round in another order, so that a slow patch of a shared
 * machine, or the teardown of the last run's connections, does not
 * always fall on the same server.
 * The example servers run without their idle timeout (a timer armed
 * around every read and write), as the peers have none.
 * A peer or tool that is missing is reported as skipped.  The whole run
 * takes well under 90 seconds.
 *
 *   bench_io [-s SERVER] [LOAD...]
 *
 * runs only the loads whose names contain one of the LOAD words (e.g.
 * "http", "workers", "64 B x 1000") and, with -s, only the named server
 * (coco, c-epoll, go, coco-2w or go-2): for profiling one server under one
 * load.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUN_SECONDS    1.0
#define WARMUP_SECONDS 0.3
#define ROUNDS         3
#define SETTLE_US      100000 /* after a server stops: its sockets close */

enum { SRV_COCO, SRV_EPOLL, SRV_GO, SRV_COCO_MT, SRV_GO_MT, NSRV };
static const char *srv_name[NSRV] = { "coco", "c-epoll", "go", "coco-2w", "go-2" };
/* The servers of the one-thread loads, and of the two-thread one. */
#define SRVS_ONE ((1u << SRV_COCO) | (1u << SRV_EPOLL) | (1u << SRV_GO))
#define SRVS_TWO ((1u << SRV_COCO) | (1u << SRV_COCO_MT) | (1u << SRV_GO_MT))

static int server_cpu = -1, load_cpu = -1;
static const char *only_server;    /* -s: run just this server */
static char **only_loads;          /* the LOAD words, or NULL for all */
static int n_only_loads;

static int wanted_load(const char *name)
{
    if (n_only_loads == 0)
        return 1;
    for (int i = 0; i < n_only_loads; i++)
        if (strstr(name, only_loads[i]) != NULL)
            return 1;
    return 0;
}

static int wanted_server(int srv)
{
    return only_server == NULL || strcmp(only_server, srv_name[srv]) == 0;
}

struct result {
    int ok;
    double rate;       /* messages or requests per second */
    double cpu_us;     /* server CPU time per message or request */
    double p99_ms;     /* HTTP only */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pin(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

/* Lets the calling process run on every CPU again. */
static void unpin(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    for (long c = 0; c < sysconf(_SC_NPROCESSORS_ONLN) && c < CPU_SETSIZE; c++)
        CPU_SET(c, &set);
    sched_setaffinity(0, sizeof set, &set);
}

/* utime + stime of pid, in seconds. */
static double proc_cpu(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (p == NULL)
        return -1;
    unsigned long ut = 0, st = 0;
    /* After ")": state(3) ... utime(14) stime(15). */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ------------------------------------------------------------ servers */

struct server {
    pid_t pid;
    int port;
};

static const char *server_path(int srv, int http)
{
    switch (srv) {
    case SRV_COCO:    return http ? "examples/http_hello" : "examples/echo_server";
    case SRV_EPOLL:   return "bench/peers/io_epoll";
    case SRV_COCO_MT: return "examples/http_workers";
    default:          return "bench/peers/io_go";
    }
}

/* Starts a server pinned to server_cpu and reads the port it listens on. */
static int server_start(int srv, int http, struct server *out)
{
    const char *path = server_path(srv, http);
    if (access(path, X_OK) != 0)
        return -1;
    int pfd[2];
    if (pipe(pfd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (srv == SRV_COCO_MT || srv == SRV_GO_MT)
            unpin();
        else
            pin(server_cpu);
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        setenv("GOMAXPROCS", srv == SRV_GO_MT ? "2" : "1", 1);
        /* Port 0, and no idle timeout: the peers have none either. */
        if (srv == SRV_COCO)
            execl(path, path, "0", "0", (char *)NULL);
        else if (srv == SRV_COCO_MT)
            execl(path, path, "-w", "2", "0", "0", (char *)NULL);
        else
            execl(path, path, http ? "http" : "echo", "0", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    FILE *f = fdopen(pfd[0], "r");
    char line[128];
    out->pid = pid;
    out->port = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "Listening on port %d", &out->port) == 1)
            break;
    if (f != NULL)
        fclose(f);
    if (out->port <= 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return 0;
}

static void server_stop(struct server *sv)
{
    kill(sv->pid, SIGKILL);
    waitpid(sv->pid, NULL, 0);
    usleep(SETTLE_US);
}

/* ------------------------------------------------------- echo client */

struct conn {
    int fd;
    size_t got;
};

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            return;
        }
    }
}

struct echo_load {
    int nconn;
    size_t size;
    const char *name;
};

static int run_echo(const struct server *sv, const void *load, struct result *r)
{
    const struct echo_load *el = load;
    int nconn = el->nconn;
    size_t size = el->size;
    struct conn *c = calloc((size_t)nconn, sizeof *c);
    char *msg = malloc(size), *buf = malloc(65536);
    memset(msg, 'x', size);
    int ep = epoll_create1(0);
    int rc = 0;
    for (int i = 0; i < nconn; i++) {
        c[i].fd = connect_to(sv->port);
        if (c[i].fd < 0) {
            rc = -1;
            nconn = i;
            break;
        }
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c[i] };
        epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
    }
    if (rc == 0) {
        for (int i = 0; i < nconn; i++)
            send_all(c[i].fd, msg, size);
        static struct epoll_event evs[1024];
        double start = now_s(), t0 = 0, cpu0 = 0;
        unsigned long count = 0;
        int measuring = 0;
        for (;;) {
            double t = now_s();
            if (!measuring && t - start >= WARMUP_SECONDS) {
                measuring = 1;
                count = 0;
                t0 = t;
                cpu0 = proc_cpu(sv->pid);
            }
            if (measuring && t - t0 >= RUN_SECONDS)
                break;
            int n = epoll_wait(ep, evs, 1024, 100);
            for (int i = 0; i < n; i++) {
                struct conn *k = evs[i].data.ptr;
                ssize_t got = recv(k->fd, buf, 65536, 0);
                if (got <= 0)
                    continue;
                k->got += (size_t)got;
                while (k->got >= size) {
                    k->got -= size;
                    count++;
                    send_all(k->fd, msg, size);
                }
            }
        }
        double secs = now_s() - t0, cpu = proc_cpu(sv->pid) - cpu0;
        r->ok = count > 0;
        r->rate = (double)count / secs;
        r->cpu_us = count > 0 ? cpu * 1e6 / (double)count : 0;
    }
    for (int i = 0; i < nconn; i++)
        close(c[i].fd);
    close(ep);
    free(c);
    free(msg);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------- wrk */

static int have_wrk(void)
{
    return system("command -v wrk >/dev/null 2>&1") == 0;
}

static double parse_ms(const char *v, const char *unit)
{
    double x = atof(v);
    if (strncmp(unit, "us", 2) == 0)
        return x / 1000;
    if (strncmp(unit, "ms", 2) == 0)
        return x;
    if (unit[0] == 's')
        return x * 1000;
    return x;
}

static int run_http(const struct server *sv, const void *load, struct result *r)
{
    (void)load;
    char url[64], dur[16];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", sv->port);
    snprintf(dur, sizeof dur, "%ds", (int)RUN_SECONDS);
    int pfd[2];
    if (pipe(pfd) != 0)
        return -1;
    double cpu0 = proc_cpu(sv->pid);
    pid_t pid = fork();
    if (pid == 0) {
        pin(load_cpu);
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execlp("wrk", "wrk", "-t1", "-c256", "-d", dur, "--latency", url, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    FILE *f = fdopen(pfd[0], "r");
    char line[256];
    unsigned long reqs = 0;
    double secs = 0;
    r->p99_ms = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        char v[32], u[8];
        if (sscanf(line, " %lu requests in %lfs", &reqs, &secs) == 2)
            continue;
        if (sscanf(line, " 99%% %31[0-9.]%7s", v, u) == 2)
            r->p99_ms = parse_ms(v, u);
    }
    fclose(f);
    int st;
    waitpid(pid, &st, 0);
    double cpu = proc_cpu(sv->pid) - cpu0;
    if (reqs == 0 || secs <= 0)
        return -1;
    r->ok = 1;
    r->rate = (double)reqs / secs;
    r->cpu_us = cpu * 1e6 / (double)reqs;
    return 0;
}

/* ------------------------------------------------------------ rounds */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Each figure's median over the rounds that succeeded. */
static struct result summarize(const struct result *runs, int n)
{
    struct result r = { 0 };
    double rate[ROUNDS], cpu[ROUNDS], p99[ROUNDS];
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!runs[i].ok)
            continue;
        rate[k] = runs[i].rate;
        cpu[k] = runs[i].cpu_us;
        p99[k] = runs[i].p99_ms;
        k++;
    }
    if (k == 0)
        return r;
    r.ok = 1;
    r.rate = median(rate, k);
    r.cpu_us = median(cpu, k);
    r.p99_ms = median(p99, k);
    return r;
}

/* One load: ROUNDS rounds of every wanted server, round r starting with
 * server r.  run(sv, load, result) measures one server. */
typedef int (*run_fn)(const struct server *sv, const void *load, struct result *r);

static void run_rounds(int http, unsigned servers, run_fn run, const void *load,
                       const char *fail_msg, struct result res[NSRV])
{
    struct result runs[NSRV][ROUNDS];
    memset(runs, 0, sizeof runs);
    printf("  rounds (every server in each):");
    fflush(stdout);
    for (int r = 0; r < ROUNDS; r++) {
        printf(" %d", r + 1);
        fflush(stdout);
        for (int k = 0; k < NSRV; k++) {
            int s = (r + k) % NSRV;
            struct server sv;
            if (!(servers & (1u << s)) || !wanted_server(s) ||
                server_start(s, http, &sv) != 0)
                continue;
            if (run(&sv, load, &runs[s][r]) != 0)
                printf("\n  %s: %s\n", srv_name[s], fail_msg);
            server_stop(&sv);
        }
    }
    printf("\n");
    for (int s = 0; s < NSRV; s++)
        res[s] = summarize(runs[s], ROUNDS);
}

/* ------------------------------------------------------------ report */

/* The rows of the servers in the set; the speed-ups are those of coco
 * (SRV_COCO or SRV_COCO_MT) over every server that is not a Coco one. */
static void report(struct result res[NSRV], unsigned servers, int coco, const char *unit)
{
    char h_rate[32], h_cpu[32], h_per[32];
    snprintf(h_rate, sizeof h_rate, "%ss/s", unit);
    snprintf(h_cpu, sizeof h_cpu, "CPU us/%s", unit);
    snprintf(h_per, sizeof h_per, "%ss/CPU-s", unit);
    printf("  %-8s %9s %11s %12s %12s   %s %s: rate, CPU\n", "server", h_rate, h_cpu, h_per,
           "p99 latency", srv_name[coco], "speed-up");
    for (int s = 0; s < NSRV; s++) {
        if (!(servers & (1u << s)))
            continue;
        if (!res[s].ok) {
            printf("  %-8s %9s\n", srv_name[s], "skipped");
            continue;
        }
        char p99[32] = "-";
        if (res[s].p99_ms > 0)
            snprintf(p99, sizeof p99, "%.2f ms", res[s].p99_ms);
        printf("  %-8s %8.1fK %11.2f %11.1fK %12s", srv_name[s], res[s].rate / 1000,
               res[s].cpu_us, res[s].cpu_us > 0 ? 1e3 / res[s].cpu_us : 0.0, p99);
        if (s != SRV_COCO && s != SRV_COCO_MT && res[coco].ok && res[coco].cpu_us > 0)
            printf("   %.2fx, %.2fx", res[coco].rate / res[s].rate,
                   res[s].cpu_us / res[coco].cpu_us);
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    int a = 1;
    if (a < argc && strcmp(argv[a], "-s") == 0) {
        if (a + 1 >= argc) {
            fprintf(stderr, "usage: bench_io [-s coco|c-epoll|go|coco-2w|go-2] [LOAD...]\n");
            return 2;
        }
        only_server = argv[a + 1];
        a += 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines as they come, also into a pipe */
    only_loads = argv + a;
    n_only_loads = argc - a;
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu >= 2) {
        server_cpu = 0;
        load_cpu = 1;
        pin(load_cpu);
    }
    printf("Network servers: Coco's examples against a plain C epoll loop (c-epoll) and\n"
           "Go (goroutine per connection, GOMAXPROCS=1), over 127.0.0.1\n");
    if (ncpu >= 2)
        printf("  server on CPU 0, load generator on CPU 1; %.0f s per run, median of %d "
               "rounds\n", RUN_SECONDS, ROUNDS);
    else
        printf("  one CPU: server and load generator share it (not pinned)\n");
    printf("  CPU us: the server's CPU time per message or request (lower is better)\n");
    if (getenv("COCO_BENCH_NO_LEGEND") == NULL)
        printf("  Speed-up: Coco's rate / the peer's, and the peer's CPU time / Coco's;\n"
               "  above 1, Coco is faster.\n");
    for (int s = 0; s < NSRV; s++)
        if (s != SRV_GO_MT && access(server_path(s, 0), X_OK) != 0)
            printf("  %s: its server program was not built: skipped\n", srv_name[s]);

    static const struct echo_load echo[] = {
        { 100, 64, "echo 64 B x 100 conns" },
        { 100, 4096, "echo 4 KiB x 100 conns" },
        { 1000, 64, "echo 64 B x 1000 conns" },
        { 1000, 4096, "echo 4 KiB x 1000 conns" },
    };
    double t_start = now_s();
    for (size_t l = 0; l < sizeof echo / sizeof echo[0]; l++) {
        if (!wanted_load(echo[l].name))
            continue;
        struct result res[NSRV];
        printf("\n%s: ping-pong, one message in flight per connection\n", echo[l].name);
        run_rounds(0, SRVS_ONE, run_echo, &echo[l], "could not open all connections", res);
        report(res, SRVS_ONE, SRV_COCO, "msg");
    }
    if (!wanted_load("http wrk -t1 -c256")) {
        /* not asked for */
    } else if (!have_wrk()) {
        printf("\nhttp: skipped, wrk not found (Debian: apt-get install wrk)\n");
    } else {
        struct result res[NSRV];
        printf("\nhttp wrk -t1 -c256: keep-alive GET of \"Hello, World!\", 256 connections\n");
        run_rounds(1, SRVS_ONE, run_http, NULL, "wrk run failed", res);
        report(res, SRVS_ONE, SRV_COCO, "req");
    }
    if (!wanted_load("http workers, 2 threads")) {
        /* not asked for */
    } else if (!have_wrk()) {
        printf("\nhttp workers: skipped, wrk not found (Debian: apt-get install wrk)\n");
    } else {
        struct result res[NSRV];
        printf("\nhttp workers, 2 threads: the same load; coco-2w (examples/http_workers -w 2)\n"
               "and go-2 (GOMAXPROCS=2) may use both CPUs, coco (one thread) stays on CPU %d\n",
               server_cpu);
        run_rounds(1, SRVS_TWO, run_http, NULL, "wrk run failed", res);
        report(res, SRVS_TWO, SRV_COCO_MT, "req");
    }
    printf("\nbench_io: done in %.0f s\n", now_s() - t_start);
    return 0;
}
