/*
 * boot.c - finding the C library's functions, the descriptor table, and
 * the wait of a parked call.
 *
 * The functions are looked up with dlsym(RTLD_NEXT) once, by a
 * constructor or by the first hooked call that comes before it (another
 * library's constructor).  dlsym() may itself allocate memory, and an
 * allocator may write to a descriptor: a hooked call that arrives while
 * the lookup is under way on the same thread finds its pointer still NULL
 * and makes the system call itself (see the *_sys() fallbacks in io.c).
 *
 * SPDX-License-Identifier: MIT
 */
#undef _FORTIFY_SOURCE
#include "hook/hook.h"

#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct hook_real hook_real;
uintptr_t hook_coco_lo, hook_coco_hi;

__thread coco_sched_t *const *hook_slot __attribute__((tls_model("initial-exec")));

coco_sched_t *const *hook_slot_init(void)
{
    return hook_slot = coco_running_slot();
}

/* Finds the executable segments of the object that defines coco_self(). */
static int find_coco(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t self = (uintptr_t)arg;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (a < lo)
            lo = a;
        if (a + ph->p_memsz > hi)
            hi = a + ph->p_memsz;
    }
    if (self >= lo && self < hi) {
        hook_coco_lo = lo;
        hook_coco_hi = hi;
        return 1;
    }
    return 0;
}

/* 0: not looked up, 2: done.  A thread that is looking up has booting set. */
static int boot_state;
static __thread int booting;

