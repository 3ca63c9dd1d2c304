/* deliver.c -- decide and deliver one queued GitLab event. */
#include "deliver/deliver.h"
#include "approvals/approval.h"
#include "base/crypto.h"
#include "deliver/deploy.h"
#include "decide/gitlab.h"
#include "deliver/gitlab_api.h"
#include "deliver/lifecycle.h"
#include "base/log.h"
#include "base/metrics.h"
#include "decide/policy.h"
#include "deliver/template.h"
#include "deliver/trigger.h"
#include "base/util.h"
#include "forward/forward.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TG_MODULE "deliver"

/* One event on its way through: the parsed event, its target and the actor. */
struct job {
    struct tg_work *w;
    const struct tg_queue_entry *e;
    struct tg_event ev;
    struct tg_target target;
    char actor[160];
    char key[512];          /* deployment key, when there is an environment */
    long long children_gen; /* tg_lifecycle_children_gen before the children were listed */
};

static const enum tg_metric verdict_metric[] = {
    [TG_VERDICT_SKIP] = TG_M_DECISION_SKIP,
    [TG_VERDICT_BLOCK] = TG_M_DECISION_BLOCK,
    [TG_VERDICT_NEEDS_APPROVAL] = TG_M_DECISION_NEEDS_APPROVAL,
    [TG_VERDICT_DEPLOY] = TG_M_DECISION_DEPLOY,
};

static json_t *received_details(const struct tg_queue_entry *e)
{
    char sha[TG_SHA256_HEX_LEN + 1];
    tg_sha256_hex(e->field[TG_QF_BODY], e->len[TG_QF_BODY], sha);
    json_t *d = json_object();
    static const enum tg_queue_field keep[] = {
        TG_QF_EVENT,      TG_QF_WEBHOOK,  TG_QF_IDEMPOTENCY_KEY, TG_QF_WEBHOOK_UUID,
        TG_QF_EVENT_UUID, TG_QF_INSTANCE, TG_QF_REMOTE};
    for (size_t i = 0; i < TG_ARRAY_SIZE(keep); i++)
        json_object_set_new(d, tg_queue_field_names[keep[i]],
                            json_stringn_nocheck(e->field[keep[i]], e->len[keep[i]]));
    json_object_set_new(d, "body_sha256", json_string(sha));
    json_object_set_new(d, "body_bytes", json_integer((json_int_t)e->len[TG_QF_BODY]));
    json_object_set_new(d, "stream_id", json_string(e->id));
    return d;
}

static int record_received(struct job *j)
{
    char once[256];
    snprintf(once, sizeof once, "received:%.200s", j->e->field[TG_QF_IDEMPOTENCY_KEY]);
    json_t *details = received_details(j->e);
    struct tg_audit_record r = {
        .action = "received", .actor = j->actor, .details = details, .once = once};
    tg_work_record_target(&r, &j->target);
    r.environment = NULL;
    int rc = tg_work_audit(j->w, &r);
    json_decref(details);
    return rc;
}

static void fill_target(struct job *j)
{
    const struct tg_event *ev = &j->ev;
    j->target = (struct tg_target){.project_id = ev->project_id,
                                   .project = ev->project_path,
                                   .ref = ev->ref,
                                   .sha = ev->sha,
                                   .pipeline = ev->pipeline_id,
                                   .user = ev->user_username,
                                   .user_id = ev->user_id};
    snprintf(j->actor, sizeof j->actor, "gitlab:%s",
             *ev->user_username ? ev->user_username : "unknown");
}

/* What a decision gathers between its plan and its judgement. */
struct gathered {
    struct tg_policy_input in;
    struct tg_policy_plan plan;
    struct tg_children kids;
};

/* Fetches one planned report from GitLab and counts it into the plan: 0, or -1 when
 * GitLab could not tell (the decision is retried later). */
static int fetch_report(struct job *j, struct gathered *g, size_t i, char *why, size_t whylen)
{
    const struct tg_policy_report *ref = &g->plan.reports[i];
    long long project =
        ref->project_id ? ref->project_id : j->ev.project_id; /* a child's own project */
    struct tg_policy_counter *c = tg_policy_counter_new(&g->plan, i, ref->format);
    struct tg_gitlab_artifact a = {project, ref->job_id, ref->artifact, tg_policy_counter_sink,
                                   c,       NULL};
    enum tg_fetch_result r = tg_gitlab_fetch_artifact(j->w->api, &a, why, whylen);
    return tg_policy_counter_end(c, r, why, whylen);
}

