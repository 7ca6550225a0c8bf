/*
 * tls.c - libcoco-tls: OpenSSL driven from coroutines.
 *
 * Every call runs the OpenSSL operation at once; when OpenSSL says it
 * wants the socket readable or writable, the coroutine parks in
 * coco_wait_fd() for what is left of its time limit and tries again.
 *
 * The socket is reached through a BIO of our own that sends and receives
 * with MSG_DONTWAIT (and MSG_NOSIGNAL): the descriptor's flags are left as
 * the caller made them, and a peer that went away shows as EPIPE, never as
 * SIGPIPE, as with coco_write().
 *
 * Only the public interfaces of libcoco and OpenSSL are used.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "coco_tls.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

/* Calls that completed without waiting, in a row, after which the caller
 * yields once so that one busy connection does not keep the thread. */
#define TLS_FAIR_STREAK 16

struct coco_tls {
    SSL *ssl;
    int fd;
    int sys_errno;   /* errno of the BIO's last failed send/recv */
    int eof;         /* the BIO read end of file */
    unsigned streak; /* calls in a row that did not wait */
};

/* ------------------------------------------------------------ errors */

static __thread char tls_errbuf[256];

/* Records errno's text as the thread's last failure; keeps errno. */
static void note_errno(const char *what, int err)
{
    snprintf(tls_errbuf, sizeof tls_errbuf, "%s: %s", what, strerror(err));
    errno = err;
}

/* Records OpenSSL's queued reason (and the certificate verification
 * result, if that failed) as the thread's last failure, empties the
 * queue, and sets errno to err. */
static void note_ssl(const char *what, SSL *ssl, int err)
{
    unsigned long e = ERR_peek_last_error();
    char reason[160] = "";
    if (e != 0)
        ERR_error_string_n(e, reason, sizeof reason);
    else
        snprintf(reason, sizeof reason, "%s", strerror(err));
    long vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (vr != X509_V_OK)
        snprintf(tls_errbuf, sizeof tls_errbuf, "%s: %s: %s", what, reason,
                 X509_verify_cert_error_string(vr));
    else
        snprintf(tls_errbuf, sizeof tls_errbuf, "%s: %s", what, reason);
    ERR_clear_error();
    errno = err;
}

const char *coco_tls_error(void)
{
    return tls_errbuf;
}

/* --------------------------------------------------------------- BIO */

static int bio_write(BIO *b, const char *data, size_t len, size_t *written)
{
    coco_tls_t *t = BIO_get_data(b);
    ssize_t n;
    BIO_clear_retry_flags(b);
    do
        n = send(t->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n >= 0) {
        *written = (size_t)n;
        return 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        BIO_set_retry_write(b);
    else
        t->sys_errno = errno;
    *written = 0;
    return 0;
}

static int bio_read(BIO *b, char *data, size_t len, size_t *readbytes)
{
    coco_tls_t *t = BIO_get_data(b);
    ssize_t n;
    BIO_clear_retry_flags(b);
    do
        n = recv(t->fd, data, len, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    *readbytes = n > 0 ? (size_t)n : 0;
    if (n > 0)
        return 1;
    if (n == 0)
        t->eof = 1;
    else if (errno == EAGAIN || errno == EWOULDBLOCK)
        BIO_set_retry_read(b);
    else
        t->sys_errno = errno;
    return 0;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    coco_tls_t *t = BIO_get_data(b);
    (void)num;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_EOF:
        return t != NULL && t->eof;
    case BIO_C_GET_FD:
        if (t == NULL)
            return -1;
        if (ptr != NULL)
            *(int *)ptr = t->fd;
        return t->fd;
    default:
        return 0;
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static void bio_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                 "coco socket");
    if (m == NULL)
        return;
    if (!BIO_meth_set_write_ex(m, bio_write) || !BIO_meth_set_read_ex(m, bio_read) ||
        !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create)) {
        BIO_meth_free(m);
        return;
    }
    bio_method = m;
}

/* ----------------------------------------------------------- waiting */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t deadline_of(uint64_t timeout_ms)
{
    if (timeout_ms == COCO_INFINITE)
        return COCO_INFINITE;
    uint64_t now = now_ms();
    return timeout_ms > COCO_INFINITE - 1 - now ? COCO_INFINITE - 1 : now + timeout_ms;
}

enum { STEP_DONE, STEP_AGAIN, STEP_EOF, STEP_FAIL };

/* Sorts out what an SSL call that returned ok (1 for success) left:
 * STEP_DONE, STEP_AGAIN after waiting for the direction OpenSSL wants,
 * STEP_EOF on the peer's close_notify, or STEP_FAIL with errno set and
 * the failure recorded. */
