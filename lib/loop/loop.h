/*
 * loop/loop.h - the loop layer: the wait for timers and I/O the scheduler
 * loop makes, and the release of their state.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_LOOP_LOOP_H
#define COCO_LOOP_LOOP_H

#include "coco_internal.h"

/* Called by the scheduler loop when coco__pending(s).  Waits for timers
 * and I/O (no longer than the next deadline; not at all when !block), makes
 * the coroutines they release READY and runs expired timer callbacks.
 * Returns COCO_OK or a negative error code. */
int coco__loop_wait(coco_sched_t *s, bool block);
/* Releases the timer and io state of s (at coco_sched_destroy). */
void coco__loop_fini(coco_sched_t *s);

#endif /* COCO_LOOP_LOOP_H */
