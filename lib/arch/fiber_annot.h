/*
 * fiber_annot.h - telling AddressSanitizer and ThreadSanitizer about stack
 * switches.  Included by arch/context.h; ordinary builds see empty inline
 * functions, so the switch paths compile exactly as without them.
 *
 * AddressSanitizer keeps the bounds of the running stack and, with
 * detect_stack_use_after_return, a "fake stack" per stack for frames that
 * may be used after return.  Around every switch it must hear
 * __sanitizer_start_switch_fiber (the stack we go to; where to keep the
 * fake stack of the one we leave, or NULL when that one never comes back,
 * which frees it) and, once on the new stack, __sanitizer_finish_switch_fiber
 * (the fake stack to restore).  Without that it takes the coroutine's stack
 * for a wild jump and reports false positives or misses real ones.  The
 * bounds of the thread's own stack are not known beforehand: the first
 * coroutine it resumes learns them from finish (which reports the stack
 * left) and writes them into the resumer's context.
 *
 * ThreadSanitizer keeps a shadow call stack and a clock per fiber: every
 * coroutine gets one and gives it back with its stack; the thread that runs
 * the scheduler uses its own, and __tsan_switch_to_fiber goes right before
 * each switch.  A fiber is made with its coroutine, where its cost (over a
 * millisecond in GCC's runtime) does not delay the running ones; but GCC's
 * runtime holds only some thousands at once, fewer than a scheduler may
 * have coroutines, so past COCO__TSAN_EAGER fibers on the thread a new
 * coroutine gets its fiber only when it first runs.
 * The default flag orders the two sides (happens-before), which matches
 * coroutines of one thread running one at a time.
 *
 * Call sites, all in lib/core:
 *   coco__fiber_leave(from, to) + switch + coco__fiber_arrive(from)
 *                               when from will be resumed later;
 *   coco__fiber_exit(from, to) + jump   when from never runs again;
 *   coco__fiber_arrive(ctx)     also first thing in a new coroutine;
 *   coco__fiber_init / coco__fiber_fini   with the coroutine's stack.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_FIBER_ANNOT_H
#define COCO_FIBER_ANNOT_H

#if COCO__ASAN
#  include <sanitizer/asan_interface.h>
#  include <sanitizer/common_interface_defs.h>
#endif
#if COCO__TSAN
#  include <sanitizer/tsan_interface.h>
#  define COCO__TSAN_EAGER 2048u
/* Fibers of coroutines alive on this thread (defined in context.c). */
extern COCO__TLS unsigned int coco__tsan_fibers;
#endif

/* Always inlined: under ThreadSanitizer a function of its own would enter
 * on one fiber's shadow call stack and leave from the other's, unbalancing
 * both (clang keeps cold calls such as the one in co_finish out of line). */
#if defined(__GNUC__)
#  define COCO__FIBER_FN static inline __attribute__((always_inline))
#else
#  define COCO__FIBER_FN static inline
#endif

/* A new coroutine's context, whose stack is [lo, lo + size). */
COCO__FIBER_FN void coco__fiber_init(coco_ctx_t *ctx, void *lo, size_t size)
{
#if COCO__ASAN
    ctx->asan_lo = lo;
    ctx->asan_size = size;
    ctx->asan_fake = NULL;
    ctx->asan_from = NULL;
#endif
#if COCO__TSAN
    ctx->tsan_fiber = NULL;
    if (coco__tsan_fibers < COCO__TSAN_EAGER) {
        ctx->tsan_fiber = __tsan_create_fiber(0);
        coco__tsan_fibers++;
    }
#endif
    (void)ctx;
    (void)lo;
    (void)size;
}

/* The coroutine's stack [lo, lo + size) is released; it never runs again. */
COCO__FIBER_FN void coco__fiber_fini(coco_ctx_t *ctx, void *lo, size_t size)
{
#if COCO__ASAN
    /* A coroutine destroyed while parked, or one that overflowed, leaves
     * the redzones of its live frames poisoned; the stack's next owner
     * (the pool keeps stacks) must start clean. */
    if (lo != NULL)
        ASAN_UNPOISON_MEMORY_REGION(lo, size);
#endif
#if COCO__TSAN
    if (ctx->tsan_fiber != NULL) {
        __tsan_destroy_fiber(ctx->tsan_fiber);
        coco__tsan_fibers--;
    }
    ctx->tsan_fiber = NULL;
#endif
    (void)ctx;
    (void)lo;
    (void)size;
}

/* Right before switching from `from` to `to`; from is resumed later. */
COCO__FIBER_FN void coco__fiber_leave(coco_ctx_t *from, coco_ctx_t *to)
{
#if COCO__ASAN
    to->asan_from = from;
    __sanitizer_start_switch_fiber(&from->asan_fake, to->asan_lo, to->asan_size);
#endif
#if COCO__TSAN
    /* For the scheduler's own context this is the thread's fiber; for a
     * coroutine it is the one created with it. */
    from->tsan_fiber = __tsan_get_current_fiber();
    if (to->tsan_fiber == NULL) {
        to->tsan_fiber = __tsan_create_fiber(0);
        coco__tsan_fibers++;
    }
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    (void)from;
    (void)to;
}

/* Right before jumping from `from` to `to` for good: from finished or
 * overflowed.  Its fake stack is freed here. */
COCO__FIBER_FN void coco__fiber_exit(coco_ctx_t *from, coco_ctx_t *to)
{
#if COCO__ASAN
    to->asan_from = from;
    __sanitizer_start_switch_fiber(NULL, to->asan_lo, to->asan_size);
#endif
#if COCO__TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    (void)from;
    (void)to;
}

/* First thing once running on ctx's stack again (or for the first time). */
COCO__FIBER_FN void coco__fiber_arrive(coco_ctx_t *ctx)
{
#if COCO__ASAN
    coco_ctx_t *from = ctx->asan_from;
    const void *lo;
    size_t size;
    __sanitizer_finish_switch_fiber(ctx->asan_fake, &lo, &size);
    ctx->asan_fake = NULL;
    /* The stack we came from: news only for the scheduler's context. */
    if (from != NULL) {
        from->asan_lo = lo;
        from->asan_size = size;
    }
#endif
    (void)ctx;
}

#endif /* COCO_FIBER_ANNOT_H */
