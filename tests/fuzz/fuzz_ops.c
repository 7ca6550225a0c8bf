/*
 * fuzz_ops.c - libFuzzer harness: reads its input as a program of Coco
 * operations spread over several coroutines, runs it, and checks every
 * result against fuzz_model.c as it goes and the invariants of the whole
 * run at the end.  Any violation aborts.
 *
 * Input layout (every byte string is a valid program):
 *
 *   byte 0      bits 0-1: how the run goes and ends (see finish_run());
 *               bits 2-3 and 4-5: initial units of semaphores 0 and 1;
 *               bit 6: the real clock instead of the virtual one;
 *               bit 7: the virtual clock starts at 0 (else at a hash of
 *               the input)
 *   then        segments separated by 0xff.  Segment 0 runs outside any
 *               coroutine before coco_sched_run(); segments 1..8 are the
 *               scripts that spawned coroutines run, once each.
 *
 * A script is a list of operations: one opcode byte (taken modulo the
 * number of operations) followed by its argument bytes, 0 past the end.
 * Operations name channels by slot (0-7) and coroutines by spawn order.
 * Time: the scheduler normally runs on its virtual clock (a test hook of
 * the library), which stands still while anything is ready and jumps to
 * the next deadline when everything waits.  Sleeps, timeouts and timer
 * delays of up to 70 s then cost no real time, and every one of them is
 * checked against the model: it ends exactly at its deadline when its
 * time runs out (never early), never after its deadline when something
 * else ends it, and waits that run out do so in the order of their
 * deadlines.  On the real clock (bit 6 of byte 0, or a library linked
 * without the hooks) an input may wait at most FZ_TIME_BUDGET waits of
 * 1 ms, so each execution stays fast, and a wait that runs out must have
 * lasted its time on the monotonic clock.  Past the budget those waits
 * become 0.
 *
 * The same entry point is run by `make check` over the seed corpus
 * (replay.c), built with the ordinary compiler and without libFuzzer.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fuzz_model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define FZ_ASAN 1
#    include <sanitizer/asan_interface.h>
#  endif
#endif

#define FZ_MAX_SCRIPTS 8
#define FZ_TIME_BUDGET 2     /* waits of 1 ms per input on the real clock */
#define FZ_VIRTUAL_WAITS 256 /* timed waits per input on the virtual clock */
#define FZ_MAX_OPS     4096  /* operations executed per input */

enum {
    OP_YIELD, OP_SLEEP, OP_CHAN_NEW, OP_SEND, OP_RECV, OP_CLOSE, OP_CHAN_FREE,
    OP_SELECT, OP_SPAWN, OP_JOIN, OP_DESTROY, OP_DETACH, OP_EXIT, OP_TIMER,
    OP_TIMER_CANCEL, OP_MUTEX, OP_SEM, OP_WG, OP_SELF, OP_COUNT
};

typedef struct script {
    const uint8_t *p, *end;
} script_t;

static const char *const op_names[OP_COUNT] = {
    "yield", "sleep", "chan_new", "send", "recv", "close", "chan_free",
    "select", "spawn", "join", "destroy", "detach", "exit", "timer",
    "timer_cancel", "mutex", "sem", "wg", "self"
};
static bool trace; /* COCO_FUZZ_TRACE set: print every operation */

static script_t scripts[FZ_MAX_SCRIPTS];
static int nscripts;
static int script_of[FZ_MAX_COROS];
static size_t stack_of[FZ_MAX_COROS];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned next_byte(script_t *s)
{
    return s->p < s->end ? *s->p++ : 0;
}

/* --------------------------------------------------------------- channels */

static void op_chan_new(unsigned a)
{
    int slot = a % FZ_CHAN_SLOTS;
    if (fz.slot[slot] >= 0 || fz.nchans == FZ_MAX_CHANS)
        return;
    size_t cap = (a >> 3) & 3;
    fz_chan_t *c = &fz.chans[fz.nchans];
    c->ch = coco_channel_create(cap);
    FZ_CHECK(c->ch != NULL);
    FZ_CHECK(coco_channel_cap(c->ch) == cap && coco_channel_len(c->ch) == 0);
    c->cap = cap;
    fz.slot[slot] = fz.nchans++;
}

