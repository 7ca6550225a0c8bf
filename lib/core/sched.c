/*
 * sched.c - the scheduler's core: the run queue, switching, parking and
 * waking, and dispatch (one turn of running a coroutine for the loop in
 * lib/loop, which holds the coco_sched_* entry points).
 *
 * The run queue is an intrusive FIFO.  A coroutine that yields or parks
 * switches straight to the next ready coroutine, one switch and no trip
 * through the loop, as long as nothing else needs attention.  When timers
 * or I/O are pending, at most one round of the queue runs that way before
 * control returns to the loop, which polls, so ready coroutines cannot
 * starve I/O.  A coroutine that finishes always returns to the loop, which
 * releases its stack: nothing may free the stack it is running on.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco_internal.h"
#include "core/mt.h"

COCO__TLS coco_sched_t *coco__tls_sched;
COCO__TLS coco_sched_t *coco__tls_running;

/* ------------------------------------------------------------ run queue */

/* Puts co in the run queue right after before (at the head when NULL). */
static void rq_insert_after(coco_sched_t *s, coco_co_t *before, coco_co_t *co)
{
    coco_co_t *after = before != NULL ? before->next : s->rq_head;
    co->prev = before;
    co->next = after;
    if (before != NULL)
        before->next = co;
    else
        s->rq_head = co;
    if (after != NULL)
        after->prev = co;
    else
        s->rq_tail = co;
    s->rq_len++;
}

/* An urgent coroutine goes behind the urgent ones already queued, ahead
 * of all the others. */
static COCO__NOINLINE void rq_push_urgent(coco_sched_t *s, coco_co_t *co)
{
    rq_insert_after(s, s->rq_urgent, co);
    s->rq_urgent = co;
}

static inline void rq_push(coco_sched_t *s, coco_co_t *co)
{
    if (coco__unlikely(co->flags & COCO__URGENT)) {
        rq_push_urgent(s, co);
        return;
    }
    co->next = NULL;
    co->prev = s->rq_tail;
    if (s->rq_tail != NULL)
        s->rq_tail->next = co;
    else
        s->rq_head = co;
    s->rq_tail = co;
    s->rq_len++;
}

static inline coco_co_t *rq_pop(coco_sched_t *s)
{
    coco_co_t *co = s->rq_head;
    s->rq_head = co->next;
    if (s->rq_head != NULL)
        s->rq_head->prev = NULL;
    else
        s->rq_tail = NULL;
    if (coco__unlikely(co == s->rq_urgent))
        s->rq_urgent = NULL;
    s->rq_len--;
    return co;
}

void coco__enqueue(coco_sched_t *s, coco_co_t *co)
{
    rq_push(s, co);
}

/* A coroutine is in the run queue exactly when it is CREATED or READY. */
void coco__rq_remove(coco_sched_t *s, coco_co_t *co)
{
    if (co->state != COCO_STATE_CREATED && co->state != COCO_STATE_READY)
        return;
    if (co == s->rq_urgent)
        s->rq_urgent = co->prev; /* urgent too, or NULL */
    if (co->prev != NULL)
        co->prev->next = co->next;
    else
        s->rq_head = co->next;
    if (co->next != NULL)
        co->next->prev = co->prev;
    else
        s->rq_tail = co->prev;
    s->rq_len--;
}

void coco__switch_undo(coco_sched_t *s, coco_co_t *next)
{
    next->state = COCO_STATE_READY;
    /* Back at the head, but behind urgent ones queued meanwhile when it
     * is not urgent itself. */
    bool urgent = (next->flags & COCO__URGENT) != 0;
    rq_insert_after(s, urgent ? NULL : s->rq_urgent, next);
    if (urgent && s->rq_urgent == NULL)
        s->rq_urgent = next;
}

/* ------------------------------------------------------- switching */

/* The chaining policy: when the running coroutine co may hand over to
 * next, the head of the run queue, directly rather than through the loop.
 * Never with a shared stack involved: only the loop copies one, on its own
 * stack. */
static inline bool chain_allowed(const coco_co_t *co, const coco_co_t *next)
{
    return !((co->flags | next->flags) & COCO__SHARED);
}

/* Never under run_once (one coroutine, then back: s->chain is false only
 * there); freely while nothing is pending. */
static inline bool chain_unmetered(const coco_sched_t *s)
{
    return s->chain && !coco__pending(s);
}

/* With timers or I/O pending, only for the rest of the round the loop
 * measured out in s->budget, so that it polls at least once a round.
 * coco_yield's fast path is the unmetered case of this, written out. */
