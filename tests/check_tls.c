/*
 * check_tls.c - libcoco-tls: handshakes, echo over socket pairs and
 * loopback TCP (fifty clients at once, up to 1 MiB each), certificates
 * that must be refused, peers that hang up or send garbage, time limits,
 * the closing alert, bad input, and two threads sharing one context.
 *
 * The suite makes its own ECDSA P-256 keys and self-signed certificates
 * (for localhost and 127.0.0.1) in a fresh directory, removed at the end.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco_tls.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static char dir[64];
static char good_cert[128], good_key[128], other_cert[128], other_key[128];
static int under_valgrind;

/* ---------------------------------------------------------- fixtures */

/* A self-signed certificate for localhost and 127.0.0.1, and its key. */
static int make_cert(const char *cert_path, const char *key_path, long serial)
{
    int ok = 0;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    FILE *f = NULL;
    if (key == NULL || x == NULL)
        goto out;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
                               -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    static const struct { int nid; const char *value; } exts[] = {
        { NID_basic_constraints, "critical,CA:TRUE" },
        { NID_subject_key_identifier, "hash" },
        { NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1" },
    };
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, exts[i].nid, exts[i].value);
        if (e == NULL)
            goto out;
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    if (X509_sign(x, key, EVP_sha256()) == 0)
        goto out;
    if ((f = fopen(key_path, "w")) == NULL ||
        !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) || fclose(f) != 0)
        goto out;
    if ((f = fopen(cert_path, "w")) == NULL || !PEM_write_X509(f, x) || fclose(f) != 0)
        goto out;
    f = NULL;
    ok = 1;
out:
    if (f != NULL)
        fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
    return ok;
}

static void setup_files(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/coco-tls.XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
    if (strlen(dir) > 40 || mkdtemp(dir) == NULL) {
        fprintf(stderr, "check_tls: cannot make a directory %s\n", dir);
        exit(EXIT_FAILURE);
    }
    snprintf(good_cert, sizeof good_cert, "%s/good.pem", dir);
    snprintf(good_key, sizeof good_key, "%s/good.key", dir);
    snprintf(other_cert, sizeof other_cert, "%s/other.pem", dir);
    snprintf(other_key, sizeof other_key, "%s/other.key", dir);
    if (!make_cert(good_cert, good_key, 1) || !make_cert(other_cert, other_key, 2)) {
        ERR_print_errors_fp(stderr);
        exit(EXIT_FAILURE);
    }
}

static void teardown_files(void)
{
    unlink(good_cert);
    unlink(good_key);
    unlink(other_cert);
    unlink(other_key);
    rmdir(dir);
}

/* ----------------------------------------------------------- helpers */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A listening socket on 127.0.0.1 and a free port. */
static int listen_local(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 256), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A socket connected to 127.0.0.1:port (from a coroutine). */
static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -1;
    if (coco_connect_timeout(fd, &a, sizeof a, 5000) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 31u + seed * 7u + (i >> 9)) & 0xff);
}

/* Echoes until the peer's closing alert, then sends its own. */
static int echo_conn(coco_tls_t *tls)
{
    char buf[16384];
    int n;
    while ((n = coco_tls_read_timeout(tls, buf, sizeof buf, 20000)) > 0)
        if (coco_tls_write_timeout(tls, buf, (size_t)n, 20000) != n)
            return -1;
    if (n == 0)
        coco_tls_shutdown(tls, 1000);
    return n;
}

/* ----------------------------------------------- a pair of coroutines */

struct pair {
    SSL_CTX *sctx, *cctx;
    int sfd, cfd;
    const char *host;
    /* results */
    int server_ok, client_ok;
    int server_errno, client_errno;
    char client_err[256];
    int reads_after_close[2];
};

static void pair_server(void *arg)
{
    struct pair *p = arg;
    coco_tls_t *t = coco_tls_accept(p->sctx, p->sfd, 5000);
    if (t == NULL) {
        p->server_errno = errno;
        coco_close(p->sfd);
        return;
    }
    p->server_ok = echo_conn(t) == 0;
    coco_tls_close(t);
}

