/*
 * bench_hook.c - what libcoco-hook costs.
 *
 * Outside coroutines: the same call through the hook (the program's
 * read/fcntl, which the linked libcoco-hook defines) and through the C
 * library's own function (looked up in libc.so.6 directly), in the same
 * run: a read of an empty non-blocking pipe (EAGAIN) and fcntl(F_GETFL).
 * In a coroutine: a hooked write+read of one byte over a socketpair
 * against coco_write+coco_read, without waiting and with two coroutines
 * that wait for each other (ping-pong).
 *
 * Each figure is the best of several rounds (the machine is noisy).
 * Usage: bench_hook [iterations]
 */
#define _GNU_SOURCE 1
#include <coco.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 7

static long iters = 2000000;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static ssize_t (*libc_read)(int, void *, size_t);
static int (*libc_fcntl)(int, int, ...);
static ssize_t (*libc_write)(int, const void *, size_t);

static int pfd[2];

/* The measured loops; noinline so that the compiler keeps each call. */
__attribute__((noinline)) static double loop_read_hook(void)
{
    char c;
    double t0 = now_ns();
    for (long i = 0; i < iters; i++)
        if (read(pfd[0], &c, 1) != -1)
            abort();
    return (now_ns() - t0) / (double)iters;
}

__attribute__((noinline)) static double loop_read_libc(void)
{
    char c;
    double t0 = now_ns();
    for (long i = 0; i < iters; i++)
        if (libc_read(pfd[0], &c, 1) != -1)
            abort();
    return (now_ns() - t0) / (double)iters;
}

__attribute__((noinline)) static double loop_fcntl_hook(void)
{
    double t0 = now_ns();
    for (long i = 0; i < iters; i++)
        if (fcntl(pfd[0], F_GETFL) < 0)
            abort();
    return (now_ns() - t0) / (double)iters;
}

__attribute__((noinline)) static double loop_fcntl_libc(void)
{
    double t0 = now_ns();
    for (long i = 0; i < iters; i++)
        if (libc_fcntl(pfd[0], F_GETFL) < 0)
            abort();
    return (now_ns() - t0) / (double)iters;
}

/* Alternates the two loops so that both see the same machine. */
static void compare(const char *what, double (*hook)(void), double (*libc)(void))
{
    double h = 1e30, l = 1e30;
    for (int r = 0; r < ROUNDS; r++) {
        double v = libc();
        if (v < l)
            l = v;
        v = hook();
        if (v < h)
            h = v;
    }
    printf("%-34s libc %7.2f ns   hook %7.2f ns   difference %+6.2f ns\n", what, l, h, h - l);
}

/* ----------------------------------------------------- in a coroutine */

static int sp[2];
static long in_iters;
static double result_ns;

static void one_hooked(void *arg)
{
    (void)arg;
    char c = 'x';
    double t0 = now_ns();
    for (long i = 0; i < in_iters; i++) {
        if (write(sp[1], &c, 1) != 1 || read(sp[0], &c, 1) != 1)
            abort();
    }
    result_ns = (now_ns() - t0) / (double)in_iters;
}

static void one_coco(void *arg)
{
    (void)arg;
    char c = 'x';
    double t0 = now_ns();
    for (long i = 0; i < in_iters; i++) {
        if (coco_write(sp[1], &c, 1) != 1 || coco_read(sp[0], &c, 1) != 1)
            abort();
    }
    result_ns = (now_ns() - t0) / (double)in_iters;
}

static int use_coco;
static void pinger(void *arg)
{
    (void)arg;
    char c = 'p';
    double t0 = now_ns();
    for (long i = 0; i < in_iters; i++) {
        if (use_coco ? coco_write(sp[0], &c, 1) != 1 : write(sp[0], &c, 1) != 1)
            abort();
        if (use_coco ? coco_read(sp[0], &c, 1) != 1 : read(sp[0], &c, 1) != 1)
            abort();
    }
    result_ns = (now_ns() - t0) / (double)in_iters;
}

static void ponger(void *arg)
{
    (void)arg;
    char c;
    for (long i = 0; i < in_iters; i++) {
        if (use_coco ? coco_read(sp[1], &c, 1) != 1 : read(sp[1], &c, 1) != 1)
            abort();
        if (use_coco ? coco_write(sp[1], &c, 1) != 1 : write(sp[1], &c, 1) != 1)
            abort();
    }
}

static double in_coroutine(void (*a)(void *), void (*b)(void *))
{
    double bestv = 1e30;
    for (int r = 0; r < 3; r++) {
        coco_sched_t *s = coco_sched_create();
        coco_create(s, a, NULL, 0);
        if (b != NULL)
            coco_create(s, b, NULL, 0);
        coco_sched_run(s);
        coco_sched_destroy(s);
        if (result_ns < bestv)
            bestv = result_ns;
    }
    return bestv;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        iters = atol(argv[1]);
    if (iters <= 0)
        iters = 1;
    in_iters = iters / 10 > 0 ? iters / 10 : 1;
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    if (libc == NULL) {
        fprintf(stderr, "bench_hook: libc.so.6 is not loaded: %s\n", dlerror());
        return 1;
    }
    libc_read = (ssize_t (*)(int, void *, size_t))dlsym(libc, "read");
    libc_write = (ssize_t (*)(int, const void *, size_t))dlsym(libc, "write");
    libc_fcntl = (int (*)(int, int, ...))dlsym(libc, "fcntl");
    if (libc_read == NULL || libc_fcntl == NULL || libc_write == NULL ||
        (void *)libc_read == (void *)read) {
        fprintf(stderr, "bench_hook: the hook is not linked in front of libc\n");
        return 1;
    }
    if (pipe2(pfd, O_NONBLOCK) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sp) != 0)
        return 1;

    printf("bench_hook: %ld calls per round, best of %d rounds\n", iters, ROUNDS);
    printf("outside coroutines (the pass-through path):\n");
    compare("read, empty O_NONBLOCK pipe", loop_read_hook, loop_read_libc);
    compare("fcntl(F_GETFL)", loop_fcntl_hook, loop_fcntl_libc);

    printf("in a coroutine (%ld round trips):\n", in_iters);
    double h = in_coroutine(one_hooked, NULL);
    double c = in_coroutine(one_coco, NULL);
    printf("%-34s coco %7.1f ns   hook %7.1f ns   difference %+6.1f ns\n",
           "write+read 1 byte, never waits", c, h, h - c);
    use_coco = 0;
    h = in_coroutine(pinger, ponger);
    use_coco = 1;
    c = in_coroutine(pinger, ponger);
    printf("%-34s coco %7.1f ns   hook %7.1f ns   difference %+6.1f ns\n",
           "ping-pong, each read waits", c, h, h - c);
    return 0;
}
