/*
 * core/shared.h - shared (copied) stacks: coroutines that take turns on one
 * stack, their frames copied out while they are parked (shared.c).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_CORE_SHARED_H
#define COCO_CORE_SHARED_H

#include "core/coro.h"

/* Gives co (not yet started) a place on one of the scheduler's shared
 * stacks of size bytes, where it will start with fn(arg): co->stack is
 * then that stack.  Its first frame is built by the first
 * coco__sstack_enter(); until then fn and arg are kept in first_fn and
 * first_arg.  COCO_OK, COCO_ERROR_NOMEM, or
 * COCO_ERROR_INVALID where contexts cannot move (the ucontext switch). */
int coco__sstack_assign(coco_sched_t *s, coco_co_t *co, size_t size,
                        void (*fn)(void *), void *arg);
/* Called by the loop, on its own stack, before it resumes the shared-stack
 * coroutine co: copies out whoever else's frames occupy the stack and puts
 * co's back (or prepares its first frame).  COCO_ERROR_NOMEM when the
 * frames in the way could not be saved; co cannot run yet. */
int coco__sstack_enter(coco_sched_t *s, coco_co_t *co);
/* The size asked for co's shared stack (its usable size is co->stack.size). */
size_t coco__sstack_asked(const coco_co_t *co);
/* True when the frames on co's shared stack are co's. */
bool coco__sstack_owns(const coco_co_t *co);
/* co will never run again: it no longer holds its shared stack. */
void coco__sstack_release(coco_co_t *co);
/* Gives the shared stacks back to the pool (at coco_sched_destroy). */
void coco__sstack_fini(coco_sched_t *s);
/* In debug builds (COCO_DEBUG): notes when p points into the running
 * coroutine's shared stack, where it will not stay valid for others; what
 * names the call.  The loop reports it through the coroutine's error
 * callback (coco__sstack_report) once the coroutine has switched away, as
 * callbacks never run in a coroutine. */
#if COCO_DEBUG
void coco__sstack_check_ptr(const void *p, const char *what);
void coco__sstack_report(coco_sched_t *s);
#else
#  define coco__sstack_check_ptr(p, what) ((void)0)
#endif

#endif /* COCO_CORE_SHARED_H */
