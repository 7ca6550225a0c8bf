/*
 * io.c - the hooked descriptor calls: read, write and their socket and
 * vector forms, connect, accept, poll, select, the sleeps, and the calls
 * that keep the descriptor table right (socket, pipe, close, dup, fcntl,
 * ioctl, setsockopt).
 *
 * Outside a coroutine every call is the C library's, after one test
 * (coco_self()), with one exception: a descriptor this library made
 * non-blocking behind the application's back (a socket that connected or
 * accepted in a coroutine) that says EAGAIN to an application that
 * believes it blocking is waited for with the real poll() and tried
 * again, as a blocking descriptor would have waited.
 *
 * In a coroutine a call makes one attempt that cannot block: sockets
 * take MSG_DONTWAIT, pipes RWF_NOWAIT, anything else is switched to
 * O_NONBLOCK for that one call.  When the attempt says EAGAIN and the
 * application did not make the descriptor non-blocking itself, the
 * coroutine parks on the descriptor with coco_wait_fd() and tries again.
 * Sockets that connect or accept are switched to O_NONBLOCK for good
 * (connect and accept have no per-call flag), and so are sockets the
 * application switches back to blocking in a coroutine (then a read that
 * has to wait need not ask whose the flag is); fcntl() and ioctl() hide
 * that from the application.
 *
 * SPDX-License-Identifier: MIT
 */
#undef _FORTIFY_SOURCE
#include "hook/hook.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

__thread __attribute__((tls_model("initial-exec"))) int hook_closing;

/* Set once this library has made any descriptor non-blocking behind the
 * application's back: until then no descriptor needs looking up. */
static int hook_any_nb;

static inline bool maybe_hook_nb(int fd)
{
    return HOOK_UNLIKELY(__atomic_load_n(&hook_any_nb, __ATOMIC_RELAXED) != 0) &&
           (hook_fd_get(fd) & HFD_HOOK_NB);
}

/* The real function, or NULL while the lookup is under way on this
 * thread (the caller then makes the system call). */
#define REAL(name) \
    (HOOK_LIKELY(hook_real.name != NULL) || hook_boot() == 0 ? hook_real.name : NULL)

static bool would_block(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK;
}

/* --------------------------------------------------------- timeouts */

/* The SO_RCVTIMEO or SO_SNDTIMEO of fd in milliseconds, COCO_INFINITE
 * when none was set through setsockopt(). */
static uint64_t sock_timeout(int fd, int opt)
{
    unsigned bit = opt == SO_RCVTIMEO ? HFD_RCVTIMEO : HFD_SNDTIMEO;
    if (!(hook_fd_get(fd) & bit))
        return COCO_INFINITE;
    struct timeval tv;
    socklen_t len = sizeof tv;
    int saved = errno;
    if (getsockopt(fd, SOL_SOCKET, opt, &tv, &len) != 0) {
        errno = saved;
        return COCO_INFINITE;
    }
    if (tv.tv_sec == 0 && tv.tv_usec == 0)
        return COCO_INFINITE;
    return (uint64_t)tv.tv_sec * 1000u + ((uint64_t)tv.tv_usec + 999u) / 1000u;
}

/* ------------------------------------------------ non-blocking modes */

/* Whether the application itself made fd non-blocking (its calls must
 * then say EAGAIN, not wait). */
static bool user_nonblock(int fd)
{
    if (hook_fd_get(fd) & HFD_HOOK_NB)
        return false;
    int saved = errno;
    int fl = hook_real.fcntl(fd, F_GETFL);
    errno = saved;
    return fl >= 0 && (fl & O_NONBLOCK);
}

/* Makes fd non-blocking for good unless the application already did;
 * records that it was this library.  0, or -1 with errno. */
