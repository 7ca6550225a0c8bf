/*
 * coco.h - Coco, stackful coroutines for C.
 *
 * The whole public interface of libcoco.  Everything here is prefixed
 * coco_ / COCO_; anything else the library uses is private.
 *
 * Threads: a scheduler and its coroutines are run by one thread at a
 * time, and a coroutine that has started never moves to another thread.
 * Channels, select, mutexes, condition variables, semaphores and wait
 * groups may be shared by coroutines of schedulers on different threads
 * (and used by plain threads through their non-blocking calls).  A worker
 * group (coco_workers_*) runs coroutines on several threads at once, and
 * coco_blocking_call() runs blocking work on helper threads.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_H
#define COCO_H

/* The README examples use malloc(), intptr_t and size_t with no includes
 * of their own, so the header brings them in. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(COCO_BUILDING_DLL)
#  define COCO_API __declspec(dllexport)
#elif defined(_WIN32) && defined(COCO_USE_DLL)
#  define COCO_API __declspec(dllimport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define COCO_API __attribute__((visibility("default")))
#else
#  define COCO_API
#endif

#define COCO_VERSION_MAJOR 0
#define COCO_VERSION_MINOR 1
#define COCO_VERSION_PATCH 0
/* (major << 16) | (minor << 8) | patch, comparable with coco_version(). */
#define COCO_VERSION_HEX \
    ((COCO_VERSION_MAJOR << 16) | (COCO_VERSION_MINOR << 8) | COCO_VERSION_PATCH)

/* Error codes.  Functions returning int return COCO_OK or one of these. */
#define COCO_OK                     0
#define COCO_ERROR                (-1) /* generic error */
#define COCO_ERROR_NOMEM          (-2) /* out of memory */
#define COCO_ERROR_STACK_OVERFLOW (-3) /* a coroutine overflowed its stack */
#define COCO_ERROR_CHANNEL_CLOSED (-4) /* the channel is closed */
#define COCO_ERROR_INVALID        (-5) /* invalid argument or misuse */
#define COCO_ERROR_TIMEOUT        (-6) /* the deadline passed first */
#define COCO_ERROR_WOULDBLOCK     (-7) /* a non-blocking call found nothing to do */
#define COCO_ERROR_DEADLOCK       (-8) /* every coroutine waits, nothing can wake one */

#define COCO_DEFAULT_STACK_SIZE (64 * 1024)
#define COCO_MAX_COROUTINES     10000

/* A timeout that never expires, for calls that take one in milliseconds. */
#define COCO_INFINITE UINT64_MAX

typedef enum coco_state {
    COCO_STATE_CREATED = 0, /* created, not yet run */
    COCO_STATE_RUNNING,     /* executing now */
    COCO_STATE_WAITING,     /* parked on a channel, timer, I/O or join */
    COCO_STATE_READY,       /* runnable, in the run queue */
    COCO_STATE_DEAD,        /* finished */
    COCO_STATE_OVERFLOW     /* overflowed its stack; finished, unrecoverable */
} coco_state_t;

typedef struct coco_sched coco_sched_t;
typedef struct coco_coro coco_coro_t;

/* The public part of a coroutine: read it, never write it. */
struct coco_coro {
    coco_sched_t *const sched; /* the scheduler the coroutine belongs to */
};

typedef void (*coco_error_cb)(coco_coro_t *coro, int error_code, const char *msg);

/* Library */
COCO_API unsigned int coco_version(void);
COCO_API const char *coco_strerror(int error_code);

/* Scheduler */
COCO_API coco_sched_t *coco_sched_create(void);
COCO_API void coco_sched_destroy(coco_sched_t *sched);
COCO_API int coco_sched_run(coco_sched_t *sched);
COCO_API int coco_sched_run_once(coco_sched_t *sched);
COCO_API int coco_sched_set_max_coroutines(coco_sched_t *sched, size_t max);
COCO_API size_t coco_sched_get_max_coroutines(const coco_sched_t *sched);
COCO_API size_t coco_sched_count(const coco_sched_t *sched);
/* Writes a line per coroutine of sched to fd: its state, what it waits on,
 * where it was created, its stack.  Safe in a signal handler. */
COCO_API int coco_sched_dump(const coco_sched_t *sched, int fd);

/* A scheduler's counters, from its creation on.  The caller sets size to
 * sizeof(coco_stats_t); fields are only ever added at the end, and the
 * library fills what both sides know of and sets size to that. */
