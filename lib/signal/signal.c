/*
 * signal.c - stack overflow detection.
 *
 * A coroutine that runs off the bottom of its stack touches the PROT_NONE
 * guard page and the kernel raises SIGSEGV (SIGBUS on some systems).  The
 * handler runs on a per-thread alternate stack, since the faulting stack
 * has no room left.  When the fault address lies in the guard page of the
 * coroutine running on this thread, the handler records the overflow and
 * resumes the scheduler loop, which marks the coroutine OVERFLOW, takes it
 * off whatever it was waiting on, reports it, and runs the others on.
 *
 * A switch makes the next coroutine current before it saves the registers
 * of the one it leaves, and that saving (or the call into the switch) is
 * what may hit the guard page of the one being left.  So when the fault is
 * not in the current coroutine's guard page, the handler looks for the
 * coroutine whose guard page it is, and takes it for the one being left if
 * the stack pointer is on its stack; the coroutine the switch was handing
 * over to goes back to the head of the run queue.  Finding it costs a walk
 * over the descriptors, on a fault only: the switch itself does nothing
 * more for it.
 *
 * Any other fault goes to the handler that was installed before ours, so
 * real crashes still crash.
 *
 * SPDX-License-Identifier: MIT
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#  define _GNU_SOURCE 1 /* the register names of ucontext_t */
#endif
#include "signal/signal.h"
#include "core/gen.h"

#if COCO_HAVE_OVERFLOW_DETECT

#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#if defined(__linux__)
#  include <ucontext.h>
#endif

/* Room for the handler and for an error callback that overflows nothing. */
#define ALT_STACK_SIZE ((size_t)64 * 1024)

static struct sigaction old_segv, old_bus;
static int install_state; /* 0 not yet, 1 being installed, 2 installed */

static COCO__TLS char *alt_stack;

static void chain(int sig, siginfo_t *si, void *uc)
{
    struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;

    if (old->sa_flags & SA_SIGINFO) {
        old->sa_sigaction(sig, si, uc);
        return;
    }
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
        return;
    }
    /* Default action: put it back and let the fault happen again, which
     * now terminates the process with the usual core dump.  A signal sent
     * with kill() does not recur by itself, so send it again. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    if (si == NULL || si->si_code <= 0)
        raise(sig);
}

/* The stack pointer at the fault, or NULL where this file does not know
 * how to read it. */
static char *fault_sp(void *uc)
{
#if defined(__linux__) && defined(__x86_64__)
    return (char *)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RSP];
#elif defined(__linux__) && defined(__aarch64__)
    return (char *)((ucontext_t *)uc)->uc_mcontext.sp;
#elif defined(__linux__) && defined(__riscv)
    return (char *)((ucontext_t *)uc)->uc_mcontext.__gregs[REG_SP];
#else
    (void)uc;
    return NULL;
#endif
}

static bool in_guard(const coco_co_t *co, const char *addr)
{
    const char *guard = coco__stack_guard(&co->stack);
    return guard != NULL && addr >= guard && addr < co->stack.lo;
}

/* Leaving the handler by a switch, never by a return: the kernel does
 * not unblock the signal for us. */
static void unblock_faults(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGSEGV);
    sigaddset(&set, SIGBUS);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    /* A generator runs (lib/loop/gen.c): the fault is its overflow, or
     * nothing of ours (the coroutine that resumed it, if any, is not
     * current while it runs). */
    struct coco_gen *g = coco__tls_gen;
    if (g != NULL) {
        if (si == NULL || si->si_code <= 0 || !coco__gen_in_guard(g, si->si_addr)) {
            chain(sig, si, uc);
            return;
        }
        unblock_faults();
        coco__gen_overflow(g);
    }
    coco_sched_t *s = coco__tls_running;
    if (s == NULL || !s->running || si == NULL || si->si_code <= 0) {
        chain(sig, si, uc);
        return;
    }
    char *addr = (char *)si->si_addr;
    coco_co_t *co = s->current;
    if (co == NULL || !in_guard(co, addr)) {
        /* A switch that was leaving another coroutine? */
        coco_co_t *left = coco__co_of_guard(s, addr);
        char *sp = fault_sp(uc);
        if (left == NULL || left == co ||
            (sp != NULL && (sp < coco__stack_guard(&left->stack) ||
                            sp > left->stack.lo + left->stack.size))) {
            chain(sig, si, uc);
            return;
        }
        if (co != NULL)
            coco__switch_undo(s, co);
        co = left;
    }
    unblock_faults();
    s->overflowed = co;
    s->current = NULL;
#if COCO__ASAN
    /* The loop still has to unlink the waiter records of the calls the
     * coroutine was in, and AddressSanitizer may keep those frames on its
     * fake stack, which an exit would free: keep it, at the cost of one
     * fake stack per overflow. */
    coco__fiber_leave(&co->ctx, &s->main_ctx);
#else
    coco__fiber_exit(&co->ctx, &s->main_ctx);
#endif
    coco__ctx_jump(&s->main_ctx);
}

static int install_handler(void)
{
    int expected = 0;
    if (__atomic_compare_exchange_n(&install_state, &expected, 1, false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fault;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGSEGV, &sa, &old_segv) != 0 ||
            sigaction(SIGBUS, &sa, &old_bus) != 0) {
            __atomic_store_n(&install_state, 0, __ATOMIC_RELEASE);
            return COCO_ERROR;
        }
        __atomic_store_n(&install_state, 2, __ATOMIC_RELEASE);
        return COCO_OK;
    }
    /* Another thread is installing it right now: wait for it. */
    while (__atomic_load_n(&install_state, __ATOMIC_ACQUIRE) == 1)
        ;
    return __atomic_load_n(&install_state, __ATOMIC_ACQUIRE) == 2 ? COCO_OK : COCO_ERROR;
}

int coco__signal_init_thread(void)
{
    if (install_handler() != COCO_OK)
        return COCO_ERROR;
    if (alt_stack != NULL)
        return COCO_OK;

    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE) &&
        cur.ss_size >= (size_t)MINSIGSTKSZ)
        return COCO_OK; /* the application has its own: use it */

    int flags = MAP_PRIVATE;
#if HAVE_DECL_MAP_ANONYMOUS
    flags |= MAP_ANONYMOUS;
#else
    flags |= MAP_ANON;
#endif
    void *p = mmap(NULL, ALT_STACK_SIZE, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED)
        return COCO_ERROR_NOMEM;
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_sp = p;
    ss.ss_size = ALT_STACK_SIZE;
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(p, ALT_STACK_SIZE);
        return COCO_ERROR;
    }
    alt_stack = p;
    return COCO_OK;
}

void coco__signal_fini_thread(void)
{
    if (alt_stack == NULL)
        return;
    /* Disable the alternate stack only if it is still ours: the
     * application may have installed one of its own since. */
    stack_t cur;
    if (sigaltstack(NULL, &cur) != 0)
        return;
    if (!(cur.ss_flags & SS_DISABLE) && cur.ss_sp == alt_stack) {
        if (cur.ss_flags & SS_ONSTACK)
            return; /* running on it: keep it */
        stack_t ss;
        memset(&ss, 0, sizeof ss);
        ss.ss_flags = SS_DISABLE;
        if (sigaltstack(&ss, NULL) != 0)
            return;
    }
    munmap(alt_stack, ALT_STACK_SIZE);
    alt_stack = NULL;
}

#else /* !COCO_HAVE_OVERFLOW_DETECT */

int coco__signal_init_thread(void)
{
    return COCO_OK;
}

void coco__signal_fini_thread(void)
{
}

#endif
