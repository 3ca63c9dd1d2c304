/* outbox.h -- the durable DefectDojo forward jobs in Redis: pending, leased, dead.
 *
 * Keys (prefix + "fwd:"; this module owns them all):
 *   fwd:once:<project>:<pipeline>:<job id>:<artifact>  the sha256 of the bytes last enqueued
 *   fwd:jobs      HASH id -> the job JSON (what to send, the rendered names)
 *   fwd:attempts  HASH id -> attempts started
 *   fwd:errors    HASH id -> the last error
 *   fwd:owner     HASH id -> the lease owner
 *   fwd:due       ZSET id -> when it may run (ms)
 *   fwd:lease     ZSET id -> when its lease ends (ms); an expired lease is due again
 *   fwd:dead      ZSET id -> when it died (ms), after the last attempt
 *   fwd:sent:<project>:<pipeline>  HASH "<job id>:<artifact>" -> the job as last enqueued, its
 *                 names rendered at decision time (backfill sends exactly these again)
 *   fwd:seq       the counter that ends every job id
 *   fwd:generation HASH id -> how often the job was requeued from the dead-letter list
 * and the field `defectdojo` of the deployment record (a JSON object keyed "job/artifact"),
 * which only this module writes. Every change is one Lua script, so threads and processes
 * racing on one job see one winner. Worker and forwarder threads, and the CLI.
 */
#ifndef TG_FWD_OUTBOX_H
#define TG_FWD_OUTBOX_H

#include <hiredis.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Adds job (a JSON object with at least project_id, pipeline, job_id, artifact, sha256) once
 * per (project, pipeline, job id, artifact) and sha256: returns 1 when added, 0 when the same
 * bytes were enqueued before (a redelivery or re-decision), -1 on a Redis failure. force
 * enqueues again whatever was enqueued before (backfill). The id is written into job. */
int tg_fwd_enqueue(redisContext *c, const char *prefix, json_t *job, int force);

/* A job taken for one attempt: owned strings. */
struct tg_fwd_claim {
    char id[96];
    json_t *job;    /* new reference */
    int attempt;    /* 1 for the first */
    int generation; /* 0, then 1 after the first requeue from the dead-letter list, ... */
};

/* Takes one due job for owner until now + lease_ms (first turning expired leases back into
 * due jobs). Returns 1 with out filled, 0 when none is due, -1 on a Redis failure. */
int tg_fwd_claim(redisContext *c, const char *prefix, const char *owner, uint64_t lease_ms,
                 struct tg_fwd_claim *out);
void tg_fwd_claim_dispose(struct tg_fwd_claim *cl);

enum tg_fwd_end {
    TG_FWD_DONE,   /* DefectDojo took it: result is the deployment's entry */
    TG_FWD_FAILED, /* final: a refusal or a report that cannot be sent; result names why */
    TG_FWD_RETRY,  /* due again at next_ms */
    TG_FWD_DEAD,   /* out of attempts: to the dead-letter list */
};

/* How an attempt ended: result (a JSON object, or NULL for a retry) goes into the deployment
 * record at deploy_key (when it exists) under entry. All borrowed. */
struct tg_fwd_ending {
    enum tg_fwd_end end;
    uint64_t next_ms; /* RETRY: due again then (Unix ms) */
    const char *error;
    const char *deploy_key;
    const char *entry;
    const json_t *result;
};

/* Ends owner's attempt on id as e says. Returns 0, 1 when the lease was no longer owner's
 * (nothing changed), -1 on a Redis failure. */
int tg_fwd_finish(redisContext *c, const char *prefix, const char *id, const char *owner,
                  const struct tg_fwd_ending *e);

/* The dead-letter list, oldest first: [{"id", "died_at", "error", "attempts", "job"}]. NULL
 * on a Redis failure. */
json_t *tg_fwd_dead_list(redisContext *c, const char *prefix);
/* 1 when id is on the dead-letter list, 0 when not, -1 on a Redis failure. */
int tg_fwd_dead_exists(redisContext *c, const char *prefix, const char *id);
/* Requeues (attempts from 0, the generation one up, due now) or drops one dead job. 1 done,
 * 0 no such dead job, -1. */
int tg_fwd_dead_requeue(redisContext *c, const char *prefix, const char *id);
int tg_fwd_dead_drop(redisContext *c, const char *prefix, const char *id);

/* The jobs enqueued for a pipeline (one per report, as last enqueued; enqueueing one again
 * gives it a new id): a new array; NULL on a Redis failure. */
json_t *tg_fwd_sent(redisContext *c, const char *prefix, long long project, long long pipeline);

/* Jobs waiting or running (due + leased) and dead; -1 each on a Redis failure. */
int tg_fwd_depth(redisContext *c, const char *prefix, long long *pending, long long *dead);

#endif
