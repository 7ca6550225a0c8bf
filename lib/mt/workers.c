/*
 * workers.c - worker groups: coroutines on several threads at once.
 *
 * Each worker is a thread running a scheduler of its own (run queue,
 * timers, poller), served by the loop (coco__sched_serve) with tasks from
 * the group: a task is a coroutine not yet created.  A worker keeps the
 * tasks its coroutines spawn in a deque of its own and starts the newest
 * first; tasks spawned from outside go to the group's queue.  A worker
 * with nothing to run takes from its deque, then a share of the group's
 * queue, then steals the older half of another worker's deque; with
 * nothing at all it sleeps in its poller until a spawn, a wake-up from
 * another thread or its own timers and descriptors wake it.
 *
 * Coroutines that talk to each other are cheapest on one worker, and
 * the usual way to start such a pair is for one coroutine to spawn its
 * partner and then wait for it, or for a program to spawn both from
 * outside.  So a worker takes more than one task from the group's queue
 * when there are enough for every worker (n / workers + 1), and the
 * newest task of a worker's deque, the one its owner starts next, is left
 * to the owner for STEAL_GRACE_US while the owner keeps starting tasks;
 * only a worker that has not started any for that long (it runs a long
 * coroutine) loses it.
 *
 * Only tasks move between workers.  A coroutine that has started stays
 * on its worker: code compiled with optimisation may keep the address of
 * a thread-local variable (errno's, through __errno_location(), which
 * glibc declares const) in a register or a stack slot across a call that
 * parks, and on another thread that address would be the old thread's.
 *
 * The group's counts of idle workers and its end are under the
 * process-wide lock (lib/core/mt.h); the sleep flags of the workers'
 * schedulers, under each one's inbox lock, taken inside it.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco_internal.h"
#include "core/mt.h"
#include "mt/thread.h"
#include "timer/timer.h"

#include <errno.h>
#include <stdlib.h>

struct task {
    void (*fn)(void *);
    void *arg;
    size_t stack;
    struct task *next, *prev;
};

/* Tasks, oldest at the head: the owner pushes and pops at the tail,
 * thieves take from the head. */
struct deque {
    int lock;
    struct task *head, *tail;
    size_t n;                     /* atomic: read without the lock */
};

/* How long a thief leaves a worker's last queued task to its owner. */
#ifndef STEAL_GRACE_US
#  define STEAL_GRACE_US 100u
#endif

/* Apart enough that what one thread writes often never shares a cache
 * line with what another one does, whatever the allocator's alignment. */
#define LINE_GAP 64

struct worker {
    /* Written by the owner all the time, read by thieves. */
    struct deque q;
    unsigned long started;        /* tasks it took (atomic) */
    char gap1[LINE_GAP];
    coco_workers_t *g;
    size_t idx;
    coco_sched_t *s;              /* while the group runs */
    bool idle;                    /* under the lock */
    unsigned steal_from;          /* where the next theft starts (0 is the
                                     next worker, n - 2 the previous) */
    /* A thief's watch on a victim whose last task it leaves alone. */
    struct worker *watch;
    unsigned long watch_started;
    uint64_t watch_since;         /* coco__clock_us() */
    coco__thread_t th;
    int rc;                       /* what its loop returned */
    /* Tasks it took whose coroutine could not be made for lack of
     * memory, tried again on its later turns (its own), and how many
     * (atomic: read by the worker that decides the run is over). */
    struct task *unmade;
    size_t n_unmade;
    char gap2[LINE_GAP];
};

struct coco_workers {
    size_t n;
    struct worker *w;
    char gap1[LINE_GAP];
    struct deque global;          /* spawned from outside the group */
    char gap2[LINE_GAP];
    size_t idle;                  /* idle workers (atomic, changed under the lock) */
    int running;                  /* inside coco_workers_run (atomic) */
    bool serving;                 /* the workers' schedulers are made: set
                                     before they start, cleared under the
                                     lock before they go (atomic) */
    bool over;                    /* set under the lock (atomic) */
    int result;                   /* under the lock */
};

static COCO__TLS struct worker *tls_worker;

/* ------------------------------------------------------------- deques */

static void dq_push_tail(struct deque *d, struct task *t)
{
    coco__lock(&d->lock);
    t->next = NULL;
    t->prev = d->tail;
    if (d->tail != NULL)
        d->tail->next = t;
    else
        d->head = t;
    d->tail = t;
    /* Sequentially consistent, as is the reading of the idle count after
     * it (coco_workers_spawn): a worker going idle either sees this task
     * or is seen idle. */
    __atomic_store_n(&d->n, d->n + 1, __ATOMIC_SEQ_CST);
    coco__unlock(&d->lock);
}