static int take_nonblock(int fd)
{
    if (hook_fd_get(fd) & HFD_HOOK_NB)
        return 0;
    int fl = hook_real.fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    if (fl & O_NONBLOCK)
        return 1; /* the application's */
    if (hook_real.fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    hook_fd_set(fd, HFD_HOOK_NB);
    __atomic_store_n(&hook_any_nb, 1, __ATOMIC_RELAXED);
    return 0;
}

/* The application switches fd back to blocking in a coroutine: when fd
 * is a socket, this library keeps O_NONBLOCK on underneath and records
 * that it is its own, as for a socket that connected in a coroutine.  A
 * read that then has to wait knows whose flag it is without asking the
 * system (hiredis and libpq connect non-blocking and switch to blocking
 * once connected).  true when the caller must now turn O_NONBLOCK on
 * (and clear HFD_HOOK_NB again should that fail). */
static bool keep_nonblock(int fd)
{
    if (!hook_in_coroutine())
        return false;
    struct stat st;
    int saved = errno;
    bool sock = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
    errno = saved;
    if (!sock)
        return false;
    /* The bit first: a number the table cannot hold keeps the
     * application's own flag. */
    hook_fd_set(fd, HFD_HOOK_NB);
    if (!(hook_fd_get(fd) & HFD_HOOK_NB))
        return false;
    __atomic_store_n(&hook_any_nb, 1, __ATOMIC_RELAXED);
    return true;
}

/* ------------------------------------------------------ one attempt */

enum {
    OP_READ, OP_READV, OP_RECV, OP_RECVFROM, OP_RECVMSG,
    OP_WRITE, OP_WRITEV, OP_SEND, OP_SENDTO, OP_SENDMSG
};

typedef struct hop {
    int op;
    int fd;
    int flags;                  /* recv/send flags of the application */
    void *buf;                  /* read, recv, recvfrom */
    const void *cbuf;           /* write, send, sendto */
    size_t len;
    const struct iovec *iov;    /* readv, writev */
    int iovcnt;
    struct sockaddr *from;      /* recvfrom */
    socklen_t *fromlen;
    const struct sockaddr *to;  /* sendto */
    socklen_t tolen;
    struct msghdr *msg;         /* recvmsg */
    const struct msghdr *cmsg;  /* sendmsg */
} hop_t;

static bool op_writes(int op)
{
    return op >= OP_WRITE;
}

/* The plain call, as the application asked it. */
static ssize_t op_plain(const hop_t *o, int extra)
{
    switch (o->op) {
    case OP_READ: return hook_real.read(o->fd, o->buf, o->len);
    case OP_READV: return hook_real.readv(o->fd, o->iov, o->iovcnt);
    case OP_RECV: return hook_real.recv(o->fd, o->buf, o->len, o->flags | extra);
    case OP_RECVFROM:
        return hook_real.recvfrom(o->fd, o->buf, o->len, o->flags | extra, o->from, o->fromlen);
    case OP_RECVMSG: return hook_real.recvmsg(o->fd, o->msg, o->flags | extra);
    case OP_WRITE: return hook_real.write(o->fd, o->cbuf, o->len);
    case OP_WRITEV: return hook_real.writev(o->fd, o->iov, o->iovcnt);
    case OP_SEND: return hook_real.send(o->fd, o->cbuf, o->len, o->flags | extra);
    case OP_SENDTO:
        return hook_real.sendto(o->fd, o->cbuf, o->len, o->flags | extra, o->to, o->tolen);
    default: return hook_real.sendmsg(o->fd, o->cmsg, o->flags | extra);
    }
}

/* read/write/readv/writev on what may be a socket: as the socket call
 * with MSG_DONTWAIT (write keeps its SIGPIPE, as write(2) on a socket). */
static ssize_t op_as_socket(const hop_t *o)
{
    struct msghdr m;
    switch (o->op) {
    case OP_READ: return hook_real.recv(o->fd, o->buf, o->len, MSG_DONTWAIT);
    case OP_WRITE: return hook_real.send(o->fd, o->cbuf, o->len, MSG_DONTWAIT);
    case OP_READV:
    case OP_WRITEV:
        memset(&m, 0, sizeof m);
        m.msg_iov = (struct iovec *)o->iov;
        m.msg_iovlen = (size_t)o->iovcnt;
        return o->op == OP_READV ? hook_real.recvmsg(o->fd, &m, MSG_DONTWAIT)
                                 : hook_real.sendmsg(o->fd, &m, MSG_DONTWAIT);
    default:
        return op_plain(o, MSG_DONTWAIT);
    }
}

/* A pipe, with RWF_NOWAIT (changes nothing on the descriptor). */
static ssize_t op_as_fifo(const hop_t *o)
{
    struct iovec one;
    const struct iovec *v = o->iov;
    int n = o->iovcnt;
    if (o->op == OP_READ || o->op == OP_WRITE) {
        one.iov_base = o->op == OP_READ ? o->buf : (void *)o->cbuf;
        one.iov_len = o->len;
        v = &one;
        n = 1;
    }
    return o->op == OP_READ || o->op == OP_READV ? preadv2(o->fd, v, n, -1, RWF_NOWAIT)
                                                 : pwritev2(o->fd, v, n, -1, RWF_NOWAIT);
}

/* How op_try() made its attempt. */
enum {
    TRY_PLAIN,   /* as asked: the descriptor never blocks, the outcome is final */
    TRY_SOCKET,  /* MSG_DONTWAIT */
    TRY_FIFO,    /* RWF_NOWAIT */
    TRY_TOGGLED, /* O_NONBLOCK for the call */
    TRY_USER_NB  /* as asked: O_NONBLOCK was on, and not this library's */
};

/* Anything else that may block (a terminal, a character device): switched
 * to O_NONBLOCK for this one call, and back.  *how says whether the flag
 * was on already. */
static ssize_t op_toggled(const hop_t *o, int *how)
{
    int fl = hook_real.fcntl(o->fd, F_GETFL);
    if (fl < 0)
        return -1;
    if (fl & O_NONBLOCK) {
        if (!(hook_fd_get(o->fd) & HFD_HOOK_NB))
            *how = TRY_USER_NB;
        return op_plain(o, 0);
    }
    if (hook_real.fcntl(o->fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    ssize_t r = op_plain(o, 0);
    int e = errno;
    hook_real.fcntl(o->fd, F_SETFL, fl);
    errno = e;
    return r;
}

#define HFD_KIND (HFD_FIFO | HFD_OTHER)

/* One attempt that does not block; *how says how it was made (TRY_*). */
static ssize_t op_try(const hop_t *o, int *how)
{
    *how = TRY_SOCKET;
    if (o->op != OP_READ && o->op != OP_READV && o->op != OP_WRITE && o->op != OP_WRITEV)
        return op_as_socket(o); /* the socket calls: ENOTSOCK is final */
    unsigned kind = hook_fd_get(o->fd) & HFD_KIND;
    if (kind == 0) {
        ssize_t r = op_as_socket(o);
        if (r >= 0 || errno != ENOTSOCK)
            return r;
        /* Not a socket: what is it? */
        struct stat st;
        if (fstat(o->fd, &st) != 0)
            return -1;
        if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode)) {
            *how = TRY_PLAIN;
            return op_plain(o, 0);
        }
        kind = S_ISFIFO(st.st_mode) ? HFD_FIFO : HFD_OTHER;
        hook_fd_set(o->fd, kind);
    }
    if (kind & HFD_FIFO) {
        *how = TRY_FIFO;
        ssize_t r = op_as_fifo(o);
        if (r >= 0 || (errno != EOPNOTSUPP && errno != EINVAL && errno != ENOSYS &&
                       errno != ESPIPE))
            return r;
        /* The kernel takes no RWF_NOWAIT here (or the number now names
         * something else): the slow way from now on. */
        hook_fd_clear(o->fd, HFD_FIFO);
        hook_fd_set(o->fd, HFD_OTHER);
    }
    *how = TRY_TOGGLED;
    return op_toggled(o, how);
}

/* Whether a would-block answer of fd can be waited for: a pipe number
 * that now names a regular file (closed and reopened behind our back)
 * says EAGAIN to RWF_NOWAIT for data not in memory, and poll() calls it
 * ready for ever. */
static bool waitable(int fd)
{
    if (!(hook_fd_get(fd) & HFD_FIFO))
        return true;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
        return true;
    hook_fd_clear(fd, HFD_KIND);
    return false;
}

/* ---------------------------------------------------- the slow path */

/* The call of o for a descriptor the application believes blocking, in
 * a coroutine (or outside one, on a descriptor this library made
 * non-blocking): attempts, and waits between them. */
static ssize_t op_run(const hop_t *o)
{
    int saved = errno;
    bool writes = op_writes(o->op);
    int events = writes ? COCO_WRITABLE : COCO_READABLE;
    hook_wait_t w;
    bool timed = false;
    /* Restarted after a handler with SA_RESTART unless a timeout is set,
     * as signal(7) lists for sockets. */
    hook_wait_init(&w, COCO_INFINITE, HOOK_INTR_UNLESS_RESTART);
    bool whole = o->op == OP_WRITE || o->op == OP_SEND || o->op == OP_SENDTO;
    size_t done = 0;
    hop_t cur = *o;
    for (;;) {
        int how;
        ssize_t r = op_try(&cur, &how);
        bool plain = how == TRY_PLAIN;
        if (r >= 0) {
            if (whole && !plain && (size_t)r < cur.len && r > 0) {
                /* A blocking write writes it all (stream sockets, pipes). */
                done += (size_t)r;
                cur.cbuf = (const char *)cur.cbuf + r;
                cur.len -= (size_t)r;
                continue;
            }
            errno = saved;
            return (ssize_t)done + r;
        }
        int e = errno;
        if (plain || !would_block(e) || (o->flags & MSG_DONTWAIT) || how == TRY_USER_NB ||
            (how != TRY_TOGGLED && user_nonblock(o->fd)) || !waitable(o->fd)) {
            if (done > 0) {
                errno = saved;
                return (ssize_t)done;
            }
            errno = e;
            return -1;
        }
        if (!timed) {
            uint64_t t = sock_timeout(o->fd, writes ? SO_SNDTIMEO : SO_RCVTIMEO);
            timed = true;
            if (t != COCO_INFINITE) {
                w.limit_ms = t;
                w.intr = HOOK_INTR_ALWAYS;
            }
        }
        /* The attempt found the descriptor not ready an instant ago: the
         * wait need not ask again.  Not after RWF_NOWAIT, which may also
         * fail for a pipe's lock that another thread holds. */
        if (hook_park(&w, o->fd, how == TRY_FIFO ? events : events | COCO_NOT_READY) < 0) {
            e = errno == ETIMEDOUT ? EAGAIN : errno;
            if (done > 0) {
                errno = saved;
                return (ssize_t)done;
            }
            errno = e;
            return -1;
        }
    }
}

/* After the real call failed outside a coroutine: a descriptor this
 * library made non-blocking waits as the application expects.  Out of
 * line: the pass-through path is the real call and one test. */
__attribute__((noinline, cold)) static ssize_t outside_failed(const hop_t *o)
{
    if (!would_block(errno) || !(hook_fd_get(o->fd) & HFD_HOOK_NB) ||
        (o->flags & MSG_DONTWAIT))
        return -1;
    return op_run(o);
}

/* The pass-through path of each call: the real call, and on failure the
 * check above with the call's arguments made into an op. */
#define OUTSIDE(call, ...) \
    do { \
        ssize_t r_ = (call); \
        if (HOOK_LIKELY(r_ >= 0) || HOOK_LIKELY(!(hook_fd_get(fd) & HFD_HOOK_NB))) \
            return r_; \
        hop_t o_ = { __VA_ARGS__ }; \
        return outside_failed(&o_); \
    } while (0)

/* ------------------------------------------------- read and write */



/* Each call: the pass-through path inline (a tail call of the C
 * library's function), everything else in NAME_slow(). */
#define HOOK_SLOW __attribute__((noinline))
#define FAST(name, ...) \
    do { \
        if (HOOK_LIKELY(!hook_in_coroutine()) && HOOK_LIKELY(hook_real.name != NULL) && \
            !maybe_hook_nb(fd)) \
            return hook_real.name(__VA_ARGS__); \
        if (hook_from_coco(__builtin_return_address(0)) && hook_real.name != NULL) \
            return hook_real.name(__VA_ARGS__); \
        return name##_slow(__VA_ARGS__); \
    } while (0)

static HOOK_SLOW ssize_t read_slow(int fd, void *buf, size_t n)
{
    if (HOOK_UNLIKELY(REAL(read) == NULL))
        return syscall(SYS_read, fd, buf, n);
    if (HOOK_LIKELY(!hook_in_coroutine()))
        OUTSIDE(hook_real.read(fd, buf, n), .op = OP_READ, .fd = fd, .buf = buf, .len = n);
    hop_t o = { .op = OP_READ, .fd = fd, .buf = buf, .len = n };
    return op_run(&o);
}

ssize_t read(int fd, void *buf, size_t n)
{
    FAST(read, fd, buf, n);
}

static HOOK_SLOW ssize_t write_slow(int fd, const void *buf, size_t n)
{
    if (HOOK_UNLIKELY(REAL(write) == NULL))
        return syscall(SYS_write, fd, buf, n);
    if (HOOK_LIKELY(!hook_in_coroutine()))
        OUTSIDE(hook_real.write(fd, buf, n), .op = OP_WRITE, .fd = fd, .cbuf = buf, .len = n);
    hop_t o = { .op = OP_WRITE, .fd = fd, .cbuf = buf, .len = n };
    return op_run(&o);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    FAST(write, fd, buf, n);
}

static HOOK_SLOW ssize_t readv_slow(int fd, const struct iovec *iov, int cnt)
{
    if (HOOK_UNLIKELY(REAL(readv) == NULL))
        return syscall(SYS_readv, fd, iov, cnt);
    if (HOOK_LIKELY(!hook_in_coroutine()))
        OUTSIDE(hook_real.readv(fd, iov, cnt), .op = OP_READV, .fd = fd, .iov = iov, .iovcnt = cnt);
    hop_t o = { .op = OP_READV, .fd = fd, .iov = iov, .iovcnt = cnt };
    return op_run(&o);
}

ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    FAST(readv, fd, iov, cnt);
}

