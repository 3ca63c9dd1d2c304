/* approval.h -- deployments that wait for people: the request, votes and denials, expiry,
 * supersession by a newer pipeline, and re-evaluation after a policy change.
 *
 * deliver.c records a needs_approval decision as a deployment in state pending_approval (in
 * <prefix>pending by expiry). This module gives it a short id people can type, binds the votes
 * to the deployment and to the policy set it was decided under, asks the chats, and moves it on:
 *
 *   pending_approval --N distinct approvals--> approved --(retry path, deploy.h)--> triggering
 *          |-- any deny -------------------> denied      (commit status canceled)
 *          |-- expiry (worker sweep) ------> expired     (commit status canceled)
 *          |-- a newer pipeline, same ref --> superseded (commit status canceled)
 *          |-- the pipeline turns failed/canceled --> withdrawn (votes voided, commit status
 *          |                                 canceled; deploy.c's tg_deploy_decide)
 *          `-- policy-set hash changed -----> pending_approval again, votes voided, asked again
 *
 * Every transition is one Lua script, so simultaneous clicks count once each and the quorum
 * transition happens exactly once. Chat posts are best effort and retried from a queue: a chat
 * outage never loses a pending deployment. The scripts, keys and fields are deploy's
 * (deliver/deploy_approval.c): this module decides when, audits and talks to the chats.
 */
#ifndef TG_APPROVAL_H
#define TG_APPROVAL_H

#include "approvals/chat_message.h"
#include "base/config.h"
#include "decide/policy.h"
#include "deliver/deploy.h"
#include "deliver/workctx.h"

#include <hiredis.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* A deployment's id: the first 12 hex digits of SHA-256 over its key (16 or 20 on the
 * unlikely collision), lower case. */
#define TG_APPROVAL_ID_LEN 12
#define TG_APPROVAL_ID_MAX 20
/* The id of key with n hex digits (n <= TG_APPROVAL_ID_MAX) into out (n + 1 bytes). */
void tg_approval_id(const char *key, size_t n, char *out);
/* 1 when s could be an id (12 to 20 lower-case hex digits). */
int tg_approval_id_valid(const char *s);

/* Reads decision JSON's "approvals" into out, policy's rule (policy.h; absent parts take the
 * policy defaults: 1, anyone, true; expire_ms is not recorded and stays 0). Always fills out,
 * whose approvers it owns; release with tg_approval_rules_dispose. */
void tg_approval_rules_parse(const char *decision_json, struct tg_approval_rule *out);
void tg_approval_rules_dispose(struct tg_approval_rule *r);
/* Who asks to approve or deny a deployment. */
struct tg_approval_ask {
    const char *identity; /* NULL: an unmapped chat user */
    const char *user;     /* the pipeline's user, who may not approve (prevent_self_approval) */
    int deny;             /* denying one's own deploy is allowed: it only stops it */
    /* GitLab user ids, 0 unknown: the voter's (a console session's OIDC sub) and the
     * pipeline user's (the webhook's user.id). A username can be renamed in GitLab, an id
     * cannot: when both are known, equal ids are the same person whatever the names say. */
    long long identity_id, user_id;
};
/* Why a may not do what it asks under rule r, into buf; NULL when it may. */
const char *tg_approval_refusal(const struct tg_approval_rule *r, const struct tg_approval_ask *a,
                                char *buf, size_t buflen);

/* One deployment loaded for people: the record, its rules and every chat placeholder. */
struct tg_approval_view {
    struct tg_deployment dep; /* the record; strings borrowed from here */
    char key[512];
    const char *state;
    struct tg_approval_rule rules; /* as recorded in the decision; approvers owned */
    int votes, round;
    struct tg_target target;
    struct tg_chat_subject subject; /* its strings live in dep and own */
    char *own[TG_VAR_COUNT];
};
/* Loads the deployment at key. Returns 1, 0 when there is no such record, -1 on a Redis
 * failure. Release with tg_approval_view_dispose (also after 0 or -1). */
int tg_approval_view_load(redisContext *c, const struct tg_config *cfg, const char *key,
                          struct tg_approval_view *v);
void tg_approval_view_dispose(struct tg_approval_view *v);
/* The deployment as the REST API shows it (never the button secret); new reference. */
json_t *tg_approval_view_json(const struct tg_approval_view *v);
/* The decision as recorded (reasons, counts per report, findings, exceptions: what the console
 * shows to explain a request), or NULL when the record holds none; new reference. Kept out of
 * tg_approval_view_json: a list of 100 carried 300 KB of them and spent its time parsing. */
