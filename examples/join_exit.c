/* The join/exit example of the Coco README, unchanged. */
#include "coco.h"
#include <stdio.h>

void worker(void *arg) {
    int input = *(int*)arg;
    int *result = malloc(sizeof(int));
    *result = input * 2;
    coco_exit(coco_self(), result);
}

void main_coro(void *arg) {
    int value = 21;
    coco_coro_t *worker_coro = coco_create(coco_self()->sched,
                                           worker, &value, 0);
    void *result = coco_join(worker_coro);  // Wait for completion
    printf("Result: %d\n", *(int*)result);
    free(result);
    coco_destroy(worker_coro);
}

int main(void) {
    coco_sched_t *sched = coco_sched_create();
    coco_create(sched, main_coro, NULL, 0);
    coco_sched_run(sched);
    coco_sched_destroy(sched);
    return 0;
}
