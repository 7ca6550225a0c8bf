/*
 * mt.c - what crosses threads: thread records, the switch to shared mode,
 * the locks of sections, scheduler inboxes, remote wake-ups, and the
 * bookkeeping behind the deadlock rule for several threads.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco_internal.h"
#include "core/mt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#  include <windows.h>
#else
#  include <pthread.h>
#  include <sched.h>
#  include <sys/mman.h>
#  include <unistd.h>
#endif
#ifdef __linux__
#  include <sys/syscall.h>
#  include <linux/futex.h>
#  include <linux/membarrier.h>
#endif

COCO__TLS coco__thr_t *coco__tls_thr;
COCO__TLS int coco__tls_sect;
COCO__TLS coco__thr_t *coco__tls_key;
const coco__thr_t coco__no_owner;
COCO__TLS int *coco__tls_held;
int coco__mt;
int coco__g;
int coco__all_locks;

/* ------------------------------------------------------------- the lock */


static void thread_yield(void)
{
#ifdef _WIN32
    SwitchToThread();
#else
    sched_yield();
#endif
}

void coco__lock_slow(int *l)
{
    for (unsigned spins = 0; spins < 100; spins++) {
        int free_ = 0;
        if (__atomic_load_n(l, __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(l, &free_, 1, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return;
        coco__cpu_relax();
    }
#ifdef __linux__
    /* Marked 2 from here on: whoever unlocks wakes a sleeper. */
    while (__atomic_exchange_n(l, 2, __ATOMIC_ACQUIRE) != 0)
        syscall(SYS_futex, l, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
#else
    for (;;) {
        int free_ = 0;
        if (__atomic_load_n(l, __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(l, &free_, 1, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return;
        thread_yield();
    }
#endif
}

void coco__unlock_wake(int *l)
{
#ifdef __linux__
    syscall(SYS_futex, l, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
#else
    (void)l;
#endif
}

/* ----------------------------------------------------- thread records */

/* Every record ever made, live or free; records are reused, never freed.
 * Guarded by reg_lock (a spin lock of its own: taken only on a thread's
 * first use, at its exit and by the switch to shared mode). */
static coco__thr_t *thr_list;
static int reg_lock;

static void reg_enter(void)
{
    coco__lock(&reg_lock);
}

static void reg_leave(void)
{
    coco__unlock(&reg_lock);
}

/* The thread exits: its record may serve another, and nothing may touch
 * its thread-locals any more. */
static void thr_exit(void *p)
{
    coco__thr_t *t = p;
    reg_enter();
    t->in_op = NULL;
    reg_leave();
}

#ifdef _WIN32
/* A fiber-local slot whose callback runs as each thread exits. */
static DWORD fls_slot = FLS_OUT_OF_INDEXES;
static int fls_state; /* 0, 1 being made, 2 made */

static VOID WINAPI fls_exit(PVOID p)
{
    if (p != NULL)
        thr_exit(p);
}

static void thr_exit_hook(coco__thr_t *t)
{
    int expect = 0;
    if (__atomic_compare_exchange_n(&fls_state, &expect, 1, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        fls_slot = FlsAlloc(fls_exit);
        __atomic_store_n(&fls_state, 2, __ATOMIC_RELEASE);
    }
    while (__atomic_load_n(&fls_state, __ATOMIC_ACQUIRE) != 2)
        SwitchToThread();
    if (fls_slot != FLS_OUT_OF_INDEXES)
        FlsSetValue(fls_slot, t);
}
#else
static pthread_key_t thr_key;
static pthread_once_t thr_key_once = PTHREAD_ONCE_INIT;

static void forget_other_threads(void);

/* fork(): the child must not inherit the locks held, or the marks of
 * operations under way, of threads it does not have. */
static void fork_prepare(void)
{
    coco__lock(&reg_lock);
    for (coco__thr_t *t = thr_list; t != NULL; t = t->next)
        coco__lock(&t->lock);
    coco__lock(&coco__g);
}

static void fork_parent(void)
{
    coco__unlock(&coco__g);
    for (coco__thr_t *t = thr_list; t != NULL; t = t->next)
        coco__unlock(&t->lock);
    coco__unlock(&reg_lock);
}

static void fork_child(void)
{
    for (coco__thr_t *t = thr_list; t != NULL; t = t->next) {
        if (t != coco__tls_thr)
            t->in_op = NULL; /* free for the child's next thread */
        __atomic_store_n(&t->lock, 0, __ATOMIC_RELAXED);
    }
    forget_other_threads();
    __atomic_store_n(&coco__g, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&reg_lock, 0, __ATOMIC_RELAXED);
}

static void thr_key_make(void)
{
    (void)pthread_key_create(&thr_key, thr_exit);
    (void)pthread_atfork(fork_prepare, fork_parent, fork_child);
}
#endif

coco__thr_t *coco__thr_slow(void)
{
    reg_enter();
    coco__thr_t *t = thr_list;
    while (t != NULL && t->in_op != NULL)
        t = t->next;
    if (t == NULL) {
        /* Aligned by hand (records are never freed): its lock must not
         * share a cache line with anything another thread writes. */
        char *p = calloc(1, sizeof *t + _Alignof(coco__thr_t));
        if (p == NULL) {
            reg_leave();
            /* Nothing sensible is left to do: every later call would fail. */
            abort();
        }
        uintptr_t a = _Alignof(coco__thr_t);
        t = (coco__thr_t *)(void *)(p + ((a - (uintptr_t)p % a) % a));
        t->next = thr_list;
        /* Published for lock takers that walk the list without the
         * registry lock (coco__lock_all). */
        __atomic_store_n(&thr_list, t, __ATOMIC_RELEASE);
    }
    t->in_op = &coco__tls_sect;
    t->key = &coco__tls_key;
    /* A new user: the schedulers made by the last one are not its own. */
    t->gen++;
    __atomic_store_n(&t->nmade, 0, __ATOMIC_RELAXED);
    /* Under the registry lock, which the switch to shared mode takes to
     * clear every key after raising the mode. */
    __atomic_store_n(&coco__tls_key,
                     __atomic_load_n(&coco__mt, __ATOMIC_SEQ_CST) == 0 ? t : NULL,
                     __ATOMIC_RELAXED);
    reg_leave();
#ifdef _WIN32
    thr_exit_hook(t);
#else
    pthread_once(&thr_key_once, thr_key_make);
    (void)pthread_setspecific(thr_key, t);
#endif
    coco__tls_thr = t;
    return t;
}

/* ------------------------------------------------- the switch to shared */

/* Makes every other thread of the process execute a full memory barrier
 * before this returns: afterwards, none of them can read the mode as it
 * was before the caller raised it, and each one's mark of an unlocked
 * operation in progress is visible here. */
static void process_barrier(void)
{
#ifdef _WIN32
    FlushProcessWriteBuffers();
#else
#  if defined(__linux__) && defined(SYS_membarrier)
    static int registered;
    if (!registered) {
        registered = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0
                         ? 1 : -1;
    }
    if (registered == 1 &&
        syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) == 0)
        return;
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0) == 0)
        return;
#  endif
    /* Changing the protection of a page this thread has written makes the
     * kernel interrupt every processor running a thread of the process to
     * flush its translations, which serializes each of them. */
    static char *page;
    long size = sysconf(_SC_PAGESIZE);
    if (page == NULL) {
        void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            abort();
        page = p;
    }
    *(volatile char *)page = 1;
    if (mprotect(page, (size_t)size, PROT_READ) != 0 ||
        mprotect(page, (size_t)size, PROT_READ | PROT_WRITE) != 0)
        abort();
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

void coco__mt_enable(void)
{
    if (__atomic_load_n(&coco__mt, __ATOMIC_ACQUIRE) == 2)
        return;
    /* One thread switches; the others wait until it is done. */
    int expect = 0;
    if (!__atomic_compare_exchange_n(&coco__mt, &expect, 1, false,
                                     __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        while (__atomic_load_n(&coco__mt, __ATOMIC_ACQUIRE) != 2)
            thread_yield();
        return;
    }
    coco__thr_t *self = coco__tls_thr;
    reg_enter();
    for (coco__thr_t *t = thr_list; t != NULL; t = t->next)
        if (t->in_op != NULL)
            __atomic_store_n(t->key, NULL, __ATOMIC_RELAXED);
    process_barrier();
    for (coco__thr_t *t = thr_list; t != NULL; t = t->next) {
        if (t == self)
            continue;
        /* An operation that read the old mode is still running: it is
         * short, and cannot wait for anything this thread holds. */
        while (t->in_op != NULL &&
               __atomic_load_n(t->in_op, __ATOMIC_ACQUIRE) == COCO__SECT_OPEN)
            thread_yield();
    }
    reg_leave();
    __atomic_store_n(&coco__mt, 2, __ATOMIC_SEQ_CST);
}

static void mt_on(void)
{
    if (__atomic_load_n(&coco__mt, __ATOMIC_ACQUIRE) != 2)
        coco__mt_enable();
}

/* The thread's snapshot of the record list while it holds every lock: a
 * record made since owns no object this section touches (its thread had
 * none when the section began), and is not locked. */
static COCO__TLS coco__thr_t *all_from;

void coco__lock_all(void)
{
    coco__thr_t *head = __atomic_load_n(&thr_list, __ATOMIC_ACQUIRE);
    all_from = head;
    for (coco__thr_t *t = head; t != NULL; t = t->next)
        coco__lock(&t->lock);
    coco__lock(&coco__g);
    coco__tls_held = &coco__all_locks;
    __atomic_store_n(&coco__tls_sect, COCO__SECT_LOCKED, __ATOMIC_RELAXED);
}

void coco__unlock_all(void)
{
    coco__unlock(&coco__g);
    for (coco__thr_t *t = all_from; t != NULL; t = t->next)
        coco__unlock(&t->lock);
}

static void enter_locked(const coco__thr_t *owner)
{
    mt_on();
    if (owner == &coco__no_owner)
        coco__lock_all();
    else
        coco__sect_lock(&((coco__thr_t *)owner)->lock);
}

/* A thread on its first section has no key yet: it tries again once it
 * has one. */
static bool enter_open(void)
{
    __atomic_store_n(&coco__tls_sect, COCO__SECT_OPEN, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(&coco__tls_key, __ATOMIC_RELAXED) != NULL)
        return true;
    __atomic_store_n(&coco__tls_sect, COCO__SECT_NONE, __ATOMIC_RELEASE);
    return false;
}

void coco__sect_enter_slow(const coco__thr_t *owner)
{
    if (coco__tls_thr == NULL && coco__thr() == owner && enter_open())
        return;
    enter_locked(owner);
}

void coco__sect_enter_ref_slow(const coco__thr_t *const *owner_ref)
{
    const coco__thr_t *owner = __atomic_load_n(owner_ref, __ATOMIC_RELAXED);
    if (coco__tls_thr == NULL && coco__thr() == owner && enter_open())
        return;
    mt_on();
    for (;;) {
        owner = __atomic_load_n(owner_ref, __ATOMIC_RELAXED);
        if (owner == &coco__no_owner) {
            coco__lock_all();
            return;
        }
        coco__sect_lock(&((coco__thr_t *)owner)->lock);
        /* The owner changes only under every lock, and only once. */
        if (__atomic_load_n(owner_ref, __ATOMIC_RELAXED) == owner)
            return;
        coco__sect_unlock();
    }
}

void coco__sect_enter_any_slow(void)
{
    if (coco__tls_thr == NULL) {
        (void)coco__thr();
        if (enter_open())
            return;
    }
    mt_on();
    coco__lock_all();
}

/* ------------------------------------------------------ guarded waits */

void coco__park_unlock(coco_co_t *co)
{
    if (co->wait_on == COCO__ON_GROUP) {
        *(int **)co->wait_obj = coco__tls_held;
        co->flags |= COCO__GUARDED;
    }
    coco__sect_unlock();
}

/* The lock whose holder may touch the parked co (wake it, hand it
 * something, forget what it was handed): &coco__all_locks when unknown,
 * NULL when only this thread may.  Read without a lock, while such a
 * holder may change wait_on (to COCO__ON_HANDOFF or, in the inbox, to
 * COCO__ON_NOTHING): either value leads to a lock that covers what is
 * left to do, and the caller reads the state again under it.  wait_obj
 * and flags are only written by this thread, or by others while the
 * coroutine waits on nothing. */
static int *guard_of(const coco_co_t *co)
{
    switch (__atomic_load_n(&co->wait_on, __ATOMIC_ACQUIRE)) {
    case COCO__ON_REMOTE:
        return &coco__g;
    case COCO__ON_GROUP:
    case COCO__ON_HANDOFF:
        /* Not marked: it parked in single mode, on objects of the thread
         * that ran its scheduler then (which may have changed since). */
        if (co->flags & COCO__GUARDED)
            return *(int *const *)co->wait_obj;
        return &coco__all_locks;
    default:
        /* Waits on nothing another thread touches (a sleep, I/O, a join),
         * or was woken through the inbox (whose own lock guards that). */
        return NULL;
    }
}

void coco__sect_enter_guard(coco_co_t *co)
{
    int *l = guard_of(co);
    if (l == &coco__g)
        coco__sect_lock(l); /* helper threads take it in any mode */
    else if (l == NULL)
        coco__sect_enter(coco__thr());
    else if (l == &coco__all_locks)
        coco__sect_enter_any();
    else
        coco__sect_lock(l); /* set in shared mode only */
}

/* --------------------------------------------------------- the inboxes */

void coco__wake_remote(coco_co_t *co)
{
    coco_sched_t *s = co->pub.sched;
    /* Atomic: coco_get_state() reads it on its scheduler's thread without
     * a lock. */
    __atomic_store_n(&co->state, COCO__STATE_INBOX, __ATOMIC_RELAXED);
    /* After the state: its scheduler, seeing COCO__ON_NOTHING without a
     * lock (guard_of), reads the state next.  wait_obj stays: only its
     * own scheduler writes that while others may read it. */
    if (co->wait_on != COCO__ON_HANDOFF)
        __atomic_store_n(&co->wait_on, COCO__ON_NOTHING, __ATOMIC_RELEASE);
    /* One atomic operation on the inbox's line: a loop spinning on it
     * would take the line back between a lock and an unlock.  The
     * scheduler cannot go away meanwhile: its destroy takes every lock,
     * and the caller holds the one guarding co's wait. */
    coco_co_t *head = __atomic_load_n(&s->inbox, __ATOMIC_RELAXED);
    do
        co->next = head;
    while (!__atomic_compare_exchange_n(&s->inbox, &head, co, true, __ATOMIC_SEQ_CST,
                                        __ATOMIC_RELAXED));
    /* It has something to do now (the deadlock rule, below): the flag is
     * read after the push, as the rule reads the inbox after setting it,
     * so one of the two sees the other. */
    if (coco__unlikely(__atomic_load_n(&s->stuck, __ATOMIC_SEQ_CST) != 0))
        __atomic_store_n(&s->stuck, 0, __ATOMIC_SEQ_CST);
    /* The same for sleeping, which the loop sets before it looks at the
     * inbox a last time (lib/loop/loop.c). */
    if (coco__unlikely(__atomic_load_n(&s->sleeping, __ATOMIC_SEQ_CST))) {
        coco__inbox_lock(s);
        if (s->sleeping && !s->notified) {
            s->notified = true;
            s->ops->notify(s);
        }
        coco__inbox_unlock(s);
    }
}

/* Moves what other threads pushed to the end of the list of taken ones,
 * in the order they were pushed. */
static void inbox_take(coco_sched_t *s)
{
    coco_co_t *co = __atomic_exchange_n(&s->inbox, NULL, __ATOMIC_ACQUIRE);
    coco_co_t *after = NULL, *first = co;
    if (co == NULL)
        return;
    /* Newest first: link prev backwards, and the oldest ends the list. */
    while (co != NULL) {
        coco_co_t *older = co->next;
        co->next = after;
        co->prev = older;
        after = co;
        co = older;
    }
    /* after is the oldest now, first the newest. */
    after->prev = s->inbox_last;
    if (s->inbox_last != NULL)
        s->inbox_last->next = after;
    else
        s->inbox_first = after;
    s->inbox_last = first;
}

void coco__inbox_remove(coco_sched_t *s, coco_co_t *co)
{
    inbox_take(s);
    if (co->prev != NULL)
        co->prev->next = co->next;
    else
        s->inbox_first = co->next;
    if (co->next != NULL)
        co->next->prev = co->prev;
    else
        s->inbox_last = co->prev;
    co->state = COCO_STATE_WAITING;
}

void coco__inbox_drain_slow(coco_sched_t *s)
{
    s->polls_since_remote = 0;
    inbox_take(s);
    coco_co_t *co = s->inbox_first;
    s->inbox_first = s->inbox_last = NULL;
    s->acted = true;
    /* Off the list, the coroutines are this thread's alone: nothing but
     * their own scheduler touches a coroutine in the inbox, and whoever
     * woke it had finished with it before it was put there.  Except the
     * hand-off: destroying its object forgets it at any time
     * (coco__waitq_forget_handed), and the coroutine reads it again when
     * it runs (coco__wait_back). */
    while (co != NULL) {
        coco_co_t *next = co->next;
        if (!(co->flags & COCO__WAIT_HEAP) &&
            __atomic_load_n(&co->wait_on, __ATOMIC_ACQUIRE) != COCO__ON_HANDOFF)
            co->wait_obj = NULL;
        coco__wake_inboxed(s, co);
        co = next;
    }
}

/* --------------------------------------------------- the deadlock rule */

static coco_sched_t *all_scheds;
/* When a scheduler last went away (coco__clock_ms; under coco__g): the
 * rule's grace counts from there too, as its thread may be about to make
 * or run another. */
static uint64_t gone_at;

#ifndef _WIN32
/* In a child of fork(): the schedulers of the other threads are copies
 * nobody runs; they stay for the child to destroy, out of the list. */
static void forget_other_threads(void)
{
    coco_sched_t *s = all_scheds;
    while (s != NULL) {
        coco_sched_t *next = s->all_next;
        if (s->thr != coco__tls_thr) {
            if (s->all_prev != NULL)
                s->all_prev->all_next = s->all_next;
            else
                all_scheds = s->all_next;
            if (s->all_next != NULL)
                s->all_next->all_prev = s->all_prev;
            s->all_prev = s->all_next = s;
            __atomic_store_n(&s->in_run, 0, __ATOMIC_RELAXED);
            /* Its loop may have held the lock of its sleep flags. */
            __atomic_store_n(&s->inbox_lock, 0, __ATOMIC_RELAXED);
        }
        s = next;
    }
}
#endif

unsigned long coco__sched_gone;
COCO__TLS unsigned long coco__tls_sched_seen;

void coco__sched_register(coco_sched_t *s)
{
    coco__thr_t *t = coco__thr();
    s->thr = t;
    reg_enter();
    s->maker = t;
    s->maker_gen = t->gen;
    __atomic_store_n(&t->nmade, t->nmade + 1, __ATOMIC_RELAXED);
    reg_leave();
    coco__glock(t);
    s->all_prev = NULL;
    s->all_next = all_scheds;
    if (all_scheds != NULL)
        all_scheds->all_prev = s;
    all_scheds = s;
    coco__gunlock(t);
}

unsigned coco__sched_made_here(void)
{
    return __atomic_load_n(&coco__thr()->nmade, __ATOMIC_RELAXED);
}

void coco__sched_unregister(coco_sched_t *s, uint64_t now)
{
    coco__thr_t *t = coco__thr();
    /* Its maker may be another thread, or gone, its record reused. */
    reg_enter();
    coco__thr_t *m = s->maker;
    if (m->gen == s->maker_gen)
        __atomic_store_n(&m->nmade, m->nmade - 1, __ATOMIC_RELAXED);
    reg_leave();
    coco__glock(t);
    if (s->all_prev != s) { /* else left out of the list by fork() */
        if (s->all_prev != NULL)
            s->all_prev->all_next = s->all_next;
        else
            all_scheds = s->all_next;
        if (s->all_next != NULL)
            s->all_next->all_prev = s->all_prev;
    }
    /* Before the memory goes: a thread that finds the count unchanged
     * since it last looked knows its current scheduler is still there. */
    __atomic_store_n(&coco__sched_gone, coco__sched_gone + 1, __ATOMIC_RELEASE);
    gone_at = now;
    coco__gunlock(t);
    coco__sched_recheck();
}

/* Under coco__g: the newest listed scheduler made by t's present user. */
static coco_sched_t *newest_made(const coco__thr_t *t)
{
    for (coco_sched_t *s = all_scheds; s != NULL; s = s->all_next)
        if (s->maker == t && s->maker_gen == t->gen)
            return s;
    return NULL;
}

coco_sched_t *coco__sched_current_slow(void)
{
    coco__thr_t *t = coco__thr();
    coco__glock(t);
    unsigned long gone = coco__sched_gone;
    coco_sched_t *s = all_scheds;
    while (s != NULL && s != coco__tls_sched)
        s = s->all_next;
    if (s == NULL)
        s = newest_made(t);
    coco__gunlock(t);
    coco__tls_sched = s;
    coco__tls_sched_seen = gone;
    return s;
}

/* Under the lock: can s still make progress by itself, or wake others?
 *
 * Wake-ups do not take this lock: a waker fills s's inbox, then clears
 * s->stuck (sequentially consistent, both).  A wake-up in flight is not missed
 * for all that.  Whoever sends one is either a plain thread, which the
 * rule does not count (as before: a thread that is not running a
 * scheduler is outside it), or a coroutine of a scheduler that is
 * running, not stuck: its stuck flag is clear (cleared under this lock
 * when it left its last sleep) until it calls coco__sched_stuck() again,
 * under this lock, after its wake-up is in the inbox (it sent it before
 * going back to its loop).  So any decision taken under this lock sees
 * either the sender still able to act, or the inbox already filled. */
static bool may_act(const coco_sched_t *s)
{
    return !(__atomic_load_n(&s->in_run, __ATOMIC_ACQUIRE) &&
             __atomic_load_n(&s->stuck, __ATOMIC_SEQ_CST)) ||
           coco__inbox_full(s);
}

/* Under the lock: nothing that may act is left on another thread. */
static bool alone(const coco_sched_t *s)
{
    const coco__thr_t *mine = __atomic_load_n(&s->thr, __ATOMIC_RELAXED);
    for (coco_sched_t *o = all_scheds; o != NULL; o = o->all_next)
        if (o != s && __atomic_load_n(&o->thr, __ATOMIC_RELAXED) != mine && may_act(o))
            return false;
    return true;
}

/* Under the lock: wakes s if its loop sleeps in the poller. */
static void wake_sleeper(coco_sched_t *s)
{
    coco__inbox_lock(s);
    if (s->sleeping && !s->notified) {
        s->notified = true;
        s->ops->notify(s);
    }
    coco__inbox_unlock(s);
}

/* Under the lock: tells every stuck scheduler for which nothing may act
 * on another thread.  Returns true if it told any. */
static bool tell_stuck(void)
{
    bool told = false;
    for (coco_sched_t *s = all_scheds; s != NULL; s = s->all_next) {
        if (may_act(s) || s->deadlocked)
            continue;
        if (alone(s)) {
            s->deadlocked = true;
            told = true;
            wake_sleeper(s);
        }
    }
    return told;
}

/* Under the lock, s alone: since when s and every scheduler of another
 * thread have all been stuck. */
static uint64_t all_stuck_since(const coco_sched_t *s)
{
    const coco__thr_t *mine = __atomic_load_n(&s->thr, __ATOMIC_RELAXED);
    uint64_t since = gone_at > s->stuck_since ? gone_at : s->stuck_since;
    for (coco_sched_t *o = all_scheds; o != NULL; o = o->all_next)
        if (o != s && __atomic_load_n(&o->thr, __ATOMIC_RELAXED) != mine &&
            o->stuck_since > since)
            since = o->stuck_since;
    return since;
}

int coco__sched_stuck(coco_sched_t *s, uint64_t now, unsigned grace_ms, int *left_ms)
{
    coco__thr_t *t = coco__thr();
    coco__glock(t);
    __atomic_store_n(&s->stuck, 1, __ATOMIC_SEQ_CST);
    /* Woken for nothing since it last looked, it has been stuck all
     * along: wake-ups that bring nothing must not put the verdict off. */
    if (s->acted) {
        s->acted = false;
        s->stuck_since = now;
    }
    int rc = 0;
    if (alone(s)) {
        /* The grace is for a thread that is about to make or run a
         * scheduler, and is counted from the moment the last of the
         * others got stuck, not from when s first found itself alone. */
        uint64_t since = all_stuck_since(s);
        uint64_t lasted = now > since ? now - since : 0;
        rc = 1;
        *left_ms = 1;
        if (lasted >= grace_ms)
            (void)tell_stuck();
        else
            *left_ms = (int)(grace_ms - lasted);
    }
    if (s->deadlocked)
        rc = 2;
    coco__gunlock(t);
    return rc;
}

void coco__sched_recheck(void)
{
    if (coco__mt_mode() == 0)
        return;
    coco__thr_t *t = coco__thr();
    coco__glock(t);
    /* Not told yet: the thread whose scheduler went away may be about to
     * make or run another, which no rule can see until it does.  Each one
     * left alone looks again itself, and waits out its grace first
     * (lib/loop/loop.c); one that sleeps for ever, because another could
     * act when it last looked, would otherwise never look again. */
    for (coco_sched_t *s = all_scheds; s != NULL; s = s->all_next) {
        if (may_act(s) || s->deadlocked || !alone(s))
            continue;
        s->recheck = true;
        wake_sleeper(s);
    }
    coco__gunlock(t);
}

bool coco__others_may_act(bool (*mine)(const coco_sched_t *s, void *arg), void *arg)
{
    for (coco_sched_t *o = all_scheds; o != NULL; o = o->all_next)
        if (!mine(o, arg) && may_act(o))
            return true;
    return false;
}
