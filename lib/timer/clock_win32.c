/*
 * clock_win32.c - the timer layer's clock on Windows: the performance
 * counter, which is monotonic and unaffected by changes of the wall clock,
 * in milliseconds.
 *
 * SPDX-License-Identifier: MIT
 */
#include "timer/timer.h"

#define WIN32_LEAN_AND_MEAN
#include <windows.h>

static uint64_t clock_scaled(uint64_t per_s)
{
    /* The frequency is fixed at boot; reading it twice is harmless. */
    static volatile LONGLONG freq;
    LARGE_INTEGER now, f;
    if (freq == 0) {
        QueryPerformanceFrequency(&f);
        freq = f.QuadPart;
    }
    QueryPerformanceCounter(&now);
    uint64_t c = (uint64_t)now.QuadPart, hz = (uint64_t)freq;
    /* Split so that the product cannot overflow for centuries of uptime. */
    return c / hz * per_s + c % hz * per_s / hz;
}

uint64_t coco__clock_ms(void)
{
    return clock_scaled(1000u);
}

uint64_t coco__clock_us(void)
{
    return clock_scaled(1000000u);
}