static void op_close(unsigned a)
{
    int chan = fz.slot[a % FZ_CHAN_SLOTS];
    coco_channel_close(fz_chan(chan)); /* NULL is ignored */
    if (chan < 0)
        return;
    fz.chans[chan].closed = true;
    fz_check_unparked(chan);
}

static void op_chan_free(unsigned a)
{
    int slot = a % FZ_CHAN_SLOTS, chan = fz.slot[slot];
    if (chan < 0) {
        coco_channel_destroy(NULL);
        return;
    }
    fz_chan_t *c = &fz.chans[chan];
    c->dropped += coco_channel_len(c->ch);
    /* A value handed to a receiver that has not resumed yet stays with
     * it; if it is destroyed, there is no channel to give it back to. */
    for (int k = 0; k < fz.ncoros; k++) {
        const fz_pending_t *op = &fz.coros[k].op;
        if (fz.coros[k].finished || op->kind == FZ_NONE || fz_waiting(k))
            continue;
        for (int i = 0; i < op->n; i++)
            if (op->chan[i] == chan && !op->send[i])
                c->lost++;
    }
    coco_channel_destroy(c->ch);
    c->ch = NULL;
    c->closed = true;
    fz.slot[slot] = -1;
    fz_check_unparked(chan);
}

/* mode & 3: 0 waits for ever, 1 try, 2 timeout 0, 3 a timeout, its
 * length picked by the higher bits. */
static uint64_t mode_timeout(unsigned mode)
{
    unsigned m = mode & 3;
    return m == 0 ? COCO_INFINITE : m == 3 ? fz_take_ms(true, mode >> 2) : 0;
}

static void op_send(int me, unsigned a, unsigned mode)
{
    int chan = fz.slot[a % FZ_CHAN_SLOTS];
    if (chan < 0) {
        FZ_CHECK(coco_channel_send(NULL, NULL) == COCO_ERROR_INVALID);
        FZ_CHECK(coco_channel_try_send(NULL, NULL) == COCO_ERROR_INVALID);
        return;
    }
    int v = fz_value_new(chan, me);
    if (v < 0)
        return;
    coco_channel_t *ch = fz.chans[chan].ch;
    bool closed = fz.chans[chan].closed, ready = fz_can_send(chan, me);
    bool try = (mode & 3) == 1;
    uint64_t t = mode_timeout(mode);
    int rc;
    if (try) {
        rc = coco_channel_try_send(ch, fz_value_ptr(v));
    } else if (me == FZ_OUTSIDE) {
        rc = coco_channel_send_timeout(ch, fz_value_ptr(v), t);
    } else {
        fz_pending_t *op = fz_begin(me, FZ_SEND, t);
        op->n = 1;
        op->chan[0] = chan;
        op->send[0] = true;
        op->value[0] = v;
        rc = t == COCO_INFINITE ? coco_channel_send(ch, fz_value_ptr(v))
                                : coco_channel_send_timeout(ch, fz_value_ptr(v), t);
        fz_end(me, rc == COCO_ERROR_TIMEOUT);
    }
    fz_value_sent(v, rc);
    int want = closed ? COCO_ERROR_CHANNEL_CLOSED
                      : ready ? COCO_OK : fz_not_ready_rc(me, try, t);
    if (want != 1) {
        FZ_CHECK(rc == want);
        return;
    }
    /* It waited: a receiver took it, or the channel closed, or time ran out. */
    FZ_CHECK(rc == COCO_OK ||
             (rc == COCO_ERROR_CHANNEL_CLOSED && fz.chans[chan].closed) ||
             (rc == COCO_ERROR_TIMEOUT && t != COCO_INFINITE));
}

#define UNTOUCHED ((void *)(uintptr_t)0x5eed)

/* Checks a receive's outcome; want is what it had to give, 1 if it waited. */
static void check_recv(int chan, int rc, void *p, int want, uint64_t t,
                       unsigned start)
{
    if (want != 1)
        FZ_CHECK(rc == want);
    switch (rc) {
    case COCO_OK:
        fz_value_received(chan, p, start);
        break;
    case COCO_ERROR_CHANNEL_CLOSED:
        /* Closed and drained; a closed channel never fills again, but for
         * a value handed to a receiver destroyed before it ran, which goes
         * back into the channel even after the close (the receivers woken
         * by the close have been told it is drained by then). */
        FZ_CHECK(fz.chans[chan].closed && p == NULL);
        FZ_CHECK(fz.chans[chan].ch == NULL || coco_channel_len(fz.chans[chan].ch) == 0 ||
                 fz.chans[chan].ngave_back > 0 || fz.chans[chan].gave_back_lost_track);
        break;
    case COCO_ERROR_TIMEOUT:
        FZ_CHECK(t != COCO_INFINITE && p == UNTOUCHED);
        break;
    default:
        FZ_CHECK(rc == COCO_ERROR_WOULDBLOCK && p == UNTOUCHED);
    }
}

