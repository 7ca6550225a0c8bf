/*
 * coco_internal.h - what every layer of libcoco from the core up may use.
 *
 * The library is built in layers, one folder each, bottom up:
 *
 *   arch/    the context switch and a new context's first frame
 *   mem/     coroutine stacks and small blocks
 *   core/    coroutines, the run queue, the switch, parking and waking,
 *            shared stacks
 *   signal/  stack-overflow detection (the fault handler finds the
 *            coroutine through the core)
 *   timer/   the timing wheel, the clock, parking with a deadline
 *   sync/    wait queues and what is built on them: channels, select,
 *            mutex, condition variable, semaphore, wait group
 *   io/      the descriptor table, the I/O calls and the pollers
 *   loop/    the scheduler's entry points (coco_sched_*) and its loop
 *   mt/      what runs threads of the library's own: worker groups, the
 *            blocking-work pool
 *
 * A layer calls only the layers below it.  The core reaches the layers
 * above through one table of operations in the scheduler (core/coro.h);
 * the context switch ends a coroutine whose function returns in
 * coco__co_return() (core).  tests/check-layers.sh checks the built objects.
 *
 * This header gathers the layers every other one uses; a layer above the
 * core includes the headers of the layers it calls (timer/deadline.h,
 * sync/wait.h, io/io.h) by name.  Nothing here is exported: the build hides
 * every symbol but the coco_* API, and internal names start with coco__
 * (functions, variables) or COCO__ (macros, constants).  Structure tags
 * keep the plain coco_ prefix of the public types they implement.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_INTERNAL_H
#define COCO_INTERNAL_H

#include "compiler.h"
#include "arch/context.h"
#include "mem/stack.h"
#include "mem/small.h"
#include "core/coro.h"
#include "core/shared.h"

#endif /* COCO_INTERNAL_H */
