/*
 * cpool.c - bounded coroutine pools: at most max submitted functions run
 * at once, each in a coroutine of its own on the pool's scheduler; a
 * submission beyond that parks its caller until one finishes.
 *
 * Built on a semaphore (one unit per free place: a submitter parked on it
 * is handed the unit a finished function gives back, in order) and a wait
 * group (the functions submitted and not finished).  The coroutines take
 * their stacks from the scheduler's stack cache, so a finished function's
 * stack serves the next submission of the same size.
 *
 * Not to be confused with coco_blocking_call()'s helper threads
 * (lib/mt/pool.c), which run blocking functions off the scheduler.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco_internal.h"
#include "core/mt.h"

#include <errno.h>
#include <stdlib.h>

struct coco_pool {
    coco_sched_t *sched;
    size_t max;
    coco_attr_t attr;         /* of every coroutine of the pool */
    coco_sem_t *places;       /* a unit per place free */
    coco_waitgroup_t *work;   /* functions submitted and not finished */
    size_t running;           /* functions started and not finished */
    size_t busy;              /* calls of submit and wait under way */
};

/* One submission, freed by the coroutine that runs it. */
struct pool_task {
    coco_pool_t *pool;
    void (*fn)(void *);
    void *arg;
};

coco_pool_t *coco_pool_create(coco_sched_t *sched, size_t max, size_t stack_size)
{
    if (sched == NULL || max == 0) {
        errno = EINVAL;
        return NULL;
    }
    coco_pool_t *pool = calloc(1, sizeof *pool);
    if (pool == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    pool->sched = sched;
    pool->max = max;
    coco_attr_init(&pool->attr);
    pool->attr.stack_size = stack_size;
    pool->places = coco_sem_create(max);
    pool->work = coco_waitgroup_create();
    if (pool->places == NULL || pool->work == NULL) {
        coco_sem_destroy(pool->places);
        coco_waitgroup_destroy(pool->work);
        free(pool);
        errno = ENOMEM;
        return NULL;
    }
    return pool;
}

static void pool_run(void *p)
{
    struct pool_task *task = p;
    coco_pool_t *pool = task->pool;
    void (*fn)(void *) = task->fn;
    void *arg = task->arg;
    free(task);
    pool->running++;
    fn(arg);
    pool->running--;
    coco_sem_post(pool->places);
    coco_waitgroup_done(pool->work);
}

int coco_pool_submit(coco_pool_t *pool, void (*fn)(void *), void *arg,
                     uint64_t timeout_ms)
{
    if (pool == NULL || fn == NULL)
        return COCO_ERROR_INVALID;
    /* Another thread runs the pool's scheduler: refused before anything
     * of the pool is touched (its counts are that thread's), and before
     * a place is waited for that could never be used. */
    if (coco__sched_foreign(pool->sched))
        return COCO_ERROR_INVALID;
    pool->busy++;
    int rc = coco_sem_wait_timeout(pool->places, timeout_ms);
    if (rc != COCO_OK) {
        pool->busy--;
        /* Outside a coroutine with every place taken: the caller cannot
         * wait, as with the other objects. */
        return rc;
    }
    struct pool_task *task = malloc(sizeof *task);
    coco_coro_t *co = NULL;
    if (task != NULL) {
        task->pool = pool;
        task->fn = fn;
        task->arg = arg;
        co = coco_create_attr(pool->sched, pool_run, task, &pool->attr);
    }
    if (co == NULL) {
        rc = task == NULL || errno == ENOMEM || errno == EAGAIN ? COCO_ERROR_NOMEM
                                                                : COCO_ERROR_INVALID;
        free(task);
        coco_sem_post(pool->places);
        pool->busy--;
        return rc;
    }
    coco_detach(co);
    coco_waitgroup_add(pool->work, 1);
    pool->busy--;
    return COCO_OK;
}

int coco_pool_wait(coco_pool_t *pool, uint64_t timeout_ms)
{
    if (pool == NULL)
        return COCO_ERROR_INVALID;
    pool->busy++;
    int rc = coco_waitgroup_wait_timeout(pool->work, timeout_ms);
    pool->busy--;
    return rc;
}

size_t coco_pool_running(const coco_pool_t *pool)
{
    return pool != NULL ? pool->running : 0;
}

int coco_pool_destroy(coco_pool_t *pool)
{
    if (pool == NULL)
        return COCO_ERROR_INVALID;
    /* Functions not finished, or callers parked in the pool: they would
     * find it gone.  Nothing changes; the caller may wait and retry. */
    if (pool->busy != 0 || coco_sem_value(pool->places) != pool->max)
        return COCO_ERROR_WOULDBLOCK;
    coco_sem_destroy(pool->places);
    coco_waitgroup_destroy(pool->work);
    free(pool);
    return COCO_OK;
}
