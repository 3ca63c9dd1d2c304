/* deploy.h -- the deployment state machine in Redis: exactly one trigger per
 * (project, pipeline, environment), and never an older pipeline after a newer one.
 *
 *   decided --claim--> triggering --mark_sending--> sending --201--> triggered
 *      ^   approved       |  lease expired             |  \--certain failure--> retry_wait | failed
 *      |  (approvals)     v  (nothing was sent)        |   \--unknown outcome (timeout, reset, 5xx)
 *      +---------- retry_wait <----------+             |     or lease expired --> reconciling
 *                                        |             v
 *   reconciling --GitLab has the marker--------------------------------------> triggered
 *        |  \--absent, settle window over (certain) --> retry_wait | failed (out of tries)
 *        |   \--absent, window still open: check again at settle_until
 *        +--GitLab cannot be asked within the tries, or may not show variables (403) --> unknown
 *   unknown, failed --retrigger (an operator)--> decided
 *   pending_approval, blocked, skipped: decisions that trigger nothing (here)
 *   skipped, blocked, withdrawn (decided for a failed/canceled pipeline) --success--> decided again
 *   pending_approval --the pipeline turns failed/canceled--> withdrawn (votes voided)
 *   superseded: a newer pipeline of the same ref already triggered the same chart/environment
 *
 * Every transition is one Lua script, so two workers (threads or hosts) racing on the same
 * deployment see one winner; a transition that has effects (audit record, commit status)
 * writes them to the outbox (outbox.h) in the same script. Keys are drawn in deploy.c.
 */
#ifndef TG_DEPLOY_H
#define TG_DEPLOY_H

#include <hiredis.h>
#include <stddef.h>
#include <stdint.h>

struct tg_trigger_request; /* template.h */

/* A new deployment record: what was decided, and for deploys, what to trigger (no token). */
struct tg_deploy_new {
    const char *state; /* decided, pending_approval, blocked, skipped, failed */
    long long project_id;
    const char *project; /* path */
    long long pipeline;
    const char *sha, *ref, *environment, *user;
    long long user_id; /* the pipeline's user's GitLab id (user.id), 0 unknown: separation of
                          duties compares it, since a username can be changed */
    const char *verdict, *rule, *reason; /* reason: the main one, for statuses and chat */
    const char *decision;                /* decision JSON */
    const char *policy_hash;
    /* deploys: the rendered trigger, kept once for every attempt (never its token: the
     * record names the template, whose current token each attempt takes) */
    const struct tg_trigger_request *request;
    uint64_t pending_expiry_ms; /* pending_approval: when it expires */
};

/* What names a deployment. */
struct tg_deploy_id {
    long long project_id, pipeline;
    const char *environment;
};
/* The key of a deployment into out ("<prefix>deploy:<project_id>:<pipeline>:<environment>"). */
void tg_deploy_key(char *out, size_t outlen, const char *prefix, const struct tg_deploy_id *id);

/* What one terminal event of a pipeline says, for tg_deploy_decide. Strings borrowed. */
struct tg_deploy_event {
    const char *status; /* the pipeline status decided on: success, failed, canceled, skipped (or
                           manual, where the policy treats it as success) */
    const char *builds; /* fingerprint of builds[] (lifecycle.h): equal, with an echo's status,
                           means an echo */
    long long rank;     /* the highest job id in builds[]: a retry creates a higher one */
};

enum tg_decide_outcome {
    TG_DECIDE_CREATED,   /* the first decision of this deployment */
    TG_DECIDE_REDECIDED, /* a skip/block/withdrawal for failed or canceled, replaced on success */
    TG_DECIDE_WITHDRAWN, /* pending approval, and the pipeline turned failed or canceled */
    TG_DECIDE_ECHO,      /* the builds of the newest run known, and its status or the one
                            Tollgate's own commit status makes GitLab compute: nothing new */
    TG_DECIDE_KEPT,      /* a later event that does not change the decision (why says which rule) */
};

