/*
 * fuzz_model.c - the bookkeeping and the invariants of the operations
 * fuzzer (see fuzz_model.h).
 *
 * Channel values are indices into a table, so that a receiver can tell
 * which channel and sender a value came from, and whether it was already
 * received.  A receiver destroyed after a value was handed to it but
 * before it resumed passes the value on, so it is still received, in
 * order; it is lost only if its channel was destroyed in between.  A
 * sender destroyed after its value was taken but before it resumed never
 * sees COCO_OK.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fuzz_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

fz_world_t fz;

void fz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "fuzz invariant violated: %s (%s:%d)\n", what, file, line);
    abort();
}

void fz_world_init(unsigned sem0, unsigned sem1)
{
    memset(&fz, 0, sizeof fz);
    for (int i = 0; i < FZ_CHAN_SLOTS; i++)
        fz.slot[i] = -1;
    for (int i = 0; i < FZ_NSYNC; i++) {
        fz.mutex_owner[i] = FZ_FREE;
        fz.mutex[i] = coco_mutex_create();
        fz.wg[i] = coco_waitgroup_create();
        FZ_CHECK(fz.mutex[i] != NULL && fz.wg[i] != NULL);
    }
    fz.sem_units[0] = sem0;
    fz.sem_units[1] = sem1;
    for (int i = 0; i < FZ_NSYNC; i++) {
        fz.sem[i] = coco_sem_create(fz.sem_units[i]);
        FZ_CHECK(fz.sem[i] != NULL);
    }
}

void fz_world_fini(void)
{
    for (int i = 0; i < FZ_MAX_CHANS; i++)
        coco_channel_destroy(fz.chans[i].ch);
    for (int i = 0; i < FZ_NSYNC; i++) {
        coco_mutex_destroy(fz.mutex[i]);
        coco_sem_destroy(fz.sem[i]);
        coco_waitgroup_destroy(fz.wg[i]);
    }
}

/* ------------------------------------------------------------ coroutines */

int fz_alive_count(void)
{
    int n = 0;
    for (int i = 0; i < fz.ncoros; i++)
        n += !fz.coros[i].finished;
    return n;
}

/* The library counts exactly the coroutines the model thinks alive. */
void fz_check_count(void)
{
    FZ_CHECK(coco_sched_count(fz.sched) == (size_t)fz_alive_count());
}

/* Coroutine me ends, by itself or destroyed; joiners get result. */
void fz_finish(int me, void *result)
{
    fz_coro_t *c = &fz.coros[me];
    FZ_CHECK(!c->finished);
    c->finished = true;
    c->result = result;
}

/* True while co is parked.  Only asked of coroutines inside a call, which
 * are alive, so the handle is valid even for a detached one. */
bool fz_waiting(int co)
{
    return coco_get_state(fz.coros[co].h) == COCO_STATE_WAITING;
}

/* The oldest coroutine still parked in kind on i that nothing was handed
 * to yet, other than except; -1 if none. */
static int oldest_unserved(enum fz_kind kind, int i, int except)
{
    int best = -1;
    for (int c = 0; c < fz.ncoros; c++) {
        const fz_pending_t *op = &fz.coros[c].op;
        if (c == except || fz.coros[c].finished || op->kind != kind ||
            op->target != i || op->granted || !fz_waiting(c))
            continue;
        if (best < 0 || op->start < fz.coros[best].op.start)
            best = c;
    }
    return best;
}

/* Coroutine co, alive, is about to be destroyed (or its scheduler is).
 * Still parked, it is unlinked and its call has done nothing.  Woken but
 * not resumed, its call may have half happened: its value taken with no
 * COCO_OK seen.  What was handed to it goes on: a mutex or a unit to the
 * oldest waiter or back to the object, a value to other receivers or back
 * into the channel (the library picks which; the model only checks that
 * every value is received once, in order). */
