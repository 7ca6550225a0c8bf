/* Plain OpenSSL over blocking sockets inside coroutines, with the hook
 * library linked in: accept, connect, SSL_accept, SSL_connect, SSL_read
 * and SSL_write are the ordinary blocking calls, and every coroutine of
 * the one scheduler still gets its turn.  Without the hook library the
 * first blocking accept() would stop the thread for good; the alarm
 * turns that into a failure instead of a hang.
 *
 * The certificate is made here, in memory: an ECDSA P-256 key and a
 * self-signed certificate for "localhost", which the clients trust and
 * check the host name of. */
#include "coco.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CLIENTS 12

static EVP_PKEY *key;
static X509 *cert;
static SSL_CTX *server_ctx, *client_ctx;
static int listen_fd = -1;
static uint16_t port;

static void make_cert(void)
{
    key = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(key);
    cert = X509_new();
    ck_assert_ptr_nonnull(cert);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
                               -1, -1, 0);
    X509_set_issuer_name(cert, name);
    ck_assert_int_gt(X509_sign(cert, key, EVP_sha256()), 0);
}

static void make_contexts(void)
{
    server_ctx = SSL_CTX_new(TLS_server_method());
    ck_assert_ptr_nonnull(server_ctx);
    ck_assert_int_eq(SSL_CTX_use_certificate(server_ctx, cert), 1);
    ck_assert_int_eq(SSL_CTX_use_PrivateKey(server_ctx, key), 1);
    client_ctx = SSL_CTX_new(TLS_client_method());
    ck_assert_ptr_nonnull(client_ctx);
    ck_assert_int_eq(X509_STORE_add_cert(SSL_CTX_get_cert_store(client_ctx), cert), 1);
    SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, NULL);
}

static void listen_loopback(void)
{
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(listen_fd, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(listen_fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(listen_fd, 64), 0);
    socklen_t len = sizeof sa;
    ck_assert_int_eq(getsockname(listen_fd, (struct sockaddr *)&sa, &len), 0);
    port = ntohs(sa.sin_port);
}

/* A blocking connect to the server, from a coroutine. */
static int connect_loopback(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Byte i of client c's message. */
static unsigned char pattern(int c, size_t i)
{
    return (unsigned char)(c * 31 + i * 7 + (i >> 8));
}

static size_t message_size(int c)
{
    static const size_t sizes[] = { 1, 100, 4096, 16385, 70000, 262144 };
    return sizes[c % 6];
}

static int handled, served_ok, clients_ok, ticks;
static int ticking = 1;

static void handler(void *arg)
{
    int fd = (int)(intptr_t)arg;
    SSL *ssl = SSL_new(server_ctx);
    ck_assert_ptr_nonnull(ssl);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
        char buf[8192];
        int n;
        while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) {
            int off = 0;
            while (off < n) {
                int w = SSL_write(ssl, buf + off, n - off);
                ck_assert_int_gt(w, 0);
                off += w;
            }
        }
        /* The client's close_notify ends the loop cleanly. */
        if (SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN) {
            SSL_shutdown(ssl);
            served_ok++;
        }
    }
    SSL_free(ssl);
    close(fd);
    handled++;
}

static void acceptor(void *arg)
{
    (void)arg;
    for (int i = 0; i < CLIENTS; i++) {
        int fd = accept(listen_fd, NULL, NULL);
        ck_assert_int_ge(fd, 0);
        ck_assert_ptr_nonnull(coco_create(coco_self()->sched, handler, (void *)(intptr_t)fd, 0));
    }
}

/* Proof that the thread is not stopped inside a blocking call. */
static void ticker(void *arg)
{
    (void)arg;
    while (ticking) {
        usleep(1000);
        ticks++;
    }
}

