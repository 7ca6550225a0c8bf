/*
 * core/mt.h - what crosses threads (lib/core/mt.c): the locks that guard
 * shared objects once more than one thread uses them (one per thread
 * that creates objects, and a process-wide one), the sections every
 * operation on a shared object runs in, the inbox through
 * which a coroutine is woken from another thread, and one-shot remote
 * wake-ups for helper threads.
 *
 * A process starts in single mode: an operation on a channel, mutex...
 * takes no lock, and only marks its thread busy (in_op), which costs two
 * stores.  The first time a thread touches an object or a scheduler that
 * another thread created, the process switches to shared mode for good
 * (coco__mt_enable): it raises coco__mt, makes every other thread see it
 * (an expedited process-wide memory barrier), and waits until no thread
 * is still inside an unlocked operation.  From then on every operation
 * on a shared object holds the lock of the thread that created it.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_CORE_MT_H
#define COCO_CORE_MT_H

#include "core/coro.h"

/* A thread that uses Coco: one record each, found through a
 * thread-local pointer, listed so that the switch to shared mode can
 * wait for threads inside an unlocked operation.  Records are never
 * freed, and the list only grows at its head, so every record keeps its
 * place in it for good.  Aligned so that its lock has a cache line of
 * its own. */
typedef struct coco__thr {
    /* Guards, in shared mode, every object the thread created (and what
     * those link: waiter records, handed lists).  A coco__lock(). */
    int lock;
    int *in_op;                  /* its coco__tls_sect, NULL once it exited
                                    (under the registry lock) */
    struct coco__thr **key;      /* its coco__tls_key */
    struct coco__thr *next;      /* every record, live or free for reuse */
    /* Under the registry lock: which thread uses the record (one more on
     * every reuse), and how many schedulers that thread made are alive,
     * whichever thread destroys them. */
    unsigned gen;
    unsigned nmade;
} __attribute__((aligned(64))) coco__thr_t;

extern COCO__TLS coco__thr_t *coco__tls_thr;
/* The thread's record in single mode, NULL in shared mode (the switch
 * clears every thread's): an object made by the thread matches it only
 * while no lock is needed, which makes that one comparison. */
extern COCO__TLS coco__thr_t *coco__tls_key;
/* An owner no thread ever matches: objects of several threads at once. */
extern const coco__thr_t coco__no_owner;
/* COCO__SECT_*: whether the thread is inside a section, and whether it
 * holds the process-wide lock (atomic: the switch to shared mode reads it
 * from another thread). */
extern COCO__TLS int coco__tls_sect;
enum { COCO__SECT_NONE = 0, COCO__SECT_OPEN = 1, COCO__SECT_LOCKED = 2 };
/* 0: single mode; 1: switching; 2: shared mode.  Only ever goes up. */
extern int coco__mt;

/* The calling thread's record, made on its first use. */
coco__thr_t *coco__thr_slow(void);
static COCO__ALWAYS_INLINE coco__thr_t *coco__thr(void)
{
    coco__thr_t *t = coco__tls_thr;
    if (coco__unlikely(t == NULL))
        t = coco__thr_slow();
    return t;
}

/* Switches the process to shared mode (idempotent), and returns once the
 * switch is complete.  Never call it inside a section. */
void coco__mt_enable(void);

static inline int coco__mt_mode(void)
{
    return __atomic_load_n(&coco__mt, __ATOMIC_RELAXED);
}

/* A pause in a spin loop. */
static inline void coco__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* A lock for short critical sections: 0 free, 1 held, 2 held with
 * threads asleep on it.  A waiter spins a little, then sleeps in the
 * kernel (a futex on Linux; elsewhere it yields), so that a holder that
 * was preempted costs the others no more than its time off the
 * processor. */
