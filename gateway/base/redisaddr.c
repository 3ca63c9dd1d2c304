/* redisaddr.c -- Redis URL parsing and script names: pure, no I/O, safe on an event loop. */
#include "base/redisaddr.h"
#include "base/util.h"

#include <openssl/evp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_hostport(const char *s, size_t n, struct tg_redis_host *h)
{
    const char *colon = memchr(s, ':', n);
    long long port = 6379;
    if (colon) {
        char buf[8];
        size_t plen = n - (size_t)(colon - s) - 1;
        if (plen == 0 || plen >= sizeof buf)
            return -1;
        memcpy(buf, colon + 1, plen);
        buf[plen] = '\0';
        if (tg_parse_int(buf, 1, 65535, &port))
            return -1;
        n = (size_t)(colon - s);
    }
    if (n == 0)
        return -1;
    h->host = tg_xstrndup(s, n);
    h->port = (int)port;
    return 0;
}

/* "[user]:password@" prefix of the authority, if any; returns the rest. */
static const char *parse_userinfo(const char *s, struct tg_redis_addr *a)
{
    const char *at = strchr(s, '@'), *slash = strchr(s, '/');
    if (at == NULL || (slash && slash < at))
        return s;
    const char *colon = memchr(s, ':', (size_t)(at - s));
    if (colon) {
        if (colon > s)
            a->user = tg_xstrndup(s, (size_t)(colon - s));
        a->password = tg_xstrndup(colon + 1, (size_t)(at - colon - 1));
    } else {
        a->password = tg_xstrndup(s, (size_t)(at - s));
    }
    return at + 1;
}

static int parse_db(const char *s, int *db)
{
    long long v;
    if (s == NULL || *s == '\0')
        return 0;
    if (tg_parse_int(s, 0, 15, &v))
        return -1;
    *db = (int)v;
    return 0;
}

static int parse_sentinel(const char *rest, struct tg_redis_addr *a)
{
    const char *slash = strchr(rest, '/');
    if (slash == NULL || slash[1] == '\0')
        return -1;
    for (const char *p = rest; p < slash;) {
        const char *comma = memchr(p, ',', (size_t)(slash - p));
        const char *end = comma ? comma : slash;
        a->sentinels = tg_xrealloc(a->sentinels, (a->nsentinels + 1) * sizeof *a->sentinels);
        if (parse_hostport(p, (size_t)(end - p), &a->sentinels[a->nsentinels]))
            return -1;
        a->nsentinels++;
        p = comma ? comma + 1 : slash;
    }
    const char *name = slash + 1, *dbslash = strchr(name, '/');
    a->master_name = dbslash ? tg_xstrndup(name, (size_t)(dbslash - name)) : tg_xstrdup(name);
    return parse_db(dbslash ? dbslash + 1 : NULL, &a->db);
}

int tg_redis_addr_parse(const char *url, struct tg_redis_addr *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    int rc = -1;
    if (url == NULL) {
        snprintf(err, errlen, "no Redis URL configured");
        return -1;
    }
    if (strncmp(url, "unix://", 7) == 0) {
        const char *q = strchr(url + 7, '?');
        a->unix_path = q ? tg_xstrndup(url + 7, (size_t)(q - url - 7)) : tg_xstrdup(url + 7);
        rc = (a->unix_path[0] == '/' &&
              (q == NULL || (strncmp(q, "?db=", 4) == 0 && parse_db(q + 4, &a->db) == 0)))
                 ? 0
                 : -1;
    } else if (strncmp(url, "redis://", 8) == 0) {
        const char *rest = parse_userinfo(url + 8, a), *slash = strchr(rest, '/');
        size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
        rc = parse_hostport(rest, n, &a->primary) == 0 &&
                     parse_db(slash ? slash + 1 : NULL, &a->db) == 0
                 ? 0
                 : -1;
    } else if (strncmp(url, "redis-sentinel://", 17) == 0) {
        rc = parse_sentinel(parse_userinfo(url + 17, a), a);
    }
    if (rc)
        snprintf(err, errlen,
                 "Redis URL is not redis://host:port/db, unix:///path or "
                 "redis-sentinel://host:port,.../master");
    return rc;
}

void tg_redis_addr_dispose(struct tg_redis_addr *a)
{
    free(a->unix_path);
    free(a->primary.host);
    for (size_t i = 0; i < a->nsentinels; i++)
        free(a->sentinels[i].host);
    free(a->sentinels);
    free(a->master_name);
    free(a->user);
    free(a->password);
    memset(a, 0, sizeof *a);
}

void tg_redis_script_sha(const char *source, char out[41])
{
    unsigned char d[20];
    unsigned int len = sizeof d;
    static const char hex[] = "0123456789abcdef";
    EVP_Digest(source, strlen(source), d, &len, EVP_sha1(), NULL);
    for (size_t i = 0; i < sizeof d; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[40] = '\0';
}
