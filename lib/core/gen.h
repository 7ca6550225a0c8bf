/*
 * core/gen.h - generators (lib/loop/gen.c) as the layers below the loop
 * see them: the descriptor, and which generator this thread runs, for the
 * fault handler (lib/signal) that turns a generator's stack overflow into
 * an error of the coco_gen_resume() that ran it.
 *
 * A generator is a context of its own with a stack of its own, resumed
 * and left with one context switch each way, outside any scheduler.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_CORE_GEN_H
#define COCO_CORE_GEN_H

#include "compiler.h"
#include "arch/context.h"
#include "mem/stack.h"
#include "core/coro.h"

/* Its state, read and written with atomics: a resume takes it from
 * SUSPENDED to RUNNING (a load and a store: a resume from inside the
 * generator, or one while another thread is seen to run it, is refused),
 * the switch away from it sets it back once its context is saved, and a
 * destroy takes it from SUSPENDED to DEAD with a compare-and-swap. */
enum {
    COCO__GEN_SUSPENDED, /* not started, or stopped in coco_gen_yield() */
    COCO__GEN_RUNNING,   /* some coco_gen_resume() is running it */
    COCO__GEN_DEAD       /* fn returned, or it overflowed its stack */
};

/* Direct mode: the resume and the yield tail-call the switch with the
 * other side's work done beforehand (coco__ctx_switch_ret, x86-64 System
 * V assembly), so each side returns straight to its caller.  Elsewhere,
 * and under the sanitizers (whose annotations go around a switch), the
 * resume finishes its work after an ordinary switch. */
#if defined(__x86_64__) && !defined(_WIN64) && !COCO_USE_UCONTEXT && \
    !defined(COCO__ASAN) && !defined(COCO__TSAN)
#  define COCO__GEN_DIRECT 1
/* lib/arch/switch_gen_x86_64_sysv.S: coco__ctx_switch(from, to), then
 * *flag = value once from is saved; the context resumed returns ret from
 * its own call of this function. */
uintptr_t coco__ctx_switch_ret(coco_ctx_t *from, coco_ctx_t *to, int *flag,
                               int value, uintptr_t ret);
/* The same, for a caller that returns an int (the other side passes one
 * in ret): the same code under another name. */
int coco__ctx_switch_rc(coco_ctx_t *from, coco_ctx_t *to, int *flag,
                        int value, uintptr_t ret);
#else
#  define COCO__GEN_DIRECT 0
#endif

struct coco_gen {
    coco_ctx_t ctx;              /* its own, while suspended */
    coco_ctx_t caller;           /* the resumer's, while it runs */
    coco_stack_t stack;
    void *(*fn)(struct coco_gen *g, void *arg);
    void *arg;
    void *xfer;                  /* the value handed across a switch */
    void **out;                  /* where the running resume wants it */
    int state;                   /* a COCO__GEN_*, atomic */
    bool done;                   /* fn returned: the switch back is the last */
    bool overflowed;             /* ... or it ran off its stack */
    /* Saved by the resume that runs it, put back when it stops: the
     * resumer's running scheduler (none while the generator runs, so that
     * nothing parks on the generator's stack) and generator. */
    coco_sched_t *saved_running;
    struct coco_gen *outer;
};

/* The generator this thread runs now, or NULL (lib/core/sched.c). */
extern COCO__TLS struct coco_gen *coco__tls_gen;

/* For the fault handler: true when addr lies in the guard page of g. */
static inline bool coco__gen_in_guard(const struct coco_gen *g, const char *addr)
{
    const char *guard = coco__stack_guard(&g->stack);
    return guard != NULL && addr >= guard && addr < g->stack.lo;
}

/* The running generator g stops: its resumer's thread state comes back,
 * and the resume's *out gets value. */
static inline void coco__gen_leave(struct coco_gen *g, void *value)
{
    coco__tls_gen = g->outer;
    coco__tls_running = g->saved_running;
    if (g->out != NULL)
        *g->out = value;
}

/* For the fault handler, on the alternate signal stack: the running
 * generator g overflowed.  Its frames are abandoned, and the resume that
 * ran it returns COCO_ERROR_STACK_OVERFLOW. */
static inline COCO__NORETURN void coco__gen_overflow(struct coco_gen *g)
{
    g->overflowed = true;
    g->done = true;
    g->xfer = NULL;
#if COCO__GEN_DIRECT
    coco_ctx_t gone;
    coco__gen_leave(g, NULL);
    coco__ctx_switch_ret(&gone, &g->caller, &g->state, COCO__GEN_DEAD,
                         (uintptr_t)(intptr_t)COCO_ERROR_STACK_OVERFLOW);
    __builtin_unreachable();
#else
    coco__fiber_exit(&g->ctx, &g->caller);
    coco__ctx_jump(&g->caller);
#endif
}

#endif /* COCO_CORE_GEN_H */
