/*
 * check_overflow.c - stack overflow protection: a coroutine that runs off
 * its stack is stopped and reported while the others run to the end, and
 * faults that are not overflows still reach the handler installed before.
 *
 * Each case runs in a child process of its own (fork), so that a case
 * that does crash cannot take the others with it.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* Under AddressSanitizer or ThreadSanitizer a fault that is not an
 * overflow goes on to the sanitizer's own handler (the one installed before
 * the library's), which reports it and exits rather than dying by the
 * signal.  Its exit code is made distinctive here so that the test can
 * tell that handler ran.  (The runtimes let programs install SIGSEGV
 * handlers of their own: allow_user_segv_handler is on by default.) */
#if COCO_TEST_SANITIZED
#  define SANITIZER_EXIT 86
const char *__asan_default_options(void);
const char *__tsan_default_options(void);
const char *__asan_default_options(void) { return "exitcode=86"; }
const char *__tsan_default_options(void) { return "exitcode=86"; }
#endif

/* Recurses until the stack runs out (the limit is never reached, but the
 * compiler cannot know); the work after the call keeps it from turning the
 * recursion into a loop. */
static volatile int depth_limit = 1 << 30;
static int __attribute__((noinline)) dive(int depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    if (depth >= depth_limit)
        return frame[0];
    return dive(depth + 1) + frame[0];
}

static void overflows(void *arg)
{
    (void)arg;
    dive(0);
}

static int finished;
static void finishes(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        coco_yield();
    finished++;
}

static int cb_calls;
static int cb_code;
static char cb_msg[160];
static coco_coro_t *cb_coro;
static void on_error(coco_coro_t *coro, int code, const char *msg)
{
    cb_calls++;
    cb_code = code;
    cb_coro = coro;
    snprintf(cb_msg, sizeof cb_msg, "%s", msg);
}