/* Returns the receive's result, for draining. */
static int op_recv(int me, unsigned a, unsigned mode)
{
    int chan = fz.slot[a % FZ_CHAN_SLOTS];
    void *p = UNTOUCHED;
    if (chan < 0) {
        FZ_CHECK(coco_channel_recv(NULL, &p) == COCO_ERROR_INVALID);
        FZ_CHECK(coco_channel_try_recv(NULL, &p) == COCO_ERROR_INVALID);
        return COCO_ERROR_INVALID;
    }
    coco_channel_t *ch = fz.chans[chan].ch;
    FZ_CHECK(coco_channel_try_recv(ch, NULL) == COCO_ERROR_INVALID);
    bool try = (mode & 3) == 1;
    uint64_t t = mode_timeout(mode);
    int want;
    if (coco_channel_len(ch) > 0 || (fz_can_recv(chan, me) && !fz.chans[chan].closed))
        want = COCO_OK;
    else if (fz.chans[chan].closed)
        want = COCO_ERROR_CHANNEL_CLOSED;
    else
        want = fz_not_ready_rc(me, try, t);
    unsigned start = ++fz.clock;
    int rc;
    if (try) {
        rc = coco_channel_try_recv(ch, &p);
    } else if (me == FZ_OUTSIDE) {
        rc = coco_channel_recv_timeout(ch, &p, t);
    } else {
        fz_pending_t *op = fz_begin(me, FZ_RECV, t);
        op->n = 1;
        op->chan[0] = chan;
        start = op->start;
        rc = t == COCO_INFINITE ? coco_channel_recv(ch, &p)
                                : coco_channel_recv_timeout(ch, &p, t);
        fz_end(me, rc == COCO_ERROR_TIMEOUT);
    }
    check_recv(chan, rc, p, want, t, start);
    return rc;
}

/* ------------------------------------------------------------------ select */

/* Fills the cases of a select from the script; returns how many are live. */
static int select_cases(int me, script_t *s, int n, coco_select_case_t *cs,
                        fz_pending_t *op)
{
    int live = 0;
    for (int i = 0; i < n; i++) {
        unsigned x = next_byte(s);
        int chan = (x & 0x10) ? -1 : fz.slot[x % FZ_CHAN_SLOTS];
        cs[i].op = (x & 8) ? COCO_SELECT_SEND : COCO_SELECT_RECV;
        cs[i].value = UNTOUCHED;
        cs[i].result = 12345;
        op->send[i] = (x & 8) != 0;
        if (chan >= 0 && op->send[i]) {
            op->value[i] = fz_value_new(chan, me);
            if (op->value[i] < 0)
                chan = -1;
            else
                cs[i].value = fz_value_ptr(op->value[i]);
        }
        op->chan[i] = chan;
        cs[i].ch = fz_chan(chan);
        live += chan >= 0;
    }
    op->n = n;
    return live;
}

static bool case_ready(int me, const fz_pending_t *op, int i)
{
    int chan = op->chan[i];
    return chan >= 0 && (op->send[i] ? fz_can_send(chan, me) : fz_can_recv(chan, me));
}