static inline bool may_chain(coco_sched_t *s, const coco_co_t *co,
                             const coco_co_t *next)
{
    if (!chain_allowed(co, next))
        return false;
    if (chain_unmetered(s))
        return true;
    if (!s->chain || s->budget == 0)
        return false;        /* run_once, or the round is over */
    s->budget--;
    return true;
}

/* Leaves the running coroutine co (already queued or parked) for the next
 * ready one, or for the loop, telling the trace why when traced.  Returns
 * when co is resumed. */
static COCO__ALWAYS_INLINE void switch_body(coco_sched_t *s, coco_co_t *co, unsigned why,
                               bool traced)
{
    coco_co_t *next = s->rq_head;
    if (next != NULL && may_chain(s, co, next)) {
        if (traced)
            s->trace->event(s, why, co, next);
        rq_pop(s);
        coco__prefetch_stack(s->rq_head);
        next->state = COCO_STATE_RUNNING;
        s->current = next;
        if (next != co) {
            coco__fiber_leave(&co->ctx, &next->ctx);
            coco__ctx_switch(&co->ctx, &next->ctx);
            coco__fiber_arrive(&co->ctx);
        }
    } else {
        if (traced)
            s->trace->event(s, why, co, NULL);
        s->current = NULL;
        coco__fiber_leave(&co->ctx, &s->main_ctx);
        coco__ctx_switch(&co->ctx, &s->main_ctx);
        coco__fiber_arrive(&co->ctx);
    }
    /* Whoever resumed us marked us RUNNING and current. */
}

#if COCO_TRACE_HOOKS
/* Out of line, so that the untraced switch keeps no value alive across a
 * call: the test of s->trace is all that tracing costs it. */
static COCO__NOINLINE void switch_traced(coco_sched_t *s, coco_co_t *co, unsigned why)
{
    switch_body(s, co, why, true);
}
#endif

static inline void switch_away(coco_sched_t *s, coco_co_t *co, unsigned why)
{
#if COCO_TRACE_HOOKS
    if (coco__unlikely(s->trace != NULL)) {
        switch_traced(s, co, why);
        return;
    }
#endif
    switch_body(s, co, why, false);
}

/* Traced, coco_yield() takes the general path, through switch_away(). */
#if COCO_TRACE_HOOKS
#  define UNTRACED(s) ((s)->trace == NULL)
#else
#  define UNTRACED(s) true
#endif

void coco_yield(void)
{
    coco_sched_t *s = coco__tls_running;
    coco_co_t *co = s != NULL ? s->current : NULL;
    if (co == NULL)
        return;
    coco_co_t *next = s->rq_head;
    /* Urgent ones come first in the queue: when neither co nor the head
     * is urgent, none is queued, and co goes to the end. */
    if (coco__likely(next != NULL && chain_unmetered(s) &&
                     !((co->flags | next->flags) & (COCO__SHARED | COCO__URGENT)) &&
                     UNTRACED(s))) {
        /* The common case, kept lean: the next coroutine takes over and we
         * queue up behind the others.  The queue's length is unchanged. */
        coco_co_t *after = next->next;
        co->state = COCO_STATE_READY;
        co->next = NULL;
        if (after == NULL) {
            co->prev = NULL;
            s->rq_head = co;
        } else {
            after->prev = NULL;
            s->rq_head = after;
            co->prev = s->rq_tail;
            s->rq_tail->next = co;
        }
        s->rq_tail = co;
        s->stats.yields++;
        next->state = COCO_STATE_RUNNING;
        s->current = next;
        coco__fiber_leave(&co->ctx, &next->ctx);
        coco__ctx_switch(&co->ctx, &next->ctx);
        coco__fiber_arrive(&co->ctx); /* nothing, unless sanitized */
        return;
    }
    /* Nothing else could run: go on, unless run_once wants control back
     * at every yield (s->chain is false only there). */
    if (next == NULL && !coco__pending(s) && s->chain)
        return;
    co->state = COCO_STATE_READY;
    rq_push(s, co);
    s->stats.yields++;
    switch_away(s, co, COCO__TR_YIELD);
}

void coco__park_leave(coco_sched_t *s)
{
    coco_co_t *co = s->current;
    co->state = COCO_STATE_WAITING;
    s->stats.parks++;
    if (coco__unlikely(__atomic_load_n(&coco__tls_sect, __ATOMIC_RELAXED) ==
                       COCO__SECT_LOCKED))
        coco__park_unlock(co); /* records what guards the wait */
    else
        __atomic_store_n(&coco__tls_sect, COCO__SECT_NONE, __ATOMIC_RELEASE);
    switch_away(s, co, COCO__TR_PARK);
}

