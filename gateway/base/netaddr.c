/* netaddr.c -- CIDR blocks and forwarded client addresses (see netaddr.h). */
#include "base/netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* addr into 16 bytes; IPv4 and IPv4-mapped IPv6 come back as AF_INET in the first 4. */
static int parse_addr(const char *s, size_t n, int *family, unsigned char out[16])
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    memset(out, 0, 16);
    if (inet_pton(AF_INET, buf, out) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, out) != 1)
        return -1;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    *family = AF_INET6;
    if (memcmp(out, mapped, 12) == 0) {
        memmove(out, out + 12, 4);
        memset(out + 4, 0, 12);
        *family = AF_INET;
    }
    return 0;
}

int tg_cidr_parse(const char *s, struct tg_cidr *out)
{
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    memset(out, 0, sizeof *out);
    if (parse_addr(s, n, &out->family, out->addr))
        return -1;
    int max = out->family == AF_INET ? 32 : 128;
    out->bits = max;
    if (slash) {
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end != '\0' || b < 0 || b > max)
            return -1;
        out->bits = (int)b;
    }
    for (int i = out->bits; i < max; i++) /* host bits set: a typo, not a block */
        if (out->addr[i / 8] & (0x80 >> (i % 8)))
            return -1;
    return 0;
}

static int in_list(const struct tg_cidr *list, size_t n, int family, const unsigned char a[16])
{
    for (size_t i = 0; i < n; i++) {
        const struct tg_cidr *c = &list[i];
        if (c->family != family)
            continue;
        int whole = c->bits / 8, rest = c->bits % 8;
        if (memcmp(c->addr, a, (size_t)whole) != 0)
            continue;
        if (rest == 0 || ((c->addr[whole] ^ a[whole]) & (0xff << (8 - rest)) & 0xff) == 0)
            return 1;
    }
    return 0;
}

int tg_cidr_match_text(const struct tg_cidr *list, size_t n, const char *addr)
{
    int family;
    unsigned char a[16];
    return parse_addr(addr, strlen(addr), &family, a) == 0 && in_list(list, n, family, a);
}

static int sa_bytes(const struct sockaddr *sa, int *family, unsigned char a[16])
{
    char text[INET6_ADDRSTRLEN];
    tg_sockaddr_text(sa, text, sizeof text);
    return parse_addr(text, strlen(text), family, a);
}

int tg_cidr_match_sa(const struct tg_cidr *list, size_t n, const struct sockaddr *sa)
{
    int family;
    unsigned char a[16];
    return n > 0 && sa_bytes(sa, &family, a) == 0 && in_list(list, n, family, a);
}

void tg_sockaddr_text(const struct sockaddr *sa, char *out, size_t outlen)
{
    snprintf(out, outlen, "-");
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outlen);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)outlen);
        else
            inet_ntop(AF_INET6, a, out, (socklen_t)outlen);
    }
}

/* ---- forwarded hops ---- */

struct hop {
    const char *p;
    size_t n;
};

static void trim(struct hop *h)
{
    while (h->n && (*h->p == ' ' || *h->p == '\t')) {
        h->p++;
        h->n--;
    }
    while (h->n && (h->p[h->n - 1] == ' ' || h->p[h->n - 1] == '\t'))
        h->n--;
}

/* The for= value of one Forwarded element ("for=192.0.2.1;proto=https",
 * "for=\"[2001:db8::1]:443\""). */
static struct hop forwarded_for(struct hop e)
{
    for (size_t i = 0; i + 4 <= e.n; i++) {
        if ((i == 0 || e.p[i - 1] == ';' || e.p[i - 1] == ' ') &&
            strncasecmp(e.p + i, "for=", 4) == 0) {
            struct hop v = {e.p + i + 4, strcspn(e.p + i + 4, ";")};
            v.n = v.n > e.n - i - 4 ? e.n - i - 4 : v.n;
            trim(&v);
            if (v.n >= 2 && v.p[0] == '"' && v.p[v.n - 1] == '"') {
                v.p++;
                v.n -= 2;
            }
            if (v.n && v.p[0] == '[') { /* [v6]:port */
                const char *close = memchr(v.p, ']', v.n);
                return close ? (struct hop){v.p + 1, (size_t)(close - v.p - 1)}
                             : (struct hop){NULL, 0};
            }
            const char *colon = memchr(v.p, ':', v.n); /* v4:port */
            if (colon && memchr(colon + 1, ':', v.n - (size_t)(colon - v.p) - 1) == NULL)
                v.n = (size_t)(colon - v.p);
            return v;
        }
    }
    return (struct hop){NULL, 0};
}

/* The text to walk: the header which names, or under AUTO the one present (NULL when both are). */
static const char *chosen(const char *xff, const char *forwarded, enum tg_forwarded_header which,
                          int *is_fwd)
{
    if (which == TG_FWD_AUTO && xff && forwarded)
        return NULL;
    *is_fwd = which == TG_FWD_FORWARDED || (which == TG_FWD_AUTO && forwarded);
    return *is_fwd ? forwarded : xff;
}

int tg_forwarded_client(const struct tg_forwarded_query *q, char *out, size_t outlen)
{
    int is_fwd = 0;
    const char *s = chosen(q->xff, q->forwarded, q->which, &is_fwd);
    if (s == NULL || *s == '\0')
        return -1;
    for (size_t end = strlen(s);;) {
        size_t start = end;
        while (start > 0 && s[start - 1] != ',')
            start--;
        struct hop h = {s + start, end - start};
        trim(&h);
        if (is_fwd)
            h = forwarded_for(h);
        int family;
        unsigned char a[16];
        if (h.p == NULL || parse_addr(h.p, h.n, &family, a))
            return -1;
        if (start > 0 && in_list(q->trusted, q->ntrusted, family, a)) {
            end = start - 1;
            continue;
        }
        inet_ntop(family, a, out, (socklen_t)outlen);
        return 0;
    }
}
