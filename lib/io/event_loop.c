/*
 * event_loop.c - what the scheduler does when it must wait: timers and
 * I/O readiness.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco_internal.h"

int coco__loop_wait(coco_sched_t *s, bool block)
{
    /* Neither timers nor I/O waits exist yet, so coco__pending() is never
     * true and the scheduler never calls this. */
    (void)s;
    (void)block;
    return COCO_OK;
}

void coco__loop_fini(coco_sched_t *s)
{
    (void)s;
}