static void pair_client(void *arg)
{
    struct pair *p = arg;
    coco_tls_t *t = coco_tls_connect(p->cctx, p->cfd, p->host, 5000);
    if (t == NULL) {
        p->client_errno = errno;
        snprintf(p->client_err, sizeof p->client_err, "%s", coco_tls_error());
        coco_close(p->cfd);
        return;
    }
    static const char msg[] = "hello over TLS";
    char buf[64];
    ck_assert_int_eq(coco_tls_write(t, msg, sizeof msg), (int)sizeof msg);
    int got = 0;
    while (got < (int)sizeof msg) {
        int n = coco_tls_read(t, buf + got, sizeof buf - (size_t)got);
        ck_assert_int_gt(n, 0);
        got += n;
    }
    ck_assert_int_eq(got, (int)sizeof msg);
    ck_assert_mem_eq(buf, msg, sizeof msg);
    ck_assert_int_eq(coco_tls_shutdown(t, 1000), 0);
    /* The server answers our alert with its own: reads then give 0. */
    p->reads_after_close[0] = coco_tls_read(t, buf, sizeof buf);
    p->reads_after_close[1] = coco_tls_read(t, buf, sizeof buf);
    p->client_ok = 1;
    coco_tls_close(t);
}

static void run_pair(struct pair *p)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    p->sfd = sv[0];
    p->cfd = sv[1];
    coco_sched_t *s = coco_sched_create();
    coco_create(s, pair_server, p, 0);
    coco_create(s, pair_client, p, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
}

START_TEST(test_pair_echo_and_close_notify)
{
    struct pair p = { .host = "localhost" };
    p.sctx = coco_tls_ctx_server(good_cert, good_key);
    p.cctx = coco_tls_ctx_client(good_cert, 0);
    ck_assert_ptr_nonnull(p.sctx);
    ck_assert_ptr_nonnull(p.cctx);
    run_pair(&p);
    ck_assert_msg(p.client_ok, "client failed: %s", p.client_err);
    ck_assert(p.server_ok);
    ck_assert_int_eq(p.reads_after_close[0], 0);
    ck_assert_int_eq(p.reads_after_close[1], 0);
    SSL_CTX_free(p.sctx);
    SSL_CTX_free(p.cctx);
}
END_TEST

/* The address as the host: verified against the certificate's IP entry. */
START_TEST(test_pair_ip_host)
{
    struct pair p = { .host = "127.0.0.1" };
    p.sctx = coco_tls_ctx_server(good_cert, good_key);
    p.cctx = coco_tls_ctx_client(good_cert, 0);
    run_pair(&p);
    ck_assert_msg(p.client_ok, "client failed: %s", p.client_err);
    SSL_CTX_free(p.sctx);
    SSL_CTX_free(p.cctx);
}
END_TEST

START_TEST(test_untrusted_cert_refused)
{
    struct pair p = { .host = "localhost" };
    p.sctx = coco_tls_ctx_server(other_cert, other_key);
    p.cctx = coco_tls_ctx_client(good_cert, 0);
    run_pair(&p);
    ck_assert(!p.client_ok);
    ck_assert_int_eq(p.client_errno, EPROTO);
    ck_assert_msg(strstr(p.client_err, "certificate verify failed") != NULL &&
                      strstr(p.client_err, "self-signed certificate") != NULL,
                  "error: %s", p.client_err);
    ck_assert(!p.server_ok);
    ck_assert_int_eq(p.server_errno, EPROTO);
    SSL_CTX_free(p.sctx);
    SSL_CTX_free(p.cctx);
}
END_TEST

START_TEST(test_wrong_host_refused)
{
    struct pair p = { .host = "wrong.example" };
    p.sctx = coco_tls_ctx_server(good_cert, good_key);
    p.cctx = coco_tls_ctx_client(good_cert, 0);
    run_pair(&p);
    ck_assert(!p.client_ok);
    ck_assert_int_eq(p.client_errno, EPROTO);
    ck_assert_msg(strstr(p.client_err, "ostname mismatch") != NULL, "error: %s", p.client_err);
    SSL_CTX_free(p.sctx);
    SSL_CTX_free(p.cctx);
}
END_TEST

/* Without verification the same untrusted server is accepted. */
START_TEST(test_no_verify_accepts)
{
    struct pair p = { .host = "wrong.example" };
    p.sctx = coco_tls_ctx_server(other_cert, other_key);
    p.cctx = coco_tls_ctx_client(NULL, COCO_TLS_NO_VERIFY);
    run_pair(&p);
    ck_assert_msg(p.client_ok, "client failed: %s", p.client_err);
    SSL_CTX_free(p.sctx);
    SSL_CTX_free(p.cctx);
}
END_TEST

/* ------------------------------------------------ many clients on TCP */

#define CHUNK 16384

