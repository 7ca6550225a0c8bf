/*
 * wait.h - waiter records and wait queues, shared by the channel, select
 * and synchronisation objects of lib/sync.
 *
 * A coroutine that must wait puts one waiter record per thing it waits on
 * (one for a plain call, one per case for a select) on its own stack,
 * links them into the objects' queues and parks.  Whoever satisfies one
 * of them unlinks the whole group, records which one fired and wakes the
 * coroutine.  Nothing here allocates, except for a coroutine on a shared
 * stack: its stack is copied away while it waits, and others write into
 * its records (the value handed over, the result), so its records come
 * from the heap instead.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_SYNC_WAIT_H
#define COCO_SYNC_WAIT_H

#include "timer/deadline.h"
#include "debug/inspect.h"
#include "core/mt.h"

#include <stddef.h>
#include <stdlib.h>

typedef struct coco__waitq coco__waitq_t;

typedef struct coco__waiter {
    /* First member: in the group's first record, the lock that guarded
     * the park, once it parked in a locked section (coco__park_leave). */
    int *guard;
    struct coco__waiter *next, *prev;
    coco__waitq_t *q;        /* the queue it is linked in, NULL once out */
    coco_co_t *co;
    void *value;             /* channel: the value handed over */
    int32_t result;          /* set by whoever fired it */
    uint32_t pos;            /* position in its group, | COCO__WAIT_LAST
                                on the last member */
} coco__waiter_t;

/* Marks the last record of a group, so that a group needs no count: a
 * lone record's pos is exactly this.  Groups have at most INT32_MAX
 * members. */
#define COCO__WAIT_LAST 0x80000000u

static inline uint32_t coco__wait_index(const coco__waiter_t *w)
{
    return w->pos & ~COCO__WAIT_LAST;
}

/* True for the only member of a group of one: the common case. */
static inline bool coco__wait_alone_in_group(const coco__waiter_t *w)
{
    return w->pos == COCO__WAIT_LAST;
}

/* struct coco__waitq is in core/coro.h: the scheduler holds one. */

/* The object whose member named member is at p. */
#define COCO__CONTAINER_OF(p, type, member) \
    ((type *)(void *)((char *)(p) - offsetof(type, member)))

static inline void coco__waitq_push(coco__waitq_t *q, coco__waiter_t *w)
{
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail != NULL)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    w->q = q;
}

static inline void coco__waitq_remove(coco__waiter_t *w)
{
    coco__waitq_t *q = w->q;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->q = NULL;
}

/* Unlinks every member of w's group still queued somewhere. */
static inline void coco__wait_unlink_group(coco__waiter_t *w)
{
    for (coco__waiter_t *m = w - coco__wait_index(w);; m++) {
        if (m->q != NULL)
            coco__waitq_remove(m);
        if (m->pos & COCO__WAIT_LAST)
            break;
    }
}

/* Makes the coroutine of the fired waiter w runnable: at once when this
 * thread runs its scheduler (or nothing is shared), else through the
 * inbox of its scheduler. */
static inline void coco__wait_wake(coco__waiter_t *w, int result)
{
    coco_co_t *co = w->co;
    w->result = result;
    co->wait_result = (int32_t)coco__wait_index(w);
    if (coco__wake_is_remote(co))
        coco__wake_remote(co);
    else
        coco__wake(co->pub.sched, co);
}

/* Satisfies the queued waiter w with result: its whole group leaves the
 * queues and its coroutine becomes runnable. */
static inline void coco__wait_fire(coco__waiter_t *w, int result)
{
    if (coco__likely(coco__wait_alone_in_group(w)))
        coco__waitq_remove(w);
    else
        coco__wait_unlink_group(w);
    coco__wait_wake(w, result);
}

/* Takes w, the head of q, off q (and its group off every queue). */
static COCO__ALWAYS_INLINE void coco__waitq_unlink_head(coco__waitq_t *q, coco__waiter_t *w)
{
    if (coco__likely(coco__wait_alone_in_group(w))) {
        q->head = w->next;
        if (q->head != NULL)
            q->head->prev = NULL;
        else
            q->tail = NULL;
        w->q = NULL;
    } else {
        coco__wait_unlink_group(w);
    }
}

/* coco__wait_fire() on the head of a non-empty queue: the hand-off path. */
static inline void coco__waitq_fire_head(coco__waitq_t *q, int result)
{
    coco__waiter_t *w = q->head;
    coco__waitq_unlink_head(q, w);
    coco__wait_wake(w, result);
}

/* The hand-offs: a lock, a unit or a value given to a parked waiter w
 * belongs to it from then on, but its coroutine may be destroyed before
 * it runs and takes it.  So until it runs, w stays on q's handed list
 * (its queue links are free again) and its coroutine says where to find
 * it; coco__wait_give_back() passes the thing on if it is destroyed
 * first. */

/* Records that w, just fired from q, was handed something.  The handed
 * list is newest first: a record's prev links lead to the ones handed
 * to after it. */
