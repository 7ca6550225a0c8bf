/*
 * clock_posix.c - the timer layer's clock: CLOCK_MONOTONIC in milliseconds
 * (and microseconds).
 *
 * SPDX-License-Identifier: MIT
 */
#include "timer/timer.h"

#include <time.h>

uint64_t coco__clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t coco__clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
