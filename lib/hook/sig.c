/*
 * sig.c - signal handlers, seen by the calls they interrupt.
 *
 * A handler that runs while a coroutine is parked in a hooked call runs
 * on the scheduler's thread, in the middle of the scheduler's wait, which
 * simply goes on: nothing in Coco's loop sees it.  So every handler the
 * application installs with sigaction() or signal() is installed behind a
 * small trampoline that counts, per thread, the handlers run (and those
 * run without SA_RESTART), then calls it.  A parked call that libc would
 * end with EINTR compares the counts of its thread with those it started
 * with; while the process has such handlers, it waits in slices of a few
 * milliseconds to look at them (see hook_park in boot.c).
 *
 * The synchronous fault signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP,
 * SIGSYS) interrupt no call and are installed as given.
 *
 * SPDX-License-Identifier: MIT
 */
#undef _FORTIFY_SOURCE
#include "hook/hook.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

/* Initial-exec: a handler must not reach the allocator through
 * __tls_get_addr; the library is loaded with the program. */
static __thread __attribute__((tls_model("initial-exec"))) unsigned gen_all;
static __thread __attribute__((tls_model("initial-exec"))) unsigned gen_nr;

int hook_sig_handlers;

#ifndef NSIG
#  define NSIG 65
#endif

/* What the application installed, per signal, while wrapped. */
struct user_action {
    void *handler;      /* sa_handler or sa_sigaction */
    int flags;
    int wrapped;
};
static struct user_action user[NSIG];

unsigned hook_sig_gen(void)
{
    return __atomic_load_n(&gen_all, __ATOMIC_RELAXED);
}

unsigned hook_sig_gen_nr(void)
{
    return __atomic_load_n(&gen_nr, __ATOMIC_RELAXED);
}

static void trampoline(int sig, siginfo_t *si, void *uc)
{
    struct user_action *u = &user[sig];
    void *h = __atomic_load_n(&u->handler, __ATOMIC_ACQUIRE);
    int flags = __atomic_load_n(&u->flags, __ATOMIC_RELAXED);
    __atomic_store_n(&gen_all, gen_all + 1, __ATOMIC_RELAXED);
    if (!(flags & SA_RESTART))
        __atomic_store_n(&gen_nr, gen_nr + 1, __ATOMIC_RELAXED);
    if (h == (void *)SIG_DFL || h == (void *)SIG_IGN || h == NULL)
        return;
    if (flags & SA_SIGINFO)
        ((void (*)(int, siginfo_t *, void *))h)(sig, si, uc);
    else
        ((void (*)(int))h)(sig);
}

static bool wrappable(int sig)
{
    switch (sig) {
    case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGTRAP: case SIGSYS:
        return false;
    default:
        return sig > 0 && sig < NSIG;
    }
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (HOOK_UNLIKELY(hook_real.sigaction == NULL) && hook_boot() != 0) {
        errno = ENOSYS;
        return -1;
    }
    if (!wrappable(sig))
        return hook_real.sigaction(sig, act, old);
    struct user_action prev = user[sig];
    int r;
    if (act == NULL) {
        r = hook_real.sigaction(sig, NULL, old);
    } else {
        void *h = (act->sa_flags & SA_SIGINFO) ? (void *)act->sa_sigaction
                                               : (void *)act->sa_handler;
        if (h == (void *)SIG_DFL || h == (void *)SIG_IGN) {
            r = hook_real.sigaction(sig, act, old);
            if (r == 0)
                __atomic_store_n(&user[sig].wrapped, 0, __ATOMIC_RELEASE);
        } else {
            struct sigaction k = *act;
            k.sa_sigaction = trampoline;
            k.sa_flags |= SA_SIGINFO;
            /* The trampoline reads these: set them before it can run. */
            __atomic_store_n(&user[sig].flags, act->sa_flags, __ATOMIC_RELAXED);
            __atomic_store_n(&user[sig].handler, h, __ATOMIC_RELEASE);
            __atomic_store_n(&hook_sig_handlers, 1, __ATOMIC_RELAXED);
            r = hook_real.sigaction(sig, &k, old);
            if (r == 0) {
                __atomic_store_n(&user[sig].wrapped, 1, __ATOMIC_RELEASE);
            } else {
                user[sig].flags = prev.flags;
                user[sig].handler = prev.handler;
            }
        }
    }
    /* The application sees its own handler, not the trampoline. */
    if (r == 0 && old != NULL && prev.wrapped &&
        (void *)old->sa_sigaction == (void *)trampoline) {
        old->sa_flags = prev.flags;
        if (prev.flags & SA_SIGINFO)
            old->sa_sigaction = (void (*)(int, siginfo_t *, void *))prev.handler;
        else
            old->sa_handler = (void (*)(int))prev.handler;
    }
    return r;
}

/* glibc's signal(): BSD semantics (the handler stays, calls restart). */
sighandler_t signal(int sig, sighandler_t handler)
{
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = handler;
    sigemptyset(&act.sa_mask);
    sigaddset(&act.sa_mask, sig);
    act.sa_flags = SA_RESTART;
    if (sigaction(sig, &act, &old) != 0)
        return SIG_ERR;
    return old.sa_handler;
}

#ifdef HOOK_UNINSTRUMENTED
#  pragma clang attribute pop
#endif