static HOOK_SLOW ssize_t writev_slow(int fd, const struct iovec *iov, int cnt)
{
    if (HOOK_UNLIKELY(REAL(writev) == NULL))
        return syscall(SYS_writev, fd, iov, cnt);
    if (HOOK_LIKELY(!hook_in_coroutine()))
        OUTSIDE(hook_real.writev(fd, iov, cnt), .op = OP_WRITEV, .fd = fd, .iov = iov, .iovcnt = cnt);
    hop_t o = { .op = OP_WRITEV, .fd = fd, .iov = iov, .iovcnt = cnt };
    return op_run(&o);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    FAST(writev, fd, iov, cnt);
}

static HOOK_SLOW ssize_t recv_slow(int fd, void *buf, size_t n, int flags)
{
    if (HOOK_UNLIKELY(REAL(recv) == NULL))
        return syscall(SYS_recvfrom, fd, buf, n, flags, NULL, NULL);
    if (HOOK_LIKELY(!hook_in_coroutine()) || (flags & MSG_DONTWAIT))
        OUTSIDE(hook_real.recv(fd, buf, n, flags), .op = OP_RECV, .fd = fd, .buf = buf, .len = n, .flags = flags);
    hop_t o = { .op = OP_RECV, .fd = fd, .buf = buf, .len = n, .flags = flags };
    return op_run(&o);
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    FAST(recv, fd, buf, n, flags);
}

