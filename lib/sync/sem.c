/*
 * sem.c - counting semaphores for coroutines.  A post with coroutines
 * waiting hands its unit straight to the longest waiter, so waiters are
 * served in order and a fresh wait cannot overtake them.
 *
 * SPDX-License-Identifier: MIT
 */
#include "sync/wait.h"

#include <errno.h>
#include <stdlib.h>

struct coco_sem {
    const coco__thr_t *thr;  /* the thread that made it (lib/core/mt.h) */
    size_t value;
    coco__waitq_t waiters;
};

/* Adds a unit: to the longest waiter, or to the count. */
static int sem_release(coco_sem_t *sem)
{
    if (sem->waiters.head != NULL) {
        coco__waitq_hand_head(&sem->waiters);
        return COCO_OK;
    }
    if (sem->value == SIZE_MAX)
        return COCO_ERROR_INVALID;
    sem->value++;
    return COCO_OK;
}

/* The waiter handed a unit is destroyed before it ran. */
static void sem_give_back(coco__waitq_t *q, coco__waiter_t *w)
{
    (void)w;
    sem_release(COCO__CONTAINER_OF(q, coco_sem_t, waiters));
}

coco_sem_t *coco_sem_create(size_t initial)
{
    coco_sem_t *sem = calloc(1, sizeof *sem);
    if (sem == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    sem->thr = coco__thr();
    sem->value = initial;
    sem->waiters.give_back = sem_give_back;
    COCO__WAITQ_OWNER(sem, coco_sem_t, waiters, COCO__WQ_SEM);
    return sem;
}

void coco_sem_destroy(coco_sem_t *sem)
{
    if (sem == NULL)
        return;
    coco__sect_enter(sem->thr);
    coco__waitq_fire_all(&sem->waiters, COCO_ERROR_INVALID);
    coco__waitq_forget_handed(&sem->waiters);
    coco__sect_leave();
    free(sem);
}

int coco_sem_wait_timeout(coco_sem_t *sem, uint64_t timeout_ms)
{
    if (sem == NULL)
        return COCO_ERROR_INVALID;
    coco__sect_enter(sem->thr);
    if (sem->value > 0) {
        sem->value--;
        coco__sect_leave();
        return COCO_OK;
    }
    return coco__wait_alone(&sem->waiters, timeout_ms);
}

int coco_sem_wait(coco_sem_t *sem)
{
    return coco_sem_wait_timeout(sem, COCO_INFINITE);
}

int coco_sem_trywait(coco_sem_t *sem)
{
    if (sem == NULL)
        return COCO_ERROR_INVALID;
    coco__sect_enter(sem->thr);
    int rc = COCO_ERROR_WOULDBLOCK;
    if (sem->value > 0) {
        sem->value--;
        rc = COCO_OK;
    }
    coco__sect_leave();
    return rc;
}

int coco_sem_post(coco_sem_t *sem)
{
    if (sem == NULL)
        return COCO_ERROR_INVALID;
    coco__sect_enter(sem->thr);
    int rc = sem_release(sem);
    coco__sect_leave();
    return rc;
}

size_t coco_sem_value(const coco_sem_t *sem)
{
    if (sem == NULL)
        return 0;
    coco__sect_enter(sem->thr);
    size_t v = sem->value;
    coco__sect_leave();
    return v;
}
