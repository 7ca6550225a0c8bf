/*
 * gdb_park.c - a program for tests/check-gdb.sh: one coroutine parks inside
 * park_here() while another stops in stop_here(), where the debugger looks
 * at both.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"

coco_coro_t *parked;
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

static void stopper(void *arg)
{
    (void)arg;
    stop_here();
    sink--;
}

int main(void)
{
    coco_sched_t *s = coco_sched_create();
    parked = coco_create(s, parker, NULL, 0);
    coco_create(s, stopper, NULL, 0);
    coco_sched_run(s);
    coco_sched_destroy(s);
    return sink == 0 ? 0 : 1;
}
