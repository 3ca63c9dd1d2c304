/* netaddr.h -- client addresses: CIDR lists (trusted_proxies) and the client address a trusted
 * proxy forwards in X-Forwarded-For or Forwarded (RFC 7239).
 *
 * Pure functions; any thread.
 */
#ifndef TG_NETADDR_H
#define TG_NETADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* An address block; a bare address is a block of /32 (IPv4) or /128 (IPv6). IPv4-mapped IPv6
 * addresses (::ffff:a.b.c.d) are matched as IPv4. */
struct tg_cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int bits;
};

/* Parses "10.0.0.0/8", "192.0.2.7", "2001:db8::/32" or "::1". Returns 0, or -1 (the host bits
 * must be zero, the prefix length within the family's range). */
int tg_cidr_parse(const char *s, struct tg_cidr *out);
/* 1 when the address (text, or a socket address) lies in one of the n blocks. */
int tg_cidr_match_text(const struct tg_cidr *list, size_t n, const char *addr);
int tg_cidr_match_sa(const struct tg_cidr *list, size_t n, const struct sockaddr *sa);

/* Which header a trusted proxy appends: AUTO takes whichever one is present and neither when
 * both are (one of them came from the client, and which is unknown). */
enum tg_forwarded_header { TG_FWD_AUTO, TG_FWD_XFF, TG_FWD_FORWARDED };

/* What a request behind a trusted proxy says about its client. xff / forwarded: every
 * X-Forwarded-For / Forwarded header of the request joined with "," in order (either may be
 * NULL), so that the hop the proxy appended is the right-most. */
struct tg_forwarded_query {
    const char *xff;
    const char *forwarded;
    enum tg_forwarded_header which; /* the header to read (AUTO: see above) */
    const struct tg_cidr *trusted;  /* the trusted proxies */
    size_t ntrusted;
};

/* The client behind a trusted proxy. Walks the hops from the right, with no cap on their
 * number, and returns the first that is not itself a trusted proxy (all trusted: the
 * left-most), canonical text into out. Returns 0, or -1 when the header is absent, ambiguous
 * or malformed (an unparsable hop ends the walk: the caller keeps the socket's address). */
int tg_forwarded_client(const struct tg_forwarded_query *q, char *out, size_t outlen);

/* The socket address as canonical text ("-" when neither IPv4 nor IPv6). IPv4-mapped IPv6
 * addresses print as IPv4. */
void tg_sockaddr_text(const struct sockaddr *sa, char *out, size_t outlen);

#endif
