/*
 * waitgroup.c - wait groups: a counter of outstanding tasks and the
 * coroutines waiting for it to reach zero.
 *
 * SPDX-License-Identifier: MIT
 */
#include "channel/wait.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

struct coco_waitgroup {
    long count;
    coco__waitq_t waiters;
};

coco_waitgroup_t *coco_waitgroup_create(void)
{
    coco_waitgroup_t *wg = calloc(1, sizeof *wg);
    if (wg == NULL)
        errno = ENOMEM;
    return wg;
}

void coco_waitgroup_destroy(coco_waitgroup_t *wg)
{
    if (wg == NULL)
        return;
    coco__waitq_fire_all(&wg->waiters, COCO_ERROR_INVALID);
    free(wg);
}

int coco_waitgroup_add(coco_waitgroup_t *wg, int delta)
{
    if (wg == NULL)
        return COCO_ERROR_INVALID;
    /* Going below zero is a bookkeeping bug: refuse it, change nothing. */
    if ((delta < 0 && wg->count < -(long)delta) ||
        (delta > 0 && wg->count > LONG_MAX - delta))
        return COCO_ERROR_INVALID;
    wg->count += delta;
    if (wg->count == 0)
        coco__waitq_fire_all(&wg->waiters, COCO_OK);
    return COCO_OK;
}

int coco_waitgroup_done(coco_waitgroup_t *wg)
{
    return coco_waitgroup_add(wg, -1);
}

int coco_waitgroup_wait_timeout(coco_waitgroup_t *wg, uint64_t timeout_ms)
{
    if (wg == NULL)
        return COCO_ERROR_INVALID;
    if (wg->count == 0)
        return COCO_OK;
    coco_co_t *self = coco__wait_self();
    if (self == NULL)
        return COCO_ERROR_WOULDBLOCK;
    if (timeout_ms == 0)
        return COCO_ERROR_TIMEOUT;
    coco__waiter_t w;
    coco__wait_init(&w, 1, self);
    coco__waitq_push(&wg->waiters, &w);
    int rc = coco__wait_park(self, &w, timeout_ms);
    return rc < 0 ? rc : w.result;
}

int coco_waitgroup_wait(coco_waitgroup_t *wg)
{
    return coco_waitgroup_wait_timeout(wg, COCO_INFINITE);
}