static int step(coco_tls_t *t, int ok, int ret, uint64_t deadline, const char *what)
{
    if (ok) {
        if (++t->streak >= TLS_FAIR_STREAK) {
            t->streak = 0;
            if (coco_self() != NULL)
                coco_yield();
        }
        return STEP_DONE;
    }
    int e = SSL_get_error(t->ssl, ret);
    int events;
    switch (e) {
    case SSL_ERROR_WANT_READ:
        events = COCO_READABLE;
        break;
    case SSL_ERROR_WANT_WRITE:
        events = COCO_WRITABLE;
        break;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        return STEP_EOF;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0) {
            /* The socket failed, or closed before the peer's alert. */
            note_errno(what, t->sys_errno != 0 ? t->sys_errno : ECONNRESET);
            t->sys_errno = 0;
            return STEP_FAIL;
        }
        note_ssl(what, t->ssl, EPROTO);
        return STEP_FAIL;
    default:
        if (t->eof && ERR_GET_REASON(ERR_peek_last_error()) ==
                          SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            note_ssl(what, t->ssl, ECONNRESET);
            return STEP_FAIL;
        }
        note_ssl(what, t->ssl, EPROTO);
        return STEP_FAIL;
    }
    t->streak = 0;
    uint64_t left = COCO_INFINITE;
    if (deadline != COCO_INFINITE) {
        uint64_t now = now_ms();
        left = deadline > now ? deadline - now : 0;
    }
    if (coco_wait_fd(t->fd, events, left) < 0) {
        note_errno(what, errno);
        return STEP_FAIL;
    }
    return STEP_AGAIN;
}

/* ------------------------------------------------------------ contexts */

