/* scrub.c -- replacing token-shaped values (see scrub.h). */
#include "base/scrub.h"
#include "base/buf.h"
#include "base/util.h"

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
    {"glpat-", 0, TOKEN},   {"gloas-", 0, TOKEN},    {"gldt-", 0, TOKEN},   {"glrtr-", 0, TOKEN},
    {"glrt-", 0, TOKEN},    {"glcbt-", 0, TOKEN},    {"glptt-", 0, TOKEN},  {"glft-", 0, TOKEN},
    {"glimt-", 0, TOKEN},   {"glagent-", 0, TOKEN},  {"glsoat-", 0, TOKEN}, {"glffct-", 0, TOKEN},
    {"glwt-", 0, TOKEN},    {"GR1348941", 0, TOKEN}, {"xoxa-", 0, SLACK},   {"xoxb-", 0, SLACK},
    {"xoxe-", 0, SLACK},    {"xoxp-", 0, SLACK},     {"xoxr-", 0, SLACK},   {"whsec_", 0, BASE64},
    {"bearer ", 1, BEARER}, /* the blank stands for any bearer_gap */
};

static int hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The length of one token character at s[i] (a percent-encoded one counts: "%2D"), or 0. */
static size_t token_char(enum charset set, const char *s, size_t n, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (c == '%' && i + 2 < n && hex((unsigned char)s[i + 1]) && hex((unsigned char)s[i + 2]))
        return 3;
    switch (set) {
    case TOKEN:
        return alnum || c == '_' || c == '-' || c == '.';
    case SLACK:
        return alnum || c == '-';
    case BASE64:
        return alnum || c == '+' || c == '/' || c == '=';
    default:
        return alnum || strchr("-._~+/=", c) != NULL;
    }
}

/* Whether s[i..] starts with prefix, whose last character may also come percent-encoded
 * ("xoxb%2D", "whsec%5F"); its length in s into *len. */
static int prefix_at(const char *s, size_t n, size_t i, const struct shape *sh, size_t *len)
{
    size_t pl = strlen(sh->prefix);
    char enc[4];
    if (n - i < pl || (sh->nocase ? strncasecmp(s + i, sh->prefix, pl - 1)
                                  : strncmp(s + i, sh->prefix, pl - 1)) != 0)
        return 0;
    if (sh->set == BEARER) { /* its blank is any bearer_gap */
        *len = pl - 1;
        return 1;
    }
    if (s[i + pl - 1] == sh->prefix[pl - 1]) {
        *len = pl;
        return 1;
    }
    snprintf(enc, sizeof enc, "%%%02X", (unsigned char)sh->prefix[pl - 1]);
    if (n - i < pl + 2 || strncasecmp(s + i + pl - 1, enc, 3) != 0)
        return 0;
    *len = pl + 2;
    return 1;
}

/* What may stand between "Bearer" and its value: blanks, ':' or '=', raw, percent-encoded
 * ("%20", "%3A") or JSON-escaped ("\t"); its length at s[i], or 0. */
static size_t bearer_gap(const char *s, size_t n, size_t i)
{
    static const char *const gaps[] = {" ",   "\t",  "+",   ":",   "=",  "%20",
                                       "%09", "%3A", "%3D", "\\t", "\\n"};
    size_t len = 0, g;
    for (int more = 1; more && i + len < n;) {
        more = 0;
        for (g = 0; g < sizeof gaps / sizeof *gaps; g++) {
            size_t gl = strlen(gaps[g]);
            if (n - i - len >= gl && strncasecmp(s + i + len, gaps[g], gl) == 0) {
                len += gl;
                more = 1;
                break;
            }
        }
    }
    return len;
}

static int letter_before(const char *s, size_t i)
{
    unsigned char p = i ? (unsigned char)s[i - 1] : ' ';
    return (p >= 'a' && p <= 'z') || (p >= 'A' && p <= 'Z');
}

/* At s[i]: the length of the prefix and of the value after it, when a shape starts here.
 * GitLab's, Slack's and whsec_ prefixes are distinctive, so they count anywhere: after a
 * letter ("xxoxb-"), a digit, "=" / "%3D" (a query string), an escape's letter ("\nglpat-"
 * once JSON-encoded), an instance prefix ("mycompany-glpat-"). "Bearer" is a word, so it
 * counts only when no letter precedes it ("forbearer" is prose). */
static int match(const char *s, size_t n, size_t i, size_t *plen, size_t *vlen)
{
    /* Every prefix starts with one of these, never percent-encoded: a byte that is none of them
     * skips the 21 comparisons (a 300 KB API answer took 30 ms without this). */
    if (memchr("gGxwbB", s[i], 6) == NULL)
        return 0;
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        const struct shape *sh = &shapes[k];
        size_t pl, v = 0, step;
        if (!prefix_at(s, n, i, sh, &pl) || (sh->set == BEARER && letter_before(s, i)))
            continue;
        if (sh->set == BEARER && (step = bearer_gap(s, n, i + pl)) == 0)
            continue;
        if (sh->set == BEARER)
            pl += step;
        while (i + pl + v < n && (step = token_char(sh->set, s, n, i + pl + v)) > 0)
            v += step;
        if (v < MIN_BODY)
            continue;
        *plen = pl;
        *vlen = v;
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
