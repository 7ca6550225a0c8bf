/*
 * context.c - the first frame of a context that has never run.
 *
 * The assembly switch resumes a context by popping the frame described in
 * lib/arch/switch_<cpu>.S.  A new context gets that frame built by hand, so
 * that its first resume "returns" into coco__ctx_start, which calls
 * fn(arg) and then coco__co_return().  The ucontext port builds its own
 * contexts with makecontext().
 *
 * The frame is all a coroutine that never ran keeps on its stack, and
 * coco__ctx_start's return address is all that stays of it below fn's
 * frame once fn runs: no padding above it where the ABI does not ask for
 * any.  A shared-stack coroutine's first frame is built in place when it
 * first runs; from then on it is saved and restored like any other.
 *
 * SPDX-License-Identifier: MIT
 */
#include "arch/context.h"

#if COCO__TSAN
COCO__TLS unsigned int coco__tsan_fibers;
#endif

#if !COCO_USE_UCONTEXT

#include <string.h>
#if defined(_WIN64)
#  include "mem/stack_win32.h"
#endif

void coco__ctx_start(void);

void coco__ctx_init(coco_ctx_t *ctx, void *lo, size_t size,
                    void (*fn)(void *), void *arg)
{
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    uintptr_t *f;

#if defined(__x86_64__)
    uint32_t mxcsr;
    uint16_t fpucw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fpucw));
    uintptr_t csr = (uintptr_t)mxcsr | ((uintptr_t)fpucw << 32);
#endif

#if defined(__x86_64__) && defined(_WIN64)
    /* See switch_x86_64_win64.S: csr, the three thread-block fields, ten
     * xmm registers (zero), padding, r15, r14, r13 = fn, r12 = arg, rsi,
     * rdi, rbx, rbp = 0, resume address; then six zero words, the first of
     * which ends stack walks in coco__ctx_start. */
    f = (uintptr_t *)(top - 40 * sizeof(uintptr_t));
    memset(f, 0, 40 * sizeof(uintptr_t));
    f[0] = csr;
    f[1] = (uintptr_t)lo + size;                      /* StackBase */
    f[2] = (uintptr_t)lo;                             /* StackLimit */
    f[3] = (uintptr_t)coco__stack_win32_base(lo);     /* DeallocationStack */
    f[27] = (uintptr_t)fn;
    f[28] = (uintptr_t)arg;
    f[33] = (uintptr_t)coco__ctx_start;
#elif defined(__x86_64__)
    /* csr, r15, r14, r13 = fn, r12 = arg, rbx, rbp = 0, resume address, at
     * the very top: once the resume address is popped the stack pointer is
     * the 16-byte aligned top, as the ABI wants at coco__ctx_start's calls. */
    f = (uintptr_t *)(top - 8 * sizeof(uintptr_t));
    memset(f, 0, 8 * sizeof(uintptr_t));
    f[0] = csr;
    f[3] = (uintptr_t)fn;
    f[4] = (uintptr_t)arg;
    f[7] = (uintptr_t)coco__ctx_start;
#elif defined(__aarch64__)
    /* x19 = arg, x20 = fn, x29 = 0, x30 = resume address, d8-d15 = 0. */
    f = (uintptr_t *)(top - 20 * sizeof(uintptr_t));
    memset(f, 0, 20 * sizeof(uintptr_t));
    f[0] = (uintptr_t)arg;
    f[1] = (uintptr_t)fn;
    f[11] = (uintptr_t)coco__ctx_start;
#elif defined(__riscv) && __riscv_xlen == 64
    /* s0 = 0, s1 = arg, s2 = fn, ra = resume address, fs0-fs11 = 0. */
    f = (uintptr_t *)(top - 26 * sizeof(uintptr_t));
    memset(f, 0, 26 * sizeof(uintptr_t));
    f[1] = (uintptr_t)arg;
    f[2] = (uintptr_t)fn;
    f[12] = (uintptr_t)coco__ctx_start;
#else
#  error "configure selected an assembly switch this file does not know"
#endif
    ctx->sp = f;
}

#endif /* !COCO_USE_UCONTEXT */
