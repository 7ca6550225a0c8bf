/*
 * dns_responder.c - a minimal DNS server over UDP for the name lookup
 * test (tests/hookreal-dns.sh), which runs it in network and mount
 * namespaces of its own where it can take 127.0.0.1:53.
 *
 *   dns_responder [-l] [-p PORT] [-d DELAY_MS] [-t IDLE_S] NAME ADDRESS
 *
 * Every query is answered DELAY_MS (default 300) after it arrived, with
 * the query's own question: an A query for NAME (any case) gets one
 * record, NAME IN A ADDRESS (an IPv4 address), with a TTL of 0; any other
 * type for NAME gets an empty answer (no such record); any other name gets
 * NXDOMAIN.  Answers that are due are sent in the order they are due, so a
 * slow answer holds up no other.  -l first brings the loopback interface
 * up (a new network namespace has it down).  It writes "ready" on stdout
 * once it listens, and exits when it has had no query for IDLE_S seconds
 * (default 60) or on a signal.
 *
 * SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PENDING 64
#define MAX_MSG 512

struct pending {
    double due_ms;
    struct sockaddr_in peer;
    unsigned char msg[MAX_MSG];
    size_t len;
};

static struct pending pending[MAX_PENDING];
static int npending;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int loopback_up(void)
{
    struct ifreq ifr;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return -1;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
    if (rc == 0 && !(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP;
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    close(fd);
    return rc;
}

/* The question's name in dotted form (lower case); its end in *end, or -1. */
static int read_name(const unsigned char *msg, size_t len, size_t at, char *out, size_t outlen,
                     size_t *end)
{
    size_t o = 0;
    while (at < len) {
        unsigned l = msg[at++];
        if (l == 0) {
            if (o == 0 && outlen > 0)
                out[0] = '\0';
            *end = at;
            return 0;
        }
        if (l > 63 || at + l > len || o + l + 2 > outlen)
            return -1; /* compression pointers do not occur in a query */
        if (o > 0)
            out[o++] = '.';
        for (unsigned i = 0; i < l; i++)
            out[o++] = (char)tolower(msg[at + i]);
        out[o] = '\0';
        at += l;
    }
    return -1;
}

/* Makes the answer to the query in p->msg, in place.  -1: not a query to
 * answer. */
static int answer(struct pending *p, const char *name, struct in_addr addr)
{
    unsigned char *m = p->msg;
    char qname[256];
    size_t end;
    if (p->len < 12 || (m[2] & 0x80) || m[4] != 0 || m[5] != 1)
        return -1; /* a response, or not exactly one question */
    if (read_name(m, p->len, 12, qname, sizeof qname, &end) != 0 || end + 4 > p->len)
        return -1;
    unsigned qtype = (unsigned)m[end] << 8 | m[end + 1];
    unsigned qclass = (unsigned)m[end + 2] << 8 | m[end + 3];
    size_t qend = end + 4;
    int ours = strcmp(qname, name) == 0;
    int with_record = ours && qtype == 1 && qclass == 1;
    /* Header: response, the query's opcode and RD, RA; NOERROR or NXDOMAIN. */
    m[2] = (unsigned char)(0x80 | (m[2] & 0x79));
    m[3] = (unsigned char)(0x80 | (ours ? 0 : 3));
    m[6] = 0;
    m[7] = with_record ? 1 : 0;
    m[8] = m[9] = m[10] = m[11] = 0; /* no authority, no additional (EDNS dropped) */
    p->len = qend;
    if (with_record) {
        static const unsigned char rr[] = {
            0xc0, 12,  /* the name: a pointer to the question's */
            0, 1, 0, 1, /* A, IN */
            0, 0, 0, 0, /* TTL 0 */
            0, 4,       /* four bytes of address */
        };
        if (p->len + sizeof rr + 4 > MAX_MSG)
            return -1;
        memcpy(m + p->len, rr, sizeof rr);
        memcpy(m + p->len + sizeof rr, &addr, 4);
        p->len += sizeof rr + 4;
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: dns_responder [-l] [-p PORT] [-d DELAY_MS] [-t IDLE_S] NAME ADDRESS\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int port = 53, delay_ms = 300, idle_s = 60, lo = 0, opt;
    while ((opt = getopt(argc, argv, "lp:d:t:")) != -1) {
        switch (opt) {
        case 'l': lo = 1; break;
        case 'p': port = atoi(optarg); break;
        case 'd': delay_ms = atoi(optarg); break;
        case 't': idle_s = atoi(optarg); break;
        default: usage();
        }
    }
    if (argc - optind != 2)
        usage();
    char name[256];
    snprintf(name, sizeof name, "%s", argv[optind]);
    for (char *c = name; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    struct in_addr addr;
    if (inet_pton(AF_INET, argv[optind + 1], &addr) != 1)
        usage();
    if (lo && loopback_up() != 0) {
        perror("dns_responder: bringing lo up");
        return 1;
    }

    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("dns_responder: bind 127.0.0.1");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);

    double last = now_ms();
    for (;;) {
        double now = now_ms();
        int timeout = 1000;
        for (int i = 0; i < npending; i++) {
            int left = (int)(pending[i].due_ms - now + 0.999);
            if (left < timeout)
                timeout = left < 0 ? 0 : left;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int n = poll(&pfd, 1, timeout);
        if (n < 0 && errno != EINTR) {
            perror("dns_responder: poll");
            return 1;
        }
        now = now_ms();
        if (n > 0 && npending < MAX_PENDING) {
            struct pending *p = &pending[npending];
            socklen_t plen = sizeof p->peer;
            ssize_t got = recvfrom(fd, p->msg, sizeof p->msg, 0, (struct sockaddr *)&p->peer, &plen);
            if (got > 0) {
                p->len = (size_t)got;
                p->due_ms = now + delay_ms;
                last = now;
                if (answer(p, name, addr) == 0)
                    npending++;
            }
        }
        /* Send what is due, earliest first. */
        for (;;) {
            int first = -1;
            for (int i = 0; i < npending; i++)
                if (pending[i].due_ms <= now && (first < 0 || pending[i].due_ms < pending[first].due_ms))
                    first = i;
            if (first < 0)
                break;
            struct pending *p = &pending[first];
            (void)sendto(fd, p->msg, p->len, 0, (struct sockaddr *)&p->peer, sizeof p->peer);
            pending[first] = pending[--npending];
        }
        if (npending == 0 && now - last > idle_s * 1000.0)
            return 0;
    }
}
