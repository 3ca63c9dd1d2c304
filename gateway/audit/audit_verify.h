/* audit_verify.h -- recomputing the audit chain: is every record there, in order, unchanged?
 *
 * With the archive (audit_archive.h), walks its segments from seq 1 first, then Redis from its
 * start, as one chain: a missing segment, an edited line and a gap between the archive and
 * Redis each break it, named. Without it, the walk starts where Redis's trail starts.
 * Walks <prefix>audit in pages from the first record (or --from), recomputes each hash from
 * its predecessor's, and stops at the first break. When a file sink is named, its lines (in
 * any order: several threads and processes write it) are matched to records by seq. A head
 * kept elsewhere (--head SEQ:HASH) anchors the chain against truncation and rewriting.
 * Blocking Redis and file reads; the CLI (`tollgate audit verify`) and api-pool threads.
 */
#ifndef TG_AUDIT_VERIFY_H
#define TG_AUDIT_VERIFY_H

#include "audit/audit_query.h"
#include "base/crypto.h"

#include <hiredis.h>
#include <jansson.h>

struct tg_audit_verify_opts {
    long long from;       /* first seq to check, its prev taken as given; 0 or 1: the start */
    long long anchor_seq; /* a head kept elsewhere; 0: none */
    char anchor_hash[TG_SHA256_HEX_LEN + 1];
    const char *sink;    /* the audit.file to compare, or NULL */
    const char *archive; /* audit.archive: walk its segments first, from seq 1 (from is ignored) */
    long long max_records; /* stop (incomplete, no verdict on the rest) after this many; 0: none */
};

enum tg_audit_break {
    TG_AUDIT_OK,
    TG_AUDIT_UNREADABLE, /* an entry that is not a record */
    TG_AUDIT_GAP,        /* seqs missing (a record deleted) */
    TG_AUDIT_ORDER,      /* seq, stream id or time out of order */
    TG_AUDIT_PREV,       /* prev is not the previous record's hash (that record changed) */
    TG_AUDIT_HASH,       /* the record's hash is not what its content gives */
    TG_AUDIT_SINK,       /* the file sink disagrees with Redis */
    TG_AUDIT_HEAD,       /* the head (in Redis or given) does not match the chain */
};

struct tg_audit_verify_result {
    enum tg_audit_break broken;
    long long seq; /* where it broke (0: not tied to one seq) */
    char detail[320];
    long long records;  /* records checked and found good */
    long long head_seq; /* the last good record */
    char head_hash[TG_SHA256_HEX_LEN + 1];
    long long sink_lines; /* distinct lines read from the sink */
    long long
        sink_missing; /* good records the sink lacks (written by other hosts, or while it failed) */
    long long from;   /* the first seq checked */
    long long archive_segments, archive_records; /* read from the archive (when given) */
    int complete;        /* 1: walked to the stream's end (0: stopped at max_records) */
    char unchecked[200]; /* "": the anchor (if any) was compared; else why it could not be
                             * (archived before Redis's start, and no archive walked) */
};

/* Runs the check. Returns 0 when it ran to a verdict (res->broken says which), or -1 with
 * err when Redis or the sink could not be read. */
int tg_audit_verify(const struct tg_audit_db *db, const struct tg_audit_verify_opts *o,
                    struct tg_audit_verify_result *res, char *err, size_t errlen);

/* The checkpoint of incremental verification (<prefix>audit:verified, owned by the HTTP verify):
 * the last seq and hash a verify found good. Returns 1 with it, 0 when none, -1 when Redis
 * failed. */
int tg_audit_checkpoint_get(redisContext *c, const char *prefix, long long *seq,
                            char hash[TG_SHA256_HEX_LEN + 1]);
/* Moves the checkpoint forward to res's head (never back). Returns 0 or -1. */
int tg_audit_checkpoint_advance(redisContext *c, const char *prefix,
                                const struct tg_audit_verify_result *res);

/* "hash mismatch", "gap", ... ("ok" for TG_AUDIT_OK). */
const char *tg_audit_break_name(enum tg_audit_break b);
/* "ok N records, head SEQ:HASH" or "broken at seq N: REASON: DETAIL" into out. */
void tg_audit_verify_summary(const struct tg_audit_verify_result *r, char *out, size_t outlen);
/* The result as a JSON object (new reference). */
json_t *tg_audit_verify_json(const struct tg_audit_verify_result *r);
/* Parses "SEQ:HASH" (hash: 64 lower-case hex digits). Returns 0 or -1. */
int tg_audit_parse_head(const char *s, long long *seq, char hash[TG_SHA256_HEX_LEN + 1]);

#endif