/* The plan (with the child pipelines when it wants them), then the planned reports. */
static int gather(struct job *j, struct gathered *g, char *why, size_t whylen)
{
    tg_policy_plan(&g->in, &g->plan);
    if (g->plan.want_children) {
        j->children_gen = tg_lifecycle_children_gen(j->w, j->ev.project_id, j->ev.pipeline_id);
        struct tg_gitlab_pipeline of = {j->ev.project_id, j->ev.pipeline_id};
        if (tg_gitlab_children(j->w->api, &of, &g->kids, why, whylen))
            return -1;
        g->in.children = &g->kids;
        tg_policy_plan_dispose(&g->plan);
        tg_policy_plan(&g->in, &g->plan);
    }
    for (size_t i = 0; i < g->plan.nreports; i++)
        if (g->plan.reports[i].located && fetch_report(j, g, i, why, whylen))
            return -1;
    return 0;
}

/* The decision: plan, fetch and count, judge. -1 with why when it cannot be made now. */
static int decide_pipeline(struct job *j, struct tg_decision *d, char *why, size_t whylen)
{
    struct gathered g = {.in = {.ps = j->w->cfg->policies, .ev = &j->ev, .now_ms = tg_now_ms()}};
    int rc = gather(j, &g, why, whylen);
    if (rc == 0)
        rc = tg_policy_judge(&g.in, &g.plan, d, why, whylen);
    tg_policy_plan_dispose(&g.plan);
    tg_children_dispose(&g.kids);
    return rc;
}

/* The decided/ignored record names the X-Gitlab-Event-UUID of the hook it answers (GitLab's
 * own recursion guard keys on it): a copy of details with event_uuid added. */
static json_t *with_event_uuid(const struct job *j, json_t *details)
{
    json_t *d = details ? json_copy(details) : json_object();
    json_object_set_new(
        d, "event_uuid",
        json_stringn_nocheck(j->e->field[TG_QF_EVENT_UUID], j->e->len[TG_QF_EVENT_UUID]));
    return d;
}

/* A pipeline that is never decided (tg_policy_ignored): one audit record, nothing else. */
static int record_ignored(struct job *j, const char *why)
{
    char once[600];
    snprintf(once, sizeof once, "ignored:%lld:%lld:%.100s", j->ev.project_id, j->ev.pipeline_id,
             j->ev.pipeline_status);
    json_t *reasons = json_pack("[s]", why);
    json_t *details =
        json_pack("{s:s, s:s}", "source", j->ev.pipeline_source, "status", j->ev.pipeline_status);
    json_t *full = with_event_uuid(j, details);
    struct tg_audit_record r = {
        .action = "ignored", .actor = j->actor, .reasons = reasons, .details = full, .once = once};
    tg_work_record_target(&r, &j->target);
    int rc = tg_work_audit(j->w, &r);
    json_decref(reasons);
    json_decref(details);
    json_decref(full);
    return rc;
}

static enum tg_deliver_result ignore(struct job *j, const char *reason, char *why, size_t whylen)
{
    TG_LOG(TG_LOG_INFO, "ignored", "%s pipeline %lld: %s", j->ev.project_path, j->ev.pipeline_id,
           reason);
    if (record_ignored(j, reason) == 0)
        return TG_DELIVER_DONE;
    snprintf(why, whylen, "audit.fail_closed: the ignored pipeline could not be recorded");
    return TG_DELIVER_RETRY;
}

static json_t *reasons_json(const struct tg_decision *d)
{
    json_t *a = json_array();
    for (char **r = d->reasons; r && *r; r++)
        json_array_append_new(a, json_string(*r));
    return a;
}

/* Appends r about the job's target, by the job's actor, with reasons and details (taken). */
static int append(struct job *j, struct tg_audit_record *r, json_t *reasons, json_t *details)
{
    r->actor = j->actor;
    r->reasons = reasons;
    r->details = details;
    tg_work_record_target(r, &j->target);
    int rc = tg_work_audit(j->w, r);
    json_decref(reasons);
    json_decref(details);
    return rc;
}

/* The audit record of a decision: decided (the first, or one without an environment), or
 * redecided naming the verdict it replaced. Keyed once per deployment version, so a
 * redelivered event records it once. */