struct tg_decide_result {
    enum tg_decide_outcome outcome;
    char state[32];    /* the deployment's state after the call */
    char action[16];   /* the audit action of the current version: decided, redecided, withdrawn */
    char earlier[32];  /* redecided (and an echo of it): the verdict it replaced */
    char why[32];      /* kept: acted (approved or further on), stale (an older event: lower
                           rank), same_status, not_redecidable */
    char voided[512];  /* withdrawn: the approvers whose votes were voided, "a,b" */
    long long version; /* 1 for the first decision, +1 on every re-decision or withdrawal */
};

/* Applies one terminal event's decision d to the deployment at key, in one script (so
 * events of one pipeline handled by several workers at once end as if handled one by one):
 * creates it; or keeps it (an echo, an older event, the same status again, or a deployment
 * already acted on; every event not older makes its run the newest known: rank, and unless
 * acted on, status and builds); or re-decides it (skipped, blocked or withdrawn for
 * failed/canceled, now success); or withdraws a pending approval whose pipeline turned
 * failed/canceled (its votes voided). Returns 0 with out filled, -1 on a Redis failure. */
struct tg_deploy_decision {
    const char *key;
    const struct tg_deploy_new *record;
    const struct tg_deploy_event *event;
};
int tg_deploy_decide(redisContext *c, const char *prefix, const struct tg_deploy_decision *in,
                     struct tg_decide_result *out);

/* A Job Hook: job job_id of the pipeline ended status (failed or canceled, not allowed to
 * fail). A deployment of that pipeline waiting for approval, decided on a hook older than that
 * job (its rank below job_id), is withdrawn, its votes voided; fn is called for each with
 * its key, new version and the voided identities ("a,b"). GitLab may never report such a
 * pipeline failed: Tollgate's own pending status keeps it running. Returns how many, or -1. */
typedef void (*tg_deploy_withdrawn_fn)(void *arg, const char *key, long long version,
                                       const char *voided);
struct tg_deploy_job_end {
    long long project_id, pipeline, job_id;
    const char *status;
    tg_deploy_withdrawn_fn fn;
    void *arg;
};
int tg_deploy_job_failed(redisContext *c, const char *prefix, const struct tg_deploy_job_end *j);

/* 1 when the deployment at key is still at version (nothing re-decided or withdrew it since),
 * 0 when not, -1 on a Redis failure. A worker posts the commit status of a decision only while
 * its version is current, so a slower worker cannot overwrite a newer decision's status. */
int tg_deploy_is_current(redisContext *c, const char *key, long long version);

enum tg_claim {
    TG_CLAIM_GO,         /* ours: send the trigger now (attempt says which try) */
    TG_CLAIM_BUSY,       /* another worker holds a live lease */
    TG_CLAIM_DONE,       /* nothing to send in this state (detail holds the state) */
    TG_CLAIM_SUPERSEDED, /* a newer pipeline's trigger was sent (detail: its pipeline id); the
                            `superseded` effect waits in the outbox (tg_outbox_last_id) */
    TG_CLAIM_ERROR,      /* Redis failed */
};

/* Takes the deployment at q->key for one trigger attempt, holding it until now + lease_ms. */
struct tg_deploy_claim {
    const char *key, *owner;
    uint64_t lease_ms;
    int attempt;      /* out, go: which try */
    char detail[256]; /* out: done: the state; superseded: the newer pipeline */
};
enum tg_claim tg_deploy_claim(redisContext *c, const char *prefix, struct tg_deploy_claim *q);

/* Records that the trigger is about to leave (triggering -> sending, sent_at = now, the lease
 * renewed). Call it right before sending; send only on 0. Returns 1 when the deployment is no
 * longer ours (the lease expired and it was taken back), -1 when Redis failed. */
int tg_deploy_mark_sending(redisContext *c, const char *prefix, const char *key, const char *owner,
                           uint64_t lease_ms);

/* One Redis call right before the request leaves: 0 when owner still holds key in `sending`
 * with at least need_ms of its lease left (the request finishes within the lease), 1 when
 * not (a pause since mark_sending: the sweep may have taken it; send nothing), -1 Redis. */
int tg_deploy_confirm_sending(redisContext *c, const char *prefix, const char *key,
                              const char *owner, uint64_t need_ms);

