/*
 * inspect.h - what the rest of the library tells the dump (lib/debug/dump.c).
 *
 * The dump reads only state the layers keep anyway.  The one thing it
 * needs to be told is whose a wait queue is: a waiter record leads to its
 * queue, and the tag set here, when the owning object is made, leads from
 * the queue to the object and what it is.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_DEBUG_INSPECT_H
#define COCO_DEBUG_INSPECT_H

#include "coco_internal.h"

#include <stddef.h>

/* The address the current function returns to: where a coroutine was
 * created, in the public function that creates it. */
#if defined(__GNUC__)
#  define COCO__CALLER __builtin_return_address(0)
#else
#  define COCO__CALLER NULL
#endif

/* Owners of a wait queue (struct coco__waitq's kind). */
enum {
    COCO__WQ_UNKNOWN = 0,
    COCO__WQ_SEND,      /* a channel's senders */
    COCO__WQ_RECV,      /* a channel's receivers */
    COCO__WQ_MUTEX,
    COCO__WQ_COND,
    COCO__WQ_SEM,
    COCO__WQ_WAITGROUP
};

/* Tags the queue member of the object at obj, of type type, as kind k. */
#define COCO__WAITQ_OWNER(obj, type, member, k)                             \
    ((obj)->member.kind = (uint8_t)(k),                                     \
     (obj)->member.owner_at = (uint8_t)offsetof(type, member))

/* The object whose queue q is, as COCO__WAITQ_OWNER tagged it. */
static inline const void *coco__waitq_owner(const struct coco__waitq *q)
{
    return (const char *)q - q->owner_at;
}

/* Called when coco_sched_run() or coco_sched_run_once() is about to return
 * COCO_ERROR_DEADLOCK: prints the dump to stderr when the environment
 * variable COCO_DEBUG names "deadlock". */
void coco__debug_deadlock(const coco_sched_t *s);

/* Calls f(co, arg) on every live descriptor of s (lib/core/coro.c). */
void coco__co_each(const coco_sched_t *s, void (*f)(const coco_co_t *, void *),
                   void *arg);

/* Calls f on every mapping of pool's stacks (lib/mem/stack.c; nothing
 * on Windows). */
void coco__stack_pool_each(const coco_stack_pool_t *pool,
                           void (*f)(const char *base, size_t len, void *arg), void *arg);

/* Bytes of [lo, lo + size) in memory; 0 where the system will not say
 * (lib/debug/dump.c). */
size_t coco__resident(const char *lo, size_t size);

/* When the deadline co waits for was set (lib/timer/timer_park.c). */
uint64_t coco__tpark_since(const struct coco_tpark *tp);

#endif /* COCO_DEBUG_INSPECT_H */
