/*
 * core/coro.h - the core layer: the coroutine descriptor, the scheduler
 * structure, the run queue and parking, as every layer above sees them
 * (coro.c, sched.c, error_cb.c).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_CORE_CORO_H
#define COCO_CORE_CORO_H

#include "compiler.h"
#include "arch/context.h"
#include "mem/stack.h"
#include "mem/small.h"

/* -------------------------------------------------------- error callbacks */

/* The callbacks of the coroutines that set one (lib/core/error_cb.c). */
typedef struct coco_cbtab {
    struct coco_cb_ent *ent;
    size_t cap, count;
} coco_cbtab_t;

/* ------------------------------------------------------------ coroutines */

/* The coroutine descriptor is struct coco_co (coco_co_t), not the public
 * struct coco_coro (coco_coro_t): the public one is only the read-only head
 * a program sees (its scheduler), and the descriptor embeds it as its first
 * member.  Two types, so two names; coco__co() converts a public pointer. */
typedef struct coco_co coco_co_t;

enum {
    COCO__DETACHED = 1u << 0, /* free the descriptor when it finishes */
    COCO__TIMED_OUT = 1u << 1, /* its last coco__park_timeout() ran out */
    COCO__SHARED = 1u << 2,    /* runs on a shared stack (lib/core/shared.c) */
    /* While parked (or woken but not yet run): wait_obj is heap memory the
     * parking layer frees when the coroutine runs again, and
     * coco__unpark() frees if it never does. */
    COCO__WAIT_HEAP = 1u << 3,
    COCO__HAS_CB = 1u << 4,    /* has an entry in the scheduler's error_cbs */
    /* It has parked on waiter records in a locked section at least once
     * (lib/core/mt.c): from then on every such park is locked, and its
     * records say which lock guards the wait. */
    COCO__GUARDED = 1u << 5,
    /* Runs before every coroutine without it (coco_set_urgent()). */
    COCO__URGENT = 1u << 6
};

/* What a parked coroutine waits on: how coco__cancel_wait() takes it
 * off again. */
enum {
    COCO__ON_NOTHING = 0, /* a plain park, coco_sleep() */
    COCO__ON_GROUP,       /* waiter records (lib/sync/wait.c) */
    COCO__ON_IO,          /* a descriptor (lib/io/io_wait.c) */
    COCO__ON_JOIN,        /* another coroutine's joiners (coro.c) */
    /* Not waiting any more (READY): one of its waiter records was handed
     * something it has not taken yet; wait_obj is the record group and
     * wait_result the index of that record (lib/sync/wait.c). */
    COCO__ON_HANDOFF,
    COCO__ON_REMOTE       /* a wake-up from another thread (lib/core/mt.c) */
};

/* An internal state beside coco_state_t's: woken from another thread,
 * in its scheduler's inbox until the loop moves it to the run queue
 * (reads as COCO_STATE_READY). */
#define COCO__STATE_INBOX 6

#define COCO__MAGIC_LIVE 0xc5u
#define COCO__MAGIC_FREE 0x5au

struct coco_tpark;

/* The coroutine descriptor.  Ten million of them may be alive at once, so
 * fields that are never needed together share storage, and what few
 * coroutines use (an error callback) lives aside: 96 bytes on 64-bit
 * hosts. */
