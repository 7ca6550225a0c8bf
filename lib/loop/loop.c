/*
 * loop.c - the top of the library: the coco_sched_* entry points and the
 * scheduler loop.
 *
 * The loop alternates two steps.  When timers are armed or coroutines wait
 * on descriptors, it runs the due timers and polls for readiness (waiting,
 * no longer than the next deadline, only when no coroutine is ready); then
 * it dispatches the head of the run queue (lib/core/sched.c), which runs
 * coroutines until control comes back.  This is the one file that names
 * the timer, sync and io layers together: it gives the core the table of
 * operations (struct coco_sched_ops) through which the core cancels a
 * wait, drops a deadline or frees waiter records without knowing whose
 * they are.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco_internal.h"
#include "signal/signal.h"
#include "timer/timer.h"
#include "sync/wait.h"
#include "io/io.h"
#include "debug/inspect.h"
#include "debug/trace.h"
#include "core/mt.h"

#include <errno.h>
#include <stdlib.h>

/* The alternate signal stack of a thread goes with the last scheduler
 * it made (coco__sched_made_here(), kept in its thread record, since any
 * thread may destroy them), unless a run holds it: set while this thread
 * runs a scheduler without having one of its own, a worker of a group
 * or a thread handed a scheduler another thread made.  The fault of an
 * overflow needs the alternate stack on the thread that runs the
 * coroutine, not the one that made it; without one the kernel cannot
 * deliver the signal and the process dies. */
static COCO__TLS bool run_holds_altstack;

/* Releases the thread's alternate signal stack when nothing needs it.
 * Only the thread itself can: when another one destroys its last
 * scheduler, it goes with the thread's next run or destroy. */
static void altstack_release_if_unused(void)
{
    if (!run_holds_altstack && coco__sched_made_here() == 0)
        coco__signal_fini_thread();
}

/* Stacks kept for reuse per scheduler. */
#define STACK_POOL_LIMIT 256

/* ------------------------------------------------ what the core calls */

/* A wait of the sync or io layer is cancelled (its deadline passed, or
 * its coroutine is destroyed). */
static void cancel(coco_co_t *co)
{
    if (co->wait_on == COCO__ON_IO)
        coco__io_cancel(co);
    else if (co->wait_on == COCO__ON_REMOTE)
        coco__remote_cancel(co);
    else
        coco__wait_cancel(co);
}

static void notify(coco_sched_t *s)
{
    coco__io_wake_notify(s);
}

static int arm(coco_sched_t *s)
{
    return coco__io_wake_arm(s) == COCO_OK ? COCO_OK : COCO_ERROR;
}

static const struct coco_sched_ops sched_ops = {
    .cancel = cancel,
    .drop_deadline = coco__tpark_drop,
    .free_records = coco__wait_heap_free,
    .give_back = coco__wait_give_back,
    .notify = notify,
    .arm = arm,
};

/* ------------------------------------------------------------ the wait */

/* coco__io_poll(), shown in the trace being written. */
#if COCO_TRACE_HOOKS
static COCO__NOINLINE int poll_traced(coco_sched_t *s, int timeout_ms)
{
    s->trace->event(s, COCO__TR_POLL_BEGIN, NULL, NULL);
    int rc = coco__io_poll(s, timeout_ms);
    if (s->trace != NULL)
        s->trace->event(s, COCO__TR_POLL_END, NULL, NULL);
    return rc;
}
#endif

static inline int loop_poll(coco_sched_t *s, int timeout_ms)
{
#if COCO_TRACE_HOOKS
    if (coco__unlikely(s->trace != NULL))
        return poll_traced(s, timeout_ms);
#endif
    return coco__io_poll(s, timeout_ms);
}

/* True when nothing but other threads can make a coroutine of s ready:
 * no timer, no descriptor, no blocking call of its own (the wake
 * descriptor is all it polls). */
static inline bool only_others(const coco_sched_t *s)
{
    return s->timers_pending == 0 && s->io_waiting == (size_t)s->remote_armed;
}

/* How long a loop with nothing to do spins on its inbox before sleeping:
 * each turn is one pause instruction, some 10 to 40 ns. */
#ifndef COCO__SPIN_TURNS
#  define COCO__SPIN_TURNS 1000u
#endif
/* A loop spins before a poll only while its inbox had something within
 * this many polls. */
#define SPIN_AFTER_REMOTE_POLLS 16u

