/*
 * coco_internal.h - structures shared by the layers of libcoco.
 *
 * Layers, bottom up: arch (context switch), stack, signal, core (coroutines
 * and the scheduler), timer, channel, io.  A layer uses only the ones below
 * it; the hooks the core calls in the timer and io layers are declared at
 * the end of this file.
 *
 * Nothing here is exported: every function is hidden by the default
 * visibility of the build, and internal names carry a double underscore.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_INTERNAL_H
#define COCO_INTERNAL_H

#include "config.h"
#include "coco.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if COCO_USE_UCONTEXT
#  include <ucontext.h>
#endif

#if defined(__GNUC__)
#  define coco__likely(x)   __builtin_expect(!!(x), 1)
#  define coco__unlikely(x) __builtin_expect(!!(x), 0)
#  define COCO__TLS __thread __attribute__((tls_model("initial-exec")))
#  define COCO__NORETURN __attribute__((noreturn))
#  define COCO__NOINLINE __attribute__((noinline))
#  define COCO__ALWAYS_INLINE inline __attribute__((always_inline))
#  define coco__prefetch(p) __builtin_prefetch(p)
#else
#  define coco__likely(x)   (x)
#  define coco__unlikely(x) (x)
#  define COCO__TLS _Thread_local
#  define COCO__NORETURN
#  define COCO__NOINLINE
#  define COCO__ALWAYS_INLINE inline
#  define coco__prefetch(p) ((void)(p))
#endif

/* Sanitizer builds: which ones instrument this file (gcc says so with
 * __SANITIZE_*__, clang with __has_feature).  lib/core/fiber_annot.h tells
 * them about every stack switch. */
#if defined(__SANITIZE_ADDRESS__)
#  define COCO__ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#  define COCO__TSAN 1
#endif
#if defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    undef COCO__ASAN
#    define COCO__ASAN 1
#  endif
#  if __has_feature(thread_sanitizer)
#    undef COCO__TSAN
#    define COCO__TSAN 1
#  endif
#endif

/* Shared (copied) stacks move a parked coroutine's frames, so they need a
 * context that holds no address of its own stack: not the ucontext switch,
 * not Win64 (its frames carry the stack bounds of the thread block), and
 * not under AddressSanitizer (copying frames reads their poisoned
 * redzones).  Elsewhere coco_create_attr() refuses them with ENOTSUP. */
#if !COCO_USE_UCONTEXT && !defined(COCO__ASAN) && !defined(_WIN32)
#  define COCO__HAVE_SHARED_STACKS 1
#else
#  define COCO__HAVE_SHARED_STACKS 0
#endif

/* A sanitizer must hear of a new stack (coco__fiber_arrive) before any
 * instrumented code runs on it, so there a coroutine starts in a wrapper
 * that announces it and then calls the entry, kept in the descriptor
 * until then.  Elsewhere the context switch calls the entry itself: one
 * frame fewer on every coroutine's stack, which is what a parked
 * shared-stack coroutine pays for. */
#if COCO__ASAN || COCO__TSAN
#  define COCO__ENTRY_WRAPPER 1
#else
#  define COCO__ENTRY_WRAPPER 0
#endif

/* ------------------------------------------------------------------ arch */

/* A suspended execution context.  With the assembly switch it is only the
 * saved stack pointer: the callee-saved registers sit on the stack itself. */
typedef struct coco_ctx {
#if COCO_USE_UCONTEXT
    ucontext_t uc;
    void (*fn)(void *);          /* what the first switch calls */
    void *arg;
#else
    void *sp;
#endif
#if COCO__ASAN
    const void *asan_lo;         /* the stack this context runs on */
    size_t asan_size;
    void *asan_fake;             /* its fake stack while it is suspended */
    struct coco_ctx *asan_from;  /* who resumed it last */
#endif
#if COCO__TSAN
    void *tsan_fiber;
#endif
} coco_ctx_t;

/* The lowest stack address a suspended context uses; unknown (NULL) for a
 * ucontext, whose contexts therefore never move (no shared stacks). */
static inline char *coco__ctx_sp(const coco_ctx_t *ctx)
{
#if COCO_USE_UCONTEXT
    (void)ctx;
    return NULL;
#else
    return ctx->sp;
#endif
}

/* Saves the running context in *from and resumes *to. */
void coco__ctx_switch(coco_ctx_t *from, coco_ctx_t *to);
/* Resumes *to without saving anything: for contexts that never come back. */
COCO__NORETURN void coco__ctx_jump(coco_ctx_t *to);
/* Prepares *ctx so that the first switch to it calls fn(arg) on the stack
 * [lo, lo + size), and coco__co_return() when fn returns.  fn is the
 * coroutine's own function: no wrapper frame of the library sits below it
 * (but see COCO__ENTRY_WRAPPER). */
