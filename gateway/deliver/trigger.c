/* trigger.c -- one trigger attempt of a deployment: claim it, record `sending`, call GitLab,
 * sort the answer into created / certainly not created / unknown, and record the outcome
 * together with its effects (outbox.h). Unknown outcomes go to reconcile.c, never straight
 * to a resend. Worker threads only.
 */
#include "deliver/trigger.h"
#include "approvals/approval.h"
#include "deliver/deploy.h"
#include "base/log.h"
#include "base/metrics.h"
#include "deliver/outbox.h"
#include "deliver/template.h"
#include "base/util.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TG_MODULE       "trigger"
#define LEASE_MARGIN_MS 1000 /* on top of two request timeouts: curl enforces them strictly */

/* A deployment record loaded for one attempt; strings borrowed from dep. */
struct attempt {
    struct tg_deployment dep;
    struct tg_target target;
    const char *key;
    int number;
};

uint64_t tg_trigger_backoff(uint64_t base_ms, uint64_t cap_ms, int attempt, uint64_t retry_after_ms,
                            uint64_t random)
{
    uint64_t ceiling = base_ms;
    for (int i = 1; i < attempt && ceiling < cap_ms; i++)
        ceiling *= 2;
    if (ceiling > cap_ms)
        ceiling = cap_ms;
    uint64_t d = ceiling ? random % (ceiling + 1) : 0;
    return d < retry_after_ms ? retry_after_ms : d;
}

/* Tests only: TOLLGATE_STALL_AT=<point> holds this worker there until the file named by
 * TOLLGATE_STALL_UNTIL exists (a pause without a debugger and without timing). */
static void stall_point(const char *where)
{
    const char *at = getenv("TOLLGATE_STALL_AT"), *until = getenv("TOLLGATE_STALL_UNTIL");
    if (at == NULL || until == NULL || strcmp(at, where) != 0)
        return;
    TG_LOG(TG_LOG_WARN, "stall_point", "TOLLGATE_STALL_AT=%s: holding the worker", where);
    struct timespec ts = {0, 20 * 1000 * 1000};
    while (access(until, F_OK) != 0)
        nanosleep(&ts, NULL);
}

void tg_trigger_crash_point(const char *where)
{
    const char *at = getenv("TOLLGATE_CRASH_AT");
    if (at && strcmp(at, where) == 0) {
        TG_LOG(TG_LOG_WARN, "crash_point", "TOLLGATE_CRASH_AT=%s: killing the process", where);
        raise(SIGKILL);
    }
    stall_point(where);
}

void tg_trigger_marker(const char *key, int attempt, char *out, size_t outlen)
{
    char id[TG_APPROVAL_ID_LEN + 1];
    tg_approval_id(key, TG_APPROVAL_ID_LEN, id);
    if (attempt > 0)
        snprintf(out, outlen, "%s/%d", id, attempt);
    else
        snprintf(out, outlen, "%s/", id);
}

/* Sets the marker variable in req: ours wins over a template's of that name. */
static void set_marker(const struct attempt *a, struct tg_trigger_request *req)
{
    char marker[64];
    size_t i = 0;
    tg_trigger_marker(a->key, a->number, marker, sizeof marker);
    while (i < req->nvars && strcmp(req->var_names[i], TG_TRIGGER_MARKER) != 0)
        i++;
    if (i == req->nvars) { /* NULL-terminated lists: room for one more and the end */
        req->var_names = tg_xrealloc(req->var_names, (i + 2) * sizeof(char *));
        req->var_values = tg_xrealloc(req->var_values, (i + 2) * sizeof(char *));
        req->var_names[i] = tg_xstrdup(TG_TRIGGER_MARKER);
        req->var_names[i + 1] = NULL;
        req->var_values[i + 1] = NULL;
        req->nvars++;
    } else {
        free(req->var_values[i]);
    }
    req->var_values[i] = tg_xstrdup(marker);
}

/* The request recorded at decision time plus the current token of the template that rendered
 * it and the marker. Returns 0, or -1 with the reason in err. */
static int build_request(struct tg_work *w, const struct attempt *a, struct tg_trigger_request *req,
                         char *err, size_t errlen)
{
    const char *name = a->dep.template_name;
    const struct tg_template *t = tg_template_find(w->cfg->templates, name, a->target.project);
    if (t == NULL) {
        snprintf(err, errlen, "template %s no longer serves %s", name ? name : "?",
                 a->target.project ? a->target.project : "?");
        return -1;
    }
    tg_deployment_request(&a->dep, req);
    req->token = tg_template_token(t);
    set_marker(a, req);
    return 0;
}

