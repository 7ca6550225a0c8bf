/*
 * check_trace.c - coco_trace_start(), coco_trace_stop() and COCO_TRACE
 * write a trace-event JSON file: one document, every event with its
 * phase, time, process and track, one span per run of each coroutine,
 * times that never go back on a track, and the right wait on every park
 * and wake.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"
#include "coco.h"
#include "testutil.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------ a small reader */
#if COCO_TRACE_HOOKS

/* What the test needs of one event. */
typedef struct ev {
    char name[32], ph[4], on[32];
    double ts, dur;
    long long tid, fd;
    int has_ph, has_ts, has_pid, has_tid;
} ev_t;

#define MAX_EVENTS 4096
static ev_t evs[MAX_EVENTS];
static size_t n_evs;

typedef struct rd {
    const char *p;
    ev_t *ev;        /* the event being read, or NULL */
    int depth;       /* of objects: 1 the document, 2 an event, 3 its args */
    char key[32];    /* the last key read at each depth, for depth 2 and 3 */
    char key2[32];
} rd_t;

static void ws(rd_t *r)
{
    while (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t')
        r->p++;
}

static int value(rd_t *r);

/* A string, copied to out (size bytes, truncated) when out is not NULL. */
static int string(rd_t *r, char *out, size_t size)
{
    if (*r->p != '"')
        return 0;
    r->p++;
    size_t n = 0;
    while (*r->p != '"') {
        if (*r->p == '\0' || (unsigned char)*r->p < 0x20)
            return 0;
        if (*r->p == '\\') {
            r->p++;
            if (strchr("\"\\/bfnrtu", *r->p) == NULL || *r->p == '\0')
                return 0;
        }
        if (out != NULL && n + 1 < size)
            out[n++] = *r->p;
        r->p++;
    }
    if (out != NULL)
        out[n] = '\0';
    r->p++;
    return 1;
}

static int number(rd_t *r, double *out)
{
    char *end;
    double v = strtod(r->p, &end);
    if (end == r->p || !(*r->p == '-' || (*r->p >= '0' && *r->p <= '9')))
        return 0;
    r->p = end;
    if (out != NULL)
        *out = v;
    return 1;
}

static int object(rd_t *r)
{
    r->p++;
    r->depth++;
    ev_t *ev = NULL;
    if (r->depth == 2) {
        if (n_evs == MAX_EVENTS)
            return 0;
        ev = r->ev = &evs[n_evs++];
        memset(ev, 0, sizeof *ev);
        ev->fd = -1;
    }
    ws(r);
    if (*r->p == '}') {
        r->p++;
        r->depth--;
        return 1;
    }
    for (;;) {
        char key[32];
        ws(r);
        if (!string(r, key, sizeof key))
            return 0;
        ws(r);
        if (*r->p++ != ':')
            return 0;
        ws(r);
        if (r->depth == 2 && strcmp(key, "name") == 0) {
            if (!string(r, ev->name, sizeof ev->name))
                return 0;
        } else if (r->depth == 2 && strcmp(key, "ph") == 0) {
            if (!string(r, ev->ph, sizeof ev->ph))
                return 0;
            ev->has_ph = 1;
        } else if (r->depth == 2 && strcmp(key, "ts") == 0) {
            if (!number(r, &ev->ts))
                return 0;
            ev->has_ts = 1;
        } else if (r->depth == 2 && strcmp(key, "dur") == 0) {
            if (!number(r, &ev->dur))
                return 0;
        } else if (r->depth == 2 && strcmp(key, "pid") == 0) {
            if (!number(r, NULL))
                return 0;
            ev->has_pid = 1;
        } else if (r->depth == 2 && strcmp(key, "tid") == 0) {
            double d;
            if (!number(r, &d))
                return 0;
            ev->tid = (long long)d;
            ev->has_tid = 1;
        } else if (r->depth == 3 && r->ev != NULL && strcmp(key, "on") == 0) {
            if (!string(r, r->ev->on, sizeof r->ev->on))
                return 0;
        } else if (r->depth == 3 && r->ev != NULL && strcmp(key, "fd") == 0) {
            double d;
            if (!number(r, &d))
                return 0;
            r->ev->fd = (long long)d;
        } else if (!value(r)) {
            return 0;
        }
        ws(r);
        if (*r->p == ',') {
            r->p++;
            continue;
        }
        if (*r->p != '}')
            return 0;
        r->p++;
        r->depth--;
        if (r->depth == 1)
            r->ev = NULL;
        return 1;
    }
}

static int array(rd_t *r)
{
    r->p++;
    ws(r);
    if (*r->p == ']') {
        r->p++;
        return 1;
    }
    for (;;) {
        ws(r);
        if (!value(r))
            return 0;
        ws(r);
        if (*r->p == ',') {
            r->p++;
            continue;
        }
        if (*r->p++ != ']')
            return 0;
        return 1;
    }
}

static int value(rd_t *r)
{
    ws(r);
    switch (*r->p) {
    case '{': return object(r);
    case '[': return array(r);
    case '"': return string(r, NULL, 0);
    default:
        if (strncmp(r->p, "true", 4) == 0 || strncmp(r->p, "null", 4) == 0) {
            r->p += 4;
            return 1;
        }
        if (strncmp(r->p, "false", 5) == 0) {
            r->p += 5;
            return 1;
        }
        return number(r, NULL);
    }
}

/* Reads the trace at path into evs, asserting that it is one JSON object
 * and that every event has ph, ts, pid and tid. */
static void load(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    ck_assert_uint_lt(n, sizeof buf - 1);
    buf[n] = '\0';
    fclose(f);
    rd_t r = { .p = buf };
    n_evs = 0;
    ws(&r);
    ck_assert_msg(*r.p == '{', "the trace is not a JSON object");
    ck_assert_msg(value(&r), "not valid JSON near offset %ld: %.40s",
                  (long)(r.p - buf), r.p);
    ws(&r);
    ck_assert_msg(*r.p == '\0', "text after the JSON document: %.40s", r.p);
    ck_assert_uint_gt(n_evs, 0);
    for (size_t i = 0; i < n_evs; i++)
        ck_assert_msg(evs[i].has_ph && evs[i].has_ts && evs[i].has_pid &&
                      evs[i].has_tid, "event %zu (%s) lacks a field", i, evs[i].name);
}

/* Events on track tid of phase ph (NULL: any) named name (NULL: any). */
static size_t count(long long tid, const char *ph, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < n_evs; i++)
        if (evs[i].tid == tid && (ph == NULL || strcmp(evs[i].ph, ph) == 0) &&
            (name == NULL || strcmp(evs[i].name, name) == 0))
            n++;
    return n;
}

