/*
 * hook.h - what the files of libcoco-hook share: the C library's own
 * functions (found with dlsym(RTLD_NEXT) by hook.c), the descriptor
 * table, and the wait of a call that parks its coroutine.
 *
 * libcoco-hook is not part of libcoco: it uses only libcoco's public
 * calls (coco_self, coco_wait_fd, coco_sleep, coco_close,
 * coco_blocking_call).
 *
 * SPDX-License-Identifier: MIT
 */
/* Under ThreadSanitizer the library is left uninstrumented: the runtime
 * calls sigaction() (this library's) while it starts, before an
 * instrumented function could run.  Outside the include guard: each .c
 * file that includes this pops it at its end. */
#if defined(__clang__) && defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    pragma clang attribute push(__attribute__((disable_sanitizer_instrumentation)), apply_to = function)
#    define HOOK_UNINSTRUMENTED 1
#  endif
#endif

#ifndef COCO_HOOK_H
#define COCO_HOOK_H

#ifndef _GNU_SOURCE
#  define _GNU_SOURCE 1
#endif

#include <coco.h>

#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#define HOOK_LIKELY(x) __builtin_expect(!!(x), 1)
#define HOOK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HOOK_HIDDEN __attribute__((visibility("hidden")))

/* The C library's functions.  NULL until hook_boot() found them; a call
 * that arrives meanwhile goes straight to the system call. */
struct hook_real {
    ssize_t (*read)(int, void *, size_t);
    ssize_t (*write)(int, const void *, size_t);
    ssize_t (*readv)(int, const struct iovec *, int);
    ssize_t (*writev)(int, const struct iovec *, int);
    ssize_t (*recv)(int, void *, size_t, int);
    ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
    ssize_t (*recvmsg)(int, struct msghdr *, int);
    ssize_t (*send)(int, const void *, size_t, int);
    ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
    ssize_t (*sendmsg)(int, const struct msghdr *, int);
    int (*connect)(int, const struct sockaddr *, socklen_t);
    int (*accept)(int, struct sockaddr *, socklen_t *);
    int (*accept4)(int, struct sockaddr *, socklen_t *, int);
    int (*poll)(struct pollfd *, nfds_t, int);
    int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
    unsigned (*sleep)(unsigned);
    int (*usleep)(useconds_t);
    int (*nanosleep)(const struct timespec *, struct timespec *);
    int (*socket)(int, int, int);
    int (*socketpair)(int, int, int, int *);
    int (*pipe)(int *);
    int (*pipe2)(int *, int);
    int (*close)(int);
    int (*dup)(int);
    int (*dup2)(int, int);
    int (*dup3)(int, int, int);
    int (*fcntl)(int, int, ...);
    int (*fcntl64)(int, int, ...);
    int (*ioctl)(int, unsigned long, ...);
    int (*setsockopt)(int, int, int, const void *, socklen_t);
    int (*getaddrinfo)(const char *, const char *, const struct addrinfo *,
                       struct addrinfo **);
    struct hostent *(*gethostbyname)(const char *);
    int (*gethostbyname_r)(const char *, struct hostent *, char *, size_t,
                           struct hostent **, int *);
    int (*getnameinfo)(const struct sockaddr *, socklen_t, char *, socklen_t,
                       char *, socklen_t, int);
    ssize_t (*read_chk)(int, void *, size_t, size_t);
    ssize_t (*recv_chk)(int, void *, size_t, size_t, int);
    ssize_t (*recvfrom_chk)(int, void *, size_t, size_t, int, struct sockaddr *,
                            socklen_t *);
    int (*poll_chk)(struct pollfd *, nfds_t, int, size_t);
    int (*sigaction)(int, const struct sigaction *, struct sigaction *);
};
extern struct hook_real hook_real HOOK_HIDDEN;

/* Finds the C library's functions; 0 when they were found. */
int hook_boot(void) HOOK_HIDDEN;

/* Where libcoco keeps the scheduler the calling thread runs
 * (coco_running_slot()), asked for once per thread (boot.c). */
extern __thread coco_sched_t *const *hook_slot
    __attribute__((tls_model("initial-exec"))) HOOK_HIDDEN;
coco_sched_t *const *hook_slot_init(void) HOOK_HIDDEN;

/* Whether the calling thread runs a coroutine: the one test of the path
 * that leaves a call to the C library.  A thread that runs no scheduler
 * learns so from one word, without calling into libcoco. */
static inline bool hook_in_coroutine(void)
{
    coco_sched_t *const *slot = hook_slot;
    if (HOOK_UNLIKELY(slot == NULL))
        slot = hook_slot_init();
    return HOOK_UNLIKELY(*slot != NULL) && coco_self() != NULL;
}

/* The code of libcoco itself: its own calls (the wake descriptor of a
 * scheduler, the pollers, coco_close) are already made the way they must
 * be, and go to the C library even in a coroutine. */
