/*
 * sync.h - the synchronisation objects' structures, shared where one uses
 * another (a condition variable relocks its mutex).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_SYNC_SYNC_H
#define COCO_SYNC_SYNC_H

#include "sync/wait.h"

struct coco_mutex {
    const coco__thr_t *thr;  /* the thread that made it (lib/core/mt.h) */
    bool locked;
    coco_co_t *owner;        /* NULL: the thread outside coroutines */
    uint64_t owner_id;       /* its id: descriptors are recycled */
    coco__waitq_t waiters;
};

/* Makes co (NULL: the thread) the owner of mu. */
static inline void coco__mutex_set_owner(coco_mutex_t *mu, coco_co_t *co)
{
    mu->owner = co;
    mu->owner_id = co != NULL ? co->id : 0;
}

/* True when co holds mu.  The id tells co from an earlier coroutine that
 * finished holding the mutex and whose descriptor co has been given. */
static inline bool coco__mutex_held_by(const coco_mutex_t *mu, const coco_co_t *co)
{
    return mu->locked && mu->owner == co &&
           mu->owner_id == (co != NULL ? co->id : 0);
}

/* Locks mu for self (NULL outside a coroutine); coco_mutex_lock_timeout()
 * without the argument checks. */
/* In a section, which it leaves. */
int coco__mutex_lock(coco_mutex_t *mu, coco_co_t *self, uint64_t timeout_ms);
/* In a section: unlocks mu, held by the caller. */
void coco__mutex_release(coco_mutex_t *mu);

#endif /* COCO_SYNC_SYNC_H */