/* A 201 (pipeline ours) whose finish was lost. When key is recorded triggered with another
 * pipeline, adds effect (JSON, "@@OTHER@@" (quoted or bare) replaced by that id) to the outbox and
 * returns 0 with other and its effect id; 2 when key holds ours; 1 when key is not yet
 * triggered (its reconciliation finds ours by the marker); -1 Redis failed. */
struct tg_deploy_late {
    const char *key;
    long long ours;      /* the pipeline our late 201 created */
    const char *effect;  /* the duplicate_trigger effect JSON */
    long long other;     /* out: the pipeline recorded */
    char effect_id[600]; /* out */
};
int tg_deploy_duplicate(redisContext *c, const char *prefix, struct tg_deploy_late *l);

enum tg_outcome {
    TG_OUTCOME_TRIGGERED, /* GitLab created it (201, or reconciliation found the marker) */
    TG_OUTCOME_RETRY,     /* certainly not created; due again at next_at_ms */
    TG_OUTCOME_FAILED,    /* certainly not created, for good */
    TG_OUTCOME_RECONCILE, /* not known: ask GitLab at next_at_ms */
    TG_OUTCOME_UNKNOWN,   /* GitLab could not be asked: an operator decides */
};

struct tg_deploy_result {
    enum tg_outcome outcome;
    long long downstream_id; /* triggered */
    const char *downstream_url;
    uint64_t next_at_ms;      /* retry: due; reconcile: next check */
    uint64_t settle_until_ms; /* reconcile: from then on, absent means never created */
    int checks;               /* reconcile: failed attempts to ask GitLab so far */
    long long scanned_id;     /* reconcile: pipelines up to this id were read and are not ours */
    const char *error;        /* every outcome but triggered */
    const char *effect;       /* the change's effect JSON (tg_outbox_effect), or NULL */
};

/* Records the outcome from triggering, sending or reconciling (and a 201 from unknown: a
 * real outcome beats a guess), with its effect in the outbox; the effect's id goes to
 * effect_id ("" when none). Returns 0 when recorded, 1 when the deployment is no longer
 * ours and nothing changed, -1 on failure. */
struct tg_deploy_finish {
    const char *key, *owner;
    const struct tg_deploy_result *result;
};
int tg_deploy_finish(redisContext *c, const char *prefix, const struct tg_deploy_finish *f,
                     char *effect_id, size_t idlen);

/* Takes back deployments whose lease expired (at most 16 per call): a claim that never
 * reached sending becomes due again at once; a send without a recorded answer becomes
 * reconciling, settled at sent_at + settle_ms (trigger.timeout + trigger.settle), with a
 * `reconciling` effect. Calls fn with each key, its new state and the effect id ("" when
 * none). Returns how many, or -1. */
typedef void (*tg_deploy_swept_fn)(void *arg, const char *key, const char *became,
                                   const char *effect_id);
int tg_deploy_sweep(redisContext *c, const char *prefix, uint64_t settle_ms, tg_deploy_swept_fn fn,
                    void *arg);

/* Takes a reconciling deployment whose check is due for one check by owner, until now +
 * lease_ms. Returns 1 ours, 0 not (not due, or no longer reconciling), -1 on failure. */
int tg_deploy_reconcile_claim(redisContext *c, const char *prefix, const char *key,
                              const char *owner, uint64_t lease_ms);
/* The key of one reconciling deployment whose check is due. Returns 1, 0 when none, -1. */
int tg_deploy_next_reconcile(redisContext *c, const char *prefix, char *key, size_t keylen);

/* The key of one deployment whose retry is due, into key. Returns 1, 0 when none, -1. */
int tg_deploy_next_due(redisContext *c, const char *prefix, char *key, size_t keylen);

/* An operator's deliberate re-run of an unknown or failed deployment: back to decided and due
 * at once. Returns 0, or -1 with the current state in detail when that is not allowed. */
int tg_deploy_retrigger(redisContext *c, const char *prefix, const char *key, char *detail,
                        size_t detaillen);

/* ---- deployments that wait for people (deploy_approval.c; approval.h says when) ---- */

/* Gives the pending deployment at key its id and queues its chat request (a deployment asked
 * again after a re-decision gets the next round). Returns 1 when it is set up (now or
 * before), 0 when it is no longer pending, 2 when id belongs to another key, -1. */