static void check_select(int me, int rc, const coco_select_case_t *cs,
                         const fz_pending_t *op, bool ready, bool try,
                         uint64_t t, int live)
{
    for (int i = 0; i < op->n; i++) {
        if (i == rc)
            continue;
        FZ_CHECK(cs[i].result == 12345); /* other cases left untouched */
        if (op->chan[i] >= 0 && op->send[i])
            fz_value_sent(op->value[i], COCO_ERROR_WOULDBLOCK);
    }
    if (rc >= 0) {
        FZ_CHECK(rc < op->n && op->chan[rc] >= 0);
        int chan = op->chan[rc];
        FZ_CHECK(cs[rc].result == COCO_OK || cs[rc].result == COCO_ERROR_CHANNEL_CLOSED);
        if (cs[rc].result == COCO_ERROR_CHANNEL_CLOSED)
            FZ_CHECK(fz.chans[chan].closed);
        if (op->send[rc])
            fz_value_sent(op->value[rc], cs[rc].result);
        else if (cs[rc].result == COCO_OK)
            fz_value_received(chan, cs[rc].value, op->start);
        return;
    }
    if (live == 0 && t == COCO_INFINITE && !try) {
        /* A wait that could never end; outside a coroutine it is also
         * one that would have to wait: both errors are documented. */
        FZ_CHECK(rc == COCO_ERROR_INVALID ||
                 (me == FZ_OUTSIDE && rc == COCO_ERROR_WOULDBLOCK));
        return;
    }
    FZ_CHECK(!ready);
    int want = fz_not_ready_rc(me, try, t);
    if (want != 1)
        FZ_CHECK(rc == want || (me == FZ_OUTSIDE && rc == COCO_ERROR_TIMEOUT && t == 0));
    else
        FZ_CHECK(rc == COCO_ERROR_TIMEOUT && t != COCO_INFINITE);
}

static void op_select(int me, script_t *s, unsigned a)
{
    int n = 1 + (int)(a % FZ_MAX_CASES);
    unsigned mode = a >> 2;
    bool try = (mode & 3) == 1;
    uint64_t t = mode_timeout(mode);
    coco_select_case_t cs[FZ_MAX_CASES];
    fz_pending_t local, *op = &local;
    if (me != FZ_OUTSIDE && !try)
        op = fz_begin(me, FZ_SELECT, t);
    else
        memset(op, 0, sizeof *op);
    int live = select_cases(me, s, n, cs, op);
    bool ready = false;
    for (int i = 0; i < n; i++)
        ready |= case_ready(me, op, i);
    op->start = ++fz.clock;
    int rc = try ? coco_select_try(cs, (size_t)n) : coco_select(cs, (size_t)n, t);
    fz_pending_t done = *op;
    if (op != &local)
        fz_end(me, rc == COCO_ERROR_TIMEOUT);
    check_select(me, rc, cs, &done, ready, try, t, live);
}

/* -------------------------------------------------------------- coroutines */

static void coro_main(void *arg);

static void op_spawn(unsigned a)
{
    if (nscripts == 0 || fz.ncoros == FZ_MAX_COROS)
        return;
    int i = fz.ncoros++;
    fz_coro_t *c = &fz.coros[i];
    memset(c, 0, sizeof *c);
    script_of[i] = (int)(a % FZ_MAX_SCRIPTS) % nscripts;
    stack_of[i] = (a & 0x80) ? 32 * 1024 : COCO_DEFAULT_STACK_SIZE;
    c->h = coco_create(fz.sched, coro_main, (void *)(intptr_t)i, stack_of[i]);
    FZ_CHECK(c->h != NULL);
    FZ_CHECK(c->h->sched == fz.sched);
    FZ_CHECK(coco_get_state(c->h) == COCO_STATE_CREATED);
    c->handle_ok = true;
    fz_check_count();
}

/* The coroutine an operation names, or -1 when its handle is unusable. */
static int pick_coro(unsigned a)
{
    if (fz.ncoros == 0)
        return -1;
    int k = (int)(a % FZ_MAX_COROS) % fz.ncoros;
    return fz.coros[k].handle_ok ? k : -1;
}

static void op_join(int me, unsigned a)
{
    int k = pick_coro(a);
    if (k < 0) {
        FZ_CHECK(coco_join(NULL) == NULL);
        return;
    }
    fz_coro_t *t = &fz.coros[k];
    if (me == FZ_OUTSIDE || k == me) {
        FZ_CHECK(coco_join(t->h) == NULL); /* refused at once */
        return;
    }
    fz_pending_t *op = fz_begin(me, FZ_JOIN, COCO_INFINITE);
    op->target = k;
    t->joiners++;
    void *r = coco_join(t->h);
    fz_end(me, false);
    t->joiners--;
    FZ_CHECK(t->finished && r == t->result);
}

