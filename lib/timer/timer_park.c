/*
 * timer_park.c - parking a coroutine with a deadline (coco__park_timeout),
 * the building block of every timeout in the library.
 *
 * The deadline record cannot live on the parked coroutine's stack: the
 * coroutine may be woken and then destroyed before it runs again, and its
 * timer would then point into a released stack.  Records come from a
 * per-scheduler pool instead, and carry the coroutine's id so a late
 * expiry recognises that the wait it belonged to is over.
 *
 * A coroutine destroyed while parked is unlinked through its wait_cancel,
 * which is wrapped here so the deadline goes too; the wrapper finds the
 * record through a small map keyed by the coroutine.
 *
 * SPDX-License-Identifier: MIT
 */
#include "timer/timer.h"

#include <stdlib.h>

struct coco_tpark {
    coco_tnode_t node;               /* must stay first */
    coco_sched_t *s;
    coco_co_t *co;
    uint64_t id;                     /* co->id when parked */
    void (*cancel)(coco_co_t *co);   /* the parking layer's own */
    bool timed_out;
    struct coco_tpark *next_free;
};

#define TP_CHUNK 64

struct coco_tpark_chunk {
    struct coco_tpark_chunk *next;
    struct coco_tpark rec[TP_CHUNK];
};

struct coco_tpark_ent {
    coco_co_t *co;
    struct coco_tpark *tp;
};

/* ------------------------------------------------------------- pool */

static struct coco_tpark *tp_get(struct coco_timers *w)
{
    if (w->tp_free == NULL) {
        struct coco_tpark_chunk *ch = calloc(1, sizeof *ch);
        if (ch == NULL)
            return NULL;
        ch->next = w->tp_chunks;
        w->tp_chunks = ch;
        for (int i = TP_CHUNK - 1; i >= 0; i--) {
            ch->rec[i].next_free = w->tp_free;
            w->tp_free = &ch->rec[i];
        }
    }
    struct coco_tpark *tp = w->tp_free;
    w->tp_free = tp->next_free;
    return tp;
}

static void tp_put(struct coco_timers *w, struct coco_tpark *tp)
{
    tp->co = NULL;
    tp->next_free = w->tp_free;
    w->tp_free = tp;
}

/* -------------------------------------------------------------- map */

static size_t map_hash(const coco_co_t *co, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)co * 0x9e3779b97f4a7c15u;
    return (size_t)(h >> 32) & (cap - 1);
}

static size_t map_find(const struct coco_timers *w, const coco_co_t *co)
{
    size_t i = map_hash(co, w->map_cap);
    while (w->map[i].co != NULL && w->map[i].co != co)
        i = (i + 1) & (w->map_cap - 1);
    return i;
}

static int map_grow(struct coco_timers *w)
{
    size_t cap = w->map_cap ? w->map_cap * 2 : 64;
    struct coco_tpark_ent *old = w->map, *m = calloc(cap, sizeof *m);
    if (m == NULL)
        return COCO_ERROR_NOMEM;
    size_t oldcap = w->map_cap;
    w->map = m;
    w->map_cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].co != NULL)
            m[map_find(w, old[i].co)] = old[i];
    free(old);
    return COCO_OK;
}

static int map_put(struct coco_timers *w, coco_co_t *co, struct coco_tpark *tp)
{
    if ((w->map_len + 1) * 2 > w->map_cap && map_grow(w) != COCO_OK)
        return COCO_ERROR_NOMEM;
    size_t i = map_find(w, co);
    if (w->map[i].co == NULL)
        w->map_len++;
    w->map[i].co = co;
    w->map[i].tp = tp;
    return COCO_OK;
}

static struct coco_tpark *map_get(const struct coco_timers *w, const coco_co_t *co)
{
    if (w->map_cap == 0)
        return NULL;
    size_t i = map_find(w, co);
    return w->map[i].co != NULL ? w->map[i].tp : NULL;
}

/* Removes co's entry if it still maps to tp (linear probing: the entries
 * after the hole shift back so lookups stay correct). */