static int record_decided(struct job *j, const struct tg_decision *d,
                          const struct tg_decide_result *dr)
{
    char once[700];
    int redecided = dr && strcmp(dr->action, "redecided") == 0;
    if (redecided)
        snprintf(once, sizeof once, "redecided:%s:v%lld", j->key, dr->version);
    else
        snprintf(once, sizeof once, "decided:%lld:%lld:%s", j->ev.project_id, j->ev.pipeline_id,
                 d->environment ? d->environment : "-");
    json_t *reasons = reasons_json(d), *details = with_event_uuid(j, d->json);
    if (redecided)
        json_object_set_new(details, "earlier_verdict", json_string(dr->earlier));
    if (dr)
        json_object_set_new(details, "version", json_integer(dr->version));
    struct tg_audit_record r = {.action = redecided ? "redecided" : "decided",
                                .decision = tg_verdict_name(d->verdict),
                                .once = once};
    return append(j, &r, reasons, details);
}

/* The audit record of a terminal event that leaves the decision as it is. */
static int record_kept(struct job *j, const struct tg_decision *d,
                       const struct tg_decide_result *dr, const struct tg_deploy_event *ev)
{
    char once[800], reason[256];
    const char *status = j->ev.pipeline_status;
    if (strcmp(dr->why, "acted") == 0)
        snprintf(reason, sizeof reason,
                 "the deployment is %s: later events of the pipeline never re-decide it",
                 dr->state);
    else if (strcmp(dr->why, "stale") == 0)
        snprintf(reason, sizeof reason,
                 "an older event (jobs were retried since): the decision stands");
    else if (strcmp(dr->why, "same_status") == 0)
        snprintf(reason, sizeof reason, "the pipeline reported %s again: one decision per status",
                 status);
    else
        snprintf(reason, sizeof reason, "the deployment is %s: a %s pipeline does not re-decide it",
                 dr->state, status);
    snprintf(once, sizeof once, "kept:%s:%s:%s", j->key, status, ev->builds);
    json_t *reasons = json_pack("[s]", reason);
    json_t *details =
        json_pack("{s:s, s:s, s:s, s:I, s:s, s:I}", "status", status, "rule", dr->why, "state",
                  dr->state, "version", (json_int_t)dr->version, "verdict_now",
                  tg_verdict_name(d->verdict), "rank", (json_int_t)ev->rank);
    struct tg_audit_record r = {.action = "kept", .once = once};
    return append(j, &r, reasons, details);
}

/* The audit record for what tg_deploy_decide did. An echo re-records the current version's
 * decision (a no-op unless a crash came between the script and the record). */
static int record_outcome(struct job *j, const struct tg_decision *d,
                          const struct tg_decide_result *dr, const struct tg_deploy_event *ev)
{
    switch (dr->outcome) {
    case TG_DECIDE_CREATED:
    case TG_DECIDE_REDECIDED:
        return record_decided(j, d, dr);
    case TG_DECIDE_ECHO:
        return strcmp(dr->action, "withdrawn") == 0 ? 0 : record_decided(j, d, dr);
    case TG_DECIDE_KEPT:
        return record_kept(j, d, dr, ev);
    case TG_DECIDE_WITHDRAWN:
        break; /* tg_approval_withdrawn records it */
    }
    return 0;
}

static const char *initial_state(enum tg_verdict v)
{
    static const char *const states[] = {[TG_VERDICT_SKIP] = "skipped",
                                         [TG_VERDICT_BLOCK] = "blocked",
                                         [TG_VERDICT_NEEDS_APPROVAL] = "pending_approval",
                                         [TG_VERDICT_DEPLOY] = "decided"};
    return states[v];
}

/* A rendered trigger request, which the deployment record keeps. */
struct rendered {
    struct tg_trigger_request req;
    char err[512];
};

/* The trigger request for the decision, kept in the deployment record (without token): n
 * points into r, which the caller disposes. Returns 0, or -1 with the reason in r->err. */
static int render(struct job *j, const struct tg_decision *d, struct rendered *r,
                  struct tg_deploy_new *n)
{
    const struct tg_config *cfg = j->w->cfg;
    const struct tg_template *t =
        cfg->templates ? tg_template_match(cfg->templates, j->ev.project_path) : NULL;
    if (t == NULL) {
        snprintf(r->err, sizeof r->err, "no template matches project %s", j->ev.project_path);
        return -1;
    }
    if (tg_template_render(t, &(struct tg_template_input){&j->ev, d}, &r->req, r->err,
                           sizeof r->err))
        return -1;
    n->request = &r->req;
    return 0;
}