void coco__ctx_init(coco_ctx_t *ctx, void *lo, size_t size,
                    void (*fn)(void *), void *arg);

/* The annotations every switch site makes for the sanitizers (empty in
 * ordinary builds). */
#include "core/fiber_annot.h"

/* ----------------------------------------------------------------- stack */

/* One coroutine stack: [lo, lo + size) is usable, and when guarded the page
 * just below lo is PROT_NONE. */
typedef struct coco_stack {
    char *lo;
    size_t size;
#if COCO_VALGRIND
    unsigned int vg_id;             /* valgrind's handle for the stack */
#endif
} coco_stack_t;

typedef struct coco_stack_pool {
    struct coco_stack_free *dflt;   /* free stacks of the default size */
    struct coco_stack_free *other;  /* free stacks of any other size */
    size_t count;                   /* stacks in both lists */
    size_t limit;                   /* most stacks kept for reuse */
    /* Where stacks are carved from slabs (lib/core/stack.c); another
     * implementation of this interface may leave these NULL. */
    struct coco_slab *slabs;        /* every slab */
    struct coco_slab *cold_dflt;    /* slabs with an unused default stack */
    struct coco_slab *cold_other;   /* the same for other sizes */
} coco_stack_pool_t;

size_t coco__page_size(void);

/* The smallest stack handed out: enough for a few C library calls. */
#define COCO__STACK_MIN ((size_t)16 * 1024)
/* Anything above this is a mistake, not a request. */
#define COCO__STACK_MAX ((size_t)1 << 30)

/* Rounds a requested size to whole pages; 0 when it is out of range. */
static inline size_t coco__stack_round(size_t request)
{
    size_t ps = coco__page_size();
    if (request == 0)
        request = COCO_DEFAULT_STACK_SIZE;
    if (request > COCO__STACK_MAX)
        return 0;
    if (request < COCO__STACK_MIN)
        request = COCO__STACK_MIN;
    return (request + ps - 1) & ~(ps - 1);
}
int coco__stack_get(coco_stack_pool_t *pool, size_t size, coco_stack_t *out);
void coco__stack_put(coco_stack_pool_t *pool, coco_stack_t *stk);
void coco__stack_pool_drain(coco_stack_pool_t *pool);
/* The size coco__stack_get() was asked for when it gave stk: the usable
 * size plus what the pool keeps at the top. */
size_t coco__stack_asked(const coco_stack_t *stk);
/* The guard page of stk, or NULL when stacks are unguarded on this host. */
char *coco__stack_guard(const coco_stack_t *stk);

/* ---------------------------------------------------------- small blocks */

/* Headerless blocks in 8-byte classes, for memory whose size the owner
 * always knows (lib/core/small.c). */
#define COCO__SMALL_GRAIN 8
#define COCO__SMALL_MAX 1024

typedef struct coco_small {
    struct coco_small_free *free[COCO__SMALL_MAX / COCO__SMALL_GRAIN];
    char *cur, *end;                /* unused rest of the newest chunk */
    struct coco_small_chunk *chunks;
} coco_small_t;

/* size bytes, 8-aligned; NULL when out of memory.  Sizes above
 * COCO__SMALL_MAX are passed to malloc. */
void *coco__small_alloc(coco_small_t *a, size_t size);
/* Gives back p, which coco__small_alloc() returned for the same size. */
void coco__small_free(coco_small_t *a, void *p, size_t size);
/* Releases every chunk (at coco_sched_destroy). */
void coco__small_fini(coco_small_t *a);

/* -------------------------------------------------------- error callbacks */

/* The callbacks of the coroutines that set one (lib/core/error_cb.c). */
typedef struct coco_cbtab {
    struct coco_cb_ent *ent;
    size_t cap, count;
} coco_cbtab_t;

/* ------------------------------------------------------------ coroutines */

typedef struct coco_co coco_co_t;

enum {
    COCO__DETACHED = 1u << 0, /* free the descriptor when it finishes */
    COCO__TIMED_OUT = 1u << 1, /* its last coco__park_timeout() ran out */
    COCO__SHARED = 1u << 2,    /* runs on a shared stack (lib/core/shared.c) */
    /* While parked (or woken but not yet run): wait_obj is heap memory the
     * parking layer frees when the coroutine runs again, and
     * coco__unpark() frees if it never does. */
    COCO__WAIT_HEAP = 1u << 3,
    COCO__HAS_CB = 1u << 4     /* has an entry in the scheduler's error_cbs */
};