json_t *tg_approval_view_decision(const struct tg_approval_view *v);

/* The key of the deployment with this id into key. Returns 1, 0 unknown, -1 Redis failed. */
int tg_approval_lookup(redisContext *c, const char *prefix, const char *id, char *key,
                       size_t keylen);
/* Up to max keys of pending deployments, soonest expiry first, into keys (each keylen
 * bytes). Returns how many, or -1. */
int tg_approval_pending(redisContext *c, const char *prefix, char (*keys)[512], int max);

/* deliver.c, after the deployment at key was recorded (now or by an earlier delivery) in
 * state: a pending_approval one gets its id, is bound to its policy hash, audited as
 * approval_requested and queued for the chats (all idempotent); a newer pipeline's pending or
 * deploy decision supersedes older pending ones of the same project, ref and environment.
 * Returns 0, or -1 when Redis failed (the event is retried). Worker threads. */
int tg_approval_on_deployment(struct tg_work *w, const char *key, const char *state);

/* deliver.c, after deploy.c withdrew the pending deployment at key because of cause (a phrase:
 * "the pipeline turned failed", "job 12 failed"): the audit record withdrawn (naming the
 * voided approvers, "a,b"), commit status canceled and the chat notice. Worker threads. */
void tg_approval_withdrawn(struct tg_work *w, const char *key, const char *cause,
                           const char *voided);

/* The worker's periodic step: expires overdue requests (audit, commit status canceled, chat
 * notice) and posts one due chat request (new, re-asked, or a retry after a chat failure).
 * Returns 0, or -1 when Redis failed. */
int tg_approval_sweep(struct tg_work *w);

/* After a policy set was loaded (start-up, reload): pending deployments bound to another
 * policy-set hash are bound to this one; approvals they collected are voided (audit
 * approvals_voided) and the chats asked again. Opens its own connection; a failure is
 * logged. Main thread. */
void tg_approval_policy_loaded(const struct tg_config *cfg);

enum tg_vote_status {
    TG_VOTE_COUNTED,   /* approval recorded; more are needed */
    TG_VOTE_APPROVED,  /* this approval completed the quorum: the deploy is queued */
    TG_VOTE_DENIED,    /* the deployment is denied */
    TG_VOTE_DUPLICATE, /* this identity had approved already: it counts once */
    TG_VOTE_REFUSED,   /* not allowed, or no longer pending (why names the state) */
    TG_VOTE_UNKNOWN,   /* no deployment has that id */
    TG_VOTE_ERROR,     /* Redis failed */
};

/* One person's approve or deny. Strings borrowed. */
struct tg_vote {
    const char *id;
    const char *identity;  /* NULL: an unmapped chat user */
    const char *chat_user; /* as the chat names them ("U2CERLKJA"), or NULL for the API */
    const char *channel;   /* slack, mattermost, api */
    const char *comment;   /* approve: optional; deny: the reason (required) */
    int deny;
    int round;             /* a button's request round; 0: the current one */
    long long identity_id; /* the voter's GitLab user id (console sessions); 0 unknown */
};

struct tg_vote_result {
    enum tg_vote_status status;
    char why[256]; /* refused: the reason, naming the state */
    int have_view;
    struct tg_approval_view view; /* as it stands after the vote, when have_view */
};

/* "counted", "quorum", "denied", "duplicate", "refused", "unknown", "error". */
const char *tg_vote_status_name(enum tg_vote_status s);
/* The chat text that reports a vote with this status (vote, approved, denied, duplicate,
 * refused, unknown_id). */
enum tg_chat_text tg_vote_text(enum tg_vote_status s);

/* Checks the rules and records the vote atomically, with its audit record. Fast (Redis
 * only): chat answers go out after it. Release out with tg_vote_result_dispose. */
void tg_approval_cast(struct tg_work *w, const struct tg_vote *v, struct tg_vote_result *out);
/* The slow part after answering: the commit status of a denial and the chat notices (none to
 * the chats in skip, which answered in place). */
void tg_approval_follow_up(struct tg_work *w, const struct tg_vote *v,
                           const struct tg_vote_result *r, unsigned skip);
void tg_vote_result_dispose(struct tg_vote_result *r);

/* A work context for the API pool: the handler's connection, audit writer and config, plus a
 * GitLab client for commit statuses. Dispose frees the client only. */
void tg_approval_work_init(struct tg_work *w, struct tg_config *cfg, redisContext *rc,
                           struct tg_audit *audit);
void tg_approval_work_dispose(struct tg_work *w);

#endif