void coco__lock_slow(int *l);
void coco__unlock_wake(int *l);
static COCO__ALWAYS_INLINE void coco__lock(int *l)
{
    int free_ = 0;
    if (coco__unlikely(!__atomic_compare_exchange_n(l, &free_, 1, false, __ATOMIC_ACQUIRE,
                                                     __ATOMIC_RELAXED)))
        coco__lock_slow(l);
}
static COCO__ALWAYS_INLINE void coco__unlock(int *l)
{
    if (coco__unlikely(__atomic_exchange_n(l, 0, __ATOMIC_RELEASE) == 2))
        coco__unlock_wake(l);
}

/* The locks, and the order they are taken in (no thread ever waits for
 * a lock earlier in this order than one it holds):
 *
 *   1. object locks: the lock of the thread record that owns an object
 *      (coco__thr_t.lock).  A section holds either one of them, or every
 *      one ("all": a section over objects of several threads), taken in
 *      the order of the record list.  A thread that holds one never takes
 *      another.
 *   2. coco__g, the process-wide lock: the scheduler registry and the
 *      deadlock rule, worker groups, the remote wake-ups of
 *      coco__remote_wait().  Whoever holds it takes no object lock; a
 *      section over "all" takes it last.
 *   3. a scheduler's inbox lock (coco_sched.inbox_lock): its sleep
 *      flags.  A leaf: nothing is taken while it is held.  The inbox
 *      itself takes no lock: wakers push with compare-and-swap, and the
 *      scheduler's own thread takes the whole list at once.
 */
extern int coco__g;
/* Not a lock: stands, where a lock is named, for "every object lock and
 * coco__g" (a section over objects of several threads). */
extern int coco__all_locks;
/* The lock (or &coco__all_locks) the thread's section holds, while
 * coco__tls_sect is COCO__SECT_LOCKED. */
extern COCO__TLS int *coco__tls_held;

/* Takes every object lock, then coco__g, and marks the section locked. */
void coco__lock_all(void);
void coco__unlock_all(void);

static COCO__ALWAYS_INLINE void coco__sect_lock(int *l)
{
    coco__lock(l);
    coco__tls_held = l;
    __atomic_store_n(&coco__tls_sect, COCO__SECT_LOCKED, __ATOMIC_RELAXED);
}

/* Releases what the locked section holds. */
static COCO__ALWAYS_INLINE void coco__sect_unlock(void)
{
    int *l = coco__tls_held;
    __atomic_store_n(&coco__tls_sect, COCO__SECT_NONE, __ATOMIC_RELAXED);
    if (coco__unlikely(l == &coco__all_locks))
        coco__unlock_all();
    else
        coco__unlock(l);
}

/* A section under the process-wide lock. */
static COCO__ALWAYS_INLINE void coco__glock(coco__thr_t *t)
{
    (void)t;
    coco__sect_lock(&coco__g);
}
static COCO__ALWAYS_INLINE void coco__gunlock(coco__thr_t *t)
{
    (void)t;
    coco__sect_unlock();
}

/* Sections: every operation on a shared object (and on what it links:
 * waiter records, handed lists) runs in one; coco__tls_sect says whether
 * it holds a lock, and coco__tls_held which.  Sections do not nest. */

/* The other halves of entering: the thread is new, the mode is shared,
 * or the object is another thread's. */
void coco__sect_enter_slow(const coco__thr_t *owner);
void coco__sect_enter_any_slow(void);
void coco__sect_enter_ref_slow(const coco__thr_t *const *owner_ref);

/* For an operation on an object made by the thread owner (&coco__no_owner:
 * objects of several threads).  In single mode on the thread's own
 * object: a store, a load and a comparison; in shared mode it holds
 * owner's lock (every lock for &coco__no_owner). */
