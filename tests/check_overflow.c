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
    suite_add_tcase(su, tc);

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
