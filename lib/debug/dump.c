/*
 * dump.c - coco_sched_dump(): a line for every coroutine of a scheduler,
 * saying what it does and what it waits for, and COCO_DEBUG=deadlock,
 * which prints that dump when a run ends in COCO_ERROR_DEADLOCK.
 *
 * Everything comes from state the layers keep anyway: a parked coroutine's
 * wait_on and wait_obj lead to its waiter records, whose queues are tagged
 * with the object that owns them (inspect.h), to the descriptor and sides it
 * waits on, or to the coroutine it joins; its deadline record says when
 * the wait began and when it ends.  A wait without a deadline keeps no
 * start time (that would cost every park a clock read), so its duration
 * is not shown.
 *
 * A signal handler may call coco_sched_dump(): it takes no lock, allocates
 * nothing and writes with write(2) from a buffer on its own stack.  It
 * reads the scheduler without any synchronisation, so a dump taken while
 * the interrupted code was changing a queue may show that queue half
 * changed; it never writes to it.
 *
 * SPDX-License-Identifier: MIT
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#  define _GNU_SOURCE 1 /* dladdr */
#endif
#include "debug/inspect.h"
#include "io/io.h"
#include "sync/channel.h"
#include "sync/sync.h"
#include "timer/timer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#  include <io.h>
#else
#  include <unistd.h>
#endif
#if defined(__linux__)
#  include <sys/mman.h>
#  define DUMP_RESIDENT 1 /* mincore() */
#else
#  define DUMP_RESIDENT 0
#endif
#if HAVE_DLADDR
#  include <dlfcn.h>
#endif

/* The dump keeps its creation site in a union member of the descriptor
 * and nowhere else: the descriptor must not grow for it. */
#if UINTPTR_MAX == UINT64_MAX && !COCO_USE_UCONTEXT && !COCO__ASAN && \
    !COCO__TSAN && !COCO_VALGRIND
_Static_assert(sizeof(struct coco_co) == 96, "the coroutine descriptor grew");
#endif

/* ---------------------------------------------------------------- output */

typedef struct out {
    int fd;
    int err;           /* errno of the first failed write, or 0 */
    size_t len;
    char buf[256];
} out_t;

static void out_flush(out_t *o)
{
    size_t off = 0;
    while (off < o->len && o->err == 0) {
#if defined(_WIN32)
        long n = _write(o->fd, o->buf + off, (unsigned)(o->len - off));
#else
        long n = (long)write(o->fd, o->buf + off, o->len - off);
#endif
        if (n > 0)
            off += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            o->err = n < 0 ? errno : EIO;
    }
    o->len = 0;
}

static void put(out_t *o, const char *str)
{
    for (; *str != '\0'; str++) {
        if (o->len == sizeof o->buf)
            out_flush(o);
        o->buf[o->len++] = *str;
    }
}

