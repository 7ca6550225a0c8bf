/*
 * signal/signal.h - the overflow layer: the fault handler that turns a touch of
 * a guard page into a stack-overflow report (signal.c, or signal_win32.c).
 * It sits above the core: the handler finds the coroutine that faulted.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_SIGNAL_SIGNAL_H
#define COCO_SIGNAL_SIGNAL_H

#include "core/coro.h"

/* Installs the fault handler (once per process) and this thread's
 * alternate signal stack (once per thread).  COCO_OK or an error code. */
int coco__signal_init_thread(void);
/* Releases this thread's alternate stack when libcoco installed it. */
void coco__signal_fini_thread(void);

#endif /* COCO_SIGNAL_SIGNAL_H */