typedef struct coco_stats {
    size_t size;
    uint64_t switches;          /* coroutines resumed */
    uint64_t loop_switches;     /* ... of them by the scheduler loop */
    uint64_t yields;            /* coco_yield() calls that switched */
    uint64_t parks;             /* waits, all reasons */
    uint64_t parks_sync;        /* ... on a channel, select or sync object */
    uint64_t parks_io;          /* ... on a descriptor */
    uint64_t parks_join;        /* ... in coco_join() */
    uint64_t parks_sleep;       /* ... in coco_sleep() */
    uint64_t finished;          /* coroutines that ended or overflowed */
    uint64_t polls;             /* calls into the I/O poller */
    uint64_t io_wakes;          /* coroutines woken by descriptor readiness */
    uint64_t timers_armed;      /* deadlines and timers set */
    uint64_t timers_fired;
    uint64_t timers_cancelled;  /* disarmed before they fired */
    /* Now: */
    uint64_t created, ready, running, waiting, dead; /* coroutines by state */
    uint64_t stack_bytes_mapped;   /* coroutine stacks, pool included */
    uint64_t stack_bytes_resident; /* ... of them in memory */
} coco_stats_t;

COCO_API int coco_sched_stats(const coco_sched_t *sched, coco_stats_t *out);

/* Writes what sched does (every run of a coroutine, parks, wakes, timers,
 * polls) to the file at path as trace-event JSON, which the Perfetto UI
 * opens, until coco_trace_stop() or coco_sched_destroy().  COCO_TRACE=path
 * in the environment does the same for every scheduler from its creation.
 * COCO_OK, or an error code with errno set. */
COCO_API int coco_trace_start(coco_sched_t *sched, const char *path);
COCO_API int coco_trace_stop(coco_sched_t *sched);

/* Coroutine */
COCO_API coco_coro_t *coco_create(coco_sched_t *sched, void (*entry)(void *),
                                  void *arg, size_t stack_size);
COCO_API void coco_exit(coco_coro_t *coro, void *result);
COCO_API void coco_yield(void);
COCO_API void *coco_join(coco_coro_t *coro);
COCO_API int coco_detach(coco_coro_t *coro);
COCO_API void coco_destroy(coco_coro_t *coro);
COCO_API coco_coro_t *coco_self(void);
/* Where the calling thread keeps the scheduler it is running (NULL while
 * it runs none): for layers that test it on every call, such as
 * libcoco-hook.  The address is the thread's for its whole life. */
COCO_API coco_sched_t *const *coco_running_slot(void);
COCO_API coco_state_t coco_get_state(coco_coro_t *coro);
COCO_API uint64_t coco_get_id(coco_coro_t *coro);
COCO_API void coco_set_error_cb(coco_coro_t *coro, coco_error_cb cb);

/* Creation options for coco_create_attr().  Set them up with
 * coco_attr_init(): fields added later start out with their defaults. */
typedef struct coco_attr {
    size_t stack_size;      /* bytes; 0: COCO_DEFAULT_STACK_SIZE */
    unsigned int flags;     /* COCO_ATTR_* */
    unsigned int reserved_u;/* must be 0 */
    void *reserved[4];      /* must be NULL */
} coco_attr_t;

/* Run on a stack shared with other coroutines of the scheduler; the used
 * part is copied out while the coroutine is parked.  A pointer to one of
 * its locals is valid for other coroutines only while it runs. */
#define COCO_ATTR_SHARED_STACK 0x1u
/* Urgent from the start: see coco_set_urgent(). */
#define COCO_ATTR_URGENT 0x2u

COCO_API int coco_attr_init(coco_attr_t *attr);
/* An urgent coroutine, whenever it is ready, runs before every ready
 * coroutine of its scheduler that is not urgent (urgent ones run in the
 * order they became ready).  For control-plane work; ordinary coroutines
 * do not run while urgent ones keep being ready.  COCO_OK, or
 * COCO_ERROR_INVALID (NULL, finished, or another thread's running
 * scheduler).  coco_is_urgent(): 1 or 0 (0 for NULL). */
COCO_API int coco_set_urgent(coco_coro_t *co, int urgent);
COCO_API int coco_is_urgent(const coco_coro_t *co);
COCO_API coco_coro_t *coco_create_attr(coco_sched_t *sched, void (*entry)(void *),
                                       void *arg, const coco_attr_t *attr);

