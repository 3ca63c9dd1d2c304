/* approval.c -- deployments that wait for people: requests, votes, expiry, supersession and
 * re-evaluation (diagram in approval.h). Worker threads, API pool threads, and the main thread
 * for tg_approval_policy_loaded. Every transition is one of deploy's scripts
 * (deploy_approval.c, which draws the fields and keys); this module decides when, records the
 * audit trail, posts commit statuses and talks to the chats.
 */
#include "approvals/approval.h"
#include "console/approvers.h"
#include "base/crypto.h"
#include "deliver/deploy.h"
#include "base/log.h"
#include "decide/policy.h"
#include "base/redisconn.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TG_MODULE             "approval"
#define NOTIFY_LEASE_MS       60000 /* a claimed chat post; long enough for two chats' timeouts */
#define NOTIFY_BACKOFF_CAP_MS 300000
#define ALL_CHATS             (TG_CHAT_BIT(TG_CHAT_SLACK) | TG_CHAT_BIT(TG_CHAT_MATTERMOST))

/* Appends a record about v (target filled from it). Takes details. */
static int record(struct tg_work *w, const struct tg_approval_view *v,
                  const struct tg_audit_record *base, const char *reason, json_t *details)
{
    struct tg_audit_record r = *base;
    json_t *reasons = reason ? json_pack("[s]", reason) : NULL;
    r.reasons = reasons;
    r.details = details;
    r.decision = "needs_approval";
    if (v)
        tg_work_record_target(&r, &v->target);
    int rc = tg_work_audit(w, &r);
    json_decref(reasons);
    json_decref(details);
    return rc;
}

/* ---- lookups ---- */

int tg_approval_lookup(redisContext *c, const char *prefix, const char *id, char *key,
                       size_t keylen)
{
    if (!tg_approval_id_valid(id))
        return 0;
    return tg_deploy_lookup(c, prefix, id, key, keylen);
}

int tg_approval_pending(redisContext *c, const char *prefix, char (*keys)[512], int max)
{
    return tg_deploy_pending(c, prefix, keys, max);
}

/* ---- the request ---- */

/* The once key of an approval step ("approval_<what>:<key>"): a re-decided deployment
 * (version 2 and later, deploy.c) is asked and closed again, each version once. */
static void once_key(char *out, size_t outlen, const char *what, const struct tg_approval_view *v)
{
    long long version = v->dep.version;
    if (version == 0 || version == 1) /* absent, or the first decision */
        snprintf(out, outlen, "approval_%s:%s", what, v->key);
    else
        snprintf(out, outlen, "approval_%s:%s:v%lld", what, v->key, version);
}

static int record_requested(struct tg_work *w, const char *key)
{
    struct tg_approval_view v;
    char once[600];
    int rc = tg_approval_view_load(w->rc, w->cfg, key, &v);
    if (rc == 1) {
        once_key(once, sizeof once, "requested", &v);
        json_t *approvers = json_array();
        for (char **p = v.rules.approvers; *p; p++)
            json_array_append_new(approvers, json_string(*p));
        json_t *details =
            json_pack("{s:s?, s:i, s:o, s:b, s:s?, s:s?}", "id", v.subject.var[TG_VAR_ID],
                      "required", v.rules.required, "approvers", approvers, "prevent_self_approval",
                      v.rules.prevent_self_approval, "expires_at", v.subject.var[TG_VAR_EXPIRES],
                      "policy_hash", v.dep.approval_hash);
        struct tg_audit_record base = {.action = "approval_requested", .once = once};
        rc = record(w, &v, &base, v.subject.var[TG_VAR_REASON], details);
        TG_LOG(TG_LOG_INFO, "requested", "%s as %s", key, v.subject.var[TG_VAR_ID]);
    }
    tg_approval_view_dispose(&v);
    return rc < 0 ? -1 : 0;
}

static int request(struct tg_work *w, const char *key)
{
    char id[TG_APPROVAL_ID_MAX + 1];
    for (size_t n = TG_APPROVAL_ID_LEN; n <= TG_APPROVAL_ID_MAX; n += 4) {
        tg_approval_id(key, n, id);
        int rc = tg_deploy_request(w->rc, w->cfg->redis.prefix, key, id);
        if (rc != 2)
            return rc <= 0 ? rc : record_requested(w, key);
    }
    TG_LOG(TG_LOG_ERROR, "id_collision", "%s: every id length collides; no chat request", key);
    return 0;
}

/* ---- closing without a vote: expiry and supersession ---- */

