/*
 * mt/thread.h - the few thread calls the mt layer makes, over pthreads or
 * the Windows API.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_MT_THREAD_H
#define COCO_MT_THREAD_H

#include <stddef.h>

#ifdef _WIN32
#  include <windows.h>
typedef HANDLE coco__thread_t;
#else
#  include <pthread.h>
typedef pthread_t coco__thread_t;
#endif

/* Starts fn(arg) on a new thread: 0, or -1. */
int coco__thread_start(coco__thread_t *t, void (*fn)(void *), void *arg);
void coco__thread_join(coco__thread_t t);
/* The processors the process may run on (at least 1). */
size_t coco__cpu_count(void);

#endif /* COCO_MT_THREAD_H */