static void op_destroy(int me, unsigned a)
{
    int k = pick_coro(a);
    if (me != FZ_OUTSIDE && (k == me || (a & 0x40))) {
        /* Destroying yourself finishes you at once. */
        fz_finish(me, NULL);
        fz.coros[me].handle_ok = false;
        coco_destroy(coco_self());
        FZ_CHECK(!"coco_destroy(coco_self()) returned");
    }
    if (k < 0) {
        coco_destroy(NULL);
        return;
    }
    fz_coro_t *t = &fz.coros[k];
    if (!t->finished)
        fz_forget(k);
    t->handle_ok = false;
    coco_destroy(t->h);
    fz_check_count();
}

static void op_detach(int me, unsigned a)
{
    bool self = me != FZ_OUTSIDE && (a & 0x40);
    int k = self ? me : pick_coro(a);
    if (k < 0) {
        FZ_CHECK(coco_detach(NULL) == COCO_ERROR_INVALID);
        return;
    }
    fz_coro_t *t = &fz.coros[k];
    int want = t->detached || (!t->finished && t->joiners > 0)
                   ? COCO_ERROR_INVALID : COCO_OK;
    FZ_CHECK(coco_detach(self ? coco_self() : t->h) == want);
    if (want == COCO_OK) {
        t->detached = true;
        t->handle_ok = false;
    }
}

static void op_exit(int me)
{
    void *marker = (void *)(uintptr_t)(0x1000 + me);
    coco_exit(NULL, marker); /* refused */
    if (me == FZ_OUTSIDE) {
        coco_exit(coco_self(), marker);
        return;
    }
    for (int i = 0; i < fz.ncoros; i++)
        if (i != me && fz.coros[i].handle_ok)
            coco_exit(fz.coros[i].h, marker); /* not the caller: refused */
    fz_finish(me, marker);
    coco_exit(coco_self(), marker);
    FZ_CHECK(!"coco_exit() returned");
}

/* ------------------------------------------------------------------ timers */

static void timer_cb(void *arg)
{
    fz_timer_t *t = arg;
    FZ_CHECK(!t->fired && !t->cancelled && coco_self() == NULL);
    fz_timer_fired(t);
    t->fired = true;
    fz_check_count();
    unsigned x = t->action >> 2;
    switch (t->action & 3) {
    case 1:
        op_send(FZ_OUTSIDE, x, x >> 3);
        break;
    case 2:
        op_close(x);
        break;
    case 3:
        op_spawn(x);
        break;
    default:
        break;
    }
}

static void op_timer(unsigned a, unsigned b)
{
    if (fz.ntimers == FZ_MAX_TIMERS)
        return;
    fz_timer_t *t = &fz.timers[fz.ntimers++];
    t->action = (uint8_t)b;
    fz_timer_armed(t, fz_take_ms(a & 1, a >> 1));
    t->h = coco_timer(t->ms, timer_cb, t);
    FZ_CHECK(t->h != NULL);
}

static void op_timer_cancel(unsigned a)
{
    if (fz.ntimers == 0) {
        coco_timer_cancel(NULL);
        return;
    }
    fz_timer_t *t = &fz.timers[a % FZ_MAX_TIMERS % fz.ntimers];
    coco_timer_cancel(t->h); /* after it fired: harmless */
    if (!t->fired)
        t->cancelled = true;
}

/* -------------------------------------------------------------- the rest */

static void op_sleep(int me, unsigned a)
{
    if (me == FZ_OUTSIDE) {
        FZ_CHECK(coco_sleep(0) == COCO_ERROR_INVALID);
        return;
    }
    uint64_t t = fz_take_ms(a & 1, a >> 1);
    fz_begin(me, FZ_SLEEP, t);
    FZ_CHECK(coco_sleep(t) == COCO_OK);
    fz_end(me, true);
}

/* Identity, and the library refusing bad arguments. */
static void op_self(int me)
{
    coco_coro_t *self = coco_self();
    if (me == FZ_OUTSIDE) {
        FZ_CHECK(self == NULL);
    } else {
        FZ_CHECK(self == fz.coros[me].h && self->sched == fz.sched);
        FZ_CHECK(coco_get_state(self) == COCO_STATE_RUNNING && coco_get_id(self) != 0);
        FZ_CHECK(coco_sched_run(fz.sched) == COCO_ERROR_INVALID);
    }
    void *p = UNTOUCHED;
    coco_select_case_t c = { NULL, COCO_SELECT_RECV, NULL, 0 };
    FZ_CHECK(coco_channel_recv(NULL, &p) == COCO_ERROR_INVALID && p == UNTOUCHED);
    FZ_CHECK(coco_select(NULL, 1, 0) == COCO_ERROR_INVALID);
    FZ_CHECK(coco_select(&c, 0, 0) == COCO_ERROR_INVALID);
    FZ_CHECK(coco_mutex_unlock(NULL) == COCO_ERROR_INVALID);
    FZ_CHECK(coco_sem_post(NULL) == COCO_ERROR_INVALID);
    FZ_CHECK(coco_waitgroup_add(NULL, 1) == COCO_ERROR_INVALID);
    FZ_CHECK(coco_get_state(NULL) == COCO_STATE_DEAD && coco_get_id(NULL) == 0);
}