static struct task *dq_pop_tail(struct deque *d)
{
    if (__atomic_load_n(&d->n, __ATOMIC_RELAXED) == 0)
        return NULL;
    coco__lock(&d->lock);
    struct task *t = d->tail;
    if (t != NULL) {
        d->tail = t->prev;
        if (d->tail != NULL)
            d->tail->next = NULL;
        else
            d->head = NULL;
        __atomic_store_n(&d->n, d->n - 1, __ATOMIC_RELAXED);
    }
    coco__unlock(&d->lock);
    return t;
}

/* Takes d's oldest tasks, oldest first: the older half (rounded up) when
 * share is 0, else n / share + 1 of the n.  With keep_newest, never the
 * newest one. */
static struct task *dq_take(struct deque *d, size_t share, bool keep_newest,
                            size_t *count)
{
    *count = 0;
    if (__atomic_load_n(&d->n, __ATOMIC_RELAXED) <= (size_t)keep_newest)
        return NULL;
    coco__lock(&d->lock);
    size_t k = share == 0 ? (d->n + 1) / 2 : d->n / share + 1;
    if (k > d->n - (keep_newest && d->n != 0))
        k = d->n - (keep_newest && d->n != 0);
    struct task *first = k != 0 ? d->head : NULL, *last = first;
    for (size_t i = 1; i < k && last != NULL; i++)
        last = last->next;
    if (first != NULL) {
        d->head = last->next;
        if (d->head != NULL)
            d->head->prev = NULL;
        else
            d->tail = NULL;
        last->next = NULL;
        __atomic_store_n(&d->n, d->n - k, __ATOMIC_RELAXED);
        *count = k;
    }
    coco__unlock(&d->lock);
    return first;
}