static void map_del(struct coco_timers *w, const coco_co_t *co,
                    const struct coco_tpark *tp)
{
    if (w->map_cap == 0)
        return;
    size_t mask = w->map_cap - 1, i = map_find(w, co);
    if (w->map[i].co == NULL || w->map[i].tp != tp)
        return;
    w->map_len--;
    for (size_t j = i;;) {
        w->map[i].co = NULL;
        for (;;) {
            j = (j + 1) & mask;
            if (w->map[j].co == NULL)
                return;
            size_t home = map_hash(w->map[j].co, w->map_cap);
            /* Move j into the hole unless its home lies in (i, j]. */
            if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
                break;
        }
        w->map[i] = w->map[j];
        i = j;
    }
}

/* ------------------------------------------------------------ parking */

/* Is tp's coroutine still parked in the wait tp was made for? */
static bool tp_live(const struct coco_tpark *tp, void (*cancel)(coco_co_t *))
{
    const coco_co_t *co = tp->co;
    return coco__valid(co) && co->id == tp->id &&
           co->state == COCO_STATE_WAITING && co->wait_cancel == cancel;
}

static void tp_cancel(coco_co_t *co);

static void tp_fire(coco_tnode_t *t)
{
    struct coco_tpark *tp = (struct coco_tpark *)t;
    coco_sched_t *s = tp->s;
    struct coco_timers *w = s->timers;
    if (!tp_live(tp, tp_cancel)) {
        /* Woken already; when the coroutine was destroyed before it ran
         * again, nothing else will release the record. */
        if (!coco__valid(tp->co) || tp->co->id != tp->id) {
            map_del(w, tp->co, tp);
            tp_put(w, tp);
        }
        return;
    }
    coco_co_t *co = tp->co;
    map_del(w, co, tp);
    tp->timed_out = true;
    if (tp->cancel != NULL)
        tp->cancel(co);
    coco__wake(s, co);
}

/* The coroutine is destroyed while parked: drop the deadline, then unlink
 * it from what it waited on. */
static void tp_cancel(coco_co_t *co)
{
    coco_sched_t *s = co->pub.sched;
    struct coco_timers *w = s->timers;
    struct coco_tpark *tp = w != NULL ? map_get(w, co) : NULL;
    if (tp == NULL)
        return;
    void (*cancel)(coco_co_t *) = tp->cancel;
    coco__timer_disarm(s, &tp->node);
    map_del(w, co, tp);
    tp_put(w, tp);
    if (cancel != NULL)
        cancel(co);
}

int coco__park_timeout(coco_sched_t *s, uint64_t timeout_ms)
{
    if (timeout_ms == COCO_INFINITE) {
        coco__park(s);
        return COCO_OK;
    }
    coco_co_t *co = s->current;
    struct coco_timers *w = coco__timers(s);
    struct coco_tpark *tp = w != NULL ? tp_get(w) : NULL;
    if (tp == NULL || map_put(w, co, tp) != COCO_OK) {
        if (tp != NULL)
            tp_put(w, tp);
        /* Nothing is linked by us; the parking layer unlinks itself. */
        if (co->wait_cancel != NULL)
            co->wait_cancel(co);
        co->wait_cancel = NULL;
        return COCO_ERROR_NOMEM;
    }
    tp->s = s;
    tp->co = co;
    tp->id = co->id;
    tp->cancel = co->wait_cancel;
    tp->timed_out = false;
    tp->node.fire = tp_fire;
    tp->node.armed = false;
    co->wait_cancel = tp_cancel;
    coco__timer_arm(s, &tp->node, timeout_ms);
    coco__park(s);
    bool timed_out = tp->timed_out;
    coco__timer_disarm(s, &tp->node);
    map_del(w, co, tp);
    tp_put(w, tp);
    return timed_out ? COCO_ERROR_TIMEOUT : COCO_OK;
}

void coco__tpark_fini(struct coco_timers *w)
{
    while (w->tp_chunks != NULL) {
        struct coco_tpark_chunk *ch = w->tp_chunks;
        w->tp_chunks = ch->next;
        free(ch);
    }
    w->tp_free = NULL;
    free(w->map);
    w->map = NULL;
    w->map_cap = w->map_len = 0;
}
