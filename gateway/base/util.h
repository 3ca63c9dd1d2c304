/* util.h -- allocation that cannot fail, time, and small parsers shared by every module.
 *
 * Out of memory is fatal here (log and abort), so no caller carries an OOM branch.
 * Nothing in this file keeps state; every function is safe from any thread.
 */
#ifndef TG_UTIL_H
#define TG_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Helpers that unit tests call stay static in release builds. */
#ifdef TG_TESTING
#define TG_UNITTEST
#else
#define TG_UNITTEST static
#endif

#define TG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *tg_xmalloc(size_t n);
void *tg_xcalloc(size_t count, size_t n);
void *tg_xrealloc(void *p, size_t n);
char *tg_xstrdup(const char *s);
char *tg_xstrndup(const char *s, size_t n);
/* printf into a fresh heap string; caller frees. */
char *tg_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Wall clock in milliseconds since the epoch, and a monotonic clock in milliseconds. */
uint64_t tg_now_ms(void);
uint64_t tg_mono_ms(void);
/* RFC 3339 UTC with milliseconds ("2026-11-26T14:21:02.123Z") into out (at least 32 bytes). */
void tg_rfc3339(char *out, size_t outlen, uint64_t ms);
/* Parses RFC 3339 ("2026-11-26T14:21:02Z", fractional seconds and offsets allowed) or a plain
 * date ("2027-01-31", meaning midnight UTC). Returns 0 and stores milliseconds, or -1. */
int tg_parse_time(const char *s, uint64_t *ms);

/* "1MiB", "512KiB", "1048576", "10MB" -> bytes. Returns 0 or -1. */
int tg_parse_size(const char *s, uint64_t *out);
/* "2s", "500ms", "24h", "5m", "7d" -> milliseconds. Returns 0 or -1. */
int tg_parse_duration(const char *s, uint64_t *out_ms);
/* Strict base-10 parse of the whole string into [min, max]. Returns 0 or -1. */
int tg_parse_int(const char *s, long long min, long long max, long long *out);

/* Shell-style glob ('*', '?', '[...]') of a whole string; returns 1 on match. */
int tg_glob_match(const char *pattern, const char *s);
/* The same glob on a GitLab project path ("group/sub/project"), ignoring case: GitLab paths
 * are unique regardless of case and resolve in any case, so a glob naming shop/helm-charts
 * names shop/Helm-Charts too (ignore_projects, exceptions' projects, templates' match). */
int tg_glob_match_project(const char *pattern, const char *path);

/* Reads a whole file into a NUL-terminated heap buffer; caller frees. NULL with errno set. */
char *tg_read_file(const char *path, size_t *len);

#endif