void coco__park(coco_sched_t *s)
{
    coco_co_t *co = s->current;
    co->state = COCO_STATE_WAITING;
    s->stats.parks++;
    switch_away(s, co, COCO__TR_PARK);
}

static inline void wake_body(coco_sched_t *s, coco_co_t *co)
{
    if (co->wait_timer != NULL)
        s->ops->drop_deadline(s, co); /* woken before its deadline */
    co->wait_on = COCO__ON_NOTHING;
    if (!(co->flags & COCO__WAIT_HEAP))
        co->wait_obj = NULL; /* else its owner frees it when it runs */
    co->state = COCO_STATE_READY;
    rq_push(s, co);
}

#if COCO_TRACE_HOOKS
static COCO__NOINLINE void wake_traced(coco_sched_t *s, coco_co_t *co)
{
    s->trace->event(s, COCO__TR_WAKE, co, NULL);
    wake_body(s, co);
}
#endif

void coco__wake(coco_sched_t *s, coco_co_t *co)
{
#if COCO_TRACE_HOOKS
    if (coco__unlikely(s->trace != NULL)) {
        wake_traced(s, co);
        return;
    }
#endif
    wake_body(s, co);
}

void coco__wake_inboxed(coco_sched_t *s, coco_co_t *co)
{
    /* What it waited on was settled by whoever woke it (and wait_on may
     * say a hand-off is to be taken): only the queueing is left. */
    COCO__TRACE(s, COCO__TR_WAKE, co, NULL);
    if (co->wait_timer != NULL)
        s->ops->drop_deadline(s, co);
    co->state = COCO_STATE_READY;
    rq_push(s, co);
}

void coco__cancel_wait(coco_co_t *co)
{
    switch (co->wait_on) {
    case COCO__ON_GROUP:
    case COCO__ON_IO:
    case COCO__ON_REMOTE:
        co->pub.sched->ops->cancel(co);
        break;
    case COCO__ON_JOIN:
        coco__join_cancel(co);
        break;
    default:
        break;
    }
    co->wait_on = COCO__ON_NOTHING;
}

void coco__unpark(coco_sched_t *s, coco_co_t *co)
{
    if (co->state == COCO__STATE_INBOX)
        coco__inbox_remove(s, co); /* woken by another thread: never mind */
    if (co->state == COCO_STATE_WAITING)
        coco__cancel_wait(co);
    co->wait_on = COCO__ON_NOTHING;
    if (co->wait_timer != NULL)
        s->ops->drop_deadline(s, co);
    if (co->flags & COCO__WAIT_HEAP) {
        s->ops->free_records(co);
        co->flags &= (uint8_t)~COCO__WAIT_HEAP;
    }
    co->wait_obj = NULL;
}

int coco__dispatch(coco_sched_t *s)
{
    coco_co_t *co = rq_pop(s);
    coco__prefetch_stack(s->rq_head);
    if ((co->flags & COCO__SHARED) && coco__sstack_enter(s, co) != COCO_OK) {
        /* No memory to copy out the frames in its way: it stays ready,
         * and the caller of the loop hears of it. */
        rq_push(s, co);
        return COCO_ERROR_NOMEM;
    }
    s->budget = (unsigned)s->rq_len;
    s->stats.dispatches++;
    s->current = co;
    co->state = COCO_STATE_RUNNING;
    COCO__TRACE(s, COCO__TR_RUN, NULL, co);
    coco__fiber_leave(&s->main_ctx, &co->ctx);
    coco__ctx_switch(&s->main_ctx, &co->ctx);
    coco__fiber_arrive(&s->main_ctx);
    s->current = NULL;
    if (s->zombie != NULL) {
        coco_co_t *z = s->zombie;
        s->zombie = NULL;
        s->stats.finished++;
        coco__co_reap(s, z);
    }
    if (s->overflowed != NULL) {
        coco_co_t *o = s->overflowed;
        s->overflowed = NULL;
        s->stats.finished++;
        COCO__TRACE(s, COCO__TR_BACK, NULL, NULL);
        coco__co_overflowed(s, o);
    }
#if COCO_DEBUG
    if (s->sstack_bad_co != NULL)
        coco__sstack_report(s);
#endif
    return COCO_OK;
}

/* The generator this thread runs now (lib/core/gen.h). */
COCO__TLS struct coco_gen *coco__tls_gen;
