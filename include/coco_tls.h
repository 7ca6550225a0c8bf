/*
 * coco_tls.h - libcoco-tls, TLS over OpenSSL for Coco coroutines.
 *
 * The handshake, reads, writes and the closing alert of a TLS connection
 * on a socket, each parking the calling coroutine (coco_wait_fd) whenever
 * OpenSSL wants the socket readable or writable, so that one thread serves
 * many TLS connections.  Link with -lcoco-tls -lcoco (pkg-config coco-tls).
 *
 * Errors are reported like Coco's other I/O calls: NULL or -1 with errno
 * set; a TLS failure (a bad certificate, a protocol error) sets EPROTO, and
 * coco_tls_error() describes the calling thread's last failure in words.
 *
 * Threads: an SSL_CTX may be shared by the schedulers of any number of
 * threads (OpenSSL allows it); a connection belongs to the thread whose
 * coroutine made it and is used by one coroutine at a time.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_TLS_H
#define COCO_TLS_H

#include <coco.h>
#include <openssl/ssl.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A TLS connection on a socket. */
typedef struct coco_tls coco_tls_t;

/* coco_tls_ctx_client() flags: do not verify the server's certificate
 * (testing only: anyone on the path can then read the traffic). */
#define COCO_TLS_NO_VERIFY 1

/* Contexts (plain SSL_CTX, released with SSL_CTX_free): TLS 1.2 or later;
 * a server with a certificate chain and its key (PEM files); a client that
 * verifies servers against the CA certificates of ca_file (PEM), or the
 * system's when ca_file is NULL.  NULL with errno on failure. */
COCO_API SSL_CTX *coco_tls_ctx_server(const char *cert_file, const char *key_file);
COCO_API SSL_CTX *coco_tls_ctx_client(const char *ca_file, int flags);

/* The handshake as a server or a client on the connected socket fd, within
 * timeout_ms (COCO_INFINITE: no limit).  host names the server for SNI and
 * for verification (a DNS name or an IP address).  On success the
 * connection owns fd; on failure fd is left open.  NULL with errno. */
COCO_API coco_tls_t *coco_tls_accept(SSL_CTX *ctx, int fd, uint64_t timeout_ms);
COCO_API coco_tls_t *coco_tls_connect(SSL_CTX *ctx, int fd, const char *host,
                                      uint64_t timeout_ms);

/* Like coco_read()/coco_write(): a read returns what is there (0 once the
 * peer has closed with a close_notify alert), a write all of buf unless
 * stopped; -1 with errno. */
COCO_API int coco_tls_read(coco_tls_t *tls, void *buf, size_t count);
COCO_API int coco_tls_write(coco_tls_t *tls, const void *buf, size_t count);
COCO_API int coco_tls_read_timeout(coco_tls_t *tls, void *buf, size_t count,
                                   uint64_t timeout_ms);
COCO_API int coco_tls_write_timeout(coco_tls_t *tls, const void *buf, size_t count,
                                    uint64_t timeout_ms);

/* Sends the close_notify alert (the peer's reads then return 0): 0 or -1. */
COCO_API int coco_tls_shutdown(coco_tls_t *tls, uint64_t timeout_ms);
/* Frees the connection and closes its socket with coco_close(): 0 or -1. */
COCO_API int coco_tls_close(coco_tls_t *tls);

/* The connection's OpenSSL object and socket (NULL / -1 for NULL). */
COCO_API SSL *coco_tls_ssl(coco_tls_t *tls);
COCO_API int coco_tls_fd(coco_tls_t *tls);

/* The calling thread's last failure of a coco_tls_* call, in words
 * (OpenSSL's reason, or strerror() of errno); "" if none yet. */
COCO_API const char *coco_tls_error(void);

#ifdef __cplusplus
}
#endif

#endif
