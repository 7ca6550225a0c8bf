/*
 * pubsub.c - publish-subscribe: every subscriber receives every message
 * published after it subscribed, through a bounded backlog of its own.
 *
 * A message goes straight to a subscriber's parked receiver when there is
 * one (the receiver is handed it, as a channel hands a value), else into
 * the subscriber's ring.  When a ring is full the pub-sub's policy
 * decides: COCO_PUBSUB_BLOCK parks the publisher until every subscriber
 * has room, and the receive that frees the last missing slot delivers the
 * parked publisher's message on its behalf (so a publisher woken with
 * COCO_OK never looks at the pub-sub again, and publishers keep their
 * order); COCO_PUBSUB_DROP_OLDEST drops that subscriber's oldest message
 * and counts it.  nfull counts the full rings, so that the receive path
 * knows in one comparison whether a parked publisher may go on.
 *
 * Every operation runs in a section (lib/core/mt.h) on the thread of the
 * pub-sub, like the channels: subscribers, publishers and receivers may be
 * coroutines of schedulers on different threads.
 *
 * SPDX-License-Identifier: MIT
 */
#include "sync/wait.h"

#include <errno.h>
#include <stdlib.h>

struct coco_sub {
    coco_pubsub_t *ps;
    struct coco_sub *next, *prev; /* the pub-sub's subscribers */
    size_t len;                   /* messages in the ring */
    size_t head;                  /* slot of the oldest one */
    size_t dropped;               /* messages dropped for lack of room */
    coco__waitq_t recvq;          /* parked receivers */
    void *ring[];
};

struct coco_pubsub {
    const coco__thr_t *thr;  /* the thread that made it (lib/core/mt.h) */
    size_t backlog;          /* ring slots of each subscriber */
    int policy;              /* COCO_PUBSUB_* */
    size_t nfull;            /* subscribers whose ring is full */
    coco_sub_t *subs;
    coco__waitq_t pubq;      /* parked publishers, message in their record */
};

/* The largest backlog whose ring size still fits a size_t. */
#define PUBSUB_MAX_BACKLOG ((SIZE_MAX - sizeof(coco_sub_t)) / sizeof(void *))

static void sub_give_back(coco__waitq_t *q, coco__waiter_t *w);

