/*
 * timer/deadline.h - what the layers above the timer use of it: timer entries,
 * the clock, and parking with a deadline (timer_wheel.c, timer_park.c).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_TIMER_DEADLINE_H
#define COCO_TIMER_DEADLINE_H

#include "coco_internal.h"

/* A timer entry, embedded in whatever waits (a sleeping coroutine's stack
 * frame, a coco_timer_t, a channel waiter).  Owned by lib/timer. */
typedef struct coco_tnode {
    struct coco_tnode *next, *prev; /* wheel slot list */
    uint64_t deadline;              /* ms on the scheduler's clock */
    void (*fire)(struct coco_tnode *t); /* run by the loop when it expires */
} coco_tnode_t;                     /* armed while next != NULL */

/* Milliseconds on the monotonic clock, read now (and cached by the timers). */
uint64_t coco__now_ms(coco_sched_t *s);
/* Test hooks (lib/timer/timer_wheel.c): a virtual clock for s, and the
 * clock s keeps.  Hidden like every internal name: a test reaches them
 * when it links the static library. */
int coco__sched_virtual_clock(coco_sched_t *s, uint64_t start);
uint64_t coco__sched_clock(coco_sched_t *s);
/* Arms t to fire after delay_ms (counts in s->timers_pending while armed). */
void coco__timer_arm(coco_sched_t *s, coco_tnode_t *t, uint64_t delay_ms);
/* Disarms t if armed; harmless otherwise. */
void coco__timer_disarm(coco_sched_t *s, coco_tnode_t *t);
/* Parks the running coroutine like coco__park(), for at most timeout_ms
 * (COCO_INFINITE: no limit).  When the time runs out first,
 * coco__cancel_wait() unlinks it from what its wait_on names, and
 * the call returns COCO_ERROR_TIMEOUT; otherwise COCO_OK.  The deadline is
 * dropped as soon as anything else wakes the coroutine (coco__wake) or it
 * is destroyed (coco__unpark).  COCO_ERROR_NOMEM when no deadline could be
 * set: coco__cancel_wait() has then been called. */
int coco__park_timeout(coco_sched_t *s, uint64_t timeout_ms);
/* coco__park_timeout() for a wait whose deadline passing is its normal
 * end: COCO_OK then too.  coco_sleep() ends in it, as a tail call, so that
 * a sleeper's stack holds no frame of coco_sleep. */
int coco__park_sleep(coco_sched_t *s, uint64_t timeout_ms);
/* coco__park_timeout() for a coroutine in a section (lib/core/mt.h),
 * which it leaves as it parks; on COCO_ERROR_NOMEM it has not parked and
 * is still in the section, with nothing unlinked. */
int coco__park_timeout_leave(coco_sched_t *s, uint64_t timeout_ms);
/* Disarms and releases co->wait_timer. */
void coco__tpark_drop(coco_sched_t *s, coco_co_t *co);

#endif /* COCO_TIMER_DEADLINE_H */
