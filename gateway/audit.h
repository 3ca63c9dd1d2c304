/* audit.h -- the audit trail: every step Tollgate takes, hash-chained in Redis.
 *
 * Stream <prefix>audit holds one entry per record with the explicit id "<seq>-0", fields
 * "record" (the canonical JSON) and "hash". Records chain: hash = SHA-256(prev hash hex +
 * canonical JSON of the record without "hash"); the first record's prev is 64 zeros. seq
 * rises by one with no gap across every process: the append script only writes when the
 * chain head is still the one the record was built on, else the writer rebuilds and retries.
 * No secret ever enters a record: callers pass identifiers, hashes and reasons, never tokens
 * or bodies. Appending happens on worker threads (blocking Redis), never on an event loop.
 */
#ifndef TG_AUDIT_H
#define TG_AUDIT_H

#include "config.h"

#include <hiredis.h>
#include <jansson.h>
#include <stdint.h>

/* One step to record. Strings are borrowed; NULL leaves the field null. */
struct tg_audit_record {
    const char *action;      /* received, duplicate, ignored, rejected, decided, approval_requested,
                                approved, denied, expired, superseded, triggered, trigger_failed,
                                unknown, dead_lettered, config_reloaded, replayed */
    const char *actor;       /* gitlab:<user>, an approver, operator:<identity>, or system (NULL) */
    const char *project;     /* path_with_namespace */
    const char *ref;
    const char *sha;
    long long pipeline;      /* 0: null */
    const char *environment;
    const char *decision;    /* verdict name */
    json_t *reasons;         /* borrowed array of strings, or NULL */
    json_t *details;         /* borrowed object of further facts, or NULL */
    const char *once;        /* when set, a second append with the same key is a no-op
                                (a redelivered or re-claimed event records its steps once) */
};

struct tg_audit;

/* A writer for one thread: it caches the chain head and owns the file sink handle.
 * prefix and file are copied from cfg. */
struct tg_audit *tg_audit_new(const struct tg_config *cfg);
void tg_audit_free(struct tg_audit *a);

/* Appends r on connection c. Returns 0 when recorded (or already recorded under r->once),
 * -1 with err when Redis or the file sink failed; callers decide with tg_audit_fail_closed
 * whether the step may go on. */
int tg_audit_append(struct tg_audit *a, redisContext *c, const struct tg_audit_record *r, char *err, size_t errlen);
/* audit.fail_closed from the config: a failed append must stop the action. */
int tg_audit_fail_closed(const struct tg_audit *a);

/* Chains up to max notes left in <prefix>audit:inbox by code that cannot append itself (the
 * ingest script's duplicates: fields action and details JSON), then deletes them. Safe to run
 * from several workers at once: each note is recorded once. Returns how many, or -1. */
int tg_audit_drain_inbox(struct tg_audit *a, redisContext *c, int max);

/* The canonical bytes of a record object (sorted keys, no white space, "hash" left out);
 * caller frees. Exposed for verification and tests. */
char *tg_audit_canonical(json_t *record);

#endif