static HOOK_SLOW ssize_t recvfrom_slow(int fd, void *buf, size_t n, int flags, struct sockaddr *from,
                 socklen_t *fromlen)
{
    if (HOOK_UNLIKELY(REAL(recvfrom) == NULL))
        return syscall(SYS_recvfrom, fd, buf, n, flags, from, fromlen);
    if (HOOK_LIKELY(!hook_in_coroutine()) || (flags & MSG_DONTWAIT))
        OUTSIDE(hook_real.recvfrom(fd, buf, n, flags, from, fromlen), .op = OP_RECVFROM, .fd = fd, .buf = buf, .len = n, .flags = flags,
                .from = from, .fromlen = fromlen);
    hop_t o = { .op = OP_RECVFROM, .fd = fd, .buf = buf, .len = n, .flags = flags,
                .from = from, .fromlen = fromlen };
    return op_run(&o);
}

ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from,
                 socklen_t *fromlen)
{
    FAST(recvfrom, fd, buf, n, flags, from, fromlen);
}

static HOOK_SLOW ssize_t recvmsg_slow(int fd, struct msghdr *msg, int flags)
{
    if (HOOK_UNLIKELY(REAL(recvmsg) == NULL))
        return syscall(SYS_recvmsg, fd, msg, flags);
    if (HOOK_LIKELY(!hook_in_coroutine()) || (flags & MSG_DONTWAIT))
        OUTSIDE(hook_real.recvmsg(fd, msg, flags), .op = OP_RECVMSG, .fd = fd, .msg = msg, .flags = flags);
    hop_t o = { .op = OP_RECVMSG, .fd = fd, .msg = msg, .flags = flags };
    return op_run(&o);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    FAST(recvmsg, fd, msg, flags);
}

static HOOK_SLOW ssize_t send_slow(int fd, const void *buf, size_t n, int flags)
{
    if (HOOK_UNLIKELY(REAL(send) == NULL))
        return syscall(SYS_sendto, fd, buf, n, flags, NULL, 0);
    if (HOOK_LIKELY(!hook_in_coroutine()) || (flags & MSG_DONTWAIT))
        OUTSIDE(hook_real.send(fd, buf, n, flags), .op = OP_SEND, .fd = fd, .cbuf = buf, .len = n, .flags = flags);
    hop_t o = { .op = OP_SEND, .fd = fd, .cbuf = buf, .len = n, .flags = flags };
    return op_run(&o);
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    FAST(send, fd, buf, n, flags);
}

static HOOK_SLOW ssize_t sendto_slow(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to,
               socklen_t tolen)
{
    if (HOOK_UNLIKELY(REAL(sendto) == NULL))
        return syscall(SYS_sendto, fd, buf, n, flags, to, tolen);
    if (HOOK_LIKELY(!hook_in_coroutine()) || (flags & MSG_DONTWAIT))
        OUTSIDE(hook_real.sendto(fd, buf, n, flags, to, tolen), .op = OP_SENDTO, .fd = fd, .cbuf = buf, .len = n, .flags = flags,
                .to = to, .tolen = tolen);
    hop_t o = { .op = OP_SENDTO, .fd = fd, .cbuf = buf, .len = n, .flags = flags,
                .to = to, .tolen = tolen };
    return op_run(&o);
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to,
               socklen_t tolen)
{
    FAST(sendto, fd, buf, n, flags, to, tolen);
}

static HOOK_SLOW ssize_t sendmsg_slow(int fd, const struct msghdr *msg, int flags)
{
    if (HOOK_UNLIKELY(REAL(sendmsg) == NULL))
        return syscall(SYS_sendmsg, fd, msg, flags);
    if (HOOK_LIKELY(!hook_in_coroutine()) || (flags & MSG_DONTWAIT))
        OUTSIDE(hook_real.sendmsg(fd, msg, flags), .op = OP_SENDMSG, .fd = fd, .cmsg = msg, .flags = flags);
    hop_t o = { .op = OP_SENDMSG, .fd = fd, .cmsg = msg, .flags = flags };
    return op_run(&o);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    FAST(sendmsg, fd, msg, flags);
}

