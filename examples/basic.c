/* The quick start of the Coco README, unchanged. */
#include "coco.h"
#include <stdio.h>

void my_coroutine(void *arg) {
    int *data = (int*)arg;
    printf("Coroutine received: %d\n", *data);
    coco_yield();  // Yield execution
    printf("Coroutine resumed\n");
}

int main(void) {
    // 1. Create scheduler
    coco_sched_t *sched = coco_sched_create();

    // 2. Create coroutine
    int value = 42;
    coco_create(sched, my_coroutine, &value, 0);

    // 3. Run scheduler
    coco_sched_run(sched);

    // 4. Cleanup
    coco_sched_destroy(sched);
    return 0;
}
