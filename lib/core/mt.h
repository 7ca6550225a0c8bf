/*
 * core/mt.h - what crosses threads (lib/core/mt.c): the process-wide lock
 * that guards shared objects once more than one thread uses them, the
 * sections every operation on a shared object runs in, the inbox through
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
 * on a shared object holds the lock.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_CORE_MT_H
#define COCO_CORE_MT_H

#include "core/coro.h"

/* A thread that uses Coco: one record each, found through a
 * thread-local pointer, listed so that the switch to shared mode can
 * wait for threads inside an unlocked operation. */
typedef struct coco__thr {
    int *in_op;                  /* its coco__tls_sect, NULL once it exited
                                    (under the registry lock) */
    struct coco__thr **key;      /* its coco__tls_key */
    struct coco__thr *next;      /* every record, live or free for reuse */
} coco__thr_t;

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
/* The scheduler this thread is running now (inside coco_sched_run or
 * run_once), or NULL. */
extern COCO__TLS coco_sched_t *coco__tls_running;
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

/* The process-wide lock. */
extern int coco__g;
static COCO__ALWAYS_INLINE void coco__glock(coco__thr_t *t)
{
    (void)t;
    coco__lock(&coco__g);
    __atomic_store_n(&coco__tls_sect, COCO__SECT_LOCKED, __ATOMIC_RELAXED);
}
static COCO__ALWAYS_INLINE void coco__gunlock(coco__thr_t *t)
{
    (void)t;
    __atomic_store_n(&coco__tls_sect, COCO__SECT_NONE, __ATOMIC_RELAXED);
    coco__unlock(&coco__g);
}

/* Sections: every operation on a shared object (and on what it links:
 * waiter records, handed lists) runs in one; coco__tls_sect says whether
 * it holds the lock.  Sections do not nest. */

/* The other halves of entering: the thread is new, the mode is shared,
 * or the object is another thread's. */
void coco__sect_enter_slow(const coco__thr_t *owner);
void coco__sect_enter_any_slow(void);

/* For an operation on an object made by the thread owner.  In single
 * mode on the thread's own object: a store, a load and a comparison. */
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

/* For a section on objects this thread already used in a section before
 * (a parked coroutine running again, a deadline, a destroy). */
static COCO__ALWAYS_INLINE void coco__sect_enter_any(void)
{
    __atomic_store_n(&coco__tls_sect, COCO__SECT_OPEN, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (coco__likely(__atomic_load_n(&coco__tls_key, __ATOMIC_RELAXED) != NULL))
        return;
    __atomic_store_n(&coco__tls_sect, COCO__SECT_NONE, __ATOMIC_RELEASE);
    coco__sect_enter_any_slow();
}

/* For the owner of s, acting on one of its parked coroutines (a deadline,
 * a destroy): while one of them waits in coco__remote_wait(), a helper
 * thread may touch it whatever the mode, so the lock is taken. */
static inline void coco__sect_enter_sched(coco_sched_t *s)
{
    if (coco__unlikely(s->remote_waits != 0))
        coco__glock(coco__thr());
    else
        coco__sect_enter_any();
}

static COCO__ALWAYS_INLINE void coco__sect_leave(void)
{
    if (coco__unlikely(__atomic_load_n(&coco__tls_sect, __ATOMIC_RELAXED) ==
                       COCO__SECT_LOCKED))
        coco__gunlock(NULL);
    else
        __atomic_store_n(&coco__tls_sect, COCO__SECT_NONE, __ATOMIC_RELEASE);
}

/* Inside a locked section: true when co must be woken through its
 * scheduler's inbox, because this thread is not running that scheduler. */
static COCO__ALWAYS_INLINE bool coco__wake_is_remote(const coco_co_t *co)
{
    return coco__unlikely(__atomic_load_n(&coco__tls_sect, __ATOMIC_RELAXED) ==
                          COCO__SECT_LOCKED) &&
           co->pub.sched != coco__tls_running;
}

/* With the lock held: makes the parked co, whose wait was satisfied,
 * runnable on its own scheduler, which takes it from its inbox. */
void coco__wake_remote(coco_co_t *co);

/* Parks the running coroutine, whose wait_on and wait_obj are set and
 * whose records are queued, leaving the section it is in (the lock is
 * released only once it is WAITING).  Entering a section again after it
 * runs is the caller's business (lib/core/sched.c). */
void coco__park_leave(coco_sched_t *s);

/* The loop: moves what other threads woke from the inbox to the run
 * queue.  Cheap to call when the inbox is empty. */
void coco__inbox_drain_slow(coco_sched_t *s);
static inline void coco__inbox_drain(coco_sched_t *s)
{
    if (coco__unlikely(__atomic_load_n(&s->inbox_n, __ATOMIC_ACQUIRE) != 0))
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
/* With the lock held, from the core: co, parked in coco__remote_wait(),
 * gives up (deadline, destroy). */
void coco__remote_cancel(coco_co_t *co);

/* True when a thread other than the caller is running s now: its
 * coroutines and queues are not the caller's to touch. */
static inline bool coco__sched_foreign(const coco_sched_t *s)
{
    return __atomic_load_n(&s->in_run, __ATOMIC_ACQUIRE) &&
           __atomic_load_n(&s->thr, __ATOMIC_RELAXED) != coco__tls_thr;
}

/* Schedulers, for the deadlock rule (all under the lock). */
void coco__sched_register(coco_sched_t *s);
void coco__sched_unregister(coco_sched_t *s);
/* s has nothing to do but wait for other threads: 0 while a scheduler of
 * another thread may still act, 1 when none may (then, if tell, every
 * stuck scheduler is told it is deadlocked), 2 when s was told. */
int coco__sched_stuck(coco_sched_t *s, bool tell);
/* Under the lock: true when a scheduler for which mine() is false may
 * still act (is not stuck inside its loop). */
bool coco__others_may_act(bool (*mine)(const coco_sched_t *s, void *arg), void *arg);
/* Re-examines the stuck schedulers after one left or went away. */
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
};
int coco__sched_serve(coco_sched_t *s, const struct coco__serve *sv);

#endif /* COCO_CORE_MT_H */