static void client(void *arg)
{
    int c = (int)(intptr_t)arg;
    int fd = connect_loopback();
    SSL *ssl = SSL_new(client_ctx);
    ck_assert_ptr_nonnull(ssl);
    ck_assert_int_eq(SSL_set1_host(ssl, "localhost"), 1);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set_fd(ssl, fd);
    ck_assert_int_eq(SSL_connect(ssl), 1);
    ck_assert_int_eq(SSL_get_verify_result(ssl), X509_V_OK);

    size_t size = message_size(c);
    unsigned char *out = malloc(size), *in = malloc(size);
    ck_assert(out != NULL && in != NULL);
    for (size_t i = 0; i < size; i++)
        out[i] = pattern(c, i);
    /* Writes and reads interleaved in pieces, so that neither side's
     * socket buffer has to hold the whole message. */
    size_t sent = 0, got = 0;
    while (got < size) {
        if (sent < size) {
            size_t piece = size - sent < 8192 ? size - sent : 8192;
            int w = SSL_write(ssl, out + sent, (int)piece);
            ck_assert_int_gt(w, 0);
            sent += (size_t)w;
        }
        while (got < sent) {
            int r = SSL_read(ssl, in + got, (int)(sent - got));
            ck_assert_int_gt(r, 0);
            got += (size_t)r;
        }
    }
    ck_assert(memcmp(in, out, size) == 0);
    /* Our close_notify, then the server's. */
    ck_assert_int_ge(SSL_shutdown(ssl), 0);
    char tail;
    ck_assert_int_le(SSL_read(ssl, &tail, 1), 0);
    ck_assert_int_eq(SSL_get_error(ssl, 0), SSL_ERROR_ZERO_RETURN);
    SSL_free(ssl);
    close(fd);
    free(out);
    free(in);
    clients_ok++;
}

static void last(void *arg)
{
    (void)arg;
    while (handled < CLIENTS)
        coco_sleep(2);
    ticking = 0;
}

START_TEST(test_plain_openssl_in_coroutines)
{
    alarm(60); /* a blocked thread fails the test instead of hanging it */
    make_cert();
    make_contexts();
    listen_loopback();
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(coco_create(s, acceptor, NULL, 0));
    ck_assert_ptr_nonnull(coco_create(s, ticker, NULL, 0));
    for (int c = 0; c < CLIENTS; c++)
        ck_assert_ptr_nonnull(coco_create(s, client, (void *)(intptr_t)c, 0));
    ck_assert_ptr_nonnull(coco_create(s, last, NULL, 0));
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    alarm(0);
    ck_assert_int_eq(clients_ok, CLIENTS);
    ck_assert_int_eq(served_ok, CLIENTS);
    /* The ticker ran between the handshakes and transfers. */
    ck_assert_int_gt(ticks, 0);
    close(listen_fd);
    SSL_CTX_free(server_ctx);
    SSL_CTX_free(client_ctx);
    X509_free(cert);
    EVP_PKEY_free(key);
}
END_TEST

static int refused;

static void wrong_host_client(void *arg)
{
    (void)arg;
    int fd = connect_loopback();
    SSL *ssl = SSL_new(client_ctx);
    ck_assert_ptr_nonnull(ssl);
    ck_assert_int_eq(SSL_set1_host(ssl, "not-this-host.test"), 1);
    SSL_set_fd(ssl, fd);
    ck_assert_int_ne(SSL_connect(ssl), 1);
    ck_assert_int_eq(SSL_get_verify_result(ssl), X509_V_ERR_HOSTNAME_MISMATCH);
    refused++;
    SSL_free(ssl);
    close(fd);
}

static void one_acceptor(void *arg)
{
    (void)arg;
    int fd = accept(listen_fd, NULL, NULL);
    ck_assert_int_ge(fd, 0);
    handler((void *)(intptr_t)fd);
}

START_TEST(test_wrong_host_refused)
{
    /* A certificate for "localhost" does not pass for another name: the
     * blocking handshake fails on both sides, nobody hangs. */
    alarm(60);
    make_cert();
    make_contexts();
    listen_loopback();
    handled = served_ok = refused = 0;
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(coco_create(s, one_acceptor, NULL, 0));
    ck_assert_ptr_nonnull(coco_create(s, wrong_host_client, NULL, 0));
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    coco_sched_destroy(s);
    alarm(0);
    ck_assert_int_eq(refused, 1);
    ck_assert_int_eq(handled, 1);
    ck_assert_int_eq(served_ok, 0);
    close(listen_fd);
    SSL_CTX_free(server_ctx);
    SSL_CTX_free(client_ctx);
    X509_free(cert);
    EVP_PKEY_free(key);
}
END_TEST

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    Suite *su = suite_create("tls_hook");
    TCase *tc = tcase_create("tls_hook");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_plain_openssl_in_coroutines);
    tcase_add_test(tc, test_wrong_host_refused);
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