/* Runs one operation; false when the script must stop. */
static bool exec_op(int me, script_t *s)
{
    if (s->p >= s->end || fz.ops_left == 0)
        return false;
    fz.ops_left--;
    unsigned op = next_byte(s) % OP_COUNT, a = next_byte(s);
    if (trace)
        fprintf(stderr, "[%u] %d: %s %u\n", fz.clock, me, op_names[op], a);
    if (me != FZ_OUTSIDE)
        fz_check_count();
    switch (op) {
    case OP_YIELD:        coco_yield(); break;
    case OP_SLEEP:        op_sleep(me, a); break;
    case OP_CHAN_NEW:     op_chan_new(a); break;
    case OP_SEND:         op_send(me, a, a >> 3); break;
    case OP_RECV:         op_recv(me, a, a >> 3); break;
    case OP_CLOSE:        op_close(a); break;
    case OP_CHAN_FREE:    op_chan_free(a); break;
    case OP_SELECT:       op_select(me, s, a); break;
    case OP_SPAWN:        op_spawn(a); break;
    case OP_JOIN:         op_join(me, a); break;
    case OP_DESTROY:      op_destroy(me, a); break;
    case OP_DETACH:       op_detach(me, a); break;
    case OP_EXIT:         op_exit(me); break;
    case OP_TIMER:        op_timer(a, next_byte(s)); break;
    case OP_TIMER_CANCEL: op_timer_cancel(a); break;
    case OP_MUTEX:        fz_op_mutex(me, a); break;
    case OP_SEM:          fz_op_sem(me, a); break;
    case OP_WG:           fz_op_wg(me, a); break;
    default:              op_self(me); break;
    }
    return true;
}

/* Stacks come back from the library's pool still carrying the poison
 * AddressSanitizer put around the frames of a coroutine that never returned
 * (destroyed or exited while parked), which it then reports against the
 * next user of the stack.  Until the library tells the sanitizer about its
 * stack switches, each coroutine clears its own stack below its first
 * frame; the 2 KiB left out at the bottom stay clear of the guard page. */
static void clear_stale_poison(int me)
{
#ifdef FZ_ASAN
    char here;
    __asan_unpoison_memory_region(&here - stack_of[me] + 2048, stack_of[me] - 2048 - 64);
#else
    (void)me;
#endif
}

static void coro_main(void *arg)
{
    int me = (int)(intptr_t)arg;
    clear_stale_poison(me);
    script_t s = scripts[script_of[me]];
    FZ_CHECK(coco_self() == fz.coros[me].h);
    while (exec_op(me, &s))
        ;
    fz_finish(me, NULL);
}

/* ---------------------------------------------------------------- the run */

/* Destroys every coroutine left, from outside; descriptors of finished
 * ones too. */
static void destroy_all(void)
{
    for (int i = 0; i < fz.ncoros; i++) {
        fz_coro_t *c = &fz.coros[i];
        if (!c->finished) {
            fz_forget(i); /* parked, so alive: even a detached one */
            coco_destroy(c->h);
        } else if (c->handle_ok) {
            coco_destroy(c->h);
        }
        c->handle_ok = false;
    }
    fz_check_count();
    FZ_CHECK(coco_sched_count(fz.sched) == 0);
}

static void check_run(int rc)
{
    FZ_CHECK(rc == COCO_OK || rc == COCO_ERROR_DEADLOCK);
    if (rc == COCO_OK)
        FZ_CHECK(fz_alive_count() == 0);
    else
        fz_explain_deadlock();
    fz_check_count();
    fz_check_timers();
}

static bool timers_pending(void)
{
    for (int i = 0; i < fz.ntimers; i++)
        if (!fz.timers[i].fired && !fz.timers[i].cancelled)
            return true;
    return false;
}