struct coco_co {
    struct coco_coro pub;        /* must stay first: coco_coro_t * == coco_co_t * */
    coco_ctx_t ctx;
    /* Run queue links while CREATED or READY; while parked in coco_join()
     * the links of the target's list of joiners. */
    coco_co_t *next, *prev;
    uint8_t state;               /* a coco_state_t */
    uint8_t flags;
    uint8_t wait_on;             /* while WAITING: a COCO__ON_* */
    uint8_t magic;               /* COCO__MAGIC_LIVE, or _FREE once destroyed */
    int32_t wait_result;         /* free for the parking layer */
#if COCO__ENTRY_WRAPPER
    struct {                     /* until it first runs */
        void (*fn)(void *);
        void *arg;
    } entry;
#endif
    union {
        coco_co_t *joiners;      /* until it finishes: coco_join() callers */
        void *result;            /* once it has finished */
    } u;
    coco_stack_t stack;          /* its own, or the shared one it runs on */
    union {
        void *save;              /* shared stack: its frames while copied out */
        void (*first_fn)(void *);/* shared stack, before its first run */
        const void *site;        /* own stack: where it was created (dumps) */
    };
    uint64_t id;
    /* While WAITING: what it waits on (with wait_on, set by the layer
     * that parks it), to unlink it if it is destroyed first or its
     * deadline passes.  A shared-stack coroutine that has not run yet
     * waits on nothing, and keeps its argument here instead. */
    union {
        void *wait_obj;
        void *first_arg;
    };
    struct coco_tpark *wait_timer; /* its deadline, while it has one */
};

/* The layers above the core reach it through the scheduler's table of
 * operations, never through a pointer per coroutine: the descriptor stays
 * 96 bytes on 64-bit hosts in the ordinary build (the ucontext switch,
 * sanitizers and valgrind builds carry more in the context and stack). */
#if UINTPTR_MAX > 0xffffffffu && !COCO_USE_UCONTEXT && !COCO__ENTRY_WRAPPER && \
    !defined(COCO__ASAN) && !defined(COCO__TSAN) && !COCO_VALGRIND
_Static_assert(sizeof(struct coco_co) == 96, "the coroutine descriptor grew");
#endif

/* Starts loading the top of a parked coroutine's stack: the saved
 * registers its resume pops and the frames it returns through, some 300
 * bytes on x86-64 for a coroutine parked in an I/O call.  Every stack
 * sits on pages of its own, so with a thousand connections these lines,
 * and the translations of their pages, are long gone from the caches by
 * the time the coroutine runs again, and the resume waits on memory.  The
 * loop calls this as it wakes the coroutines of a batch of events or
 * expired deadlines (their loads overlap), and the scheduler again one
 * coroutine ahead of each switch.  Not on a channel hand-off: the woken
 * coroutine runs soon, on lines still in cache.
 * Always inlined: a function that only prefetches counts as having no
 * effect, and GCC drops calls to it that it has not inlined. */
static COCO__ALWAYS_INLINE void coco__prefetch_stack(const coco_co_t *co)
{
#if !COCO_USE_UCONTEXT
    if (co != NULL) {
        const char *sp = co->ctx.sp;
        coco__prefetch(sp);
        coco__prefetch(sp + 64);
        coco__prefetch(sp + 128);
        coco__prefetch(sp + 192);
        coco__prefetch(sp + 256);
        coco__prefetch(sp + 320);
    }
#else
    (void)co;
#endif
}

/* A queue of waiter records (lib/sync/wait.h).  handed lists the
 * records it handed something to (a lock, a unit, a value) whose
 * coroutines have not run since; give_back passes such a thing on when
 * one of them is destroyed first (NULL on queues that hand nothing). */
struct coco__waiter;
struct coco__waitq {
    struct coco__waiter *head, *tail;
    struct coco__waiter *handed;
    void (*give_back)(struct coco__waitq *q, struct coco__waiter *w);
    uint8_t kind, owner_at;      /* whose queue, for dumps (lib/debug/inspect.h) */
};

/* The io and timer layers keep their state behind these pointers. */
struct coco_timers;
struct coco_io;

#include "debug/stats.h"

/* Tracing (lib/debug/trace.c).  While a trace is being written the
 * scheduler's trace points to the tracer, whose first member is this; the
 * layers below the debug layer report through it without naming it.  One
 * predictable branch when no trace is being written, and no code at all
 * unless configure was given --enable-trace (COCO_TRACE_HOOKS). */
