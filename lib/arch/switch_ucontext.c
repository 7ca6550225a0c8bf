/*
 * switch_ucontext.c - the portable context switch, for CPUs without an
 * assembly port and for --disable-asm.  swapcontext() saves and restores the
 * signal mask with a system call, so it is far slower than the assembly.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco_internal.h"

#include <stdlib.h>

/* makecontext() passes int arguments only: the context's address travels
 * split in two halves. */
static void ctx_start(unsigned int hi, unsigned int lo)
{
    uintptr_t p = ((uintptr_t)hi << 16 << 16) | (uintptr_t)lo;
    coco_ctx_t *ctx = (coco_ctx_t *)p;
    ctx->fn(ctx->arg);
    coco__co_return();
}

void coco__ctx_init(coco_ctx_t *ctx, void *lo, size_t size,
                    void (*fn)(void *), void *arg)
{
    uintptr_t p = (uintptr_t)ctx;
    getcontext(&ctx->uc);
    ctx->uc.uc_stack.ss_sp = lo;
    ctx->uc.uc_stack.ss_size = size;
    ctx->uc.uc_link = NULL;
    ctx->fn = fn;
    ctx->arg = arg;
    makecontext(&ctx->uc, (void (*)(void))ctx_start, 2,
                (unsigned int)(p >> 16 >> 16), (unsigned int)(p & 0xffffffffu));
}

void coco__ctx_switch(coco_ctx_t *from, coco_ctx_t *to)
{
    swapcontext(&from->uc, &to->uc);
}

void coco__ctx_jump(coco_ctx_t *to)
{
    setcontext(&to->uc);
    abort();
}