struct many {
    SSL_CTX *sctx, *cctx;
    int lfd, port, clients, max_size;
    int served, verified, failed;
};

struct many_client {
    struct many *m;
    int index;
};

struct many_conn_arg {
    struct many *m;
    int fd;
};

static void many_conn(void *arg)
{
    struct many_conn_arg a = *(struct many_conn_arg *)arg;
    free(arg);
    coco_tls_t *t = coco_tls_accept(a.m->sctx, a.fd, 10000);
    if (t == NULL) {
        coco_close(a.fd);
        a.m->failed++;
        return;
    }
    if (echo_conn(t) == 0)
        a.m->served++;
    coco_tls_close(t);
}

static void many_acceptor(void *arg)
{
    struct many *m = arg;
    for (int i = 0; i < m->clients; i++) {
        int fd = coco_accept_timeout(m->lfd, NULL, NULL, 20000);
        ck_assert_int_ge(fd, 0);
        struct many_conn_arg *a = malloc(sizeof *a);
        ck_assert_ptr_nonnull(a);
        a->m = m;
        a->fd = fd;
        coco_detach(coco_create(coco_self()->sched, many_conn, a, 0));
    }
}

static void many_client(void *arg)
{
    struct many_client *c = arg;
    struct many *m = c->m;
    /* Sizes from 1 byte up to max_size, the last client the largest. */
    size_t size = c->index == m->clients - 1
                      ? (size_t)m->max_size
                      : 1 + ((size_t)c->index * 104729u) % (size_t)m->max_size;
    unsigned char *out = malloc(size), *in = malloc(size);
    ck_assert(out != NULL && in != NULL);
    fill(out, size, (unsigned)c->index);
    int fd = dial(m->port);
    ck_assert_int_ge(fd, 0);
    coco_tls_t *t = coco_tls_connect(m->cctx, fd, "localhost", 10000);
    ck_assert_msg(t != NULL, "connect: %s", coco_tls_error());
    /* A chunk out, its echo back: the server never waits on us. */
    size_t done = 0;
    while (done < size) {
        size_t n = size - done < CHUNK ? size - done : CHUNK;
        ck_assert_int_eq(coco_tls_write(t, out + done, n), (int)n);
        size_t got = 0;
        while (got < n) {
            int r = coco_tls_read_timeout(t, in + done + got, n - got, 20000);
            ck_assert_msg(r > 0, "read: %d %s", r, coco_tls_error());
            got += (size_t)r;
        }
        done += n;
    }
    if (memcmp(in, out, size) == 0)
        m->verified++;
    ck_assert_int_eq(coco_tls_shutdown(t, 1000), 0);
    ck_assert_int_eq(coco_tls_read(t, in, 1), 0);
    coco_tls_close(t);
    free(out);
    free(in);
}

START_TEST(test_many_clients_tcp)
{
    struct many m = { .clients = 50, .max_size = 1 << 20 };
    if (under_valgrind) {
        m.clients = 10;
        m.max_size = 1 << 16;
    }
    m.sctx = coco_tls_ctx_server(good_cert, good_key);
    m.cctx = coco_tls_ctx_client(good_cert, 0);
    m.lfd = listen_local(&m.port);
    struct many_client *cs = calloc((size_t)m.clients, sizeof *cs);
    coco_sched_t *s = coco_sched_create();
    coco_create(s, many_acceptor, &m, 0);
    for (int i = 0; i < m.clients; i++) {
        cs[i].m = &m;
        cs[i].index = i;
        coco_create(s, many_client, &cs[i], 0);
    }
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    ck_assert_int_eq(m.verified, m.clients);
    ck_assert_int_eq(m.served, m.clients);
    ck_assert_int_eq(m.failed, 0);
    free(cs);
    close(m.lfd);
    SSL_CTX_free(m.sctx);
    SSL_CTX_free(m.cctx);
}
END_TEST

/* ----------------------------------------- peers that misbehave (TCP) */

struct rude {
    SSL_CTX *sctx, *cctx;
    int lfd, port;
    int errnos[3];  /* of the accepts, in the order the peers come */
    int good_served;
};

/* Accepts three connections one after the other: the server must outlive
 * the first two peers and serve the third. */
static void rude_server(void *arg)
{
    struct rude *r = arg;
    for (int i = 0; i < 3; i++) {
        int fd = coco_accept_timeout(r->lfd, NULL, NULL, 10000);
        ck_assert_int_ge(fd, 0);
        coco_tls_t *t = coco_tls_accept(r->sctx, fd, 5000);
        if (t == NULL) {
            r->errnos[i] = errno;
            coco_close(fd);
            continue;
        }
        if (echo_conn(t) == 0)
            r->good_served = 1;
        coco_tls_close(t);
    }
}

