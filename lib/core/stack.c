/*
 * stack.c - coroutine stacks: mmap'd, with a PROT_NONE guard page below,
 * and recycled through a per-scheduler pool so that creating a coroutine
 * in steady state makes no system call.
 *
 * A free stack is linked into the pool through a small record written at
 * its own top, so the pool allocates nothing.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#if COCO_HAVE_GUARD_PAGES
#  include <sys/mman.h>
#endif
#if COCO_VALGRIND
#  include <valgrind/valgrind.h>
/* Valgrind takes a jump of the stack pointer into memory it does not know
 * as a stack for a bug; registered stacks are switched to silently. */
#  define stack_register(stk) \
    ((stk)->vg_id = VALGRIND_STACK_REGISTER((stk)->lo, (stk)->lo + (stk)->size))
#  define stack_deregister(stk) VALGRIND_STACK_DEREGISTER((stk)->vg_id)
#else
#  define stack_register(stk) ((void)0)
#  define stack_deregister(stk) ((void)0)
#endif

/* The smallest stack handed out: enough for a few libc calls. */
#define STACK_MIN ((size_t)16 * 1024)
/* Anything above this is a mistake, not a request. */
#define STACK_MAX ((size_t)1 << 30)

struct coco_stack_free {
    struct coco_stack_free *next;
    char *lo;
    size_t size;
#if COCO_VALGRIND
    unsigned int vg_id;
#endif
};

size_t coco__page_size(void)
{
    static size_t cached;
    size_t ps = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (ps == 0) {
        long v = sysconf(_SC_PAGESIZE);
        ps = v > 0 ? (size_t)v : 4096;
        __atomic_store_n(&cached, ps, __ATOMIC_RELAXED);
    }
    return ps;
}

size_t coco__stack_round(size_t request)
{
    size_t ps = coco__page_size();
    if (request == 0)
        request = COCO_DEFAULT_STACK_SIZE;
    if (request > STACK_MAX)
        return 0;
    if (request < STACK_MIN)
        request = STACK_MIN;
    return (request + ps - 1) & ~(ps - 1);
}

char *coco__stack_guard(const coco_stack_t *stk)
{
#if COCO_HAVE_GUARD_PAGES
    return stk->lo - coco__page_size();
#else
    (void)stk;
    return NULL;
#endif
}

static int stack_map(size_t size, coco_stack_t *out)
{
#if COCO_HAVE_GUARD_PAGES
    size_t guard = coco__page_size();
    int flags = MAP_PRIVATE;
#  if HAVE_DECL_MAP_ANONYMOUS
    flags |= MAP_ANONYMOUS;
#  else
    flags |= MAP_ANON;
#  endif
#  if HAVE_DECL_MAP_NORESERVE
    flags |= MAP_NORESERVE;
#  endif
#  if HAVE_DECL_MAP_STACK
    flags |= MAP_STACK;
#  endif
    char *p = mmap(NULL, size + guard, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED)
        return COCO_ERROR_NOMEM;
    if (mprotect(p, guard, PROT_NONE) != 0) {
        munmap(p, size + guard);
        return COCO_ERROR_NOMEM;
    }
    out->lo = p + guard;
#else
    out->lo = malloc(size);
    if (out->lo == NULL)
        return COCO_ERROR_NOMEM;
#endif
    out->size = size;
    stack_register(out);
    return COCO_OK;
}

static void stack_unmap(char *lo, size_t size)
{
#if COCO_HAVE_GUARD_PAGES
    size_t guard = coco__page_size();
    munmap(lo - guard, size + guard);
#else
    (void)size;
    free(lo);
#endif
}

int coco__stack_get(coco_stack_pool_t *pool, size_t size, coco_stack_t *out)
{
    struct coco_stack_free **pp =
        size == COCO_DEFAULT_STACK_SIZE ? &pool->dflt : &pool->other;
    for (struct coco_stack_free *f = *pp; f != NULL; pp = &f->next, f = f->next) {
        if (f->size == size) {
            *pp = f->next;
            pool->count--;
            out->lo = f->lo;
            out->size = size;
#if COCO_VALGRIND
            out->vg_id = f->vg_id;
#endif
            return COCO_OK;
        }
    }
    return stack_map(size, out);
}

void coco__stack_put(coco_stack_pool_t *pool, coco_stack_t *stk)
{
    if (stk->lo == NULL)
        return;
    if (pool->count >= pool->limit) {
        stack_deregister(stk);
        stack_unmap(stk->lo, stk->size);
    } else {
        struct coco_stack_free *f = (struct coco_stack_free *)
            (stk->lo + stk->size - sizeof(struct coco_stack_free));
        struct coco_stack_free **head =
            stk->size == COCO_DEFAULT_STACK_SIZE ? &pool->dflt : &pool->other;
        f->lo = stk->lo;
        f->size = stk->size;
#if COCO_VALGRIND
        f->vg_id = stk->vg_id;
#endif
        f->next = *head;
        *head = f;
        pool->count++;
    }
    stk->lo = NULL;
    stk->size = 0;
}

static void drain_list(struct coco_stack_free *f)
{
    while (f != NULL) {
        struct coco_stack_free *next = f->next;
#if COCO_VALGRIND
        VALGRIND_STACK_DEREGISTER(f->vg_id);
#endif
        stack_unmap(f->lo, f->size);
        f = next;
    }
}

void coco__stack_pool_drain(coco_stack_pool_t *pool)
{
    drain_list(pool->dflt);
    drain_list(pool->other);
    pool->dflt = pool->other = NULL;
    pool->count = 0;
}