/* What a parked coroutine waits on: how coco__cancel_wait() takes it
 * off again. */
enum {
    COCO__ON_NOTHING = 0, /* a plain park, coco_sleep() */
    COCO__ON_GROUP,       /* waiter records (lib/channel/wait.c) */
    COCO__ON_IO,          /* a descriptor (lib/io/event_loop.c) */
    COCO__ON_JOIN,        /* another coroutine's joiners (coro.c) */
    /* Not waiting any more (READY): one of its waiter records was handed
     * something it has not taken yet; wait_obj is the record group and
     * wait_result the index of that record (lib/channel/wait.c). */
    COCO__ON_HANDOFF
};

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

/* A queue of waiter records (lib/channel/wait.h).  handed lists the
 * records it handed something to (a lock, a unit, a value) whose
 * coroutines have not run since; give_back passes such a thing on when
 * one of them is destroyed first (NULL on queues that hand nothing). */
struct coco__waiter;
struct coco__waitq {
    struct coco__waiter *head, *tail;
    struct coco__waiter *handed;
    void (*give_back)(struct coco__waitq *q, struct coco__waiter *w);
    uint8_t kind, owner_at;      /* whose queue, for dumps (lib/debug/debug.h) */
};

/* The io and timer layers keep their state behind these pointers. */
struct coco_timers;
struct coco_io;

#include "debug/stats.h"

