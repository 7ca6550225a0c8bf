/*
 * mutex.c - a mutex for coroutines: waiting parks the coroutine, and
 * unlock hands the mutex straight to the longest waiter (FIFO, so a
 * coroutine that unlocks and locks again in a loop cannot starve others).
 *
 * The thread outside any coroutine may take a free mutex too; it is then
 * its owner for unlock.
 *
 * SPDX-License-Identifier: MIT
 */
#include "sync/sync.h"

#include <errno.h>
#include <stdlib.h>

/* Passes the held mutex to the longest waiter, or frees it. */
void coco__mutex_release(coco_mutex_t *mu)
{
    coco__waiter_t *w = mu->waiters.head;
    if (w == NULL) {
        mu->locked = false;
        coco__mutex_set_owner(mu, NULL);
        return;
    }
    coco__mutex_set_owner(mu, w->co);
    coco__waitq_hand_head(&mu->waiters);
}

/* The waiter handed the mutex is destroyed before it ran. */
static void mutex_give_back(coco__waitq_t *q, coco__waiter_t *w)
{
    coco_mutex_t *mu = COCO__CONTAINER_OF(q, coco_mutex_t, waiters);
    if (coco__mutex_held_by(mu, w->co))
        coco__mutex_release(mu);
}

coco_mutex_t *coco_mutex_create(void)
{
    coco_mutex_t *mu = calloc(1, sizeof *mu);
    if (mu == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    mu->thr = coco__thr();
    mu->waiters.give_back = mutex_give_back;
    COCO__WAITQ_OWNER(mu, coco_mutex_t, waiters, COCO__WQ_MUTEX);
    return mu;
}

void coco_mutex_destroy(coco_mutex_t *mu)
{
    if (mu == NULL)
        return;
    coco__sect_enter(mu->thr);
    coco__waitq_fire_all(&mu->waiters, COCO_ERROR_INVALID);
    coco__waitq_forget_handed(&mu->waiters);
    coco__sect_leave();
    free(mu);
}

int coco__mutex_lock(coco_mutex_t *mu, coco_co_t *self, uint64_t timeout_ms)
{
    int rc;
    if (!mu->locked) {
        mu->locked = true;
        coco__mutex_set_owner(mu, self);
        rc = COCO_OK;
    } else if (self == NULL) {
        rc = COCO_ERROR_WOULDBLOCK;
    } else if (coco__mutex_held_by(mu, self)) {
        rc = COCO_ERROR_DEADLOCK; /* not recursive: it would wait for ever */
    } else if (timeout_ms == 0) {
        rc = COCO_ERROR_TIMEOUT;
    } else {
        /* On COCO_OK the unlocker already made us the owner. */
        return coco__wait_one(&mu->waiters, self, NULL, NULL, timeout_ms);
    }
    coco__sect_leave();
    return rc;
}

int coco_mutex_lock_timeout(coco_mutex_t *mu, uint64_t timeout_ms)
{
    if (mu == NULL)
        return COCO_ERROR_INVALID;
    coco__sect_enter(mu->thr);
    return coco__mutex_lock(mu, coco__current(), timeout_ms);
}

int coco_mutex_lock(coco_mutex_t *mu)
{
    return coco_mutex_lock_timeout(mu, COCO_INFINITE);
}

int coco_mutex_trylock(coco_mutex_t *mu)
{
    if (mu == NULL)
        return COCO_ERROR_INVALID;
    coco__sect_enter(mu->thr);
    int rc = COCO_ERROR_WOULDBLOCK;
    if (!mu->locked) {
        mu->locked = true;
        coco__mutex_set_owner(mu, coco__current());
        rc = COCO_OK;
    }
    coco__sect_leave();
    return rc;
}

int coco_mutex_unlock(coco_mutex_t *mu)
{
    if (mu == NULL)
        return COCO_ERROR_INVALID;
    coco__sect_enter(mu->thr);
    int rc = COCO_ERROR_INVALID;
    if (coco__mutex_held_by(mu, coco__current())) {
        coco__mutex_release(mu);
        rc = COCO_OK;
    }
    coco__sect_leave();
    return rc;
}