static inline void coco__wait_handed(coco__waitq_t *q, coco__waiter_t *w)
{
    coco_co_t *co = w->co;
    coco__waiter_t *first = w - coco__wait_index(w);
    w->q = q;
    w->prev = NULL;
    w->next = q->handed;
    if (q->handed != NULL)
        q->handed->prev = w;
    q->handed = w;
    /* Its scheduler may read wait_on at the same time, without a lock
     * (lib/core/mt.c), and wait_obj: it points at the group already,
     * unless a wake on this thread cleared it. */
    __atomic_store_n(&co->wait_on, COCO__ON_HANDOFF, __ATOMIC_RELAXED);
    if (co->wait_obj != first)
        co->wait_obj = first;
}

/* Takes co's handed record off its queue's list: co has taken what it was
 * handed, or is about to give it back. */
static inline coco__waiter_t *coco__wait_unhand(coco_co_t *co)
{
    coco__waiter_t *w = (coco__waiter_t *)co->wait_obj + co->wait_result;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        w->q->handed = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    co->wait_on = COCO__ON_NOTHING;
    if (!(co->flags & COCO__WAIT_HEAP))
        co->wait_obj = NULL;
    return w;
}

/* The object of q goes away: what it handed stays with the receivers,
 * and there is nothing left to give back to if they are destroyed. */
static inline void coco__waitq_forget_handed(coco__waitq_t *q)
{
    coco__waiter_t *next;
    for (coco__waiter_t *w = q->handed; w != NULL; w = next) {
        next = w->next;
        coco_co_t *co = w->co;
        w->q = NULL;
        /* The last touch of w, which is on co's stack: a coroutine running
         * on another thread that sees this no longer takes the lock, and
         * goes on using that stack at once.  wait_obj stays: its
         * scheduler may be reading it (mt.c). */
        __atomic_store_n(&co->wait_on, COCO__ON_NOTHING, __ATOMIC_RELEASE);
    }
    q->handed = NULL;
}

/* coco__waitq_fire_head() with COCO_OK for a waiter that is handed
 * something: a lock, a unit, a value. */
static inline void coco__waitq_hand_head(coco__waitq_t *q)
{
    coco__waiter_t *w = q->head;
    coco_co_t *co = w->co;
    coco__waitq_unlink_head(q, w);
    w->result = COCO_OK;
    co->wait_result = (int32_t)coco__wait_index(w);
    if (coco__wake_is_remote(co)) {
        /* Recorded first: once in its inbox, it may run at once. */
        coco__wait_handed(q, w);
        coco__wake_remote(co);
    } else {
        coco__wake(co->pub.sched, co);
        coco__wait_handed(q, w);
    }
}

/* Fires every waiter of q with result (close, destroy, broadcast). */
static inline void coco__waitq_fire_all(coco__waitq_t *q, int result)
{
    while (q->head != NULL)
        coco__waitq_fire_head(q, result);
}

/* Prepares the group w[0..n) for the running coroutine co. */
static inline void coco__wait_init(coco__waiter_t *w, unsigned n, coco_co_t *co)
{
    for (unsigned i = 0; i < n; i++) {
        w[i].q = NULL;
        w[i].co = co;
        w[i].pos = i + 1 == n ? i | COCO__WAIT_LAST : i;
    }
}

/* Room for n waiter records of co: local (which has room for n_local)
 * when co has a stack of its own, else the scheduler's small blocks; NULL
 * when out of memory.  Whoever parks on such records sets
 * COCO__WAIT_HEAP, so that they are freed if the coroutine is destroyed
 * before it runs again. */
static inline coco__waiter_t *coco__wait_records(coco_co_t *co, coco__waiter_t *local,
                                                 size_t n_local, size_t n)
{
    if (coco__likely(!(co->flags & COCO__SHARED) && n <= n_local))
        return local;
    return coco__small_alloc(&co->pub.sched->small, n * sizeof *local);
}

/* The group of n records the running coroutine co parks on, initialised:
 * local (room for n_local) or from the small blocks, as
 * coco__wait_records() decides; NULL when out of memory.  The one way to
 * park on records is: take the group here, queue its members, park with
 * coco__wait_park_group(), read the member that fired, and give the group
 * back with coco__wait_records_free(). */
static inline coco__waiter_t *coco__wait_group(coco_co_t *co, coco__waiter_t *local,
                                               size_t n_local, size_t n)
{
    coco__waiter_t *w = coco__wait_records(co, local, n_local, n);
    if (w != NULL)
        coco__wait_init(w, (unsigned)n, co);
    return w;
}

/* Gives back the group w (initialised by coco__wait_init()) unless it is
 * local. */
static inline void coco__wait_records_free(coco__waiter_t *w, coco__waiter_t *local)
{
    if (coco__unlikely(w != local)) {
        size_t n = 1;
        while (!(w[n - 1].pos & COCO__WAIT_LAST))
            n++;
        coco__small_free(&w->co->pub.sched->small, w, n * sizeof *w);
    }
}

