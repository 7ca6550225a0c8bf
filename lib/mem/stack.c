/*
 * stack.c - coroutine stacks, each with a guard page below it, carved from
 * large slabs and recycled through a per-scheduler pool so that creating a
 * coroutine in steady state makes no system call.
 *
 * Slabs.  One mmap (MAP_NORESERVE) holds up to 64 stacks of one size, each
 * preceded by its guard page.  Where the kernel has MADV_GUARD_INSTALL
 * (Linux 6.13+) the guard is a marker in the page tables: the slab stays a
 * single mapping, so a million guarded stacks cost a handful of the
 * process's vm.max_map_count entries instead of two each.  Elsewhere the
 * guard is mprotect(PROT_NONE), which splits the mapping at each guard.  The
 * choice is made once per process by trying the advice (EINVAL: not
 * supported); COCO_GUARD=mprotect in the environment forces the fallback.
 *
 * Recycling and returning memory.  A released stack goes first to the
 * scheduler's hot list (LIFO, at most pool->limit stacks): its pages stay
 * resident and the next coroutine reuses them with no system call.  Past
 * that limit the stack goes cold: its pages are given back with
 * MADV_DONTNEED (the guard survives the advice), and when every stack of
 * a slab is cold the whole slab is unmapped.  So RSS follows the live
 * population down after a peak, while a steady create/destroy churn below
 * the limit never leaves user space.
 *
 * A free hot stack is linked through a record written at its own top, and
 * the top few bytes of every slab stack name its slab, so neither the pool
 * nor the coroutine descriptor carries more than the stack's bounds.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mem/stack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
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

char *coco__stack_guard(const coco_stack_t *stk)
{
#if COCO_HAVE_GUARD_PAGES
    return stk->lo - coco__page_size();
#else
    (void)stk;
    return NULL;
#endif
}

#if COCO_HAVE_GUARD_PAGES
/* ---------------------------------------------------------------- guards */

#if defined(__linux__)
#  ifndef MADV_GUARD_INSTALL
#    define MADV_GUARD_INSTALL 102
#  endif
#endif

enum { GUARD_UNKNOWN, GUARD_MADVISE, GUARD_MPROTECT };
static int guard_kind; /* per process: the kernel does not change under us */

static int guard_choose(void)
{
#if defined(MADV_GUARD_INSTALL)
    const char *env = getenv("COCO_GUARD");
    if (env == NULL || strcmp(env, "mprotect") != 0)
        return GUARD_UNKNOWN; /* the first install tells */
#endif
    return GUARD_MPROTECT;
}

#if defined(MADV_GUARD_INSTALL)
/* Does the page at p, just given MADV_GUARD_INSTALL, really fault?  The
 * kernel fails a system call that reads a guard page with EFAULT instead
 * of raising a signal, so writing from it to a pipe tells without risk.
 * Checked once per process: qemu-user, for one, accepts unknown advice
 * and does nothing. */
static bool guard_works(char *p)
{
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    ssize_t n = write(fds[1], p, 1);
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    return n < 0 && e == EFAULT;
}
#endif

/* Makes the page at p a guard page. */
static int guard_install(char *p, size_t page)
{
    int kind = __atomic_load_n(&guard_kind, __ATOMIC_RELAXED);
    if (kind == GUARD_UNKNOWN) {
        kind = guard_choose();
        __atomic_store_n(&guard_kind, kind, __ATOMIC_RELAXED);
    }
#if defined(MADV_GUARD_INSTALL)
    if (kind != GUARD_MPROTECT) {
        if (madvise(p, page, MADV_GUARD_INSTALL) == 0 &&
            (kind == GUARD_MADVISE || guard_works(p))) {
            __atomic_store_n(&guard_kind, GUARD_MADVISE, __ATOMIC_RELAXED);
            return COCO_OK;
        }
        if (kind == GUARD_MADVISE && errno != EINVAL)
            return COCO_ERROR_NOMEM;
        /* An older kernel, or an emulator that takes the advice without
         * acting on it: mprotect from now on. */
        __atomic_store_n(&guard_kind, GUARD_MPROTECT, __ATOMIC_RELAXED);
    }
#endif
    return mprotect(p, page, PROT_NONE) == 0 ? COCO_OK : COCO_ERROR_NOMEM;
}

/* ----------------------------------------------------------------- slabs */

/* Stacks per slab, and roughly how much one maps. */
#define SLAB_MAX_STACKS 64
#define SLAB_BYTES ((size_t)4 << 20)

