/* reports_values.c -- how the counting rule reads the few values it interprets.
 *
 * Severity words are trimmed of white space (ASCII white space, the separators U+001C to U+001F and
 * Unicode's space characters) and case-folded, then matched against the six bucket names and
 * Negligible. A security-severity is a plain score from 0 to 10 or a bucket word. Values shown as
 * text in the extra figures (keys of "types" and "levels") and in identities are written the way
 * JSON tools print them: integers as written, other numbers in their shortest round-trip form
 * ("2.0", "1e+16"), true, false and null as their literals. Nothing else is interpreted here.
 * Pure functions; any thread.
 */
#include "decide/reports_impl.h"
#include "base/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const bucket_names[TG_SEV_COUNT] = {
    [TG_SEV_UNKNOWN] = "unknown", [TG_SEV_INFO] = "info", [TG_SEV_LOW] = "low",
    [TG_SEV_MEDIUM] = "medium",   [TG_SEV_HIGH] = "high", [TG_SEV_CRITICAL] = "critical",
};

/* Length of the Unicode white-space character that starts at s, or 0. */
static size_t space_at(const unsigned char *s, size_t n)
{
    if (n >= 1 && ((s[0] >= 0x09 && s[0] <= 0x0d) || (s[0] >= 0x1c && s[0] <= 0x20)))
        return 1;
    if (n >= 2 && s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0))
        return 2;
    if (n < 3)
        return 0;
    if ((s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80) ||
        (s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80))
        return 3;
    if (s[0] == 0xe2 && s[1] == 0x80 &&
        (s[2] <= 0x8a || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf))
        return 3;
    if (s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f)
        return 3;
    return 0;
}

/* Length of the white-space character that ends at s + n, or 0. */
static size_t space_before(const unsigned char *s, size_t n)
{
    for (size_t k = 1; k <= 3 && k <= n; k++)
        if (space_at(s + n - k, k) == k)
            return k;
    return 0;
}

static void strip(const char **s, size_t *n)
{
    const unsigned char *p = (const unsigned char *)*s;
    size_t len = *n, k;
    while (len && (k = space_at(p, len)) != 0) {
        p += k;
        len -= k;
    }
    while (len && (k = space_before(p, len)) != 0)
        len -= k;
    *s = (const char *)p;
    *n = len;
}

/* A short trimmed word in lower case, when that is plain ASCII; else -1. Unicode's case
 * folding maps one non-ASCII character to an ASCII letter: the KELVIN SIGN, to "k". */
static int ascii_lower(const char *s, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; o++) {
        if (o + 1 >= outlen)
            return -1;
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            out[o] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            i++;
        } else if (n - i >= 3 && memcmp(s + i, "\xe2\x84\xaa", 3) == 0) {
            out[o] = 'k';
            i += 3;
        } else {
            return -1;
        }
    }
    out[o] = '\0';
    return (int)o;
}

/* The bucket a word names once trimmed and case-folded, or -1 (so "negligible" is -1 here;
 * -3 says it was Negligible, -2 that the word is no plain ASCII word at all). */
static int word_bucket(const char *s, size_t n)
{
    char low[16];
    strip(&s, &n);
    int len = ascii_lower(s, n, low, sizeof low);
    if (len < 0)
        return -2;
    /* compare with the length: "high\0" is not "high" */
    for (int b = 0; b < TG_SEV_COUNT; b++)
        if ((size_t)len == strlen(bucket_names[b]) &&
            memcmp(low, bucket_names[b], (size_t)len) == 0)
            return b;
    return len == 10 && memcmp(low, "negligible", 10) == 0 ? -3 : -1;
}

enum tg_severity rp_bucket_word(const char *s, size_t n)
{
    int b = word_bucket(s, n);
    if (b >= 0)
        return (enum tg_severity)b;
    return b == -3 ? TG_SEV_INFO : TG_SEV_UNKNOWN;
}