int tg_deploy_request(redisContext *c, const char *prefix, const char *key, const char *id);
/* The key of the deployment with this id into key. Returns 1, 0 unknown, -1 Redis failed. */
int tg_deploy_lookup(redisContext *c, const char *prefix, const char *id, char *key, size_t keylen);
/* Up to max keys of pending deployments, soonest expiry first (each keylen 512). Returns how
 * many, or -1. */
int tg_deploy_pending(redisContext *c, const char *prefix, char (*keys)[512], int max);
/* How many deployments wait for approval (all of <prefix>pending); -1 when Redis failed. */
long long tg_deploy_pending_total(redisContext *c, const char *prefix);

/* One approve or deny, checked and counted in one script (the expiry too: the sweep may not
 * have run yet). outcome: counted, approved (the quorum: queued on <prefix>retry), denied,
 * duplicate (detail: the votes so far), state (not pending; detail names the state), stale
 * (a button of an earlier round). */
struct tg_deploy_ballot {
    const char *key, *identity, *channel;
    const char *comment; /* approve: optional; deny: the reason (stored scrubbed) */
    int required, round, deny;
    char outcome[16], detail[64]; /* out */
};
/* 0 with b->outcome set, -1 when Redis failed. */
int tg_deploy_vote(redisContext *c, const char *prefix, struct tg_deploy_ballot *b);

/* Called for each deployment a sweep closed: key and up to two facts (see each function). */
typedef void (*tg_deploy_closed_fn)(void *arg, const char *key, const char *a, const char *b);
/* Expires pending deployments past their expiry (at most 16 per call); fn(key, "", ""). */
int tg_deploy_expire_due(redisContext *c, const char *prefix, tg_deploy_closed_fn fn, void *arg);
/* The deployment at key was decided (pending or deploy): older pending deployments of the same
 * project, ref, environment and chart target are superseded, and key itself when a newer one
 * waits; fn(superseded key, newer pipeline, ""). Returns 0, or -1. */
int tg_deploy_supersede_pending(redisContext *c, const char *prefix, const char *key,
                                tg_deploy_closed_fn fn, void *arg);
/* Binds pending deployments to policy_hash; the votes of those bound to another are voided
 * and their request queued again. fn(key, old hash, voided identities "a,b"). 0 or -1. */
int tg_deploy_void_votes(redisContext *c, const char *prefix, const char *policy_hash,
                         tg_deploy_closed_fn fn, void *arg);

/* Claims one deployment whose chat request is due for lease_ms, into key. 1, 0 none, -1. */
int tg_deploy_notify_claim(redisContext *c, const char *prefix, uint64_t lease_ms, char *key,
                           size_t keylen);
/* Which chats took round `round` of the request (posted:<chat>); unless complete, the request
 * is due again at due_ms. A closed deployment leaves the queue. */
struct tg_deploy_notified {
    const char *key;
    int round, complete;
    uint64_t due_ms;
    const char *const *posted; /* chat names newly posted */
    int nposted;               /* at most 8 */
};
int tg_deploy_notify_done(redisContext *c, const char *prefix, const struct tg_deploy_notified *n);

/* ---- the record, decoded once (deployment.c) ----
 * Every field of the deployment hash, typed: strings are NULL when absent, numbers 0. The
 * strings are borrowed from the reply the struct owns. */