static void report_decision(struct job *j, const struct tg_deploy_new *n)
{
    static const struct {
        const char *state, *gitlab;
    } map[] = {{"blocked", "failed"},
               {"skipped", "skipped"},
               {"pending_approval", "pending"},
               {"failed", "failed"}};
    for (size_t i = 0; i < TG_ARRAY_SIZE(map); i++)
        if (strcmp(n->state, map[i].state) == 0)
            tg_work_status(j->w, &j->target, map[i].gitlab, n->reason);
}

/* What follows the recorded outcome: the commit status of a new decision, the approval
 * request or withdrawal, and for deploys the once-only trigger (idempotent, so an echo of a
 * deploy decision that was interrupted finishes it). */
static enum tg_deliver_result act(struct job *j, const struct tg_deploy_new *n,
                                  const struct tg_decide_result *dr, char *why, size_t whylen)
{
    if (dr->outcome == TG_DECIDE_WITHDRAWN) {
        char cause[64];
        snprintf(cause, sizeof cause, "the pipeline turned %.32s", j->ev.pipeline_status);
        tg_approval_withdrawn(j->w, j->key, cause, dr->voided);
        return TG_DELIVER_DONE;
    }
    int fresh = dr->outcome == TG_DECIDE_CREATED || dr->outcome == TG_DECIDE_REDECIDED;
    if (fresh && tg_deploy_is_current(j->w->rc, j->key, dr->version) == 1)
        report_decision(j, n);
    if (tg_approval_on_deployment(j->w, j->key, dr->state) < 0) {
        snprintf(why, whylen, "redis: the approval request could not be recorded");
        return TG_DELIVER_RETRY;
    }
    if (strcmp(dr->state, "decided") == 0 && tg_trigger_run(j->w, j->key) < 0) {
        snprintf(why, whylen, "redis: trigger state could not be recorded");
        return TG_DELIVER_RETRY;
    }
    return TG_DELIVER_DONE;
}

/* Applies the decision to the deployment (deploy.c decides whether this event creates,
 * re-decides, withdraws or keeps it), records that, then acts on it. */
static enum tg_deliver_result deliver_decision(struct job *j, const struct tg_decision *d,
                                               char *why, size_t whylen)
{
    struct rendered r = {0};
    struct tg_deploy_new n = {.state = initial_state(d->verdict),
                              .project_id = j->ev.project_id,
                              .project = j->ev.project_path,
                              .pipeline = j->ev.pipeline_id,
                              .sha = j->ev.sha,
                              .ref = j->ev.ref,
                              .environment = d->environment,
                              .user = j->ev.user_username,
                              .user_id = j->ev.user_id,
                              .verdict = tg_verdict_name(d->verdict),
                              .rule = d->rule,
                              .reason = d->reasons && d->reasons[0] ? d->reasons[0] : d->rule,
                              .policy_hash = d->policy_hash};
    char *decision = json_dumps(d->json, JSON_COMPACT | JSON_SORT_KEYS);
    n.decision = decision;
    if (d->verdict == TG_VERDICT_NEEDS_APPROVAL)
        n.pending_expiry_ms = tg_now_ms() + d->approvals.expire_ms;
    if ((d->verdict == TG_VERDICT_DEPLOY || d->verdict == TG_VERDICT_NEEDS_APPROVAL) &&
        render(j, d, &r, &n)) {
        n.state = "failed";
        n.reason = r.err;
    }
    struct tg_deploy_id id = {j->ev.project_id, j->ev.pipeline_id, d->environment};
    tg_deploy_key(j->key, sizeof j->key, j->w->cfg->redis.prefix, &id);
    struct tg_lifecycle_print print;
    tg_lifecycle_fingerprint(&j->ev, &print);
    struct tg_deploy_event ev = {
        .status = j->ev.pipeline_status, .builds = print.builds, .rank = print.rank};
    struct tg_decide_result dr;
    enum tg_deliver_result res = TG_DELIVER_RETRY;
    struct tg_deploy_decision in = {j->key, &n, &ev};
    if (tg_deploy_decide(j->w->rc, j->w->cfg->redis.prefix, &in, &dr) < 0)
        snprintf(why, whylen, "redis: cannot record the deployment");
    else if (record_outcome(j, d, &dr, &ev))
        snprintf(why, whylen, "audit.fail_closed: the decision could not be recorded");
    else if (dr.outcome != TG_DECIDE_KEPT && dr.outcome != TG_DECIDE_WITHDRAWN &&
             tg_forward_decision(j->w, &j->ev, d, j->key, 0) < 0)
        snprintf(why, whylen, "redis: the DefectDojo forward jobs could not be recorded");
    else
        res = act(j, &n, &dr, why, whylen);
    tg_trigger_request_dispose(&r.req);
    free(decision);
    return res;
}

