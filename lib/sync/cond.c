/*
 * cond.c - condition variables for coroutines.
 *
 * Waiting releases the mutex and parks in one step (nothing else runs in
 * between on this thread, so no wake-up can be lost), then takes the
 * mutex again before returning, whatever ended the wait.
 *
 * SPDX-License-Identifier: MIT
 */
#include "sync/sync.h"

#include <errno.h>
#include <stdlib.h>

struct coco_cond {
    const coco__thr_t *thr;  /* the thread that made it (lib/core/mt.h) */
    coco__waitq_t waiters;
};

/* The waiter a signal woke is destroyed before it ran: the signal wakes
 * the next one instead.  (A broadcast wakes everyone, and hands nothing.) */
static void cond_give_back(coco__waitq_t *q, coco__waiter_t *w)
{
    (void)w;
    if (q->head != NULL)
        coco__waitq_hand_head(q);
}

coco_cond_t *coco_cond_create(void)
{
    coco_cond_t *cv = calloc(1, sizeof *cv);
    if (cv == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    cv->thr = coco__thr();
    cv->waiters.give_back = cond_give_back;
    COCO__WAITQ_OWNER(cv, coco_cond_t, waiters, COCO__WQ_COND);
    return cv;
}

void coco_cond_destroy(coco_cond_t *cv)
{
    if (cv == NULL)
        return;
    coco__sect_enter(cv->thr);
    coco__waitq_fire_all(&cv->waiters, COCO_ERROR_INVALID);
    coco__waitq_forget_handed(&cv->waiters);
    coco__sect_leave();
    free(cv);
}

int coco_cond_wait_timeout(coco_cond_t *cv, coco_mutex_t *mu, uint64_t timeout_ms)
{
    coco_co_t *self = coco__current();
    if (cv == NULL || mu == NULL)
        return COCO_ERROR_INVALID;
    /* Both objects, or all of them (lib/core/mt.h). */
    coco__sect_enter(cv->thr == mu->thr ? cv->thr : &coco__no_owner);
    int rc = COCO_OK;
    coco__waiter_t local, *w = NULL;
    if (!coco__mutex_held_by(mu, self))
        rc = COCO_ERROR_INVALID;
    else if (self == NULL)
        rc = COCO_ERROR_WOULDBLOCK;
    else if (timeout_ms == 0)
        rc = COCO_ERROR_TIMEOUT;
    else if ((w = coco__wait_group(self, &local, 1, 1)) == NULL)
        rc = COCO_ERROR_NOMEM;
    if (rc != COCO_OK) {
        coco__sect_leave();
        return rc;
    }
    coco__waitq_push(&cv->waiters, w);
    coco__mutex_release(mu);
    rc = coco__wait_park_group(self, w, &local, timeout_ms);
    if (rc >= 0)
        rc = w->result;
    coco__wait_records_free(w, &local);
    /* The caller holds the mutex again on every return, as with pthreads. */
    coco__sect_enter(mu->thr);
    int lrc = coco__mutex_lock(mu, self, COCO_INFINITE);
    return lrc != COCO_OK ? lrc : rc;
}

int coco_cond_wait(coco_cond_t *cv, coco_mutex_t *mu)
{
    return coco_cond_wait_timeout(cv, mu, COCO_INFINITE);
}

int coco_cond_signal(coco_cond_t *cv)
{
    if (cv == NULL)
        return COCO_ERROR_INVALID;
    coco__sect_enter(cv->thr);
    if (cv->waiters.head != NULL)
        coco__waitq_hand_head(&cv->waiters);
    coco__sect_leave();
    return COCO_OK;
}

int coco_cond_broadcast(coco_cond_t *cv)
{
    if (cv == NULL)
        return COCO_ERROR_INVALID;
    coco__sect_enter(cv->thr);
    coco__waitq_fire_all(&cv->waiters, COCO_OK);
    coco__sect_leave();
    return COCO_OK;
}
