/*
 * deadlock.c - a program that deadlocks, to show what Coco reports.
 *
 * The auditor takes the ledger's lock and waits for a reply from the
 * clerk; the clerk needs the same lock before it can reply; main_task
 * joins the auditor.  Nothing can move.  Run it with COCO_DEBUG=deadlock
 * in the environment to see every coroutine and what it waits for.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"

#include <stdio.h>

static coco_mutex_t *ledger;
static coco_channel_t *replies;

static void auditor(void *arg)
{
    void *reply;
    (void)arg;
    coco_mutex_lock(ledger);
    coco_channel_recv(replies, &reply);   /* waits for the clerk */
    coco_mutex_unlock(ledger);
}

static void clerk(void *arg)
{
    (void)arg;
    coco_mutex_lock(ledger);              /* waits for the auditor */
    coco_channel_send(replies, "done");
    coco_mutex_unlock(ledger);
}

static void main_task(void *arg)
{
    coco_sched_t *sched = arg;
    coco_coro_t *a = coco_create(sched, auditor, NULL, 0);
    coco_create(sched, clerk, NULL, 0);
    coco_join(a);
}

int main(void)
{
    coco_sched_t *sched = coco_sched_create();
    ledger = coco_mutex_create();
    replies = coco_channel_create(0);
    coco_create(sched, main_task, sched, 0);
    int rc = coco_sched_run(sched);
    printf("coco_sched_run: %s\n", coco_strerror(rc));
    coco_sched_destroy(sched);
    coco_channel_destroy(replies);
    coco_mutex_destroy(ledger);
    return rc == COCO_ERROR_DEADLOCK ? 0 : 1;
}
