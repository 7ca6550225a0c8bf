/*
 * arch/context.h - the arch layer: a suspended execution context, the switch
 * between two, and the first frame of one that never ran (context.c and
 * switch_<cpu>.S or switch_ucontext.c).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_ARCH_CONTEXT_H
#define COCO_ARCH_CONTEXT_H

#include "compiler.h"

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
#include "arch/fiber_annot.h"

#endif /* COCO_ARCH_CONTEXT_H */
