/*
 * fuzz_model.h - what the operations fuzzer knows about the world it
 * built: every coroutine, channel, value, timer and synchronisation object
 * of one input, and what each of them may and may not do.
 *
 * fuzz_ops.c executes the operations; this model predicts and checks their
 * results, and after the run checks the invariants of the whole input.
 * A violation calls abort(), which the fuzzer reports with the input.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_FUZZ_MODEL_H
#define COCO_FUZZ_MODEL_H

#include "coco.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FZ_MAX_COROS    32   /* coroutines spawned per input */
#define FZ_CHAN_SLOTS   8    /* channels the operations name */
#define FZ_MAX_CHANS    64   /* channels created per input */
#define FZ_MAX_VALUES   2048 /* values sent per input */
#define FZ_MAX_TIMERS   16
#define FZ_NSYNC        2    /* mutexes, semaphores and wait groups each */
#define FZ_MAX_CASES    3    /* cases of one select */
#define FZ_OUTSIDE      (-1) /* "coroutine" index of code outside any */

/* Aborts with the location of a failed invariant. */
#define FZ_CHECK(cond) \
    ((cond) ? (void)0 : fz_fail(#cond, __FILE__, __LINE__))
void fz_fail(const char *what, const char *file, int line)
    __attribute__((noreturn));

/* What a coroutine is doing inside a call that may park. */
enum fz_kind {
    FZ_NONE = 0, FZ_SEND, FZ_RECV, FZ_SELECT, FZ_JOIN, FZ_LOCK,
    FZ_SEMWAIT, FZ_WGWAIT, FZ_SLEEP
};

typedef struct fz_pending {
    enum fz_kind kind;
    bool timed;                  /* finite timeout: never part of a deadlock */
    uint64_t ms;                 /* the timeout (or sleep) when timed */
    uint64_t vstart;             /* the scheduler's clock at the call */
    uint64_t rstart_us;          /* the monotonic clock at the call, in us */
    int n;                       /* channel cases (1 unless select) */
    int chan[FZ_MAX_CASES];      /* channel ids; -1: a NULL case */
    bool send[FZ_MAX_CASES];
    int value[FZ_MAX_CASES];     /* value ids of the send cases */
    int target;                  /* join target, or mutex/sem/wg index */
    unsigned start;              /* clock when the call began */
    unsigned epoch;              /* wait group epoch when it began */
    bool granted;                /* a mutex or unit was handed to it */
} fz_pending_t;

typedef struct fz_coro {
    coco_coro_t *h;
    bool finished;               /* returned, exited or destroyed */
    bool handle_ok;              /* h may still be passed to the library */
    bool detached;
    void *result;                /* what coco_join() must return */
    int joiners;                 /* coroutines inside coco_join() on it */
    fz_pending_t op;
} fz_coro_t;

#define FZ_MAX_GAVE_BACK 64

typedef struct fz_chan {
    coco_channel_t *ch;          /* NULL once destroyed */
    size_t cap;
    bool closed;
    unsigned long dropped;       /* values freed with it, still buffered */
    unsigned long lost;          /* receivers woken but not resumed when
                                    it was destroyed */
    /* When receivers that may have been handed a value were destroyed
     * (fz.clock): each such value went back, possibly behind values
     * already received. */
    unsigned gave_back[FZ_MAX_GAVE_BACK];
    int ngave_back;
    bool gave_back_lost_track;   /* more than the array holds */
} fz_chan_t;

enum {
    FZ_V_SENT = 1,               /* the sender saw COCO_OK */
    FZ_V_FAILED = 2,             /* the sender saw an error */
    FZ_V_AMBIGUOUS = 4,          /* the sender was destroyed inside the call */
    FZ_V_RECEIVED = 8
};

typedef struct fz_value {
    int chan;
    int sender;                  /* coroutine index or FZ_OUTSIDE */
    unsigned flags;
    unsigned recv_start, recv_end;
} fz_value_t;

typedef struct fz_timer {
    coco_timer_t *h;
    bool fired, cancelled;
    uint8_t action;              /* what the callback does */
    uint64_t ms;                 /* its delay */
    uint64_t vstart, rstart_us;  /* the clocks when it was armed */
} fz_timer_t;

typedef struct fz_world {
    coco_sched_t *sched;
    unsigned clock;              /* ticks at every call and return */
    int ncoros, nchans, nvalues, ntimers;
    int time_budget;             /* waits with a timeout left */
    bool vclock;                 /* the scheduler keeps virtual time */
    uint64_t last_expiry;        /* deadline of the last wait that expired */
    int ops_left;
    fz_coro_t coros[FZ_MAX_COROS];
    fz_chan_t chans[FZ_MAX_CHANS];
    int slot[FZ_CHAN_SLOTS];     /* channel id in each slot, -1 if empty */
    fz_value_t values[FZ_MAX_VALUES];
    fz_timer_t timers[FZ_MAX_TIMERS];
    coco_mutex_t *mutex[FZ_NSYNC];
    int mutex_owner[FZ_NSYNC];   /* coroutine, FZ_OUTSIDE, or FZ_FREE;
                                    an unlock hands it on at once */
    coco_sem_t *sem[FZ_NSYNC];
    size_t sem_units[FZ_NSYNC];  /* initial units plus posts */
    size_t sem_taken[FZ_NSYNC];  /* units taken or handed to a waiter */
    coco_waitgroup_t *wg[FZ_NSYNC];
    long wg_count[FZ_NSYNC];
    unsigned wg_epoch[FZ_NSYNC]; /* times the count dropped to zero */
} fz_world_t;

#define FZ_FREE (-2)

extern fz_world_t fz;

/* Setting up and tearing down one input. */
void fz_world_init(unsigned sem0, unsigned sem1);
void fz_world_fini(void);

/* Calls that may park: fz_begin() records what coroutine me does until
 * fz_end(); outside coroutines (FZ_OUTSIDE) nothing is recorded.  timeout
 * is the call's limit (a sleep's length), COCO_INFINITE for none; expired
 * says the call ended because that time ran out.  fz_end() checks the
 * time the call took: never less than its limit when it expired, and on
 * the virtual clock exactly its deadline (never more, either way). */
fz_pending_t *fz_begin(int me, enum fz_kind kind, uint64_t timeout);
void fz_end(int me, bool expired);
/* A timeout to wait, if want and the input still has waiting left, else
 * 0: 1 ms on the real clock; on the virtual clock, where waiting costs no
 * time, one of several lengths picked by sel. */
uint64_t fz_take_ms(bool want, unsigned sel);

/* Time: the library's test hooks, hidden symbols that a program reaches
 * only when it links the static library (weak: NULL otherwise), and the
 * checks of timers against the clocks. */
int coco__sched_virtual_clock(coco_sched_t *s, uint64_t start) __attribute__((weak));
uint64_t coco__sched_clock(coco_sched_t *s) __attribute__((weak));
bool fz_timing_oracle(void);
uint64_t fz_now_us(void);
uint64_t fz_vnow(void);
void fz_timer_armed(fz_timer_t *t, uint64_t ms);
void fz_timer_fired(const fz_timer_t *t);
/* What a call that cannot complete at once returns; 1 when it waits. */
int fz_not_ready_rc(int me, bool try, uint64_t timeout);
/* The oldest coroutine parked in a call of this kind on object i, or -1. */
int fz_oldest_parked(enum fz_kind kind, int i);

/* Synchronisation operations (fuzz_sync.c); a is the argument byte. */
void fz_op_mutex(int me, unsigned a);
void fz_op_sem(int me, unsigned a);
void fz_op_wg(int me, unsigned a);

/* Coroutines. */
int fz_alive_count(void);
void fz_check_count(void);
void fz_finish(int me, void *result);
void fz_forget(int co);
bool fz_waiting(int co);

/* Channels and values. */
coco_channel_t *fz_chan(int id);
int fz_value_new(int chan, int sender);
void *fz_value_ptr(int v);
void fz_value_sent(int v, int rc);
void fz_value_received(int chan, void *p, unsigned start);
bool fz_can_send(int chan, int self);
bool fz_can_recv(int chan, int self);
void fz_check_unparked(int chan);

/* After the run. */
void fz_explain_deadlock(void);
void fz_check_values(void);
void fz_check_timers(void);
void fz_check_sync(void);

#endif /* COCO_FUZZ_MODEL_H */