struct closing {
    const char *action;     /* audit */
    const char *gitlab;     /* commit status */
    enum tg_chat_text text; /* chat notice */
};

/* Closings that are Tollgate's (or people's) reason post canceled, never failed: the status is
 * an external job of the pipeline, and failed would turn a green pipeline red (README, "What
 * GitLab shows"). A withdrawal posts skipped, which GitLab's composite status counts as
 * passing: canceled would hold the pipeline canceled for good, and a retried job that turns
 * it green again could never be re-decided. */
static const struct closing expired_closing = {"expired", "canceled", TG_TEXT_EXPIRED};
static const struct closing superseded_closing = {"superseded", "canceled", TG_TEXT_SUPERSEDED};
static const struct closing withdrawn_closing = {"withdrawn", "skipped", TG_TEXT_WITHDRAWN};

static void on_closed(struct tg_work *w, const char *key, const struct closing *c,
                      const char *detail)
{
    struct tg_approval_view v;
    char once[600], desc[256];
    if (tg_approval_view_load(w->rc, w->cfg, key, &v) == 1) {
        once_key(once, sizeof once, c->action, &v);
        snprintf(desc, sizeof desc, "%s (%d/%d approvals)", detail, v.votes, v.rules.required);
        struct tg_audit_record base = {.action = c->action, .once = once};
        record(w, &v, &base, desc,
               json_pack("{s:s?, s:i, s:i}", "id", v.subject.var[TG_VAR_ID], "votes", v.votes,
                         "required", v.rules.required));
        TG_LOG(TG_LOG_INFO, c->action, "%s: %s", key, desc);
        /* a later event may have re-decided it meanwhile: then its status is the newer one */
        if (v.state && strcmp(v.state, c->action) == 0) {
            tg_work_status(w, &v.target, c->gitlab, desc);
            v.subject.var[TG_VAR_DETAIL] = detail;
            tg_chat_announce(w->cfg, &v.subject, c->text, -1, 0);
        }
    }
    tg_approval_view_dispose(&v);
}

static void on_superseded(void *arg, const char *key, const char *newer, const char *unused)
{
    char detail[160];
    (void)unused;
    snprintf(detail, sizeof detail, "superseded by pipeline %s of the same ref", newer);
    on_closed(arg, key, &superseded_closing, detail);
}

static int supersede_older(struct tg_work *w, const char *key)
{
    return tg_deploy_supersede_pending(w->rc, w->cfg->redis.prefix, key, on_superseded, w);
}

void tg_approval_withdrawn(struct tg_work *w, const char *key, const char *cause,
                           const char *voided)
{
    char detail[700];
    snprintf(detail, sizeof detail, "%s while it waited; nobody can approve it now%s%s", cause,
             *voided ? "; approvals voided: " : "", voided);
    on_closed(w, key, &withdrawn_closing, detail);
}

int tg_approval_on_deployment(struct tg_work *w, const char *key, const char *state)
{
    static const char *const newer_wins[] = {"pending_approval", "decided",   "approved",
                                             "triggering",       "sending",   "reconciling",
                                             "retry_wait",       "triggered", "unknown"};
    if (strcmp(state, "pending_approval") == 0 && request(w, key) < 0)
        return -1;
    for (size_t i = 0; i < TG_ARRAY_SIZE(newer_wins); i++)
        if (strcmp(state, newer_wins[i]) == 0)
            return supersede_older(w, key);
    return 0;
}

/* ---- the sweep ---- */

static void on_expired(void *arg, const char *key, const char *a, const char *b)
{
    (void)a;
    (void)b;
    on_closed(arg, key, &expired_closing, "the approval request expired");
}

static int expire_due(struct tg_work *w)
{
    return tg_deploy_expire_due(w->rc, w->cfg->redis.prefix, on_expired, w);
}

/* Records which chats took round v->round; requeues the rest with a backoff. */
static int notify_done(struct tg_work *w, const struct tg_approval_view *v, unsigned posted,
                       unsigned newly)
{
    const char *chats[TG_CHAT_COUNT];
    long long attempts = v->dep.notify_attempts;
    uint64_t delay = attempts >= 8 || attempts < 0 ? NOTIFY_BACKOFF_CAP_MS : 1000ULL << attempts;
    struct tg_deploy_notified n = {.key = v->key,
                                   .round = v->round,
                                   .complete = (posted & ALL_CHATS) == ALL_CHATS,
                                   .due_ms = tg_now_ms() + delay,
                                   .posted = chats};
    for (int c = 0; c < TG_CHAT_COUNT; c++)
        if (newly & TG_CHAT_BIT(c))
            chats[n.nposted++] = tg_chat_name((enum tg_chat_service)c);
    return tg_deploy_notify_done(w->rc, w->cfg->redis.prefix, &n);
}

