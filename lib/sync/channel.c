/*
 * channel.c - Go-style channels: a ring of void pointers plus FIFO queues
 * of parked senders and receivers.
 *
 * A value goes straight from a sender to a parked receiver's record (and
 * from a parked sender's record to a receiver) without passing through
 * the ring; the ring only holds values nobody is waiting for yet.  So a
 * receiver never waits while the ring holds values, and a sender never
 * waits while there is room in it.  The hand-off allocates nothing and
 * makes no system call: at most one coroutine becomes runnable.
 *
 * SPDX-License-Identifier: MIT
 */
#include "sync/channel.h"

#include <errno.h>
#include <stdlib.h>

/* A value given back to the channel. */
struct coco__chan_back {
    struct coco__chan_back *next;
    void *value;
};

static void recv_give_back(coco__waitq_t *q, coco__waiter_t *w);

/* The largest capacity whose ring size still fits a size_t. */
#define CHANNEL_MAX_CAP ((SIZE_MAX - sizeof(coco_channel_t)) / sizeof(void *))

coco_channel_t *coco_channel_create(size_t capacity)
{
    if (capacity > CHANNEL_MAX_CAP) {
        errno = EINVAL;
        return NULL;
    }
    coco_channel_t *ch = malloc(sizeof *ch + capacity * sizeof(void *));
    if (ch == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    ch->thr = coco__thr();
    ch->cap = capacity;
    ch->len = 0;
    ch->head = 0;
    ch->sendq.head = ch->sendq.tail = ch->sendq.handed = NULL;
    ch->sendq.give_back = NULL; /* nothing is handed to a sender */
    ch->recvq.head = ch->recvq.tail = ch->recvq.handed = NULL;
    ch->recvq.give_back = recv_give_back;
    COCO__WAITQ_OWNER(ch, coco_channel_t, sendq, COCO__WQ_SEND);
    COCO__WAITQ_OWNER(ch, coco_channel_t, recvq, COCO__WQ_RECV);
    ch->back = NULL;
    ch->nback = 0;
    ch->closed = false;
    /* Any odd start will do: the sequence only spreads select's choices. */
    ch->seed = (uint32_t)((uintptr_t)ch >> 4) | 1u;
    return ch;
}

static void chan_close(coco_channel_t *ch)
{
    if (ch->closed)
        return;
    ch->closed = true;
    /* A receiver only waits on an empty ring, so none of them can be owed
     * a buffered value: all of them see the close. */
    coco__waitq_fire_all(&ch->recvq, COCO_ERROR_CHANNEL_CLOSED);
    coco__waitq_fire_all(&ch->sendq, COCO_ERROR_CHANNEL_CLOSED);
}

void coco_channel_close(coco_channel_t *ch)
{
    if (ch == NULL)
        return;
    coco__sect_enter_ref(&ch->thr);
    chan_close(ch);
    coco__sect_leave();
}

void coco_channel_destroy(coco_channel_t *ch)
{
    if (ch == NULL)
        return;
    /* Parked coroutines leave the queues before the memory goes; they
     * resume with COCO_ERROR_CHANNEL_CLOSED and never look at ch again. */
    coco__sect_enter_ref(&ch->thr);
    chan_close(ch);
    coco__waitq_forget_handed(&ch->recvq);
    coco__sect_leave();
    while (ch->back != NULL) {
        struct coco__chan_back *b = ch->back;
        ch->back = b->next;
        free(b);
    }
    free(ch);
}

/* ------------------------------------------------------------ hand-off */

static inline void ring_put(coco_channel_t *ch, void *value)
{
    size_t tail = ch->head + ch->len;
    if (tail >= ch->cap)
        tail -= ch->cap;
    ch->ring[tail] = value;
    ch->len++;
}

/* Takes the oldest ring value.  A sender parked on the full ring moves
 * its value into the freed slot, which keeps every sender's order. */
static inline void *ring_take(coco_channel_t *ch)
{
    void *value = ch->ring[ch->head];
    if (ch->sendq.head != NULL) {
        ch->ring[ch->head] = ch->sendq.head->value;
        coco__waitq_fire_head(&ch->sendq, COCO_OK);
    } else {
        ch->len--;
    }
    if (++ch->head == ch->cap)
        ch->head = 0;
    return value;
}

/* The receiver handed w's value is destroyed before it took it.  The
 * receivers handed values after it (newer on the handed list) each take
 * the value handed just before theirs, so that values are still received
 * in the order they were sent, and the newest one is left over.  It goes
 * to the next parked receiver, else back into the channel ahead of every
 * value there: a receiver is only handed a value while the channel holds
 * none, and none is handed while given-back values wait, so whatever the
 * channel holds was sent later.  The ring's head takes it when there is
 * room and nothing given back waits before it; else a record does, and
 * only if no memory is left for one is the value lost. */
static void recv_give_back(coco__waitq_t *q, coco__waiter_t *w)
{
    coco_channel_t *ch = COCO__CONTAINER_OF(q, coco_channel_t, recvq);
    void *value = w->value;
    for (coco__waiter_t *r = w->prev; r != NULL; r = r->prev) {
        void *v = r->value;
        r->value = value;
        value = v;
    }
    if (ch->recvq.head != NULL) {
        ch->recvq.head->value = value;
        coco__waitq_hand_head(&ch->recvq);
        return;
    }
    if (ch->back == NULL && ch->len < ch->cap) {
        ch->head = ch->head == 0 ? ch->cap - 1 : ch->head - 1;
        ch->ring[ch->head] = value;
        ch->len++;
        return;
    }
    struct coco__chan_back *b = malloc(sizeof *b);
    if (b != NULL) {
        b->next = ch->back;
        b->value = value;
        ch->back = b;
        ch->nback++;
    }
}

/* Takes the oldest value given back. */
static void *back_take(coco_channel_t *ch)
{
    struct coco__chan_back *b = ch->back;
    void *value = b->value;
    ch->back = b->next;
    ch->nback--;
    free(b);
    return value;
}

/* Sends without waiting: COCO_OK, COCO_ERROR_CHANNEL_CLOSED, or
 * COCO_ERROR_WOULDBLOCK when the caller would have to wait. */
static inline int send_now(coco_channel_t *ch, void *value)
{
    /* A closed channel has no parked receivers. */
    if (ch->recvq.head != NULL) {
        ch->recvq.head->value = value;
        coco__waitq_hand_head(&ch->recvq);
        return COCO_OK;
    }
    if (coco__unlikely(ch->closed))
        return COCO_ERROR_CHANNEL_CLOSED;
    if (ch->len < ch->cap) {
        ring_put(ch, value);
        return COCO_OK;
    }
    return COCO_ERROR_WOULDBLOCK;
}

/* Receives without waiting, like send_now(). */
static inline int recv_now(coco_channel_t *ch, void **value)
{
    if (coco__unlikely(ch->back != NULL)) {
        *value = back_take(ch);
        return COCO_OK;
    }
    if (ch->len > 0) {
        *value = ring_take(ch);
        return COCO_OK;
    }
    if (ch->sendq.head != NULL) {
        *value = ch->sendq.head->value;
        coco__waitq_fire_head(&ch->sendq, COCO_OK);
        return COCO_OK;
    }
    if (ch->closed) {
        *value = NULL;
        return COCO_ERROR_CHANNEL_CLOSED;
    }
    return COCO_ERROR_WOULDBLOCK;
}

int coco__chan_send_now(coco_channel_t *ch, void *value)
{
    return send_now(ch, value);
}

int coco__chan_recv_now(coco_channel_t *ch, void **value)
{
    return recv_now(ch, value);
}

/* ---------------------------------------------------------------- send */

static int send_wait(coco_channel_t *ch, void *value, uint64_t timeout_ms)
{
    coco_co_t *co = coco__current();
    if (co == NULL || timeout_ms == 0) {
        coco__sect_leave();
        return co == NULL ? COCO_ERROR_WOULDBLOCK : COCO_ERROR_TIMEOUT;
    }
    return coco__wait_one(&ch->sendq, co, value, NULL, timeout_ms);
}

static inline int chan_send(coco_channel_t *ch, void *value, uint64_t timeout_ms)
{
    if (coco__unlikely(ch == NULL))
        return COCO_ERROR_INVALID;
    coco__sstack_check_ptr(value, "coco_channel_send");
    coco__sect_enter_ref(&ch->thr);
    int rc = send_now(ch, value);
    if (rc != COCO_ERROR_WOULDBLOCK) {
        coco__sect_leave();
        return rc;
    }
    return send_wait(ch, value, timeout_ms);
}

int coco_channel_send(coco_channel_t *ch, void *value)
{
    return chan_send(ch, value, COCO_INFINITE);
}

int coco_channel_send_timeout(coco_channel_t *ch, void *value, uint64_t timeout_ms)
{
    return chan_send(ch, value, timeout_ms);
}

int coco_channel_try_send(coco_channel_t *ch, void *value)
{
    if (ch == NULL)
        return COCO_ERROR_INVALID;
    coco__sstack_check_ptr(value, "coco_channel_try_send");
    coco__sect_enter_ref(&ch->thr);
    int rc = send_now(ch, value);
    coco__sect_leave();
    return rc;
}

/* ---------------------------------------------------------------- recv */

static int recv_wait(coco_channel_t *ch, void **value, uint64_t timeout_ms)
{
    coco_co_t *co = coco__current();
    if (co == NULL || timeout_ms == 0) {
        coco__sect_leave();
        return co == NULL ? COCO_ERROR_WOULDBLOCK : COCO_ERROR_TIMEOUT;
    }
    return coco__wait_one(&ch->recvq, co, NULL, value, timeout_ms);
}

static inline int chan_recv(coco_channel_t *ch, void **value, uint64_t timeout_ms)
{
    if (coco__unlikely(ch == NULL || value == NULL))
        return COCO_ERROR_INVALID;
    coco__sect_enter_ref(&ch->thr);
    int rc = recv_now(ch, value);
    if (rc != COCO_ERROR_WOULDBLOCK) {
        coco__sect_leave();
        return rc;
    }
    return recv_wait(ch, value, timeout_ms);
}

int coco_channel_recv(coco_channel_t *ch, void **value)
{
    return chan_recv(ch, value, COCO_INFINITE);
}

int coco_channel_recv_timeout(coco_channel_t *ch, void **value, uint64_t timeout_ms)
{
    return chan_recv(ch, value, timeout_ms);
}

int coco_channel_try_recv(coco_channel_t *ch, void **value)
{
    if (ch == NULL || value == NULL)
        return COCO_ERROR_INVALID;
    coco__sect_enter_ref(&ch->thr);
    int rc = recv_now(ch, value);
    coco__sect_leave();
    return rc;
}

/* -------------------------------------------------------------- queries */

size_t coco_channel_len(const coco_channel_t *ch)
{
    if (ch == NULL)
        return 0;
    coco__sect_enter_ref(&ch->thr);
    size_t n = ch->len + ch->nback;
    coco__sect_leave();
    return n;
}

size_t coco_channel_cap(const coco_channel_t *ch)
{
    return ch != NULL ? ch->cap : 0;
}