extern uintptr_t hook_coco_lo HOOK_HIDDEN;
extern uintptr_t hook_coco_hi HOOK_HIDDEN;

static inline bool hook_from_coco(const void *ret)
{
    return (uintptr_t)ret - hook_coco_lo < hook_coco_hi - hook_coco_lo;
}

/* ---------------------------------------------------- descriptor table */

/* What the library knows about one descriptor number (one byte each). */
#define HFD_HOOK_NB 0x01u  /* O_NONBLOCK is on because this library set it;
                            * the application believes the descriptor blocks */
#define HFD_RCVTIMEO 0x02u /* SO_RCVTIMEO was set through setsockopt() */
#define HFD_SNDTIMEO 0x04u /* SO_SNDTIMEO was set */
#define HFD_FIFO 0x08u     /* a pipe: reads and writes take RWF_NOWAIT */
#define HFD_OTHER 0x10u    /* neither socket nor pipe: O_NONBLOCK per call */
/* The top three bits count the times the number was closed or replaced
 * through this library: a call that waited in slices (see hook_park)
 * notices that the number it waits on names another descriptor now. */
#define HFD_GEN_ONE 0x20u
#define HFD_GEN_MASK 0xE0u

/* Two levels of byte maps (boot.c); numbers past them are not tracked. */
#define HOOK_CHUNK_BITS 12
#define HOOK_CHUNK_SIZE (1u << HOOK_CHUNK_BITS)
#define HOOK_NCHUNKS 1024u /* 4M descriptors */
extern uint8_t *hook_chunks[HOOK_NCHUNKS] HOOK_HIDDEN;

static inline unsigned hook_fd_get(int fd)
{
    if (HOOK_UNLIKELY(fd < 0 || ((unsigned)fd >> HOOK_CHUNK_BITS) >= HOOK_NCHUNKS))
        return 0;
    uint8_t *c = __atomic_load_n(&hook_chunks[(unsigned)fd >> HOOK_CHUNK_BITS],
                                 __ATOMIC_ACQUIRE);
    return c != NULL ? __atomic_load_n(&c[(unsigned)fd & (HOOK_CHUNK_SIZE - 1)],
                                       __ATOMIC_RELAXED)
                     : 0u;
}
void hook_fd_set(int fd, unsigned bits) HOOK_HIDDEN;
void hook_fd_clear(int fd, unsigned bits) HOOK_HIDDEN;
void hook_fd_reset(int fd) HOOK_HIDDEN;
void hook_fd_copy(int from, int to) HOOK_HIDDEN;

/* ------------------------------------------------------------ waiting */

/* How a signal handler's run ends a parked call (see hook_sig.c). */
enum { HOOK_INTR_NEVER, HOOK_INTR_ALWAYS, HOOK_INTR_UNLESS_RESTART };

/* A call's wait: its limit and the signal count when it started. */
typedef struct hook_wait {
    uint64_t limit_ms;      /* COCO_INFINITE: none */
    uint64_t start_ms;
    bool started;
    int intr;               /* HOOK_INTR_* */
    unsigned sig_gen;       /* hook_sig_gen() when it started */
    unsigned sig_gen_nr;    /* hook_sig_gen_nr() when it started */
    bool fd_known;          /* fd_gen is set (at the first park) */
    unsigned fd_gen;        /* the HFD_GEN_MASK bits of the descriptor */
} hook_wait_t;

void hook_wait_init(hook_wait_t *w, uint64_t limit_ms, int intr) HOOK_HIDDEN;
/* Parks the running coroutine until fd is ready for events (COCO_READABLE,
 * COCO_WRITABLE) or the wait's time is up.  0 when it is worth trying the
 * call again; -1 with errno: ETIMEDOUT (time is up), EINTR (a handler
 * ran), EBADF (closed meanwhile). */
int hook_park(hook_wait_t *w, int fd, int events) HOOK_HIDDEN;
/* Sleeps the running coroutine for the wait's time; 0, or -1 with EINTR
 * (the time left is then in *left_ms). */
int hook_nap(hook_wait_t *w, uint64_t *left_ms) HOOK_HIDDEN;
/* Monotonic milliseconds. */
uint64_t hook_now_ms(void) HOOK_HIDDEN;

/* Signals (sig.c): how many handlers have run on this thread, how many
 * of them without SA_RESTART, and whether the process ever installed a
 * handler through this library. */
unsigned hook_sig_gen(void) HOOK_HIDDEN;
unsigned hook_sig_gen_nr(void) HOOK_HIDDEN;
extern int hook_sig_handlers HOOK_HIDDEN;

/* Set while coco_close() runs for a hooked close() or dup2(): the close()
 * it makes goes to the C library (or, for dup2(), is left to dup3()). */
extern __thread __attribute__((tls_model("initial-exec"))) int hook_closing HOOK_HIDDEN;
enum { HOOK_CLOSE_NONE, HOOK_CLOSE_REAL, HOOK_CLOSE_SKIP };

#endif /* COCO_HOOK_H */
