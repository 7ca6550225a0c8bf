/*
 * gen.c - generators: coroutines resumed explicitly by their caller,
 * handing a value back at each yield, with no scheduler involved.
 *
 * A generator owns a context and a guarded stack; coco_gen_resume() saves
 * the caller's context in the generator and switches to the generator's,
 * coco_gen_yield() switches back.  One context switch each way and no
 * system call: the resume and the yield are the whole cost.  On x86-64
 * (lib/core/gen.h, direct mode) each side does the other's bookkeeping
 * before it switches and tail-calls the switch, so that both return to
 * their callers through a predicted jump; a generator's stack therefore
 * stays until coco_gen_destroy(), since nothing runs after its last
 * switch that could give it back.
 *
 * While a generator runs, its thread runs no scheduler as far as the rest
 * of the library can tell (coco__tls_running is NULL, put back when it
 * stops): a call that would park, made from a generator, finds no current
 * coroutine and fails as it does in plain code, instead of parking the
 * coroutine that resumed the generator on the generator's stack.
 *
 * Generators belong to no scheduler and to no thread, so their stacks come
 * from one pool of the process, under a spin lock held for the pool's few
 * list operations (and the rare mapping of a new slab).  The pool keeps a
 * few stacks warm for the next generators; the rest go back to the system.
 * A generator may be resumed from inside another one, or from a coroutine:
 * the resume saves and restores what it changes in the thread's state.
 *
 * A stack overflow inside the generator is caught by the library's fault
 * handler (lib/signal), which finds the faulting generator through
 * coco__tls_gen and switches back to its resumer; the handler needs the
 * thread's alternate signal stack, set up on the first resume on each
 * thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco_internal.h"
#include "core/gen.h"
#include "signal/signal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Warm stacks the process keeps for new generators. */
#define GEN_POOL_LIMIT 64

static coco_stack_pool_t gen_pool = { .limit = GEN_POOL_LIMIT };
static char gen_pool_lock;

/* The thread has its alternate signal stack (or tried to make it). */
static COCO__TLS bool gen_armed;

static void pool_lock(void)
{
    while (__atomic_test_and_set(&gen_pool_lock, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&gen_pool_lock, __ATOMIC_RELAXED))
            ;
}

static void pool_unlock(void)
{
    __atomic_clear(&gen_pool_lock, __ATOMIC_RELEASE);
}

/* The first frame of every generator: runs fn, then leaves for good. */
static COCO__NORETURN void gen_main(void *p)
{
    coco_gen_t *g = p;
    coco__fiber_arrive(&g->ctx);
    void *result = g->fn(g, g->arg);
    g->done = true;
#if COCO__GEN_DIRECT
    coco__gen_leave(g, result);
    coco__ctx_switch_ret(&g->ctx, &g->caller, &g->state, COCO__GEN_DEAD,
                         (uintptr_t)COCO_GEN_DONE);
    __builtin_unreachable();
#else
    g->xfer = result;
    coco__fiber_exit(&g->ctx, &g->caller);
    coco__ctx_jump(&g->caller);
#endif
}

coco_gen_t *coco_gen_create(void *(*fn)(coco_gen_t *g, void *arg), void *arg,
                            size_t stack_size)
{
    size_t size = coco__stack_round(stack_size);
    if (fn == NULL || size == 0) {
        errno = EINVAL;
        return NULL;
    }
    coco_gen_t *g = calloc(1, sizeof *g);
    if (g == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    pool_lock();
    int rc = coco__stack_get(&gen_pool, size, &g->stack);
    pool_unlock();
    if (rc != COCO_OK) {
        free(g);
        errno = ENOMEM;
        return NULL;
    }
    g->fn = fn;
    g->arg = arg;
    g->state = COCO__GEN_SUSPENDED;
    coco__ctx_init(&g->ctx, g->stack.lo, g->stack.size, gen_main, g);
    coco__fiber_init(&g->ctx, g->stack.lo, g->stack.size);
    return g;
}

/* The first resume on a thread gives it what the fault handler needs. */
static COCO__NOINLINE void arm_thread(void)
{
    gen_armed = true;
    (void)coco__signal_init_thread(); /* without it, overflows crash */
}

int coco_gen_resume(coco_gen_t *g, void *in, void **out)
{
    if (out != NULL)
        *out = NULL;
    if (g == NULL)
        return COCO_ERROR_INVALID;
    /* A load and a store, not a compare-and-swap: a locked instruction
     * would cost as much as the rest of a step.  It refuses a resume from
     * inside the generator and one made while another thread is seen to
     * run it; two resumes at the same instant are the caller's bug. */
    if (__atomic_load_n(&g->state, __ATOMIC_ACQUIRE) != COCO__GEN_SUSPENDED)
        return COCO_ERROR_INVALID; /* running, or finished */
    __atomic_store_n(&g->state, COCO__GEN_RUNNING, __ATOMIC_RELAXED);
    if (coco__unlikely(!gen_armed))
        arm_thread();
    g->out = out;
    g->saved_running = coco__tls_running;
    g->outer = coco__tls_gen;
    coco__tls_running = NULL;
    coco__tls_gen = g;
#if COCO__GEN_DIRECT
    /* The generator's side stores *out and the state before it switches
     * back, and hands over what this returns. */
    return coco__ctx_switch_rc(&g->caller, &g->ctx, &g->state,
                               COCO__GEN_RUNNING, (uintptr_t)in);
#else
    g->xfer = in;
    coco__fiber_leave(&g->caller, &g->ctx);
    coco__ctx_switch(&g->caller, &g->ctx);
    coco__fiber_arrive(&g->caller);
    coco__gen_leave(g, g->xfer);
    int rc = COCO_OK;
    if (coco__unlikely(g->done))
        rc = g->overflowed ? COCO_ERROR_STACK_OVERFLOW : COCO_GEN_DONE;
    /* Last: from here another thread may resume or destroy it. */
    __atomic_store_n(&g->state, g->done ? COCO__GEN_DEAD : COCO__GEN_SUSPENDED,
                     __ATOMIC_RELEASE);
    return rc;
#endif
}

void *coco_gen_yield(coco_gen_t *g, void *value)
{
    if (g == NULL || g != coco__tls_gen) {
        errno = EINVAL; /* not from inside g's function */
        return NULL;
    }
#if COCO__GEN_DIRECT
    coco__gen_leave(g, value);
    return (void *)coco__ctx_switch_ret(&g->ctx, &g->caller, &g->state,
                                        COCO__GEN_SUSPENDED, (uintptr_t)COCO_OK);
#else
    g->xfer = value;
    coco__fiber_leave(&g->ctx, &g->caller);
    coco__ctx_switch(&g->ctx, &g->caller);
    coco__fiber_arrive(&g->ctx);
    return g->xfer;
#endif
}

int coco_gen_destroy(coco_gen_t *g)
{
    if (g == NULL)
        return COCO_ERROR_INVALID;
    int st = COCO__GEN_SUSPENDED;
    if (!__atomic_compare_exchange_n(&g->state, &st, COCO__GEN_DEAD, false,
                                     __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE) &&
        st != COCO__GEN_DEAD)
        return COCO_ERROR_INVALID; /* running: its resume would come back */
    if (g->stack.lo != NULL) {
        /* Suspended: its frames are dropped where they stand. */
        coco__fiber_fini(&g->ctx, g->stack.lo, g->stack.size);
        pool_lock();
        coco__stack_put(&gen_pool, &g->stack);
        pool_unlock();
    }
    free(g);
    return COCO_OK;
}
