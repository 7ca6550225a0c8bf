/*
 * timer_park.c - parking a coroutine with a deadline (coco__park_timeout),
 * the building block of every timeout in the library, coco_sleep included.
 *
 * The deadline record cannot live on the parked coroutine's stack: the
 * timing wheel links records to their neighbours, and a stack may be
 * released, or (for a shared-stack coroutine) copied away, while the
 * coroutine is parked.  Records come from the scheduler's small blocks
 * (lib/mem/small.c) instead,
 * and the descriptor points at its own (wait_timer), so every operation on
 * a deadline is O(1) whatever the population: arming, expiry, an earlier
 * wake-up (coco__wake drops the deadline) and destruction (coco__unpark
 * drops it).
 *
 * SPDX-License-Identifier: MIT
 */
#include "timer/timer.h"
#include "debug/inspect.h"
#include "core/mt.h"

struct coco_tpark {
    coco_tnode_t node;               /* must stay first */
    coco_co_t *co;
    uint64_t since;                  /* the clock when it was armed */
};

uint64_t coco__tpark_since(const struct coco_tpark *tp)
{
    return tp->since;
}

void coco__tpark_drop(coco_sched_t *s, coco_co_t *co)
{
    struct coco_tpark *tp = co->wait_timer;
    co->wait_timer = NULL;
    coco__timer_disarm(s, &tp->node);
    coco__small_free(&s->small, tp, sizeof *tp);
}

/* The deadline passed before anything woke the coroutine.  Another
 * thread may be waking it at the same moment: in the section, a
 * coroutine already in the inbox has been woken, and keeps that. */
static void tp_fire(coco_tnode_t *t)
{
    struct coco_tpark *tp = (struct coco_tpark *)t;
    coco_co_t *co = tp->co;
    coco_sched_t *s = co->pub.sched;
    co->wait_timer = NULL;
    coco__small_free(&s->small, tp, sizeof *tp);
    coco__sect_enter_guard(co);
    if (coco__unlikely(co->state == COCO__STATE_INBOX)) {
        coco__sect_leave();
        return;
    }
    co->flags |= COCO__TIMED_OUT;
    coco__cancel_wait(co);
    coco__wake(s, co);
    coco__sect_leave();
    coco__prefetch_stack(co);
}

/* Gives the running coroutine co a deadline timeout_ms from now, or
 * returns COCO_ERROR_NOMEM.  Out of line,
 * so that the callers below keep nothing but co live across their park:
 * what their frames hold is what a parked shared-stack coroutine saves. */
static COCO__NOINLINE int tp_arm(coco_co_t *co, uint64_t timeout_ms)
{
    coco_sched_t *s = co->pub.sched;
    struct coco_tpark *tp = NULL;
    if (coco__timers(s) != NULL)
        tp = coco__small_alloc(&s->small, sizeof *tp);
    if (tp == NULL)
        return COCO_ERROR_NOMEM;
    tp->co = co;
    tp->node.fire = tp_fire;
    tp->node.next = NULL; /* not armed yet */
    co->flags &= (uint8_t)~COCO__TIMED_OUT;
    co->wait_timer = tp;
    coco__timer_arm(s, &tp->node, timeout_ms);
    tp->since = s->timers->clock;
    return COCO_OK;
}

/* Parks with a deadline; expired is what to return when it passes. */
static inline int park_deadline(coco_sched_t *s, uint64_t timeout_ms, int expired)
{
    coco_co_t *co = s->current;
    if (timeout_ms != COCO_INFINITE && tp_arm(co, timeout_ms) != COCO_OK) {
        /* Nothing is linked by us; the parking layer unlinks itself. */
        coco__cancel_wait(co);
        return COCO_ERROR_NOMEM;
    }
    coco__park(co->pub.sched);
    if (co->flags & COCO__TIMED_OUT) {
        co->flags &= (uint8_t)~COCO__TIMED_OUT;
        return expired;
    }
    return COCO_OK;
}

int coco__park_timeout(coco_sched_t *s, uint64_t timeout_ms)
{
    return park_deadline(s, timeout_ms, COCO_ERROR_TIMEOUT);
}

int coco__park_sleep(coco_sched_t *s, uint64_t timeout_ms)
{
    return park_deadline(s, timeout_ms, COCO_OK);
}

int coco__park_timeout_leave(coco_sched_t *s, uint64_t timeout_ms)
{
    coco_co_t *co = s->current;
    if (timeout_ms != COCO_INFINITE && tp_arm(co, timeout_ms) != COCO_OK)
        return COCO_ERROR_NOMEM; /* still in the section */
    coco__park_leave(s);
    if (co->flags & COCO__TIMED_OUT) {
        co->flags &= (uint8_t)~COCO__TIMED_OUT;
        return COCO_ERROR_TIMEOUT;
    }
    return COCO_OK;
}
