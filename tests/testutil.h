/* Helpers shared by the Check suites. */
#ifndef COCO_TESTUTIL_H
#define COCO_TESTUTIL_H

#include <check.h>
#include <stdlib.h>

/* Which sanitizer instruments the test (gcc says so with __SANITIZE_*__,
 * clang with __has_feature): some cases measure or crash differently
 * under them. */
#if defined(__SANITIZE_ADDRESS__)
#  define COCO_TEST_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#  define COCO_TEST_TSAN 1
#endif
#if defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    undef COCO_TEST_ASAN
#    define COCO_TEST_ASAN 1
#  endif
#  if __has_feature(thread_sanitizer)
#    undef COCO_TEST_TSAN
#    define COCO_TEST_TSAN 1
#  endif
#endif
#ifndef COCO_TEST_ASAN
#  define COCO_TEST_ASAN 0
#endif
#ifndef COCO_TEST_TSAN
#  define COCO_TEST_TSAN 0
#endif
#define COCO_TEST_SANITIZED (COCO_TEST_ASAN || COCO_TEST_TSAN)

/* True when this build runs coroutines on shared stacks: not the ucontext
 * switch, not Windows, not under AddressSanitizer (coco_create_attr()
 * refuses them there with ENOTSUP).  Needs coco.h included first. */
static inline void coco_test_noop(void *arg) { (void)arg; }
static inline int coco_test_shared_stacks(void)
{
    coco_sched_t *s = coco_sched_create();
    if (s == NULL)
        return 0;
    coco_attr_t attr;
    coco_attr_init(&attr);
    attr.flags = COCO_ATTR_SHARED_STACK;
    coco_coro_t *c = coco_create_attr(s, coco_test_noop, NULL, &attr);
    if (c != NULL)
        coco_destroy(c);
    coco_sched_destroy(s);
    return c != NULL;
}

/* Runs one suite; the exit status is what automake's TAP driver expects. */
static inline int coco_test_run(Suite *suite)
{
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
