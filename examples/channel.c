#include "coco.h"
#include <stdio.h>
void producer(void *arg) {
coco_channel_t *ch = (coco_channel_t*)arg;
for (int i = 0; i < 10; i++) {
coco_channel_send(ch, (void*)(intptr_t)i);
printf("Sent: %d\n", i);
}
coco_channel_close(ch);
}
void consumer(void *arg) {
coco_channel_t *ch = (coco_channel_t*)arg;
void *val;
while (coco_channel_recv(ch, &val) == COCO_OK) {
printf("Received: %ld\n", (long)val);
}
}
int main(void) {
coco_sched_t *sched = coco_sched_create();
coco_channel_t *ch = coco_channel_create(5); // Buffer size 5
coco_create(sched, producer, ch, 0);
coco_create(sched, consumer, ch, 0);
coco_sched_run(sched);
coco_channel_destroy(ch);
coco_sched_destroy(sched);
return 0;
}