/* _FORTIFY_SOURCE's checked forms, which programs built with it call. */
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    if (n > buflen && REAL(read_chk) != NULL)
        return hook_real.read_chk(fd, buf, n, buflen); /* reports the overflow */
    return read(fd, buf, n);
}

ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
    if (n > buflen && REAL(recv_chk) != NULL)
        return hook_real.recv_chk(fd, buf, n, buflen, flags);
    return recv(fd, buf, n, flags);
}

ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
                       struct sockaddr *from, socklen_t *fromlen)
{
    if (n > buflen && REAL(recvfrom_chk) != NULL)
        return hook_real.recvfrom_chk(fd, buf, n, buflen, flags, from, fromlen);
    return recvfrom(fd, buf, n, flags, from, fromlen);
}

/* ------------------------------------------------- connect and accept */

/* How a connect that was started ended: 0, or -1 with its errno. */
static int connect_result(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return -1;
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 0;
}

/* The rest of a connect under way on a descriptor the application
 * believes blocking. */
static int connect_wait(int fd, int saved)
{
    hook_wait_t w;
    uint64_t t = sock_timeout(fd, SO_SNDTIMEO);
    hook_wait_init(&w, t, t == COCO_INFINITE ? HOOK_INTR_UNLESS_RESTART : HOOK_INTR_ALWAYS);
    for (;;) {
        if (hook_park(&w, fd, COCO_WRITABLE) < 0) {
            /* What a blocking connect says when its time is up. */
            if (errno == ETIMEDOUT)
                errno = EINPROGRESS;
            return -1;
        }
        struct pollfd p = { fd, POLLOUT, 0 };
        int n = hook_real.poll(&p, 1, 0);
        if (n < 0)
            return -1;
        if (n == 0)
            continue;
        if (connect_result(fd) != 0)
            return -1;
        errno = saved;
        return 0;
    }
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    if (HOOK_UNLIKELY(REAL(connect) == NULL))
        return (int)syscall(SYS_connect, fd, addr, len);
    if (HOOK_LIKELY(!hook_in_coroutine())) {
        int r = hook_real.connect(fd, addr, len);
        if (HOOK_LIKELY(r == 0) || errno != EINPROGRESS ||
            !(hook_fd_get(fd) & HFD_HOOK_NB))
            return r;
        return connect_wait(fd, errno);
    }
    int saved = errno;
    int nb = take_nonblock(fd);
    if (nb != 0)
        return nb < 0 ? -1 : hook_real.connect(fd, addr, len);
    if (hook_real.connect(fd, addr, len) == 0) {
        errno = saved;
        return 0;
    }
    if (errno != EINPROGRESS)
        return -1;
    return connect_wait(fd, saved);
}

static int accept_run(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    int saved = errno;
    hook_wait_t w;
    uint64_t t = sock_timeout(fd, SO_RCVTIMEO);
    hook_wait_init(&w, t, t == COCO_INFINITE ? HOOK_INTR_UNLESS_RESTART : HOOK_INTR_ALWAYS);
    for (;;) {
        int c = hook_real.accept4(fd, addr, len, flags);
        if (c >= 0) {
            hook_fd_reset(c);
            errno = saved;
            return c;
        }
        if (!would_block(errno) || user_nonblock(fd))
            return -1;
        /* An empty queue an instant ago: a connection after it is an edge. */
        if (hook_park(&w, fd, COCO_READABLE | COCO_NOT_READY) < 0) {
            if (errno == ETIMEDOUT)
                errno = EAGAIN;
            return -1;
        }
    }
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    if (HOOK_UNLIKELY(REAL(accept4) == NULL))
        return (int)syscall(SYS_accept4, fd, addr, len, flags);
    if (HOOK_LIKELY(!hook_in_coroutine())) {
        int c = hook_real.accept4(fd, addr, len, flags);
        if (c >= 0) {
            hook_fd_reset(c);
            return c;
        }
        if (!would_block(errno) || !(hook_fd_get(fd) & HFD_HOOK_NB))
            return -1;
        return accept_run(fd, addr, len, flags);
    }
    int nb = take_nonblock(fd);
    if (nb != 0) {
        if (nb < 0)
            return -1;
        int c = hook_real.accept4(fd, addr, len, flags);
        if (c >= 0)
            hook_fd_reset(c);
        return c;
    }
    return accept_run(fd, addr, len, flags);
}

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    if (HOOK_UNLIKELY(REAL(accept4) == NULL))
        return (int)syscall(SYS_accept4, fd, addr, len, 0);
    return accept4(fd, addr, len, 0);
}

/* --------------------------------------------------- poll and select */

static int poll_events(short ev)
{
    int e = 0;
    if (ev & (POLLIN | POLLPRI | POLLRDHUP))
        e |= COCO_READABLE;
    if (ev & POLLOUT)
        e |= COCO_WRITABLE;
    return e != 0 ? e : COCO_READABLE; /* errors and hang-ups wake both */
}

/* poll() in a coroutine: asks the real poll() without waiting, and
 * between two asks parks on the one descriptor, or on an epoll instance
 * made for the call that watches them all. */