/* A wake-up through the descriptor costs both sides a system call and the
 * sleeper a trip through the kernel's scheduler, some tens of
 * microseconds; a coroutine of another thread that answers within a few
 * of them is cheaper to wait for spinning, without the lock.  True when
 * the inbox (or more(arg)) has something. */
static bool spin_remote(coco_sched_t *s, bool (*more)(void *), void *arg)
{
    if (coco__mt_mode() == 0)
        return false;
    for (unsigned i = 0; i < COCO__SPIN_TURNS; i++) {
        /* more() reads what other threads write: not on every turn, or a
         * loop waiting for work would keep their cache lines from them. */
        if (__atomic_load_n(&s->inbox, __ATOMIC_RELAXED) != NULL ||
            ((i & 15) == 15 && more != NULL && more(arg)))
            return true;
        coco__cpu_relax();
    }
    return false;
}

/* Polls s, which other threads may wake, for timeout_ms (not 0): tells
 * them it sleeps, so that whoever fills its inbox writes to its wake
 * descriptor.  more(arg), when given, is another reason not to sleep,
 * checked under the lock (a worker group that is over).  COCO_OK, COCO_ERROR_DEADLOCK when
 * the deadlock rule told it so while it slept, or an error of the poll. */
static int sleep_remote(coco_sched_t *s, int timeout_ms, bool (*more)(void *),
                        void *arg)
{
    coco__thr_t *t = coco__thr();
    /* The process-wide lock for deadlocked and more(arg), the inbox
     * lock for the sleep flags (lib/core/mt.h). */
    coco__glock(t);
    coco__inbox_lock(s);
    if (s->deadlocked || s->recheck || (more != NULL && more(arg))) {
        timeout_ms = 0;
    } else {
        /* Raised before the inbox is looked at, as a waker pushes before
         * it reads the flag: either it sees the flag and notifies, or the
         * inbox is seen full here. */
        __atomic_store_n(&s->sleeping, true, __ATOMIC_SEQ_CST);
        if (coco__inbox_full(s)) {
            __atomic_store_n(&s->sleeping, false, __ATOMIC_RELAXED);
            timeout_ms = 0;
        }
    }
    coco__inbox_unlock(s);
    coco__gunlock(t);
    int rc = loop_poll(s, timeout_ms);
    coco__glock(t);
    coco__inbox_lock(s);
    __atomic_store_n(&s->sleeping, false, __ATOMIC_RELAXED);
    bool notified = s->notified;
    s->notified = false;
    coco__inbox_unlock(s);
    __atomic_store_n(&s->stuck, 0, __ATOMIC_SEQ_CST);
    bool dead = s->deadlocked;
    s->deadlocked = false;
    s->recheck = false;
    coco__gunlock(t);
    if (notified)
        coco__io_wake_clear(s);
    return dead ? COCO_ERROR_DEADLOCK : rc;
}

/* How long every scheduler must have been stuck before a deadlock across
 * threads is reported: a thread that is about to make or run its
 * scheduler is invisible until it does, and a loaded machine may not run
 * it for a while. */
#ifndef COCO__DEADLOCK_GRACE_MS
#  define COCO__DEADLOCK_GRACE_MS 1000
#endif

/* The poll of a scheduler other threads may wake: before sleeping for good
 * with nothing of its own to wait for, it checks the deadlock rule
 * (lib/core/mt.c). */
static COCO__NOINLINE int poll_remote(coco_sched_t *s, int timeout_ms)
{
    /* Spinning pays for a loop that other threads keep waking; one that
     * waits for its descriptors and timers only would burn the processor
     * before every poll. */
    if (s->polls_since_remote < SPIN_AFTER_REMOTE_POLLS) {
        s->polls_since_remote++;
        if (spin_remote(s, NULL, NULL))
            return loop_poll(s, 0);
    }
    if (timeout_ms < 0 && only_others(s)) {
        if (coco__mt_mode() == 0)
            return COCO_ERROR_DEADLOCK;
        /* A thread that is about to make its scheduler, or to run it,
         * does not count yet: give it a moment before calling it a
         * deadlock. */
        int left = -1;
        int st = coco__sched_stuck(s, coco__clock_ms(), COCO__DEADLOCK_GRACE_MS, &left);
        if (st == 2)
            return COCO_ERROR_DEADLOCK;
        if (st == 1)
            timeout_ms = left;
    }
    const struct coco__serve *sv = s->serve;
    return sleep_remote(s, timeout_ms, sv != NULL ? sv->queued : NULL,
                        sv != NULL ? sv->arg : NULL);
}

