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

/* Its state, read and changed with atomics: a resume takes it from
 * SUSPENDED to RUNNING with a compare-and-swap, so that two resumes (two
 * threads, or the generator resuming itself) cannot both run it. */
enum {
    COCO__GEN_SUSPENDED, /* not started, or stopped in coco_gen_yield() */
    COCO__GEN_RUNNING,   /* some coco_gen_resume() is running it */
    COCO__GEN_DEAD       /* fn returned, or it overflowed its stack */
};

struct coco_gen {
    coco_ctx_t ctx;              /* its own, while suspended */
    coco_ctx_t caller;           /* the resumer's, while it runs */
    coco_stack_t stack;
    void *(*fn)(struct coco_gen *g, void *arg);
    void *arg;
    void *xfer;                  /* the value handed across a switch */
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

/* For the fault handler, on the alternate signal stack: the running
 * generator g overflowed.  Its frames are abandoned, and the resume that
 * ran it returns COCO_ERROR_STACK_OVERFLOW. */
static inline COCO__NORETURN void coco__gen_overflow(struct coco_gen *g)
{
    g->overflowed = true;
    g->done = true;
    g->xfer = NULL;
    coco__fiber_exit(&g->ctx, &g->caller);
    coco__ctx_jump(&g->caller);
}

#endif /* COCO_CORE_GEN_H */