/* The audit record of a decision that waits for child pipelines: the decision it would be,
 * once per state of the children (a re-opened parent that still waits for the same children
 * records nothing new). */
static int record_waiting(struct job *j, const struct tg_decision *d, int requeued)
{
    char once[700], sha[TG_SHA256_HEX_LEN + 1];
    char *children =
        json_dumps(json_object_get(d->json, "children"), JSON_COMPACT | JSON_SORT_KEYS);
    tg_sha256_hex(children ? children : "", children ? strlen(children) : 0, sha);
    free(children);
    snprintf(once, sizeof once, "waiting:%lld:%lld:%s:%s", j->ev.project_id, j->ev.pipeline_id,
             d->environment, sha);
    json_t *reasons = reasons_json(d), *details = with_event_uuid(j, d->json);
    json_object_set_new(details, "parked",
                        json_string(requeued ? "re-queued: a child ended meanwhile" : "parked"));
    struct tg_audit_record r = {
        .action = "waiting", .decision = tg_verdict_name(d->verdict), .once = once};
    return append(j, &r, reasons, details);
}

/* A decision that names jobs of child pipelines still running is not recorded: the parent
 * waits (lifecycle.h). TG_DELIVER_DONE with *waits set when it does. */
static enum tg_deliver_result wait_for_children(struct job *j, const struct tg_decision *d,
                                                int *waits, char *why, size_t whylen)
{
    struct tg_lifecycle_parent parent = {j->e, &j->ev, j->children_gen, 0};
    *waits = tg_lifecycle_children_pending(j->w, &parent, d, why, whylen);
    if (*waits < 0)
        return TG_DELIVER_RETRY;
    if (*waits == 0)
        return TG_DELIVER_DONE;
    TG_LOG(TG_LOG_INFO, "waiting", "%s pipeline %lld waits for its child pipelines",
           j->ev.project_path, j->ev.pipeline_id);
    if (record_waiting(j, d, parent.requeued) == 0)
        return TG_DELIVER_DONE;
    snprintf(why, whylen, "audit.fail_closed: the waiting decision could not be recorded");
    return TG_DELIVER_RETRY;
}

static enum tg_deliver_result decide(struct job *j, int manual, char *why, size_t whylen)
{
    struct tg_decision d;
    const struct tg_config *cfg = j->w->cfg;
    if (cfg->policies == NULL) {
        snprintf(why, whylen, "no policies loaded");
        return TG_DELIVER_RETRY;
    }
    char ignored[512];
    if (tg_policy_ignored(cfg->policies, &j->ev, ignored, sizeof ignored))
        return ignore(j, ignored, why, whylen);
    if (decide_pipeline(j, &d, why, whylen))
        return TG_DELIVER_RETRY;
    if (manual && (d.environment == NULL || strcmp(d.rule, "pipeline_status") == 0)) {
        tg_decision_dispose(
            &d); /* manual is terminal only where the environment treats it as success */
        return TG_DELIVER_DONE;
    }
    int deployable =
        d.environment && !d.ineligible; /* source/fork: no deployment record, no commit status */
    if (!(deployable && d.children_pending)) /* a decision that waits is counted when it is made */
        tg_metrics_inc(verdict_metric[d.verdict]);
    j->target.environment = d.environment;
    TG_LOG(TG_LOG_INFO, "decided", "%s pipeline %lld on %s: %s (%s) %s", j->ev.project_path,
           j->ev.pipeline_id, j->ev.ref, tg_verdict_name(d.verdict),
           d.environment ? d.environment : "no environment",
           d.reasons && d.reasons[0] ? d.reasons[0] : "");
    enum tg_deliver_result res = TG_DELIVER_DONE;
    int waits = 0;
    if (!deployable && record_decided(j, &d, NULL)) {
        res = TG_DELIVER_RETRY;
        snprintf(why, whylen, "audit.fail_closed: the decision could not be recorded");
    } else if (deployable &&
               (res = wait_for_children(j, &d, &waits, why, whylen)) == TG_DELIVER_DONE && !waits) {
        res = deliver_decision(j, &d, why, whylen);
        if (res == TG_DELIVER_DONE && json_object_get(d.json, "children"))
            tg_lifecycle_children_settled(j->w, &j->ev);
    }
    tg_decision_dispose(&d);
    return res;
}