/* Called when coco__pending(s).  Runs the due timers and waits for I/O (no
 * longer than the next deadline; not at all when !block or a coroutine is
 * ready), making the coroutines they release READY.  COCO_OK or a negative
 * error code. */
static int loop_wait(coco_sched_t *s, bool block)
{
    if (s->timers_pending != 0) {
        coco__timer_refresh(s);
        coco__timer_expire(s);
    }
    int timeout = 0;
    if (block && s->rq_head == NULL)
        timeout = coco__timer_timeout(s);
    if (timeout > 0 && coco__timer_virtual(s)) {
        /* Virtual time: poll, and if that readies nobody, jump ahead. */
        int rc = loop_poll(s, 0);
        if (rc == COCO_OK && s->rq_head == NULL)
            coco__timer_leap(s, timeout);
        return rc;
    }
    int rc = timeout != 0 && s->remote_armed ? poll_remote(s, timeout)
                                             : loop_poll(s, timeout);
    if (rc != COCO_OK)
        return rc;
    if (timeout != 0 && s->timers_pending != 0) {
        coco__timer_refresh(s);
        coco__timer_expire(s);
    }
    return COCO_OK;
}

/* ------------------------------------------------------------ the loop */

static int enter(coco_sched_t *s, bool chain)
{
    if (s == NULL)
        return COCO_ERROR_INVALID;
    /* One loop per scheduler and per thread at a time: not from inside a
     * coroutine, not while another thread runs it. */
    if (coco__sched_foreign(s) || coco__tls_running != NULL)
        return COCO_ERROR_INVALID;
    /* Two threads starting the same scheduler at once: one wins. */
    int idle = 0;
    if (!__atomic_compare_exchange_n(&s->in_run, &idle, 1, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return COCO_ERROR_INVALID;
    /* Without it (no memory), the run goes on as it would have before:
     * only an overflow on this thread is then fatal. */
    if (coco__sched_made_here() == 0 && coco__signal_init_thread() == COCO_OK)
        run_holds_altstack = true;
    coco__thr_t *t = coco__thr();
    if (s->thr != t) {
        /* Made or last run by another thread: what it holds is shared. */
        coco__mt_enable();
        __atomic_store_n(&s->thr, t, __ATOMIC_RELAXED);
    }
    coco__tls_sched = s;
    coco__tls_running = s;
    s->running = true;
    s->chain = chain;
    /* A new run may start from anything its thread did since the last
     * (the deadlock rule, lib/core/mt.c); the steps of a run driven by
     * coco_sched_run_once() are one run. */
    if (chain)
        s->acted = true;
    return COCO_OK;
}

static void leave(coco_sched_t *s)
{
    __atomic_store_n(&s->in_run, 0, __ATOMIC_RELEASE);
    s->running = false;
    s->chain = true;
    coco__tls_running = NULL;
    if (run_holds_altstack) {
        run_holds_altstack = false;
        altstack_release_if_unused();
    }
}

/* What the loop does first on every turn: takes in what other threads
 * woke, and once the process shares objects between threads, makes the
 * scheduler one they can wake. */
static inline int loop_inbox(coco_sched_t *s)
{
    coco__inbox_drain(s);
    if (coco__unlikely(!s->remote_armed) && coco__mt_mode() != 0 &&
        s->ops->arm(s) != COCO_OK)
        return COCO_ERROR;
    return COCO_OK;
}

int coco_sched_run(coco_sched_t *s)
{
    int rc = enter(s, true);
    if (rc != COCO_OK)
        return rc;
    for (;;) {
        if ((rc = loop_inbox(s)) != COCO_OK)
            break;
        if (coco__pending(s)) {
            if (s->rq_head == NULL && s->alive == 0 && only_others(s))
                break; /* rc is COCO_OK */
            rc = loop_wait(s, s->rq_head == NULL);
            if (rc != COCO_OK)
                break;
        } else if (s->rq_head == NULL) {
            rc = s->alive == 0 ? COCO_OK : COCO_ERROR_DEADLOCK;
            break;
        }
        if (s->rq_head != NULL && (rc = coco__dispatch(s)) != COCO_OK)
            break;
    }
    if (rc == COCO_ERROR_DEADLOCK)
        coco__debug_deadlock(s);
    leave(s);
    return rc;
}

int coco_sched_run_once(coco_sched_t *s)
{
    int rc = enter(s, false);
    if (rc != COCO_OK)
        return rc;
    rc = loop_inbox(s);
    if (rc != COCO_OK) {
        /* nothing more this turn */
    } else if (s->rq_head == NULL) {
        if (coco__pending(s)) {
            if (!(s->alive == 0 && only_others(s)))
                rc = loop_wait(s, true);
        } else if (s->alive != 0) {
            rc = COCO_ERROR_DEADLOCK;
        }
        if (rc == COCO_ERROR_DEADLOCK)
            coco__debug_deadlock(s);
    } else if (coco__pending(s)) {
        rc = loop_wait(s, false);
    }
    if (rc == COCO_OK && s->rq_head != NULL)
        rc = coco__dispatch(s);
    leave(s);
    return rc;
}

/* ---------------------------------------------------------- a worker */

int coco__sched_serve(coco_sched_t *s, const struct coco__serve *sv)
{
    int rc = enter(s, true);
    if (rc != COCO_OK)
        return rc;
    /* A worker can be woken from the start, whatever the mode: a thread
     * outside the group may spawn into it while it sleeps on descriptors
     * of its own, which shares no object and so does not make the
     * process shared (a group of one worker stays single). */
    if (!s->remote_armed && s->ops->arm(s) != COCO_OK) {
        leave(s);
        return COCO_ERROR;
    }
    s->serve = sv;
    for (unsigned turn = 1;; turn++) {
        if ((rc = loop_inbox(s)) != COCO_OK)
            break;
        /* Now and then even when busy, so that queued work cannot starve
         * behind coroutines that keep yielding. */
        if (s->rq_head == NULL || (turn & 63) == 0)
            sv->feed(sv->arg, s);
        if (s->rq_head == NULL && only_others(s)) {
            if (spin_remote(s, sv->more, sv->arg))
                continue;
            int ms = -1;
            rc = sv->idle(sv->arg, s, &ms);
            if (rc == COCO_OK)
                rc = sleep_remote(s, ms, sv->over, sv->arg);
            sv->busy(sv->arg, s);
            if (rc == 1) {
                rc = COCO_OK;
                break;
            }
            if (rc == COCO_ERROR_DEADLOCK && s->alive != 0)
                coco__debug_deadlock(s);
            if (rc != COCO_OK)
                break;
            continue;
        }
        if (coco__pending(s)) {
            rc = loop_wait(s, s->rq_head == NULL);
            if (rc != COCO_OK)
                break;
        }
        if (s->rq_head != NULL && (rc = coco__dispatch(s)) != COCO_OK)
            break;
    }
    s->serve = NULL;
    leave(s);
    return rc;
}

/* ------------------------------------------------------- create/destroy */

coco_sched_t *coco_sched_create(void)
{
    if (coco__signal_init_thread() != COCO_OK) {
        errno = ENOMEM;
        return NULL;
    }
    coco_sched_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        altstack_release_if_unused();
        errno = ENOMEM;
        return NULL;
    }
    s->ops = &sched_ops;
    s->chain = true;
    s->acted = true;
    s->max_coros = COCO_MAX_COROUTINES;
    s->stacks.limit = STACK_POOL_LIMIT;
    coco__sched_register(s);
    coco__trace_env(s);
    /* Made current unless a coroutine of another scheduler is running. */
    coco_sched_t *cur = coco__sched_current();
    if (cur == NULL || !cur->running)
        coco__tls_sched = s;
    return s;
}

void coco_sched_destroy(coco_sched_t *s)
{
    if (s == NULL || coco__sched_foreign(s) || s->running)
        return;
    coco__sched_unregister(s, coco__clock_ms());
    if (s->trace != NULL)
        coco_trace_stop(s); /* ends the file: a complete document */
    coco__co_destroy_all(s);
    coco__sstack_fini(s);
    coco__io_fini(s);
    coco__timer_fini(s);
    coco__small_fini(&s->small);
    coco__error_cb_fini(&s->error_cbs);
    coco__stack_pool_drain(&s->stacks);
    /* The newest of the schedulers this thread made becomes current: s
     * is no longer listed.  Other threads whose current one it was see
     * it gone when they next look (coco__sched_current()). */
    if (coco__tls_sched == s)
        (void)coco__sched_current_slow();
    free(s);
    altstack_release_if_unused();
}

int coco_sched_set_max_coroutines(coco_sched_t *s, size_t max)
{
    if (s == NULL)
        return COCO_ERROR_INVALID;
    s->max_coros = max;
    return COCO_OK;
}

size_t coco_sched_get_max_coroutines(const coco_sched_t *s)
{
    return s != NULL ? s->max_coros : 0;
}

size_t coco_sched_count(const coco_sched_t *s)
{
    return s != NULL ? s->alive : 0;
}