START_TEST(test_overflow_reported_others_finish)
{
    coco_sched_t *s = coco_sched_create();
    finished = cb_calls = 0;
    coco_create(s, finishes, NULL, 0);
    coco_coro_t *bad = coco_create(s, overflows, NULL, 0);
    coco_set_error_cb(bad, on_error);
    coco_create(s, finishes, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(finished, 2);
    ck_assert_int_eq(cb_calls, 1);
    ck_assert_int_eq(cb_code, COCO_ERROR_STACK_OVERFLOW);
    ck_assert_ptr_eq(cb_coro, bad);
    ck_assert_int_eq(coco_get_state(bad), COCO_STATE_OVERFLOW);
    char id[32];
    snprintf(id, sizeof id, "coroutine %" PRIu64 " ", coco_get_id(bad));
    ck_assert_msg(strstr(cb_msg, id) != NULL, "message '%s' lacks '%s'", cb_msg, id);
    /* The size asked for (64 KiB), not what is left of it once the pool
     * has kept a few bytes; those are told apart. */
    ck_assert_msg(strstr(cb_msg, "overflowed its 65536-byte stack") != NULL,
                  "message '%s' does not give the size asked for", cb_msg);
    ck_assert_msg(strstr(cb_msg, "65520") == NULL || strstr(cb_msg, "bytes usable)") != NULL,
                  "message '%s'", cb_msg);
    ck_assert_uint_eq(coco_sched_count(s), 0);
    coco_destroy(bad);
    coco_sched_destroy(s);
}
END_TEST

/* Callbacks are kept aside from the descriptors: with hundreds set,
 * removed, set again and dropped with their coroutines in a mixed order,
 * each overflow must still reach the callback of its own coroutine. */
enum { MANY = 500 };
static coco_coro_t *many[MANY];
static int many_by_a[MANY], many_by_b[MANY];
static int many_index(coco_coro_t *coro)
{
    for (int i = 0; i < MANY; i++)
        if (many[i] == coro)
            return i;
    return -1;
}
static void on_error_a(coco_coro_t *coro, int code, const char *msg)
{
    (void)code; (void)msg;
    int i = many_index(coro);
    if (i >= 0)
        many_by_a[i]++;
}
static void on_error_b(coco_coro_t *coro, int code, const char *msg)
{
    (void)code; (void)msg;
    int i = many_index(coro);
    if (i >= 0)
        many_by_b[i]++;
}

START_TEST(test_overflow_callbacks_of_many)
{
    coco_sched_t *s = coco_sched_create();
    memset(many_by_a, 0, sizeof many_by_a);
    memset(many_by_b, 0, sizeof many_by_b);
    for (int i = 0; i < MANY; i++) {
        many[i] = coco_create(s, overflows, NULL, 16 * 1024);
        ck_assert_ptr_nonnull(many[i]);
        coco_set_error_cb(many[i], i % 2 ? on_error_a : on_error_b);
    }
    for (int i = 0; i < MANY; i += 3) /* removed, then the other one */
        coco_set_error_cb(many[i], NULL);
    for (int i = 1; i < MANY; i += 5) {
        coco_destroy(many[i]);
        many[i] = NULL;
    }
    for (int i = 0; i < MANY; i += 3)
        coco_set_error_cb(many[i], i % 2 ? on_error_b : on_error_a);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    for (int i = 0; i < MANY; i++) {
        bool a = (i % 2 == 1) != (i % 3 == 0);
        int want_a = many[i] != NULL && a, want_b = many[i] != NULL && !a;
        ck_assert_msg(many_by_a[i] == want_a && many_by_b[i] == want_b,
                      "coroutine %d: callback a %d times, b %d times", i,
                      many_by_a[i], many_by_b[i]);
    }
    for (int i = 0; i < MANY; i++)
        coco_destroy(many[i]);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_overflow_twice_and_small_stack)
{
    /* The second overflow is caught too: the first left nothing blocked. */
    coco_sched_t *s = coco_sched_create();
    cb_calls = 0;
    finished = 0;
    for (int i = 0; i < 2; i++) {
        coco_coro_t *bad = coco_create(s, overflows, NULL, i == 0 ? 0 : 16 * 1024);
        coco_set_error_cb(bad, on_error);
        ck_assert_int_eq(coco_sched_run(s), COCO_OK);
        ck_assert_int_eq(cb_calls, i + 1);
        ck_assert_int_eq(coco_get_state(bad), COCO_STATE_OVERFLOW);
        ck_assert_msg(strstr(cb_msg, i == 0 ? "its 65536-byte stack" : "its 16384-byte stack"),
                      "message '%s'", cb_msg);
        coco_destroy(bad);
    }
    /* The scheduler still works, its stacks reused after the overflows. */
    coco_create(s, finishes, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(finished, 1);
    coco_sched_destroy(s);
}
END_TEST

static coco_coro_t *bad_target;
static void *join_result;
static int joined;
static void joins_bad(void *arg)
{
    (void)arg;
    join_result = coco_join(bad_target);
    joined = 1;
}

START_TEST(test_overflow_wakes_joiner)
{
    coco_sched_t *s = coco_sched_create();
    join_result = &joined;
    joined = 0;
    coco_create(s, joins_bad, NULL, 0);
    bad_target = coco_create(s, overflows, NULL, 0);
    coco_set_error_cb(bad_target, on_error);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(joined, 1);
    ck_assert_ptr_null(join_result);
    coco_sched_destroy(s);
}
END_TEST

static void destroy_in_cb(coco_coro_t *coro, int code, const char *msg)
{
    (void)code;
    (void)msg;
    cb_calls++;
    coco_destroy(coro);
}

START_TEST(test_overflow_detached_and_destroyed_in_callback)
{
    coco_sched_t *s = coco_sched_create();
    cb_calls = 0;
    coco_coro_t *a = coco_create(s, overflows, NULL, 0);
    coco_set_error_cb(a, on_error);
    coco_detach(a);
    coco_coro_t *b = coco_create(s, overflows, NULL, 0);
    coco_set_error_cb(b, destroy_in_cb);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(cb_calls, 2);
    ck_assert_uint_eq(coco_get_id(a), 0); /* both descriptors are gone */
    ck_assert_uint_eq(coco_get_id(b), 0);
    coco_sched_destroy(s);
}
END_TEST

/* ------------------------------------------------------------------------
 * An overflow that lands inside a library call.  The coroutine "bad"
 * first descends quickly to near the bottom of its stack, then recurses
 * with a frame of a given size and calls a parking function at every
 * level, so that over the sweep of frame sizes the guard page is hit at
 * every depth of that call: in the call itself, in the library's frames,
 * and in the context switch's own pushes.  A driver coroutine lets each
 * of those calls complete; a worker computes something beside them.
 */

enum park_op {
    OP_YIELD, OP_RECV, OP_SEND, OP_MUTEX, OP_SEM, OP_SLEEP, OP_SELECT,
    OP_READ, OP_JOIN, OP_COUNT
};
static const char *const op_names[OP_COUNT] = {
    "yield", "channel recv", "channel send", "mutex lock", "sem wait",
    "sleep", "select", "read", "join"
};

#define SWEEP_STACK   ((size_t)16 * 1024)
#define SWEEP_MIN     16
#define SWEEP_STEP    16
#define SWEEP_SIZES   25 /* 16 .. 400 bytes */
#define WORKER_STEPS  3000

static struct {
    enum park_op op;
    size_t frame;
    char *top;                   /* an address near the top of bad's stack */
    coco_channel_t *ch, *ch2;
    coco_mutex_t *mu;
    coco_sem_t *sem;
    int pipe_fd[2];
    int levels;                  /* levels that called the parking function */
    int park_errors;             /* parking calls that failed */
    int cb_calls, cb_code;
    bool bad_done;               /* set by the error callback */
    long worker_sum;
    bool worker_done;
} sw;

static void sweep_on_error(coco_coro_t *coro, int code, const char *msg)
{
    (void)coro; (void)msg;
    sw.cb_calls++;
    sw.cb_code = code;
    sw.bad_done = true;
}

static void child_returns(void *arg)
{
    (void)arg;
    coco_yield();
}

/* One call of the parking function under test; it must return.  A
 * failure is counted rather than asserted: Check's assertions take a
 * lock, which an overflow in the middle of one would leave held. */
static void park_once(void)
{
    switch (sw.op) {
    case OP_YIELD:
        coco_yield();
        break;
    case OP_RECV: {
        void *v = NULL;
        if (coco_channel_recv(sw.ch, &v) != COCO_OK)
            sw.park_errors++;
        break;
    }
    case OP_SEND:
        if (coco_channel_send(sw.ch, &sw) != COCO_OK)
            sw.park_errors++;
        break;
    case OP_MUTEX:
        if (coco_mutex_lock(sw.mu) != COCO_OK)
            sw.park_errors++;
        coco_mutex_unlock(sw.mu);
        break;
    case OP_SEM:
        if (coco_sem_wait(sw.sem) != COCO_OK)
            sw.park_errors++;
        break;
    case OP_SLEEP:
        if (coco_sleep(1) != COCO_OK)
            sw.park_errors++;
        break;
    case OP_SELECT: {
        coco_select_case_t c[2] = {
            { .ch = sw.ch, .op = COCO_SELECT_RECV },
            { .ch = sw.ch2, .op = COCO_SELECT_RECV },
        };
        if (coco_select(c, 2, COCO_INFINITE) < 0)
            sw.park_errors++;
        break;
    }
    case OP_READ: {
        char b;
        if (coco_read(sw.pipe_fd[0], &b, 1) != 1)
            sw.park_errors++;
        break;
    }
    case OP_JOIN: {
        coco_coro_t *c = coco_create(coco_self()->sched, child_returns, NULL, 0);
        if (c == NULL)
            sw.park_errors++;
        coco_join(c);
        coco_destroy(c);
        break;
    }
    default:
        break;
    }
}

static int __attribute__((noinline)) park_dive(int level)
{
    char frame[sw.frame];
    /* By hand, not memset: a first call through lazy binding would need
     * far more stack than the frame under test. */
    volatile char *f = frame;
    for (size_t i = 0; i < sw.frame; i++)
        f[i] = (char)level;
    sw.levels++;
    park_once();
    if (level >= depth_limit)
        return frame[0];
    return park_dive(level + 1) + frame[sw.frame - 1];
}

/* Descends without parking until about 3 KiB of the stack are left. */
static int __attribute__((noinline)) fast_dive(int level)
{
    volatile char frame[256];
    frame[0] = (char)level;
    if ((size_t)(sw.top - (char *)frame) > SWEEP_STACK - 3 * 1024)
        return park_dive(0) + frame[0];
    return fast_dive(level + 1) + frame[0];
}

static void bad_entry(void *arg)
{
    (void)arg;
    char here;
    sw.top = &here;
    /* Every call park_dive makes, once with room to spare: the first call
     * of a function through the dynamic linker's lazy binding takes
     * kilobytes of stack, which is not what is tested here. */
    park_once();
    fast_dive(0);
}

/* Lets bad's parking calls complete until it has overflowed. */
static void driver_entry(void *arg)
{
    (void)arg;
    bool held = false;
    while (!sw.bad_done) {
        switch (sw.op) {
        case OP_RECV:
            coco_channel_try_send(sw.ch, &sw);
            break;
        case OP_SEND: {
            void *v;
            coco_channel_try_recv(sw.ch, &v);
            break;
        }
        case OP_MUTEX:
            if (held) {
                coco_mutex_unlock(sw.mu);
                held = false;
            } else {
                held = coco_mutex_trylock(sw.mu) == COCO_OK;
            }
            break;
        case OP_SEM:
            if (coco_sem_value(sw.sem) == 0)
                coco_sem_post(sw.sem);
            break;
        case OP_SELECT:
            coco_channel_try_send(sw.levels % 2 ? sw.ch : sw.ch2, &sw);
            break;
        case OP_READ:
            if (write(sw.pipe_fd[1], "x", 1) != 1)
                sw.park_errors++;
            break;
        default:
            break;
        }
        coco_yield();
    }
    if (held)
        coco_mutex_unlock(sw.mu);
}

static void worker_entry(void *arg)
{
    (void)arg;
    for (int i = 1; i <= WORKER_STEPS; i++) {
        sw.worker_sum += i;
        coco_yield();
    }
    sw.worker_done = true;
}

/* Reads what is left in the pipe: coco_read must not find another
 * reader still registered on it. */
static int reread_rc;
static void rereads(void *arg)
{
    (void)arg;
    char b;
    reread_rc = -2;
    if (write(sw.pipe_fd[1], "y", 1) != 1)
        return;
    do
        reread_rc = coco_read(sw.pipe_fd[0], &b, 1);
    while (reread_rc == 1 && b != 'y');
}

START_TEST(test_overflow_inside_parking_call)
{
    memset(&sw, 0, sizeof sw);
    /* The second half of the cases runs bad on a shared stack. */
    bool shared = _i >= OP_COUNT * SWEEP_SIZES;
    int k = _i % (OP_COUNT * SWEEP_SIZES);
    sw.op = (enum park_op)(k / SWEEP_SIZES);
    sw.frame = SWEEP_MIN + (size_t)(k % SWEEP_SIZES) * SWEEP_STEP;
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    sw.ch = coco_channel_create(0);
    sw.ch2 = coco_channel_create(0);
    sw.mu = coco_mutex_create();
    sw.sem = coco_sem_create(0);
    ck_assert_int_eq(pipe(sw.pipe_fd), 0);
    coco_coro_t *worker = coco_create(s, worker_entry, NULL, 0);
    coco_attr_t attr;
    coco_attr_init(&attr);
    attr.stack_size = SWEEP_STACK;
    attr.flags = shared ? COCO_ATTR_SHARED_STACK : 0;
    coco_coro_t *bad = coco_create_attr(s, bad_entry, NULL, &attr);
    if (bad == NULL && shared && errno == ENOTSUP) {
        coco_sched_destroy(s); /* this build cannot move stacks */
        return;
    }
    ck_assert_ptr_nonnull(bad);
    coco_set_error_cb(bad, sweep_on_error);
    coco_coro_t *driver = coco_create(s, driver_entry, NULL, 0);
    ck_assert_ptr_nonnull(worker);
    ck_assert_ptr_nonnull(driver);

    int rc = coco_sched_run(s);
    ck_assert_msg(rc == COCO_OK, "%s, %zu-byte frames%s: run returned %d",
                  op_names[sw.op], sw.frame, shared ? ", shared stack" : "", rc);
    ck_assert_msg(sw.levels > 1, "%s: only %d levels (cb %d, state %d)", op_names[sw.op], sw.levels, sw.cb_calls, coco_get_state(bad));
    ck_assert_int_eq(sw.park_errors, 0);
    ck_assert_int_eq(coco_get_state(bad), COCO_STATE_OVERFLOW);
    ck_assert_int_eq(sw.cb_calls, 1);
    ck_assert_int_eq(sw.cb_code, COCO_ERROR_STACK_OVERFLOW);
    ck_assert(sw.worker_done);
    ck_assert_int_eq(sw.worker_sum, (long)WORKER_STEPS * (WORKER_STEPS + 1) / 2);
    ck_assert_int_eq(coco_get_state(worker), COCO_STATE_DEAD);
    ck_assert_int_eq(coco_get_state(driver), COCO_STATE_DEAD);
    ck_assert_uint_eq(coco_sched_count(s), 0);

    /* Nothing of bad stays queued anywhere. */
    ck_assert_int_eq(coco_channel_try_send(sw.ch, &sw), COCO_ERROR_WOULDBLOCK);
    ck_assert_int_eq(coco_channel_try_send(sw.ch2, &sw), COCO_ERROR_WOULDBLOCK);
    void *v;
    ck_assert_int_eq(coco_channel_try_recv(sw.ch, &v), COCO_ERROR_WOULDBLOCK);
    coco_coro_t *r = coco_create(s, rereads, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(reread_rc, 1);
    coco_destroy(r);

    coco_destroy(bad);
    coco_destroy(worker);
    coco_destroy(driver);
    coco_channel_destroy(sw.ch);
    coco_channel_destroy(sw.ch2);
    coco_mutex_destroy(sw.mu);
    coco_sem_destroy(sw.sem);
    close(sw.pipe_fd[0]);
    close(sw.pipe_fd[1]);
    coco_sched_destroy(s);
}
END_TEST

/* Built with --enable-debug, the library reports a pointer into a
 * shared stack handed to a channel.  The report, like every error
 * callback, comes from the loop, never from inside the coroutine: the
 * callback may destroy it, as coco_set_error_cb(3) shows.  Other builds
 * make no report, and the coroutine runs to its end. */
static coco_channel_t *dbg_ch;
static int dbg_calls, dbg_code, dbg_sent;
static bool dbg_in_coroutine, dbg_sender_done;
static void dbg_on_error(coco_coro_t *coro, int code, const char *msg)
{
    (void)msg;
    dbg_calls++;
    dbg_code = code;
    if (coco_self() != NULL)
        dbg_in_coroutine = true;
    coco_destroy(coro);
}

static void sends_local(void *arg)
{
    (void)arg;
    int local = 42;
    if (coco_channel_send(dbg_ch, &local) == COCO_OK) /* buffered: no wait */
        dbg_sent++;
    coco_yield();
    dbg_sender_done = true;
}

START_TEST(test_shared_stack_pointer_reported_by_loop)
{
    coco_sched_t *s = coco_sched_create();
    dbg_ch = coco_channel_create(4);
    dbg_calls = dbg_sent = 0;
    dbg_in_coroutine = dbg_sender_done = false;
    coco_attr_t a;
    coco_attr_init(&a);
    a.flags = COCO_ATTR_SHARED_STACK;
    coco_coro_t *co = coco_create_attr(s, sends_local, NULL, &a);
    if (co == NULL) { /* this build cannot move stacks */
        ck_assert_int_eq(errno, ENOTSUP);
        coco_sched_destroy(s);
        return;
    }
    coco_set_error_cb(co, dbg_on_error);
    coco_create(s, finishes, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(dbg_sent, 1); /* the send itself went through */
    ck_assert(!dbg_in_coroutine);
    if (dbg_calls != 0) {
        ck_assert_int_eq(dbg_calls, 1);
        ck_assert_int_eq(dbg_code, COCO_ERROR_INVALID);
        ck_assert(!dbg_sender_done); /* destroyed at its yield */
    } else {
        ck_assert(dbg_sender_done);
        coco_destroy(co);
    }
    void *v;
    ck_assert_int_eq(coco_channel_try_recv(dbg_ch, &v), COCO_OK);
    coco_channel_destroy(dbg_ch);
    coco_sched_destroy(s);
}
END_TEST

/* An alternate signal stack the application installs after creating a
 * scheduler is its own: destroying the scheduler leaves it in place. */
START_TEST(test_destroy_keeps_application_altstack)
{
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    size_t size = 64 * 1024;
    void *mine = malloc(size);
    ck_assert_ptr_nonnull(mine);
    stack_t ss = { .ss_sp = mine, .ss_size = size, .ss_flags = 0 };
    ck_assert_int_eq(sigaltstack(&ss, NULL), 0);
    coco_sched_destroy(s);
    stack_t cur;
    ck_assert_int_eq(sigaltstack(NULL, &cur), 0);
    ck_assert_msg(!(cur.ss_flags & SS_DISABLE), "the application's stack was disabled");
    ck_assert_ptr_eq(cur.ss_sp, mine);
    ck_assert_uint_eq(cur.ss_size, size);

    /* Still the library's own when the application did nothing: it goes
     * with the last scheduler, and a new one installs another. */
    ss.ss_flags = SS_DISABLE;
    ck_assert_int_eq(sigaltstack(&ss, NULL), 0);
    s = coco_sched_create();
    ck_assert_int_eq(sigaltstack(NULL, &cur), 0);
    ck_assert(!(cur.ss_flags & SS_DISABLE));
    coco_sched_destroy(s);
    ck_assert_int_eq(sigaltstack(NULL, &cur), 0);
    ck_assert(cur.ss_flags & SS_DISABLE);
    free(mine);
}
END_TEST

/* Runs body in a child process; returns its wait status. */
static int in_child(void (*body)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        body();
        _exit(0);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

/* Writes to a page of its own that allows no access: a real crash, not an
 * overflow.  (Not through a null pointer: UBSan would stop that before
 * the fault happens.) */
static void writes_forbidden_page(void *arg)
{
    (void)arg;
    void *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        _exit(3);
    *(volatile int *)p = 1;
}

static void real_crash_in_coroutine(void)
{
    coco_sched_t *s = coco_sched_create();
    coco_create(s, writes_forbidden_page, NULL, 0);
    coco_sched_run(s);
}

START_TEST(test_real_crash_still_crashes)
{
    int status = in_child(real_crash_in_coroutine);
#if COCO_TEST_SANITIZED
    /* The handler installed before the library's is the sanitizer's: it
     * reports the fault and exits with the code set below. */
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == SANITIZER_EXIT,
                  "child status %d: expected the sanitizer's report", status);
#else
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
                  "child status %d: expected death by SIGSEGV", status);
#endif
}
END_TEST

static void app_handler(int sig)
{
    _exit(100 + sig);
}

static void real_crash_with_app_handler(void)
{
    signal(SIGSEGV, app_handler); /* installed before the library's */
    real_crash_in_coroutine();
}

START_TEST(test_previous_handler_chained)
{
    int status = in_child(real_crash_with_app_handler);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 100 + SIGSEGV,
                  "child status %d: the application's handler did not run", status);
}
END_TEST

static void overflow_with_default_report(void)
{
    /* No callback: the report goes to stderr and the process lives on. */
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0)
        dup2(fd, 2);
    coco_sched_t *s = coco_sched_create();
    coco_create(s, overflows, NULL, 0);
    coco_create(s, finishes, NULL, 0);
    int rc = coco_sched_run(s);
    coco_sched_destroy(s);
    _exit(rc == COCO_OK && finished == 1 ? 7 : 1);
}

START_TEST(test_overflow_default_report)
{
    finished = 0;
    int status = in_child(overflow_with_default_report);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 7,
                  "child status %d", status);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("overflow");
    TCase *tc = tcase_create("overflow");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_overflow_reported_others_finish);
    tcase_add_test(tc, test_overflow_twice_and_small_stack);
    tcase_add_test(tc, test_overflow_callbacks_of_many);
    tcase_add_test(tc, test_overflow_wakes_joiner);
    tcase_add_test(tc, test_overflow_detached_and_destroyed_in_callback);
    tcase_add_test(tc, test_overflow_default_report);
    tcase_add_test(tc, test_destroy_keeps_application_altstack);
    tcase_add_test(tc, test_shared_stack_pointer_reported_by_loop);
    suite_add_tcase(su, tc);

    /* Every parking call, overflowed at every depth: one child process
     * per case (Check's fork mode), so one crash fails one case.  Not
     * under ThreadSanitizer: its runtime takes locks inside the calls it
     * intercepts (read, sigprocmask, the pthread calls), and a fault there
     * leaves the handler by a switch with those locks held, so the next
     * intercepted call waits for ever. */
#if !COCO_TEST_TSAN
    tc = tcase_create("inside_calls");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_overflow_inside_parking_call, 0,
                        2 * OP_COUNT * SWEEP_SIZES);
    suite_add_tcase(su, tc);
#else
    (void)test_overflow_inside_parking_call;
#endif

    /* Not under valgrind (make check-valgrind sets the variable): memcheck
     * reports the deliberate invalid write of these crashes as an error
     * and exits with its own code instead of the one expected here. */
    if (getenv("COCO_TEST_UNDER_VALGRIND") == NULL) {
        tc = tcase_create("other_faults");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_real_crash_still_crashes);
        tcase_add_test(tc, test_previous_handler_chained);
        suite_add_tcase(su, tc);
    }
    return coco_test_run(su);
}
