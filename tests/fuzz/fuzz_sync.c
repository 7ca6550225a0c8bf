/*
 * fuzz_sync.c - the mutex, semaphore and wait group operations of the
 * operations fuzzer, each result checked against fuzz_model.c.
 *
 * Unlock and post hand the mutex or the unit straight to the oldest parked
 * waiter, so the model gives it to that waiter at the same moment; a
 * waiter destroyed before it resumes passes it on (fz_forget).
 *
 * SPDX-License-Identifier: MIT
 */
#include "fuzz_model.h"

static void mutex_lock(int me, int m, unsigned sub, unsigned sel)
{
    bool try = sub == 1;
    uint64_t t = sub == 0 ? COCO_INFINITE : sub == 2 ? fz_take_ms(true, sel) : 0;
    int owner = fz.mutex_owner[m], rc;
    if (try) {
        rc = coco_mutex_trylock(fz.mutex[m]);
    } else if (me == FZ_OUTSIDE) {
        rc = coco_mutex_lock_timeout(fz.mutex[m], t);
    } else {
        fz_begin(me, FZ_LOCK, t)->target = m;
        rc = t == COCO_INFINITE ? coco_mutex_lock(fz.mutex[m])
                                : coco_mutex_lock_timeout(fz.mutex[m], t);
        fz_end(me, rc == COCO_ERROR_TIMEOUT);
    }
    if (owner == FZ_FREE) {
        FZ_CHECK(rc == COCO_OK);
        fz.mutex_owner[m] = me;
    } else if (owner == me) {
        FZ_CHECK(rc == COCO_ERROR_DEADLOCK || (try && rc == COCO_ERROR_WOULDBLOCK) ||
                 (me == FZ_OUTSIDE && rc == COCO_ERROR_WOULDBLOCK));
    } else if (fz_not_ready_rc(me, try, t) != 1) {
        FZ_CHECK(rc == fz_not_ready_rc(me, try, t));
    } else {
        /* Waited: unlock handed it over, or the time ran out. */
        FZ_CHECK(rc == COCO_OK ? fz.mutex_owner[m] == me
                               : rc == COCO_ERROR_TIMEOUT && t != COCO_INFINITE &&
                                 fz.mutex_owner[m] != me);
    }
}

static void mutex_unlock(int me, int m)
{
    bool mine = fz.mutex_owner[m] == me;
    int next = fz_oldest_parked(FZ_LOCK, m); /* before the unlock wakes it */
    int rc = coco_mutex_unlock(fz.mutex[m]);
    FZ_CHECK(rc == (mine ? COCO_OK : COCO_ERROR_INVALID));
    if (!mine)
        return;
    fz.mutex_owner[m] = next >= 0 ? next : FZ_FREE;
    if (next >= 0) {
        fz.coros[next].op.granted = true;
        FZ_CHECK(!fz_waiting(next));
    }
}

void fz_op_mutex(int me, unsigned a)
{
    int m = (int)(a & 1);
    unsigned sub = (a >> 1) & 3;
    if (sub == 3)
        mutex_unlock(me, m);
    else
        mutex_lock(me, m, sub, a >> 3);
}

