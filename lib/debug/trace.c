/*
 * trace.c - coco_trace_start(), coco_trace_stop() and COCO_TRACE: a
 * scheduler's life written as a trace-event JSON file, the format the
 * Perfetto UI and chrome://tracing open.
 *
 * One track (tid) per coroutine, named "coroutine N", and track 0 for the
 * scheduler loop.  Each time a coroutine runs is a complete event ("X")
 * on its track, from the switch to it to the switch away; why it stopped
 * (a yield, or a park and what it waits on) is an instant event ("i") at
 * the end of the span, and so is a wake, with what it had waited on.  On
 * the loop's track: the polls for I/O as complete events and each timer
 * that fires as an instant.  Timestamps are microseconds of the monotonic
 * clock (fractions to the nanosecond) since the trace started.
 *
 * The core reports through s->trace (struct coco__tracer, lib/core/coro.h)
 * and never calls in here by name.  Events go through stdio's buffer; the
 * file is complete, and valid JSON, once the trace is stopped, which
 * coco_sched_destroy() does.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco_internal.h"
#include "debug/trace.h"
#include "sync/wait.h"
#include "sync/channel.h"
#include "debug/inspect.h"
#include "io/io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _WIN32
#  define WIN32_LEAN_AND_MEAN
#  include <windows.h>
#  include <process.h>
#else
#  include <unistd.h>
#endif

#if COCO_TRACE_HOOKS

typedef struct coco__trace {
    struct coco__tracer hooks;   /* must stay first: s->trace points here */
    FILE *f;
    unsigned long pid;
    uint64_t t0;                 /* ns, when the trace started */
    uint64_t span_id;            /* the coroutine whose span is open, or 0 */
    uint64_t span_ts;            /* ... since when */
    uint64_t poll_ts;            /* when the current poll started */
    /* A byte per coroutine id: TRACK_NAMED once its track is named, and
     * in the low bits what its last park waited on (woken, a waiter record
     * no longer says whose queue it was in). */
    unsigned char *co_info;
    size_t co_info_len;
    bool failed;                 /* a write or an allocation failed */
    char pid_text[48];           /* ",\"pid\":N,\"tid\":", made once */
    size_t pid_len;
    size_t len;                  /* bytes in buf */
    char buf[32768];             /* events not yet handed to stdio */
} coco__trace_t;

/* --------------------------------------------------------------- the clock */

static uint64_t now_ns(void)
{
#ifdef _WIN32
    static LARGE_INTEGER freq;
    LARGE_INTEGER c;
    if (freq.QuadPart == 0)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&c);
    return (uint64_t)((double)c.QuadPart * 1e9 / (double)freq.QuadPart);
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

/* ---------------------------------------------------------------- writing */

/* Events are formatted by hand into buf, a few hundred instructions
 * each, rather than by fprintf(), which costs ten times that. */

static unsigned long process_id(void)
{
#ifdef _WIN32
    return (unsigned long)_getpid();
#else
    return (unsigned long)getpid();
#endif
}

/* Writes buf to the file (stdio buffers nothing more: see
 * coco_trace_start).  A child process that inherited the trace through
 * fork() writes nothing: the events in its copy of buf are its parent's,
 * and so is the file. */
static void flush(coco__trace_t *t)
{
    if (t->len != 0 && process_id() == t->pid &&
        fwrite(t->buf, 1, t->len, t->f) != t->len)
        t->failed = true;
    t->len = 0;
}

/* Room made before each put_*() writes: more than one call adds (20
 * digits of a number, or the pid text and 4 bytes of put_us()). */
#define PUT_MAX 64

static void room(coco__trace_t *t)
{
    if (t->len > sizeof t->buf - PUT_MAX)
        flush(t);
}

/* str is a constant of this file, shorter than PUT_MAX. */
static void put(coco__trace_t *t, const char *str)
{
    room(t);
    size_t n = strlen(str);
    memcpy(t->buf + t->len, str, n);
    t->len += n;
}

static void put_u(coco__trace_t *t, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    room(t);
    while (n > 0)
        t->buf[t->len++] = tmp[--n];
}

/* ns as microseconds with three decimals. */
static void put_us(coco__trace_t *t, uint64_t ns)
{
    put_u(t, ns / 1000);
    unsigned frac = (unsigned)(ns % 1000);
    room(t);
    t->buf[t->len++] = '.';
    t->buf[t->len++] = (char)('0' + frac / 100);
    t->buf[t->len++] = (char)('0' + frac / 10 % 10);
    t->buf[t->len++] = (char)('0' + frac % 10);
}