/* Asserts that every event named name on track tid has args.on == on,
 * and that there is at least one. */
static void assert_on(long long tid, const char *name, const char *on)
{
    size_t n = 0;
    for (size_t i = 0; i < n_evs; i++) {
        if (evs[i].tid != tid || strcmp(evs[i].name, name) != 0)
            continue;
        ck_assert_msg(strcmp(evs[i].on, on) == 0, "coroutine %lld: %s on \"%s\", not \"%s\"",
                      tid, name, evs[i].on, on);
        n++;
    }
    ck_assert_msg(n > 0, "coroutine %lld: no %s", tid, name);
}

/* Times never go back on a track (metadata aside). */
static void assert_monotonic(void)
{
    for (size_t i = 0; i < n_evs; i++) {
        if (strcmp(evs[i].ph, "M") == 0)
            continue;
        for (size_t j = i + 1; j < n_evs; j++) {
            if (evs[j].tid != evs[i].tid || strcmp(evs[j].ph, "M") == 0)
                continue;
            ck_assert_msg(evs[j].ts >= evs[i].ts,
                          "track %lld: %s at %.3f after %s at %.3f", evs[i].tid,
                          evs[j].name, evs[j].ts, evs[i].name, evs[i].ts);
            break;
        }
    }
}

/* One thread runs the loop and the coroutines: no two spans overlap, the
 * loop's polls included (times have three decimals). */
static void assert_no_overlap(void)
{
    for (size_t i = 0; i < n_evs; i++) {
        if (strcmp(evs[i].ph, "X") != 0)
            continue;
        for (size_t j = 0; j < n_evs; j++) {
            if (j == i || strcmp(evs[j].ph, "X") != 0)
                continue;
            ck_assert_msg(evs[j].ts + 0.0005 >= evs[i].ts + evs[i].dur ||
                          evs[i].ts + 0.0005 >= evs[j].ts + evs[j].dur,
                          "%s on track %lld at %.3f+%.3f overlaps %s on track %lld at %.3f+%.3f",
                          evs[i].name, evs[i].tid, evs[i].ts, evs[i].dur,
                          evs[j].name, evs[j].tid, evs[j].ts, evs[j].dur);
        }
    }
}