enum {
    COCO__TR_YIELD,      /* co yields to next (NULL: to the loop) */
    COCO__TR_PARK,       /* co parks (wait_on set), to next or the loop */
    COCO__TR_WAKE,       /* co is woken (wait_on not yet cleared) */
    COCO__TR_RUN,        /* the loop resumes next */
    COCO__TR_EXIT,       /* co finishes */
    COCO__TR_BACK,       /* control is back in the loop from an overflow */
    COCO__TR_TIMER,      /* a timer fired */
    COCO__TR_POLL_BEGIN, /* the loop polls for I/O... */
    COCO__TR_POLL_END    /* ... and is back */
};
struct coco__tracer {
    void (*event)(coco_sched_t *s, unsigned what, coco_co_t *co, coco_co_t *next);
};
#if COCO_TRACE_HOOKS
#  define COCO__TRACE(s, what, co, next)                                   \
    do {                                                                  \
        if (coco__unlikely((s)->trace != NULL))                           \
            (s)->trace->event((s), (what), (co), (next));                 \
    } while (0)
#else
#  define COCO__TRACE(s, what, co, next) ((void)0)
#endif

/* What the core asks of the layers above it: the loop layer installs one
 * table of these in every scheduler (coco_sched_create).  The core calls
 * them only when a wait ends some other way than the one it was made for
 * (a deadline, a destroyed coroutine) or a timed wait is woken early: never
 * on a switch, a yield or an untimed hand-off. */
struct coco_sched_ops {
    /* Unlinks the parked co from the wait queue or the descriptor its
     * wait_on names (COCO__ON_GROUP, COCO__ON_IO). */
    void (*cancel)(coco_co_t *co);
    /* Disarms and releases co->wait_timer (lib/timer). */
    void (*drop_deadline)(coco_sched_t *s, coco_co_t *co);
    /* Frees the waiter records of co, parked with COCO__WAIT_HEAP
     * (lib/sync). */
    void (*free_records)(coco_co_t *co);
    /* co is destroyed after it was woken with something handed to it
     * (wait_on COCO__ON_HANDOFF) that it never took: passes that on to
     * the next waiter, or back to its object (lib/sync). */
    void (*give_back)(coco_co_t *co);
    /* Wakes s's loop from its poller (another thread put something in
     * its inbox, or the deadlock rule or a worker group needs it); called
     * with s's inbox lock held. */
    void (*notify)(coco_sched_t *s);
    /* Makes s wakeable from other threads (its wake descriptor):
     * COCO_OK or COCO_ERROR. */
    int (*arm)(coco_sched_t *s);
};

struct coco__thr;

