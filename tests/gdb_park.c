/*
 * gdb_park.c - a program for tests/check-gdb.sh: one coroutine parks inside
 * park_here() and another waits on a channel while a third stops in
 * stop_here(), where the debugger looks at them.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"

coco_coro_t *parked;
coco_channel_t *chan;
volatile int sink;

void __attribute__((noinline)) park_here(void)
{
    coco_yield();
    sink++;
}

void __attribute__((noinline)) stop_here(void)
{
    sink++;
}

/* The work after each call keeps these frames (no tail calls). */
static void parker(void *arg)
{
    (void)arg;
    park_here();
    sink--;
}

static void waiter(void *arg)
{
    void *v;
    (void)arg;
    coco_channel_recv(chan, &v);
    sink--;
}

static void stopper(void *arg)
{
    (void)arg;
    sink++;
    stop_here();
    coco_channel_send(chan, NULL);
    sink--;
}

int main(void)
{
    coco_sched_t *s = coco_sched_create();
    chan = coco_channel_create(0);
    parked = coco_create(s, parker, NULL, 0);
    coco_create(s, waiter, NULL, 0);
    coco_create(s, stopper, NULL, 0);
    coco_sched_run(s);
    coco_sched_destroy(s);
    coco_channel_destroy(chan);
    return sink == 0 ? 0 : 1;
}