/* Channel and synchronisation (lib/sync) */
/* Objects for coroutines of any scheduler on any thread.  Calls that
 * would have to wait park the calling coroutine; made outside a coroutine
 * they return COCO_ERROR_WOULDBLOCK instead.  Timeouts are in
 * milliseconds; COCO_INFINITE waits for ever. */
typedef struct coco_channel coco_channel_t;

COCO_API coco_channel_t *coco_channel_create(size_t capacity);
COCO_API void coco_channel_destroy(coco_channel_t *ch);
COCO_API int coco_channel_send(coco_channel_t *ch, void *value);
COCO_API int coco_channel_recv(coco_channel_t *ch, void **value);
COCO_API void coco_channel_close(coco_channel_t *ch);
COCO_API int coco_channel_try_send(coco_channel_t *ch, void *value);
COCO_API int coco_channel_try_recv(coco_channel_t *ch, void **value);
COCO_API int coco_channel_send_timeout(coco_channel_t *ch, void *value,
                                       uint64_t timeout_ms);
COCO_API int coco_channel_recv_timeout(coco_channel_t *ch, void **value,
                                       uint64_t timeout_ms);
COCO_API size_t coco_channel_len(const coco_channel_t *ch);
COCO_API size_t coco_channel_cap(const coco_channel_t *ch);

/* One case of coco_select(). */
typedef enum coco_select_op {
    COCO_SELECT_SEND = 1,    /* send value on ch */
    COCO_SELECT_RECV = 2     /* receive from ch into value */
} coco_select_op_t;

typedef struct coco_select_case {
    coco_channel_t *ch;      /* NULL: the case is never chosen */
    coco_select_op_t op;
    void *value;             /* SEND: what to send; RECV: what was received */
    int result;              /* of the chosen case: COCO_OK or
                                COCO_ERROR_CHANNEL_CLOSED */
} coco_select_case_t;

COCO_API int coco_select(coco_select_case_t *cases, size_t n, uint64_t timeout_ms);
COCO_API int coco_select_try(coco_select_case_t *cases, size_t n);

typedef struct coco_mutex coco_mutex_t;
COCO_API coco_mutex_t *coco_mutex_create(void);
COCO_API void coco_mutex_destroy(coco_mutex_t *mu);
COCO_API int coco_mutex_lock(coco_mutex_t *mu);
COCO_API int coco_mutex_trylock(coco_mutex_t *mu);
COCO_API int coco_mutex_lock_timeout(coco_mutex_t *mu, uint64_t timeout_ms);
COCO_API int coco_mutex_unlock(coco_mutex_t *mu);

typedef struct coco_cond coco_cond_t;
COCO_API coco_cond_t *coco_cond_create(void);
COCO_API void coco_cond_destroy(coco_cond_t *cv);
COCO_API int coco_cond_wait(coco_cond_t *cv, coco_mutex_t *mu);
COCO_API int coco_cond_wait_timeout(coco_cond_t *cv, coco_mutex_t *mu,
                                    uint64_t timeout_ms);
COCO_API int coco_cond_signal(coco_cond_t *cv);
COCO_API int coco_cond_broadcast(coco_cond_t *cv);

typedef struct coco_sem coco_sem_t;
COCO_API coco_sem_t *coco_sem_create(size_t initial);
COCO_API void coco_sem_destroy(coco_sem_t *sem);
COCO_API int coco_sem_wait(coco_sem_t *sem);
COCO_API int coco_sem_trywait(coco_sem_t *sem);
COCO_API int coco_sem_wait_timeout(coco_sem_t *sem, uint64_t timeout_ms);
COCO_API int coco_sem_post(coco_sem_t *sem);
COCO_API size_t coco_sem_value(const coco_sem_t *sem);

typedef struct coco_waitgroup coco_waitgroup_t;
COCO_API coco_waitgroup_t *coco_waitgroup_create(void);
COCO_API void coco_waitgroup_destroy(coco_waitgroup_t *wg);
COCO_API int coco_waitgroup_add(coco_waitgroup_t *wg, int delta);
COCO_API int coco_waitgroup_done(coco_waitgroup_t *wg);
COCO_API int coco_waitgroup_wait(coco_waitgroup_t *wg);
COCO_API int coco_waitgroup_wait_timeout(coco_waitgroup_t *wg, uint64_t timeout_ms);

