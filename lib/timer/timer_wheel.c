/*
 * timer_wheel.c - the per-scheduler hierarchical timing wheel: four levels
 * of 256 slots at 1 ms resolution, covering 2^32 ms (about 49 days); a
 * deadline further away is parked in the last level and re-filed when it
 * comes round.  Arming and cancelling are O(1) list operations; a level is
 * redistributed ("cascaded") into the ones below when the level under it
 * wraps.  A bitmap of non-empty slots lets the wheel jump over idle time
 * instead of stepping through it.
 *
 * The clock is cached in the wheel.  It is read where a deadline is set
 * (coco__timer_arm: a wait that actually parks with a timeout, or
 * coco_timer), so that a deadline is always measured from the moment of
 * the call however long the loop blocked or a coroutine ran since the
 * cache was last filled; and by the loop before it runs due timers or
 * works out how long it may block.  Nothing here reads it per context
 * switch, nor for a wait without a timeout.
 *
 * SPDX-License-Identifier: MIT
 */
#include "timer/timer.h"

#include <limits.h>
#include <stdlib.h>

#define MASK (COCO__WHEEL_SLOTS - 1u)

struct coco_timers *coco__timers(coco_sched_t *s)
{
    if (s->timers != NULL)
        return s->timers;
    struct coco_timers *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    for (unsigned l = 0; l < COCO__WHEEL_LEVELS; l++) {
        for (unsigned i = 0; i < COCO__WHEEL_SLOTS; i++) {
            coco_tnode_t *h = &w->slot[l][i];
            h->next = h->prev = h;
        }
    }
    w->clock = w->now = coco__clock_ms();
    s->timers = w;
    return w;
}

uint64_t coco__timer_refresh(coco_sched_t *s)
{
    struct coco_timers *w = s->timers;
    if (w == NULL)
        return coco__clock_ms();
    if (w->virt)
        return w->clock;
    uint64_t c = coco__clock_ms();
    if (c > w->clock)
        w->clock = c;
    return w->clock;
}

uint64_t coco__now_ms(coco_sched_t *s)
{
    return coco__timer_refresh(s);
}

/* ------------------------------------------------------------ slots */

static void bit_set(struct coco_timers *w, unsigned l, unsigned i)
{
    w->bits[l][i >> 6] |= (uint64_t)1 << (i & 63);
}

static void bit_clear(struct coco_timers *w, unsigned l, unsigned i)
{
    w->bits[l][i >> 6] &= ~((uint64_t)1 << (i & 63));
}

/* The lowest non-empty slot of level l at or after index from, or -1. */
static int bit_next(const struct coco_timers *w, unsigned l, unsigned from)
{
    for (unsigned word = from >> 6; word < COCO__WHEEL_SLOTS / 64; word++) {
        uint64_t v = w->bits[l][word];
        if (word == from >> 6)
            v &= ~(uint64_t)0 << (from & 63);
        if (v != 0)
            return (int)(word * 64 + (unsigned)__builtin_ctzll(v));
    }
    return -1;
}

static void list_add(coco_tnode_t *h, coco_tnode_t *t)
{
    t->prev = h->prev;
    t->next = h;
    h->prev->next = t;
    h->prev = t;
}

/* Files t by its deadline relative to the wheel's position, but not
 * before earliest: w->now + 1 for a timer being armed, as the slot of
 * w->now has been run; w->now itself while cascading at w->now, which
 * runs that slot next. */
static void wheel_file(struct coco_timers *w, coco_tnode_t *t, uint64_t earliest)
{
    uint64_t d = t->deadline > earliest ? t->deadline : earliest;
    uint64_t delta = d - w->now;
    unsigned l = 0;
    while (l < COCO__WHEEL_LEVELS - 1 &&
           delta >= (uint64_t)1 << (COCO__WHEEL_BITS * (l + 1)))
        l++;
    if (delta >= (uint64_t)1 << (COCO__WHEEL_BITS * COCO__WHEEL_LEVELS))
        d = w->now + ((uint64_t)1 << (COCO__WHEEL_BITS * COCO__WHEEL_LEVELS)) - 1;
    unsigned i = (unsigned)(d >> (COCO__WHEEL_BITS * l)) & MASK;
    list_add(&w->slot[l][i], t);
    bit_set(w, l, i);
}

static void wheel_insert(struct coco_timers *w, coco_tnode_t *t)
{
    wheel_file(w, t, w->now + 1);
}

/* Unlinks t; when that empties one of the wheel's slots, clears its bit. */
static void wheel_unlink(struct coco_timers *w, coco_tnode_t *t)
{
    coco_tnode_t *p = t->prev;
    p->next = t->next;
    t->next->prev = p;
    t->next = t->prev = NULL;
    if (p->next != p)
        return;
    /* p heads an empty list: a wheel slot, or a batch being expired. */
    coco_tnode_t *base = &w->slot[0][0];
    if (p < base || p >= base + COCO__WHEEL_LEVELS * COCO__WHEEL_SLOTS)
        return;
    size_t k = (size_t)(p - base);
    bit_clear(w, (unsigned)(k / COCO__WHEEL_SLOTS), (unsigned)(k % COCO__WHEEL_SLOTS));
}

void coco__timer_arm(coco_sched_t *s, coco_tnode_t *t, uint64_t delay_ms)
{
    struct coco_timers *w = coco__timers(s);
    if (w == NULL || t == NULL)
        return;
    if (t->next != NULL)
        coco__timer_disarm(s, t);
    /* The cached clock may be old: the loop may have blocked, or the
     * caller computed, since it was read.  A deadline taken from it would
     * come early by that much. */
    coco__timer_refresh(s);
    /* +1: the clock is truncated to whole ms, and a timer must never fire
     * before its delay has fully elapsed.  A virtual clock is exact. */
    uint64_t room = UINT64_MAX - w->clock - 1;
    t->deadline = w->clock + !w->virt + (delay_ms < room ? delay_ms : room);
    wheel_insert(w, t);
    s->timers_pending++;
    s->stats.timers_armed++;
}

