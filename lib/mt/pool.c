/*
 * mt/pool.c - the blocking-work pool: coco_blocking_call() runs a function
 * on a helper thread while only the calling coroutine waits.
 *
 * One pool per process.  Its threads start when calls are queued and none
 * is idle, up to a limit (4, COCO_BLOCKING_THREADS, or
 * coco_blocking_set_max_threads()), and end after COCO__POOL_IDLE_MS with
 * nothing to do.  A call is a job on a FIFO queue; the coroutine waits for
 * it through a remote waiter (core/mt.h), which the helper thread signals
 * when the function has returned.
 *
 * Who frees a job.  The waiting coroutine may time out or be destroyed at
 * any point, and a destroyed one never runs again, so it cannot be left
 * the job to clean up.  The rule is therefore: once coco__remote_wait()
 * has returned anything but COCO_OK, the job belongs to the pool alone.
 * A helper thread that takes a job whose waiter has gone drops it without
 * calling its function; one that finishes a job whose waiter has gone
 * (coco__remote_signal() returns false) drops the job and the result.
 * When the signal does reach the waiter, the job is the waiter's: it
 * takes the result and frees it.  The signal is sent with the pool's
 * mutex held and the waiter takes that mutex before it reads the result,
 * so the job cannot be freed while coco__remote_signal() still uses it.
 * Lock order: the pool's mutex, then the library's internal lock (taken
 * inside the remote calls).
 *
 * A forked child has none of the parent's helper threads: it starts with
 * an empty pool, and the calls the parent had queued or started are the
 * parent's (a coroutine of the child that waits for one of them waits
 * until its timeout).
 *
 * The pool does not make the process share its objects between threads:
 * a helper thread touches nothing of Coco but its job and the remote
 * waiter in it.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco_internal.h"
#include "core/mt.h"
#include "timer/timer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#  include <windows.h>
#  include <process.h>
#else
#  include <pthread.h>
#  include <signal.h>
#  include <time.h>
#endif

/* How long a helper thread with nothing to do waits before it ends. */
#define COCO__POOL_IDLE_MS 10000u
/* The limit on helper threads: the default and the largest allowed. */
#define COCO__POOL_DEFAULT_MAX 4u
#define COCO__POOL_LIMIT 1024u

/* ------------------------------------------------------ the OS's threads */

#ifdef _WIN32
typedef SRWLOCK pool_mutex_t;
typedef CONDITION_VARIABLE pool_cond_t;
#  define POOL_MUTEX_INIT SRWLOCK_INIT
#  define POOL_COND_INIT CONDITION_VARIABLE_INIT

static void pool_lock(pool_mutex_t *m) { AcquireSRWLockExclusive(m); }
static void pool_unlock(pool_mutex_t *m) { ReleaseSRWLockExclusive(m); }
static void pool_signal(pool_cond_t *c) { WakeConditionVariable(c); }
static void pool_broadcast(pool_cond_t *c) { WakeAllConditionVariable(c); }

/* Waits at most ms; false when that time ran out. */
static bool pool_wait(pool_cond_t *c, pool_mutex_t *m, uint64_t ms)
{
    return SleepConditionVariableSRW(c, m, (DWORD)ms, 0) ||
           GetLastError() != ERROR_TIMEOUT;
}

static unsigned __stdcall pool_thread_win(void *arg);

static bool pool_start_thread(void)
{
    uintptr_t h = _beginthreadex(NULL, 0, pool_thread_win, NULL, 0, NULL);
    if (h == 0)
        return false;
    CloseHandle((HANDLE)h);
    return true;
}
#else
typedef pthread_mutex_t pool_mutex_t;
typedef pthread_cond_t pool_cond_t;
#  define POOL_MUTEX_INIT PTHREAD_MUTEX_INITIALIZER
#  define POOL_COND_INIT PTHREAD_COND_INITIALIZER

