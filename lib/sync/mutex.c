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
static void mutex_release(coco_mutex_t *mu)
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
        mutex_release(mu);
}

coco_mutex_t *coco_mutex_create(void)
{
    coco_mutex_t *mu = calloc(1, sizeof *mu);
    if (mu == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    mu->waiters.give_back = mutex_give_back;
    COCO__WAITQ_OWNER(mu, coco_mutex_t, waiters, COCO__WQ_MUTEX);
    return mu;
}

void coco_mutex_destroy(coco_mutex_t *mu)
{
    if (mu == NULL)
        return;
    coco__waitq_fire_all(&mu->waiters, COCO_ERROR_INVALID);
    coco__waitq_forget_handed(&mu->waiters);
    free(mu);
}

int coco__mutex_lock(coco_mutex_t *mu, coco_co_t *self, uint64_t timeout_ms)
{
    if (!mu->locked) {
        mu->locked = true;
        coco__mutex_set_owner(mu, self);
        return COCO_OK;
    }
    if (self == NULL)
        return COCO_ERROR_WOULDBLOCK;
    if (coco__mutex_held_by(mu, self))
        return COCO_ERROR_DEADLOCK; /* not recursive: it would wait for ever */
    if (timeout_ms == 0)
        return COCO_ERROR_TIMEOUT;
    /* On COCO_OK the unlocker already made us the owner. */
    return coco__wait_one(&mu->waiters, self, NULL, NULL, timeout_ms);
}

int coco_mutex_lock_timeout(coco_mutex_t *mu, uint64_t timeout_ms)
{
    if (mu == NULL)
        return COCO_ERROR_INVALID;
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
    if (mu->locked)
        return COCO_ERROR_WOULDBLOCK;
    mu->locked = true;
    coco__mutex_set_owner(mu, coco__current());
    return COCO_OK;
}

int coco_mutex_unlock(coco_mutex_t *mu)
{
    if (mu == NULL || !coco__mutex_held_by(mu, coco__current()))
        return COCO_ERROR_INVALID;
    mutex_release(mu);
    return COCO_OK;
}