static void put_x(coco__trace_t *t, uintptr_t v)
{
    char tmp[2 * sizeof v];
    size_t n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v != 0);
    room(t);
    t->buf[t->len++] = '0';
    t->buf[t->len++] = 'x';
    while (n > 0)
        t->buf[t->len++] = tmp[--n];
}

/* Writes the fields every event has, after its opening brace: name,
 * phase, time, process and track. */
static void head(coco__trace_t *t, const char *name, const char *ph,
                 uint64_t ts, uint64_t tid)
{
    put(t, ",\n{\"name\":\"");
    put(t, name);
    put(t, "\",\"ph\":\"");
    put(t, ph);
    put(t, "\",\"ts\":");
    put_us(t, ts - t->t0);
    memcpy(t->buf + t->len, t->pid_text, t->pid_len); /* room: put_us() */
    t->len += t->pid_len;
    put_u(t, tid);
}

static void put_dur(coco__trace_t *t, uint64_t from, uint64_t to)
{
    put(t, ",\"dur\":");
    put_us(t, to - from);
}

#define TRACK_NAMED 0x80u

/* The byte of coroutine id in co_info, or NULL when out of memory. */
static unsigned char *info_of(coco__trace_t *t, uint64_t id)
{
    if (id >= t->co_info_len) {
        size_t len = t->co_info_len ? t->co_info_len : 256;
        while (len <= id)
            len *= 2;
        unsigned char *p = realloc(t->co_info, len);
        if (p == NULL) {
            t->failed = true;
            return NULL;
        }
        memset(p + t->co_info_len, 0, len - t->co_info_len);
        t->co_info = p;
        t->co_info_len = len;
    }
    return &t->co_info[id];
}

/* Names the track of coroutine id the first time it shows up. */
static void name_track(coco__trace_t *t, uint64_t id)
{
    unsigned char *info = info_of(t, id);
    if (info == NULL || (*info & TRACK_NAMED))
        return;
    *info |= TRACK_NAMED;
    put(t, ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"ts\":0,\"pid\":");
    put_u(t, t->pid);
    put(t, ",\"tid\":");
    put_u(t, id);
    put(t, ",\"args\":{\"name\":\"coroutine ");
    put_u(t, id);
    put(t, "\"}}");
}

/* What a coroutine waits on, as the "on" of its park and wake events. */
enum {
    ON_NOTHING, ON_SELECT, ON_DESCRIPTOR, ON_SEND, ON_RECV, ON_MUTEX,
    ON_COND, ON_SEM, ON_WAITGROUP, ON_QUEUE, ON_READ_WRITE, ON_READ,
    ON_WRITE, ON_JOIN, ON_SLEEP
};
static const char *const on_names[] = {
    "nothing", "select", "descriptor", "channel send", "channel recv", "mutex",
    "cond", "semaphore", "waitgroup", "wait queue", "fd read+write", "fd read",
    "fd write", "join", "sleep"
};

static unsigned wait_kind(const coco_sched_t *s, const coco_co_t *co)
{
    switch (co->wait_on) {
    case COCO__ON_GROUP: {
        const coco__waiter_t *w = co->wait_obj;
        if (w == NULL)
            return ON_NOTHING;
        if (!(w->pos & COCO__WAIT_LAST))
            return ON_SELECT;
        if (w->q == &s->fd_freed)
            return ON_DESCRIPTOR;
        switch (w->q != NULL ? w->q->kind : COCO__WQ_UNKNOWN) {
        case COCO__WQ_SEND: return ON_SEND;
        case COCO__WQ_RECV: return ON_RECV;
        case COCO__WQ_MUTEX: return ON_MUTEX;
        case COCO__WQ_COND: return ON_COND;
        case COCO__WQ_SEM: return ON_SEM;
        case COCO__WQ_WAITGROUP: return ON_WAITGROUP;
        default: return ON_QUEUE;
        }
    }
    case COCO__ON_IO: {
        unsigned ev = coco__io_tag_events(co->wait_obj);
        return ev == (COCO__EV_READ | COCO__EV_WRITE) ? ON_READ_WRITE
               : (ev & COCO__EV_READ) ? ON_READ : ON_WRITE;
    }
    case COCO__ON_JOIN:
        return ON_JOIN;
    default:
        return co->wait_timer != NULL ? ON_SLEEP : ON_NOTHING;
    }
}