static void pool_lock(pool_mutex_t *m) { pthread_mutex_lock(m); }
static void pool_unlock(pool_mutex_t *m) { pthread_mutex_unlock(m); }
static void pool_signal(pool_cond_t *c) { pthread_cond_signal(c); }
static void pool_broadcast(pool_cond_t *c) { pthread_cond_broadcast(c); }

/* The condition variable keeps the default clock (CLOCK_REALTIME: the
 * only one every POSIX system takes here); a step of the clock only moves
 * the moment an idle thread ends. */
static bool pool_wait(pool_cond_t *c, pool_mutex_t *m, uint64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000u);
    ts.tv_nsec += (long)(ms % 1000u) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return pthread_cond_timedwait(c, m, &ts) != ETIMEDOUT;
}

static void *pool_thread(void *arg);

/* Helper threads take no asynchronous signal: a handler the program
 * installed for its own threads must not run on one of them, in the
 * middle of someone else's function.  A new thread inherits the mask of
 * the thread that creates it, so the mask is set around the creation. */
static bool pool_start_thread(void)
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0)
        return false;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    int rc = pthread_create(&t, &attr, pool_thread, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return rc == 0;
}
#endif

/* ------------------------------------------------------------- the pool */

/* One coco_blocking_call(): queued, then taken by a helper thread. */
struct coco__job {
    struct coco__job *next;      /* the queue, while queued */
    void *(*fn)(void *);
    void *arg;
    void *result;                /* what fn returned, once it has */
    struct coco__remote r;       /* the coroutine that waits for it */
};

static struct {
    pool_mutex_t lock;           /* guards everything below */
    pool_cond_t work;            /* a job was queued, or the limit went down */
    struct coco__job *head, *tail; /* queued jobs, oldest first */
    size_t queued;
    size_t threads;              /* started and not yet ended */
    size_t idle;                 /* ... of which waiting for work */
    size_t max;                  /* the limit on threads (0: not set yet) */
} pool = { POOL_MUTEX_INIT, POOL_COND_INIT, NULL, NULL, 0, 0, 0, 0 };

#ifndef _WIN32
/* fork() happens with the pool's mutex held by the forking thread, so
 * that no helper thread is inside coco__remote_signal() or
 * coco__remote_waiting() (both called under it) holding the library's
 * lock, which the child would find locked for ever. */
static void pool_before_fork(void)
{
    pthread_mutex_lock(&pool.lock);
}

static void pool_parent_after_fork(void)
{
    pthread_mutex_unlock(&pool.lock);
}

/* A forked child has only the thread that forked: the parent's helper
 * threads are not there to take, finish or signal anything.  The child
 * starts over with no thread and no job (the queued jobs are the parent's
 * and stay unfreed), and a mutex and condition variable made anew. */
static void pool_after_fork(void)
{
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.work, NULL);
    pool.head = pool.tail = NULL;
    pool.queued = 0;
    pool.threads = 0;
    pool.idle = 0;
}
#endif

/* With the lock held, once per process: the limit from the environment
 * (COCO_BLOCKING_THREADS, 1 to 1024; anything else is ignored), or the
 * default, and on POSIX the fork handler. */
static void pool_setup_locked(void)
{
    if (pool.max != 0)
        return;
    pool.max = COCO__POOL_DEFAULT_MAX;
    const char *env = getenv("COCO_BLOCKING_THREADS");
    if (env != NULL && *env >= '0' && *env <= '9') {
        int saved = errno;
        char *end;
        errno = 0;
        unsigned long v = strtoul(env, &end, 10);
        if (errno == 0 && *end == '\0' && v >= 1 && v <= COCO__POOL_LIMIT)
            pool.max = v;
        errno = saved;
    }
#ifndef _WIN32
    pthread_atfork(pool_before_fork, pool_parent_after_fork, pool_after_fork);
#endif
}

/* Starts threads while queued jobs outnumber the idle ones, up to the
 * limit. */
static void pool_grow_locked(void)
{
    while (pool.queued > pool.idle && pool.threads < pool.max) {
        if (!pool_start_thread())
            break;
        pool.threads++;
    }
}

