/*
 * remote.c - one-shot wake-ups from another thread (lib/core/mt.h): a
 * coroutine parks until a helper thread, or anything else, signals it.
 *
 * SPDX-License-Identifier: MIT
 */
#include "sync/wait.h"

/* ------------------------------------------------------ remote wake-ups */

enum { R_IDLE = 0, R_WAITING, R_SIGNALLED, R_WITHDRAWN };

bool coco__remote_signal(struct coco__remote *r)
{
    coco__thr_t *t = coco__thr();
    coco__glock(t);
    bool woke = true;
    if (r->state == R_WAITING) {
        coco_co_t *co = r->co;
        r->state = R_SIGNALLED;
        r->co = NULL;
        co->wait_result = 0;
        coco__wake_remote(co);
    } else if (r->state == R_IDLE) {
        r->state = R_SIGNALLED; /* it returns at once */
    } else {
        woke = false;
    }
    coco__gunlock(t);
    return woke;
}

void coco__remote_cancel(coco_co_t *co)
{
    struct coco__remote *r = co->wait_obj;
    r->state = R_WITHDRAWN;
    r->co = NULL;
    co->pub.sched->remote_waits--;
    co->pub.sched->io_waiting--;
}

int coco__remote_wait(struct coco__remote *r, uint64_t timeout_ms)
{
    coco_co_t *co = coco__current();
    if (co == NULL)
        return COCO_ERROR_WOULDBLOCK;
    coco_sched_t *s = co->pub.sched;
    if (s->ops->arm(s) != COCO_OK)
        return COCO_ERROR_NOMEM;
    coco__thr_t *t = coco__thr();
    coco__glock(t);
    if (r->state == R_SIGNALLED) {
        coco__gunlock(t);
        return COCO_OK;
    }
    if (timeout_ms == 0) {
        r->state = R_WITHDRAWN;
        coco__gunlock(t);
        return COCO_ERROR_TIMEOUT;
    }
    r->co = co;
    r->state = R_WAITING;
    co->wait_obj = r;
    co->wait_on = COCO__ON_REMOTE;
    /* Counted as a descriptor wait: the loop polls (its wake descriptor)
     * rather than calling it a deadlock. */
    s->remote_waits++;
    s->io_waiting++;
    int rc = coco__park_timeout_leave(s, timeout_ms);
    if (rc == COCO_ERROR_NOMEM) {
        coco__remote_cancel(co);
        co->wait_on = COCO__ON_NOTHING;
        co->wait_obj = NULL;
        coco__gunlock(t);
        return rc;
    }
    /* Running again: signalled (the inbox brought it back) or withdrawn
     * (its deadline passed; coco__remote_cancel ran). */
    if (rc == COCO_OK) {
        s->remote_waits--;
        s->io_waiting--;
    }
    return rc;
}