static void rude_clients(void *arg)
{
    struct rude *r = arg;
    /* 1: the start of a handshake, then a hang-up. */
    int fd = dial(r->port);
    ck_assert_int_ge(fd, 0);
    static const unsigned char partial[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01 };
    ck_assert_int_eq(coco_write(fd, partial, sizeof partial), (int)sizeof partial);
    coco_close(fd);
    /* 2: plain text where TLS should be. */
    fd = dial(r->port);
    ck_assert_int_ge(fd, 0);
    static const char garbage[] = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
    ck_assert_int_eq(coco_write(fd, garbage, sizeof garbage - 1), (int)sizeof garbage - 1);
    char buf[256];
    /* The server answers with an alert or just closes; never with data. */
    while (coco_read_timeout(fd, buf, sizeof buf, 5000) > 0)
        ;
    coco_close(fd);
    /* 3: a proper client. */
    fd = dial(r->port);
    ck_assert_int_ge(fd, 0);
    coco_tls_t *t = coco_tls_connect(r->cctx, fd, "localhost", 5000);
    ck_assert_msg(t != NULL, "connect: %s", coco_tls_error());
    ck_assert_int_eq(coco_tls_write(t, "ping", 4), 4);
    ck_assert_int_eq(coco_tls_read(t, buf, sizeof buf), 4);
    ck_assert_mem_eq(buf, "ping", 4);
    ck_assert_int_eq(coco_tls_shutdown(t, 1000), 0);
    coco_tls_close(t);
}

START_TEST(test_hangup_and_garbage)
{
    struct rude r = { 0 };
    r.sctx = coco_tls_ctx_server(good_cert, good_key);
    r.cctx = coco_tls_ctx_client(good_cert, 0);
    r.lfd = listen_local(&r.port);
    coco_sched_t *s = coco_sched_create();
    coco_create(s, rude_server, &r, 0);
    coco_create(s, rude_clients, &r, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    ck_assert_int_eq(r.errnos[0], ECONNRESET);
    ck_assert_int_eq(r.errnos[1], EPROTO);
    ck_assert(r.good_served);
    close(r.lfd);
    SSL_CTX_free(r.sctx);
    SSL_CTX_free(r.cctx);
}
END_TEST

/* ------------------------------------------------------------- timeouts */

struct slow {
    SSL_CTX *sctx, *cctx;
    int sv[2];
    uint64_t waited;
    int err;
    int phase;
};

/* A peer that never says anything: the handshake times out. */
static void silent_accept(void *arg)
{
    struct slow *w = arg;
    uint64_t t0 = now_ms();
    coco_tls_t *t = coco_tls_accept(w->sctx, w->sv[0], 150);
    w->err = errno;
    w->waited = now_ms() - t0;
    ck_assert_ptr_null(t);
}

START_TEST(test_handshake_timeout)
{
    struct slow w = { 0 };
    w.sctx = coco_tls_ctx_server(good_cert, good_key);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, w.sv), 0);
    coco_sched_t *s = coco_sched_create();
    coco_create(s, silent_accept, &w, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    ck_assert_int_eq(w.err, ETIMEDOUT);
    ck_assert_uint_ge(w.waited, 150);
    ck_assert_uint_lt(w.waited, 3000);
    ck_assert_str_eq(coco_tls_error(), "coco_tls_accept: Connection timed out");
    /* The socket is still the caller's. */
    ck_assert_int_eq(close(w.sv[0]), 0);
    close(w.sv[1]);
    SSL_CTX_free(w.sctx);
}
END_TEST

