/*
 * coro.c - the life of a coroutine: create, run to the end (or overflow),
 * join, detach, destroy.
 *
 * Descriptors come from per-scheduler chunks and are recycled through a
 * free list; a destroyed descriptor keeps its memory (marked free) until
 * the scheduler goes, which is what lets a second coco_destroy() or a late
 * coco_join() on the same handle be recognised and refused.
 *
 * A finished coroutine gives its stack back at once; its descriptor stays
 * until coco_destroy(), or until it finishes if it was detached.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco_internal.h"
#include "core/mt.h"
#include "debug/inspect.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_COROS 64

struct coco_co_chunk {
    struct coco_co_chunk *next;
    coco_co_t co[CHUNK_COROS];
};

/* ---------------------------------------------------------- descriptors */

static coco_co_t *co_alloc(coco_sched_t *s)
{
    if (s->free_co == NULL) {
        struct coco_co_chunk *ch = calloc(1, sizeof *ch);
        if (ch == NULL)
            return NULL;
        ch->next = s->chunks;
        s->chunks = ch;
        for (int i = CHUNK_COROS - 1; i >= 0; i--) {
            coco_co_t *co = &ch->co[i];
            /* The public sched member is const for users; set it once. */
            memcpy((void *)&co->pub, &s, sizeof s);
            co->magic = COCO__MAGIC_FREE;
            co->next = s->free_co;
            s->free_co = co;
        }
    }
    coco_co_t *co = s->free_co;
    s->free_co = co->next;
    return co;
}

static void co_free(coco_sched_t *s, coco_co_t *co)
{
    if (co->flags & COCO__HAS_CB)
        coco__error_cb_drop(&s->error_cbs, co);
    co->flags = 0;
    co->magic = COCO__MAGIC_FREE;
    co->state = COCO_STATE_DEAD;
    co->next = s->free_co;
    s->free_co = co;
}

/* ------------------------------------------------------------- lifecycle */

/* Its result waits in the scheduler until the loop has woken the joiners,
 * whose list shares the descriptor's storage with it. */
static COCO__NORETURN void co_finish(coco_sched_t *s, coco_co_t *co, void *result)
{
    COCO__TRACE(s, COCO__TR_EXIT, co, NULL);
    co->state = COCO_STATE_DEAD;
    s->zombie = co;
    s->zombie_result = result;
    s->current = NULL;
    coco__fiber_exit(&co->ctx, &s->main_ctx);
    coco__ctx_jump(&s->main_ctx); /* the loop calls coco__co_reap() */
}

/* GCC for Windows stops with an internal error (in its SEH unwind output)
 * on a function that cannot return when -fstack-clash-protection is on.
 * coco__co_return's frame is a few words, which need no probing anyway. */
#if defined(_WIN32) && defined(__GNUC__) && !defined(__clang__)
#  define NO_CLASH_PROBES __attribute__((optimize("no-stack-clash-protection")))
#else
#  define NO_CLASH_PROBES
#endif

/* The context switch calls this when the coroutine's function returns;
 * the function was called from the switch's own first frame, so nothing
 * here needs to have been kept on the coroutine's stack. */
NO_CLASH_PROBES void coco__co_return(void)
{
    coco_sched_t *s = coco__tls_running;
    co_finish(s, s->current, NULL);
}

#if COCO__ENTRY_WRAPPER
/* Sanitizer builds: the first code on the new stack tells the sanitizer
 * where it runs, then calls the entry kept in the descriptor. */
static void co_main(void *p)
{
    coco_co_t *co = p;
    coco__fiber_arrive(&co->ctx);
    co->entry.fn(co->entry.arg);
}
#endif