struct coco_sched {
    coco_co_t *current;          /* running coroutine, or NULL */
    coco_co_t *rq_head, *rq_tail;/* run queue, FIFO */
    coco_co_t *rq_urgent;        /* the last urgent coroutine in it: the
                                    urgent ones come first, NULL if none */
    size_t rq_len;
    unsigned budget;             /* direct switches left before polling */
    coco_ctx_t main_ctx;         /* the thread that called run/run_once */
    coco_co_t *zombie;           /* finished; its stack is released by the loop */
    void *zombie_result;         /* ... and what it returned */
    coco_co_t *overflowed;       /* overflowed; handled by the loop */
    bool running;                /* inside run/run_once */
    bool chain;                  /* may switch coroutine to coroutine */
    const struct coco_sched_ops *ops; /* the layers above the core */
    /* The thread that made it, and which of the record's users that
     * was (records are reused): lib/core/mt.c. */
    struct coco__thr *maker;
    unsigned maker_gen;
    size_t alive;                /* coroutines not yet finished */
    size_t max_coros;            /* 0 = no limit */
    bool limit_told;             /* the limit was reported on stderr */
    uint64_t next_id;
    coco_co_t *free_co;          /* recycled descriptors */
    struct coco_co_chunk *chunks;/* descriptor storage */
    coco_stack_pool_t stacks;
    struct coco_sstack *sstacks; /* shared stacks (lib/core/shared.c) */
    coco_small_t small;          /* saved frames, waiter records */
    coco_cbtab_t error_cbs;      /* coco_set_error_cb() */
    struct coco_timers *timers;  /* owned by lib/timer */
    struct coco_io *io;          /* owned by lib/io */
    /* What coco__pending() reads on every switch, kept here rather than
     * behind the pointers above. */
    size_t timers_pending;       /* armed timers: kept by lib/timer */
    size_t io_waiting;           /* coroutines parked on I/O: kept by lib/io */
    /* Kept by lib/io, and needed before struct coco_io exists (it comes
     * with a kernel poller, made on the first wait): the streak is counted
     * on every I/O call that did not wait, and the back-off queue holds
     * acceptors that ran out of descriptors, when making a poller would
     * fail for the same reason. */
    struct coco__waitq fd_freed; /* acceptors out of descriptors */
    coco_co_t *io_streak_co;     /* whose I/O calls have not waited */
    unsigned io_streak;          /* ... and how many in a row */
    struct coco__stats stats;    /* counters (lib/debug/stats.h) */
    struct coco__tracer *trace;  /* the trace being written, or NULL */
    /* Threads (lib/core/mt.c).  What other threads write on every
     * wake-up they send is on a cache line of its own: the inbox, the
     * flag they clear, and the sleep flags they read.  The sleep flags
     * are under inbox_lock; the deadlock fields under the process-wide
     * lock (stuck is atomic: a wake-up clears it without). */
    char inbox_pad0[64];
    coco_co_t *inbox;            /* woken by other threads, newest first,
                                    linked by next (atomic) */
    int inbox_lock;
    int stuck;                   /* waits for other threads only (atomic) */
    bool sleeping;               /* its loop waits in the poller */
    bool notified;               /* ... and was woken through notify */
    char inbox_pad1[64];
    /* Taken from the inbox but not yet queued, oldest first (linked by
     * next and prev): its own thread's alone. */
    coco_co_t *inbox_first, *inbox_last;
    bool remote_armed;           /* has a wake descriptor (one io_waiting) */
    int in_run;                  /* inside coco_sched_run/run_once (atomic,
                                  * a word: byte compare-and-swap needs
                                  * libatomic on some targets) */
    bool deadlocked;             /* told so by the last one stuck */
    bool recheck;                /* told to look at the rule again: one
                                    that may have acted went away */
    bool acted;                  /* ran, or was woken by another thread,
                                    since it last found itself stuck (its
                                    own thread's) */
    uint64_t stuck_since;        /* when it last got stuck after acting
                                    (coco__clock_ms; under coco__g) */
    unsigned polls_since_remote; /* blocking polls since its inbox last had
                                    something (its own thread's) */
    size_t remote_waits;         /* coroutines in coco__remote_wait() */
    const struct coco__serve *serve; /* the worker's, in coco__sched_serve */
    struct coco__thr *thr;       /* the thread that created or last ran it */
    coco_sched_t *all_prev, *all_next; /* every scheduler of the process */
#if COCO_DEBUG
    /* A shared-stack pointer check that failed in a coroutine, reported
     * by the loop (lib/core/shared.c). */
    coco_co_t *sstack_bad_co;
    uint64_t sstack_bad_id;
    const char *sstack_bad_what;
#endif
};

/* True when a timer or an I/O wait could still make something runnable. */
static inline bool coco__pending(const coco_sched_t *s)
{
    return s->timers_pending != 0 || s->io_waiting != 0;
}

/* Thread-local current scheduler: the one most recently created on this
 * thread or being run by it; when that one is destroyed, the newest one
 * left on the thread. */
extern COCO__TLS coco_sched_t *coco__tls_sched;
/* The scheduler this thread is running now (inside coco_sched_run or
 * run_once), or NULL: the current scheduler may be running on another
 * thread, whose coroutines are not this thread's. */
extern COCO__TLS coco_sched_t *coco__tls_running;

static inline coco_co_t *coco__co(coco_coro_t *c) { return (coco_co_t *)c; }

/* The running coroutine of this thread, or NULL. */
static inline coco_co_t *coco__current(void)
{
    coco_sched_t *s = coco__tls_running;
    return s ? s->current : NULL;
}

