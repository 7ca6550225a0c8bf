/*
 * stack_win32.h - the layout of a coroutine stack on Windows, shared by
 * the stack layer (stack_win32.c), the first frame of a context
 * (context.c) and the overflow handler (signal_win32.c).
 *
 * One VirtualAlloc reservation per stack, from low to high addresses:
 *
 *   base        one page never committed: the hard end
 *   +4 KiB      the guarantee zone, reserved only; its top page is
 *               committed as PAGE_GUARD and is the guard page
 *   lo          the usable stack, committed read-write, up to lo + size
 *
 * The thread block of a running coroutine says StackBase = lo + size,
 * StackLimit = lo and DeallocationStack = base, as for a thread's own
 * stack.  Windows (and wine) then treat a touch of the guard page the way
 * they treat it on a thread stack: because the guard page lies within the
 * guarantee (COCO__WIN32_GUARANTEE, set with SetThreadStackGuarantee), the
 * system does not grow the stack but commits the zone and raises
 * STATUS_STACK_OVERFLOW there, so the exception is dispatched with the
 * zone's 12 KiB free below the faulting code.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_MEM_STACK_WIN32_H
#define COCO_MEM_STACK_WIN32_H

#include "mem/stack.h"

/* x86-64 Windows pages are always 4 KiB. */
#define COCO__WIN32_PAGE ((size_t)4096)
/* Stack the system keeps for the handler of a stack overflow. */
#define COCO__WIN32_GUARANTEE ((size_t)16 * 1024)
/* Reserved below lo: the hard page and the guarantee zone. */
#define COCO__WIN32_BELOW (COCO__WIN32_PAGE + COCO__WIN32_GUARANTEE)

/* The reservation a stack with usable bottom lo belongs to. */
static inline char *coco__stack_win32_base(void *lo)
{
    return (char *)lo - COCO__WIN32_BELOW;
}

/* Called by the overflow handler: the stack at lo has lost its guard page
 * (the system committed the zone), so it must not be reused. */
void coco__stack_win32_spent(char *lo);

#endif /* COCO_MEM_STACK_WIN32_H */