/* The chats that already show round v->round, as a TG_CHAT_BIT mask. */
static unsigned already_posted(const struct tg_approval_view *v)
{
    unsigned m = 0;
    for (int c = 0; c < TG_CHAT_COUNT; c++) {
        if (tg_deployment_posted(&v->dep, tg_chat_name((enum tg_chat_service)c)) == v->round)
            m |= TG_CHAT_BIT(c);
    }
    return m;
}

static int post_request(struct tg_work *w, struct tg_approval_view *v)
{
    unsigned before = already_posted(v), targets = tg_chat_targets(w->cfg);
    unsigned done = tg_chat_announce(w->cfg, &v->subject, TG_TEXT_REQUEST,
                                     v->round > 1 ? TG_TEXT_VOIDED : -1, before);
    unsigned newly = done & targets & ~before;
    if (newly)
        TG_LOG(TG_LOG_INFO, "request_posted", "%s round %d (%s%s%s)", v->subject.var[TG_VAR_ID],
               v->round, newly & TG_CHAT_BIT(TG_CHAT_SLACK) ? "slack" : "",
               newly == ALL_CHATS ? ", " : "",
               newly & TG_CHAT_BIT(TG_CHAT_MATTERMOST) ? "mattermost" : "");
    return notify_done(w, v, done | before, newly);
}

static int notify_due(struct tg_work *w)
{
    char key[512];
    struct tg_approval_view v;
    int rc = tg_deploy_notify_claim(w->rc, w->cfg->redis.prefix, NOTIFY_LEASE_MS, key, sizeof key);
    if (rc <= 0)
        return rc;
    rc = tg_approval_view_load(w->rc, w->cfg, key, &v);
    if (rc == 1 && v.subject.buttons)
        rc = post_request(w, &v);
    else if (rc >= 0)
        rc = notify_done(w, &v, ALL_CHATS, 0); /* closed or gone: drop it from the queue */
    tg_approval_view_dispose(&v);
    return rc < 0 ? -1 : 0;
}

int tg_approval_sweep(struct tg_work *w)
{
    return expire_due(w) < 0 || notify_due(w) < 0 ? -1 : 0;
}

/* ---- policy changes ---- */

static void record_voided(struct tg_work *w, const char *key, const char *old_hash,
                          const char *names)
{
    struct tg_approval_view v;
    char reason[256];
    if (tg_approval_view_load(w->rc, w->cfg, key, &v) == 1) {
        json_t *voided = json_array();
        for (const char *p = names; *p;) {
            size_t n = strcspn(p, ",");
            json_array_append_new(voided, json_stringn(p, n));
            p += n + (p[n] == ',');
        }
        snprintf(reason, sizeof reason, "the policy set changed: %zu approval(s) voided%s",
                 json_array_size(voided), json_array_size(voided) ? ", asked again" : "");
        struct tg_audit_record base = {.action = "approvals_voided"};
        record(w, &v, &base, reason,
               json_pack("{s:s?, s:s, s:s?, s:o, s:i}", "id", v.subject.var[TG_VAR_ID],
                         "old_policy_hash", old_hash, "policy_hash", v.dep.approval_hash, "voided",
                         voided, "round", v.round));
        TG_LOG(TG_LOG_INFO, "approvals_voided", "%s: %s", key, reason);
    }
    tg_approval_view_dispose(&v);
}

static void on_voided(void *arg, const char *key, const char *old_hash, const char *names)
{
    record_voided(arg, key, old_hash, names);
}

static void reevaluate(struct tg_work *w)
{
    if (tg_deploy_void_votes(w->rc, w->cfg->redis.prefix, tg_policy_set_hash(w->cfg->policies),
                             on_voided, w) < 0)
        TG_LOG(TG_LOG_ERROR, "reevaluation_failed", "pending approvals were not re-evaluated");
}

void tg_approval_policy_loaded(const struct tg_config *cfg)
{
    char err[256];
    if (cfg->policies == NULL || cfg->redis.url == NULL)
        return;
    redisContext *c =
        tg_redis_connect_url(cfg->redis.url, cfg->limits.redis_timeout_ms, err, sizeof err);
    if (c == NULL) {
        TG_LOG(TG_LOG_WARN, "reevaluation_skipped", "redis: %s", err);
        return;
    }
    struct tg_work w;
    tg_approval_work_init(&w, (struct tg_config *)cfg, c, tg_audit_new(cfg));
    reevaluate(&w);
    tg_audit_free(w.audit);
    tg_approval_work_dispose(&w);
    redisFree(c);
}