static void temp_path(char *buf, size_t size)
{
    const char *dir = getenv("TMPDIR");
    snprintf(buf, size, "%s/coco-trace-%ld.json", dir != NULL ? dir : "/tmp",
             (long)getpid());
}

#endif /* COCO_TRACE_HOOKS */

/* ------------------------------------------------------- the program */

#define ROUNDS 20

static coco_channel_t *ch;
static int pipe_fds[2];

static void ping(void *arg)
{
    (void)arg;
    for (intptr_t i = 0; i < ROUNDS; i++)
        ck_assert_int_eq(coco_channel_send(ch, (void *)i), COCO_OK);
}

static void pong(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        void *v;
        ck_assert_int_eq(coco_channel_recv(ch, &v), COCO_OK);
        ck_assert_int_eq((int)(intptr_t)v, i);
    }
}

static void sleeper(void *arg)
{
    (void)arg;
    ck_assert_int_eq(coco_sleep(20), COCO_OK);
    ck_assert_int_eq(coco_write(pipe_fds[1], "x", 1), 1);
}

static void reader(void *arg)
{
    (void)arg;
    char c;
    ck_assert_int_eq(coco_read(pipe_fds[0], &c, 1), 1);
}

/* Runs the program on s: ping and pong (ids returned) trade ROUNDS values
 * over an unbuffered channel, a third coroutine sleeps and then writes to
 * a pipe that the fourth reads. */
