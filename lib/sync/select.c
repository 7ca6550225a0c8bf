/*
 * select.c - waiting on several channel operations at once.
 *
 * The ready cases are polled starting at a random one, so a case that is
 * always ready cannot starve the ones after it.  When none is ready the
 * coroutine queues one waiter record per case and parks; the first peer
 * to satisfy a record unlinks all of them (coco__wait_fire()), so a select
 * completes exactly one case.
 *
 * SPDX-License-Identifier: MIT
 */
#include "sync/channel.h"

#include <stdlib.h>

/* Waiter records kept on the stack; larger selects allocate theirs. */
#define SELECT_STACK_CASES 8

/* Completes c if it can be completed without waiting; false if not. */
static bool case_try(coco_select_case_t *c)
{
    int rc;
    if (c->op == COCO_SELECT_SEND)
        rc = coco__chan_send_now(c->ch, c->value);
    else
        rc = coco__chan_recv_now(c->ch, &c->value);
    if (rc == COCO_ERROR_WOULDBLOCK)
        return false;
    c->result = rc;
    return true;
}

/* Checks the cases; the number of them with a channel, or -1 if one is
 * malformed.  *owner is the thread that made every channel of cases, or
 * coco__no_owner when they are not all one thread's (lib/core/mt.h). */
static COCO__ALWAYS_INLINE long check_cases(const coco_select_case_t *cases, size_t n,
                        const coco__thr_t **owner)
{
    long active = 0;
    const coco__thr_t *own = NULL;
    bool mixed = false;
    for (size_t i = 0; i < n; i++) {
        if (cases[i].op != COCO_SELECT_SEND && cases[i].op != COCO_SELECT_RECV)
            return -1;
        coco_channel_t *ch = cases[i].ch;
        if (ch != NULL) {
            /* Atomic: it may change to coco__no_owner (select_enter). */
            const coco__thr_t *o = __atomic_load_n(&ch->thr, __ATOMIC_RELAXED);
            if (active++ == 0)
                own = o;
            else
                mixed |= o != own;
        }
    }
    *owner = mixed ? &coco__no_owner : own != NULL ? own : coco__thr();
    return active;
}

/* Debug builds: values sent must not point into a shared stack. */
static void check_send_values(const coco_select_case_t *cases, size_t n)
{
#if COCO_DEBUG
    for (size_t i = 0; i < n; i++)
        if (cases[i].ch != NULL && cases[i].op == COCO_SELECT_SEND)
            coco__sstack_check_ptr(cases[i].value, "coco_select");
#else
    (void)cases;
    (void)n;
#endif
}

/* xorshift32 on the first channel's seed: a random start per call
 * without any global state. */
static size_t random_start(coco_select_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        coco_channel_t *ch = cases[i].ch;
        if (ch != NULL) {
            uint32_t x = ch->seed;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            ch->seed = x;
            return (size_t)x % n;
        }
    }
    return 0;
}

/* Completes one ready case, chosen fairly; its index, or -1 if none. */
static COCO__ALWAYS_INLINE int poll_cases(coco_select_case_t *cases, size_t n)
{
    size_t i = random_start(cases, n);
    for (size_t k = 0; k < n; k++) {
        coco_select_case_t *c = &cases[i];
        if (c->ch != NULL && case_try(c))
            return (int)i;
        if (++i == n)
            i = 0;
    }
    return -1;
}

/* The owner of every channel of cases as it is now: see check_cases(). */
static const coco__thr_t *cases_owner(const coco_select_case_t *cases, size_t n)
{
    const coco__thr_t *t = NULL;
    for (size_t i = 0; i < n; i++) {
        if (cases[i].ch == NULL)
            continue;
        const coco__thr_t *o = __atomic_load_n(&cases[i].ch->thr, __ATOMIC_RELAXED);
        if (t == NULL)
            t = o;
        else if (o != t)
            return &coco__no_owner;
    }
    return t != NULL ? t : coco__thr();
}

/* A select over channels of several threads: whoever fires one of its
 * records unlinks the whole group, from all of them, so from now on every
 * section on those channels holds every lock.  Under every lock. */
