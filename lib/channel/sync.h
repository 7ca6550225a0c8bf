/*
 * sync.h - the synchronisation objects' structures, shared where one uses
 * another (a condition variable relocks its mutex).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_CHANNEL_SYNC_H
#define COCO_CHANNEL_SYNC_H

#include "channel/wait.h"

struct coco_mutex {
    bool locked;
    coco_co_t *owner;        /* NULL: the thread outside coroutines */
    coco__waitq_t waiters;
};

/* Locks mu for self (NULL outside a coroutine); coco_mutex_lock_timeout()
 * without the argument checks. */
int coco__mutex_lock(coco_mutex_t *mu, coco_co_t *self, uint64_t timeout_ms);

#endif /* COCO_CHANNEL_SYNC_H */
