/*
 * wait.c - the slow half of parking on a group of waiter records: being
 * cancelled, and waiting with a deadline.
 *
 * SPDX-License-Identifier: MIT
 */
#include "channel/wait.h"

/* The parked coroutine is destroyed, or its deadline passed: leave every
 * queue, so that nothing points into its stack any more. */
void coco__wait_cancel(coco_co_t *co)
{
    coco__wait_unlink_group(co->wait_obj);
}

int coco__wait_park_timeout(coco_co_t *co, uint64_t timeout_ms)
{
    int rc = coco__park_timeout(co->pub.sched, timeout_ms);
    return rc == COCO_OK ? (int)co->wait_result : rc;
}
