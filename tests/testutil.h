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
