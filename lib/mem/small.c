/*
 * small.c - the scheduler's allocator for small blocks whose size the
 * caller always knows: the frames of a parked shared-stack coroutine (their
 * length is the distance from its saved stack pointer to the stack top),
 * the waiter records it parks on, and deadline records.
 *
 * With ten million coroutines parked, malloc's per-block header and its
 * rounding would be a tenth of the memory they use.  Here blocks of up to
 * COCO__SMALL_MAX bytes come in 8-byte size classes (a 40-byte deadline
 * record takes 40 bytes, not 48), are carved from 64 KiB chunks with no
 * header at all, and go back to a free list of their class; the chunks
 * are released with the scheduler.  Larger blocks
 * go to malloc.  Every operation is O(1).
 *
 * The memory a class once held stays with that class until the scheduler
 * is destroyed, as the descriptors do: a scheduler that once had a million
 * coroutines parked keeps the room to park them again.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mem/small.h"

#include <stdlib.h>

#define CHUNK_BYTES (64 * 1024)

struct coco_small_chunk {
    struct coco_small_chunk *next;
    _Alignas(16) unsigned char mem[];
};

struct coco_small_free {
    struct coco_small_free *next;
};

static inline size_t class_of(size_t size)
{
    return (size + COCO__SMALL_GRAIN - 1) / COCO__SMALL_GRAIN - 1;
}

/* Room for a block of class c from the current chunk, or a new one. */
static void *carve(coco_small_t *a, size_t c)
{
    size_t bytes = (c + 1) * COCO__SMALL_GRAIN;
    if ((size_t)(a->end - a->cur) < bytes) {
        struct coco_small_chunk *ch = malloc(sizeof *ch + CHUNK_BYTES);
        if (ch == NULL)
            return NULL;
        ch->next = a->chunks;
        a->chunks = ch;
        /* The tail of the old chunk goes to the free list of its size. */
        size_t rest = (size_t)(a->end - a->cur);
        if (rest >= COCO__SMALL_GRAIN) {
            struct coco_small_free *f = (struct coco_small_free *)a->cur;
            size_t rc = rest / COCO__SMALL_GRAIN - 1;
            f->next = a->free[rc];
            a->free[rc] = f;
        }
        a->cur = (char *)ch->mem;
        a->end = a->cur + CHUNK_BYTES;
    }
    void *p = a->cur;
    a->cur += bytes;
    return p;
}

void *coco__small_alloc(coco_small_t *a, size_t size)
{
    if (size == 0 || size > COCO__SMALL_MAX)
        return malloc(size == 0 ? 1 : size);
    size_t c = class_of(size);
    struct coco_small_free *f = a->free[c];
    if (f != NULL) {
        a->free[c] = f->next;
        return f;
    }
    return carve(a, c);
}

void coco__small_free(coco_small_t *a, void *p, size_t size)
{
    if (p == NULL)
        return;
    if (size == 0 || size > COCO__SMALL_MAX) {
        free(p);
        return;
    }
    size_t c = class_of(size);
    struct coco_small_free *f = p;
    f->next = a->free[c];
    a->free[c] = f;
}

void coco__small_fini(coco_small_t *a)
{
    while (a->chunks != NULL) {
        struct coco_small_chunk *ch = a->chunks;
        a->chunks = ch->next;
        free(ch);
    }
    *a = (coco_small_t){ 0 };
}