/* ---- votes ---- */

static const char *const outcome_names[] = {
    [TG_VOTE_COUNTED] = "counted",     [TG_VOTE_APPROVED] = "quorum", [TG_VOTE_DENIED] = "denied",
    [TG_VOTE_DUPLICATE] = "duplicate", [TG_VOTE_REFUSED] = "refused", [TG_VOTE_UNKNOWN] = "unknown",
    [TG_VOTE_ERROR] = "error"};

static void record_vote(struct tg_work *w, const struct tg_vote *v, const struct tg_vote_result *r)
{
    char actor[160];
    const struct tg_approval_view *view = r->have_view ? &r->view : NULL;
    int accepted = r->status == TG_VOTE_COUNTED || r->status == TG_VOTE_APPROVED ||
                   r->status == TG_VOTE_DENIED;
    snprintf(actor, sizeof actor, "%s%s%s", v->identity ? v->identity : v->channel,
             v->identity ? "" : ":", v->identity ? "" : (v->chat_user ? v->chat_user : "unknown"));
    json_t *details = json_pack(
        "{s:s, s:s, s:s?, s:s?, s:s?, s:s, s:i, s:i, s:i}", "id", v->id ? v->id : "", "channel",
        v->channel, "chat_user", v->chat_user, "identity", v->identity, "comment", v->comment,
        "outcome", outcome_names[r->status], "votes", view ? view->votes : 0, "required",
        view ? view->rules.required : 0, "round", view ? view->round : 0);
    json_object_set_new(details, "request", json_string(v->deny ? "deny" : "approve"));
    struct tg_audit_record base = {.action = !accepted ? "approval_refused"
                                             : v->deny ? "denied"
                                                       : "approved",
                                   .actor = actor};
    record(w, view, &base, accepted ? v->comment : r->why, details);
}

/* Why the vote cannot be taken before asking Redis (state and rules), into out->why. */
static int precheck(struct tg_work *w, const struct tg_vote *v, struct tg_vote_result *out)
{
    const struct tg_approval_view *view = &out->view;
    if (view->state == NULL || strcmp(view->state, "pending_approval") != 0) {
        snprintf(out->why, sizeof out->why, "deployment %s is %s", v->id,
                 view->state ? view->state : "unknown");
        return -1;
    }
    /* group approvers are resolved through GitLab at vote time (console/approvers.h) */
    struct tg_approver_query q = {.cfg = w->cfg,
                                  .rc = w->rc,
                                  .rules = &view->rules,
                                  .identity = v->identity,
                                  .user = view->target.user,
                                  .deny = v->deny,
                                  .identity_id = v->identity_id,
                                  .user_id = view->target.user_id};
    return tg_approvers_refusal(&q, out->why, sizeof out->why) ? -1 : 0;
}

static enum tg_vote_status vote_status(const struct tg_deploy_ballot *b, const char *id, char *why,
                                       size_t whylen)
{
    static const struct {
        const char *word;
        enum tg_vote_status status;
    } map[] = {{"counted", TG_VOTE_COUNTED},
               {"approved", TG_VOTE_APPROVED},
               {"denied", TG_VOTE_DENIED},
               {"duplicate", TG_VOTE_DUPLICATE}};
    for (size_t i = 0; i < TG_ARRAY_SIZE(map); i++)
        if (strcmp(b->outcome, map[i].word) == 0)
            return map[i].status;
    if (strcmp(b->outcome, "state") == 0)
        snprintf(why, whylen, "deployment %s is %s", id, *b->detail ? b->detail : "unknown");
    else if (strcmp(b->outcome, "stale") == 0)
        snprintf(why, whylen,
                 "this button belongs to an earlier request for %s (the policy changed since); use "
                 "the newest message",
                 id);
    else
        return TG_VOTE_ERROR;
    return TG_VOTE_REFUSED;
}

static void vote(struct tg_work *w, const struct tg_vote *v, struct tg_vote_result *out)
{
    struct tg_deploy_ballot b = {.key = out->view.key,
                                 .identity = v->identity,
                                 .channel = v->channel,
                                 .comment = v->comment,
                                 .required = out->view.rules.required,
                                 .round = v->round,
                                 .deny = v->deny};
    if (tg_deploy_vote(w->rc, w->cfg->redis.prefix, &b) < 0)
        out->status = TG_VOTE_ERROR;
    else
        out->status = vote_status(&b, v->id, out->why, sizeof out->why);
    if (out->status == TG_VOTE_DUPLICATE)
        snprintf(out->why, sizeof out->why, "%s already approved %s; it counts once", v->identity,
                 v->id);
}