void fz_forget(int co)
{
    fz_pending_t *op = &fz.coros[co].op;
    bool woken = op->kind != FZ_NONE && !fz_waiting(co);
    for (int i = 0; i < op->n; i++) {
        if (op->chan[i] < 0)
            continue;
        if (!op->send[i] && woken) {
            fz_chan_t *ch = &fz.chans[op->chan[i]];
            if (ch->ngave_back < FZ_MAX_GAVE_BACK)
                ch->gave_back[ch->ngave_back++] = fz.clock;
            else
                ch->gave_back_lost_track = true;
        }
        if (op->send[i] && woken)
            fz.values[op->value[i]].flags |= FZ_V_AMBIGUOUS;
        else if (op->send[i])
            fz_value_sent(op->value[i], COCO_ERROR_CHANNEL_CLOSED);
    }
    int next;
    switch (op->kind) {
    case FZ_JOIN:
        fz.coros[op->target].joiners--;
        break;
    case FZ_LOCK:
        if (!op->granted)
            break;
        FZ_CHECK(fz.mutex_owner[op->target] == co);
        next = oldest_unserved(FZ_LOCK, op->target, co);
        fz.mutex_owner[op->target] = next >= 0 ? next : FZ_FREE;
        if (next >= 0)
            fz.coros[next].op.granted = true;
        break;
    case FZ_SEMWAIT:
        if (!op->granted)
            break;
        next = oldest_unserved(FZ_SEMWAIT, op->target, co);
        if (next >= 0)
            fz.coros[next].op.granted = true;
        else
            fz.sem_taken[op->target]--;
        break;
    default:
        break;
    }
    memset(op, 0, sizeof *op);
    if (!fz.coros[co].finished)
        fz_finish(co, NULL);
}

/* ------------------------------------------------------ calls that park */

/* ------------------------------------------------------------ time */

/* Lengths of virtual waits: short ones, and ones that cross the wheel's
 * first and second level. */
static const uint64_t virtual_ms[8] = { 1, 2, 5, 64, 255, 256, 1000, 70000 };

uint64_t fz_take_ms(bool want, unsigned sel)
{
    if (!want || fz.time_budget == 0)
        return 0;
    fz.time_budget--;
    return fz.vclock ? virtual_ms[sel & 7] : 1;
}

bool fz_timing_oracle(void)
{
    return coco__sched_virtual_clock != NULL && coco__sched_clock != NULL;
}

uint64_t fz_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t fz_vnow(void)
{
    return fz.vclock ? coco__sched_clock(fz.sched) : 0;
}

/* On the virtual clock a deadline is exact; a delay of 0 still waits for
 * the loop's next step of 1 ms. */
static uint64_t virtual_deadline(uint64_t start, uint64_t ms)
{
    return start + (ms > 0 ? ms : 1);
}

/* A wait, or a timer, armed at (vstart, rstart_us) for ms has ended now,
 * because its time ran out (expired) or not. */
static void check_time(uint64_t vstart, uint64_t rstart_us, uint64_t ms, bool expired)
{
    if (!fz.vclock) {
        /* Never early, on the monotonic clock. */
        if (expired)
            FZ_CHECK(fz_now_us() - rstart_us >= ms * 1000u);
        return;
    }
    uint64_t now = fz_vnow(), deadline = virtual_deadline(vstart, ms);
    FZ_CHECK(now >= vstart);          /* the clock never goes back */
    FZ_CHECK(now <= deadline);        /* never later than the deadline */
    if (!expired)
        return;
    FZ_CHECK(now == deadline);        /* never early */
    FZ_CHECK(deadline >= fz.last_expiry); /* in the order of deadlines */
    fz.last_expiry = deadline;
}

void fz_timer_armed(fz_timer_t *t, uint64_t ms)
{
    t->ms = ms;
    t->vstart = fz_vnow();
    t->rstart_us = fz_now_us();
}

void fz_timer_fired(const fz_timer_t *t)
{
    check_time(t->vstart, t->rstart_us, t->ms, true);
}

/* Records what coroutine me does inside a call that may park. */
fz_pending_t *fz_begin(int me, enum fz_kind kind, uint64_t timeout)
{
    fz_pending_t *op = &fz.coros[me].op;
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->timed = timeout != COCO_INFINITE;
    op->ms = op->timed ? timeout : 0;
    op->vstart = fz_vnow();
    op->rstart_us = fz_now_us();
    op->start = ++fz.clock;
    return op;
}

void fz_end(int me, bool expired)
{
    fz_pending_t *op = &fz.coros[me].op;
    /* A limit of 0 never parks: it only asks. */
    if (op->timed && op->ms > 0)
        check_time(op->vstart, op->rstart_us, op->ms, expired);
    else if (op->timed)
        FZ_CHECK(fz_vnow() == op->vstart); /* at most a yield: no time */
    memset(op, 0, sizeof *op);
}

/* The result a call that could not complete at once must give. */
int fz_not_ready_rc(int me, bool try, uint64_t timeout)
{
    if (try || me == FZ_OUTSIDE)
        return COCO_ERROR_WOULDBLOCK;
    return timeout == 0 ? COCO_ERROR_TIMEOUT : 1; /* 1: it waits */
}