/* Publish-subscribe: every subscriber receives every message published
 * after it subscribed, through a backlog of its own of at most backlog
 * messages.  When a subscriber's backlog is full, COCO_PUBSUB_BLOCK parks
 * the publisher until every subscriber has room (up to its timeout);
 * COCO_PUBSUB_DROP_OLDEST drops that subscriber's oldest message and
 * counts it (coco_sub_dropped()), and publishing never waits.  Destroying
 * the pub-sub frees its subscriptions and wakes the coroutines parked on
 * it with COCO_ERROR_CHANNEL_CLOSED. */
typedef struct coco_pubsub coco_pubsub_t;
typedef struct coco_sub coco_sub_t;
#define COCO_PUBSUB_BLOCK       0
#define COCO_PUBSUB_DROP_OLDEST 1
COCO_API coco_pubsub_t *coco_pubsub_create(size_t backlog, int policy);
COCO_API void coco_pubsub_destroy(coco_pubsub_t *ps);
COCO_API coco_sub_t *coco_pubsub_subscribe(coco_pubsub_t *ps);
COCO_API void coco_pubsub_unsubscribe(coco_sub_t *sub);
COCO_API int coco_pubsub_publish(coco_pubsub_t *ps, void *msg, uint64_t timeout_ms);
COCO_API int coco_sub_recv(coco_sub_t *sub, void **msg, uint64_t timeout_ms);
COCO_API size_t coco_sub_dropped(const coco_sub_t *sub);
COCO_API size_t coco_sub_len(const coco_sub_t *sub);

/* A bounded coroutine pool: each submitted fn(arg) runs in a detached
 * coroutine of its own on sched, at most max at once; a submission beyond
 * that parks its caller until one finishes (up to timeout_ms).  Unlike
 * coco_blocking_call(), nothing runs on another thread.  Use a pool from
 * the thread of its scheduler.  coco_pool_destroy() frees nothing and
 * returns COCO_ERROR_WOULDBLOCK while work is unfinished or a call of the
 * pool is parked. */
typedef struct coco_pool coco_pool_t;
COCO_API coco_pool_t *coco_pool_create(coco_sched_t *sched, size_t max,
                                       size_t stack_size);
COCO_API int coco_pool_submit(coco_pool_t *pool, void (*fn)(void *), void *arg,
                              uint64_t timeout_ms);
COCO_API int coco_pool_wait(coco_pool_t *pool, uint64_t timeout_ms);
COCO_API size_t coco_pool_running(const coco_pool_t *pool);
COCO_API int coco_pool_destroy(coco_pool_t *pool);

/* Threads (lib/mt) */

/* A worker group: coroutines run on nthreads threads (0: as many as the
 * CPUs the process may use), each with its own scheduler, run queue,
 * timers and poller.  Coroutines spawned into the group that have not
 * started yet are shared out: an idle worker takes them from busy ones.
 * Once started a coroutine stays on its worker. */
typedef struct coco_workers coco_workers_t;

COCO_API coco_workers_t *coco_workers_create(size_t nthreads);
/* Queues a detached coroutine entry(arg) for the group, from any thread,
 * before or during coco_workers_run().  stack_size 0: the default. */
COCO_API int coco_workers_spawn(coco_workers_t *wk, void (*entry)(void *),
                                void *arg, size_t stack_size);
/* Runs the group on the calling thread and nthreads - 1 more until every
 * coroutine of it has finished (COCO_OK) or all wait with nothing left to
 * wake them (COCO_ERROR_DEADLOCK). */
COCO_API int coco_workers_run(coco_workers_t *wk);
COCO_API void coco_workers_destroy(coco_workers_t *wk);
COCO_API size_t coco_workers_threads(const coco_workers_t *wk);
/* The group whose worker runs the calling coroutine, or NULL. */
COCO_API coco_workers_t *coco_workers_self(void);

/* Runs fn(arg) on a helper thread while the calling coroutine waits, and
 * stores what it returns in *result (when result is not NULL).  COCO_OK,
 * COCO_ERROR_TIMEOUT (fn is not started if it had not been; otherwise it
 * runs to its end and what it returns is dropped), COCO_ERROR_NOMEM, or
 * COCO_ERROR_WOULDBLOCK outside a coroutine. */
COCO_API int coco_blocking_call(void *(*fn)(void *), void *arg, void **result,
                                uint64_t timeout_ms);
/* At most max helper threads (1 to 1024; 4 to begin with). */
COCO_API int coco_blocking_set_max_threads(size_t max);

/* Timer (lib/timer) */

