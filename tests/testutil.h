/* Helpers shared by the Check suites. */
#ifndef COCO_TESTUTIL_H
#define COCO_TESTUTIL_H

#include <check.h>
#include <stdlib.h>

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