struct coco_slab {
    char *base;                      /* the mapping: guard, stack, guard, ... */
    size_t stride;                   /* guard page + stack */
    size_t size;                     /* bytes of each stack */
    unsigned n;                      /* stacks in the slab */
    unsigned ncold;                  /* stacks with no pages and no owner */
    uint64_t cold;                   /* one bit per cold stack */
    struct coco_slab *all_prev, *all_next;   /* every slab of the pool */
    struct coco_slab *cold_prev, *cold_next; /* slabs with a cold stack */
};

/* Written at the top of each slab stack, above what the coroutine gets:
 * the way back from a stack to its slab. */
struct coco_stack_tag {
    struct coco_slab *slab;
    uintptr_t pad;                   /* keeps the stack top 16-aligned */
};

static int map_flags(void)
{
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
    return flags;
}

static struct coco_slab **cold_head(coco_stack_pool_t *pool, size_t size)
{
    return size == COCO_DEFAULT_STACK_SIZE ? &pool->cold_dflt : &pool->cold_other;
}

static void cold_link(coco_stack_pool_t *pool, struct coco_slab *sl)
{
    struct coco_slab **head = cold_head(pool, sl->size);
    sl->cold_prev = NULL;
    sl->cold_next = *head;
    if (*head != NULL)
        (*head)->cold_prev = sl;
    *head = sl;
}

static void cold_unlink(coco_stack_pool_t *pool, struct coco_slab *sl)
{
    if (sl->cold_prev != NULL)
        sl->cold_prev->cold_next = sl->cold_next;
    else
        *cold_head(pool, sl->size) = sl->cold_next;
    if (sl->cold_next != NULL)
        sl->cold_next->cold_prev = sl->cold_prev;
}

static void all_unlink(coco_stack_pool_t *pool, struct coco_slab *sl)
{
    if (sl->all_prev != NULL)
        sl->all_prev->all_next = sl->all_next;
    else
        pool->slabs = sl->all_next;
    if (sl->all_next != NULL)
        sl->all_next->all_prev = sl->all_prev;
}

static char *slab_stack(const struct coco_slab *sl, unsigned i)
{
    return sl->base + (size_t)i * sl->stride + (sl->stride - sl->size);
}

static struct coco_stack_tag *stack_tag(char *lo, size_t size)
{
    return (struct coco_stack_tag *)(lo + size);
}

/* Maps a slab for stacks of size bytes (the tag included), every stack
 * guarded and cold. */
static struct coco_slab *slab_new(coco_stack_pool_t *pool, size_t size)
{
    size_t page = coco__page_size(), stride = size + page;
    size_t n = SLAB_BYTES / stride;
    if (n < 1)
        n = 1;
    if (n > SLAB_MAX_STACKS)
        n = SLAB_MAX_STACKS;
    struct coco_slab *sl = calloc(1, sizeof *sl);
    if (sl == NULL)
        return NULL;
    char *p = mmap(NULL, n * stride, PROT_READ | PROT_WRITE, map_flags(), -1, 0);
    if (p == MAP_FAILED) {
        free(sl);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (guard_install(p + i * stride, page) != COCO_OK) {
            munmap(p, n * stride);
            free(sl);
            return NULL;
        }
    }
    sl->base = p;
    sl->stride = stride;
    sl->size = size;
    sl->n = (unsigned)n;
    sl->ncold = (unsigned)n;
    sl->cold = n == 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1);
    sl->all_prev = NULL;
    sl->all_next = pool->slabs;
    if (pool->slabs != NULL)
        pool->slabs->all_prev = sl;
    pool->slabs = sl;
    cold_link(pool, sl);
    return sl;
}

static void slab_free(coco_stack_pool_t *pool, struct coco_slab *sl)
{
    all_unlink(pool, sl);
    munmap(sl->base, (size_t)sl->n * sl->stride);
    free(sl);
}

/* Takes a cold stack of sl (it has one). */
static void slab_take(coco_stack_pool_t *pool, struct coco_slab *sl,
                      size_t usable, coco_stack_t *out)
{
    unsigned i = (unsigned)__builtin_ctzll(sl->cold);
    sl->cold &= sl->cold - 1;
    if (--sl->ncold == 0)
        cold_unlink(pool, sl);
    out->lo = slab_stack(sl, i);
    out->size = usable;
    stack_tag(out->lo, usable)->slab = sl;
}

/* Makes stk cold: its pages go back to the kernel, or the whole slab does
 * when it holds nothing else. */
static void slab_give_back(coco_stack_pool_t *pool, char *lo, size_t usable)
{
    struct coco_slab *sl = stack_tag(lo, usable)->slab;
    unsigned i = (unsigned)((size_t)(lo - sl->base) / sl->stride);
    if (sl->ncold + 1 == sl->n) {
        if (sl->ncold > 0)
            cold_unlink(pool, sl);
        slab_free(pool, sl);
        return;
    }
    /* The guard stays: DONTNEED keeps guard markers and protections. */
    madvise(lo, sl->size, MADV_DONTNEED);
    sl->cold |= (uint64_t)1 << i;
    if (sl->ncold++ == 0)
        cold_link(pool, sl);
}

