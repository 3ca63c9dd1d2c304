/* util.c -- allocation that cannot fail, time, and small parsers shared by every module. */
#include "base/util.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TG_MODULE "util"

static void oom(size_t n)
{
    TG_LOG_FATAL("out_of_memory", "allocation of %zu bytes failed", n);
}

void *tg_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *tg_xcalloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (p == NULL)
        oom(count * n);
    return p;
}

void *tg_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

char *tg_xstrdup(const char *s)
{
    return tg_xstrndup(s, strlen(s));
}

char *tg_xstrndup(const char *s, size_t n)
{
    char *p = tg_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *tg_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = tg_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

uint64_t tg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t tg_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void tg_rfc3339(char *out, size_t outlen, uint64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
}

/* Reads exactly n digits at *p into *out, advancing *p. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int parse_offset(const char *p, long *offset_s)
{
    int oh, om;
    if (*p == 'Z' || *p == 'z') {
        *offset_s = 0;
        return p[1] == '\0' ? 0 : -1;
    }
    if (*p != '+' && *p != '-')
        return -1;
    int sign = *p++ == '-' ? -1 : 1;
    if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || *p != '\0' || oh > 23 || om > 59)
        return -1;
    *offset_s = sign * (oh * 3600L + om * 60L);
    return 0;
}

static int days_in_month(int y, int mo)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return mo == 2 && leap ? 29 : days[mo - 1];
}

/* An RFC 3339 date-time as written, before the offset is applied. */
struct civil {
    int y, mo, d, h, mi, se, frac_ms;
};

/* RFC 3339 section 5.7: every field within its range; day within its month. */
static int impossible(const struct civil *c)
{
    return c->mo < 1 || c->mo > 12 || c->d < 1 || c->d > days_in_month(c->y, c->mo) || c->h > 23 ||
           c->mi > 59 || c->se > 60;
}

/* Second 60 only as a leap second: 23:59:60 UTC on the last day of June or December (the only
 * days IERS inserts them, RFC 3339 appendix D). utc_s is the instant with second 59. */
static int leap_second_ok(time_t utc_s)
{
    struct tm u;
    if (gmtime_r(&utc_s, &u) == NULL || u.tm_hour != 23 || u.tm_min != 59)
        return 0;
    return (u.tm_mon == 5 && u.tm_mday == 30) || (u.tm_mon == 11 && u.tm_mday == 31);
}

/* "T12:34:56[.frac]" after the date, up to the offset; *p moves past it. 0 or -1. */
static int parse_clock(const char **p, struct civil *c)
{
    if (**p != 'T' && **p != 't' && **p != ' ')
        return -1;
    (*p)++;
    if (digits(p, 2, &c->h) || *(*p)++ != ':' || digits(p, 2, &c->mi) || *(*p)++ != ':' ||
        digits(p, 2, &c->se))
        return -1;
    if (**p != '.')
        return 0;
    if ((*p)[1] < '0' || (*p)[1] > '9') /* "." needs a digit */
        return -1;
    int scale = 100;
    for ((*p)++; **p >= '0' && **p <= '9'; (*p)++) {
        c->frac_ms += (**p - '0') * scale;
        scale /= 10;
    }
    return 0;
}

int tg_parse_time(const char *s, uint64_t *ms)
{
    struct tm tm = {0};
    const char *p = s;
    struct civil c = {0};
    long offset_s = 0;
    if (digits(&p, 4, &c.y) || *p++ != '-' || digits(&p, 2, &c.mo) || *p++ != '-' ||
        digits(&p, 2, &c.d))
        return -1;
    if (*p != '\0' && (parse_clock(&p, &c) || parse_offset(p, &offset_s)))
        return -1;
    if (impossible(&c))
        return -1;
    int leap = c.se == 60;
    if (leap) { /* kept as 59.999 so that order holds */
        c.se = 59;
        c.frac_ms = 999;
    }
    tm.tm_year = c.y - 1900;
    tm.tm_mon = c.mo - 1;
    tm.tm_mday = c.d;
    tm.tm_hour = c.h;
    tm.tm_min = c.mi;
    tm.tm_sec = c.se;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || (long long)t - offset_s < 0 || (leap && !leap_second_ok(t - offset_s)))
        return -1;
    *ms = (uint64_t)((long long)t - offset_s) * 1000 + (uint64_t)c.frac_ms;
    return 0;
}

/* Splits "12.5MiB" into a number and a unit, then scales by the unit table. */
struct unit {
    const char *name;
    uint64_t scale;
};

static int parse_scaled(const char *s, const struct unit *units, size_t nunits, uint64_t *out)
{
    char *end;
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < nunits; i++) {
        if (strcmp(end, units[i].name) == 0) {
            if (units[i].scale && v > UINT64_MAX / units[i].scale)
                return -1;
            *out = (uint64_t)v * units[i].scale;
            return 0;
        }
    }
    return -1;
}

int tg_parse_size(const char *s, uint64_t *out)
{
    static const struct unit units[] = {
        {"", 1},          {"B", 1},          {"k", 1000},        {"K", 1024},
        {"KB", 1000},     {"KiB", 1024},     {"M", 1048576},     {"MB", 1000000},
        {"MiB", 1048576}, {"G", 1073741824}, {"GB", 1000000000}, {"GiB", 1073741824},
    };
    return parse_scaled(s, units, TG_ARRAY_SIZE(units), out);
}

int tg_parse_duration(const char *s, uint64_t *out_ms)
{
    static const struct unit units[] = {
        {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
    };
    return parse_scaled(s, units, TG_ARRAY_SIZE(units), out_ms);
}

int tg_parse_int(const char *s, long long min, long long max, long long *out)
{
    char *end;
    /* strtoll skips blanks and takes '+': "limit=%201" is not a number */
    if (s == NULL || !((*s >= '0' && *s <= '9') || (*s == '-' && s[1] >= '0' && s[1] <= '9')))
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int tg_glob_match(const char *pattern, const char *s)
{
    return fnmatch(pattern, s, 0) == 0;
}

int tg_glob_match_project(const char *pattern, const char *path)
{
    return fnmatch(pattern, path, FNM_CASEFOLD) == 0;
}

char *tg_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        cap = (size_t)st.st_size;
    buf = tg_xmalloc(cap + 1);
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            buf = tg_xrealloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            errno = e;
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}