/* Gives co its stack and a first context that calls fn(arg). */
static int co_stack(coco_sched_t *s, coco_co_t *co, size_t size,
                    void (*fn)(void *), void *arg)
{
#if COCO__ENTRY_WRAPPER
    co->entry.fn = fn;
    co->entry.arg = arg;
    fn = co_main;
    arg = co;
#endif
    int rc;
    if (co->flags & COCO__SHARED) {
        rc = coco__sstack_assign(s, co, size, fn, arg);
    } else {
        rc = coco__stack_get(&s->stacks, size, &co->stack);
        if (rc == COCO_OK)
            coco__ctx_init(&co->ctx, co->stack.lo, co->stack.size, fn, arg);
    }
    if (rc == COCO_OK)
        coco__fiber_init(&co->ctx, co->stack.lo, co->stack.size);
    return rc;
}

static coco_coro_t *create(coco_sched_t *s, void (*entry)(void *), void *arg,
                           size_t stack_size, unsigned flags, const void *site)
{
    if (s == NULL || entry == NULL) {
        errno = EINVAL;
        return NULL;
    }
    if (coco__sched_foreign(s)) {
        errno = EPERM; /* another thread runs it */
        return NULL;
    }
    if (s->max_coros != 0 && s->alive >= s->max_coros) {
        /* EAGAIN alone reads "Resource temporarily unavailable": say
         * once per scheduler which resource, and how to get more. */
        if (!s->limit_told) {
            s->limit_told = true;
            fprintf(stderr, "coco: coroutine limit reached: %zu alive; "
                    "coco_sched_set_max_coroutines() raises it\n", s->max_coros);
        }
        errno = EAGAIN;
        return NULL;
    }
    size_t size = coco__stack_round(stack_size);
    if (size == 0) {
        errno = EINVAL;
        return NULL;
    }
    coco__sstack_check_ptr(arg, "coco_create");
    coco_co_t *co = co_alloc(s);
    if (co == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    co->flags = (uint8_t)flags;
    co->u.joiners = NULL;
    co->site = flags & COCO__SHARED ? NULL : site;
    co->wait_on = COCO__ON_NOTHING;
    co->wait_obj = NULL;
    co->wait_result = 0;
    co->wait_timer = NULL;
    int rc = co_stack(s, co, size, entry, arg);
    if (rc != COCO_OK) {
        co_free(s, co);
        errno = rc == COCO_ERROR_INVALID ? ENOTSUP : ENOMEM;
        return NULL;
    }
    co->state = COCO_STATE_CREATED;
    co->magic = COCO__MAGIC_LIVE;
    co->id = ++s->next_id;
    s->alive++;
    /* For the deadlock rule (lib/core/mt.c): a scheduler that was stuck
     * has something to do again. */
    s->acted = true;
    coco__enqueue(s, co);
    return &co->pub;
}

coco_coro_t *coco_create(coco_sched_t *s, void (*entry)(void *), void *arg,
                         size_t stack_size)
{
    return create(s, entry, arg, stack_size, 0, COCO__CALLER);
}

int coco_attr_init(coco_attr_t *attr)
{
    if (attr == NULL)
        return COCO_ERROR_INVALID;
    memset(attr, 0, sizeof *attr);
    return COCO_OK;
}

static bool attr_valid(const coco_attr_t *attr)
{
    if (attr->flags & ~(COCO_ATTR_SHARED_STACK | COCO_ATTR_URGENT) || attr->reserved_u != 0)
        return false;
    for (size_t i = 0; i < sizeof attr->reserved / sizeof attr->reserved[0]; i++)
        if (attr->reserved[i] != NULL)
            return false;
    return true;
}

coco_coro_t *coco_create_attr(coco_sched_t *s, void (*entry)(void *), void *arg,
                              const coco_attr_t *attr)
{
    if (attr == NULL)
        return create(s, entry, arg, 0, 0, COCO__CALLER);
    if (!attr_valid(attr)) {
        errno = EINVAL;
        return NULL;
    }
    unsigned flags = (attr->flags & COCO_ATTR_SHARED_STACK ? COCO__SHARED : 0) |
                     (attr->flags & COCO_ATTR_URGENT ? COCO__URGENT : 0);
    return create(s, entry, arg, attr->stack_size, flags,
                  COCO__CALLER);
}

/* Everything a coroutine that will never run again gives back, whatever
 * ended it.  Joiners resume with result. */
static void co_retire(coco_sched_t *s, coco_co_t *co, void *result)
{
    s->alive--;
    coco__fiber_fini(&co->ctx, co->stack.lo, co->stack.size);
    if (co->flags & COCO__SHARED)
        coco__sstack_release(co);
    else
        coco__stack_put(&s->stacks, &co->stack);
    /* The list is newest first: wake from its end, so that joiners
     * resume in the order they called coco_join(), as every other wait
     * queue serves its waiters. */
    coco_co_t *j = co->u.joiners;
    if (j != NULL)
        while (j->next != NULL)
            j = j->next;
    while (j != NULL) {
        coco_co_t *newer = j->prev; /* coco__wake() reuses the link */
        coco__wake(s, j);
        j->wait_obj = result; /* what coco_join() returns */
        j = newer;
    }
    co->u.result = result; /* for coco_join() calls still to come */
}

void coco__co_reap(coco_sched_t *s, coco_co_t *co)
{
    void *result = s->zombie_result;
    s->zombie_result = NULL;
    co_retire(s, co, result);
    if (co->flags & COCO__DETACHED)
        co_free(s, co);
}

static void report_to_stderr(coco_coro_t *coro, int error_code, const char *msg)
{
    (void)coro;
    fprintf(stderr, "coco: %s (%s)\n", msg, coco_strerror(error_code));
}

void coco__co_overflowed(coco_sched_t *s, coco_co_t *co)
{
    char msg[128];
    /* The overflow may have stopped it anywhere in a call that parks or
     * switches: queued again by a yield, linked into a wait queue with or
     * without its state set, with a deadline armed.  The records it
     * waits with are still intact on its stack. */
    coco__rq_remove(s, co);
    /* Stopped inside a section, it never left it. */
    coco__sect_leave();
    coco__sect_enter_sched(s);
    if (co->wait_on == COCO__ON_HANDOFF)
        s->ops->give_back(co); /* woken with something it never took */
    else if (co->wait_on != COCO__ON_NOTHING && co->state != COCO__STATE_INBOX)
        coco__cancel_wait(co);
    coco__unpark(s, co);
    coco__sect_leave();
    co->state = COCO_STATE_OVERFLOW;
    /* The size asked for, rounded to whole pages; the pool keeps a few
     * bytes of some stacks for itself. */
    size_t asked = co->flags & COCO__SHARED ? coco__sstack_asked(co)
                                            : coco__stack_asked(&co->stack);
    if (asked == co->stack.size)
        snprintf(msg, sizeof msg, "coroutine %" PRIu64 " overflowed its %zu-byte stack",
                 co->id, asked);
    else
        snprintf(msg, sizeof msg, "coroutine %" PRIu64 " overflowed its %zu-byte stack"
                 " (%zu bytes usable)", co->id, asked, co->stack.size);
    co_retire(s, co, NULL);
    coco_error_cb cb = coco__error_cb_of(co);
    if (cb == NULL)
        cb = report_to_stderr;
    cb(&co->pub, COCO_ERROR_STACK_OVERFLOW, msg);
    /* The callback may have destroyed it already. */
    if (coco__valid(co) && (co->flags & COCO__DETACHED))
        co_free(s, co);
}

void coco_exit(coco_coro_t *coro, void *result)
{
    coco_co_t *co = coco__co(coro);
    coco_sched_t *s = coco__tls_running;
    if (co == NULL || s == NULL || co != s->current)
        return; /* only the running coroutine can exit itself */
    co_finish(s, co, result);
}

/* ------------------------------------------------------------------ join */

static bool finished(const coco_co_t *co)
{
    return co->state == COCO_STATE_DEAD || co->state == COCO_STATE_OVERFLOW;
}

/* A coroutine parked in coco_join() is destroyed: leave the target's list
 * (linked through the run queue links, idle while it waits). */
void coco__join_cancel(coco_co_t *j)
{
    coco_co_t *target = j->wait_obj;
    if (j->prev != NULL)
        j->prev->next = j->next;
    else
        target->u.joiners = j->next;
    if (j->next != NULL)
        j->next->prev = j->prev;
}

void *coco_join(coco_coro_t *coro)
{
    coco_co_t *co = coco__co(coro);
    coco_co_t *self = coco__current();
    if (self == NULL || !coco__valid(co) || co == self ||
        (co->flags & COCO__DETACHED) || co->pub.sched != self->pub.sched)
        return NULL;
    if (finished(co))
        return co->state == COCO_STATE_DEAD ? co->u.result : NULL;
    self->prev = NULL;
    self->next = co->u.joiners;
    if (co->u.joiners != NULL)
        co->u.joiners->prev = self;
    co->u.joiners = self;
    self->wait_obj = co;
    self->wait_on = COCO__ON_JOIN;
    self->pub.sched->stats.parks_join++;
    coco__park(self->pub.sched);
    void *result = self->wait_obj;
    self->wait_obj = NULL;
    return result;
}

int coco_detach(coco_coro_t *coro)
{
    coco_co_t *co = coco__co(coro);
    if (!coco__valid(co) || (co->flags & COCO__DETACHED) ||
        coco__sched_foreign(co->pub.sched) ||
        (!finished(co) && co->u.joiners != NULL))
        return COCO_ERROR_INVALID;
    if (finished(co))
        co_free(co->pub.sched, co);
    else
        co->flags |= COCO__DETACHED;
    return COCO_OK;
}

/* --------------------------------------------------------------- destroy */

void coco_destroy(coco_coro_t *coro)
{
    coco_co_t *co = coco__co(coro);
    if (!coco__valid(co) || coco__sched_foreign(co->pub.sched))
        return;
    coco_sched_t *s = co->pub.sched;
    if (co == s->current) {
        /* Destroying yourself: finish here; the loop frees the rest. */
        co->flags |= COCO__DETACHED;
        co_finish(s, co, NULL);
    }
    /* Its state is read in the section: a thread waking it
     * (coco__wake_remote) writes it under the lock that guards its wait,
     * which the section holds. */
    coco__sect_enter_guard(co);
    if (finished(co)) {
        coco__sect_leave();
        co_free(s, co);
        return;
    }
    /* Created, ready or waiting: take it out of wherever it is linked.
     * Ready with a lock, a unit or a value handed to it: pass that on. */
    if (co->wait_on == COCO__ON_HANDOFF)
        s->ops->give_back(co);
    coco__unpark(s, co);
    coco__sect_leave();
    coco__rq_remove(s, co);
    co->state = COCO_STATE_DEAD;
    co_retire(s, co, NULL);
    co_free(s, co);
}

/* Calls f on every live descriptor of s. */
static void each_live(coco_sched_t *s, void (*f)(coco_sched_t *, coco_co_t *))
{
    for (struct coco_co_chunk *ch = s->chunks; ch != NULL; ch = ch->next)
        for (int i = 0; i < CHUNK_COROS; i++)
            if (ch->co[i].magic == COCO__MAGIC_LIVE)
                f(s, &ch->co[i]);
}

void coco__co_each(const coco_sched_t *s, void (*f)(const coco_co_t *, void *),
                   void *arg)
{
    for (const struct coco_co_chunk *ch = s->chunks; ch != NULL; ch = ch->next)
        for (int i = 0; i < CHUNK_COROS; i++)
            if (ch->co[i].magic == COCO__MAGIC_LIVE)
                f(&ch->co[i], arg);
}

coco_co_t *coco__co_of_guard(coco_sched_t *s, const char *addr)
{
    for (struct coco_co_chunk *ch = s->chunks; ch != NULL; ch = ch->next) {
        for (int i = 0; i < CHUNK_COROS; i++) {
            coco_co_t *co = &ch->co[i];
            if (co->magic != COCO__MAGIC_LIVE || finished(co) || co->stack.lo == NULL)
                continue;
            const char *guard = coco__stack_guard(&co->stack);
            if (guard == NULL || addr < guard || addr >= co->stack.lo)
                continue;
            if (!(co->flags & COCO__SHARED) || coco__sstack_owns(co))
                return co;
        }
    }
    return NULL;
}

/* What was handed to it goes back to the objects, which may outlive the
 * scheduler; passing it on may wake coroutines this loop has yet to
 * visit, which give it on in turn. */
static void unlink_parked(coco_sched_t *s, coco_co_t *co)
{
    if (finished(co))
        return;
    if (co->wait_on == COCO__ON_HANDOFF)
        s->ops->give_back(co);
    coco__unpark(s, co);
}

static void drop_stack(coco_sched_t *s, coco_co_t *co)
{
    coco__fiber_fini(&co->ctx, co->stack.lo, co->stack.size);
    if (co->flags & COCO__SHARED)
        coco__sstack_release(co);
    else
        coco__stack_put(&s->stacks, &co->stack);
}

void coco__co_destroy_all(coco_sched_t *s)
{
    /* Unlink the parked ones from channels and joins first: those may
     * outlive the scheduler, and must not keep pointers into it. */
    coco__sect_enter_sched(s);
    each_live(s, unlink_parked);
    coco__sect_leave();
    /* Every stack goes to the pool's hot list, no system call each: the
     * pool drain releases them whole slabs at a time. */
    s->stacks.limit = SIZE_MAX;
    each_live(s, drop_stack);
    while (s->chunks != NULL) {
        struct coco_co_chunk *ch = s->chunks;
        s->chunks = ch->next;
        free(ch);
    }
    s->free_co = NULL;
    s->rq_head = s->rq_tail = s->rq_urgent = NULL;
    s->rq_len = 0;
    s->alive = 0;
}

/* ---------------------------------------------------------------- queries */

coco_coro_t *coco_self(void)
{
    coco_co_t *co = coco__current();
    return co != NULL ? &co->pub : NULL;
}

coco_sched_t *const *coco_running_slot(void)
{
    return &coco__tls_running;
}

coco_state_t coco_get_state(coco_coro_t *coro)
{
    coco_co_t *co = coco__co(coro);
    if (!coco__valid(co))
        return COCO_STATE_DEAD;
    unsigned st = __atomic_load_n(&co->state, __ATOMIC_RELAXED);
    return st == COCO__STATE_INBOX ? COCO_STATE_READY : (coco_state_t)st;
}

int coco_set_urgent(coco_coro_t *coro, int urgent)
{
    coco_co_t *co = coco__co(coro);
    if (!coco__valid(co) || finished(co) || coco__sched_foreign(co->pub.sched))
        return COCO_ERROR_INVALID;
    if (((co->flags & COCO__URGENT) != 0) == (urgent != 0))
        return COCO_OK;
    /* Queued: it takes its new place in the run queue. */
    coco_sched_t *s = co->pub.sched;
    bool queued = co->state == COCO_STATE_CREATED || co->state == COCO_STATE_READY;
    if (queued)
        coco__rq_remove(s, co);
    co->flags ^= COCO__URGENT;
    if (queued)
        coco__enqueue(s, co);
    return COCO_OK;
}

int coco_is_urgent(const coco_coro_t *coro)
{
    coco_co_t *co = coco__co((coco_coro_t *)coro);
    return coco__valid(co) && (co->flags & COCO__URGENT) != 0;
}

uint64_t coco_get_id(coco_coro_t *coro)
{
    coco_co_t *co = coco__co(coro);
    return coco__valid(co) ? co->id : 0;
}

void coco_set_error_cb(coco_coro_t *coro, coco_error_cb cb)
{
    coco_co_t *co = coco__co(coro);
    if (!coco__valid(co))
        return;
    coco_cbtab_t *t = &co->pub.sched->error_cbs;
    if (cb == NULL) {
        if (co->flags & COCO__HAS_CB)
            coco__error_cb_drop(t, co);
        co->flags &= (uint8_t)~COCO__HAS_CB;
    } else if (coco__error_cb_set(t, co, cb) == COCO_OK) {
        co->flags |= COCO__HAS_CB;
    }
}