/* True when co is a live descriptor (not destroyed). */
static inline bool coco__valid(const coco_co_t *co)
{
    return co != NULL && co->magic == COCO__MAGIC_LIVE;
}

/* Parks the running coroutine (WAITING) until coco__wake() is called on it.
 * Before calling, the parking layer links the coroutine wherever it waits
 * and sets wait_on and wait_obj. */
void coco__park(coco_sched_t *s);
/* Makes a WAITING coroutine READY again. */
void coco__wake(coco_sched_t *s, coco_co_t *co);
/* The same for one taken from the inbox (lib/core/mt.c), whose waker
 * already cleared its wait. */
void coco__wake_inboxed(coco_sched_t *s, coco_co_t *co);
/* For destroying a coroutine that has not finished: unlinks it from what
 * it waits on if it is parked, and drops its deadline and whatever else it
 * would have released when it ran again. */
void coco__unpark(coco_sched_t *s, coco_co_t *co);
/* Unlinks a parked coroutine from what its wait_on names, and clears
 * wait_on: a join here, anything else through s->ops->cancel. */
void coco__cancel_wait(coco_co_t *co);
/* Unlinks a coroutine parked in coco_join() (coro.c). */
void coco__join_cancel(coco_co_t *co);
/* Runs the coroutine at the head of the run queue (there must be one)
 * until control comes back to the loop, then finishes what only the loop
 * can do: releases a finished coroutine's stack, reports an overflow.
 * COCO_OK, or COCO_ERROR_NOMEM when a shared-stack coroutine could not
 * take its stack (it stays ready). */
int coco__dispatch(coco_sched_t *s);
/* Appends co to the run queue without touching its state. */
void coco__enqueue(coco_sched_t *s, coco_co_t *co);
/* Unlinks co from the run queue if it is queued. */
void coco__rq_remove(coco_sched_t *s, coco_co_t *co);

/* The error callback of co: COCO_OK or COCO_ERROR_NOMEM; cb NULL to
 * remove it (lib/core/error_cb.c). */
int coco__error_cb_set(coco_cbtab_t *t, coco_co_t *co, coco_error_cb cb);
/* co's callback, NULL when it has none. */
coco_error_cb coco__error_cb_get(const coco_cbtab_t *t, const coco_co_t *co);
void coco__error_cb_drop(coco_cbtab_t *t, const coco_co_t *co);
void coco__error_cb_fini(coco_cbtab_t *t);
/* The callback co set, or NULL. */
static inline coco_error_cb coco__error_cb_of(const coco_co_t *co)
{
    if (!(co->flags & COCO__HAS_CB))
        return NULL;
    return coco__error_cb_get(&co->pub.sched->error_cbs, co);
}
/* Where the running coroutine's function returns to (from the context
 * switch's first frame): finishes it with a NULL result, like
 * coco_exit(self, NULL). */
COCO__NORETURN void coco__co_return(void);
/* Called by the loop, off the coroutine's stack: co finished normally. */
void coco__co_reap(coco_sched_t *s, coco_co_t *co);
/* Called by the loop, off the coroutine's stack: co overflowed it.  It is
 * taken off the run queue or whatever it was waiting on, wherever in a
 * library call the overflow stopped it. */
void coco__co_overflowed(coco_sched_t *s, coco_co_t *co);
/* For the fault handler: the live, unfinished coroutine of s whose guard
 * page holds addr (of a shared stack, the one whose frames are on it), or
 * NULL. */
coco_co_t *coco__co_of_guard(coco_sched_t *s, const char *addr);
/* For the fault handler: a switch from another coroutine to next, which it
 * had already made current, faulted before it left: next goes back to the
 * head of the run queue, READY. */
void coco__switch_undo(coco_sched_t *s, coco_co_t *next);
/* Releases every coroutine of s (at coco_sched_destroy). */
void coco__co_destroy_all(coco_sched_t *s);

#endif /* COCO_CORE_CORO_H */