void coco__timer_disarm(coco_sched_t *s, coco_tnode_t *t)
{
    if (t == NULL || t->next == NULL || s->timers == NULL)
        return;
    wheel_unlink(s->timers, t);
    s->timers_pending--;
    s->stats.timers_cancelled++;
}

/* ------------------------------------------------------------ expiry */

/* Moves every timer of slot (l, i) to where it belongs now.  A deadline
 * of exactly now goes to the level-0 slot of now, which the caller runs
 * next: filed one step later, it would fire 1 ms late. */
static void cascade(struct coco_timers *w, unsigned l, unsigned i)
{
    coco_tnode_t *h = &w->slot[l][i];
    coco_tnode_t *t = h->next;
    h->next = h->prev = h;
    bit_clear(w, l, i);
    while (t != h) {
        coco_tnode_t *next = t->next;
        wheel_file(w, t, w->now);
        t = next;
    }
}

/* Runs the timers of level-0 slot i, due at wheel time now.  Callbacks may
 * arm and disarm timers, including ones still in this batch. */
static void fire_slot(coco_sched_t *s, struct coco_timers *w, unsigned i)
{
    coco_tnode_t batch, *h = &w->slot[0][i];
    if (h->next == h)
        return;
    batch.next = h->next;
    batch.prev = h->prev;
    batch.next->prev = &batch;
    batch.prev->next = &batch;
    h->next = h->prev = h;
    bit_clear(w, 0, i);
    while (batch.next != &batch) {
        coco_tnode_t *t = batch.next;
        wheel_unlink(w, t);
        if (t->deadline > w->now) { /* a far deadline, filed short */
            wheel_insert(w, t);
            continue;
        }
        s->timers_pending--;
        s->stats.timers_fired++;
        COCO__TRACE(s, COCO__TR_TIMER, NULL, NULL);
        t->fire(t);
    }
}

/* The next wheel time after now that needs work (a level-0 slot to fire
 * or a cascade), not beyond the next level-0 wrap. */
static uint64_t next_event(const struct coco_timers *w)
{
    uint64_t wrap = (w->now | MASK) + 1;
    unsigned from = (unsigned)(w->now & MASK) + 1;
    int i = from < COCO__WHEEL_SLOTS ? bit_next(w, 0, from) : -1;
    return i < 0 ? wrap : (w->now & ~(uint64_t)MASK) + (unsigned)i;
}

void coco__timer_expire(coco_sched_t *s)
{
    struct coco_timers *w = s->timers;
    if (w == NULL)
        return;
    while (w->now < w->clock) {
        if (s->timers_pending == 0) {
            w->now = w->clock;
            break;
        }
        uint64_t t = next_event(w);
        if (t > w->clock) {
            w->now = w->clock;
            break;
        }
        w->now = t;
        if ((t & MASK) == 0) {
            for (unsigned l = 1; l < COCO__WHEEL_LEVELS; l++) {
                unsigned i = (unsigned)(t >> (COCO__WHEEL_BITS * l)) & MASK;
                cascade(w, l, i);
                if (i != 0)
                    break;
            }
        }
        fire_slot(s, w, (unsigned)(t & MASK));
    }
}

int coco__timer_timeout(coco_sched_t *s)
{
    /* An armed timer means the wheel exists. */
    if (s->timers_pending == 0)
        return -1;
    struct coco_timers *w = s->timers;
    uint64_t t = next_event(w);
    if (t <= w->clock)
        return 0;
    uint64_t d = t - w->clock;
    return d > INT_MAX ? INT_MAX : (int)d;
}

/* ------------------------------------------------------ virtual clock */

void coco__timer_leap(coco_sched_t *s, int ms)
{
    struct coco_timers *w = s->timers;
    if (ms > 0)
        w->clock += (uint64_t)ms;
    coco__timer_expire(s);
}

/* For tests (not part of the API, hidden from the shared library): s
 * keeps time on a virtual clock from now on.  It stands still while any
 * coroutine is ready or runs, and when all of them wait and nothing but
 * timers could wake one, it jumps to the next deadline instead of the
 * thread sleeping; I/O is only polled then, unless no timer is armed.
 * A timed wait then ends exactly at its deadline.  While no timer is
 * armed the clock is set to start (any value: a test can try every
 * alignment of the wheel); otherwise it goes on from where it is.
 * Returns COCO_OK, or COCO_ERROR_NOMEM when the wheel cannot be made. */
int coco__sched_virtual_clock(coco_sched_t *s, uint64_t start)
{
    struct coco_timers *w = s != NULL ? coco__timers(s) : NULL;
    if (w == NULL)
        return s != NULL ? COCO_ERROR_NOMEM : COCO_ERROR_INVALID;
    w->virt = true;
    if (s->timers_pending == 0)
        w->clock = w->now = start;
    return COCO_OK;
}

/* For tests: the scheduler's clock in ms (the virtual one if it has one). */
uint64_t coco__sched_clock(coco_sched_t *s)
{
    return coco__timer_refresh(s);
}

void coco__timer_fini(coco_sched_t *s)
{
    struct coco_timers *w = s->timers;
    if (w == NULL)
        return;
    /* Armed nodes live in memory the wheel does not own: just forget them. */
    coco__tslot_fini(w);
    free(w);
    s->timers = NULL;
    s->timers_pending = 0;
}