static void job_withdrew(void *arg, const char *key, long long version, const char *voided)
{
    struct job *j = arg;
    char cause[96];
    (void)version;
    snprintf(cause, sizeof cause, "job %lld %.32s", j->ev.job_id, j->ev.pipeline_status);
    tg_approval_withdrawn(j->w, key, cause, voided);
}

/* A Job Hook: a job that failed (and may not) while a deployment of its pipeline waits for
 * approval withdraws it. Tollgate's own pending status keeps such a pipeline running, so no
 * Pipeline Hook may ever say failed. */
static enum tg_deliver_result job_ended(struct job *j, char *why, size_t whylen)
{
    const char *st = j->ev.pipeline_status;
    if (j->ev.job_allow_failure || j->ev.pipeline_id <= 0 ||
        (strcmp(st, "failed") != 0 && strcmp(st, "canceled") != 0))
        return TG_DELIVER_DONE;
    struct tg_deploy_job_end end = {.project_id = j->ev.project_id,
                                    .pipeline = j->ev.pipeline_id,
                                    .job_id = j->ev.job_id,
                                    .status = st,
                                    .fn = job_withdrew,
                                    .arg = j};
    if (tg_deploy_job_failed(j->w->rc, j->w->cfg->redis.prefix, &end) < 0) {
        snprintf(why, whylen, "redis: cannot withdraw the pipeline's pending approvals");
        return TG_DELIVER_RETRY;
    }
    return TG_DELIVER_DONE;
}

/* Whether the hook is decided on, at the status tg_lifecycle_status gives it (which then
 * becomes the event's status, for the policy and the deployment record). */
static enum tg_lifecycle_kind decided_on(struct tg_event *ev)
{
    const char *status = tg_lifecycle_status(ev);
    if (status != ev->pipeline_status) {
        char *held = tg_xstrdup(status);
        free(ev->pipeline_status);
        ev->pipeline_status = held;
    }
    return tg_lifecycle_kind(ev->pipeline_status);
}

enum tg_deliver_result tg_deliver(struct tg_work *w, const struct tg_queue_entry *e, char *reason,
                                  size_t reasonlen)
{
    struct job j = {.w = w, .e = e};
    char err[512];
    const char *header = e->len[TG_QF_EVENT] ? e->field[TG_QF_EVENT] : NULL;
    if (tg_event_parse(&(struct tg_hook){header, e->field[TG_QF_BODY], e->len[TG_QF_BODY]}, &j.ev,
                       err, sizeof err)) {
        snprintf(reason, reasonlen, "unreadable %s payload: %s", header ? header : "event", err);
        return TG_DELIVER_DEAD;
    }
    fill_target(&j);
    enum tg_deliver_result res = TG_DELIVER_DONE;
    enum tg_lifecycle_kind kind;
    if (record_received(&j)) {
        res = TG_DELIVER_RETRY;
        snprintf(reason, reasonlen, "audit.fail_closed: receipt could not be recorded");
    } else if (j.ev.kind == TG_EVENT_PIPELINE &&
               (kind = decided_on(&j.ev)) != TG_LIFECYCLE_PASSING) {
        res = decide(&j, kind == TG_LIFECYCLE_MANUAL, reason, reasonlen);
        if (res == TG_DELIVER_DONE && kind == TG_LIFECYCLE_TERMINAL &&
            j.ev.parent_pipeline_id > 0 &&
            tg_lifecycle_child_ended(w, &j.ev, reason, reasonlen) < 0)
            res = TG_DELIVER_RETRY; /* a child's end re-opens its waiting parent */
    } else if (j.ev.kind == TG_EVENT_JOB)
        res = job_ended(&j, reason, reasonlen);
    tg_event_dispose(&j.ev);
    return res;
}
