/*
 * stack_win32.c - coroutine stacks on Windows: VirtualAlloc reservations
 * laid out like a thread's own stack (see stack_win32.h), recycled through
 * a per-scheduler pool so that creating a coroutine in steady state makes
 * no system call.  The same interface as stack.c.
 *
 * A free stack is linked into the pool through a small record written at
 * its own top, so the pool allocates nothing.  A stack that overflowed has
 * lost its guard page and is released instead of pooled.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mem/stack_win32.h"

#define WIN32_LEAN_AND_MEAN
#include <windows.h>


struct coco_stack_free {
    struct coco_stack_free *next;
    char *lo;
    size_t size;
};

/* The stack whose coroutine overflowed last on this thread, until the
 * scheduler hands it back. */
static COCO__TLS char *spent_lo;

size_t coco__page_size(void)
{
    return COCO__WIN32_PAGE;
}

char *coco__stack_guard(const coco_stack_t *stk)
{
    return stk->lo - COCO__WIN32_PAGE;
}

void coco__stack_win32_spent(char *lo)
{
    spent_lo = lo;
}

static int stack_map(size_t size, coco_stack_t *out)
{
    char *base = VirtualAlloc(NULL, COCO__WIN32_BELOW + size, MEM_RESERVE,
                              PAGE_NOACCESS);
    if (base == NULL)
        return COCO_ERROR_NOMEM;
    char *lo = base + COCO__WIN32_BELOW;
    /* Usable part and guard page: the rest of the zone stays reserved
     * until the system commits it for an overflow. */
    if (VirtualAlloc(lo, size, MEM_COMMIT, PAGE_READWRITE) == NULL ||
        VirtualAlloc(lo - COCO__WIN32_PAGE, COCO__WIN32_PAGE, MEM_COMMIT,
                     PAGE_READWRITE | PAGE_GUARD) == NULL) {
        VirtualFree(base, 0, MEM_RELEASE);
        return COCO_ERROR_NOMEM;
    }
    out->lo = lo;
    out->size = size;
    return COCO_OK;
}

static void stack_unmap(char *lo)
{
    VirtualFree(coco__stack_win32_base(lo), 0, MEM_RELEASE);
}

/* The size asked for, rounded: here the whole of it is usable. */
size_t coco__stack_asked(const coco_stack_t *stk)
{
    return stk->size;
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
            return COCO_OK;
        }
    }
    return stack_map(size, out);
}

void coco__stack_put(coco_stack_pool_t *pool, coco_stack_t *stk)
{
    if (stk->lo == NULL)
        return;
    if (stk->lo == spent_lo || pool->count >= pool->limit) {
        if (stk->lo == spent_lo)
            spent_lo = NULL;
        stack_unmap(stk->lo);
    } else {
        struct coco_stack_free *f = (struct coco_stack_free *)
            (stk->lo + stk->size - sizeof(struct coco_stack_free));
        struct coco_stack_free **head =
            stk->size == COCO_DEFAULT_STACK_SIZE ? &pool->dflt : &pool->other;
        f->lo = stk->lo;
        f->size = stk->size;
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
        stack_unmap(f->lo);
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