/* The oldest coroutine parked in an operation of this kind on object i. */
int fz_oldest_parked(enum fz_kind kind, int i)
{
    int best = -1;
    for (int c = 0; c < fz.ncoros; c++) {
        const fz_pending_t *op = &fz.coros[c].op;
        if (fz.coros[c].finished || op->kind != kind || op->target != i ||
            !fz_waiting(c))
            continue;
        if (best < 0 || op->start < fz.coros[best].op.start)
            best = c;
    }
    return best;
}

/* ------------------------------------------------------ channels, values */

coco_channel_t *fz_chan(int id)
{
    return id >= 0 ? fz.chans[id].ch : NULL;
}

int fz_value_new(int chan, int sender)
{
    if (fz.nvalues == FZ_MAX_VALUES)
        return -1;
    fz_value_t *v = &fz.values[fz.nvalues];
    v->chan = chan;
    v->sender = sender;
    return fz.nvalues++;
}

void *fz_value_ptr(int v)
{
    return (void *)(uintptr_t)(v + 1);
}

void fz_value_sent(int v, int rc)
{
    fz_value_t *val = &fz.values[v];
    FZ_CHECK(!(val->flags & (FZ_V_SENT | FZ_V_FAILED)));
    if (rc == COCO_OK) {
        val->flags |= FZ_V_SENT;
    } else {
        FZ_CHECK(!(val->flags & FZ_V_RECEIVED)); /* an error sent nothing */
        val->flags |= FZ_V_FAILED;
    }
}

/* p came out of channel chan by a receive that began at clock start. */
void fz_value_received(int chan, void *p, unsigned start)
{
    uintptr_t idx = (uintptr_t)p;
    FZ_CHECK(idx >= 1 && idx <= (uintptr_t)fz.nvalues);
    fz_value_t *v = &fz.values[idx - 1];
    FZ_CHECK(v->chan == chan);                  /* no value crosses channels */
    FZ_CHECK(!(v->flags & FZ_V_RECEIVED));      /* received at most once */
    FZ_CHECK(!(v->flags & FZ_V_FAILED));        /* a failed send sent nothing */
    v->flags |= FZ_V_RECEIVED;
    v->recv_start = start;
    v->recv_end = ++fz.clock;
}

/* Is coroutine co (other than self) parked on chan, sending or not? */
static bool parked_on(int co, int chan, bool send, int self)
{
    const fz_pending_t *op = &fz.coros[co].op;
    if (co == self || fz.coros[co].finished || op->kind == FZ_NONE)
        return false;
    for (int i = 0; i < op->n; i++)
        if (op->chan[i] == chan && op->send[i] == send)
            return fz_waiting(co);
    return false;
}

static bool someone_parked(int chan, bool send, int self)
{
    for (int i = 0; i < fz.ncoros; i++)
        if (parked_on(i, chan, send, self))
            return true;
    return false;
}

/* Could a send by self on chan complete now (with OK or CLOSED)? */
bool fz_can_send(int chan, int self)
{
    const fz_chan_t *c = &fz.chans[chan];
    return c->closed || coco_channel_len(c->ch) < c->cap ||
           someone_parked(chan, false, self);
}

/* Could a receive by self on chan complete now? */
bool fz_can_recv(int chan, int self)
{
    const fz_chan_t *c = &fz.chans[chan];
    return c->closed || coco_channel_len(c->ch) > 0 ||
           someone_parked(chan, true, self);
}

/* After a close or destroy: nobody may still be parked on chan. */
void fz_check_unparked(int chan)
{
    for (int i = 0; i < fz.ncoros; i++) {
        FZ_CHECK(!parked_on(i, chan, true, FZ_OUTSIDE));
        FZ_CHECK(!parked_on(i, chan, false, FZ_OUTSIDE));
    }
}

/* ------------------------------------------------------ after the run */

/* One parked channel case could never complete. */
static void explain_case(int co, int chan, bool send)
{
    FZ_CHECK(chan >= 0 && fz.chans[chan].ch != NULL); /* destroyed: woken */
    FZ_CHECK(!fz.chans[chan].closed);                 /* closed: woken */
    FZ_CHECK(send ? !fz_can_send(chan, co) : !fz_can_recv(chan, co));
}

/* coco_sched_run() said COCO_ERROR_DEADLOCK: every coroutine left must be
 * parked for good on something nothing left can provide. */
