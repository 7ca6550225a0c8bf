/*
 * shared.c - shared-stack coroutines ("copy-stack").
 *
 * A coroutine created with COCO_ATTR_SHARED_STACK has no stack of its own:
 * it runs on one of a few stacks the scheduler shares among such
 * coroutines.  Only the used part of a stack (from the saved stack pointer
 * to the top) belongs to a parked coroutine, so when another coroutine
 * needs that stack those bytes are copied aside, and copied back when
 * their owner runs again.  A parked coroutine thus costs its
 * descriptor plus the few hundred bytes its frames use.
 *
 * The copy is lazy: a coroutine that parks leaves its frames in place
 * until another coroutine wants the same stack, so one that parks and is
 * woken while nobody else used its stack resumes with no copy at all.  A
 * coroutine's first frame is built in place when it first runs, so until
 * then it has nothing to copy.  Copies come from the scheduler's small
 * blocks (lib/mem/small.c), without a header.
 *
 * The copy never runs on the stack it overwrites: switches from or to a
 * shared-stack coroutine always go through the scheduler loop, which runs
 * on the thread's own stack (see switch_away() in sched.c), and the loop
 * calls coco__sstack_enter() before it resumes the coroutine.
 *
 * Each stack size gets SHARED_PER_SIZE stacks, handed out in turn as
 * coroutines are created, so two coroutines created one after the other
 * (a producer and its consumer, say) usually alternate without copying.
 * Every shared stack has a guard page like any other: an overflow is
 * caught and stops the coroutine running on it, whose frames are the only
 * ones there.
 *
 * The record of a shared stack lives at its own top, above what the
 * coroutines get, so a descriptor finds it from its stack bounds alone.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if COCO_VALGRIND
#  include <valgrind/memcheck.h>
/* Memcheck marks what a coroutine popped off a stack as inaccessible;
 * frames copied back in land in such memory on purpose (memcpy carries
 * their definedness along). */
#  define mem_usable(p, n) VALGRIND_MAKE_MEM_UNDEFINED(p, n)
#else
#  define mem_usable(p, n) ((void)0)
#endif

#define SHARED_PER_SIZE 4

/* At least the room coco__ctx_init() takes for a first frame. */
#define FIRST_FRAME_ROOM 512

struct coco_sstack {
    coco_co_t *owner;            /* whose frames are on it, if anyone's */
    coco_stack_t mem;            /* as the pool gave it */
    struct coco_sstack *next;    /* the scheduler's list */
    size_t size;                 /* the size asked of the pool */
    unsigned turn;               /* how many coroutines were given it */
};

/* Keeps the record's successor 16-aligned at the stack top. */
#define RECORD_ROOM ((sizeof(struct coco_sstack) + 15) & ~(size_t)15)

#if COCO__HAVE_SHARED_STACKS

static inline struct coco_sstack *sstack_of(const coco_co_t *co)
{
    return (struct coco_sstack *)(co->stack.lo + co->stack.size);
}

static inline char *stack_top(const coco_co_t *co)
{
    return co->stack.lo + co->stack.size;
}

static struct coco_sstack *sstack_new(coco_sched_t *s, size_t size)
{
    coco_stack_t mem;
    if (coco__stack_get(&s->stacks, size, &mem) != COCO_OK)
        return NULL;
    struct coco_sstack *st =
        (struct coco_sstack *)(mem.lo + mem.size - RECORD_ROOM);
    st->owner = NULL;
    st->mem = mem;
    st->size = size;
    st->turn = 0;
    st->next = s->sstacks;
    s->sstacks = st;
    return st;
}

/* The stack of size bytes to give the next coroutine: a new one until
 * there are SHARED_PER_SIZE, then each in turn. */
static struct coco_sstack *sstack_pick(coco_sched_t *s, size_t size)
{
    struct coco_sstack *least = NULL;
    unsigned count = 0;
    for (struct coco_sstack *st = s->sstacks; st != NULL; st = st->next) {
        if (st->size != size)
            continue;
        count++;
        if (least == NULL || st->turn < least->turn)
            least = st;
    }
    if (count < SHARED_PER_SIZE) {
        struct coco_sstack *st = sstack_new(s, size);
        if (st != NULL)
            return st;
    }
    return least;
}

int coco__sstack_assign(coco_sched_t *s, coco_co_t *co, size_t size,
                        void (*fn)(void *), void *arg)
{
    struct coco_sstack *st = sstack_pick(s, size);
    if (st == NULL)
        return COCO_ERROR_NOMEM;
    co->stack.lo = st->mem.lo;
    co->stack.size = st->mem.size - RECORD_ROOM;
    co->ctx.sp = NULL; /* no frames yet: see coco__sstack_enter() */
    co->first_fn = fn;
    co->first_arg = arg;
    st->turn++;
    return COCO_OK;
}

/* The length of co's frames: from its saved stack pointer to the top,
 * whether they are in place or copied out (the pointer does not move). */
static inline size_t frames_len(const coco_co_t *co)
{
    return (size_t)(stack_top(co) - coco__ctx_sp(&co->ctx));
}