static void dq_free_all(struct deque *d)
{
    while (d->head != NULL) {
        struct task *t = d->head;
        d->head = t->next;
        free(t);
    }
    d->tail = NULL;
    __atomic_store_n(&d->n, 0, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------ feeding */

/* Whether v, whose deque holds one task, has started none of its own
 * for STEAL_GRACE_US, as far as w has watched it. */
static bool stalled(struct worker *w, struct worker *v)
{
    unsigned long started = __atomic_load_n(&v->started, __ATOMIC_RELAXED);
    uint64_t now = coco__clock_us();
    if (w->watch != v || w->watch_started != started) {
        w->watch = v;
        w->watch_started = started;
        w->watch_since = now;
        return false;
    }
    return now - w->watch_since >= STEAL_GRACE_US;
}

/* Queues tasks (a list through next) on w's deque so that w starts them
 * in list order. */
static void queue_in_order(struct worker *w, struct task *list)
{
    struct task *rev = NULL;
    while (list != NULL) {
        struct task *n = list->next;
        list->next = rev;
        rev = list;
        list = n;
    }
    while (rev != NULL) {
        struct task *n = rev->next;
        dq_push_tail(&w->q, rev);
        rev = n;
    }
}

static struct task *steal(struct worker *w)
{
    coco_workers_t *g = w->g;
    struct worker *last_one = NULL;
    /* Every other worker once, starting with the last one robbed. */
    for (size_t k = 0; k + 1 < g->n; k++) {
        size_t off = 1 + (w->steal_from + k) % (g->n - 1);
        struct worker *v = &g->w[(w->idx + off) % g->n];
        size_t n = __atomic_load_n(&v->q.n, __ATOMIC_RELAXED), count;
        if (n == 1 && last_one == NULL)
            last_one = v;
        struct task *t = dq_take(&v->q, 0, true, &count);
        if (t == NULL && v == last_one && stalled(w, v))
            t = dq_take(&v->q, 0, false, &count);
        if (t == NULL)
            continue;
        w->steal_from = (unsigned)((w->steal_from + k) % (g->n - 1));
        w->watch = NULL;
        /* Start the oldest now, queue the rest. */
        queue_in_order(w, t->next);
        t->next = NULL;
        return t;
    }
    return NULL;
}

/* Whether any task is queued anywhere in the group (sequentially
 * consistent: see dq_push_tail). */
static bool queued(coco_workers_t *g)
{
    if (__atomic_load_n(&g->global.n, __ATOMIC_SEQ_CST) != 0)
        return true;
    for (size_t i = 0; i < g->n; i++)
        if (__atomic_load_n(&g->w[i].q.n, __ATOMIC_SEQ_CST) != 0)
            return true;
    return false;
}

/* Starts t's coroutine on s; false, keeping t, for lack of memory. */
static bool start(coco_sched_t *s, struct task *t)
{
    coco_coro_t *co = coco_create(s, t->fn, t->arg, t->stack);
    if (co == NULL)
        return false;
    coco_detach(co);
    free(t);
    return true;
}

static void feed(void *arg, coco_sched_t *s)
{
    struct worker *w = arg;
    coco_workers_t *g = w->g;
    /* A coroutine that finished since may have left room for a task
     * that found none. */
    struct task *t = w->unmade;
    if (t != NULL) {
        w->unmade = t->next;
        if (start(s, t)) {
            __atomic_sub_fetch(&w->n_unmade, 1, __ATOMIC_RELAXED);
            return;
        }
        t->next = w->unmade;
        w->unmade = t;
    }
    t = dq_pop_tail(&w->q);
    if (t == NULL) {
        /* A share of the group's queue: with one task per worker or
         * more, more than one, so that tasks spawned together from
         * outside mostly start together. */
        size_t count;
        t = dq_take(&g->global, g->n, false, &count);
        if (t != NULL) {
            queue_in_order(w, t->next);
            t->next = NULL;
        }
    }
    if (t == NULL)
        t = steal(w);
    if (t == NULL)
        return;
    /* Seen by thieves waiting for the last task of w's deque. */
    __atomic_store_n(&w->started, w->started + 1, __ATOMIC_RELAXED);
    if (!start(s, t)) {
        /* Out of memory for now: it waits for a later turn, kept apart
         * from the queues so that it does not keep the group from ending
         * when nothing left could make room for it. */
        t->next = w->unmade;
        w->unmade = t;
        __atomic_add_fetch(&w->n_unmade, 1, __ATOMIC_RELAXED);
    }
}

/* ------------------------------------------------------ idle and end */

static bool more(void *arg)
{
    struct worker *w = arg;
    return queued(w->g);
}

/* Under the lock, before sleeping: a task may have come since idle(),
 * or the group may have ended. */
static bool over(void *arg)
{
    struct worker *w = arg;
    return more(arg) || __atomic_load_n(&w->g->over, __ATOMIC_ACQUIRE);
}

/* Under the lock, before a worker that is not idle sleeps on its own
 * timers and descriptors: a task spawned from outside is in the group's
 * queue, and its spawner, finding no worker asleep, woke none
 * (sequentially consistent: see coco_workers_spawn).  Tasks in a
 * worker's deque are left to their owner, which is awake. */
static bool queued_outside(void *arg)
{
    struct worker *w = arg;
    return __atomic_load_n(&w->g->global.n, __ATOMIC_SEQ_CST) != 0;
}

/* Under the lock: wakes every sleeping worker (the group is over), or
 * one (there is a task to take). */
static void wake_workers(coco_workers_t *g, bool all)
{
    for (size_t i = 0; i < g->n; i++) {
        coco_sched_t *s = g->w[i].s;
        if (s == NULL)
            continue;
        coco__inbox_lock(s);
        bool woke = s->sleeping && !s->notified;
        if (woke) {
            s->notified = true;
            s->ops->notify(s);
        }
        coco__inbox_unlock(s);
        if (woke && !all)
            return;
    }
}

/* A worker's scheduler, or one on a worker's thread: none of those can
 * act while the workers sleep. */
static bool group_sched(const coco_sched_t *s, void *arg)
{
    coco_workers_t *g = arg;
    for (size_t i = 0; i < g->n; i++)
        if (g->w[i].s == s || __atomic_load_n(&g->w[i].s->thr, __ATOMIC_RELAXED) ==
                                  __atomic_load_n(&s->thr, __ATOMIC_RELAXED))
            return true;
    return false;
}

static int idle(void *arg, coco_sched_t *s, int *ms)
{
    struct worker *w = arg;
    coco_workers_t *g = w->g;
    coco__thr_t *t = coco__thr();
    (void)s;
    coco__glock(t);
    if (!g->over) {
        w->idle = true;
        size_t n_idle = __atomic_add_fetch(&g->idle, 1, __ATOMIC_SEQ_CST);
        if (n_idle == g->n && !queued(g)) {
            /* Nobody runs anything: the group is done, or stuck. */
            size_t alive = 0, unmade = 0;
            bool inbox = false;
            for (size_t i = 0; i < g->n; i++) {
                alive += g->w[i].s->alive;
                unmade += __atomic_load_n(&g->w[i].n_unmade, __ATOMIC_RELAXED);
                inbox |= coco__inbox_full(g->w[i].s);
            }
            /* Tasks whose coroutines could not be made, with nothing
             * left running that could give memory back: the run ends
             * for lack of memory rather than trying for ever. */
            if (!inbox) {
                if (alive == 0) {
                    g->result = unmade == 0 ? COCO_OK : COCO_ERROR_NOMEM;
                    __atomic_store_n(&g->over, true, __ATOMIC_RELEASE);
                } else if (!coco__others_may_act(group_sched, g)) {
                    g->result = unmade == 0 ? COCO_ERROR_DEADLOCK : COCO_ERROR_NOMEM;
                    __atomic_store_n(&g->over, true, __ATOMIC_RELEASE);
                } else {
                    *ms = 50; /* look again: an outside thread may end it */
                }
                if (g->over)
                    wake_workers(g, true);
            }
        }
    }
    int rc = !g->over ? COCO_OK : g->result == COCO_OK ? 1 : g->result;
    coco__gunlock(t);
    return rc;
}

static void busy(void *arg, coco_sched_t *s)
{
    struct worker *w = arg;
    coco_workers_t *g = w->g;
    coco__thr_t *t = coco__thr();
    (void)s;
    coco__glock(t);
    if (w->idle) {
        w->idle = false;
        __atomic_sub_fetch(&g->idle, 1, __ATOMIC_SEQ_CST);
    }
    coco__gunlock(t);
}

/* ------------------------------------------------------------ workers */

/* A worker's life: on its own thread (worker 0 on the caller's). */
static void worker_main(void *arg)
{
    struct worker *w = arg;
    coco_sched_t *s = w->s;
    tls_worker = w;
    const struct coco__serve sv = {
        .arg = w, .feed = feed, .idle = idle, .busy = busy, .more = more,
        .over = over, .queued = queued_outside,
    };
    w->rc = coco__sched_serve(s, &sv);
    tls_worker = NULL;
    if (w->rc != COCO_OK) {
        /* It left on an error of its own: the group ends with it, or the
         * others, which end only when every worker is idle, would wait
         * for this one for ever. */
        coco_workers_t *g = w->g;
        coco__thr_t *t = coco__thr();
        coco__glock(t);
        if (!g->over) {
            g->result = w->rc;
            __atomic_store_n(&g->over, true, __ATOMIC_RELEASE);
            wake_workers(g, true);
        }
        coco__gunlock(t);
    }
}

coco_workers_t *coco_workers_create(size_t nthreads)
{
    if (nthreads == 0)
        nthreads = coco__cpu_count();
    if (nthreads > 1024) {
        errno = EINVAL;
        return NULL;
    }
    coco_workers_t *g = calloc(1, sizeof *g);
    struct worker *w = calloc(nthreads, sizeof *w);
    if (g == NULL || w == NULL) {
        free(g);
        free(w);
        errno = ENOMEM;
        return NULL;
    }
    g->n = nthreads;
    g->w = w;
    for (size_t i = 0; i < nthreads; i++) {
        w[i].g = g;
        w[i].idx = i;
    }
    (void)coco__thr();
    return g;
}

size_t coco_workers_threads(const coco_workers_t *g)
{
    return g != NULL ? g->n : 0;
}

coco_workers_t *coco_workers_self(void)
{
    return tls_worker != NULL && coco__current() != NULL ? tls_worker->g : NULL;
}

int coco_workers_spawn(coco_workers_t *g, void (*entry)(void *), void *arg,
                       size_t stack_size)
{
    if (g == NULL || entry == NULL)
        return COCO_ERROR_INVALID;
    /* A size coco_create() refuses is refused here, where the caller can
     * hear it: a worker would find the task impossible to start, keep it
     * queued and never let the run end. */
    if (stack_size > COCO__STACK_MAX)
        return COCO_ERROR_INVALID;
    struct task *t = malloc(sizeof *t);
    if (t == NULL)
        return COCO_ERROR_NOMEM;
    t->fn = entry;
    t->arg = arg;
    t->stack = stack_size;
    struct worker *w = tls_worker;
    bool outside = w == NULL || w->g != g;
    if (!outside)
        dq_push_tail(&w->q, t);
    else
        dq_push_tail(&g->global, t);
    /* Someone must come for it: wake a sleeping worker.  A task of a
     * worker's own deque is its owner's, which is running, unless an idle
     * worker steals it.  One from outside may find every worker asleep
     * without being idle, each waiting on timers or descriptors of its
     * own: one of them is woken, or sees the task before it sleeps
     * (queued_outside, under the lock taken here after the push). */
    if ((outside && __atomic_load_n(&g->serving, __ATOMIC_SEQ_CST)) ||
        __atomic_load_n(&g->idle, __ATOMIC_SEQ_CST) != 0) {
        coco__thr_t *th = coco__thr();
        coco__glock(th);
        if (__atomic_load_n(&g->serving, __ATOMIC_RELAXED))
            wake_workers(g, false);
        coco__gunlock(th);
    }
    return COCO_OK;
}

static void worker_thread(void *arg)
{
    worker_main(arg);
}

int coco_workers_run(coco_workers_t *g)
{
    /* Not from a coroutine, nor from a scheduler loop's callback (a
     * timer's): worker 0 runs on this thread, whose loop is taken. */
    if (g == NULL || coco__current() != NULL || coco__tls_running != NULL)
        return COCO_ERROR_INVALID;
    int expect = 0;
    if (!__atomic_compare_exchange_n(&g->running, &expect, 1, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return COCO_ERROR_INVALID;
    if (g->n > 1)
        coco__mt_enable(); /* coroutines of several threads share objects */
    int rc = COCO_OK;
    size_t made = 0;
    for (; made < g->n; made++) {
        coco_sched_t *s = coco_sched_create();
        if (s == NULL) {
            rc = COCO_ERROR_NOMEM;
            break;
        }
        coco_sched_set_max_coroutines(s, 0);
        g->w[made].s = s;
        /* Its poller and wake descriptor, made here rather than when its
         * thread starts serving: a worker that cannot have them (no
         * descriptor left) fails the run before any task has started,
         * not once the others are running and wait for it. */
        if (s->ops->arm(s) != COCO_OK) {
            made++;
            rc = COCO_ERROR_NOMEM;
            break;
        }
    }
    g->over = false;
    g->result = COCO_OK;
    __atomic_store_n(&g->idle, 0, __ATOMIC_SEQ_CST);
    /* Spawners from outside may wake the workers from now on. */
    if (rc == COCO_OK)
        __atomic_store_n(&g->serving, true, __ATOMIC_SEQ_CST);
    size_t started = 1;
    if (rc == COCO_OK) {
        for (; started < g->n; started++) {
            /* Each worker's scheduler is made here and run there: the
             * first run hands it over (shared mode is already on). */
            if (coco__thread_start(&g->w[started].th, worker_thread, &g->w[started]) != 0) {
                rc = COCO_ERROR_NOMEM;
                coco__thr_t *t = coco__thr();
                coco__glock(t);
                g->result = rc;
                __atomic_store_n(&g->over, true, __ATOMIC_RELEASE);
                wake_workers(g, true);
                coco__gunlock(t);
                break;
            }
        }
        if (rc == COCO_OK)
            worker_main(&g->w[0]);
        else
            g->w[0].rc = COCO_OK;
    }
    for (size_t i = 1; i < started; i++)
        coco__thread_join(g->w[i].th);
    /* Tasks that never found room stay queued, for a later run or for
     * coco_workers_destroy() to drop. */
    for (size_t i = 0; i < g->n; i++) {
        while (g->w[i].unmade != NULL) {
            struct task *t = g->w[i].unmade;
            g->w[i].unmade = t->next;
            dq_push_tail(&g->global, t);
        }
        __atomic_store_n(&g->w[i].n_unmade, 0, __ATOMIC_RELAXED);
    }
    /* No spawner may look at the schedulers any more. */
    coco__thr_t *self = coco__thr();
    coco__glock(self);
    __atomic_store_n(&g->serving, false, __ATOMIC_RELAXED);
    coco__gunlock(self);
    if (rc == COCO_OK) {
        rc = g->result;
        for (size_t i = 0; i < g->n && rc == COCO_OK; i++)
            if (g->w[i].rc != COCO_OK)
                rc = g->w[i].rc;
    }
    for (size_t i = 0; i < made; i++) {
        /* Its coroutines are over, or stuck for good: those go with it. */
        coco_sched_t *s = g->w[i].s;
        __atomic_store_n(&s->thr, coco__thr(), __ATOMIC_RELAXED);
        coco_sched_destroy(s);
        g->w[i].s = NULL;
    }
    __atomic_store_n(&g->running, 0, __ATOMIC_RELEASE);
    return rc;
}

void coco_workers_destroy(coco_workers_t *g)
{
    if (g == NULL || __atomic_load_n(&g->running, __ATOMIC_ACQUIRE))
        return;
    for (size_t i = 0; i < g->n; i++)
        dq_free_all(&g->w[i].q);
    dq_free_all(&g->global);
    free(g->w);
    free(g);
}