char *tg_trigger_effect_triggered(const struct tg_trigger_triggered *t)
{
    char desc[256];
    const char *chart = t->chart_project;
    snprintf(desc, sizeof desc, "triggered %s pipeline #%lld", chart ? chart : "?", t->pipeline_id);
    json_t *d =
        json_pack("{s:I, s:s, s:s?, s:i, s:s, s:b}", "downstream_id", (json_int_t)t->pipeline_id,
                  "downstream_url", t->web_url ? t->web_url : "", "chart_project", chart, "attempt",
                  t->attempt, "marker", t->marker, "reconciled", t->reconciled);
    struct tg_outbox_effect e = {.key = t->key,
                                 .action = "triggered",
                                 .reason = desc,
                                 .details = d,
                                 .status_state = "success",
                                 .status_description = desc};
    return tg_outbox_effect(&e);
}

int tg_trigger_finish(struct tg_work *w, const char *key, const struct tg_deploy_result *r)
{
    char id[600];
    struct tg_deploy_finish f = {key, w->owner, r};
    int rc = tg_deploy_finish(w->rc, w->cfg->redis.prefix, &f, id, sizeof id);
    if (rc != 0)
        return rc;
    tg_trigger_crash_point("recorded");
    if (id[0] && r->effect && tg_outbox_complete(w, id, r->effect) < 0)
        return -1;
    return 0;
}

/* What came back for a request sent at sent_at; err the reason, when it failed. */
struct answer {
    const struct tg_gitlab_result *res;
    uint64_t sent_at;
    const char *err;
};

/* GitLab's answer as the outcome to record; the effect is stored in out->effect (caller frees). */
static void sort_answer(struct tg_work *w, const struct attempt *a, const struct answer *ans,
                        struct tg_deploy_result *out)
{
    const struct tg_gitlab_result *res = ans->res;
    const char *err = ans->err;
    const struct tg_config *cfg = w->cfg;
    char marker[64], desc[300];
    tg_trigger_marker(a->key, a->number, marker, sizeof marker);
    enum tg_gitlab_outcome o = tg_gitlab_trigger_outcome(res);
    if (o == TG_GITLAB_CREATED) {
        *out = (struct tg_deploy_result){.outcome = TG_OUTCOME_TRIGGERED,
                                         .downstream_id = res->pipeline_id,
                                         .downstream_url = res->web_url};
        struct tg_trigger_triggered t = {.key = a->key,
                                         .chart_project = a->dep.chart_project,
                                         .pipeline_id = res->pipeline_id,
                                         .web_url = res->web_url,
                                         .attempt = a->number,
                                         .marker = marker};
        out->effect = tg_trigger_effect_triggered(&t);
        return;
    }
    if (o == TG_GITLAB_UNKNOWN) {
        snprintf(desc, sizeof desc, "outcome of attempt %d unknown (%.200s); asking GitLab",
                 a->number, err);
        *out = (struct tg_deploy_result){.outcome = TG_OUTCOME_RECONCILE,
                                         .next_at_ms = tg_now_ms(),
                                         .settle_until_ms = ans->sent_at + cfg->trigger.timeout_ms +
                                                            cfg->trigger.settle_ms,
                                         .error = err};
        struct tg_outbox_effect e = {.key = a->key,
                                     .action = "reconciling",
                                     .reason = desc,
                                     .details = json_pack("{s:i, s:s, s:s}", "attempt", a->number,
                                                          "error", err, "marker", marker)};
        out->effect = tg_outbox_effect(&e);
        return;
    }
    int again = tg_gitlab_result_retryable(res) && a->number < cfg->trigger.tries;
    uint64_t at =
        again ? tg_now_ms() + tg_trigger_backoff(cfg->trigger.base_ms, cfg->trigger.cap_ms,
                                                 a->number, res->retry_after_ms,
                                                 ((uint64_t)arc4random() << 32) | arc4random())
              : 0;
    *out = (struct tg_deploy_result){
        .outcome = again ? TG_OUTCOME_RETRY : TG_OUTCOME_FAILED, .next_at_ms = at, .error = err};
    out->effect = tg_trigger_effect_failed(a->key, a->number, err, at);
}

