/*
 * sched.c - the scheduler: run queue, the loop, parking and waking.
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
#include "debug/debug.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

COCO__TLS coco_sched_t *coco__tls_sched;
#if COCO__TSAN
COCO__TLS unsigned int coco__tsan_fibers;
#endif

/* Schedulers alive on this thread: the alternate signal stack goes with
 * the last one. */
static COCO__TLS unsigned int thread_scheds;
/* The same schedulers, newest first: when the current one is destroyed,
 * the newest remaining one becomes current. */
static COCO__TLS coco_sched_t *thread_list;

/* Stacks kept for reuse per scheduler. */
#define STACK_POOL_LIMIT 256

/* ------------------------------------------------------------ run queue */

static inline void rq_push(coco_sched_t *s, coco_co_t *co)
{
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
    next->prev = NULL;
    next->next = s->rq_head;
    if (s->rq_head != NULL)
        s->rq_head->prev = next;
    else
        s->rq_tail = next;
    s->rq_head = next;
    s->rq_len++;
}

/* ------------------------------------------------------- switching */

/* May the running coroutine hand over to the next one directly? */
static inline bool may_chain(coco_sched_t *s)
{
    if (!s->chain)
        return false;        /* run_once: one coroutine, then back */
    if (!coco__pending(s))
        return true;         /* nothing to poll for */
    if (s->budget == 0)
        return false;        /* the round is over: let the loop poll */
    s->budget--;
    return true;
}

/* Leaves the running coroutine co (already queued or parked) for the next
 * ready one, or for the loop.  Returns when co is resumed. */
static inline void switch_away(coco_sched_t *s, coco_co_t *co)
{
    coco_co_t *next = s->rq_head;
    /* A shared stack is only ever copied by the loop, on its own stack. */
    if (next != NULL && !((co->flags | next->flags) & COCO__SHARED) && may_chain(s)) {
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
        s->current = NULL;
        coco__fiber_leave(&co->ctx, &s->main_ctx);
        coco__ctx_switch(&co->ctx, &s->main_ctx);
        coco__fiber_arrive(&co->ctx);
    }
    /* Whoever resumed us marked us RUNNING and current. */
}

void coco_yield(void)
{
    coco_sched_t *s = coco__tls_sched;
    coco_co_t *co = s != NULL ? s->current : NULL;
    if (co == NULL)
        return;
    coco_co_t *next = s->rq_head;
    if (coco__likely(next != NULL && s->chain && !coco__pending(s) &&
                     !((co->flags | next->flags) & COCO__SHARED))) {
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
    switch_away(s, co);
}

void coco__park(coco_sched_t *s)
{
    coco_co_t *co = s->current;
    co->state = COCO_STATE_WAITING;
    s->stats.parks++;
    switch_away(s, co);
}

void coco__wake(coco_sched_t *s, coco_co_t *co)
{
    if (co->wait_timer != NULL)
        coco__tpark_drop(s, co); /* woken before its deadline */
    co->wait_on = COCO__ON_NOTHING;
    if (!(co->flags & COCO__WAIT_HEAP))
        co->wait_obj = NULL; /* else its owner frees it when it runs */
    co->state = COCO_STATE_READY;
    rq_push(s, co);
}

void coco__cancel_wait(coco_co_t *co)
{
    switch (co->wait_on) {
    case COCO__ON_GROUP:
        coco__wait_cancel(co);
        break;
    case COCO__ON_IO:
        coco__io_cancel(co);
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
    if (co->state == COCO_STATE_WAITING)
        coco__cancel_wait(co);
    co->wait_on = COCO__ON_NOTHING;
    if (co->wait_timer != NULL)
        coco__tpark_drop(s, co);
    if (co->flags & COCO__WAIT_HEAP) {
        coco__wait_heap_free(co);
        co->flags &= (uint8_t)~COCO__WAIT_HEAP;
    }
    co->wait_obj = NULL;
}

/* Runs the coroutine at the head of the run queue until control comes
 * back to the loop, then finishes what only the loop can do. */
static int dispatch(coco_sched_t *s)
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
        coco__co_overflowed(s, o);
    }
#if COCO_DEBUG
    if (s->sstack_bad_co != NULL)
        coco__sstack_report(s);
#endif
    return COCO_OK;
}

