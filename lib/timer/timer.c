/*
 * timer.c - the public timer calls: one-shot callback timers (coco_timer,
 * coco_timer_cancel) and coco_sleep.
 *
 * A coco_timer_t handle is not a pointer to memory: it encodes a slot of
 * the scheduler's handle table and a serial number stamped when the timer
 * was armed.  The library releases the slot itself when the timer fires or
 * is cancelled, so a fired timer costs nothing and needs no call, and
 * cancelling a handle whose timer already fired (or was cancelled) finds
 * the serial changed and does nothing.
 *
 * SPDX-License-Identifier: MIT
 */
#include "timer/timer.h"
#include "core/mt.h"

#include <errno.h>
#include <stdlib.h>

#define SLOT_CHUNK 64

struct coco_timer_slot {
    coco_tnode_t node;          /* must stay first */
    coco_sched_t *s;
    void (*cb)(void *);
    void *arg;
    uint32_t serial;            /* 0 while free */
    uint32_t idx;               /* own index in the table */
    uint32_t next_free;         /* index + 1, 0 ends the list */
};

/* Handle layout: the slot index + 1 in the low half, the serial in the
 * high half (on 32-bit hosts: 20 and 12 bits). */
#if UINTPTR_MAX > 0xffffffffu
#  define IDX_BITS 32
#else
#  define IDX_BITS 20
#endif
#define IDX_MASK ((((uintptr_t)1) << IDX_BITS) - 1)
#define SERIAL_MASK ((uint32_t)(UINTPTR_MAX >> IDX_BITS))

/* Serials come from one counter for the whole process, not one per
 * scheduler: a scheduler may be created where a destroyed one was, and a
 * handle kept from the old one must not match a timer of the new one.  A
 * serial repeats only after SERIAL_MASK timers (2^32 on 64-bit hosts). */
static uint32_t serial_counter;

static uint32_t serial_next(void)
{
    uint32_t v;
    do
        v = __atomic_add_fetch(&serial_counter, 1u, __ATOMIC_RELAXED) & SERIAL_MASK;
    while (v == 0);
    return v;
}

static struct coco_timer_slot *slot_at(struct coco_timers *w, uint32_t idx)
{
    return &w->chunks[idx / SLOT_CHUNK][idx % SLOT_CHUNK];
}

static int slots_grow(struct coco_timers *w)
{
    if ((w->nchunks + 1) * SLOT_CHUNK > IDX_MASK - 1)
        return COCO_ERROR_NOMEM;
    struct coco_timer_slot **dir =
        realloc(w->chunks, (w->nchunks + 1) * sizeof *dir);
    if (dir == NULL)
        return COCO_ERROR_NOMEM;
    w->chunks = dir;
    struct coco_timer_slot *ch = calloc(SLOT_CHUNK, sizeof *ch);
    if (ch == NULL)
        return COCO_ERROR_NOMEM;
    dir[w->nchunks] = ch;
    uint32_t base = (uint32_t)(w->nchunks * SLOT_CHUNK);
    w->nchunks++;
    for (uint32_t i = SLOT_CHUNK; i-- > 0;) {
        ch[i].idx = base + i;
        ch[i].next_free = w->free_slot;
        w->free_slot = base + i + 1;
    }
    return COCO_OK;
}

static void slot_release(struct coco_timers *w, struct coco_timer_slot *t)
{
    t->serial = 0;
    t->cb = NULL;
    t->arg = NULL;
    t->next_free = w->free_slot;
    w->free_slot = t->idx + 1;
}

static void slot_fire(coco_tnode_t *node)
{
    struct coco_timer_slot *t = (struct coco_timer_slot *)node;
    void (*cb)(void *) = t->cb;
    void *arg = t->arg;
    /* Released before the callback, which may arm or cancel timers. */
    slot_release(t->s->timers, t);
    cb(arg);
}

coco_timer_t *coco_timer(uint64_t delay_ms, void (*callback)(void *), void *arg)
{
    coco_sched_t *s = coco__sched_here();
    if (s == NULL || callback == NULL) {
        errno = EINVAL;
        return NULL;
    }
    coco__sstack_check_ptr(arg, "coco_timer");
    struct coco_timers *w = coco__timers(s);
    if (w == NULL || (w->free_slot == 0 && slots_grow(w) != COCO_OK)) {
        errno = ENOMEM;
        return NULL;
    }
    uint32_t idx = w->free_slot - 1;
    struct coco_timer_slot *t = slot_at(w, idx);
    w->free_slot = t->next_free;
    t->serial = serial_next();
    t->s = s;
    t->cb = callback;
    t->arg = arg;
    t->node.fire = slot_fire;
    t->node.next = NULL;
    coco__timer_arm(s, &t->node, delay_ms);
    uintptr_t h = ((uintptr_t)t->serial << IDX_BITS) | (uintptr_t)(idx + 1);
    return (coco_timer_t *)h;
}

void coco_timer_cancel(coco_timer_t *timer)
{
    coco_sched_t *s = coco__sched_here();
    uintptr_t h = (uintptr_t)timer;
    if (s == NULL || s->timers == NULL || h == 0)
        return;
    struct coco_timers *w = s->timers;
    uintptr_t idx1 = h & IDX_MASK;
    uint32_t serial = (uint32_t)(h >> IDX_BITS);
    if (idx1 == 0 || idx1 > w->nchunks * SLOT_CHUNK)
        return;
    struct coco_timer_slot *t = slot_at(w, (uint32_t)(idx1 - 1));
    if (t->serial == 0 || t->serial != serial)
        return; /* fired, cancelled, or not from this scheduler */
    coco__timer_disarm(s, &t->node);
    slot_release(w, t);
}

void coco__tslot_fini(struct coco_timers *w)
{
    for (size_t c = 0; c < w->nchunks; c++)
        free(w->chunks[c]);
    free(w->chunks);
    w->chunks = NULL;
    w->nchunks = 0;
    w->free_slot = 0;
}

/* ------------------------------------------------------------ sleep */

/* A sleep is a park with a deadline and nothing else to wait for; the
 * deadline record is pooled, never on the sleeper's stack. */
int coco_sleep(uint64_t ms)
{
    coco_co_t *co = coco__current();
    if (co == NULL)
        return COCO_ERROR_INVALID;
    coco_sched_t *s = co->pub.sched;
    if (ms == 0) {
        coco_yield();
        return COCO_OK;
    }
    if (ms != COCO_INFINITE && coco__timers(s) == NULL)
        return COCO_ERROR_NOMEM;
    co->wait_obj = NULL;
    co->wait_on = COCO__ON_NOTHING;
    s->stats.parks_sleep++;
    return coco__park_sleep(s, ms);
}
