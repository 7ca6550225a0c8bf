/*
 * core/mt.h - what crosses threads: the lock that guards shared objects
 * once the process has more than one thread using Coco, and waking a
 * coroutine from another thread (lib/core/mt.c).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_CORE_MT_H
#define COCO_CORE_MT_H

#include "core/coro.h"

/* One waiter that another thread (a helper thread, another scheduler's
 * coroutine) wakes: set up by the coroutine that waits, signalled once
 * from anywhere.  Memory of the caller's choosing that must stay valid
 * until coco__remote_signal() has returned or coco__remote_wait() has
 * returned non-OK (see there). */
struct coco__remote {
    coco_co_t *co;               /* the waiting coroutine, NULL once over */
    int state;                   /* private to lib/core/mt.c */
};

/* Parks the running coroutine until coco__remote_signal(r), for at most
 * timeout_ms (COCO_INFINITE: no limit).  r must have been zeroed.
 * COCO_OK: signalled.  COCO_ERROR_TIMEOUT, or COCO_ERROR_NOMEM (no
 * deadline could be set), or the coroutine is destroyed while it waits:
 * r is withdrawn, and a later coco__remote_signal(r) returns false and
 * touches nothing but r.  COCO_ERROR_WOULDBLOCK outside a coroutine. */
int coco__remote_wait(struct coco__remote *r, uint64_t timeout_ms);

/* From any thread, once per r: wakes the coroutine in
 * coco__remote_wait(r) and returns true, or returns false when it is no
 * longer waiting (it timed out or was destroyed).  After it returns the
 * caller must not touch r if it returned true. */
bool coco__remote_signal(struct coco__remote *r);

/* From any thread: true while the coroutine still waits in
 * coco__remote_wait(r), false once it was signalled, timed out or was
 * destroyed.  A true answer may be out of date as soon as it is given;
 * false stays false.  For work that is not worth starting any more. */
bool coco__remote_waiting(struct coco__remote *r);

#endif /* COCO_CORE_MT_H */
