/*
 * stats.c - coco_sched_stats(): the counters the layers keep in the
 * scheduler (stats.h), and what is worked out when asked: switches,
 * coroutines by state, stack memory.
 *
 * Every coroutine that was resumed has since left by a yield, a park or
 * its end, except the one running now: so switches are counted where a
 * coroutine leaves, which the layers count anyway, and the loop does not
 * have to count every direct hand-off on the hot path.
 *
 * SPDX-License-Identifier: MIT
 */
#include "debug/inspect.h"

#include <string.h>

typedef struct tally {
    coco_stats_t st;
    const coco_sched_t *s;
} tally_t;

static void count_co(const coco_co_t *co, void *arg)
{
    tally_t *t = arg;
    switch (co->state) {
    case COCO_STATE_CREATED: t->st.created++; break;
    case COCO_STATE_READY: t->st.ready++; break;
    case COCO_STATE_RUNNING: t->st.running++; break;
    case COCO_STATE_WAITING: t->st.waiting++; break;
    default: t->st.dead++; break;
    }
}

static void count_mapping(const char *base, size_t len, void *arg)
{
    tally_t *t = arg;
    t->st.stack_bytes_mapped += len;
    t->st.stack_bytes_resident += coco__resident(base, len);
}

int coco_sched_stats(const coco_sched_t *sched, coco_stats_t *out)
{
    if (sched == NULL || out == NULL || out->size < sizeof out->size)
        return COCO_ERROR_INVALID;
    const struct coco__stats *c = &sched->stats;
    tally_t t;
    memset(&t, 0, sizeof t);
    t.s = sched;
    t.st.size = out->size < sizeof t.st ? out->size : sizeof t.st;
    t.st.yields = c->yields;
    /* Only the parks off the hot path are counted by reason; the
     * channel and synchronisation ones are the rest. */
    t.st.parks = c->parks;
    t.st.parks_sleep = c->parks_sleep;
    t.st.parks_io = c->parks_io;
    t.st.parks_join = c->parks_join;
    t.st.parks_sync = c->parks - c->parks_sleep - c->parks_io - c->parks_join;
    t.st.finished = c->finished;
    t.st.loop_switches = c->dispatches;
    t.st.switches = t.st.yields + t.st.parks + t.st.finished + (sched->current != NULL);
    t.st.polls = c->polls;
    t.st.io_wakes = c->io_wakes;
    t.st.timers_armed = c->timers_armed;
    t.st.timers_fired = c->timers_fired;
    t.st.timers_cancelled = c->timers_cancelled;
    coco__co_each(sched, count_co, &t);
#if !defined(_WIN32)
    coco__stack_pool_each(&sched->stacks, count_mapping, &t);
#else
    (void)count_mapping;
#endif
    memcpy(out, &t.st, t.st.size);
    return COCO_OK;
}