/* Copies the frames of the parked owner of st out of the way.  The copy
 * has no header: frames_len() gives its size back. */
static int save_frames(struct coco_sstack *st)
{
    coco_co_t *co = st->owner;
    size_t len = frames_len(co);
    void *save = coco__small_alloc(&co->pub.sched->small, len);
    if (save == NULL)
        return COCO_ERROR_NOMEM;
    memcpy(save, coco__ctx_sp(&co->ctx), len);
    co->save = save;
    st->owner = NULL;
    return COCO_OK;
}

static void restore_frames(coco_co_t *co)
{
    size_t len = frames_len(co);
    char *sp = coco__ctx_sp(&co->ctx);
    mem_usable(sp, len);
    memcpy(sp, co->save, len);
    coco__small_free(&co->pub.sched->small, co->save, len);
    co->save = NULL;
}


int coco__sstack_enter(coco_sched_t *s, coco_co_t *co)
{
    (void)s;
    struct coco_sstack *st = sstack_of(co);
    if (st->owner == co)
        return COCO_OK; /* its frames never left */
    if (st->owner != NULL && save_frames(st) != COCO_OK)
        return COCO_ERROR_NOMEM;
    if (coco__ctx_sp(&co->ctx) == NULL) {
        /* Its first run: the first frame is built in place only now, so
         * a coroutine that has never run holds no memory but its
         * descriptor. */
        void (*fn)(void *) = co->first_fn;
        void *arg = co->first_arg;
        co->save = NULL;
        co->wait_obj = NULL;
        mem_usable(stack_top(co) - FIRST_FRAME_ROOM, FIRST_FRAME_ROOM);
        coco__ctx_init(&co->ctx, co->stack.lo, co->stack.size, fn, arg);
    } else if (co->save != NULL) {
        restore_frames(co);
    }
    st->owner = co;
    return COCO_OK;
}

size_t coco__sstack_asked(const coco_co_t *co)
{
    return sstack_of(co)->size;
}

bool coco__sstack_owns(const coco_co_t *co)
{
    return co->stack.lo != NULL && sstack_of(co)->owner == co;
}

void coco__sstack_release(coco_co_t *co)
{
    if (co->stack.lo == NULL)
        return; /* released when it finished */
    struct coco_sstack *st = sstack_of(co);
    if (st->owner == co)
        st->owner = NULL;
    if (coco__ctx_sp(&co->ctx) != NULL && co->save != NULL)
        coco__small_free(&co->pub.sched->small, co->save, frames_len(co));
    co->save = NULL; /* or its function, if it never ran */
    co->stack.lo = NULL;
    co->stack.size = 0;
}

void coco__sstack_fini(coco_sched_t *s)
{
    while (s->sstacks != NULL) {
        struct coco_sstack *st = s->sstacks;
        coco_stack_t mem = st->mem;
        s->sstacks = st->next;
        coco__stack_put(&s->stacks, &mem);
    }
}

#else /* no shared stacks here: see COCO__HAVE_SHARED_STACKS */

int coco__sstack_assign(coco_sched_t *s, coco_co_t *co, size_t size,
                        void (*fn)(void *), void *arg)
{
    (void)s; (void)co; (void)size; (void)fn; (void)arg;
    return COCO_ERROR_INVALID;
}

int coco__sstack_enter(coco_sched_t *s, coco_co_t *co)
{
    (void)s; (void)co;
    return COCO_ERROR_INVALID;
}

size_t coco__sstack_asked(const coco_co_t *co)
{
    return co->stack.size;
}

bool coco__sstack_owns(const coco_co_t *co)
{
    (void)co;
    return false;
}

void coco__sstack_release(coco_co_t *co)
{
    (void)co;
}

void coco__sstack_fini(coco_sched_t *s)
{
    (void)s;
}

#endif

#if COCO_DEBUG
void coco__sstack_check_ptr(const void *p, const char *what)
{
    coco_co_t *co = coco__current();
    if (co == NULL || !(co->flags & COCO__SHARED))
        return;
    coco_sched_t *s = co->pub.sched;
    const char *c = p;
    if (c < co->stack.lo || c >= co->stack.lo + co->stack.size)
        return;
    if (s->sstack_bad_co != NULL)
        return; /* one report per trip through the loop */
    s->sstack_bad_co = co;
    s->sstack_bad_id = co->id;
    s->sstack_bad_what = what;
}

void coco__sstack_report(coco_sched_t *s)
{
    coco_co_t *co = s->sstack_bad_co;
    s->sstack_bad_co = NULL;
    char msg[160];
    snprintf(msg, sizeof msg,
             "%s: pointer into the shared stack of coroutine %" PRIu64
             ", invalid for others once it parks", s->sstack_bad_what,
             s->sstack_bad_id);
    /* It may have been destroyed since, its descriptor reused. */
    coco_error_cb cb = NULL;
    if (coco__valid(co) && co->id == s->sstack_bad_id)
        cb = coco__error_cb_of(co);
    if (cb != NULL)
        cb(&co->pub, COCO_ERROR_INVALID, msg);
    else
        fprintf(stderr, "coco: %s\n", msg);
}
#endif
