/*
 * hotpath.c - a driver of the single-thread hot paths, for counting
 * instructions under callgrind (tools/bench-compare.sh --callgrind):
 *
 *   hotpath yield|pingpong|select N
 *
 * yield: two coroutines calling coco_yield() N / 2 times each (N
 * switches); pingpong: N
 * round trips over two unbuffered channels; select: N receives through
 * coco_select() over four unbuffered channels.  It uses only the oldest
 * calls of the interface, so that it builds against old versions too.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long n;
static coco_channel_t *ch[4];

static void yielder(void *arg)
{
    (void)arg;
    for (long i = 0; i < n / 2; i++)
        coco_yield();
}

static void pinger(void *arg)
{
    (void)arg;
    void *v;
    for (long i = 0; i < n; i++) {
        coco_channel_send(ch[0], (void *)i);
        coco_channel_recv(ch[1], &v);
    }
}

static void ponger(void *arg)
{
    (void)arg;
    void *v;
    for (long i = 0; i < n; i++) {
        coco_channel_recv(ch[0], &v);
        coco_channel_send(ch[1], v);
    }
}

static void sel_sender(void *arg)
{
    coco_channel_t *c = arg;
    for (long i = 0; i < n / 4; i++)
        coco_channel_send(c, (void *)i);
}

static void sel_receiver(void *arg)
{
    (void)arg;
    coco_select_case_t c[4];
    for (int i = 0; i < 4; i++)
        c[i] = (coco_select_case_t){ ch[i], COCO_SELECT_RECV, NULL, 0 };
    for (long i = 0; i < n / 4 * 4; i++)
        coco_select(c, 4, COCO_INFINITE);
}

int main(int argc, char **argv)
{
    if (argc != 3 || (n = atol(argv[2])) <= 0) {
        fprintf(stderr, "usage: hotpath yield|pingpong|select N\n");
        return 2;
    }
    coco_sched_t *s = coco_sched_create();
    for (int i = 0; i < 4; i++)
        ch[i] = coco_channel_create(0);
    if (strcmp(argv[1], "yield") == 0) {
        coco_create(s, yielder, NULL, 0);
        coco_create(s, yielder, NULL, 0);
    } else if (strcmp(argv[1], "pingpong") == 0) {
        coco_create(s, pinger, NULL, 0);
        coco_create(s, ponger, NULL, 0);
    } else if (strcmp(argv[1], "select") == 0) {
        coco_create(s, sel_receiver, NULL, 0);
        for (int i = 0; i < 4; i++)
            coco_create(s, sel_sender, ch[i], 0);
    } else {
        fprintf(stderr, "hotpath: unknown load %s\n", argv[1]);
        return 2;
    }
    int rc = coco_sched_run(s);
    coco_sched_destroy(s);
    for (int i = 0; i < 4; i++)
        coco_channel_destroy(ch[i]);
    return rc == COCO_OK ? 0 : 1;
}