char *tg_trigger_effect_failed(const char *key, int attempt, const char *error, uint64_t retry_at)
{
    char desc[256];
    snprintf(desc, sizeof desc, "trigger failed: %.230s", error);
    json_t *d = json_pack("{s:i, s:s, s:b, s:I}", "attempt", attempt, "error", error, "final",
                          retry_at == 0, "retry_at_ms", (json_int_t)retry_at);
    struct tg_outbox_effect e = {.key = key,
                                 .action = "trigger_failed",
                                 .reason = desc,
                                 .details = d,
                                 .status_state = retry_at ? NULL : "failed",
                                 .status_description = desc};
    return tg_outbox_effect(&e);
}

void tg_trigger_log_outcome(const char *key, int attempt, const struct tg_deploy_result *r)
{
    switch (r->outcome) {
    case TG_OUTCOME_TRIGGERED:
        tg_metrics_inc(TG_M_TRIGGERS_SENT);
        TG_LOG(TG_LOG_INFO, "triggered", "%s: pipeline #%lld (%s)", key, r->downstream_id,
               r->downstream_url ? r->downstream_url : "");
        break;
    case TG_OUTCOME_RETRY:
    case TG_OUTCOME_FAILED:
        tg_metrics_inc(r->outcome == TG_OUTCOME_RETRY ? TG_M_TRIGGERS_RETRIED
                                                      : TG_M_TRIGGERS_FAILED);
        TG_LOG(r->outcome == TG_OUTCOME_RETRY ? TG_LOG_WARN : TG_LOG_ERROR,
               r->outcome == TG_OUTCOME_RETRY ? "retry_scheduled" : "failed", "%s attempt %d: %s",
               key, attempt, r->error ? r->error : "");
        break;
    case TG_OUTCOME_RECONCILE:
        TG_LOG(TG_LOG_WARN, "reconciling", "%s attempt %d: %s; asking GitLab before any resend",
               key, attempt, r->error ? r->error : "");
        break;
    case TG_OUTCOME_UNKNOWN:
        tg_metrics_inc(TG_M_TRIGGERS_UNKNOWN);
        TG_LOG(TG_LOG_ERROR, "outcome_unknown",
               "%s: %s; check the chart pipelines for " TG_TRIGGER_MARKER
               ", then `tollgate retrigger` if none ran",
               key, r->error ? r->error : "");
        break;
    }
}

/* Our 201 arrived after the lease was lost. If the deployment was recorded with another
 * pipeline, ours is a duplicate: record it (both ids) and cancel it; never silent. */
static void on_late_answer(struct tg_work *w, const struct attempt *a,
                           const struct tg_deploy_result *out)
{
    if (out->outcome != TG_OUTCOME_TRIGGERED) {
        TG_LOG(TG_LOG_WARN, "late_answer",
               "%s: outcome of attempt %d arrived after the lease "
               "expired; its new owner settles it",
               a->key, a->number);
        return;
    }
    char reason[300], marker[64];
    const char *chart = a->dep.chart_project;
    tg_trigger_marker(a->key, a->number, marker, sizeof marker);
    snprintf(reason, sizeof reason,
             "attempt %d created pipeline #%lld after its lease was lost; the deployment's "
             "pipeline is #@@OTHER@@; #%lld is canceled",
             a->number, out->downstream_id, out->downstream_id);
    struct tg_outbox_effect e = {
        .key = a->key,
        .action = "duplicate_trigger",
        .reason = reason,
        .details = json_pack("{s:I, s:s, s:s, s:s?, s:i, s:s}", "duplicate_id",
                             (json_int_t)out->downstream_id, "recorded_id", "@@OTHER@@",
                             "duplicate_url", out->downstream_url ? out->downstream_url : "",
                             "chart_project", chart, "attempt", a->number, "marker", marker)};
    struct tg_deploy_late late = {.key = a->key, .ours = out->downstream_id};
    char *effect = tg_outbox_effect(&e);
    late.effect = effect;
    int rc = tg_deploy_duplicate(w->rc, w->cfg->redis.prefix, &late);
    free(effect);
    if (rc != 0) {
        TG_LOG(TG_LOG_WARN, "late_answer",
               "%s: pipeline #%lld (attempt %d) arrived after the lease "
               "expired; %s",
               a->key, out->downstream_id, a->number,
               rc == 2   ? "already recorded with it"
               : rc == 1 ? "the deployment's reconciliation finds it by its "
                           "marker"
                         : "Redis failed; reconciliation finds it by its marker");
        return;
    }
    tg_metrics_inc(TG_M_TRIGGERS_SENT);
    TG_LOG(TG_LOG_ERROR, "duplicate_trigger",
           "%s: attempt %d created pipeline #%lld after its "
           "lease was lost; the deployment has pipeline #%lld; canceling #%lld",
           a->key, a->number, out->downstream_id, late.other, out->downstream_id);
    if (late.effect_id[0])
        tg_outbox_complete_id(w, late.effect_id);
    struct tg_gitlab_result res;
    if (tg_gitlab_cancel_pipeline(w->api, chart ? chart : "", out->downstream_id, &res) != 0)
        TG_LOG(TG_LOG_ERROR, "duplicate_cancel_failed",
               "%s: canceling pipeline #%lld: HTTP %ld %s; "
               "cancel it by hand",
               a->key, out->downstream_id, res.status, res.error);
}