void fz_explain_deadlock(void)
{
    for (int i = 0; i < fz.ncoros; i++) {
        const fz_coro_t *c = &fz.coros[i];
        if (c->finished)
            continue;
        const fz_pending_t *op = &c->op;
        FZ_CHECK(fz_waiting(i));
        FZ_CHECK(op->kind != FZ_NONE && op->kind != FZ_SLEEP && !op->timed);
        int any = 0;
        for (int k = 0; k < op->n; k++) {
            if (op->chan[k] < 0)
                continue;
            explain_case(i, op->chan[k], op->send[k]);
            any++;
        }
        switch (op->kind) {
        case FZ_SEND: case FZ_RECV: case FZ_SELECT:
            FZ_CHECK(any > 0);
            break;
        case FZ_JOIN:
            FZ_CHECK(!fz.coros[op->target].finished);
            break;
        case FZ_LOCK:
            FZ_CHECK(fz.mutex_owner[op->target] != FZ_FREE);
            break;
        case FZ_SEMWAIT:
            FZ_CHECK(coco_sem_value(fz.sem[op->target]) == 0);
            break;
        case FZ_WGWAIT:
            FZ_CHECK(fz.wg_count[op->target] != 0);
            break;
        default:
            FZ_CHECK(!"unexpected parked operation");
        }
    }
}

/* True when a value of ch received by then may have been given back at
 * or after a later value's receive ended at later_end. */
static bool given_back_between(const fz_chan_t *ch, unsigned later_end, unsigned then)
{
    if (ch->gave_back_lost_track)
        return true;
    for (int k = 0; k < ch->ngave_back; k++)
        if (ch->gave_back[k] >= later_end && ch->gave_back[k] <= then)
            return true;
    return false;
}

/* Per channel and sender, values are received in the order they were
 * sent: a value cannot be received (its receive returned) before an
 * earlier one's receive had even begun.  The one exception: a value
 * handed to a receiver that was destroyed before it ran goes back to the
 * channel, behind whatever later value was received in the meantime. */
static void check_order(void)
{
    static unsigned first_end[FZ_MAX_CHANS][FZ_MAX_COROS + 1];
    memset(first_end, 0xff, sizeof first_end);
    for (int i = fz.nvalues - 1; i >= 0; i--) {
        const fz_value_t *v = &fz.values[i];
        if (!(v->flags & FZ_V_RECEIVED))
            continue;
        unsigned *later = &first_end[v->chan][v->sender + 1];
        FZ_CHECK(v->recv_start < *later ||
                 given_back_between(&fz.chans[v->chan], *later, v->recv_end));
        if (v->recv_end < *later)
            *later = v->recv_end;
    }
}

void fz_check_values(void)
{
    static unsigned long unreceived[FZ_MAX_CHANS], unsure[FZ_MAX_CHANS];
    memset(unreceived, 0, sizeof unreceived);
    memset(unsure, 0, sizeof unsure);
    for (int i = 0; i < fz.nvalues; i++) {
        const fz_value_t *v = &fz.values[i];
        unsigned f = v->flags;
        /* Every send call returned, or its coroutine was destroyed. */
        FZ_CHECK(f & (FZ_V_SENT | FZ_V_FAILED | FZ_V_AMBIGUOUS));
        if ((f & FZ_V_RECEIVED) && !(f & FZ_V_SENT))
            FZ_CHECK(f & FZ_V_AMBIGUOUS);
        if ((f & FZ_V_SENT) && !(f & FZ_V_RECEIVED))
            unreceived[v->chan]++;
        if ((f & FZ_V_AMBIGUOUS) && !(f & (FZ_V_SENT | FZ_V_RECEIVED | FZ_V_FAILED)))
            unsure[v->chan]++;
    }
    for (int c = 0; c < fz.nchans; c++) {
        const fz_chan_t *ch = &fz.chans[c];
        /* Sent values missing: dropped with the buffer, or handed to a
         * receiver that had not resumed when the channel was destroyed,
         * and was destroyed itself later; nothing else. */
        FZ_CHECK(unreceived[c] <= ch->dropped + ch->lost);
        /* Dropped values were sent (or half sent) and never received. */
        FZ_CHECK(ch->dropped <= unreceived[c] + unsure[c]);
    }
    check_order();
}

void fz_check_timers(void)
{
    /* coco_sched_run() returns only when no timer is pending. */
    for (int i = 0; i < fz.ntimers; i++)
        FZ_CHECK(fz.timers[i].fired != fz.timers[i].cancelled);
}

void fz_check_sync(void)
{
    /* A unit handed to a waiter destroyed before it resumed went on to
     * the next waiter or back into the count (fz_forget). */
    for (int i = 0; i < FZ_NSYNC; i++) {
        FZ_CHECK(fz.sem_taken[i] <= fz.sem_units[i]);
        FZ_CHECK(coco_sem_value(fz.sem[i]) == fz.sem_units[i] - fz.sem_taken[i]);
    }
}