struct coco_sched {
    coco_co_t *current;          /* running coroutine, or NULL */
    coco_co_t *rq_head, *rq_tail;/* run queue, FIFO */
    size_t rq_len;
    unsigned budget;             /* direct switches left before polling */
    coco_ctx_t main_ctx;         /* the thread that called run/run_once */
    coco_co_t *zombie;           /* finished; its stack is released by the loop */
    void *zombie_result;         /* ... and what it returned */
    coco_co_t *overflowed;       /* overflowed; handled by the loop */
    bool running;                /* inside run/run_once */
    bool chain;                  /* may switch coroutine to coroutine */
    coco_sched_t *thread_prev, *thread_next; /* the thread's schedulers */
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
    size_t timers_pending;       /* armed timers: kept by lib/timer */
    size_t io_waiting;           /* coroutines parked on I/O: kept by lib/io */
    struct coco__waitq fd_freed; /* lib/io: acceptors out of descriptors */
    coco_co_t *io_streak_co;     /* lib/io: whose I/O calls have not waited */
    unsigned io_streak;          /* ... and how many in a row */
    struct coco__stats stats;    /* counters (lib/debug/stats.h) */
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

static inline coco_co_t *coco__co(coco_coro_t *c) { return (coco_co_t *)c; }

/* The running coroutine of this thread, or NULL. */
static inline coco_co_t *coco__current(void)
{
    coco_sched_t *s = coco__tls_sched;
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
/* For destroying a coroutine that has not finished: unlinks it from what
 * it waits on if it is parked, and drops its deadline and whatever else it
 * would have released when it ran again. */
void coco__unpark(coco_sched_t *s, coco_co_t *co);
/* Unlinks a parked coroutine from what its wait_on names, and clears
 * wait_on. */
void coco__cancel_wait(coco_co_t *co);
/* The three ways to do it, one per parking layer. */
void coco__wait_cancel(coco_co_t *co);
void coco__io_cancel(coco_co_t *co);
void coco__join_cancel(coco_co_t *co);
/* Frees the waiter records of a coroutine parked with COCO__WAIT_HEAP
 * (lib/channel/wait.c). */
void coco__wait_heap_free(coco_co_t *co);
/* For destroying a coroutine woken with something handed to it
 * (wait_on COCO__ON_HANDOFF) before it ran: passes that on to the next
 * waiter, or back to its object (lib/channel/wait.c). */
void coco__wait_give_back(coco_co_t *co);
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

/* -------------------------------------------------------- shared stacks */

/* Gives co (not yet started) a place on one of the scheduler's shared
 * stacks of size bytes, where it will start with fn(arg): co->stack is
 * then that stack.  Its first frame is built by the first
 * coco__sstack_enter(); until then fn and arg are kept in first_fn and
 * first_arg.  COCO_OK, COCO_ERROR_NOMEM, or
 * COCO_ERROR_INVALID where contexts cannot move (the ucontext switch). */
int coco__sstack_assign(coco_sched_t *s, coco_co_t *co, size_t size,
                        void (*fn)(void *), void *arg);
/* Called by the loop, on its own stack, before it resumes the shared-stack
 * coroutine co: copies out whoever else's frames occupy the stack and puts
 * co's back (or prepares its first frame).  COCO_ERROR_NOMEM when the
 * frames in the way could not be saved; co cannot run yet. */
int coco__sstack_enter(coco_sched_t *s, coco_co_t *co);
/* The size asked for co's shared stack (its usable size is co->stack.size). */
size_t coco__sstack_asked(const coco_co_t *co);
/* True when the frames on co's shared stack are co's. */
bool coco__sstack_owns(const coco_co_t *co);
/* co will never run again: it no longer holds its shared stack. */
void coco__sstack_release(coco_co_t *co);
/* Gives the shared stacks back to the pool (at coco_sched_destroy). */
void coco__sstack_fini(coco_sched_t *s);
/* In debug builds (COCO_DEBUG): notes when p points into the running
 * coroutine's shared stack, where it will not stay valid for others; what
 * names the call.  The loop reports it through the coroutine's error
 * callback (coco__sstack_report) once the coroutine has switched away, as
 * callbacks never run in a coroutine. */
#if COCO_DEBUG
void coco__sstack_check_ptr(const void *p, const char *what);
void coco__sstack_report(coco_sched_t *s);
#else
#  define coco__sstack_check_ptr(p, what) ((void)0)
#endif

/* ------------------------------------------------- signal (overflow) */

/* Installs the fault handler (once per process) and this thread's
 * alternate signal stack (once per thread).  COCO_OK or an error code. */
int coco__signal_init_thread(void);
/* Releases this thread's alternate stack when libcoco installed it. */
void coco__signal_fini_thread(void);

/* ----------------------------------------------------------------- timer */

/* A timer entry, embedded in whatever waits (a sleeping coroutine's stack
 * frame, a coco_timer_t, a channel waiter).  Owned by lib/timer. */
typedef struct coco_tnode {
    struct coco_tnode *next, *prev; /* wheel slot list */
    uint64_t deadline;              /* ms on the scheduler's clock */
    void (*fire)(struct coco_tnode *t); /* run by the loop when it expires */
} coco_tnode_t;                     /* armed while next != NULL */

/* Milliseconds on the monotonic clock, read now (and cached by the timers). */
uint64_t coco__now_ms(coco_sched_t *s);
/* Test hooks (lib/timer/timer_wheel.c): a virtual clock for s, and the
 * clock s keeps.  Hidden like every internal name: a test reaches them
 * when it links the static library. */
int coco__sched_virtual_clock(coco_sched_t *s, uint64_t start);
uint64_t coco__sched_clock(coco_sched_t *s);
/* Arms t to fire after delay_ms (counts in s->timers_pending while armed). */
void coco__timer_arm(coco_sched_t *s, coco_tnode_t *t, uint64_t delay_ms);
/* Disarms t if armed; harmless otherwise. */
void coco__timer_disarm(coco_sched_t *s, coco_tnode_t *t);
/* Parks the running coroutine like coco__park(), for at most timeout_ms
 * (COCO_INFINITE: no limit).  When the time runs out first,
 * coco__cancel_wait() unlinks it from what its wait_on names, and
 * the call returns COCO_ERROR_TIMEOUT; otherwise COCO_OK.  The deadline is
 * dropped as soon as anything else wakes the coroutine (coco__wake) or it
 * is destroyed (coco__unpark).  COCO_ERROR_NOMEM when no deadline could be
 * set: coco__cancel_wait() has then been called. */
int coco__park_timeout(coco_sched_t *s, uint64_t timeout_ms);
/* coco__park_timeout() for a wait whose deadline passing is its normal
 * end: COCO_OK then too.  coco_sleep() ends in it, as a tail call, so that
 * a sleeper's stack holds no frame of coco_sleep. */
int coco__park_sleep(coco_sched_t *s, uint64_t timeout_ms);
/* Disarms and releases co->wait_timer. */
void coco__tpark_drop(coco_sched_t *s, coco_co_t *co);

/* ------------------------------------------- hooks into timer and io */

/* Called by the scheduler loop when coco__pending(s).  Waits for timers
 * and I/O (no longer than the next deadline; not at all when !block), makes
 * the coroutines they release READY and runs expired timer callbacks.
 * Returns COCO_OK or a negative error code. */
int coco__loop_wait(coco_sched_t *s, bool block);
/* Releases the timer and io state of s (at coco_sched_destroy). */
void coco__loop_fini(coco_sched_t *s);

#endif /* COCO_INTERNAL_H */