/* The sections of lib/core/mt.h: every call below that queues records or
 * fires them runs inside one; those that park leave it and enter a new
 * one only if they must touch an object
 * again when they run. */

/* coco__wait_park() with a finite timeout. */
int coco__wait_park_timeout(coco_co_t *co, coco__waiter_t *w, uint64_t timeout_ms);

/* Called by a parked coroutine as soon as it runs again, outside any
 * section: takes what it was handed off its object's handed list. */
static inline void coco__wait_back(coco_co_t *co)
{
    if (coco__unlikely(__atomic_load_n(&co->wait_on, __ATOMIC_ACQUIRE) ==
                       COCO__ON_HANDOFF)) {
        coco__sect_enter_guard(co);
        /* Read again under the lock: another thread may have destroyed the
         * object in between, which forgot the hand-off and freed the list
         * it was on (coco__waitq_forget_handed()). */
        if (__atomic_load_n(&co->wait_on, __ATOMIC_ACQUIRE) == COCO__ON_HANDOFF) {
            coco__wait_unhand(co)->q = NULL;
        } else if (!(co->flags & COCO__WAIT_HEAP)) {
            co->wait_obj = NULL;
        }
        coco__sect_leave();
    }
}

/* Parks co, whose group w is already queued, for at most timeout_ms,
 * leaving the section.  Returns the index of the member that fired, or
 * COCO_ERROR_TIMEOUT (the group is then unlinked) or COCO_ERROR_NOMEM (no
 * deadline could be set; the group is unlinked too). */
static inline int coco__wait_park(coco_co_t *co, coco__waiter_t *w,
                                  uint64_t timeout_ms)
{
    co->wait_obj = w;
    co->wait_on = COCO__ON_GROUP;
    if (coco__likely(timeout_ms == COCO_INFINITE)) {
        coco__park_leave(co->pub.sched);
        coco__wait_back(co);
        return (int)co->wait_result;
    }
    return coco__wait_park_timeout(co, w, timeout_ms);
}

/* coco__wait_park() for the group w from coco__wait_group(): records that
 * are not local are marked COCO__WAIT_HEAP while parked, so that they are
 * freed if the coroutine is destroyed before it runs again. */
static inline int coco__wait_park_group(coco_co_t *co, coco__waiter_t *w,
                                        const coco__waiter_t *local,
                                        uint64_t timeout_ms)
{
    if (w != local)
        co->flags |= COCO__WAIT_HEAP;
    int rc = coco__wait_park(co, w, timeout_ms);
    co->flags &= (uint8_t)~COCO__WAIT_HEAP;
    return rc;
}

/* Queues one record of co on q, carrying in (a value to hand over), and
 * parks for at most timeout_ms, leaving the section.  Returns what
 * coco__wait_park() does, or the result the record was fired with; *out
 * (when not NULL) receives the value handed over.  The record is on co's
 * stack (_local) or, for a shared-stack coroutine, on the heap (_heap):
 * two functions, so that the frame a shared-stack coroutine leaves while
 * parked holds no record. */
int coco__wait_one_local(coco__waitq_t *q, coco_co_t *co, void *in, void **out,
                         uint64_t timeout_ms);
int coco__wait_one_heap(coco__waitq_t *q, coco_co_t *co, void *in, void **out,
                        uint64_t timeout_ms);

static inline int coco__wait_one(coco__waitq_t *q, coco_co_t *co, void *in,
                                 void **out, uint64_t timeout_ms)
{
    if (coco__unlikely(co->flags & COCO__SHARED))
        return coco__wait_one_heap(q, co, in, out, timeout_ms);
    return coco__wait_one_local(q, co, in, out, timeout_ms);
}

/* Parks the running coroutine alone on q, for at most timeout_ms, and
 * returns the result it was fired with; COCO_ERROR_WOULDBLOCK outside a
 * coroutine, COCO_ERROR_TIMEOUT when timeout_ms is 0 or runs out.  Leaves
 * the section. */
static inline int coco__wait_alone(coco__waitq_t *q, uint64_t timeout_ms)
{
    coco_co_t *self = coco__current();
    if (self == NULL || timeout_ms == 0) {
        coco__sect_leave();
        return self == NULL ? COCO_ERROR_WOULDBLOCK : COCO_ERROR_TIMEOUT;
    }
    return coco__wait_one(q, self, NULL, NULL, timeout_ms);
}

/* What the loop layer's operations table calls (lib/sync/wait.c): unlinks
 * a coroutine parked on a group of records (wait_on COCO__ON_GROUP); frees
 * the records of one parked with COCO__WAIT_HEAP; passes on what was handed
 * to a destroyed coroutine (wait_on COCO__ON_HANDOFF) that never took it. */
void coco__wait_cancel(coco_co_t *co);
void coco__wait_heap_free(coco_co_t *co);
void coco__wait_give_back(coco_co_t *co);

#endif /* COCO_SYNC_WAIT_H */