/* Records `sending`, sends, and records what GitLab's answer proves. Returns 0 or -1 (Redis). */
static int send_and_finish(struct tg_work *w, struct attempt *a, uint64_t lease)
{
    struct tg_trigger_request req;
    struct tg_gitlab_result res = {0};
    struct tg_deploy_result out;
    char err[512];
    if (build_request(w, a, &req, err, sizeof err) != 0) { /* refused before sending: certain */
        out = (struct tg_deploy_result){.outcome = TG_OUTCOME_FAILED, .error = err};
        out.effect = tg_trigger_effect_failed(a->key, a->number, err, 0);
    } else {
        tg_trigger_crash_point("claimed");
        int rc = tg_deploy_mark_sending(w->rc, w->cfg->redis.prefix, a->key, w->owner, lease);
        if (rc != 0) {
            tg_trigger_request_dispose(&req);
            return rc < 0 ? -1 : 0; /* taken back after our lease expired: nothing was sent */
        }
        tg_trigger_crash_point("sending");
        rc = tg_deploy_confirm_sending(w->rc, w->cfg->redis.prefix, a->key, w->owner,
                                       w->cfg->trigger.timeout_ms + LEASE_MARGIN_MS);
        if (rc != 0) {
            tg_trigger_request_dispose(&req);
            if (rc > 0)
                TG_LOG(TG_LOG_WARN, "send_withheld",
                       "%s attempt %d: not sent: the lease was lost or "
                       "too short to finish the request within it (the worker was held up)",
                       a->key, a->number);
            return rc < 0 ? -1 : 0;
        }
        tg_trigger_crash_point("confirmed");
        uint64_t sent_at = tg_now_ms();
        tg_gitlab_trigger(w->api, &req, &res);
        tg_trigger_request_dispose(&req);
        tg_trigger_crash_point("answered");
        snprintf(err, sizeof err, "%s", res.error[0] ? res.error : "unexpected answer");
        struct answer ans = {&res, sent_at, err};
        sort_answer(w, a, &ans, &out);
    }
    int rc = tg_trigger_finish(w, a->key, &out);
    if (rc == 0)
        tg_trigger_log_outcome(a->key, a->number, &out);
    else if (rc == 1)
        on_late_answer(w, a, &out);
    free((char *)out.effect);
    return rc < 0 ? -1 : 0;
}

/* The claim recorded the supersession and its effect in one script: complete the effect. */
static int on_superseded(struct tg_work *w, const struct attempt *a, const char *newer)
{
    char id[600];
    tg_metrics_inc(TG_M_TRIGGERS_SUPERSEDED);
    TG_LOG(TG_LOG_INFO, "superseded", "%s: superseded by pipeline %s", a->key, newer);
    tg_outbox_last_id(a->key, &a->dep, id, sizeof id);
    return id[0] && tg_outbox_complete_id(w, id) < 0 ? -1 : 0;
}

int tg_trigger_run(struct tg_work *w, const char *key)
{
    struct attempt a = {.key = key};
    uint64_t lease = w->cfg->trigger.timeout_ms * 2 + LEASE_MARGIN_MS;
    struct tg_deploy_claim q = {.key = key, .owner = w->owner, .lease_ms = lease};
    enum tg_claim c = tg_deploy_claim(w->rc, w->cfg->redis.prefix, &q);
    a.number = q.attempt;
    if (c == TG_CLAIM_ERROR)
        return -1;
    if (c != TG_CLAIM_GO && c != TG_CLAIM_SUPERSEDED)
        return 0; /* busy elsewhere, or nothing to send in this state */
    if (tg_deployment_load(w->rc, key, &a.dep) < 0) {
        tg_deployment_dispose(&a.dep);
        return -1;
    }
    tg_work_target_load(&a.dep, &a.target);
    int rc = 0;
    if (c == TG_CLAIM_SUPERSEDED)
        rc = on_superseded(w, &a, q.detail);
    else
        rc = send_and_finish(w, &a, lease);
    tg_deployment_dispose(&a.dep);
    return rc;
}
