/* audit_archive.h -- audit retention: old records leave Redis for sealed segment files.
 *
 * A segment is one zstd frame of JSON lines (the stored records, in seq order) named
 * audit-<first seq>-<last seq>-<last hash>.jsonl.zst (seqs zero-padded to 20 digits), so
 * its name carries where it ends. <prefix>audit:start (hash: seq, prev) is where the trail
 * in Redis now starts and the hash it chains on; absent means seq 1 on the genesis hash.
 * An archive pass holds <prefix>audit:archive:lease, writes, fsyncs and re-reads a segment
 * (its chain checked from the start's prev) and only then removes its records and their
 * index entries from Redis and moves the start, in one script that checks the lease and the
 * start again. A segment left by a crash before that script is recognised (it begins at the
 * start) and finished. The newest record always stays in Redis. Blocking file and Redis
 * I/O: the main thread's housekeeping (maint.c) and the CLI.
 */
#ifndef TG_AUDIT_ARCHIVE_H
#define TG_AUDIT_ARCHIVE_H

#include "base/crypto.h"

#include <hiredis.h>
#include <stddef.h>
#include <stdint.h>

/* Where the trail in Redis starts: *seq (1 when nothing was archived) and the hash it chains
 * on (prev). Returns 0, or -1 when Redis failed. */
int tg_audit_start_get(redisContext *c, const char *prefix, long long *seq,
                       char prev[TG_SHA256_HEX_LEN + 1]);

#define TG_AUDIT_ARCHIVE_BATCH    1000   /* records per pass and segment */
#define TG_AUDIT_ARCHIVE_LEASE_MS 120000 /* a pass takes well under a second; a dead one frees it */

struct tg_audit_archive_args {
    const char *prefix;
    const char *dir;       /* audit.archive; a pass without it refuses */
    uint64_t retention_ms; /* records with time <= now - retention move */
    uint64_t now_ms;
    int batch;         /* records per segment at most (1..100000) */
    uint64_t lease_ms; /* how long the lease holds if this process dies mid-pass */
};

/* One pass: at most one segment. Returns the records moved (0: nothing due, or another
 * process holds the lease), or -1 with err (nothing left Redis). */
int tg_audit_archive_pass(redisContext *c, const struct tg_audit_archive_args *a, char *err,
                          size_t errlen);

struct tg_audit_segment {
    long long first, last;
    char hash[TG_SHA256_HEX_LEN + 1]; /* of the last record, from the name */
    char *name;                       /* file name inside the directory */
};

/* The segments in dir, sorted by first seq (files not named like a segment are ignored).
 * Returns 0 with *out (free with tg_audit_segments_free), or -1 with err. */
int tg_audit_segments_list(const char *dir, struct tg_audit_segment **out, size_t *n, char *err,
                           size_t errlen);
void tg_audit_segments_free(struct tg_audit_segment *v, size_t n);

/* What tg_audit_segment_each calls on each line: fn(arg, line, len), the line without its
 * newline; non-zero stops. */
struct tg_audit_line_fn {
    int (*fn)(void *arg, const char *line, size_t len);
    void *arg;
};

/* Calls each->fn on each line of a segment until it returns non-zero. Returns that result, 0
 * at the end, or -1 with err when the file cannot be read or decompressed. */
int tg_audit_segment_each(const char *dir, const struct tg_audit_segment *s,
                          const struct tg_audit_line_fn *each, char *err, size_t errlen);

#endif