static int co_poll(struct pollfd *fds, nfds_t n, int timeout)
{
    int saved = errno;
    hook_wait_t w;
    hook_wait_init(&w, timeout < 0 ? COCO_INFINITE : (uint64_t)timeout, HOOK_INTR_ALWAYS);
    int r = hook_real.poll(fds, n, 0);
    if (r != 0 || timeout == 0)
        return r;
    /* The descriptor to park on: the only one, or an epoll set. */
    int fd = -1, events = 0, ep = -1, live = 0;
    for (nfds_t i = 0; i < n; i++) {
        if (fds[i].fd >= 0) {
            live++;
            fd = fds[i].fd;
            events = poll_events(fds[i].events);
        }
    }
    if (live > 1) {
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0)
            return -1;
        for (nfds_t i = 0; i < n; i++) {
            if (fds[i].fd < 0)
                continue;
            struct epoll_event ev = { 0, { .fd = fds[i].fd } };
            int e = poll_events(fds[i].events);
            if (e & COCO_READABLE)
                ev.events |= EPOLLIN | EPOLLPRI | EPOLLRDHUP;
            if (e & COCO_WRITABLE)
                ev.events |= EPOLLOUT;
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i].fd, &ev) != 0 && errno == EEXIST) {
                /* The same descriptor twice: watch the union. */
                struct epoll_event both = ev;
                both.events |= EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLOUT;
                epoll_ctl(ep, EPOLL_CTL_MOD, fds[i].fd, &both);
            }
        }
        fd = ep;
        events = COCO_READABLE;
    }
    for (;;) {
        int p;
        if (live == 0) {
            p = hook_nap(&w, NULL);
        } else {
            /* One descriptor: the real poll() has just found it not
             * ready, so the wait need not ask again.  Not the epoll set,
             * whose own readiness that poll() did not ask. */
            p = hook_park(&w, fd, live == 1 ? events | COCO_NOT_READY : events);
        }
        int e = errno;
        if (p == 0 || e == ETIMEDOUT || e == EBADF) {
            /* Whatever happened, poll() says what is ready now. */
            r = hook_real.poll(fds, n, 0);
            e = errno;
            if (r != 0 || p < 0 || live == 0)
                break;
            continue;
        }
        r = -1;
        break;
    }
    int e = errno;
    if (ep >= 0) {
        /* Through coco_close(): the scheduler forgets the number. */
        hook_closing = HOOK_CLOSE_REAL;
        coco_close(ep);
        hook_closing = HOOK_CLOSE_NONE;
    }
    errno = r >= 0 ? saved : e;
    return r;
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    if (HOOK_UNLIKELY(REAL(poll) == NULL)) {
        struct timespec ts, *tp = NULL;
        if (timeout >= 0) {
            ts.tv_sec = timeout / 1000;
            ts.tv_nsec = (long)(timeout % 1000) * 1000000L;
            tp = &ts;
        }
        return (int)syscall(SYS_ppoll, fds, n, tp, NULL, (size_t)_NSIG / 8);
    }
    if (HOOK_LIKELY(!hook_in_coroutine()) || timeout == 0)
        return hook_real.poll(fds, n, timeout);
    return co_poll(fds, n, timeout);
}

int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
    if (fdslen / sizeof *fds < n && REAL(poll_chk) != NULL)
        return hook_real.poll_chk(fds, n, timeout, fdslen);
    return poll(fds, n, timeout);
}

/* select() in a coroutine: as poll(). */
static int co_select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
    if (nfds < 0 || nfds > FD_SETSIZE) {
        errno = EINVAL;
        return -1;
    }
    if (tv != NULL && (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000)) {
        errno = EINVAL;
        return -1;
    }
    int timeout = -1;
    if (tv != NULL) {
        uint64_t ms = (uint64_t)tv->tv_sec * 1000u + ((uint64_t)tv->tv_usec + 999u) / 1000u;
        timeout = ms > INT_MAX ? INT_MAX : (int)ms;
    }
    struct pollfd *p = NULL;
    nfds_t n = 0;
    if (nfds > 0) {
        p = malloc((size_t)nfds * sizeof *p);
        if (p == NULL) {
            errno = ENOMEM;
            return -1;
        }
    }
    for (int fd = 0; fd < nfds; fd++) {
        short ev = 0;
        if (rd != NULL && FD_ISSET(fd, rd))
            ev |= POLLIN;
        if (wr != NULL && FD_ISSET(fd, wr))
            ev |= POLLOUT;
        if (ex != NULL && FD_ISSET(fd, ex))
            ev |= POLLPRI;
        if (ev != 0) {
            p[n].fd = fd;
            p[n].events = ev;
            p[n].revents = 0;
            n++;
        }
    }
    uint64_t start = tv != NULL ? hook_now_ms() : 0;
    int r = co_poll(p, n, timeout);
    if (r >= 0) {
        int e = errno, count = 0;
        for (nfds_t i = 0; i < n; i++) {
            if (p[i].revents & POLLNVAL) {
                free(p);
                errno = EBADF;
                return -1;
            }
        }
        if (rd != NULL)
            FD_ZERO(rd);
        if (wr != NULL)
            FD_ZERO(wr);
        if (ex != NULL)
            FD_ZERO(ex);
        for (nfds_t i = 0; i < n; i++) {
            short re = p[i].revents;
            /* As select() counts: an error or hang-up makes a descriptor
             * readable and writable where that was asked. */
            if (rd != NULL && (p[i].events & POLLIN) && (re & (POLLIN | POLLHUP | POLLERR))) {
                FD_SET(p[i].fd, rd);
                count++;
            }
            if (wr != NULL && (p[i].events & POLLOUT) && (re & (POLLOUT | POLLERR))) {
                FD_SET(p[i].fd, wr);
                count++;
            }
            if (ex != NULL && (p[i].events & POLLPRI) && (re & POLLPRI)) {
                FD_SET(p[i].fd, ex);
                count++;
            }
        }
        r = count;
        errno = e;
    }
    if (tv != NULL) {
        /* Linux leaves the time not slept in *tv. */
        uint64_t spent = hook_now_ms() - start;
        uint64_t left = spent >= (uint64_t)timeout ? 0 : (uint64_t)timeout - spent;
        tv->tv_sec = (time_t)(left / 1000u);
        tv->tv_usec = (suseconds_t)(left % 1000u) * 1000;
    }
    free(p);
    return r;
}

