/*
 * timer.h - the timer layer's private interface: the per-scheduler timing
 * wheel state and the calls the event loop makes into it.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_TIMER_H
#define COCO_TIMER_H

#include "timer/deadline.h"

#define COCO__WHEEL_LEVELS 4
#define COCO__WHEEL_BITS   8
#define COCO__WHEEL_SLOTS  (1u << COCO__WHEEL_BITS)

/* Milliseconds on the system's monotonic clock: clock_posix.c or
 * clock_win32.c, whichever the build links. */
uint64_t coco__clock_ms(void);
/* The same clock in microseconds, for waits shorter than the timers'. */
uint64_t coco__clock_us(void);

struct coco_timer_slot;
struct coco_tpark;

struct coco_timers {
    uint64_t clock;      /* ms on the monotonic clock, as last read */
    uint64_t now;        /* the wheel has expired everything up to here */
    bool virt;           /* virtual clock: moves only by coco__timer_leap */
    /* The armed timers are counted in the scheduler (timers_pending). */
    /* Circular lists with sentinel heads, and one bit per non-empty slot. */
    coco_tnode_t slot[COCO__WHEEL_LEVELS][COCO__WHEEL_SLOTS];
    uint64_t bits[COCO__WHEEL_LEVELS][COCO__WHEEL_SLOTS / 64];

    /* coco_timer() handles: slots in chunks that never move. */
    struct coco_timer_slot **chunks;
    size_t nchunks;
    uint32_t free_slot;  /* index + 1 of the first free slot, 0 if none */
};

/* The wheel of s, created on first use; NULL when out of memory. */
struct coco_timers *coco__timers(coco_sched_t *s);
/* Reads the monotonic clock into the wheel's cache and returns it. */
uint64_t coco__timer_refresh(coco_sched_t *s);
/* Runs every timer due at the cached clock. */
void coco__timer_expire(coco_sched_t *s);
/* Milliseconds from the cached clock until the wheel next needs to run
 * (a lower bound, possibly 0); -1 when no timer is armed. */
int coco__timer_timeout(coco_sched_t *s);
/* Virtual clock: moves the clock ms ahead (the loop found nothing ready
 * and nothing else to wait for) and runs the timers due then. */
void coco__timer_leap(coco_sched_t *s, int ms);
/* True when s runs on a virtual clock. */
static inline bool coco__timer_virtual(const coco_sched_t *s)
{
    return s->timers != NULL && s->timers->virt;
}
/* Releases the wheel and everything the timer layer holds for s. */
void coco__timer_fini(coco_sched_t *s);
/* Releases coco_timer() handles (called by coco__timer_fini). */
void coco__tslot_fini(struct coco_timers *w);

#endif /* COCO_TIMER_H */