static SSL_CTX *ctx_new(const SSL_METHOD *method, const char *what)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(method);
    if (ctx == NULL) {
        note_ssl(what, NULL, ENOMEM);
        return NULL;
    }
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
        note_ssl(what, NULL, EINVAL);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL_CTX *coco_tls_ctx_server(const char *cert_file, const char *key_file)
{
    static const char what[] = "coco_tls_ctx_server";
    if (cert_file == NULL || key_file == NULL) {
        note_errno(what, EINVAL);
        return NULL;
    }
    SSL_CTX *ctx = ctx_new(TLS_server_method(), what);
    if (ctx == NULL)
        return NULL;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        note_ssl(what, NULL, EINVAL);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL_CTX *coco_tls_ctx_client(const char *ca_file, int flags)
{
    static const char what[] = "coco_tls_ctx_client";
    if ((flags & ~COCO_TLS_NO_VERIFY) != 0) {
        note_errno(what, EINVAL);
        return NULL;
    }
    SSL_CTX *ctx = ctx_new(TLS_client_method(), what);
    if (ctx == NULL)
        return NULL;
    if (flags & COCO_TLS_NO_VERIFY) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return ctx;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int ok = ca_file != NULL ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                             : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        note_ssl(what, NULL, EINVAL);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* --------------------------------------------------------- connections */

static coco_tls_t *conn_new(SSL_CTX *ctx, int fd, const char *what)
{
    if (ctx == NULL) {
        note_errno(what, EINVAL);
        return NULL;
    }
    if (fd < 0) {
        note_errno(what, EBADF);
        return NULL;
    }
    pthread_once(&bio_once, bio_method_init);
    ERR_clear_error();
    coco_tls_t *t = calloc(1, sizeof *t);
    BIO *bio = NULL;
    if (t == NULL || bio_method == NULL || (t->ssl = SSL_new(ctx)) == NULL ||
        (bio = BIO_new(bio_method)) == NULL) {
        if (t != NULL && t->ssl != NULL)
            SSL_free(t->ssl);
        free(t);
        note_ssl(what, NULL, ENOMEM);
        return NULL;
    }
    t->fd = fd;
    BIO_set_data(bio, t);
    SSL_set_bio(t->ssl, bio, bio);
    SSL_set_mode(t->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
                             SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return t;
}

static void conn_free(coco_tls_t *t)
{
    SSL_free(t->ssl);
    free(t);
}

static coco_tls_t *handshake(coco_tls_t *t, uint64_t timeout_ms, const char *what)
{
    uint64_t deadline = deadline_of(timeout_ms);
    for (;;) {
        ERR_clear_error();
        int r = SSL_do_handshake(t->ssl);
        switch (step(t, r == 1, r, deadline, what)) {
        case STEP_DONE:
            return t;
        case STEP_AGAIN:
            continue;
        case STEP_EOF:
            note_errno(what, ECONNRESET);
            break;
        default:
            break;
        }
        int err = errno;
        conn_free(t);
        errno = err;
        return NULL;
    }
}

coco_tls_t *coco_tls_accept(SSL_CTX *ctx, int fd, uint64_t timeout_ms)
{
    static const char what[] = "coco_tls_accept";
    coco_tls_t *t = conn_new(ctx, fd, what);
    if (t == NULL)
        return NULL;
    SSL_set_accept_state(t->ssl);
    return handshake(t, timeout_ms, what);
}

coco_tls_t *coco_tls_connect(SSL_CTX *ctx, int fd, const char *host,
                             uint64_t timeout_ms)
{
    static const char what[] = "coco_tls_connect";
    /* Verifying a certificate without a name to check it against would
     * accept any server holding any trusted certificate. */
    if (ctx != NULL && host == NULL && (SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER)) {
        note_errno(what, EINVAL);
        return NULL;
    }
    coco_tls_t *t = conn_new(ctx, fd, what);
    if (t == NULL)
        return NULL;
    SSL_set_connect_state(t->ssl);
    if (host != NULL) {
        /* SNI carries host names only, never addresses (RFC 6066). */
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(host);
        int ok = 1;
        if (ip == NULL)
            ok = SSL_set_tlsext_host_name(t->ssl, host) == 1;
        ASN1_OCTET_STRING_free(ip);
        if (ok && (SSL_get_verify_mode(t->ssl) & SSL_VERIFY_PEER))
            ok = SSL_set1_host(t->ssl, host) == 1;
        if (!ok) {
            note_ssl(what, NULL, EINVAL);
            conn_free(t);
            return NULL;
        }
    }
    return handshake(t, timeout_ms, what);
}

/* The checks coco_tls_read and coco_tls_write begin with: 1 to go on
 * (count clipped to what OpenSSL takes), 0 for nothing to do, -1 with
 * errno EINVAL. */
static int io_args(const coco_tls_t *tls, const void *buf, size_t *count, const char *what)
{
    if (tls == NULL || (buf == NULL && *count != 0)) {
        note_errno(what, EINVAL);
        return -1;
    }
    if (*count > INT_MAX)
        *count = INT_MAX;
    return *count != 0;
}

int coco_tls_read_timeout(coco_tls_t *tls, void *buf, size_t count, uint64_t timeout_ms)
{
    static const char what[] = "coco_tls_read";
    int bad = io_args(tls, buf, &count, what);
    if (bad <= 0)
        return bad;
    uint64_t deadline = deadline_of(timeout_ms);
    for (;;) {
        size_t got = 0;
        ERR_clear_error();
        int r = SSL_read_ex(tls->ssl, buf, count, &got);
        switch (step(tls, r == 1, r, deadline, what)) {
        case STEP_DONE:
            return (int)got;
        case STEP_AGAIN:
            continue;
        case STEP_EOF:
            return 0;
        default:
            return -1;
        }
    }
}

int coco_tls_read(coco_tls_t *tls, void *buf, size_t count)
{
    return coco_tls_read_timeout(tls, buf, count, COCO_INFINITE);
}

int coco_tls_write_timeout(coco_tls_t *tls, const void *buf, size_t count,
                           uint64_t timeout_ms)
{
    static const char what[] = "coco_tls_write";
    int bad = io_args(tls, buf, &count, what);
    if (bad <= 0)
        return bad;
    uint64_t deadline = deadline_of(timeout_ms);
    size_t done = 0;
    while (done < count) {
        size_t n = 0;
        ERR_clear_error();
        int r = SSL_write_ex(tls->ssl, (const char *)buf + done, count - done, &n);
        switch (step(tls, r == 1, r, deadline, what)) {
        case STEP_DONE:
            done += n;
            continue;
        case STEP_AGAIN:
            continue;
        case STEP_EOF:
            note_errno(what, EPIPE);
            break;
        default:
            break;
        }
        return done > 0 ? (int)done : -1;
    }
    return (int)done;
}

int coco_tls_write(coco_tls_t *tls, const void *buf, size_t count)
{
    return coco_tls_write_timeout(tls, buf, count, COCO_INFINITE);
}

int coco_tls_shutdown(coco_tls_t *tls, uint64_t timeout_ms)
{
    static const char what[] = "coco_tls_shutdown";
    if (tls == NULL) {
        note_errno(what, EINVAL);
        return -1;
    }
    uint64_t deadline = deadline_of(timeout_ms);
    for (;;) {
        ERR_clear_error();
        /* 0: our alert is out, the peer's not yet read; 1: both. */
        int r = SSL_shutdown(tls->ssl);
        switch (step(tls, r >= 0, r, deadline, what)) {
        case STEP_DONE:
        case STEP_EOF:
            return 0;
        case STEP_AGAIN:
            continue;
        default:
            return -1;
        }
    }
}

int coco_tls_close(coco_tls_t *tls)
{
    if (tls == NULL) {
        note_errno("coco_tls_close", EINVAL);
        return -1;
    }
    int fd = tls->fd;
    conn_free(tls);
    if (coco_close(fd) < 0) {
        note_errno("coco_tls_close", errno);
        return -1;
    }
    return 0;
}

SSL *coco_tls_ssl(coco_tls_t *tls)
{
    return tls != NULL ? tls->ssl : NULL;
}

int coco_tls_fd(coco_tls_t *tls)
{
    return tls != NULL ? tls->fd : -1;
}