int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
    if (HOOK_UNLIKELY(REAL(select) == NULL)) {
#ifdef SYS_select
        return (int)syscall(SYS_select, nfds, rd, wr, ex, tv);
#else
        struct timespec ts, *tp = NULL;
        if (tv != NULL) {
            ts.tv_sec = tv->tv_sec;
            ts.tv_nsec = tv->tv_usec * 1000L;
            tp = &ts;
        }
        return (int)syscall(SYS_pselect6, nfds, rd, wr, ex, tp, NULL);
#endif
    }
    if (HOOK_LIKELY(!hook_in_coroutine()) ||
        (tv != NULL && tv->tv_sec == 0 && tv->tv_usec == 0))
        return hook_real.select(nfds, rd, wr, ex, tv);
    return co_select(nfds, rd, wr, ex, tv);
}

/* ------------------------------------------------------------- sleeps */

static int sys_nanosleep(const struct timespec *req, struct timespec *rem)
{
#ifdef SYS_nanosleep
    return (int)syscall(SYS_nanosleep, req, rem);
#else
    return (int)syscall(SYS_clock_nanosleep, CLOCK_REALTIME, 0, req, rem);
#endif
}

/* A sleep of the running coroutine for req; as nanosleep(). */
static int co_nanosleep(const struct timespec *req, struct timespec *rem)
{
    if (req == NULL) {
        errno = EFAULT;
        return -1;
    }
    if (req->tv_sec < 0 || req->tv_nsec < 0 || req->tv_nsec >= 1000000000L) {
        errno = EINVAL;
        return -1;
    }
    int saved = errno;
    /* Whole milliseconds, rounded up: a sleep is never shorter. */
    uint64_t ms = (uint64_t)req->tv_sec * 1000u + ((uint64_t)req->tv_nsec + 999999u) / 1000000u;
    if (ms == 0) {
        coco_yield();
        return 0;
    }
    hook_wait_t w;
    hook_wait_init(&w, ms, HOOK_INTR_ALWAYS);
    uint64_t left;
    if (hook_nap(&w, &left) == 0) {
        errno = saved;
        return 0;
    }
    if (rem != NULL) {
        rem->tv_sec = (time_t)(left / 1000u);
        rem->tv_nsec = (long)(left % 1000u) * 1000000L;
    }
    return -1;
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
    if (HOOK_UNLIKELY(REAL(nanosleep) == NULL))
        return sys_nanosleep(req, rem);
    if (HOOK_LIKELY(!hook_in_coroutine()))
        return hook_real.nanosleep(req, rem);
    return co_nanosleep(req, rem);
}

