/*
 * bench_hook_path.c - the pass-through cost of libcoco-hook alone.
 *
 * A hooked call made outside any coroutine goes to the C library's
 * function after the library's tests.  Timing it against the C library's
 * own read() compares two system calls whose cost wanders by more than
 * the tests cost, so here the library's sources are linked into the
 * program and the C library's read, write and recv are replaced by
 * functions that return at once: the hooked call against a call of the
 * same function through a pointer leaves what the hook adds.
 *
 * Usage: bench_hook_path [iterations]
 *
 * SPDX-License-Identifier: MIT
 */
#include "hook/hook.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 9

static long iters = 20000000;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The C library's functions as they would be if the call cost nothing. */
__attribute__((noinline)) static ssize_t stub_read(int fd, void *buf, size_t n)
{
    __asm__ volatile("" ::"r"(fd), "r"(buf), "r"(n) : "memory");
    return 1;
}

__attribute__((noinline)) static ssize_t stub_write(int fd, const void *buf, size_t n)
{
    __asm__ volatile("" ::"r"(fd), "r"(buf), "r"(n) : "memory");
    return 1;
}

__attribute__((noinline)) static ssize_t stub_recv(int fd, void *buf, size_t n, int flags)
{
    __asm__ volatile("" ::"r"(fd), "r"(buf), "r"(n), "r"(flags) : "memory");
    return 1;
}

static ssize_t (*volatile direct_read)(int, void *, size_t) = stub_read;
static ssize_t (*volatile direct_write)(int, const void *, size_t) = stub_write;
static ssize_t (*volatile direct_recv)(int, void *, size_t, int) = stub_recv;

static char byte;

#define LOOP(name, call) \
    __attribute__((noinline)) static double name(void) \
    { \
        double t0 = now_ns(); \
        for (long i = 0; i < iters; i++) \
            if (call != 1) \
                abort(); \
        return (now_ns() - t0) / (double)iters; \
    }

LOOP(loop_read_hook, read(3, &byte, 1))
LOOP(loop_read_direct, direct_read(3, &byte, 1))
LOOP(loop_write_hook, write(3, &byte, 1))
LOOP(loop_write_direct, direct_write(3, &byte, 1))
LOOP(loop_recv_hook, recv(3, &byte, 1, 0))
LOOP(loop_recv_direct, direct_recv(3, &byte, 1, 0))

static void row(const char *what, double (*hook)(void), double (*direct)(void))
{
    double h = 1e30, d = 1e30;
    for (int r = 0; r < ROUNDS; r++) {
        /* Alternating, so that a slow stretch of the machine hits both. */
        double a = hook(), b = direct();
        if (a < h)
            h = a;
        if (b < d)
            d = b;
    }
    printf("%-6s  direct %6.2f ns   hooked %6.2f ns   the hook adds %+6.2f ns\n", what, d, h,
           h - d);
}

int main(int argc, char **argv)
{
    if (argc > 1 && (iters = atol(argv[1])) <= 0) {
        fprintf(stderr, "usage: bench_hook_path [iterations]\n");
        return 2;
    }
    /* The lookup has run (a constructor, or the first call): now the C
     * library's functions give way to the stubs. */
    (void)getpid();
    if (hook_boot() != 0) {
        fprintf(stderr, "bench_hook_path: the C library's functions were not found\n");
        return 1;
    }
    hook_real.read = stub_read;
    hook_real.write = stub_write;
    hook_real.recv = stub_recv;
    printf("bench_hook_path: %ld calls per round, best of %d rounds, outside coroutines\n",
           iters, ROUNDS);
    row("read", loop_read_hook, loop_read_direct);
    row("write", loop_write_hook, loop_write_direct);
    row("recv", loop_recv_hook, loop_recv_direct);
    return 0;
}
