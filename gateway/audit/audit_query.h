/* audit_query.h -- reading the audit trail: filters, keyset pages on seq, one record.
 *
 * A query never scans the whole stream: audit.c keeps a sorted set of seq per action,
 * actor, project, pipeline, environment, sha and (per project) ref, and a time range is a
 * seq range because a record's time never goes back along the chain. A page walks the most
 * selective of the query's sets (or the stream, when the seq window is smaller) inside one
 * Redis script and checks the others by ZSCORE; every record it returns is checked again
 * against all filters here. The work per call is bounded: a page may hold fewer than limit
 * records, and only a null cursor means the end. Blocking Redis; api-pool threads and the CLI.
 */
#ifndef TG_AUDIT_QUERY_H
#define TG_AUDIT_QUERY_H

#include <hiredis.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Where the audit trail lives: a blocking connection of the calling thread and the key
 * prefix (redis.prefix) its keys start with. */
struct tg_audit_db {
    redisContext *c;
    const char *prefix;
};

#define TG_AUDIT_LIMIT_DEFAULT 100
#define TG_AUDIT_LIMIT_MAX     1000
#define TG_AUDIT_CURSOR_MAX    64

/* Equality filters are NULL (or pipeline 0) when absent; times in ms, both bounds inclusive. */
struct tg_audit_query {
    char *project, *ref, *sha, *environment, *action, *actor;
    long long pipeline;
    uint64_t since_ms; /* 0: open */
    uint64_t until_ms; /* UINT64_MAX: open */
    int limit;
    int desc;        /* newest first (the default) */
    long long after; /* keyset: records strictly after this seq in the query's order; 0 none */
};

/* Sets q to the defaults (no filter, limit 100, newest first). */
void tg_audit_query_init(struct tg_audit_query *q);
void tg_audit_query_dispose(struct tg_audit_query *q);
/* Parses a URL query string (the part after '?'): project, ref, sha, pipeline, environment,
 * action, actor, since, until (RFC 3339 or a date), limit (1-1000), order (asc|desc), cursor.
 * Unknown or repeated parameters are errors. Returns 0, or -1 with a message for the caller
 * (a 400) in err; q is valid (and must be disposed) either way. */
int tg_audit_query_parse(const char *qs, struct tg_audit_query *q, char *err, size_t errlen);
/* The parameter names a query string may hold, and which it held. */
struct tg_query_names {
    const char *const *names; /* at most 32 */
    size_t nnames;
    unsigned present; /* out: bit i set when names[i] was given */
};
/* Every parameter name in the query string qs is one of qn->names and appears once; sets
 * qn->present. 0, or -1 with the reason in err. */
int tg_query_check_names(const char *qs, struct tg_query_names *qn, char *err, size_t errlen);

/* The opaque cursor that continues q after seq: base64url of the version, the order, seq
 * and a fingerprint of the filters, so a cursor replayed with other filters is refused. */
void tg_audit_cursor_encode(const struct tg_audit_query *q, long long seq,
                            char out[TG_AUDIT_CURSOR_MAX]);
/* Reads a cursor made for q; 0 with *seq, or -1 when it is malformed or made for another query. */
int tg_audit_cursor_decode(const struct tg_audit_query *q, const char *cursor, long long *seq);

/* 1 when a record object passes every filter of q (the final, exact check). */
int tg_audit_query_match(const struct tg_audit_query *q, json_t *record);

struct tg_audit_page {
    json_t *records; /* array of record objects, in the query's order (owned) */
    long long next;  /* the seq a next page continues after, 0 at the end */
};

/* Runs one page of q. Returns 0, or -1 with err when Redis failed. Dispose out either way. */
int tg_audit_query_run(const struct tg_audit_db *db, const struct tg_audit_query *q,
                       struct tg_audit_page *out, char *err, size_t errlen);
void tg_audit_page_dispose(struct tg_audit_page *p);

/* The record with this seq into *out (a new reference; NULL when there is none).
 * Returns 0, or -1 when Redis failed. */
int tg_audit_get(redisContext *c, const char *prefix, long long seq, json_t **out);

#endif
