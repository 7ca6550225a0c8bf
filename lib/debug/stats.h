/*
 * stats.h - the counters a scheduler keeps about itself, read by
 * coco_sched_stats() (lib/debug/stats.c).
 *
 * Each is a plain increment where the event happens anyway, with no
 * branch of its own.  What can be worked out when asked (switches,
 * coroutines by state, stack memory) is not kept but computed by the
 * query.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_DEBUG_STATS_H
#define COCO_DEBUG_STATS_H

#include <stdint.h>

struct coco__stats {
    uint64_t dispatches;     /* coroutines resumed by the loop */
    uint64_t finished;       /* coroutines that returned to the loop for good */
    uint64_t yields;         /* coco_yield() calls that switched */
    uint64_t parks;          /* coco__park() calls, whatever the reason */
    uint64_t parks_io;       /* ... of them on a descriptor */
    uint64_t parks_join;     /* ... in coco_join() */
    uint64_t parks_sleep;    /* ... in coco_sleep() */
    uint64_t polls;          /* calls into the poller */
    uint64_t io_wakes;       /* coroutines woken by readiness */
    uint64_t timers_armed;
    uint64_t timers_fired;
    uint64_t timers_cancelled;
};

#endif /* COCO_DEBUG_STATS_H */