static void reload_view(struct tg_work *w, struct tg_vote_result *out)
{
    char key[512];
    snprintf(key, sizeof key, "%s", out->view.key);
    tg_approval_view_dispose(&out->view);
    out->have_view = tg_approval_view_load(w->rc, w->cfg, key, &out->view) == 1;
}

void tg_approval_cast(struct tg_work *w, const struct tg_vote *v, struct tg_vote_result *out)
{
    char key[512];
    memset(out, 0, sizeof *out);
    int rc = tg_approval_lookup(w->rc, w->cfg->redis.prefix, v->id, key, sizeof key);
    if (rc == 1 && (rc = tg_approval_view_load(w->rc, w->cfg, key, &out->view)) < 0)
        tg_approval_view_dispose(&out->view);
    out->have_view = rc == 1;
    out->status = rc < 0 ? TG_VOTE_ERROR : rc == 0 ? TG_VOTE_UNKNOWN : TG_VOTE_REFUSED;
    if (rc == 0)
        snprintf(out->why, sizeof out->why, "no deployment has the id %s", v->id ? v->id : "");
    if (rc == 1 && precheck(w, v, out) == 0) {
        vote(w, v, out);
        if (out->status != TG_VOTE_ERROR)
            reload_view(w, out);
    }
    if (out->status != TG_VOTE_ERROR &&
        out->status != TG_VOTE_DUPLICATE) /* a repeat counts once, records nothing */
        record_vote(w, v, out);
    if (out->have_view) {
        struct tg_chat_subject *s = &out->view.subject;
        s->var[TG_VAR_ACTOR] = v->identity ? v->identity : v->chat_user;
        s->var[TG_VAR_COMMENT] = v->comment;
        s->var[TG_VAR_DETAIL] = out->why;
    }
}

const char *tg_vote_status_name(enum tg_vote_status s)
{
    return outcome_names[s];
}

enum tg_chat_text tg_vote_text(enum tg_vote_status s)
{
    static const enum tg_chat_text texts[] = {
        [TG_VOTE_COUNTED] = TG_TEXT_VOTE,    [TG_VOTE_APPROVED] = TG_TEXT_APPROVED,
        [TG_VOTE_DENIED] = TG_TEXT_DENIED,   [TG_VOTE_DUPLICATE] = TG_TEXT_DUPLICATE,
        [TG_VOTE_REFUSED] = TG_TEXT_REFUSED, [TG_VOTE_UNKNOWN] = TG_TEXT_UNKNOWN_ID,
        [TG_VOTE_ERROR] = TG_TEXT_REFUSED};
    return texts[s];
}

void tg_approval_follow_up(struct tg_work *w, const struct tg_vote *v,
                           const struct tg_vote_result *r, unsigned skip)
{
    char desc[256];
    if (!r->have_view || r->status > TG_VOTE_DENIED)
        return;
    if (r->status == TG_VOTE_DENIED) {
        snprintf(desc, sizeof desc, "denied by %s: %s", v->identity, v->comment ? v->comment : "");
        tg_work_status(w, &r->view.target, "canceled",
                       desc); /* people's reason: see expired_closing */
    }
    TG_LOG(TG_LOG_INFO, outcome_names[r->status], "%s by %s via %s (%d/%d)", v->id, v->identity,
           v->channel, r->view.votes, r->view.rules.required);
    struct tg_chat_subject s = r->view.subject;
    s.buttons = 0; /* a notice: the buttons stay on the request */
    tg_chat_announce(w->cfg, &s, tg_vote_text(r->status), -1, skip);
}

void tg_vote_result_dispose(struct tg_vote_result *r)
{
    tg_approval_view_dispose(&r->view);
    r->have_view = 0;
}

void tg_approval_work_init(struct tg_work *w, struct tg_config *cfg, redisContext *rc,
                           struct tg_audit *audit)
{
    memset(w, 0, sizeof *w);
    w->rc = rc;
    w->cfg = cfg;
    w->audit = audit;
    w->api =
        tg_gitlab_api_new(cfg->gitlab.url, cfg->gitlab.api_token.value, cfg->gitlab.api_token.len,
                          cfg->gitlab.timeout_ms, cfg->gitlab.ca_file);
    snprintf(w->owner, sizeof w->owner, "approvals");
}

void tg_approval_work_dispose(struct tg_work *w)
{
    tg_gitlab_api_free(w->api);
    w->api = NULL;
}
