/* Core: scheduler and coroutine lifecycle. */
#include "coco.h"
#include "testutil.h"

static int counter;
static void bump(void *arg) { (void)arg; counter++; coco_yield(); counter++; }

START_TEST(test_run_simple)
{
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    counter = 0;
    ck_assert_ptr_nonnull(coco_create(s, bump, NULL, 0));
    ck_assert_ptr_nonnull(coco_create(s, bump, NULL, 0));
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(counter, 4);
    coco_sched_destroy(s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("core");
    TCase *tc = tcase_create("lifecycle");
    tcase_add_test(tc, test_run_simple);
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