static COCO__ALWAYS_INLINE void coco__sect_enter(const coco__thr_t *owner)
{
    __atomic_store_n(&coco__tls_sect, COCO__SECT_OPEN, __ATOMIC_RELAXED);
    /* The store above must not sink below the load of the key: the switch
     * to shared mode puts a barrier into this thread for the processor,
     * this one is for the compiler. */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (coco__likely(owner == __atomic_load_n(&coco__tls_key, __ATOMIC_RELAXED)))
        return;
    __atomic_store_n(&coco__tls_sect, COCO__SECT_NONE, __ATOMIC_RELEASE);
    coco__sect_enter_slow(owner);
}

/* coco__sect_enter() for an object whose owner may change, under every
 * lock, to &coco__no_owner (a channel a select over several threads'
 * channels waited on): *owner_ref is read again once its lock is held. */
static COCO__ALWAYS_INLINE void coco__sect_enter_ref(const coco__thr_t *const *owner_ref)
{
    __atomic_store_n(&coco__tls_sect, COCO__SECT_OPEN, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (coco__likely(__atomic_load_n(owner_ref, __ATOMIC_RELAXED) ==
                     __atomic_load_n(&coco__tls_key, __ATOMIC_RELAXED)))
        return;
    __atomic_store_n(&coco__tls_sect, COCO__SECT_NONE, __ATOMIC_RELEASE);
    coco__sect_enter_ref_slow(owner_ref);
}

/* For a section on objects this thread already used in a section before,
 * of whatever owner: in shared mode it holds every lock. */
static COCO__ALWAYS_INLINE void coco__sect_enter_any(void)
{
    __atomic_store_n(&coco__tls_sect, COCO__SECT_OPEN, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (coco__likely(__atomic_load_n(&coco__tls_key, __ATOMIC_RELAXED) != NULL))
        return;
    __atomic_store_n(&coco__tls_sect, COCO__SECT_NONE, __ATOMIC_RELEASE);
    coco__sect_enter_any_slow();
}

/* For the owner of s, acting on any of its coroutines (an overflow, the
 * scheduler's end): while one of them waits in coco__remote_wait(), a
 * helper thread may touch it whatever the mode, so every lock is taken. */
static inline void coco__sect_enter_sched(coco_sched_t *s)
{
    if (coco__unlikely(s->remote_waits != 0))
        coco__lock_all();
    else
        coco__sect_enter_any();
}

/* For the thread running co's scheduler, acting on co, parked or woken
 * but not run yet (its deadline, its destroy, taking what it was handed):
 * the section holds the lock that guarded its wait, which whoever wakes
 * it holds (coco__park_leave() records it). */
void coco__sect_enter_guard(coco_co_t *co);

static COCO__ALWAYS_INLINE void coco__sect_leave(void)
{
    if (coco__unlikely(__atomic_load_n(&coco__tls_sect, __ATOMIC_RELAXED) ==
                       COCO__SECT_LOCKED))
        coco__sect_unlock();
    else
        __atomic_store_n(&coco__tls_sect, COCO__SECT_NONE, __ATOMIC_RELEASE);
}

/* Leaves the locked section for coco__park_leave(), recording in co's
 * wait what it held. */
void coco__park_unlock(coco_co_t *co);

/* A scheduler's inbox lock (the leaf of the order above). */
static COCO__ALWAYS_INLINE void coco__inbox_lock(coco_sched_t *s)
{
    coco__lock(&s->inbox_lock);
}
static COCO__ALWAYS_INLINE void coco__inbox_unlock(coco_sched_t *s)
{
    coco__unlock(&s->inbox_lock);
}

/* Inside a locked section: true when co must be woken through its
 * scheduler's inbox, because this thread is not running that scheduler. */
static COCO__ALWAYS_INLINE bool coco__wake_is_remote(const coco_co_t *co)
{
    return coco__unlikely(__atomic_load_n(&coco__tls_sect, __ATOMIC_RELAXED) ==
                          COCO__SECT_LOCKED) &&
           co->pub.sched != coco__tls_running;
}

/* In a locked section (the one guarding co's wait): makes the parked co,
 * whose wait was satisfied, runnable on its own scheduler, which takes it
 * from its inbox.  A hand-off is recorded (coco__wait_handed()) before,
 * not after: once co is in the inbox, its scheduler may run it. */
void coco__wake_remote(coco_co_t *co);

/* Parks the running coroutine, whose wait_on and wait_obj are set and
 * whose records are queued, leaving the section it is in (the lock is
 * released only once it is WAITING).  For a wait on waiter records
 * (COCO__ON_GROUP, wait_obj the group's first record, whose first member
 * is a lock pointer) in a locked section, the lock held is stored there
 * and the coroutine marked COCO__GUARDED: coco__sect_enter_guard() takes
 * the same.  Entering a section again after it
 * runs is the caller's business (lib/core/sched.c). */
void coco__park_leave(coco_sched_t *s);

/* True when other threads have put something in s's inbox (from any
 * thread; what its own thread took but has not queued yet is not
 * counted). */
static inline bool coco__inbox_full(const coco_sched_t *s)
{
    return __atomic_load_n(&s->inbox, __ATOMIC_SEQ_CST) != NULL;
}

/* The loop: moves what other threads woke from the inbox to the run
 * queue.  Cheap to call when the inbox is empty. */
void coco__inbox_drain_slow(coco_sched_t *s);
static inline void coco__inbox_drain(coco_sched_t *s)
{
    if (coco__unlikely(__atomic_load_n(&s->inbox, __ATOMIC_RELAXED) != NULL ||
                       s->inbox_first != NULL))
        coco__inbox_drain_slow(s);
}
/* co, in the inbox (COCO__STATE_INBOX), is destroyed: takes it out. */
void coco__inbox_remove(coco_sched_t *s, coco_co_t *co);

/* One waiter that another thread (a helper thread, another scheduler's
 * coroutine) wakes: set up by the coroutine that waits, signalled once
 * from anywhere.  Memory of the caller's choosing that must stay valid
 * until coco__remote_signal() has returned or coco__remote_wait() has
 * returned non-OK (see there). */
struct coco__remote {
    coco_co_t *co;               /* the waiting coroutine, NULL once over */
    int state;                   /* private to lib/core/mt.c */
};

/* Parks the running coroutine until coco__remote_signal(r), for at most
 * timeout_ms (COCO_INFINITE: no limit).  r must have been zeroed.
 * COCO_OK: signalled.  COCO_ERROR_TIMEOUT, or COCO_ERROR_NOMEM (no
 * deadline could be set), or the coroutine is destroyed while it waits:
 * r is withdrawn, and a later coco__remote_signal(r) returns false and
 * touches nothing but r.  COCO_ERROR_WOULDBLOCK outside a coroutine. */
int coco__remote_wait(struct coco__remote *r, uint64_t timeout_ms);

/* From any thread, once per r: wakes the coroutine in
 * coco__remote_wait(r) (or lets it return at once if it has not parked
 * yet) and returns true, or returns false when it no longer waits (it
 * timed out or was destroyed).  After it returns true the caller must
 * not touch r again. */
bool coco__remote_signal(struct coco__remote *r);
/* From any thread: true until r is signalled or withdrawn (also before
 * coco__remote_wait(r) has begun), false after.  A true answer may be out
 * of date as soon as it is given; false stays false.  For work that is
 * not worth starting once nobody waits for it. */
bool coco__remote_waiting(struct coco__remote *r);
/* With coco__g held, from the core: co, parked in coco__remote_wait(),
 * gives up (deadline, destroy). */
void coco__remote_cancel(coco_co_t *co);

/* True when a thread other than the caller is running s now: its
 * coroutines and queues are not the caller's to touch. */
static inline bool coco__sched_foreign(const coco_sched_t *s)
{
    return __atomic_load_n(&s->in_run, __ATOMIC_ACQUIRE) &&
           __atomic_load_n(&s->thr, __ATOMIC_RELAXED) != coco__tls_thr;
}

/* Counts destroyed schedulers.  A thread's current scheduler may be
 * destroyed by another thread (it was handed over, or this one ran it
 * once); each thread checks its own against this count before using it. */
extern unsigned long coco__sched_gone;
extern COCO__TLS unsigned long coco__tls_sched_seen;

/* Makes coco__tls_sched a scheduler that exists: the same one if it is
 * still there, else the newest one the thread made (NULL if none). */
coco_sched_t *coco__sched_current_slow(void);

/* The thread's current scheduler (coco__tls_sched), known to exist. */
static inline coco_sched_t *coco__sched_current(void)
{
    coco_sched_t *s = coco__tls_sched;
    if (s != NULL && coco__unlikely(__atomic_load_n(&coco__sched_gone, __ATOMIC_ACQUIRE) !=
                                    coco__tls_sched_seen))
        s = coco__sched_current_slow();
    return s;
}

/* The scheduler calls made outside a coroutine act on: the one this
 * thread runs, else its current one, unless another thread is running
 * that one now (NULL). */
static inline coco_sched_t *coco__sched_here(void)
{
    coco_sched_t *s = coco__tls_running;
    if (s == NULL) {
        s = coco__sched_current();
        if (s != NULL && coco__sched_foreign(s))
            s = NULL;
    }
    return s;
}

/* Schedulers, for the deadlock rule (all under coco__g).  Registering
 * also records the calling thread as s's maker; unregistering counts s
 * out of its maker's schedulers, from whatever thread. */
void coco__sched_register(coco_sched_t *s);
/* How many schedulers the calling thread made are still there. */
unsigned coco__sched_made_here(void);
/* now: coco__clock_ms(), from the loop layer (the core has no clock). */
void coco__sched_unregister(coco_sched_t *s, uint64_t now);
/* s has nothing to do but wait for other threads, at now (coco__clock_ms):
 * 0 while a scheduler of another thread may still act; 1 when none may,
 * but that has lasted less than grace_ms (*left_ms: how much longer); 2
 * when s was told it is deadlocked (once every scheduler has been stuck
 * for grace_ms, all of them are). */
int coco__sched_stuck(coco_sched_t *s, uint64_t now, unsigned grace_ms, int *left_ms);
/* Under the lock: true when a scheduler for which mine() is false may
 * still act (is not stuck inside its loop). */
bool coco__others_may_act(bool (*mine)(const coco_sched_t *s, void *arg), void *arg);
/* After a scheduler went away: every stuck one left alone looks at the
 * rule again, grace included. */
void coco__sched_recheck(void);

/* A scheduler run as a worker of a group (lib/loop/loop.c, for
 * lib/mt/workers.c): the group feeds it tasks and decides when it is
 * over. */
struct coco__serve {
    void *arg;
    /* s has nothing ready: start queued work on it, if any. */
    void (*feed)(void *arg, coco_sched_t *s);
    /* s has nothing to run and nothing of its own to wait for: COCO_OK to
     * sleep (for *ms, -1 for ever; it counts as idle until busy()), 1
     * when the group is over, or the error it ended with
     * (COCO_ERROR_DEADLOCK). */
    int (*idle)(void *arg, coco_sched_t *s, int *ms);
    void (*busy)(void *arg, coco_sched_t *s);
    /* Work is waiting for some worker (read without the lock). */
    bool (*more)(void *arg);
    /* The group is over: no worker may go to sleep. */
    bool (*over)(void *arg);
    /* Under the lock, before s sleeps waiting on its own timers or
     * descriptors: work that any worker may take is queued, and whoever
     * queued it may have found s awake. */
    bool (*queued)(void *arg);
};
int coco__sched_serve(coco_sched_t *s, const struct coco__serve *sv);

#endif /* COCO_CORE_MT_H */