static void run_program(coco_sched_t *s, uint64_t id[4])
{
    ck_assert_int_eq(pipe(pipe_fds), 0);
    ch = coco_channel_create(0);
    ck_assert_ptr_nonnull(ch);
    void (*fn[4])(void *) = { ping, pong, sleeper, reader };
    for (int i = 0; i < 4; i++) {
        coco_coro_t *c = coco_create(s, fn[i], NULL, 0);
        ck_assert_ptr_nonnull(c);
        id[i] = coco_get_id(c);
    }
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_channel_destroy(ch);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

#if COCO_TRACE_HOOKS

/* Checks the trace of run_program(): the spans per coroutine, the times,
 * the waits. */
static void check_program_trace(const uint64_t id[4], uint64_t switches)
{
    assert_monotonic();
    assert_no_overlap();
    /* Every resume of a coroutine is one span, on its own track. */
    size_t spans = 0;
    for (size_t i = 0; i < n_evs; i++)
        if (strcmp(evs[i].ph, "X") == 0 && strcmp(evs[i].name, "run") == 0) {
            ck_assert_int_ne(evs[i].tid, 0);
            spans++;
        }
    ck_assert_uint_eq(spans, switches);
    /* Unbuffered, ping first: ping's first send finds no receiver and
     * parks; pong takes that value from it (waking it), and parks in its
     * next receive; ping's next send hands its value straight to the
     * waiting pong and goes on to park in the one after.  So each parks
     * on every other operation, ROUNDS / 2 times, and runs once more than
     * it parks. */
    ck_assert_uint_eq(count((long long)id[0], "i", "park"), ROUNDS / 2);
    ck_assert_uint_eq(count((long long)id[1], "i", "park"), ROUNDS / 2);
    ck_assert_uint_eq(count((long long)id[0], "X", "run"), ROUNDS / 2 + 1);
    ck_assert_uint_eq(count((long long)id[1], "X", "run"), ROUNDS / 2 + 1);
    /* The sleeper and the reader: once to park, once to finish. */
    ck_assert_uint_eq(count((long long)id[2], "X", "run"), 2);
    ck_assert_uint_eq(count((long long)id[3], "X", "run"), 2);
    assert_on((long long)id[0], "park", "channel send");
    assert_on((long long)id[0], "wake", "channel send");
    assert_on((long long)id[1], "park", "channel recv");
    assert_on((long long)id[1], "wake", "channel recv");
    assert_on((long long)id[2], "park", "sleep");
    assert_on((long long)id[2], "wake", "sleep");
    assert_on((long long)id[3], "park", "fd read");
    assert_on((long long)id[3], "wake", "fd read");
    ck_assert_uint_eq(count((long long)id[2], "i", "park"), 1);
    ck_assert_uint_eq(count((long long)id[3], "i", "park"), 1);
    for (size_t i = 0; i < n_evs; i++)
        if ((uint64_t)evs[i].tid == id[3] && strcmp(evs[i].name, "park") == 0)
            ck_assert_int_eq(evs[i].fd, pipe_fds[0]);
    /* Every coroutine's track and the loop's are named. */
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(count((long long)id[i], "M", "thread_name"), 1);
    ck_assert_uint_eq(count(0, "M", "thread_name"), 1);
    /* The loop: the sleeper's deadline fired, and it polled for the pipe. */
    ck_assert_uint_ge(count(0, "i", "timer fired"), 1);
    ck_assert_uint_ge(count(0, "X", "poll"), 1);
}

START_TEST(trace_from_code)
{
    char path[256];
    temp_path(path, sizeof path);
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(coco_trace_start(s, path), COCO_OK);
    uint64_t id[4];
    run_program(s, id);
    coco_stats_t st = { .size = sizeof st };
    ck_assert_int_eq(coco_sched_stats(s, &st), COCO_OK);
    ck_assert_int_eq(coco_trace_stop(s), COCO_OK);
    load(path);
    check_program_trace(id, st.switches);
    /* Stopped: nothing more is written. */
    coco_coro_t *c = coco_create(s, coco_test_noop, NULL, 0);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    size_t before = n_evs;
    load(path);
    ck_assert_uint_eq(n_evs, before);
    coco_sched_destroy(s);
    unlink(path);
}
END_TEST

START_TEST(trace_from_environment)
{
    char path[256], second[300];
    temp_path(path, sizeof path);
    snprintf(second, sizeof second, "%s.1", path);
    ck_assert_int_eq(setenv("COCO_TRACE", path, 1), 0);
    coco_sched_t *s = coco_sched_create();
    coco_sched_t *s2 = coco_sched_create();
    ck_assert_int_eq(unsetenv("COCO_TRACE"), 0);
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(s2);
    uint64_t id[4];
    run_program(s, id);
    coco_stats_t st = { .size = sizeof st };
    ck_assert_int_eq(coco_sched_stats(s, &st), COCO_OK);
    /* Destroying the scheduler ends the file. */
    coco_sched_destroy(s);
    load(path);
    check_program_trace(id, st.switches);
    /* The second scheduler writes to a file of its own. */
    coco_coro_t *c = coco_create(s2, coco_test_noop, NULL, 0);
    ck_assert_ptr_nonnull(c);
    uint64_t cid = coco_get_id(c);
    ck_assert_int_eq(coco_sched_run(s2), COCO_OK);
    coco_sched_destroy(s2);
    load(second);
    ck_assert_uint_eq(count((long long)cid, "X", "run"), 1);
    unlink(path);
    unlink(second);

    /* "%p" stands for the process id (and this is the third scheduler). */
    const char *dir = getenv("TMPDIR");
    char pattern[256], expect[300];
    snprintf(pattern, sizeof pattern, "%s/coco-trace-pid-%%p.json", dir != NULL ? dir : "/tmp");
    snprintf(expect, sizeof expect, "%s/coco-trace-pid-%ld.json.2",
             dir != NULL ? dir : "/tmp", (long)getpid());
    ck_assert_int_eq(setenv("COCO_TRACE", pattern, 1), 0);
    coco_sched_t *s3 = coco_sched_create();
    ck_assert_int_eq(unsetenv("COCO_TRACE"), 0);
    ck_assert_ptr_nonnull(s3);
    c = coco_create(s3, coco_test_noop, NULL, 0);
    ck_assert_ptr_nonnull(c);
    cid = coco_get_id(c);
    ck_assert_int_eq(coco_sched_run(s3), COCO_OK);
    coco_sched_destroy(s3);
    load(expect);
    ck_assert_uint_eq(count((long long)cid, "X", "run"), 1);
    unlink(expect);
}
END_TEST

/* Started and stopped by a coroutine: its span opens at the start and
 * closes at the stop. */
static char inner_path[256];
static void tracing_coroutine(void *arg)
{
    coco_sched_t *s = arg;
    ck_assert_int_eq(coco_trace_start(s, inner_path), COCO_OK);
    coco_yield();
    coco_yield();
    ck_assert_int_eq(coco_trace_stop(s), COCO_OK);
    coco_yield();
}

static void yield_twice(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        coco_yield();
}

START_TEST(trace_from_a_coroutine)
{
    temp_path(inner_path, sizeof inner_path);
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    coco_coro_t *a = coco_create(s, tracing_coroutine, s, 0);
    coco_coro_t *b = coco_create(s, yield_twice, NULL, 0);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    long long ia = (long long)coco_get_id(a), ib = (long long)coco_get_id(b);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    load(inner_path);
    assert_monotonic();
    /* a: from the start to its first yield, between the yields, then up
     * to the stop; b ran twice in between. */
    ck_assert_uint_eq(count(ia, "X", "run"), 3);
    ck_assert_uint_eq(count(ia, "i", "yield"), 2);
    ck_assert_uint_eq(count(ib, "X", "run"), 2);
    ck_assert_uint_eq(count(ib, "i", "yield"), 2);
    coco_sched_destroy(s);
    unlink(inner_path);
}
END_TEST

/* A child that inherits a trace through fork() and ends it writes
 * nothing: the file stays the parent's, one valid document. */
START_TEST(trace_survives_fork)
{
    char path[256];
    temp_path(path, sizeof path);
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(coco_trace_start(s, path), COCO_OK);
    coco_coro_t *a = coco_create(s, yield_twice, NULL, 0);
    ck_assert_ptr_nonnull(a);
    long long ia = (long long)coco_get_id(a);
    ck_assert_int_eq(coco_sched_run_once(s), COCO_OK);  /* a: one span */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        coco_sched_destroy(s);  /* stops the inherited trace */
        exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(coco_trace_stop(s), COCO_OK);
    load(path);
    /* a ran up to its first yield under run_once, then to its end: alone
     * in the queue, its other yields do not switch. */
    ck_assert_uint_eq(count(ia, "X", "run"), 2);
    ck_assert_uint_eq(count(ia, "M", "thread_name"), 1);
    coco_sched_destroy(s);
    unlink(path);
}
END_TEST

START_TEST(trace_bad_arguments)
{
    char path[256];
    temp_path(path, sizeof path);
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    errno = 0;
    ck_assert_int_eq(coco_trace_start(NULL, path), COCO_ERROR_INVALID);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coco_trace_start(s, NULL), COCO_ERROR_INVALID);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coco_trace_start(s, ""), COCO_ERROR_INVALID);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coco_trace_stop(s), COCO_ERROR_INVALID);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coco_trace_stop(NULL), COCO_ERROR_INVALID);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coco_trace_start(s, "/nonexistent-coco-dir/trace.json"), COCO_ERROR);
    ck_assert_int_eq(errno, ENOENT);
    /* One trace at a time. */
    ck_assert_int_eq(coco_trace_start(s, path), COCO_OK);
    errno = 0;
    ck_assert_int_eq(coco_trace_start(s, path), COCO_ERROR_INVALID);
    ck_assert_int_eq(errno, EBUSY);
    ck_assert_int_eq(coco_trace_stop(s), COCO_OK);
    /* An empty trace is still a valid document. */
    load(path);
    ck_assert_uint_eq(n_evs, 1);   /* the loop's track name */
    coco_sched_destroy(s);
    unlink(path);
}
END_TEST

#else /* !COCO_TRACE_HOOKS */

START_TEST(trace_not_built)
{
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    errno = 0;
    ck_assert_int_eq(coco_trace_start(s, "/tmp/coco-never-written.json"), COCO_ERROR);
    ck_assert_int_eq(errno, ENOTSUP);
    ck_assert_int_eq(coco_trace_stop(s), COCO_ERROR_INVALID);
    uint64_t id[4];
    run_program(s, id);
    coco_sched_destroy(s);
}
END_TEST

#endif

static Suite *trace_suite(void)
{
    Suite *su = suite_create("trace");
    TCase *tc = tcase_create("trace");
    tcase_set_timeout(tc, 30);
#if COCO_TRACE_HOOKS
    tcase_add_test(tc, trace_from_code);
    tcase_add_test(tc, trace_from_environment);
    tcase_add_test(tc, trace_from_a_coroutine);
    tcase_add_test(tc, trace_survives_fork);
    tcase_add_test(tc, trace_bad_arguments);
#else
    tcase_add_test(tc, trace_not_built);
#endif
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    return coco_test_run(trace_suite());
}
