/*
 * waitgroup.c - wait groups: a counter of outstanding tasks and the
 * coroutines waiting for it to reach zero.
 *
 * SPDX-License-Identifier: MIT
 */
#include "sync/wait.h"

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
    else
        COCO__WAITQ_OWNER(wg, coco_waitgroup_t, waiters, COCO__WQ_WAITGROUP);
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
    return coco__wait_alone(&wg->waiters, timeout_ms);
}

int coco_waitgroup_wait(coco_waitgroup_t *wg)
{
    return coco_waitgroup_wait_timeout(wg, COCO_INFINITE);
}
