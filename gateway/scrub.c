/* scrub.c -- replacing token-shaped values (see scrub.h). */
#include "scrub.h"
#include "buf.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MIN_BODY 8 /* shorter runs are words ("glft-x"), not tokens */

enum charset { TOKEN, SLACK, BASE64, BEARER };

struct shape {
    const char *prefix;
    int nocase;
    enum charset set;
};

/* GitLab's table first; longer prefixes before their own prefixes (glrtr- before glrt-). */
static const struct shape shapes[] = {
    {"glpat-", 0, TOKEN},   {"gloas-", 0, TOKEN},  {"gldt-", 0, TOKEN},     {"glrtr-", 0, TOKEN},
    {"glrt-", 0, TOKEN},    {"glcbt-", 0, TOKEN},  {"glptt-", 0, TOKEN},    {"glft-", 0, TOKEN},
    {"glimt-", 0, TOKEN},   {"glagent-", 0, TOKEN}, {"glsoat-", 0, TOKEN},  {"glffct-", 0, TOKEN},
    {"glwt-", 0, TOKEN},    {"GR1348941", 0, TOKEN}, {"xoxa-", 0, SLACK},   {"xoxb-", 0, SLACK},
    {"xoxe-", 0, SLACK},    {"xoxp-", 0, SLACK},   {"xoxr-", 0, SLACK},     {"whsec_", 0, BASE64},
    {"bearer ", 1, BEARER},
};

static int in_set(enum charset set, unsigned char c)
{
    int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    switch (set) {
    case TOKEN: return alnum || c == '_' || c == '-' || c == '.';
    case SLACK: return alnum || c == '-';
    case BASE64: return alnum || c == '+' || c == '/' || c == '=';
    default: return alnum || strchr("-._~+/=", c) != NULL;
    }
}

static int word_start(const char *s, size_t i)
{
    unsigned char p = i ? (unsigned char)s[i - 1] : ' ';
    return !((p >= 'a' && p <= 'z') || (p >= 'A' && p <= 'Z') || (p >= '0' && p <= '9'));
}

/* At s[i]: the length of the prefix and of the value after it, when a shape starts here. */
static int match(const char *s, size_t n, size_t i, size_t *plen, size_t *vlen)
{
    if (!word_start(s, i) && s[i - 1] != '-') /* "mycompany-glpat-": an instance prefix */
        return 0;
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        const struct shape *sh = &shapes[k];
        size_t pl = strlen(sh->prefix), v = 0;
        if (n - i < pl || (sh->nocase ? strncasecmp(s + i, sh->prefix, pl) : strncmp(s + i, sh->prefix, pl)) != 0)
            continue;
        if (sh->nocase && !word_start(s, i))
            continue;
        while (i + pl + v < n && in_set(sh->set, (unsigned char)s[i + pl + v]))
            v++;
        if (v < MIN_BODY)
            continue;
        *plen = pl, *vlen = v;
        return 1;
    }
    return 0;
}

char *tg_scrub(const char *s, size_t n, size_t *outlen)
{
    struct tg_buf b;
    size_t done = 0, plen, vlen;
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        if (!match(s, n, i, &plen, &vlen))
            continue;
        if (!found)
            tg_buf_init(&b);
        found = 1;
        tg_buf_append(&b, s + done, i + plen - done);
        tg_buf_puts(&b, TG_SCRUB_MARK);
        i += plen + vlen - 1;
        done = i + 1;
    }
    if (!found)
        return NULL;
    tg_buf_append(&b, s + done, n - done);
    if (outlen)
        *outlen = b.len;
    char *out = tg_xstrndup(b.data, b.len);
    tg_buf_dispose(&b);
    return out;
}

int tg_scrub_inplace(char *s, size_t cap)
{
    size_t n = strlen(s), m;
    char *clean = tg_scrub(s, n, &m);
    if (clean == NULL)
        return 0;
    snprintf(s, cap, "%s", clean);
    free(clean);
    return 1;
}
