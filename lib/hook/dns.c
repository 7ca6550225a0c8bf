/*
 * dns.c - name lookups in a coroutine, run on Coco's pool of helper
 * threads (coco_blocking_call) while the coroutine waits.
 *
 * glibc's resolver reads and writes its sockets through internal calls
 * that no interposition sees, and reads /etc files with the same: hooked
 * or not, it would block the scheduler's thread.  On a helper thread,
 * which runs no scheduler, every call the resolver makes is the C
 * library's own.  What the lookup gets is copied onto the heap first, so
 * that a coroutine on a shared stack (whose frames move while it waits)
 * can use it too.
 *
 * SPDX-License-Identifier: MIT
 */
#undef _FORTIFY_SOURCE
#include "hook/hook.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define REAL(name) \
    (HOOK_LIKELY(hook_real.name != NULL) || hook_boot() == 0 ? hook_real.name : NULL)

static char *dup_or_null(const char *s, bool *fail)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *fail = true;
    return d;
}

/* ------------------------------------------------------- getaddrinfo */

struct gai_call {
    char *node, *service;
    struct addrinfo hints;
    bool has_hints;
    struct addrinfo *res;
    int rc, err;
};

static void *gai_run(void *arg)
{
    struct gai_call *c = arg;
    c->rc = hook_real.getaddrinfo(c->node, c->service, c->has_hints ? &c->hints : NULL,
                                  &c->res);
    c->err = errno;
    return NULL;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    if (HOOK_UNLIKELY(REAL(getaddrinfo) == NULL))
        return EAI_SYSTEM;
    if (HOOK_LIKELY(!hook_in_coroutine()))
        return hook_real.getaddrinfo(node, service, hints, res);
    int saved = errno;
    struct gai_call *c = calloc(1, sizeof *c);
    if (c == NULL)
        return EAI_MEMORY;
    bool fail = false;
    c->node = dup_or_null(node, &fail);
    c->service = dup_or_null(service, &fail);
    if (hints != NULL) {
        c->hints = *hints;
        c->has_hints = true;
    }
    int rc;
    if (fail) {
        rc = EAI_MEMORY;
    } else if (coco_blocking_call(gai_run, c, NULL, COCO_INFINITE) != COCO_OK) {
        /* No helper thread to be had: look up on this thread. */
        rc = hook_real.getaddrinfo(node, service, hints, res);
        saved = errno;
    } else {
        rc = c->rc;
        *res = c->res;
        saved = rc == EAI_SYSTEM ? c->err : saved;
    }
    free(c->node);
    free(c->service);
    free(c);
    errno = saved;
    return rc;
}

/* ----------------------------------------------------- gethostbyname */

struct ghbn_call {
    char *name;
    struct hostent he;
    struct hostent *result;
    char *buf;
    size_t buflen;
    int rc, herr;
};

static void *ghbn_run(void *arg)
{
    struct ghbn_call *c = arg;
    for (;;) {
        c->rc = hook_real.gethostbyname_r(c->name, &c->he, c->buf, c->buflen, &c->result,
                                          &c->herr);
        if (c->rc != ERANGE || c->buflen >= (1u << 20))
            return NULL;
        char *b = realloc(c->buf, c->buflen * 2);
        if (b == NULL)
            return NULL;
        c->buf = b;
        c->buflen *= 2;
    }
}

/* Runs gethostbyname_r on a helper thread into a heap buffer. */
static int ghbn_pool(struct ghbn_call *c, const char *name)
{
    bool fail = false;
    c->name = dup_or_null(name, &fail);
    c->buflen = 1024;
    c->buf = malloc(c->buflen);
    if (fail || c->buf == NULL || c->name == NULL) {
        c->rc = ENOMEM;
        c->herr = NO_RECOVERY;
        return -1;
    }
    if (coco_blocking_call(ghbn_run, c, NULL, COCO_INFINITE) != COCO_OK) {
        c->rc = ENOMEM;
        c->herr = TRY_AGAIN;
        return -1;
    }
    return 0;
}

/* Copies the hostent he (all of whose pointers point into one buffer) into
 * buf: 0, or ERANGE when buf is too small. */
static int hostent_copy(const struct hostent *he, struct hostent *out, char *buf,
                        size_t buflen)
{
    size_t naliases = 0, naddrs = 0;
    while (he->h_aliases != NULL && he->h_aliases[naliases] != NULL)
        naliases++;
    while (he->h_addr_list != NULL && he->h_addr_list[naddrs] != NULL)
        naddrs++;
    size_t need = (naliases + 1 + naddrs + 1) * sizeof(char *) +
                  naddrs * (size_t)he->h_length + strlen(he->h_name) + 1;
    for (size_t i = 0; i < naliases; i++)
        need += strlen(he->h_aliases[i]) + 1;
    need += sizeof(char *); /* alignment */
    if (need > buflen)
        return ERANGE;
    uintptr_t a = ((uintptr_t)buf + sizeof(char *) - 1) & ~(uintptr_t)(sizeof(char *) - 1);
    char **aliases = (char **)a;
    char **addrs = aliases + naliases + 1;
    char *p = (char *)(addrs + naddrs + 1);
    for (size_t i = 0; i < naddrs; i++) {
        memcpy(p, he->h_addr_list[i], (size_t)he->h_length);
        addrs[i] = p;
        p += he->h_length;
    }
    addrs[naddrs] = NULL;
    size_t l = strlen(he->h_name) + 1;
    memcpy(p, he->h_name, l);
    out->h_name = p;
    p += l;
    for (size_t i = 0; i < naliases; i++) {
        l = strlen(he->h_aliases[i]) + 1;
        memcpy(p, he->h_aliases[i], l);
        aliases[i] = p;
        p += l;
    }
    aliases[naliases] = NULL;
    out->h_aliases = aliases;
    out->h_addr_list = addrs;
    out->h_addrtype = he->h_addrtype;
    out->h_length = he->h_length;
    return 0;
}