/* A one-shot timer.  The handle is opaque and owned by the library: it is
 * released when the timer fires or is cancelled, and cancelling it after
 * that is harmless. */
typedef struct coco_timer coco_timer_t;

COCO_API coco_timer_t *coco_timer(uint64_t delay_ms, void (*callback)(void *),
                                  void *arg);
COCO_API void coco_timer_cancel(coco_timer_t *timer);
COCO_API int coco_sleep(uint64_t ms);

/* I/O (lib/io) */

/* Readiness for coco_wait_fd(). */
#define COCO_READABLE 1
#define COCO_WRITABLE 2
/* ORed into the events of coco_wait_fd(): the caller's own non-blocking
 * call on fd has just failed with EAGAIN, with no switch since, so the
 * wait parks at once instead of asking the system first. */
#define COCO_NOT_READY 4

/* These park the calling coroutine until the descriptor is ready and
 * return like read(2)/write(2): a count, or -1 with errno set. */
COCO_API int coco_read(int fd, void *buf, size_t count);
COCO_API int coco_write(int fd, const void *buf, size_t count);
COCO_API int coco_accept(int fd, void *addr, size_t *addrlen);
COCO_API int coco_connect(int fd, const void *addr, size_t addrlen);
/* The same with a limit in ms (COCO_INFINITE: none); errno ETIMEDOUT. */
COCO_API int coco_read_timeout(int fd, void *buf, size_t count, uint64_t timeout_ms);
COCO_API int coco_write_timeout(int fd, const void *buf, size_t count,
                                uint64_t timeout_ms);
COCO_API int coco_accept_timeout(int fd, void *addr, size_t *addrlen,
                                 uint64_t timeout_ms);
COCO_API int coco_connect_timeout(int fd, const void *addr, size_t addrlen,
                                  uint64_t timeout_ms);
/* Waits until fd is COCO_READABLE and/or COCO_WRITABLE; returns what is. */
COCO_API int coco_wait_fd(int fd, int events, uint64_t timeout_ms);
/* Wakes any coroutine waiting on fd (errno EBADF), then closes it. */
COCO_API int coco_close(int fd);

/* Child processes and signals (lib/io/proc.c); POSIX only.  <sys/select.h>
 * is where POSIX defines sigset_t for strict C as well. */
#ifndef _WIN32
#include <sys/types.h>
#include <sys/select.h>
/* Parks until the child pid (> 0) ends, reaps it and stores its status
 * like waitpid(2); returns pid, or -1 with errno (ECHILD, ETIMEDOUT,
 * EINVAL; EAGAIN outside a coroutine when it has not ended yet). */
COCO_API int coco_waitpid(pid_t pid, int *status, uint64_t timeout_ms);
/* Parks until a signal of set, blocked in every thread, is pending, takes
 * it and returns its number; -1 with errno (ETIMEDOUT, EINVAL, EAGAIN). */
COCO_API int coco_signal_wait(const sigset_t *set, uint64_t timeout_ms);
#endif

/* Generators (lib/loop/gen.c): coroutines resumed explicitly by their
 * caller, each resume running fn until it yields a value or returns.  No
 * scheduler is involved: a generator may be resumed from plain code or
 * from a coroutine (it then runs nested, on that coroutine's thread), from
 * any thread, but by one at a time.  fn must not park: coco_sleep(),
 * channel waits and the I/O calls fail in it as they do outside a
 * coroutine.  See coco_gen_create(3). */
typedef struct coco_gen coco_gen_t;

/* What coco_gen_resume() returns when fn has returned (not an error). */
#define COCO_GEN_DONE 1

COCO_API coco_gen_t *coco_gen_create(void *(*fn)(coco_gen_t *g, void *arg), void *arg,
                                     size_t stack_size);
/* COCO_OK with *out the value yielded, COCO_GEN_DONE with *out what fn
 * returned, or COCO_ERROR_INVALID (finished, running, NULL) or
 * COCO_ERROR_STACK_OVERFLOW. */
COCO_API int coco_gen_resume(coco_gen_t *g, void *in, void **out);
/* From inside g's fn only: returns the in of the next resume. */
COCO_API void *coco_gen_yield(coco_gen_t *g, void *value);
/* COCO_OK, or COCO_ERROR_INVALID on a running generator (left alone). */
COCO_API int coco_gen_destroy(coco_gen_t *g);

#ifdef __cplusplus
}
#endif

#endif /* COCO_H */
