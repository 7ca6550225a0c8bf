/*
 * wait.c - the slow half of parking on a group of waiter records: being
 * cancelled, and waiting with a deadline.
 *
 * SPDX-License-Identifier: MIT
 */
#include "channel/wait.h"

/* The parked coroutine is destroyed, or its deadline passed: leave every
 * queue, so that nothing points into its stack any more. */
void coco__wait_cancel(coco_co_t *co)
{
    coco__wait_unlink_group(co->wait_obj);
}

int coco__wait_park_timeout(coco_co_t *co, uint64_t timeout_ms)
{
    int rc = coco__park_timeout(co->pub.sched, timeout_ms);
    return rc == COCO_OK ? (int)co->wait_result : rc;
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

int coco__wait_one_heap(coco__waitq_t *q, coco_co_t *co, void *in, void **out,
                        uint64_t timeout_ms)
{
    coco__waiter_t *w = malloc(sizeof *w);
    if (w == NULL)
        return COCO_ERROR_NOMEM;
    int rc = wait_one(q, co, w, in, out, timeout_ms);
    free(w);
    return rc;
}