int usleep(useconds_t us)
{
    if (HOOK_UNLIKELY(REAL(usleep) == NULL)) {
        struct timespec ts = { (time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L };
        return sys_nanosleep(&ts, NULL);
    }
    if (HOOK_LIKELY(!hook_in_coroutine()))
        return hook_real.usleep(us);
    struct timespec ts = { (time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L };
    return co_nanosleep(&ts, NULL);
}

unsigned sleep(unsigned s)
{
    struct timespec ts = { (time_t)s, 0 }, rem = { 0, 0 };
    if (HOOK_UNLIKELY(REAL(sleep) == NULL)) {
        if (sys_nanosleep(&ts, &rem) == 0)
            return 0;
        return (unsigned)rem.tv_sec + (rem.tv_nsec > 0);
    }
    if (HOOK_LIKELY(!hook_in_coroutine()))
        return hook_real.sleep(s);
    int saved = errno;
    if (co_nanosleep(&ts, &rem) == 0)
        return 0;
    errno = saved;
    /* The seconds not slept, rounded up as glibc does. */
    return (unsigned)rem.tv_sec + (rem.tv_nsec > 0);
}

/* --------------------------------------- descriptors: made and closed */

int socket(int domain, int type, int proto)
{
    if (HOOK_UNLIKELY(REAL(socket) == NULL))
        return (int)syscall(SYS_socket, domain, type, proto);
    int fd = hook_real.socket(domain, type, proto);
    if (fd >= 0)
        hook_fd_reset(fd);
    return fd;
}

int socketpair(int domain, int type, int proto, int sv[2])
{
    if (HOOK_UNLIKELY(REAL(socketpair) == NULL))
        return (int)syscall(SYS_socketpair, domain, type, proto, sv);
    int r = hook_real.socketpair(domain, type, proto, sv);
    if (r == 0) {
        hook_fd_reset(sv[0]);
        hook_fd_reset(sv[1]);
    }
    return r;
}

int pipe2(int fds[2], int flags)
{
    if (HOOK_UNLIKELY(REAL(pipe2) == NULL))
        return (int)syscall(SYS_pipe2, fds, flags);
    int r = hook_real.pipe2(fds, flags);
    if (r == 0) {
        hook_fd_reset(fds[0]);
        hook_fd_reset(fds[1]);
    }
    return r;
}

int pipe(int fds[2])
{
    if (HOOK_UNLIKELY(REAL(pipe) == NULL))
        return (int)syscall(SYS_pipe2, fds, 0);
    int r = hook_real.pipe(fds);
    if (r == 0) {
        hook_fd_reset(fds[0]);
        hook_fd_reset(fds[1]);
    }
    return r;
}

/* close(): in a coroutine through coco_close(), so that a coroutine of
 * this thread parked on the descriptor wakes (its call fails with EBADF)
 * and the scheduler forgets the number. */
int close(int fd)
{
    if (HOOK_UNLIKELY(REAL(close) == NULL))
        return (int)syscall(SYS_close, fd);
    int how = hook_closing;
    if (HOOK_UNLIKELY(how != HOOK_CLOSE_NONE)) {
        if (how == HOOK_CLOSE_SKIP)
            return 0;
        return hook_real.close(fd);
    }
    hook_fd_reset(fd);
    if (HOOK_LIKELY(!hook_in_coroutine()) || hook_from_coco(__builtin_return_address(0)))
        return hook_real.close(fd);
    hook_closing = HOOK_CLOSE_REAL;
    int r = coco_close(fd);
    hook_closing = HOOK_CLOSE_NONE;
    return r;
}

/* Before newfd is replaced in a coroutine: what coco_close() does for the
 * scheduler, without closing (dup3 replaces it atomically). */
static void forget(int newfd)
{
    int saved = errno;
    hook_closing = HOOK_CLOSE_SKIP;
    coco_close(newfd);
    hook_closing = HOOK_CLOSE_NONE;
    errno = saved;
}

int dup(int fd)
{
    if (HOOK_UNLIKELY(REAL(dup) == NULL))
        return (int)syscall(SYS_dup, fd);
    int r = hook_real.dup(fd);
    if (r >= 0)
        hook_fd_copy(fd, r);
    return r;
}

int dup2(int fd, int newfd)
{
    if (HOOK_UNLIKELY(REAL(dup2) == NULL)) {
        if (fd == newfd)
            return (int)syscall(SYS_fcntl, fd, F_GETFD) < 0 ? -1 : fd;
        return (int)syscall(SYS_dup3, fd, newfd, 0);
    }
    if (fd != newfd && hook_in_coroutine() && hook_real.fcntl(fd, F_GETFD) >= 0)
        forget(newfd);
    int r = hook_real.dup2(fd, newfd);
    if (r >= 0)
        hook_fd_copy(fd, newfd);
    return r;
}

int dup3(int fd, int newfd, int flags)
{
    if (HOOK_UNLIKELY(REAL(dup3) == NULL))
        return (int)syscall(SYS_dup3, fd, newfd, flags);
    if (fd != newfd && hook_in_coroutine() && hook_real.fcntl(fd, F_GETFD) >= 0)
        forget(newfd);
    int r = hook_real.dup3(fd, newfd, flags);
    if (r >= 0)
        hook_fd_copy(fd, newfd);
    return r;
}

/* ------------------------------------------- the non-blocking flag */

static int do_fcntl(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
    if (HOOK_UNLIKELY(real == NULL))
        return (int)syscall(SYS_fcntl, fd, cmd, arg);
    switch (cmd) {
    case F_GETFL: {
        int r = real(fd, cmd);
        if (r >= 0 && HOOK_UNLIKELY(hook_fd_get(fd) & HFD_HOOK_NB))
            r &= ~O_NONBLOCK;
        return r;
    }
    case F_SETFL: {
        int fl = (int)(intptr_t)arg;
        if (!(hook_fd_get(fd) & HFD_HOOK_NB)) {
            if ((fl & O_NONBLOCK) || !keep_nonblock(fd))
                return real(fd, cmd, fl);
            int r = real(fd, cmd, fl | O_NONBLOCK);
            if (r != 0)
                hook_fd_clear(fd, HFD_HOOK_NB);
            return r;
        }
        if (fl & O_NONBLOCK) {
            /* The application takes the flag over. */
            int r = real(fd, cmd, fl);
            if (r == 0)
                hook_fd_clear(fd, HFD_HOOK_NB);
            return r;
        }
        /* Stays on underneath; calls go on blocking as far as the
         * application can tell. */
        return real(fd, cmd, fl | O_NONBLOCK);
    }
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
        int r = real(fd, cmd, (int)(intptr_t)arg);
        if (r >= 0)
            hook_fd_copy(fd, r);
        return r;
    }
    default:
        return real(fd, cmd, arg);
    }
}

int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (HOOK_LIKELY(cmd == F_GETFL) && HOOK_LIKELY(hook_real.fcntl != NULL)) {
        int r = hook_real.fcntl(fd, F_GETFL);
        if (maybe_hook_nb(fd) && r >= 0 && !hook_from_coco(__builtin_return_address(0)))
            r &= ~O_NONBLOCK;
        return r;
    }
    if (hook_from_coco(__builtin_return_address(0)) && hook_real.fcntl != NULL)
        return hook_real.fcntl(fd, cmd, arg); /* libcoco sees the flags as they are */
    return do_fcntl(REAL(fcntl), fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (hook_from_coco(__builtin_return_address(0)) && hook_real.fcntl64 != NULL)
        return hook_real.fcntl64(fd, cmd, arg); /* as fcntl() above */
    return do_fcntl(REAL(fcntl64), fd, cmd, arg);
}

int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (HOOK_UNLIKELY(REAL(ioctl) == NULL))
        return (int)syscall(SYS_ioctl, fd, req, arg);
    if (req == FIONBIO && arg != NULL && (hook_fd_get(fd) & HFD_HOOK_NB)) {
        if (*(const int *)arg != 0) {
            int r = hook_real.ioctl(fd, req, arg);
            if (r == 0)
                hook_fd_clear(fd, HFD_HOOK_NB);
            return r;
        }
        /* Blocking as far as the application can tell; the flag stays. */
        int fl = hook_real.fcntl(fd, F_GETFL);
        return fl < 0 ? -1 : 0;
    }
    if (req == FIONBIO && arg != NULL && *(const int *)arg == 0 && keep_nonblock(fd)) {
        int on = 1;
        int r = hook_real.ioctl(fd, FIONBIO, &on);
        if (r != 0)
            hook_fd_clear(fd, HFD_HOOK_NB);
        return r;
    }
    return hook_real.ioctl(fd, req, arg);
}

int setsockopt(int fd, int level, int opt, const void *val, socklen_t len)
{
    if (HOOK_UNLIKELY(REAL(setsockopt) == NULL))
        return (int)syscall(SYS_setsockopt, fd, level, opt, val, len);
    int r = hook_real.setsockopt(fd, level, opt, val, len);
    if (r == 0 && level == SOL_SOCKET && (opt == SO_RCVTIMEO || opt == SO_SNDTIMEO))
        hook_fd_set(fd, opt == SO_RCVTIMEO ? HFD_RCVTIMEO : HFD_SNDTIMEO);
    return r;
}

#ifdef HOOK_UNINSTRUMENTED
#  pragma clang attribute pop
#endif