/* What a helper thread does until it ends: take the oldest job, run it,
 * hand its result over. */
static void pool_serve(void)
{
    pool_lock(&pool.lock);
    uint64_t idle_since = coco__clock_ms();
    for (;;) {
        struct coco__job *j = pool.head;
        if (pool.threads > pool.max)
            break;               /* the limit went down: one thread less */
        if (j == NULL) {
            uint64_t idle = coco__clock_ms() - idle_since;
            if (idle >= COCO__POOL_IDLE_MS)
                break;
            pool.idle++;
            pool_wait(&pool.work, &pool.lock, COCO__POOL_IDLE_MS - idle);
            pool.idle--;
            continue;
        }
        pool.head = j->next;
        if (pool.head == NULL)
            pool.tail = NULL;
        pool.queued--;
        /* The waiter has gone before the job started: the function is
         * not called. */
        bool drop = !coco__remote_waiting(&j->r);
        if (!drop) {
            pool_unlock(&pool.lock);
            void *result = j->fn(j->arg);
            pool_lock(&pool.lock);
            j->result = result;
            drop = !coco__remote_signal(&j->r);
        }
        if (drop) {
            pool_unlock(&pool.lock);
            free(j);
            pool_lock(&pool.lock);
        }
        idle_since = coco__clock_ms();
    }
    pool.threads--;
    /* Leaving over the limit, this thread may have taken the wake-up
     * meant for a job: pass it on. */
    if (pool.head != NULL && pool.idle != 0)
        pool_signal(&pool.work);
    pool_unlock(&pool.lock);
}

#ifdef _WIN32
static unsigned __stdcall pool_thread_win(void *arg)
{
    (void)arg;
    pool_serve();
    return 0;
}
#else
static void *pool_thread(void *arg)
{
    (void)arg;
    pool_serve();
    return NULL;
}
#endif

int coco_blocking_call(void *(*fn)(void *), void *arg, void **result,
                       uint64_t timeout_ms)
{
    if (coco__current() == NULL)
        return COCO_ERROR_WOULDBLOCK;
    if (fn == NULL)
        return COCO_ERROR_INVALID;
    if (timeout_ms == 0)
        return COCO_ERROR_TIMEOUT; /* it would have to wait */
    struct coco__job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return COCO_ERROR_NOMEM;
    j->fn = fn;
    j->arg = arg;

    pool_lock(&pool.lock);
    pool_setup_locked();
    if (pool.tail != NULL)
        pool.tail->next = j;
    else
        pool.head = j;
    pool.tail = j;
    pool.queued++;
    pool_grow_locked();
    if (pool.threads == 0) {
        /* No thread could be started, and none is there to take it: the
         * queue holds only this job. */
        pool.head = pool.tail = NULL;
        pool.queued = 0;
        pool_unlock(&pool.lock);
        free(j);
        return COCO_ERROR_NOMEM;
    }
    if (pool.idle != 0)
        pool_signal(&pool.work);
    pool_unlock(&pool.lock);

    int rc = coco__remote_wait(&j->r, timeout_ms);
    if (rc != COCO_OK)
        return rc;               /* the job is the pool's now */
    /* Signalled: the helper thread is done with the job once it has let
     * the lock go. */
    pool_lock(&pool.lock);
    void *res = j->result;
    pool_unlock(&pool.lock);
    free(j);
    if (result != NULL)
        *result = res;
    return COCO_OK;
}

int coco_blocking_set_max_threads(size_t max)
{
    if (max < 1 || max > COCO__POOL_LIMIT)
        return COCO_ERROR_INVALID;
    pool_lock(&pool.lock);
    pool_setup_locked();
    pool.max = max;
    /* More room: start threads for what waits.  Less: wake the idle
     * threads so those over the limit end. */
    pool_grow_locked();
    if (pool.threads > pool.max && pool.idle != 0)
        pool_broadcast(&pool.work);
    pool_unlock(&pool.lock);
    return COCO_OK;
}
