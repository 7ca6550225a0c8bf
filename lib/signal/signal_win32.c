/*
 * signal_win32.c - stack overflow detection on Windows.
 *
 * The POSIX port catches SIGSEGV on an alternate signal stack.  Windows
 * has no alternate stack: an exception is dispatched on the stack of the
 * code that raised it, so a handler for a coroutine that ran out of stack
 * would itself run out.  Instead each coroutine stack is laid out like a
 * thread's own (stack_win32.h) and the switch gives the thread block the
 * running coroutine's bounds.  When the coroutine touches its guard page,
 * the system commits the guarantee zone below it and raises
 * STATUS_STACK_OVERFLOW, which is then dispatched with that zone free.
 *
 * A vectored exception handler, called before any frame-based handler,
 * recognises an overflow of the running coroutine (or an access violation
 * inside its reservation, for frames that jumped the guard page), records
 * it and resumes the scheduler loop: it rewrites the faulting context to
 * continue in coco__ctx_jump(&main_ctx) and lets the system restore it,
 * so the dispatcher unwinds normally.  The loop marks the coroutine
 * OVERFLOW, reports it and runs the others on; its stack, which lost its
 * guard page, is released rather than reused.  Any other exception is
 * left to the handlers after ours, so real crashes still crash.
 *
 * SPDX-License-Identifier: MIT
 */
#include "signal/signal.h"
#include "mem/stack_win32.h"

#define WIN32_LEAN_AND_MEAN
#include <windows.h>

static volatile LONG install_state; /* 0 not yet, 1 being installed, 2 installed */

/* Whether the fault belongs to the running coroutine's reservation. */
static bool in_reservation(const coco_co_t *co, const EXCEPTION_RECORD *rec,
                           const CONTEXT *ctx)
{
    char *base = coco__stack_win32_base(co->stack.lo);
    char *lo = co->stack.lo;
    char *sp = (char *)ctx->Rsp;
    if (rec->ExceptionCode == EXCEPTION_STACK_OVERFLOW)
        return sp >= base && sp < lo + co->stack.size;
    /* An access violation: its address is the second parameter. */
    if (rec->NumberParameters < 2)
        return false;
    char *addr = (char *)rec->ExceptionInformation[1];
    return addr >= base && addr < lo;
}

static LONG CALLBACK on_exception(EXCEPTION_POINTERS *ep)
{
    EXCEPTION_RECORD *rec = ep->ExceptionRecord;
    if (rec->ExceptionCode != EXCEPTION_STACK_OVERFLOW &&
        rec->ExceptionCode != EXCEPTION_ACCESS_VIOLATION &&
        rec->ExceptionCode != EXCEPTION_GUARD_PAGE)
        return EXCEPTION_CONTINUE_SEARCH;
    coco_sched_t *s = coco__tls_running;
    coco_co_t *co = s != NULL && s->running ? s->current : NULL;
    if (co == NULL || !in_reservation(co, rec, ep->ContextRecord))
        return EXCEPTION_CONTINUE_SEARCH;

    coco__stack_win32_spent(co->stack.lo);
    s->overflowed = co;
    s->current = NULL;
    /* Continue in coco__ctx_jump(&s->main_ctx), still on the zone the
     * system committed (the jump leaves it at once); the stack pointer is
     * set as at a function's entry. */
    CONTEXT *c = ep->ContextRecord;
    c->Rcx = (DWORD64)(uintptr_t)&s->main_ctx;
    c->Rip = (DWORD64)(uintptr_t)coco__ctx_jump;
    c->Rsp = ((c->Rsp - 64) & ~(DWORD64)15) - 8;
    return EXCEPTION_CONTINUE_EXECUTION;
}

static int install_handler(void)
{
    if (InterlockedCompareExchange(&install_state, 1, 0) == 0) {
        if (AddVectoredExceptionHandler(1, on_exception) == NULL) {
            InterlockedExchange(&install_state, 0);
            return COCO_ERROR;
        }
        InterlockedExchange(&install_state, 2);
        return COCO_OK;
    }
    /* Another thread is installing it right now: wait for it. */
    while (InterlockedCompareExchange(&install_state, 1, 1) == 1)
        Sleep(0);
    return install_state == 2 ? COCO_OK : COCO_ERROR;
}

int coco__signal_init_thread(void)
{
    if (install_handler() != COCO_OK)
        return COCO_ERROR;
    /* The zone below each guard page is what the system keeps for the
     * overflow's dispatch: make the thread's guarantee match it.  The
     * guarantee only ever grows; a larger one set by the application is
     * kept and still fits, the overflow is then raised at the same page. */
    ULONG want = (ULONG)COCO__WIN32_GUARANTEE;
    ULONG prev = 0;
    if (!SetThreadStackGuarantee(&prev))
        return COCO_ERROR;
    if (prev < want && !SetThreadStackGuarantee(&want))
        return COCO_ERROR;
    return COCO_OK;
}

void coco__signal_fini_thread(void)
{
    /* Nothing per thread to give back: the guarantee stays. */
}
