/*
 * mem/small.h - small blocks: headerless, size-classed memory for waiter
 * records, deadline records and saved shared-stack frames (small.c).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_MEM_SMALL_H
#define COCO_MEM_SMALL_H

#include "compiler.h"

/* Headerless blocks in 8-byte classes, for memory whose size the owner
 * always knows (lib/mem/small.c). */
#define COCO__SMALL_GRAIN 8
#define COCO__SMALL_MAX 1024

typedef struct coco_small {
    struct coco_small_free *free[COCO__SMALL_MAX / COCO__SMALL_GRAIN];
    char *cur, *end;                /* unused rest of the newest chunk */
    struct coco_small_chunk *chunks;
} coco_small_t;

/* size bytes, 8-aligned; NULL when out of memory.  Sizes above
 * COCO__SMALL_MAX are passed to malloc. */
void *coco__small_alloc(coco_small_t *a, size_t size);
/* Gives back p, which coco__small_alloc() returned for the same size. */
void coco__small_free(coco_small_t *a, void *p, size_t size);
/* Releases every chunk (at coco_sched_destroy). */
void coco__small_fini(coco_small_t *a);

#endif /* COCO_MEM_SMALL_H */