struct tg_deploy_vote {
    const char *identity, *channel;
    long long at; /* ms */
};
struct tg_deployment {
    redisReply *reply; /* owned */
    /* what was decided (tg_deploy_decide) */
    const char *state;
    long long project_id;
    const char *project; /* path */
    long long pipeline;
    const char *sha, *ref, *environment, *user;
    long long user_id; /* 0: unknown (records from before it was kept) */
    const char *verdict, *rule, *reason, *decision, *policy_hash;
    const char *defectdojo; /* JSON object: "<job id>:<artifact>" -> DefectDojo's answer */
    /* what to trigger: the template it was rendered from, its target and variables (JSON) */
    const char *template_name, *chart_project, *chart_ref, *variables;
    /* the pipeline's run it stands on (lifecycle) */
    const char *status, *builds, *last_action, *redecided_from;
    long long rank, version;
    /* triggering, sending, reconciling */
    const char *owner, *downstream_url, *error;
    long long attempts, lease_until, sent_at, first_sent_at, next_at, settle_until;
    long long reconcile_checks, reconcile_scanned, downstream_id;
    long long effects; /* the outbox counter: the newest effect's number */
    /* approval */
    const char *approval_id, *approval_hash, *denied_by, *deny_reason;
    long long approval_round, votes, notify_attempts, expires_at;
    /* times (ms) */
    long long created_at, updated_at, decided_at, approved_at, expired_at, withdrawn_at;
    long long redecided_at, retriggered_at;
    /* vote:<identity> = "<ms> <channel>", in the order they were cast */
    struct tg_deploy_vote *voters; /* owned */
    size_t nvoters;
};
/* Lua, prepended to a script of another module that completes a side effect of this
 * deployment (forward/outbox.c: a report reached DefectDojo): deploy_note_forwarded(deployment
 * key, entry, result JSON) records result under entry in the record's "defectdojo" object, when
 * the record still exists. The record's fields stay deploy's: the caller only composes this. */
#define TG_DEPLOY_FORWARDED_LUA                                                                    \
    "local function deploy_note_forwarded(dkey, entry, result)\n"                                  \
    "  if redis.call('EXISTS', dkey) == 0 then return end\n"                                       \
    "  local cur = redis.call('HGET', dkey, 'defectdojo')\n"                                       \
    "  local all = cur and cjson.decode(cur) or {}\n"                                              \
    "  all[entry] = cjson.decode(result)\n"                                                        \
    "  redis.call('HSET', dkey, 'defectdojo', cjson.encode(all))\n"                                \
    "end\n"

/* The environment indexes: per (project id, environment), the deployment of the newest
 * pipeline decided ("latest", written by tg_deploy_decide) or triggered ("live", written by
 * tg_deploy_finish). Keys <prefix>deployments:latest and <prefix>deployments:live, hashes
 * "<project id> <environment>" -> "<pipeline> <deployment key>", owned here. */
struct tg_deploy_index_entry {
    long long project_id, pipeline;
    char *environment, *key; /* owned */
    long long expires_at;    /* tg_deploy_pending_all: the request's expiry (ms) */
};
/* The latest (live 0) or live (live 1) index: n entries into *out, -1 when Redis failed.
 * Release with tg_deploy_index_dispose(*out, n) (also after -1, with n 0). */
int tg_deploy_index_read(redisContext *c, const char *prefix, int live,
                         struct tg_deploy_index_entry **out);
/* Every deployment waiting for approval, soonest expiry first, named by its key alone (no
 * record is read): n entries into *out, -1 when Redis failed. */
int tg_deploy_pending_all(redisContext *c, const char *prefix, struct tg_deploy_index_entry **out);
void tg_deploy_index_dispose(struct tg_deploy_index_entry *e, int n);

/* Loads the deployment at key into d. Returns 1, 0 when there is no such record, -1 when
 * Redis failed. Release with tg_deployment_dispose (also after 0 or -1). */
int tg_deployment_load(redisContext *c, const char *key, struct tg_deployment *d);
void tg_deployment_dispose(struct tg_deployment *d);
/* The n deployments at keys into out[0..n-1], in one round trip (pipelined HGETALLs); found[i]
 * as tg_deployment_load returns it. Returns 0, or -1 when Redis failed (the connection is then
 * not to be used again: the pool reconnects). Dispose every out[i]. */
int tg_deployment_load_many(redisContext *c, const char *const *keys, size_t n,
                            struct tg_deployment *out, int *found);
/* The trigger request recorded at decision time into out (template_name, project, ref and the
 * variables; token NULL: the caller takes it from that template). Release with
 * tg_trigger_request_dispose. The stored form: fields template, chart_project, chart_ref and
 * variables (a JSON object of strings), as records have always held it. */
void tg_deployment_request(const struct tg_deployment *d, struct tg_trigger_request *out);
/* The round last posted to chat (posted:<chat>), -1 when none. */
long long tg_deployment_posted(const struct tg_deployment *d, const char *chat);

#endif