/* The details of that wait: the object, or the descriptor, or the
 * coroutine joined. */
static void put_wait_args(coco__trace_t *t, const coco_co_t *co)
{
    switch (co->wait_on) {
    case COCO__ON_GROUP: {
        const coco__waiter_t *w = co->wait_obj;
        if (w != NULL && w->q != NULL) {
            put(t, ",\"object\":\"");
            put_x(t, (uintptr_t)coco__waitq_owner(w->q));
            put(t, "\"");
        }
        break;
    }
    case COCO__ON_IO:
        put(t, ",\"fd\":");
        put_u(t, (uint64_t)coco__io_tag_fd(co->wait_obj));
        break;
    case COCO__ON_JOIN: {
        const coco_co_t *target = co->wait_obj;
        put(t, ",\"coroutine\":");
        put_u(t, target != NULL ? target->id : 0);
        break;
    }
    default:
        break;
    }
}

/* Ends the open span, if any, at ts. */
static void span_end(coco__trace_t *t, uint64_t ts)
{
    if (t->span_id == 0)
        return;
    head(t, "run", "X", t->span_ts, t->span_id);
    put_dur(t, t->span_ts, ts);
    put(t, "}");
    t->span_id = 0;
}

static void span_begin(coco__trace_t *t, const coco_co_t *co, uint64_t ts)
{
    name_track(t, co->id);
    t->span_id = co->id;
    t->span_ts = ts;
}

/* An instant on the track of co (or the loop's, 0). */
static void instant(coco__trace_t *t, const char *name, uint64_t ts, uint64_t tid)
{
    head(t, name, "i", ts, tid);
    put(t, ",\"s\":\"t\"");
}

/* s->trace->event.  errno is kept: events come from the middle of calls
 * that report through it. */
static void on_event(coco_sched_t *s, unsigned what, coco_co_t *co, coco_co_t *next)
{
    int saved_errno = errno;
    coco__trace_t *t = (coco__trace_t *)(void *)s->trace;
    uint64_t ts = now_ns();
    switch (what) {
    case COCO__TR_YIELD:
    case COCO__TR_PARK:
        span_end(t, ts);
        name_track(t, co->id);
        if (what == COCO__TR_YIELD) {
            instant(t, "yield", ts, co->id);
            put(t, "}");
        } else {
            unsigned on = wait_kind(s, co);
            unsigned char *info = info_of(t, co->id);
            if (info != NULL)
                *info = (unsigned char)((*info & TRACK_NAMED) | on);
            instant(t, "park", ts, co->id);
            put(t, ",\"args\":{\"on\":\"");
            put(t, on_names[on]);
            put(t, "\"");
            put_wait_args(t, co);
            put(t, "}}");
        }
        if (next != NULL)
            span_begin(t, next, ts);
        break;
    case COCO__TR_WAKE: {
        name_track(t, co->id);
        /* What it parked on, unless it parked before the trace started. */
        unsigned on = wait_kind(s, co);
        const unsigned char *info = info_of(t, co->id);
        if (info != NULL && (*info & ~TRACK_NAMED) != ON_NOTHING)
            on = *info & ~TRACK_NAMED;
        instant(t, "wake", ts, co->id);
        put(t, ",\"args\":{\"on\":\"");
        put(t, on_names[on]);
        put(t, "\"");
        put_wait_args(t, co);
        coco_co_t *by = s->current;
        put(t, ",\"by\":");
        put_u(t, by != NULL ? by->id : 0);
        put(t, "}}");
        break;
    }
    case COCO__TR_RUN:
        span_end(t, ts);
        span_begin(t, next, ts);
        break;
    case COCO__TR_EXIT:
    case COCO__TR_BACK:
        span_end(t, ts);
        break;
    case COCO__TR_TIMER:
        instant(t, "timer fired", ts, 0);
        put(t, "}");
        break;
    case COCO__TR_POLL_BEGIN:
        t->poll_ts = ts;
        break;
    case COCO__TR_POLL_END:
        head(t, "poll", "X", t->poll_ts, 0);
        put_dur(t, t->poll_ts, ts);
        put(t, ",\"args\":{\"ready\":");
        put_u(t, (uint64_t)s->rq_len);
        put(t, "}}");
        break;
    default:
        break;
    }
    errno = saved_errno;
}

