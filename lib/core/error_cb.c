/*
 * error_cb.c - the error callbacks of the coroutines that set one.
 *
 * Few coroutines set a callback and it is read only when one fails, while
 * every descriptor would pay for a field: so the scheduler keeps them in a
 * table keyed by descriptor (open addressing, linear probing, at most half
 * full), and a descriptor flag says whether it has an entry.  Setting,
 * reading and removing are O(1) on average whatever the population.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco_internal.h"

#include <stdint.h>
#include <stdlib.h>

struct coco_cb_ent {
    coco_co_t *co;               /* NULL: a free slot */
    coco_error_cb cb;
};

static size_t home(const coco_cbtab_t *t, const coco_co_t *co)
{
    uint64_t h = (uint64_t)(uintptr_t)co * UINT64_C(0x9e3779b97f4a7c15);
    return (size_t)(h >> 32) & (t->cap - 1);
}

/* The slot holding co, or the free slot where it would go. */
static size_t find(const coco_cbtab_t *t, const coco_co_t *co)
{
    size_t i = home(t, co);
    while (t->ent[i].co != NULL && t->ent[i].co != co)
        i = (i + 1) & (t->cap - 1);
    return i;
}

static int grow(coco_cbtab_t *t)
{
    size_t cap = t->cap != 0 ? t->cap * 2 : 16;
    struct coco_cb_ent *ent = calloc(cap, sizeof *ent);
    if (ent == NULL)
        return COCO_ERROR_NOMEM;
    coco_cbtab_t old = *t;
    t->ent = ent;
    t->cap = cap;
    for (size_t i = 0; i < old.cap; i++)
        if (old.ent[i].co != NULL)
            t->ent[find(t, old.ent[i].co)] = old.ent[i];
    free(old.ent);
    return COCO_OK;
}

int coco__error_cb_set(coco_cbtab_t *t, coco_co_t *co, coco_error_cb cb)
{
    if ((t->count + 1) * 2 > t->cap && grow(t) != COCO_OK)
        return COCO_ERROR_NOMEM;
    size_t i = find(t, co);
    if (t->ent[i].co == NULL)
        t->count++;
    t->ent[i].co = co;
    t->ent[i].cb = cb;
    return COCO_OK;
}

coco_error_cb coco__error_cb_get(const coco_cbtab_t *t, const coco_co_t *co)
{
    if (t->cap == 0)
        return NULL;
    size_t i = find(t, co);
    return t->ent[i].co == co ? t->ent[i].cb : NULL;
}

void coco__error_cb_drop(coco_cbtab_t *t, const coco_co_t *co)
{
    if (t->cap == 0)
        return;
    size_t mask = t->cap - 1;
    size_t i = find(t, co);
    if (t->ent[i].co != co)
        return;
    t->count--;
    /* Close the gap: move back every later entry of the run that could
     * not sit where it is without the one removed. */
    for (size_t j = (i + 1) & mask; t->ent[j].co != NULL; j = (j + 1) & mask) {
        size_t h = home(t, t->ent[j].co);
        bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
        if (stays)
            continue;
        t->ent[i] = t->ent[j];
        i = j;
    }
    t->ent[i].co = NULL;
    t->ent[i].cb = NULL;
}

void coco__error_cb_fini(coco_cbtab_t *t)
{
    free(t->ent);
    *t = (coco_cbtab_t){ 0 };
}
