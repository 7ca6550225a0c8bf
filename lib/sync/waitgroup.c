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
    const coco__thr_t *thr;  /* the thread that made it (lib/core/mt.h) */
    long count;
    coco__waitq_t waiters;
};

coco_waitgroup_t *coco_waitgroup_create(void)
{
    coco_waitgroup_t *wg = calloc(1, sizeof *wg);
    if (wg == NULL)
        errno = ENOMEM;
    else {
        wg->thr = coco__thr();
        COCO__WAITQ_OWNER(wg, coco_waitgroup_t, waiters, COCO__WQ_WAITGROUP);
    }
    return wg;
}

void coco_waitgroup_destroy(coco_waitgroup_t *wg)
{
    if (wg == NULL)
        return;
    coco__sect_enter(wg->thr);
    coco__waitq_fire_all(&wg->waiters, COCO_ERROR_INVALID);
    coco__sect_leave();
    free(wg);
}

int coco_waitgroup_add(coco_waitgroup_t *wg, int delta)
{
    if (wg == NULL)
        return COCO_ERROR_INVALID;
    coco__sect_enter(wg->thr);
    int rc = COCO_OK;
    /* Going below zero is a bookkeeping bug: refuse it, change nothing. */
    if ((delta < 0 && wg->count < -(long)delta) ||
        (delta > 0 && wg->count > LONG_MAX - delta)) {
        rc = COCO_ERROR_INVALID;
    } else {
        wg->count += delta;
        if (wg->count == 0)
            coco__waitq_fire_all(&wg->waiters, COCO_OK);
    }
    coco__sect_leave();
    return rc;
}

int coco_waitgroup_done(coco_waitgroup_t *wg)
{
    return coco_waitgroup_add(wg, -1);
}

int coco_waitgroup_wait_timeout(coco_waitgroup_t *wg, uint64_t timeout_ms)
{
    if (wg == NULL)
        return COCO_ERROR_INVALID;
    coco__sect_enter(wg->thr);
    if (wg->count == 0) {
        coco__sect_leave();
        return COCO_OK;
    }
    return coco__wait_alone(&wg->waiters, timeout_ms);
}

int coco_waitgroup_wait(coco_waitgroup_t *wg)
{
    return coco_waitgroup_wait_timeout(wg, COCO_INFINITE);
}