int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
                    struct hostent **result, int *h_errnop)
{
    if (HOOK_UNLIKELY(REAL(gethostbyname_r) == NULL))
        return ENOSYS;
    if (HOOK_LIKELY(!hook_in_coroutine()))
        return hook_real.gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
    /* On the heap: the helper thread writes to it while this coroutine's
     * stack may be elsewhere (a shared stack). */
    struct ghbn_call *c = calloc(1, sizeof *c);
    if (c == NULL) {
        if (h_errnop != NULL)
            *h_errnop = NETDB_INTERNAL;
        return ENOMEM;
    }
    int rc;
    *result = NULL;
    if (ghbn_pool(c, name) != 0 || c->rc != 0 || c->result == NULL) {
        rc = c->rc;
        if (h_errnop != NULL)
            *h_errnop = c->herr;
    } else {
        rc = hostent_copy(&c->he, ret, buf, buflen);
        if (rc == 0)
            *result = ret;
        else if (h_errnop != NULL)
            *h_errnop = NETDB_INTERNAL;
    }
    free(c->name);
    free(c->buf);
    free(c);
    return rc;
}

/* gethostbyname()'s static result, one per thread; the buffer is freed
 * when the thread ends. */
static __thread struct hostent tls_he;
static __thread char *tls_buf;
static __thread size_t tls_buflen;
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_key_make(void)
{
    (void)pthread_key_create(&tls_key, free);
}

struct hostent *gethostbyname(const char *name)
{
    if (HOOK_UNLIKELY(REAL(gethostbyname) == NULL))
        return NULL;
    if (HOOK_LIKELY(!hook_in_coroutine()))
        return hook_real.gethostbyname(name);
    struct ghbn_call *c = calloc(1, sizeof *c);
    if (c == NULL) {
        h_errno = NO_RECOVERY;
        return NULL;
    }
    struct hostent *r = NULL;
    if (ghbn_pool(c, name) != 0 || c->rc != 0 || c->result == NULL) {
        h_errno = c->herr != 0 ? c->herr : HOST_NOT_FOUND;
    } else {
        if (tls_buflen < c->buflen + 64) {
            char *b = realloc(tls_buf, c->buflen + 64);
            if (b != NULL) {
                tls_buf = b;
                tls_buflen = c->buflen + 64;
                pthread_once(&tls_once, tls_key_make);
                (void)pthread_setspecific(tls_key, b);
            }
        }
        if (tls_buf != NULL && hostent_copy(&c->he, &tls_he, tls_buf, tls_buflen) == 0)
            r = &tls_he;
        else
            h_errno = NO_RECOVERY;
    }
    free(c->name);
    free(c->buf);
    free(c);
    return r;
}

/* ------------------------------------------------------- getnameinfo */

struct gni_call {
    struct sockaddr_storage sa;
    socklen_t salen;
    char *host, *serv;
    socklen_t hostlen, servlen;
    int flags, rc, err;
};

static void *gni_run(void *arg)
{
    struct gni_call *c = arg;
    c->rc = hook_real.getnameinfo((struct sockaddr *)&c->sa, c->salen, c->host, c->hostlen,
                                  c->serv, c->servlen, c->flags);
    c->err = errno;
    return NULL;
}

int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen,
                char *serv, socklen_t servlen, int flags)
{
    if (HOOK_UNLIKELY(REAL(getnameinfo) == NULL))
        return EAI_SYSTEM;
    if (HOOK_LIKELY(!hook_in_coroutine()) || sa == NULL || salen > sizeof(struct sockaddr_storage))
        return hook_real.getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
    int saved = errno;
    struct gni_call *c = calloc(1, sizeof *c);
    if (c == NULL)
        return EAI_MEMORY;
    memcpy(&c->sa, sa, salen);
    c->salen = salen;
    c->flags = flags;
    c->hostlen = host != NULL ? hostlen : 0;
    c->servlen = serv != NULL ? servlen : 0;
    c->host = c->hostlen ? malloc(c->hostlen) : NULL;
    c->serv = c->servlen ? malloc(c->servlen) : NULL;
    int rc;
    if ((c->hostlen && c->host == NULL) || (c->servlen && c->serv == NULL)) {
        rc = EAI_MEMORY;
    } else if (coco_blocking_call(gni_run, c, NULL, COCO_INFINITE) != COCO_OK) {
        rc = hook_real.getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
        saved = errno;
    } else {
        rc = c->rc;
        if (rc == 0) {
            if (c->host != NULL)
                memcpy(host, c->host, c->hostlen);
            if (c->serv != NULL)
                memcpy(serv, c->serv, c->servlen);
        } else if (rc == EAI_SYSTEM) {
            saved = c->err;
        }
    }
    free(c->host);
    free(c->serv);
    free(c);
    errno = saved;
    return rc;
}

#ifdef HOOK_UNINSTRUMENTED
#  pragma clang attribute pop
#endif