/* A read times out, and the connection carries on afterwards. */
static void slow_server(void *arg)
{
    struct slow *w = arg;
    coco_tls_t *t = coco_tls_accept(w->sctx, w->sv[0], 5000);
    ck_assert_ptr_nonnull(t);
    char buf[16];
    uint64_t t0 = now_ms();
    ck_assert_int_eq(coco_tls_read_timeout(t, buf, sizeof buf, 100), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    w->waited = now_ms() - t0;
    ck_assert_int_eq(coco_tls_read_timeout(t, buf, sizeof buf, 0), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    w->phase = 1; /* the client may talk now */
    ck_assert_int_eq(coco_tls_read_timeout(t, buf, sizeof buf, 5000), 3);
    ck_assert_mem_eq(buf, "abc", 3);
    ck_assert_int_eq(coco_tls_read(t, buf, sizeof buf), 0);
    coco_tls_close(t);
}

static void slow_client(void *arg)
{
    struct slow *w = arg;
    coco_tls_t *t = coco_tls_connect(w->cctx, w->sv[1], "localhost", 5000);
    ck_assert_ptr_nonnull(t);
    while (w->phase == 0)
        coco_sleep(10);
    ck_assert_int_eq(coco_tls_write(t, "abc", 3), 3);
    ck_assert_int_eq(coco_tls_shutdown(t, 1000), 0);
    coco_tls_close(t);
}

START_TEST(test_read_timeout)
{
    struct slow w = { 0 };
    w.sctx = coco_tls_ctx_server(good_cert, good_key);
    w.cctx = coco_tls_ctx_client(good_cert, 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, w.sv), 0);
    coco_sched_t *s = coco_sched_create();
    coco_create(s, slow_server, &w, 0);
    coco_create(s, slow_client, &w, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    ck_assert_uint_ge(w.waited, 100);
    SSL_CTX_free(w.sctx);
    SSL_CTX_free(w.cctx);
}
END_TEST

/* A write to a peer that reads nothing times out after a partial write. */
static void stuck_writer(void *arg)
{
    struct slow *w = arg;
    coco_tls_t *t = coco_tls_accept(w->sctx, w->sv[0], 5000);
    ck_assert_ptr_nonnull(t);
    size_t size = 8 << 20;
    char *big = calloc(1, size);
    ck_assert_ptr_nonnull(big);
    int n = coco_tls_write_timeout(t, big, size, 200);
    ck_assert_int_gt(n, 0);
    ck_assert_int_lt(n, (int)size);
    free(big);
    w->phase = 1;
    coco_tls_close(t);
}

static void idle_client(void *arg)
{
    struct slow *w = arg;
    coco_tls_t *t = coco_tls_connect(w->cctx, w->sv[1], "localhost", 5000);
    ck_assert_ptr_nonnull(t);
    while (w->phase == 0)
        coco_sleep(10);
    coco_tls_close(t);
}

START_TEST(test_write_timeout_partial)
{
    struct slow w = { 0 };
    w.sctx = coco_tls_ctx_server(good_cert, good_key);
    w.cctx = coco_tls_ctx_client(good_cert, 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, w.sv), 0);
    coco_sched_t *s = coco_sched_create();
    coco_create(s, stuck_writer, &w, 0);
    coco_create(s, idle_client, &w, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    SSL_CTX_free(w.sctx);
    SSL_CTX_free(w.cctx);
}
END_TEST

/* ---------------------------------------------- close without an alert */

static void cut_server(void *arg)
{
    struct slow *w = arg;
    coco_tls_t *t = coco_tls_accept(w->sctx, w->sv[0], 5000);
    ck_assert_ptr_nonnull(t);
    char buf[16];
    ck_assert_int_eq(coco_tls_read(t, buf, sizeof buf), 2);
    /* The peer hangs up without close_notify: not an end of file. */
    ck_assert_int_eq(coco_tls_read(t, buf, sizeof buf), -1);
    w->err = errno;
    /* Writing to it now fails (EPIPE, or the error OpenSSL remembers). */
    ck_assert_int_eq(coco_tls_write(t, "x", 1), -1);
    coco_tls_close(t);
}

static void cut_client(void *arg)
{
    struct slow *w = arg;
    coco_tls_t *t = coco_tls_connect(w->cctx, w->sv[1], "localhost", 5000);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(coco_tls_write(t, "hi", 2), 2);
    coco_tls_close(t);
}

START_TEST(test_truncation_is_an_error)
{
    struct slow w = { 0 };
    w.sctx = coco_tls_ctx_server(good_cert, good_key);
    w.cctx = coco_tls_ctx_client(good_cert, 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, w.sv), 0);
    coco_sched_t *s = coco_sched_create();
    coco_create(s, cut_server, &w, 0);
    coco_create(s, cut_client, &w, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    ck_assert_int_eq(w.err, ECONNRESET);
    SSL_CTX_free(w.sctx);
    SSL_CTX_free(w.cctx);
}
END_TEST

/* ------------------------------------------------------------ bad input */

static void bad_input_coro(void *arg)
{
    SSL_CTX *ctx = arg;
    char buf[4];
    errno = 0;
    ck_assert_ptr_null(coco_tls_accept(NULL, 0, 100));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(coco_tls_accept(ctx, -1, 100));
    ck_assert_int_eq(errno, EBADF);
    /* A descriptor that is no longer open. */
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[0]);
    close(sv[1]);
    ck_assert_ptr_null(coco_tls_accept(ctx, sv[0], 100));
    ck_assert_int_eq(errno, EBADF);
    /* Not a socket. */
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_ptr_null(coco_tls_accept(ctx, p[0], 100));
    ck_assert_int_eq(errno, ENOTSOCK);
    close(p[0]);
    close(p[1]);
    ck_assert_int_eq(coco_tls_read(NULL, buf, sizeof buf), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coco_tls_write(NULL, buf, sizeof buf), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coco_tls_shutdown(NULL, 0), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coco_tls_close(NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(coco_tls_ssl(NULL));
    ck_assert_int_eq(coco_tls_fd(NULL), -1);
}

START_TEST(test_bad_input)
{
    ck_assert_ptr_null(coco_tls_ctx_server(NULL, good_key));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(coco_tls_ctx_server("/nonexistent/cert.pem", good_key));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_msg(strstr(coco_tls_error(), "coco_tls_ctx_server: ") == coco_tls_error(),
                  "error: %s", coco_tls_error());
    /* A key that is not the certificate's. */
    ck_assert_ptr_null(coco_tls_ctx_server(good_cert, other_key));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(coco_tls_ctx_client(NULL, 0x100));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(coco_tls_ctx_client("/nonexistent/ca.pem", 0));
    ck_assert_int_eq(errno, EINVAL);
    SSL_CTX *cctx = coco_tls_ctx_client(good_cert, 0);
    ck_assert_ptr_nonnull(cctx);
    /* A verifying client needs a name to verify. */
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_ptr_null(coco_tls_connect(cctx, sv[0], NULL, 100));
    ck_assert_int_eq(errno, EINVAL);
    SSL_CTX *sctx = coco_tls_ctx_server(good_cert, good_key);
    ck_assert_ptr_nonnull(sctx);
    /* Outside a coroutine a call that would wait fails with EAGAIN. */
    ck_assert_ptr_null(coco_tls_accept(sctx, sv[0], 1000));
    ck_assert_int_eq(errno, EAGAIN);
    close(sv[0]);
    close(sv[1]);
    coco_sched_t *s = coco_sched_create();
    coco_create(s, bad_input_coro, sctx, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
}
END_TEST

/* --------------------------------------------------------------- threads */

/* Two threads, each with its own scheduler, share the two contexts. */
static SSL_CTX *shared_sctx, *shared_cctx;

static void *thread_main(void *arg)
{
    int *ok = arg;
    for (int i = 0; i < 10; i++) {
        struct pair p = { .host = "localhost", .sctx = shared_sctx, .cctx = shared_cctx };
        run_pair(&p);
        if (p.client_ok && p.server_ok)
            (*ok)++;
    }
    return NULL;
}

START_TEST(test_two_threads_share_ctx)
{
    shared_sctx = coco_tls_ctx_server(good_cert, good_key);
    shared_cctx = coco_tls_ctx_client(good_cert, 0);
    int ok[2] = { 0, 0 };
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, thread_main, &ok[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_eq(ok[0], 10);
    ck_assert_int_eq(ok[1], 10);
    SSL_CTX_free(shared_sctx);
    SSL_CTX_free(shared_cctx);
}
END_TEST

int main(void)
{
    under_valgrind = getenv("COCO_TEST_UNDER_VALGRIND") != NULL;
    setup_files();
    Suite *su = suite_create("tls");
    TCase *tc = tcase_create("pair");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_pair_echo_and_close_notify);
    tcase_add_test(tc, test_pair_ip_host);
    tcase_add_test(tc, test_untrusted_cert_refused);
    tcase_add_test(tc, test_wrong_host_refused);
    tcase_add_test(tc, test_no_verify_accepts);
    tcase_add_test(tc, test_handshake_timeout);
    tcase_add_test(tc, test_read_timeout);
    tcase_add_test(tc, test_write_timeout_partial);
    tcase_add_test(tc, test_truncation_is_an_error);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_two_threads_share_ctx);
    suite_add_tcase(su, tc);

    tc = tcase_create("tcp");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_many_clients_tcp);
    tcase_add_test(tc, test_hangup_and_garbage);
    suite_add_tcase(su, tc);

    int rc = coco_test_run(su);
    teardown_files();
    return rc;
}
