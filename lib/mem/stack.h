/*
 * mem/stack.h - coroutine stacks: one stack, the per-scheduler pool that
 * recycles them, and the rounding of requested sizes (stack.c, or
 * stack_win32.c on Windows).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_MEM_STACK_H
#define COCO_MEM_STACK_H

#include "compiler.h"

/* One coroutine stack: [lo, lo + size) is usable, and when guarded the page
 * just below lo is PROT_NONE. */
typedef struct coco_stack {
    char *lo;
    size_t size;
#if COCO_VALGRIND
    unsigned int vg_id;             /* valgrind's handle for the stack */
#endif
} coco_stack_t;

typedef struct coco_stack_pool {
    struct coco_stack_free *dflt;   /* free stacks of the default size */
    struct coco_stack_free *other;  /* free stacks of any other size */
    size_t count;                   /* stacks in both lists */
    size_t limit;                   /* most stacks kept for reuse */
    /* Where stacks are carved from slabs (lib/mem/stack.c); another
     * implementation of this interface may leave these NULL. */
    struct coco_slab *slabs;        /* every slab */
    struct coco_slab *cold_dflt;    /* slabs with an unused default stack */
    struct coco_slab *cold_other;   /* the same for other sizes */
} coco_stack_pool_t;

size_t coco__page_size(void);

/* The smallest stack handed out: enough for a few C library calls. */
#define COCO__STACK_MIN ((size_t)16 * 1024)
/* Anything above this is a mistake, not a request. */
#define COCO__STACK_MAX ((size_t)1 << 30)

/* Rounds a requested size to whole pages; 0 when it is out of range. */
static inline size_t coco__stack_round(size_t request)
{
    size_t ps = coco__page_size();
    if (request == 0)
        request = COCO_DEFAULT_STACK_SIZE;
    if (request > COCO__STACK_MAX)
        return 0;
    if (request < COCO__STACK_MIN)
        request = COCO__STACK_MIN;
    return (request + ps - 1) & ~(ps - 1);
}
int coco__stack_get(coco_stack_pool_t *pool, size_t size, coco_stack_t *out);
void coco__stack_put(coco_stack_pool_t *pool, coco_stack_t *stk);
void coco__stack_pool_drain(coco_stack_pool_t *pool);
/* The size coco__stack_get() was asked for when it gave stk: the usable
 * size plus what the pool keeps at the top. */
size_t coco__stack_asked(const coco_stack_t *stk);
/* The guard page of stk, or NULL when stacks are unguarded on this host. */
char *coco__stack_guard(const coco_stack_t *stk);

#endif /* COCO_MEM_STACK_H */