static void cases_share(const coco_select_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (cases[i].ch != NULL)
            __atomic_store_n(&cases[i].ch->thr, &coco__no_owner, __ATOMIC_RELAXED);
}

static COCO__NOINLINE void select_enter_slow(const coco_select_case_t *cases, size_t n,
                                             const coco__thr_t *t)
{
    coco__sect_enter_slow(t);
    if (__atomic_load_n(&coco__tls_sect, __ATOMIC_RELAXED) != COCO__SECT_LOCKED)
        return;
    /* An owner read before its lock was held may have changed since (to
     * coco__no_owner, under every lock): then every lock it is. */
    if (t != &coco__no_owner && cases_owner(cases, n) != t) {
        coco__sect_leave();
        coco__sect_enter_slow(t = &coco__no_owner);
    }
    if (t == &coco__no_owner)
        cases_share(cases, n);
}

/* The section over the channels of cases, whose owner is t (from
 * check_cases()): coco__sect_enter(t), and what several owners need. */
static COCO__ALWAYS_INLINE void select_enter(const coco_select_case_t *cases, size_t n,
                                             const coco__thr_t *t)
{
    __atomic_store_n(&coco__tls_sect, COCO__SECT_OPEN, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (coco__likely(t == __atomic_load_n(&coco__tls_key, __ATOMIC_RELAXED)))
        return;
    __atomic_store_n(&coco__tls_sect, COCO__SECT_NONE, __ATOMIC_RELEASE);
    select_enter_slow(cases, n, t);
}

static int select_wait(coco_co_t *co, coco_select_case_t *cases, size_t n,
                       uint64_t timeout_ms)
{
    coco__waiter_t local[SELECT_STACK_CASES];
    coco__waiter_t *w = coco__wait_group(co, local, SELECT_STACK_CASES, n);
    if (w == NULL) {
        coco__sect_leave();
        return COCO_ERROR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        coco_select_case_t *c = &cases[i];
        if (c->ch == NULL)
            continue;
        w[i].value = c->value;
        coco__waitq_push(c->op == COCO_SELECT_SEND ? &c->ch->sendq : &c->ch->recvq,
                         &w[i]);
    }
    int rc = coco__wait_park_group(co, w, local, timeout_ms);
    if (rc >= 0) {
        coco_select_case_t *c = &cases[rc];
        c->result = w[rc].result;
        if (c->op == COCO_SELECT_RECV)
            c->value = w[rc].value;
    }
    coco__wait_records_free(w, local);
    return rc;
}

int coco_select(coco_select_case_t *cases, size_t n, uint64_t timeout_ms)
{
    if (cases == NULL || n == 0 || n > INT32_MAX)
        return COCO_ERROR_INVALID;
    const coco__thr_t *owner;
    long active = check_cases(cases, n, &owner);
    if (active < 0)
        return COCO_ERROR_INVALID;
    check_send_values(cases, n);
    select_enter(cases, n, owner);
    int i = poll_cases(cases, n);
    coco_co_t *co = coco__current();
    int rc;
    if (i >= 0)
        rc = i;
    else if (co == NULL)
        rc = COCO_ERROR_WOULDBLOCK;
    else if (timeout_ms == 0)
        rc = COCO_ERROR_TIMEOUT;
    else if (active == 0 && timeout_ms == COCO_INFINITE)
        rc = COCO_ERROR_INVALID; /* nothing could ever wake it */
    else
        return select_wait(co, cases, n, timeout_ms);
    coco__sect_leave();
    return rc;
}

int coco_select_try(coco_select_case_t *cases, size_t n)
{
    const coco__thr_t *owner;
    if (cases == NULL || n == 0 || n > INT32_MAX || check_cases(cases, n, &owner) < 0)
        return COCO_ERROR_INVALID;
    select_enter(cases, n, owner);
    int i = poll_cases(cases, n);
    coco__sect_leave();
    return i >= 0 ? i : COCO_ERROR_WOULDBLOCK;
}
