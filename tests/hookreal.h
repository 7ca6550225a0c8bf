/* Helpers shared by the programs that drive real client libraries under
 * the hook library (tests/hookreal_*.c): TAP output and a clock.  Each
 * program is started by its shell script (tests/hookreal-*.sh), which
 * starts the server, preloads the hook library and prints nothing of its
 * own but a skip; the program prints the whole TAP stream, plan last. */
#ifndef COCO_HOOKREAL_H
#define COCO_HOOKREAL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static int hookreal_n;
static int hookreal_failed;

/* One TAP line: "ok N - what" when cond holds, else "not ok N - what". */
static inline void hookreal_ok(int cond, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void hookreal_ok(int cond, const char *fmt, ...)
{
    va_list ap;
    hookreal_n++;
    if (!cond)
        hookreal_failed++;
    printf("%sok %d - ", cond ? "" : "not ", hookreal_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* A diagnostic line in the TAP stream. */
static inline void hookreal_note(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static inline void hookreal_note(const char *fmt, ...)
{
    va_list ap;
    fputs("# ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* Prints the plan; the exit status for main(). */
static inline int hookreal_done(void)
{
    printf("1..%d\n", hookreal_n);
    fflush(stdout);
    return hookreal_failed == 0 ? 0 : 1;
}

/* Monotonic milliseconds (a double, for sub-millisecond figures). */
static inline double hookreal_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#endif