static void *next(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

/* Says why the library cannot work and ends the process: without the C
 * library's functions every hooked call would have to be a bare system
 * call, and most of them (getaddrinfo, fcntl on old kernels) cannot. */
static void refuse(void)
{
    static const char msg[] =
        "libcoco-hook: the C library's functions cannot be found with "
        "dlsym(RTLD_NEXT); the library works only in dynamically linked "
        "programs (not in static ones)\n";
    ssize_t n = (ssize_t)syscall(SYS_write, 2, msg, sizeof msg - 1);
    (void)n;
    abort();
}

int hook_boot(void)
{
    if (__atomic_load_n(&boot_state, __ATOMIC_ACQUIRE) == 2)
        return 0;
    if (booting)
        return -1; /* called back from inside dlsym() */
    booting = 1;
    int saved = errno;
    struct hook_real r;
    memset(&r, 0, sizeof r);
#define FIND(field, name) r.field = (__typeof__(r.field))next(name)
    FIND(read, "read");
    FIND(write, "write");
    FIND(readv, "readv");
    FIND(writev, "writev");
    FIND(recv, "recv");
    FIND(recvfrom, "recvfrom");
    FIND(recvmsg, "recvmsg");
    FIND(send, "send");
    FIND(sendto, "sendto");
    FIND(sendmsg, "sendmsg");
    FIND(connect, "connect");
    FIND(accept, "accept");
    FIND(accept4, "accept4");
    FIND(poll, "poll");
    FIND(select, "select");
    FIND(sleep, "sleep");
    FIND(usleep, "usleep");
    FIND(nanosleep, "nanosleep");
    FIND(socket, "socket");
    FIND(socketpair, "socketpair");
    FIND(pipe, "pipe");
    FIND(pipe2, "pipe2");
    FIND(close, "close");
    FIND(dup, "dup");
    FIND(dup2, "dup2");
    FIND(dup3, "dup3");
    FIND(fcntl, "fcntl");
    FIND(fcntl64, "fcntl64");
    FIND(ioctl, "ioctl");
    FIND(setsockopt, "setsockopt");
    FIND(getaddrinfo, "getaddrinfo");
    FIND(gethostbyname, "gethostbyname");
    FIND(gethostbyname_r, "gethostbyname_r");
    FIND(getnameinfo, "getnameinfo");
    FIND(read_chk, "__read_chk");
    FIND(recv_chk, "__recv_chk");
    FIND(recvfrom_chk, "__recvfrom_chk");
    FIND(poll_chk, "__poll_chk");
    FIND(sigaction, "sigaction");
#undef FIND
    if (r.read == NULL || r.write == NULL || r.close == NULL || r.fcntl == NULL ||
        r.poll == NULL || r.sigaction == NULL)
        refuse();
    if (r.fcntl64 == NULL)
        r.fcntl64 = r.fcntl;
    if (hook_coco_hi == 0)
        dl_iterate_phdr(find_coco, (void *)(uintptr_t)&coco_self);
    /* Publish field by field: a thread may read any of them meanwhile. */
    void **dst = (void **)&hook_real;
    void *const *src = (void *const *)&r;
    for (size_t i = 0; i < sizeof r / sizeof(void *); i++)
        __atomic_store_n(&dst[i], src[i], __ATOMIC_RELEASE);
    __atomic_store_n(&boot_state, 2, __ATOMIC_RELEASE);
    booting = 0;
    errno = saved;
    return 0;
}

__attribute__((constructor)) static void hook_init(void)
{
    (void)hook_boot();
}

/* ---------------------------------------------------- descriptor table */

/* Two levels of byte maps, made with mmap() (no allocator: the table is
 * used while the allocator may be the caller) and never freed.  Numbers
 * past the last chunk are not tracked: the library then never sets
 * O_NONBLOCK on them behind the application's back. */
#define CHUNK_BITS HOOK_CHUNK_BITS
#define CHUNK_SIZE HOOK_CHUNK_SIZE
#define NCHUNKS HOOK_NCHUNKS

uint8_t *hook_chunks[NCHUNKS];
#define chunks hook_chunks

static uint8_t *slot(int fd, bool make)
{
    if (fd < 0 || ((unsigned)fd >> CHUNK_BITS) >= NCHUNKS)
        return NULL;
    uint8_t **cp = &chunks[(unsigned)fd >> CHUNK_BITS];
    uint8_t *c = __atomic_load_n(cp, __ATOMIC_ACQUIRE);
    if (c == NULL) {
        if (!make)
            return NULL;
        int saved = errno;
        void *m = mmap(NULL, CHUNK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        errno = saved;
        if (m == MAP_FAILED)
            return NULL;
        uint8_t *expected = NULL;
        if (__atomic_compare_exchange_n(cp, &expected, (uint8_t *)m, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            c = m;
        } else {
            munmap(m, CHUNK_SIZE);
            errno = saved;
            c = expected;
        }
    }
    return &c[(unsigned)fd & (CHUNK_SIZE - 1)];
}

void hook_fd_set(int fd, unsigned bits)
{
    uint8_t *p = slot(fd, true);
    if (p != NULL)
        __atomic_fetch_or(p, (uint8_t)bits, __ATOMIC_RELAXED);
}

void hook_fd_clear(int fd, unsigned bits)
{
    uint8_t *p = slot(fd, false);
    if (p != NULL)
        __atomic_fetch_and(p, (uint8_t)~bits, __ATOMIC_RELAXED);
}

/* Sets the slot to bits, counting one more generation. */
static void renew(uint8_t *p, unsigned bits)
{
    uint8_t old = __atomic_load_n(p, __ATOMIC_RELAXED), nv;
    do {
        nv = (uint8_t)(((old + HFD_GEN_ONE) & HFD_GEN_MASK) | (bits & ~HFD_GEN_MASK));
    } while (!__atomic_compare_exchange_n(p, &old, nv, true, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
}

void hook_fd_reset(int fd)
{
    uint8_t *p = slot(fd, false);
    if (p != NULL)
        renew(p, 0);
}

void hook_fd_copy(int from, int to)
{
    if (from == to)
        return;
    unsigned bits = hook_fd_get(from) & ~HFD_GEN_MASK;
    uint8_t *p = slot(to, bits != 0);
    if (p != NULL)
        renew(p, bits);
}

/* ------------------------------------------------------------ waiting */

/* How long a parked call that a signal handler may interrupt waits
 * between two looks at the handlers' count.  The scheduler's wait does
 * not end for a handler, so this bounds how late the EINTR comes. */
#define SIG_SLICE_MS 10

uint64_t hook_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void hook_wait_init(hook_wait_t *w, uint64_t limit_ms, int intr)
{
    w->limit_ms = limit_ms;
    w->start_ms = 0;
    w->started = false;
    w->intr = intr;
    w->sig_gen = hook_sig_gen();
    w->sig_gen_nr = hook_sig_gen_nr();
    w->fd_known = false;
    w->fd_gen = 0;
}

static uint64_t remaining(hook_wait_t *w)
{
    if (w->limit_ms == COCO_INFINITE)
        return COCO_INFINITE;
    if (!w->started) {
        w->start_ms = hook_now_ms();
        w->started = true;
        return w->limit_ms;
    }
    uint64_t spent = hook_now_ms() - w->start_ms;
    return spent >= w->limit_ms ? 0 : w->limit_ms - spent;
}

static bool interrupted(const hook_wait_t *w)
{
    switch (w->intr) {
    case HOOK_INTR_ALWAYS:
        return hook_sig_gen() != w->sig_gen;
    case HOOK_INTR_UNLESS_RESTART:
        return hook_sig_gen_nr() != w->sig_gen_nr;
    default:
        return false;
    }
}

static uint64_t slice_of(const hook_wait_t *w, uint64_t left)
{
    if (w->intr != HOOK_INTR_NEVER &&
        __atomic_load_n(&hook_sig_handlers, __ATOMIC_RELAXED) != 0 &&
        left > SIG_SLICE_MS)
        return SIG_SLICE_MS;
    return left;
}

/* Outside a coroutine: the same wait with the real poll(). */
static int park_thread(hook_wait_t *w, int fd, int events, uint64_t left)
{
    struct pollfd p = { fd, 0, 0 };
    if (events & COCO_READABLE)
        p.events |= POLLIN;
    if (events & COCO_WRITABLE)
        p.events |= POLLOUT;
    int ms = left == COCO_INFINITE ? -1 : left > INT32_MAX ? INT32_MAX : (int)left;
    int n = hook_real.poll(&p, 1, ms);
    if (n < 0) {
        if (errno != EINTR)
            return -1;
        return interrupted(w) ? -1 : 0;
    }
    if (n > 0 && (p.revents & POLLNVAL)) {
        errno = EBADF;
        return -1;
    }
    if (n == 0 && ms >= 0 && (uint64_t)ms >= left) {
        errno = ETIMEDOUT;
        return -1;
    }
    return 0;
}

int hook_park(hook_wait_t *w, int fd, int events)
{
    uint64_t left = remaining(w);
    if (left == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    if (!hook_in_coroutine())
        return park_thread(w, fd, events, left);
    if (!w->fd_known) {
        hook_fd_set(fd, 0); /* a slot, so that a close counts */
        w->fd_gen = hook_fd_get(fd) & HFD_GEN_MASK;
        w->fd_known = true;
    }
    uint64_t slice = slice_of(w, left);
    int r = coco_wait_fd(fd, events, slice);
    if (interrupted(w)) {
        errno = EINTR;
        return -1;
    }
    if (r < 0 && errno == EBUSY) {
        /* Another coroutine waits on the same side of fd (two acceptors
         * on one listening socket): look again a little later. */
        coco_sleep(left < 2 ? left : 2);
        if (interrupted(w)) {
            errno = EINTR;
            return -1;
        }
        r = 0;
    }
    if (r < 0 && errno != ETIMEDOUT)
        return -1;
    /* Closed or replaced while this call was between two waits: as if
     * it had been parked then. */
    if ((hook_fd_get(fd) & HFD_GEN_MASK) != w->fd_gen) {
        errno = EBADF;
        return -1;
    }
    if (r < 0)
        return slice < left ? 0 : -1;
    return 0;
}

int hook_nap(hook_wait_t *w, uint64_t *left_ms)
{
    for (;;) {
        uint64_t left = remaining(w);
        if (left_ms != NULL)
            *left_ms = left;
        if (left == 0)
            return 0;
        uint64_t slice = slice_of(w, left);
        if (coco_sleep(slice) != COCO_OK) {
            /* No timer to be had: sleep the thread rather than not at all. */
            struct timespec ts = { (time_t)(slice / 1000u), (long)(slice % 1000u) * 1000000L };
            hook_real.nanosleep(&ts, NULL);
        }
        if (interrupted(w)) {
            if (left_ms != NULL)
                *left_ms = remaining(w);
            errno = EINTR;
            return -1;
        }
    }
}

#ifdef HOOK_UNINSTRUMENTED
#  pragma clang attribute pop
#endif