static int stack_map(coco_stack_pool_t *pool, size_t size, coco_stack_t *out)
{
    size_t usable = size - sizeof(struct coco_stack_tag);
    struct coco_slab *sl = *cold_head(pool, size);
    while (sl != NULL && sl->size != size)
        sl = sl->cold_next;
    if (sl == NULL && (sl = slab_new(pool, size)) == NULL)
        return COCO_ERROR_NOMEM;
    slab_take(pool, sl, usable, out);
    stack_register(out);
    return COCO_OK;
}

static void stack_unmap(coco_stack_pool_t *pool, char *lo, size_t usable)
{
    slab_give_back(pool, lo, usable);
}

static void slabs_drain(coco_stack_pool_t *pool)
{
    while (pool->slabs != NULL)
        slab_free(pool, pool->slabs);
    pool->cold_dflt = pool->cold_other = NULL;
}

#else /* !COCO_HAVE_GUARD_PAGES: plain heap stacks, nothing to guard */

static int stack_map(coco_stack_pool_t *pool, size_t size, coco_stack_t *out)
{
    (void)pool;
    out->lo = malloc(size);
    if (out->lo == NULL)
        return COCO_ERROR_NOMEM;
    out->size = size;
    stack_register(out);
    return COCO_OK;
}

static void stack_unmap(coco_stack_pool_t *pool, char *lo, size_t usable)
{
    (void)pool;
    (void)usable;
    free(lo);
}

static void slabs_drain(coco_stack_pool_t *pool)
{
    (void)pool;
}

#endif

/* ------------------------------------------------------------ the pool */

/* Stacks are pooled by the size asked for; what the coroutine may use is
 * a little less where a slab tag sits at the top. */
static size_t pool_size(size_t usable)
{
#if COCO_HAVE_GUARD_PAGES
    return usable + sizeof(struct coco_stack_tag);
#else
    return usable;
#endif
}

size_t coco__stack_asked(const coco_stack_t *stk)
{
    return pool_size(stk->size);
}

int coco__stack_get(coco_stack_pool_t *pool, size_t size, coco_stack_t *out)
{
    struct coco_stack_free **pp =
        size == COCO_DEFAULT_STACK_SIZE ? &pool->dflt : &pool->other;
    for (struct coco_stack_free *f = *pp; f != NULL; pp = &f->next, f = f->next) {
        if (pool_size(f->size) == size) {
            *pp = f->next;
            pool->count--;
            out->lo = f->lo;
            out->size = f->size;
#if COCO_VALGRIND
            out->vg_id = f->vg_id;
#endif
            return COCO_OK;
        }
    }
    return stack_map(pool, size, out);
}

void coco__stack_put(coco_stack_pool_t *pool, coco_stack_t *stk)
{
    if (stk->lo == NULL)
        return;
    if (pool->count >= pool->limit) {
        stack_deregister(stk);
        stack_unmap(pool, stk->lo, stk->size);
    } else {
        struct coco_stack_free *f = (struct coco_stack_free *)
            (stk->lo + stk->size - sizeof(struct coco_stack_free));
        size_t size = pool_size(stk->size);
        struct coco_stack_free **head =
            size == COCO_DEFAULT_STACK_SIZE ? &pool->dflt : &pool->other;
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

/* Forgets the hot stacks of f; with slabs, their memory goes with the
 * slabs (slabs_drain) rather than one stack at a time. */
static void drain_list(coco_stack_pool_t *pool, struct coco_stack_free *f)
{
    while (f != NULL) {
        struct coco_stack_free *next = f->next;
#if COCO_VALGRIND
        VALGRIND_STACK_DEREGISTER(f->vg_id);
#endif
#if !COCO_HAVE_GUARD_PAGES
        stack_unmap(pool, f->lo, f->size);
#else
        (void)pool;
#endif
        f = next;
    }
}

void coco__stack_pool_each(const coco_stack_pool_t *pool,
                           void (*f)(const char *base, size_t len, void *arg), void *arg)
{
    for (const struct coco_slab *sl = pool->slabs; sl != NULL; sl = sl->all_next)
        f(sl->base, sl->n * sl->stride, arg);
}

void coco__stack_pool_drain(coco_stack_pool_t *pool)
{
    struct coco_stack_free *d = pool->dflt, *o = pool->other;
    pool->dflt = pool->other = NULL;
    pool->count = 0;
    drain_list(pool, d);
    drain_list(pool, o);
    slabs_drain(pool);
}
