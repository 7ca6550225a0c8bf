/*
 * thread.c - starting and joining threads, counting processors.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE 1 /* sched_getaffinity */
#endif
#include "coco_internal.h"
#include "core/mt.h"
#include "mt/thread.h"

#include <errno.h>
#include <stdlib.h>
#ifndef _WIN32
#  include <sched.h>
#  include <unistd.h>
#endif

struct start {
    void (*fn)(void *);
    void *arg;
};

#ifdef _WIN32
static DWORD WINAPI thread_main(LPVOID p)
{
    struct start st = *(struct start *)p;
    free(p);
    st.fn(st.arg);
    return 0;
}
#else
static void *thread_main(void *p)
{
    struct start st = *(struct start *)p;
    free(p);
    st.fn(st.arg);
    return NULL;
}
#endif

int coco__thread_start(coco__thread_t *t, void (*fn)(void *), void *arg)
{
    struct start *st = malloc(sizeof *st);
    if (st == NULL)
        return -1;
    st->fn = fn;
    st->arg = arg;
#ifdef _WIN32
    *t = CreateThread(NULL, 0, thread_main, st, 0, NULL);
    if (*t == NULL) {
        free(st);
        errno = EAGAIN;
        return -1;
    }
#else
    int rc = pthread_create(t, NULL, thread_main, st);
    if (rc != 0) {
        free(st);
        errno = rc;
        return -1;
    }
#endif
    return 0;
}

void coco__thread_join(coco__thread_t t)
{
#ifdef _WIN32
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
#else
    pthread_join(t, NULL);
#endif
}

size_t coco__cpu_count(void)
{
#ifdef _WIN32
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwNumberOfProcessors > 0 ? si.dwNumberOfProcessors : 1;
#else
#  if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (size_t)CPU_COUNT(&set);
#  endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
#endif
}
