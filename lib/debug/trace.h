/*
 * trace.h - the trace-event writer (lib/debug/trace.c): what the loop
 * layer calls of it.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_DEBUG_TRACE_H
#define COCO_DEBUG_TRACE_H

#include "coco_internal.h"

/* Called as s is created: starts a trace of it when the environment
 * variable COCO_TRACE names a file.  Each "%p" in it stands for the
 * process id.  The first scheduler of the process writes to that path,
 * later ones to the path followed by ".N" (N = 1, 2, ...).  Failing to
 * open the file is reported on stderr, once. */
void coco__trace_env(coco_sched_t *s);

#endif /* COCO_DEBUG_TRACE_H */
