/*
 * channel.h - the channel structure, shared by channel.c and select.c.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_SYNC_CHANNEL_H
#define COCO_SYNC_CHANNEL_H

#include "sync/wait.h"

struct coco_channel {
    const coco__thr_t *thr;  /* the thread that made it (lib/core/mt.h) */
    size_t cap;              /* ring slots; 0 = unbuffered */
    size_t len;              /* values in the ring */
    size_t head;             /* slot of the oldest value */
    coco__waitq_t sendq;     /* parked senders, value in their record */
    coco__waitq_t recvq;     /* parked receivers */
    /* Values given back by receivers destroyed before they took them,
     * oldest first: they come before the ring's. */
    struct coco__chan_back *back;
    size_t nback;
    bool closed;
    uint32_t seed;           /* select's random start among ready cases */
    void *ring[];
};

/* Send and receive without waiting: COCO_OK, COCO_ERROR_CHANNEL_CLOSED,
 * or COCO_ERROR_WOULDBLOCK when the call would have to wait. */
int coco__chan_send_now(coco_channel_t *ch, void *value);
int coco__chan_recv_now(coco_channel_t *ch, void **value);

#endif /* COCO_SYNC_CHANNEL_H */
