/*
 * pipeline.c - channels and a wait group at work.
 *
 * Part 1 is a producer -> processor -> consumer pipeline: numbers flow
 * through two channels, each stage closes its output when its input is
 * closed and drained, and the consumer stops on COCO_ERROR_CHANNEL_CLOSED.
 *
 * Part 2 fans out: a pool of workers takes jobs from one channel and sends
 * results to another; a wait group tells a closer coroutine when every
 * worker is done, so the collector knows no more results will come.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"

#include <stdint.h>
#include <stdio.h>

#define N_ITEMS 10
#define N_JOBS 20
#define N_WORKERS 4

struct stage {
    coco_channel_t *in, *out;
};

/* ------------------------------------------------- part 1: the pipeline */

static void producer(void *arg)
{
    coco_channel_t *out = arg;
    for (intptr_t i = 1; i <= N_ITEMS; i++)
        coco_channel_send(out, (void *)i);
    coco_channel_close(out);
}

static void processor(void *arg)
{
    struct stage *st = arg;
    void *v;
    while (coco_channel_recv(st->in, &v) == COCO_OK) {
        intptr_t x = (intptr_t)v;
        coco_channel_send(st->out, (void *)(x * x));
    }
    coco_channel_close(st->out);
}

static void consumer(void *arg)
{
    coco_channel_t *in = arg;
    void *v;
    long sum = 0;
    while (coco_channel_recv(in, &v) == COCO_OK) {
        printf("consumer: got %ld\n", (long)(intptr_t)v);
        sum += (long)(intptr_t)v;
    }
    printf("consumer: input closed, sum of squares %ld\n", sum);
}

/* --------------------------------------- part 2: fan-out and fan-in pool */

struct pool {
    coco_channel_t *jobs, *results;
    coco_waitgroup_t *wg;
};

static void worker(void *arg)
{
    struct pool *p = arg;
    void *v;
    while (coco_channel_recv(p->jobs, &v) == COCO_OK) {
        intptr_t job = (intptr_t)v;
        coco_yield(); /* stands for real work that waits on something */
        coco_channel_send(p->results, (void *)(job * 10));
    }
    coco_waitgroup_done(p->wg);
}

static void dispatcher(void *arg)
{
    struct pool *p = arg;
    for (intptr_t j = 1; j <= N_JOBS; j++)
        coco_channel_send(p->jobs, (void *)j);
    coco_channel_close(p->jobs);
}

/* Closes the results once the last worker has finished. */
static void closer(void *arg)
{
    struct pool *p = arg;
    coco_waitgroup_wait(p->wg);
    coco_channel_close(p->results);
}

static void collector(void *arg)
{
    struct pool *p = arg;
    void *v;
    long total = 0, count = 0;
    while (coco_channel_recv(p->results, &v) == COCO_OK) {
        total += (long)(intptr_t)v;
        count++;
    }
    printf("collector: %ld results, total %ld\n", count, total);
}

int main(void)
{
    coco_sched_t *sched = coco_sched_create();
    if (sched == NULL)
        return 1;

    coco_channel_t *numbers = coco_channel_create(0);
    coco_channel_t *squares = coco_channel_create(4);
    struct stage st = { numbers, squares };
    coco_create(sched, producer, numbers, 0);
    coco_create(sched, processor, &st, 0);
    coco_create(sched, consumer, squares, 0);
    int rc = coco_sched_run(sched);
    coco_channel_destroy(numbers);
    coco_channel_destroy(squares);
    if (rc != COCO_OK)
        return 1;

    struct pool p = { coco_channel_create(N_WORKERS), coco_channel_create(0),
                      coco_waitgroup_create() };
    coco_waitgroup_add(p.wg, N_WORKERS);
    for (int i = 0; i < N_WORKERS; i++)
        coco_create(sched, worker, &p, 0);
    coco_create(sched, dispatcher, &p, 0);
    coco_create(sched, closer, &p, 0);
    coco_create(sched, collector, &p, 0);
    rc = coco_sched_run(sched);
    coco_channel_destroy(p.jobs);
    coco_channel_destroy(p.results);
    coco_waitgroup_destroy(p.wg);
    coco_sched_destroy(sched);
    return rc == COCO_OK ? 0 : 1;
}