#endif /* COCO_TRACE_HOOKS */

/* ------------------------------------------------------------ start, stop */

int coco_trace_start(coco_sched_t *s, const char *path)
{
    if (s == NULL || path == NULL || path[0] == '\0') {
        errno = EINVAL;
        return COCO_ERROR_INVALID;
    }
#if !COCO_TRACE_HOOKS
    errno = ENOTSUP;
    return COCO_ERROR;
#else
    if (s->trace != NULL) {
        errno = EBUSY;
        return COCO_ERROR_INVALID;
    }
    coco__trace_t *t = calloc(1, sizeof *t);
    if (t == NULL) {
        errno = ENOMEM;
        return COCO_ERROR_NOMEM;
    }
    t->f = fopen(path, "w");
    if (t->f == NULL) {
        int e = errno;
        free(t);
        errno = e;
        return COCO_ERROR;
    }
    /* The events are buffered in t->buf: with nothing left in stdio's
     * buffer, a child that inherits the stream and exits has nothing of
     * the parent's to write again. */
    setvbuf(t->f, NULL, _IONBF, 0);
    t->hooks.event = on_event;
    t->pid = process_id();
    t->t0 = now_ns();
    t->pid_len = (size_t)snprintf(t->pid_text, sizeof t->pid_text,
                                  ",\"pid\":%lu,\"tid\":", t->pid);
    fprintf(t->f, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n"
                  "{\"name\":\"thread_name\",\"ph\":\"M\",\"ts\":0,\"pid\":%lu,"
                  "\"tid\":0,\"args\":{\"name\":\"scheduler loop\"}}",
            t->pid);
    /* Started from a coroutine: its span opens now. */
    if (s->current != NULL)
        span_begin(t, s->current, t->t0);
    s->trace = &t->hooks;
    return COCO_OK;
#endif
}

int coco_trace_stop(coco_sched_t *s)
{
    if (s == NULL || s->trace == NULL) {
        errno = EINVAL;
        return COCO_ERROR_INVALID;
    }
#if !COCO_TRACE_HOOKS
    return COCO_ERROR_INVALID;
#else
    coco__trace_t *t = (coco__trace_t *)(void *)s->trace;
    s->trace = NULL;
    span_end(t, now_ns());
    if (process_id() == t->pid)
        put(t, "\n]}\n");
    flush(t);
    bool failed = t->failed || ferror(t->f);
    int e = failed ? (errno != 0 ? errno : EIO) : 0;
    if (fclose(t->f) != 0 && !failed) {
        failed = true;
        e = errno;
    }
    free(t->co_info);
    free(t);
    if (failed) {
        errno = e;
        return COCO_ERROR;
    }
    return COCO_OK;
#endif
}

void coco__trace_env(coco_sched_t *s)
{
    static unsigned made;  /* schedulers traced so far by the process */
    static bool told;
    const char *env = getenv("COCO_TRACE");
    if (env == NULL || env[0] == '\0')
        return;
#if defined(__GNUC__)
    unsigned n = __atomic_fetch_add(&made, 1, __ATOMIC_RELAXED);
#else
    unsigned n = made++;
#endif
    int saved = errno;
    /* Each "%p" becomes the process id, then ".N" is added for the
     * scheduler after the first. */
    size_t size = strlen(env) + 64;
    for (const char *q = env; (q = strstr(q, "%p")) != NULL; q += 2)
        size += 20;
    char *path = malloc(size);
    if (path == NULL)
        return;
    size_t len = 0;
    for (const char *q = env; *q != '\0';) {
        if (q[0] == '%' && q[1] == 'p') {
#ifdef _WIN32
            unsigned long pid = (unsigned long)_getpid();
#else
            unsigned long pid = (unsigned long)getpid();
#endif
            len += (size_t)snprintf(path + len, size - len, "%lu", pid);
            q += 2;
        } else {
            path[len++] = *q++;
        }
    }
    path[len] = '\0';
    if (n > 0)
        snprintf(path + len, size - len, ".%u", n);
    if (coco_trace_start(s, path) != COCO_OK && !told) {
        told = true;
        if (errno == ENOTSUP)
            fputs("coco: COCO_TRACE: this libcoco was built without --enable-trace\n", stderr);
        else
            fprintf(stderr, "coco: COCO_TRACE: cannot write %s: %s\n", path, strerror(errno));
    }
    free(path);
    errno = saved;
}