static void put_u(out_t *o, uint64_t v)
{
    char t[24];
    size_t i = sizeof t - 1;
    t[i] = '\0';
    do {
        t[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    put(o, t + i);
}

static void put_x(out_t *o, uintptr_t v)
{
    char t[2 + 2 * sizeof v + 1];
    size_t i = sizeof t - 1;
    t[i] = '\0';
    do {
        t[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v != 0);
    t[--i] = 'x';
    t[--i] = '0';
    put(o, t + i);
}

static void put_p(out_t *o, const void *p)
{
    put_x(o, (uintptr_t)p);
}

/* ------------------------------------------------------- what it waits on */

static const char *state_name(unsigned state)
{
    switch (state) {
    case COCO_STATE_CREATED: return "created";
    case COCO_STATE_RUNNING: return "running";
    case COCO_STATE_WAITING: return "waiting";
    case COCO_STATE_READY: return "ready";
    case COCO_STATE_DEAD: return "dead";
    case COCO_STATE_OVERFLOW: return "overflowed";
    default: return "?";
    }
}

/* The object that owns q, and what it is. */
static void put_queue(out_t *o, const coco_sched_t *s, const coco__waitq_t *q)
{
    if (q == NULL) {
        put(o, "nothing");
        return;
    }
    if (q == &s->fd_freed) {
        put(o, "a free descriptor");
        return;
    }
    const char *obj = coco__waitq_owner(q);
    switch (q->kind) {
    case COCO__WQ_SEND:
    case COCO__WQ_RECV: {
        const coco_channel_t *ch = (const coco_channel_t *)(const void *)obj;
        put(o, "channel ");
        put_p(o, ch);
        put(o, q->kind == COCO__WQ_SEND ? " send" : " recv");
        put(o, " (capacity ");
        put_u(o, ch->cap);
        put(o, ", length ");
        put_u(o, ch->len);
        put(o, ch->closed ? ", closed)" : ")");
        break;
    }
    case COCO__WQ_MUTEX: {
        const coco_mutex_t *mu = (const coco_mutex_t *)(const void *)obj;
        put(o, "mutex ");
        put_p(o, mu);
        if (!mu->locked) {
            put(o, " (unlocked)");
        } else if (mu->owner == NULL) {
            put(o, " (held outside coroutines)");
        } else {
            put(o, " (held by coroutine ");
            put_u(o, mu->owner_id);
            put(o, ")");
        }
        break;
    }
    case COCO__WQ_COND:
        put(o, "cond ");
        put_p(o, obj);
        break;
    case COCO__WQ_SEM:
        put(o, "semaphore ");
        put_p(o, obj);
        break;
    case COCO__WQ_WAITGROUP:
        put(o, "waitgroup ");
        put_p(o, obj);
        break;
    default:
        put(o, "wait queue ");
        put_p(o, q);
        break;
    }
}

/* Waiter records: one, or a select's group, ended by COCO__WAIT_LAST. */
static void put_group(out_t *o, const coco_sched_t *s, const coco__waiter_t *w)
{
    if (w == NULL) {
        put(o, "nothing");
        return;
    }
    /* Bounded: a dump from a signal handler must end even when the
     * interrupted code left the group half built. */
    size_t n = 1;
    while (!(w[n - 1].pos & COCO__WAIT_LAST) && n < COCO__WAIT_LAST)
        n++;
    if (n == 1) {
        put_queue(o, s, w->q);
        return;
    }
    put(o, "select of ");
    put_u(o, n);
    put(o, " cases [");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            put(o, ", ");
        put_queue(o, s, w[i].q);
    }
    put(o, "]");
}

static void put_wait(out_t *o, const coco_sched_t *s, const coco_co_t *co)
{
    switch (co->wait_on) {
    case COCO__ON_GROUP:
        put_group(o, s, co->wait_obj);
        break;
    case COCO__ON_IO: {
        unsigned ev = coco__io_tag_events(co->wait_obj);
        put(o, "fd ");
        put_u(o, (uint64_t)coco__io_tag_fd(co->wait_obj));
        put(o, ev == (COCO__EV_READ | COCO__EV_WRITE) ? " read+write"
               : (ev & COCO__EV_READ) ? " read" : " write");
        break;
    }
    case COCO__ON_JOIN: {
        const coco_co_t *target = co->wait_obj;
        put(o, "join coroutine ");
        put_u(o, target != NULL ? target->id : 0);
        break;
    }
    default:
        put(o, co->wait_timer != NULL ? "sleep" : "nothing");
        break;
    }
}

/* -------------------------------------------------------- the rest of it */

typedef struct dump {
    out_t *o;
    const coco_sched_t *s;
    uint64_t now;        /* the scheduler's clock, if it has one */
    bool symbolize;      /* not in a signal handler: dladdr() may be used */
    const char *here;    /* an address on the calling stack */
} dump_t;

static void put_deadline(dump_t *d, const coco_co_t *co)
{
    const struct coco_tpark *tp = co->wait_timer;
    if (tp == NULL || d->s->timers == NULL)
        return;
    /* The wheel's node is the record's first member. */
    uint64_t deadline = ((const coco_tnode_t *)(const void *)tp)->deadline;
    uint64_t since = coco__tpark_since(tp);
    out_t *o = d->o;
    put(o, "; waited ");
    put_u(o, d->now > since ? d->now - since : 0);
    if (deadline >= d->now) {
        put(o, " ms, deadline in ");
        put_u(o, deadline - d->now);
        put(o, " ms");
    } else {
        put(o, " ms, deadline passed ");
        put_u(o, d->now - deadline);
        put(o, " ms ago");
    }
}

static void put_site(dump_t *d, const coco_co_t *co)
{
    out_t *o = d->o;
    if (co->flags & COCO__SHARED) {
        if (co->state == COCO_STATE_CREATED) {
            put(o, "; entry ");
            put_p(o, (const void *)(uintptr_t)co->first_fn);
        }
        return;
    }
    if (co->site == NULL)
        return;
    put(o, "; created at ");
    put_p(o, co->site);
#if HAVE_DLADDR
    Dl_info info;
    if (d->symbolize && dladdr(co->site, &info) != 0) {
        const char *sep = " (";
        if (info.dli_sname != NULL && info.dli_saddr != NULL) {
            put(o, sep);
            put(o, info.dli_sname);
            put(o, "+");
            put_x(o, (uintptr_t)co->site - (uintptr_t)info.dli_saddr);
            sep = ", ";
        }
        if (info.dli_fname != NULL && info.dli_fbase != NULL) {
            const char *base = strrchr(info.dli_fname, '/');
            put(o, sep);
            put(o, base != NULL ? base + 1 : info.dli_fname);
            put(o, "+");
            put_x(o, (uintptr_t)co->site - (uintptr_t)info.dli_fbase);
            sep = ", ";
        }
        if (sep[0] == ',')
            put(o, ")");
    }
#endif
}

size_t coco__resident(const char *lo, size_t size)
{
#if DUMP_RESIDENT
    size_t ps = coco__page_size(), total = 0;
    unsigned char vec[64];
    for (size_t off = 0; off < size; off += sizeof vec * ps) {
        size_t len = size - off < sizeof vec * ps ? size - off : sizeof vec * ps;
        if (mincore((void *)(uintptr_t)(lo + off), len, vec) != 0)
            return 0;
        for (size_t i = 0; i < (len + ps - 1) / ps; i++)
            total += (vec[i] & 1) ? ps : 0;
    }
    return total;
#else
    (void)lo;
    (void)size;
    return 0;
#endif
}

static void put_stack(dump_t *d, const coco_co_t *co)
{
    out_t *o = d->o;
    const char *lo = co->stack.lo, *top = lo + co->stack.size;
    if (lo == NULL)
        return;
    put(o, co->flags & COCO__SHARED ? "; shared stack " : "; stack ");
    put_u(o, co->stack.size);
    /* The saved stack pointer, or for the coroutine calling us our own. */
    const char *sp = coco__ctx_sp(&co->ctx);
    if (co->state == COCO_STATE_RUNNING)
        sp = d->here >= lo && d->here < top ? d->here : NULL;
    else if ((co->flags & COCO__SHARED) && co->state == COCO_STATE_CREATED)
        sp = NULL; /* no frame yet */
    if (sp != NULL && sp >= lo && sp <= top) {
        put(o, ", in use ");
        put_u(o, (uint64_t)(top - sp));
    }
#if DUMP_RESIDENT
    if (!(co->flags & COCO__SHARED)) {
        put(o, ", resident ");
        put_u(o, coco__resident(lo, co->stack.size));
    }
#endif
}

static void dump_co(const coco_co_t *co, void *arg)
{
    dump_t *d = arg;
    out_t *o = d->o;
    put(o, "coroutine ");
    put_u(o, co->id);
    put(o, " ");
    put(o, state_name(co->state));
    if (co->state == COCO_STATE_WAITING) {
        put(o, ": ");
        put_wait(o, d->s, co);
        put_deadline(d, co);
    }
    if (co->state != COCO_STATE_DEAD && co->state != COCO_STATE_OVERFLOW) {
        put_site(d, co);
        put_stack(d, co);
    }
    put(o, "\n");
    out_flush(o);
}

static int dump(const coco_sched_t *s, int fd, bool symbolize)
{
    if (s == NULL || fd < 0)
        return COCO_ERROR_INVALID;
    int saved_errno = errno;
    out_t o = { .fd = fd, .err = 0, .len = 0 };
    /* Our frame, on the calling stack even where a sanitizer moves
     * locals to a stack of its own. */
#if defined(__GNUC__)
    const char *here = __builtin_frame_address(0);
#else
    char local;
    const char *here = &local;
#endif
    dump_t d = { .o = &o, .s = s, .now = 0, .symbolize = symbolize, .here = here };
    if (s->timers != NULL)
        d.now = s->timers->virt ? s->timers->clock : coco__clock_ms();
    put(&o, "coco: scheduler ");
    put_p(&o, s);
    put(&o, ": ");
    put_u(&o, s->alive);
    put(&o, " alive, ");
    put_u(&o, s->rq_len);
    put(&o, " ready, ");
    put_u(&o, s->timers_pending);
    put(&o, " timers armed, ");
    put_u(&o, s->io_waiting);
    put(&o, " waiting for I/O\n");
    out_flush(&o);
    coco__co_each(s, dump_co, &d);
    out_flush(&o);
    int err = o.err;
    errno = saved_errno;
    return err == 0 ? COCO_OK : COCO_ERROR;
}

int coco_sched_dump(const coco_sched_t *sched, int fd)
{
    return dump(sched, fd, false);
}

/* True when the comma- or space-separated list names word. */
static bool names(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; *p != '\0';) {
        size_t len = strcspn(p, ", ");
        if (len == n && memcmp(p, word, n) == 0)
            return true;
        p += len;
        p += strspn(p, ", ");
    }
    return false;
}

void coco__debug_deadlock(const coco_sched_t *s)
{
    const char *env = getenv("COCO_DEBUG");
    if (env == NULL || !names(env, "deadlock"))
        return;
    static const char msg[] =
        "coco: deadlock: every coroutine waits and nothing can wake one\n";
    out_t o = { .fd = 2, .err = 0, .len = 0 };
    put(&o, msg);
    out_flush(&o);
    dump(s, 2, true);
}