coco_pubsub_t *coco_pubsub_create(size_t backlog, int policy)
{
    if (backlog == 0 || backlog > PUBSUB_MAX_BACKLOG ||
        (policy != COCO_PUBSUB_BLOCK && policy != COCO_PUBSUB_DROP_OLDEST)) {
        errno = EINVAL;
        return NULL;
    }
    coco_pubsub_t *ps = calloc(1, sizeof *ps);
    if (ps == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    ps->thr = coco__thr();
    ps->backlog = backlog;
    ps->policy = policy;
    ps->pubq.give_back = NULL; /* nothing is handed to a publisher */
    return ps;
}

/* ------------------------------------------------------------ delivery */

static inline void ring_put(coco_pubsub_t *ps, coco_sub_t *sub, void *msg)
{
    size_t tail = sub->head + sub->len;
    if (tail >= ps->backlog)
        tail -= ps->backlog;
    sub->ring[tail] = msg;
    if (++sub->len == ps->backlog)
        ps->nfull++;
}

/* Gives msg to sub: to its longest parked receiver, else into its ring,
 * making room by dropping the oldest message if the ring is full (which
 * only the drop policy lets happen). */
static void sub_put(coco_pubsub_t *ps, coco_sub_t *sub, void *msg)
{
    if (sub->recvq.head != NULL) {
        sub->recvq.head->value = msg;
        coco__waitq_hand_head(&sub->recvq);
        return;
    }
    if (sub->len == ps->backlog) {
        if (++sub->head == ps->backlog)
            sub->head = 0;
        sub->len--;
        ps->nfull--;
        sub->dropped++;
    }
    ring_put(ps, sub, msg);
}

static void deliver(coco_pubsub_t *ps, void *msg)
{
    for (coco_sub_t *sub = ps->subs; sub != NULL; sub = sub->next)
        sub_put(ps, sub, msg);
}

/* Every ring has room again: the parked publishers deliver, in order, as
 * long as that stays so. */
static void pump(coco_pubsub_t *ps)
{
    while (ps->nfull == 0 && ps->pubq.head != NULL) {
        void *msg = ps->pubq.head->value;
        coco__waitq_fire_head(&ps->pubq, COCO_OK);
        deliver(ps, msg);
    }
}

/* The receiver handed w's message is destroyed before it took it.  As for
 * a channel, the receivers handed messages after it (newer on the handed
 * list) each take the one handed just before theirs, and the newest one is
 * left over: it goes to the next parked receiver, else back to the front
 * of the ring, being older than anything there.  A full ring (messages
 * published since) has no room for it: it is counted as dropped. */
static void sub_give_back(coco__waitq_t *q, coco__waiter_t *w)
{
    coco_sub_t *sub = COCO__CONTAINER_OF(q, coco_sub_t, recvq);
    coco_pubsub_t *ps = sub->ps;
    void *msg = w->value;
    for (coco__waiter_t *r = w->prev; r != NULL; r = r->prev) {
        void *v = r->value;
        r->value = msg;
        msg = v;
    }
    if (sub->recvq.head != NULL) {
        sub->recvq.head->value = msg;
        coco__waitq_hand_head(&sub->recvq);
        return;
    }
    if (sub->len == ps->backlog) {
        sub->dropped++;
        return;
    }
    sub->head = sub->head == 0 ? ps->backlog - 1 : sub->head - 1;
    sub->ring[sub->head] = msg;
    if (++sub->len == ps->backlog)
        ps->nfull++;
}

/* -------------------------------------------------------- subscribers */

coco_sub_t *coco_pubsub_subscribe(coco_pubsub_t *ps)
{
    if (ps == NULL) {
        errno = EINVAL;
        return NULL;
    }
    coco_sub_t *sub = malloc(sizeof *sub + ps->backlog * sizeof(void *));
    if (sub == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    sub->ps = ps;
    sub->len = 0;
    sub->head = 0;
    sub->dropped = 0;
    sub->recvq.head = sub->recvq.tail = sub->recvq.handed = NULL;
    sub->recvq.give_back = sub_give_back;
    sub->recvq.kind = COCO__WQ_UNKNOWN;
    sub->recvq.owner_at = 0;
    sub->prev = NULL;
    coco__sect_enter(ps->thr);
    sub->next = ps->subs;
    if (ps->subs != NULL)
        ps->subs->prev = sub;
    ps->subs = sub;
    coco__sect_leave();
    return sub;
}

/* Takes sub out of its pub-sub and wakes its receivers; in a section. */
static void sub_detach(coco_pubsub_t *ps, coco_sub_t *sub)
{
    if (sub->prev != NULL)
        sub->prev->next = sub->next;
    else
        ps->subs = sub->next;
    if (sub->next != NULL)
        sub->next->prev = sub->prev;
    if (sub->len == ps->backlog)
        ps->nfull--;
    coco__waitq_fire_all(&sub->recvq, COCO_ERROR_CHANNEL_CLOSED);
    coco__waitq_forget_handed(&sub->recvq);
}

void coco_pubsub_unsubscribe(coco_sub_t *sub)
{
    if (sub == NULL)
        return;
    coco_pubsub_t *ps = sub->ps;
    coco__sect_enter(ps->thr);
    sub_detach(ps, sub);
    /* A publisher parked for this subscriber's room may go on now. */
    pump(ps);
    coco__sect_leave();
    free(sub);
}

void coco_pubsub_destroy(coco_pubsub_t *ps)
{
    if (ps == NULL)
        return;
    /* Parked coroutines leave the queues before the memory goes; they
     * resume with COCO_ERROR_CHANNEL_CLOSED and never look at it again. */
    coco__sect_enter(ps->thr);
    coco__waitq_fire_all(&ps->pubq, COCO_ERROR_CHANNEL_CLOSED);
    coco_sub_t *subs = NULL;
    while (ps->subs != NULL) {
        coco_sub_t *sub = ps->subs;
        sub_detach(ps, sub);
        sub->next = subs;
        subs = sub;
    }
    coco__sect_leave();
    while (subs != NULL) {
        coco_sub_t *sub = subs;
        subs = sub->next;
        free(sub);
    }
    free(ps);
}

/* ------------------------------------------------------------- publish */

int coco_pubsub_publish(coco_pubsub_t *ps, void *msg, uint64_t timeout_ms)
{
    if (ps == NULL)
        return COCO_ERROR_INVALID;
    coco__sstack_check_ptr(msg, "coco_pubsub_publish");
    coco__sect_enter(ps->thr);
    /* Parked publishers go first, so that messages keep their order. */
    if (ps->policy == COCO_PUBSUB_DROP_OLDEST ||
        (ps->nfull == 0 && ps->pubq.head == NULL)) {
        deliver(ps, msg);
        coco__sect_leave();
        return COCO_OK;
    }
    coco_co_t *co = coco__current();
    if (co == NULL || timeout_ms == 0) {
        coco__sect_leave();
        return co == NULL ? COCO_ERROR_WOULDBLOCK : COCO_ERROR_TIMEOUT;
    }
    return coco__wait_one(&ps->pubq, co, msg, NULL, timeout_ms);
}

/* ------------------------------------------------------------- receive */

int coco_sub_recv(coco_sub_t *sub, void **msg, uint64_t timeout_ms)
{
    if (sub == NULL || msg == NULL)
        return COCO_ERROR_INVALID;
    coco_pubsub_t *ps = sub->ps;
    coco__sect_enter(ps->thr);
    if (sub->len > 0) {
        *msg = sub->ring[sub->head];
        if (++sub->head == ps->backlog)
            sub->head = 0;
        if (sub->len-- == ps->backlog && --ps->nfull == 0)
            pump(ps);
        coco__sect_leave();
        return COCO_OK;
    }
    coco_co_t *co = coco__current();
    if (co == NULL || timeout_ms == 0) {
        coco__sect_leave();
        return co == NULL ? COCO_ERROR_WOULDBLOCK : COCO_ERROR_TIMEOUT;
    }
    return coco__wait_one(&sub->recvq, co, NULL, msg, timeout_ms);
}

size_t coco_sub_dropped(const coco_sub_t *sub)
{
    if (sub == NULL)
        return 0;
    coco__sect_enter(sub->ps->thr);
    size_t n = sub->dropped;
    coco__sect_leave();
    return n;
}

size_t coco_sub_len(const coco_sub_t *sub)
{
    if (sub == NULL)
        return 0;
    coco__sect_enter(sub->ps->thr);
    size_t n = sub->len;
    coco__sect_leave();
    return n;
}