/* Steps the scheduler with coco_sched_run_once() while something is left
 * to run, as a program with its own event loop does; then the same as
 * coco_sched_run() must follow.  Every step runs one coroutine or fires a
 * timer, and the operations are bounded, so the steps are too. */
static int run_by_steps(void)
{
    int rc = COCO_OK;
    while (rc == COCO_OK && (fz_alive_count() > 0 || timers_pending())) {
        rc = coco_sched_run_once(fz.sched);
        fz_check_count();
    }
    FZ_CHECK(rc == COCO_OK || rc == COCO_ERROR_DEADLOCK);
    return coco_sched_run(fz.sched);
}

/* mode 0 and 3: close every channel and run again, then destroy what is
 * left; mode 1: destroy what is left; mode 2: destroy the scheduler with
 * it, channels outliving it.  Mode 3 runs by steps. */
static void finish_run(unsigned mode)
{
    check_run(mode == 3 ? run_by_steps() : coco_sched_run(fz.sched));
    if (mode == 0 || mode == 3) {
        for (int i = 0; i < FZ_CHAN_SLOTS; i++)
            op_close((unsigned)i);
        check_run(coco_sched_run(fz.sched));
    }
    if (mode == 2) {
        for (int i = 0; i < fz.ncoros; i++)
            if (!fz.coros[i].finished)
                fz_forget(i);
        coco_sched_destroy(fz.sched);
        fz.sched = NULL;
    } else {
        destroy_all();
        FZ_CHECK(coco_sched_run(fz.sched) == COCO_OK);
        fz_check_timers();
    }
    /* What is still buffered is received here, in order. */
    for (int i = 0; i < FZ_CHAN_SLOTS; i++)
        while (fz.slot[i] >= 0 && op_recv(FZ_OUTSIDE, (unsigned)i, 1) == COCO_OK)
            ;
    for (int i = 0; i < FZ_CHAN_SLOTS; i++)
        op_chan_free((unsigned)i);
}

/* Splits the input into the outside segment and the scripts. */
static script_t split(const uint8_t *data, size_t size)
{
    const uint8_t *end = data + size, *p = data;
    script_t outside = { p, p };
    nscripts = 0;
    while (outside.end < end && *outside.end != 0xff)
        outside.end++;
    p = outside.end;
    while (p < end && nscripts < FZ_MAX_SCRIPTS) {
        p++; /* past the separator */
        script_t s = { p, p };
        while (s.end < end && *s.end != 0xff)
            s.end++;
        scripts[nscripts++] = s;
        p = s.end;
    }
    return outside;
}

/* Where the virtual clock starts: 0 when bit 7 of the first byte says so,
 * else a hash of the input, so that inputs try every alignment of the
 * timing wheel and each replays the same way.  COCO_FUZZ_VSTART
 * overrides it. */
static uint64_t virtual_start(const uint8_t *data, size_t size)
{
    const char *e = getenv("COCO_FUZZ_VSTART");
    if (e != NULL && *e != '\0')
        return strtoull(e, NULL, 0);
    if (data[0] & 0x80)
        return 0;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned flags = data[0];
    const char *t = getenv("COCO_FUZZ_TRACE");
    trace = t != NULL && *t != '\0' && strcmp(t, "0") != 0;
    script_t outside = split(data + 1, size - 1);
    coco_sched_t *sched = coco_sched_create();
    FZ_CHECK(sched != NULL);
    fz_world_init((flags >> 2) & 3, (flags >> 4) & 3);
    fz.sched = sched;
    /* Virtual time unless bit 6 asks for the real clock, or the library
     * was linked without its test hooks. */
    fz.vclock = !(flags & 0x40) && fz_timing_oracle();
    if (fz.vclock)
        FZ_CHECK(coco__sched_virtual_clock(sched, virtual_start(data, size)) == COCO_OK);
    fz.time_budget = fz.vclock ? FZ_VIRTUAL_WAITS : FZ_TIME_BUDGET;
    fz.ops_left = FZ_MAX_OPS;
    while (exec_op(FZ_OUTSIDE, &outside))
        ;
    finish_run(flags & 3);
    fz_check_values();
    fz_check_sync();
    coco_sched_destroy(fz.sched);
    fz_world_fini();
    return 0;
}
