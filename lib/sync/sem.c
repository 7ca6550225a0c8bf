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
    sem->value = initial;
    sem->waiters.give_back = sem_give_back;
    COCO__WAITQ_OWNER(sem, coco_sem_t, waiters, COCO__WQ_SEM);
    return sem;
}

void coco_sem_destroy(coco_sem_t *sem)
{
    if (sem == NULL)
        return;
    coco__waitq_fire_all(&sem->waiters, COCO_ERROR_INVALID);
    coco__waitq_forget_handed(&sem->waiters);
    free(sem);
}

int coco_sem_wait_timeout(coco_sem_t *sem, uint64_t timeout_ms)
{
    if (sem == NULL)
        return COCO_ERROR_INVALID;
    if (sem->value > 0) {
        sem->value--;
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
    if (sem->value == 0)
        return COCO_ERROR_WOULDBLOCK;
    sem->value--;
    return COCO_OK;
}

int coco_sem_post(coco_sem_t *sem)
{
    if (sem == NULL)
        return COCO_ERROR_INVALID;
    return sem_release(sem);
}

size_t coco_sem_value(const coco_sem_t *sem)
{
    return sem != NULL ? sem->value : 0;
}
