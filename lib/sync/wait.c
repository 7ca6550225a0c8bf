/*
 * wait.c - the slow half of parking on a group of waiter records: being
 * cancelled, and waiting with a deadline.
 *
 * SPDX-License-Identifier: MIT
 */
#include "sync/wait.h"

/* The parked coroutine is destroyed, or its deadline passed: leave every
 * queue, so that nothing points into its stack any more. */
void coco__wait_cancel(coco_co_t *co)
{
    coco__wait_unlink_group(co->wait_obj);
}

void coco__wait_heap_free(coco_co_t *co)
{
    coco__wait_records_free(co->wait_obj, NULL);
}

/* The give_back hook sees w still on the handed list, where the records
 * handed to after it are found through its prev links. */
void coco__wait_give_back(coco_co_t *co)
{
    coco__waiter_t *w = (coco__waiter_t *)co->wait_obj + co->wait_result;
    coco__waitq_t *q = w->q;
    q->give_back(q, w);
    coco__wait_unhand(co)->q = NULL;
}

int coco__wait_park_timeout(coco_co_t *co, coco__waiter_t *w, uint64_t timeout_ms)
{
    int rc = coco__park_timeout_leave(co->pub.sched, timeout_ms);
    if (rc == COCO_ERROR_NOMEM) {
        /* Still in the section: nothing fired the group yet. */
        coco__wait_unlink_group(w);
        co->wait_on = COCO__ON_NOTHING;
        co->wait_obj = NULL;
        coco__sect_leave();
        return rc;
    }
    if (rc != COCO_OK)
        return rc;
    coco__wait_back(co);
    return (int)co->wait_result;
}

static inline int wait_one(coco__waitq_t *q, coco_co_t *co, coco__waiter_t *w,
                           void *in, void **out, uint64_t timeout_ms)
{
    coco__wait_init(w, 1, co);
    w->value = in;
    coco__waitq_push(q, w);
    int rc = coco__wait_park(co, w, timeout_ms);
    if (rc < 0)
        return rc;
    if (out != NULL)
        *out = w->value;
    return w->result;
}

int coco__wait_one_local(coco__waitq_t *q, coco_co_t *co, void *in, void **out,
                         uint64_t timeout_ms)
{
    coco__waiter_t w;
    return wait_one(q, co, &w, in, out, timeout_ms);
}

/* What a heap record was fired with, once its coroutine runs again; the
 * record is released.  Out of line: its callers tail-call it, and the
 * result it keeps across free() is then in no parked frame. */
static COCO__NOINLINE int heap_record_result(coco__waiter_t *w, void **out, int rc)
{
    w->co->flags &= (uint8_t)~COCO__WAIT_HEAP;
    if (rc >= 0) {
        if (out != NULL)
            *out = w->value;
        rc = w->result;
    }
    coco__wait_records_free(w, NULL);
    return rc;
}

static COCO__NOINLINE int park_on_heap_record_timed(coco__waiter_t *w, void **out,
                                                    uint64_t timeout_ms)
{
    int rc = coco__wait_park_timeout(w->co, w, timeout_ms);
    return heap_record_result(w, out, rc);
}

/* Parks on the queued heap record w.  Kept apart from its caller, and the
 * timed case apart again, so that only out stays live across the park: it
 * is what is saved with the coroutine's frames, and every byte of those
 * counts for a parked shared-stack coroutine.  The record itself is found
 * again through the descriptor, which keeps pointing at it while
 * COCO__WAIT_HEAP is set. */
static COCO__NOINLINE int park_on_heap_record(coco__waiter_t *w, void **out,
                                              uint64_t timeout_ms)
{
    coco_co_t *co = w->co;
    co->wait_obj = w;
    co->wait_on = COCO__ON_GROUP;
    if (timeout_ms != COCO_INFINITE)
        return park_on_heap_record_timed(w, out, timeout_ms);
    coco__park_leave(co->pub.sched);
    co = coco__tls_sched->current;
    coco__wait_back(co);
    return heap_record_result(co->wait_obj, out, (int)co->wait_result);
}

int coco__wait_one_heap(coco__waitq_t *q, coco_co_t *co, void *in, void **out,
                        uint64_t timeout_ms)
{
    coco__waiter_t *w = coco__wait_group(co, NULL, 0, 1);
    if (w == NULL) {
        coco__sect_leave();
        return COCO_ERROR_NOMEM;
    }
    w->value = in;
    coco__waitq_push(q, w);
    /* Findable before the call below, which may overflow the stack. */
    co->wait_obj = w;
    co->wait_on = COCO__ON_GROUP;
    co->flags |= COCO__WAIT_HEAP;
    return park_on_heap_record(w, out, timeout_ms);
}