/* How many of the n bytes at s are ASCII digits, from the start. */
static size_t strspn_n(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

enum tg_severity rp_cvss_band(double score)
{
    if (score >= 9.0)
        return TG_SEV_CRITICAL;
    if (score >= 7.0)
        return TG_SEV_HIGH;
    if (score >= 4.0)
        return TG_SEV_MEDIUM;
    if (score > 0)
        return TG_SEV_LOW;
    return TG_SEV_INFO;
}

/* A plain score: ASCII digits, optionally one decimal point followed by digits. */
static int plain_score(struct tg_buf *scratch, const char *s, size_t n, double *out)
{
    strip(&s, &n);
    size_t whole = strspn_n(s, n), frac = 0;
    if (whole > 0 && whole < n && s[whole] == '.')
        frac = 1 + strspn_n(s + whole + 1, n - whole - 1);
    if (whole == 0 || frac == 1 || whole + frac != n)
        return -1;
    tg_buf_reset(scratch);
    tg_buf_append(scratch, s, n);
    *out = strtod(scratch->data, NULL);
    return 0;
}

uint8_t rp_score_bucket(struct tg_buf *scratch, uint8_t kind, const char *s, size_t n, double num)
{
    double v = num;
    int b;
    if (kind == RK_STR && plain_score(scratch, s, n, &v) < 0) {
        b = word_bucket(s, n);
        return b >= 0 ? (uint8_t)(1 + b) : RP_SCORE_NONE;
    }
    if (kind != RK_STR && kind != RK_NUM)
        return RP_SCORE_NONE; /* true and false are no scores */
    return v >= 0.0 && v <= 10.0 ? (uint8_t)(1 + rp_cvss_band(v))
                                 : RP_SCORE_NONE; /* NaN fails both */
}

/* Shortest digits that read back as v; the point moves to an exponent below 1e-4 and from 1e16. */
void rp_float_text(double v, char *out, size_t outlen)
{
    char buf[40], digits[24];
    if (isnan(v) || isinf(v)) {
        snprintf(out, outlen, "%s", isnan(v) ? "nan" : v < 0 ? "-inf" : "inf");
        return;
    }
    for (int prec = 0; prec < 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    const char *p = buf + (buf[0] == '-'), *e = strchr(buf, 'e');
    size_t nd = 0;
    for (const char *q = p; q < e; q++)
        if (*q != '.')
            digits[nd++] = *q;
    digits[nd] = '\0';
    int exp = atoi(e + 1);
    const char *sign = buf[0] == '-' ? "-" : "";
    if (exp < -4 || exp >= 16) {
        snprintf(out, outlen, "%s%c%s%se%c%02d", sign, digits[0], nd > 1 ? "." : "", digits + 1,
                 exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        snprintf(out, outlen, "%s0.%.*s%s", sign, -exp - 1, "0000", digits);
    } else if ((size_t)exp + 1 >= nd) {
        snprintf(out, outlen, "%s%s%.*s.0", sign, digits, (int)((size_t)exp + 1 - nd),
                 "0000000000000000");
    } else {
        snprintf(out, outlen, "%s%.*s.%s", sign, exp + 1, digits, digits + exp + 1);
    }
}

int rp_number_text(const struct rp_number *num, char *out, size_t outlen)
{
    const char *lit = num->lit;
    size_t n = num->n;
    int isint = num->isint;
    double v = num->v;
    if (!isint) {
        rp_float_text(v, out, outlen);
        return 0;
    }
    if (n == 2 && memcmp(lit, "-0", 2) == 0) {
        lit = "0";
        n = 1;
    }
    if (n + 1 > outlen)
        return -1;
    memcpy(out, lit, n);
    out[n] = '\0';
    return 0;
}

int rp_key_text(const struct rp_value *v, char *out, size_t outlen, size_t *len)
{
    static const char *const lits[] = {
        [RK_ABSENT] = "null", [RK_NULL] = "null", [RK_FALSE] = "false", [RK_TRUE] = "true"};
    if (v->kind == RK_ARR || v->kind == RK_OBJ)
        return -1;
    if (v->len != v->tlen) /* longer than a capped copy */
        return -2;
    if (v->kind == RK_NUM) {
        if (rp_number_text(&(struct rp_number){v->text, v->tlen, v->isint, v->num}, out, outlen))
            return -2;
    } else if (v->kind == RK_STR) {
        if (v->len + 1 > outlen)
            return -2;
        memcpy(out, v->text, v->len);
        out[v->len] = '\0';
        *len = v->len;
        return 0;
    } else {
        snprintf(out, outlen, "%s", lits[v->kind]);
    }
    *len = strlen(out);
    return 0;
}

size_t rp_utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t k = max;
    while (k > 0 && max - k < 3 && ((unsigned char)s[k] & 0xc0) == 0x80)
        k--;
    return k;
}