static void sem_wait(int me, int i, unsigned sub, unsigned sel)
{
    bool try = sub == 1;
    uint64_t t = sub == 0 ? COCO_INFINITE : sub == 3 ? fz_take_ms(true, sel) : 0;
    size_t have = coco_sem_value(fz.sem[i]);
    FZ_CHECK(have == fz.sem_units[i] - fz.sem_taken[i]);
    int rc;
    fz_pending_t *op = NULL;
    if (try) {
        rc = coco_sem_trywait(fz.sem[i]);
    } else if (me == FZ_OUTSIDE) {
        rc = coco_sem_wait_timeout(fz.sem[i], t);
    } else {
        op = fz_begin(me, FZ_SEMWAIT, t);
        op->target = i;
        rc = t == COCO_INFINITE ? coco_sem_wait(fz.sem[i])
                                : coco_sem_wait_timeout(fz.sem[i], t);
    }
    /* A unit handed over by a post was counted by the post. */
    bool granted = op != NULL && op->granted;
    if (op != NULL)
        fz_end(me, rc == COCO_ERROR_TIMEOUT);
    if (have > 0) {
        FZ_CHECK(rc == COCO_OK);
        fz.sem_taken[i]++;
    } else if (fz_not_ready_rc(me, try, t) != 1) {
        FZ_CHECK(rc == fz_not_ready_rc(me, try, t));
    } else {
        FZ_CHECK(rc == COCO_OK ? granted
                               : rc == COCO_ERROR_TIMEOUT && t != COCO_INFINITE && !granted);
    }
}

static void sem_post(int i)
{
    int w = fz_oldest_parked(FZ_SEMWAIT, i); /* before the post wakes it */
    FZ_CHECK(coco_sem_post(fz.sem[i]) == COCO_OK);
    fz.sem_units[i]++;
    if (w >= 0) {
        fz.coros[w].op.granted = true;
        fz.sem_taken[i]++;
        FZ_CHECK(!fz_waiting(w));
    }
    FZ_CHECK(coco_sem_value(fz.sem[i]) == fz.sem_units[i] - fz.sem_taken[i]);
}

void fz_op_sem(int me, unsigned a)
{
    int i = (int)(a & 1);
    unsigned sub = (a >> 1) & 3;
    if (sub == 2)
        sem_post(i);
    else
        sem_wait(me, i, sub, a >> 3);
}

static void wg_add(int i, int delta)
{
    long want = fz.wg_count[i] + delta;
    int rc = delta == -1 ? coco_waitgroup_done(fz.wg[i]) : coco_waitgroup_add(fz.wg[i], delta);
    FZ_CHECK(rc == (want >= 0 ? COCO_OK : COCO_ERROR_INVALID));
    if (rc != COCO_OK)
        return;
    if (want == 0 && fz.wg_count[i] != 0) {
        fz.wg_epoch[i]++;
        FZ_CHECK(fz_oldest_parked(FZ_WGWAIT, i) < 0); /* all woken */
    }
    fz.wg_count[i] = want;
}

static void wg_wait(int me, int i, unsigned sub, unsigned sel)
{
    uint64_t t = sub == 2 ? COCO_INFINITE : fz_take_ms(sub == 3, sel);
    bool zero = fz.wg_count[i] == 0;
    unsigned epoch = fz.wg_epoch[i];
    int rc;
    if (me == FZ_OUTSIDE) {
        rc = coco_waitgroup_wait_timeout(fz.wg[i], t);
    } else {
        fz_begin(me, FZ_WGWAIT, t)->target = i;
        rc = t == COCO_INFINITE ? coco_waitgroup_wait(fz.wg[i])
                                : coco_waitgroup_wait_timeout(fz.wg[i], t);
        fz_end(me, rc == COCO_ERROR_TIMEOUT);
    }
    if (zero)
        FZ_CHECK(rc == COCO_OK);
    else if (fz_not_ready_rc(me, false, t) != 1)
        FZ_CHECK(rc == fz_not_ready_rc(me, false, t));
    else
        FZ_CHECK(rc == COCO_OK ? fz.wg_epoch[i] != epoch
                               : rc == COCO_ERROR_TIMEOUT && t != COCO_INFINITE);
}

void fz_op_wg(int me, unsigned a)
{
    int i = (int)(a & 1);
    unsigned sub = (a >> 1) & 7;
    if (sub < 2)
        wg_add(i, sub == 0 ? 1 : -1);
    else if (sub == 4)
        wg_add(i, 2);
    else
        wg_wait(me, i, sub & 3, a >> 4); /* 2: no limit, 3: a limit, else 0 */
}