/* ------------------------------------------------------------ the loop */

static int enter(coco_sched_t *s, bool chain)
{
    if (s == NULL)
        return COCO_ERROR_INVALID;
    /* One loop per thread at a time: not from inside a coroutine. */
    if (s->running || (coco__tls_sched != NULL && coco__tls_sched->running))
        return COCO_ERROR_INVALID;
    coco__tls_sched = s;
    s->running = true;
    s->chain = chain;
    return COCO_OK;
}

static void leave(coco_sched_t *s)
{
    s->running = false;
    s->chain = true;
}

int coco_sched_run(coco_sched_t *s)
{
    int rc = enter(s, true);
    if (rc != COCO_OK)
        return rc;
    for (;;) {
        if (coco__pending(s)) {
            rc = coco__loop_wait(s, s->rq_head == NULL);
            if (rc != COCO_OK)
                break;
        } else if (s->rq_head == NULL) {
            rc = s->alive == 0 ? COCO_OK : COCO_ERROR_DEADLOCK;
            break;
        }
        if (s->rq_head != NULL && (rc = dispatch(s)) != COCO_OK)
            break;
    }
    if (rc == COCO_ERROR_DEADLOCK)
        coco__debug_deadlock(s);
    leave(s);
    return rc;
}

int coco_sched_run_once(coco_sched_t *s)
{
    int rc = enter(s, false);
    if (rc != COCO_OK)
        return rc;
    if (s->rq_head == NULL) {
        if (coco__pending(s))
            rc = coco__loop_wait(s, true);
        else if (s->alive != 0)
            rc = COCO_ERROR_DEADLOCK;
        if (rc == COCO_ERROR_DEADLOCK)
            coco__debug_deadlock(s);
    } else if (coco__pending(s)) {
        rc = coco__loop_wait(s, false);
    }
    if (rc == COCO_OK && s->rq_head != NULL)
        rc = dispatch(s);
    leave(s);
    return rc;
}

/* ------------------------------------------------------- create/destroy */

coco_sched_t *coco_sched_create(void)
{
    if (coco__signal_init_thread() != COCO_OK) {
        errno = ENOMEM;
        return NULL;
    }
    coco_sched_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        if (thread_scheds == 0)
            coco__signal_fini_thread();
        errno = ENOMEM;
        return NULL;
    }
    s->chain = true;
    s->max_coros = COCO_MAX_COROUTINES;
    s->stacks.limit = STACK_POOL_LIMIT;
    thread_scheds++;
    s->thread_next = thread_list;
    if (thread_list != NULL)
        thread_list->thread_prev = s;
    thread_list = s;
    /* Made current unless a coroutine of another scheduler is running. */
    if (coco__tls_sched == NULL || !coco__tls_sched->running)
        coco__tls_sched = s;
    return s;
}

void coco_sched_destroy(coco_sched_t *s)
{
    if (s == NULL || s->running)
        return;
    coco__co_destroy_all(s);
    coco__sstack_fini(s);
    coco__loop_fini(s);
    coco__small_fini(&s->small);
    coco__error_cb_fini(&s->error_cbs);
    coco__stack_pool_drain(&s->stacks);
    if (s->thread_prev != NULL)
        s->thread_prev->thread_next = s->thread_next;
    else if (thread_list == s)
        thread_list = s->thread_next;
    if (s->thread_next != NULL)
        s->thread_next->thread_prev = s->thread_prev;
    if (coco__tls_sched == s)
        coco__tls_sched = thread_list;
    free(s);
    if (thread_scheds > 0 && --thread_scheds == 0)
        coco__signal_fini_thread();
}

int coco_sched_set_max_coroutines(coco_sched_t *s, size_t max)
{
    if (s == NULL)
        return COCO_ERROR_INVALID;
    s->max_coros = max;
    return COCO_OK;
}

size_t coco_sched_get_max_coroutines(const coco_sched_t *s)
{
    return s != NULL ? s->max_coros : 0;
}

size_t coco_sched_count(const coco_sched_t *s)
{
    return s != NULL ? s->alive : 0;
}
