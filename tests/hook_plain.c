/*
 * hook_plain.c - a program that knows nothing of libcoco-hook: its
 * coroutines call plain read, write, poll, usleep and nanosleep.  Run with
 * LD_PRELOAD=libcoco-hook.so (tests/check-hook-preload.sh) each of those
 * parks only its coroutine; without it the program notices (exit 1), or
 * the alarm ends a program whose thread blocked for good.
 *
 * Usage: hook_plain [sleep|all]
 */
#include <coco.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int fds[2];
static char got[8];
static int failures;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleeper_us(void *arg)
{
    (void)arg;
    usleep(200000);
}

static void sleeper_ns(void *arg)
{
    (void)arg;
    struct timespec ts = { 0, 200000000L };
    nanosleep(&ts, NULL);
}

static void reader(void *arg)
{
    (void)arg;
    struct pollfd p = { fds[0], POLLIN, 0 };
    if (poll(&p, 1, 2000) != 1 || !(p.revents & POLLIN)) {
        fprintf(stderr, "hook_plain: poll did not see the data\n");
        failures++;
    }
    if (read(fds[0], got, sizeof got) != 2) {
        fprintf(stderr, "hook_plain: read did not get the data\n");
        failures++;
    }
}

static void writer(void *arg)
{
    (void)arg;
    usleep(50000);
    if (write(fds[1], "ok", 2) != 2)
        failures++;
}

int main(int argc, char **argv)
{
    int all = argc < 2 || strcmp(argv[1], "all") == 0;
    alarm(10); /* a thread blocked for good ends here */
    coco_sched_t *s = coco_sched_create();
    if (s == NULL || pipe(fds) != 0)
        return 2;
    double t0 = now_s();
    coco_create(s, sleeper_us, NULL, 0);
    coco_create(s, sleeper_ns, NULL, 0);
    if (all) {
        coco_create(s, reader, NULL, 0);
        coco_create(s, writer, NULL, 0);
    }
    coco_sched_run(s);
    double t = now_s() - t0;
    coco_sched_destroy(s);
    /* Two 200 ms sleeps side by side: about 200 ms, never 400. */
    if (t > 0.36) {
        fprintf(stderr, "hook_plain: the sleeps took %.0f ms: they blocked the thread\n",
                t * 1000);
        failures++;
    }
    if (all && memcmp(got, "ok", 2) != 0)
        failures++;
    if (failures == 0)
        printf("hook_plain: ok (%.0f ms)\n", t * 1000);
    return failures == 0 ? 0 : 1;
}
