/* audit.h -- the audit trail: every step Tollgate takes, hash-chained in Redis.
 *
 * Stream <prefix>audit holds one entry per record with the explicit id "<seq>-0", fields
 * "record" (the canonical JSON) and "hash". Records chain: hash = SHA-256(prev hash hex +
 * canonical JSON of the record without "hash"); the first record's prev is 64 zeros. seq
 * rises by one with no gap across every process: the append script only writes when the
 * chain head is still the one the record was built on, else the writer rebuilds and retries.
 * A record's time never goes back along the chain (it is at least its predecessor's), so a
 * time range is a seq range. No secret ever enters a record: callers pass identifiers,
 * hashes and reasons, never tokens or bodies, and the writer redacts any string holding a
 * configured secret value. Appending happens on worker threads (blocking Redis), never on
 * an event loop. Reading: audit_query.h; checking the chain: audit_verify.h.
 */
#ifndef TG_AUDIT_H
#define TG_AUDIT_H

#include "audit/audit_keys.h"
#include "base/config.h"
#include "base/crypto.h"

#include <hiredis.h>
#include <jansson.h>
#include <stdint.h>

/* The prev of the first record. */
#define TG_AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

/* One step to record. Strings are borrowed; NULL leaves the field null. */
struct tg_audit_record {
    const char *action;  /* received, duplicate, ignored, rejected, decided, approval_requested,
                                approved, denied, expired, superseded, triggered, trigger_failed,
                                unknown, dead_lettered, config_reloaded, replayed, dropped */
    const char *actor;   /* gitlab:<user>, an approver, operator:<identity>, or system (NULL) */
    const char *project; /* path_with_namespace */
    const char *ref;
    const char *sha;
    long long pipeline; /* 0: null */
    const char *environment;
    const char *decision; /* verdict name */
    json_t *reasons;      /* borrowed array of strings, or NULL */
    json_t *details;      /* borrowed object of further facts, or NULL */
    const char *once;     /* when set, a second append with the same key is a no-op
                                (a redelivered or re-claimed event records its steps once) */
};

struct tg_audit;

/* A writer for one thread: it caches the chain head and owns the file sink handle.
 * prefix, file and the secret values to redact are copied from cfg. */
struct tg_audit *tg_audit_new(const struct tg_config *cfg);
void tg_audit_free(struct tg_audit *a);
/* Keeps *a a writer for the config in force: replaces it when cfg is not the one it was made
 * from (*made_from), since a reload may change audit.file, the prefix or the secrets. */
void tg_audit_follow(struct tg_audit **a, const struct tg_config **made_from,
                     const struct tg_config *cfg);

/* Appends r on connection c, then writes the same line to the file sink (fsync'd) when one
 * is configured. A step already recorded under r->once is not appended again, but its line
 * is written to the sink once more (a failed sink write is repaired, or still refused), so
 * a step never goes on with a record the sink has not taken. Returns 0 when recorded, -1
 * with err when Redis or the file sink failed; callers decide with tg_audit_fail_closed
 * whether the step may go on. */
int tg_audit_append(struct tg_audit *a, redisContext *c, const struct tg_audit_record *r, char *err,
                    size_t errlen);
/* audit.fail_closed from the config: a failed append must stop the action. */
int tg_audit_fail_closed(const struct tg_audit *a);

/* Process-wide (an atomic, listed in main.c): 0 after an append of this process failed,
 * 1 again after one succeeded or a writer's probe (tg_audit_drain_inbox) found Redis and the
 * file sink usable. Starts at 1. Any thread; never blocks (the webhook checks it). */
int tg_audit_healthy(void);

/* Chains up to max notes left in <prefix>audit:inbox by code that cannot append itself (the
 * ingest script's duplicates: fields action and details JSON), then deletes them. Safe to run
 * from several workers at once: each note is recorded once. While the process is unhealthy
 * it first probes Redis and the file sink. Returns how many, or -1. */
int tg_audit_drain_inbox(struct tg_audit *a, redisContext *c, int max);

/* The value of field name in a stream entry's field/value array (borrowed from the reply), or
 * NULL. Shared by the readers of <prefix>audit and its inbox. */
const char *tg_audit_field(const redisReply *fields, const char *name);

/* The canonical bytes of a record object (sorted keys, no white space, "hash" left out);
 * caller frees. NULL when the object holds a string that is not UTF-8. */
char *tg_audit_canonical(json_t *record);
/* hash = hex SHA-256(prev hex || canonical) into out. */
void tg_audit_chain_hash(const char *prev, const char *canonical, char out[TG_SHA256_HEX_LEN + 1]);

#define TG_AUDIT_MAX_INDEXES 8
/* The index keys (at most TG_AUDIT_MAX_INDEXES, 512 bytes each) a stored record was filed
 * under, named from its fields as the writer named them; returns how many (0: not a record).
 * A value the writer redacted was filed under its original: that key cannot be named here. */
int tg_audit_record_indexes(const char *prefix, json_t *record, char keys[][512]);

#endif
