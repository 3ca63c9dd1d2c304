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

/* A deployment record loaded for one attempt; strings borrowed from rec. */
struct attempt {
    redisReply *rec;
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

/* The stored request plus the current token and the marker. Returns 0, or -1 with the reason
 * in err. */
static int build_request(struct tg_work *w, const struct attempt *a, struct tg_trigger_request *req,
                         char *err, size_t errlen)
{
    const char *name = tg_deploy_field(a->rec, "template");
    const struct tg_template *t =
        w->cfg->templates ? tg_template_match(w->cfg->templates, a->target.project) : NULL;
    if (t == NULL || name == NULL || strcmp(tg_template_name(t), name) != 0) {
        snprintf(err, errlen, "template %s no longer serves %s", name ? name : "?",
                 a->target.project);
        return -1;
    }
    char marker[64];
    json_t *vars = json_loads(
        tg_deploy_field(a->rec, "variables") ? tg_deploy_field(a->rec, "variables") : "{}", 0,
        NULL);
    if (vars == NULL)
        vars = json_object();
    tg_trigger_marker(a->key, a->number, marker, sizeof marker);
    json_object_set_new(vars, TG_TRIGGER_MARKER,
                        json_string(marker)); /* ours wins over a template's */
    size_t n = json_object_size(vars), i = 0;
    const char *k;
    json_t *v;
    memset(req, 0, sizeof *req);
    req->template_name = tg_xstrdup(name);
    req->project = tg_xstrdup(
        tg_deploy_field(a->rec, "chart_project") ? tg_deploy_field(a->rec, "chart_project") : "");
    req->ref = tg_xstrdup(
        tg_deploy_field(a->rec, "chart_ref") ? tg_deploy_field(a->rec, "chart_ref") : "");
    req->token = tg_template_token(t);
    req->var_names =
        tg_xcalloc(n + 1, sizeof(char *)); /* NULL-terminated: disposed with tg_strv_free */
    req->var_values = tg_xcalloc(n + 1, sizeof(char *));
    json_object_foreach(vars, k, v)
    {
        req->var_names[i] = tg_xstrdup(k);
        req->var_values[i++] = tg_xstrdup(json_is_string(v) ? json_string_value(v) : "");
    }
    req->nvars = i;
    json_decref(vars);
    return 0;
}

char *tg_trigger_effect_triggered(const char *key, const redisReply *rec, long long pipeline_id,
                                  const char *web_url, int attempt, const char *marker,
                                  int reconciled)
{
    char desc[256];
    const char *chart = tg_deploy_field(rec, "chart_project");
    snprintf(desc, sizeof desc, "triggered %s pipeline #%lld", chart ? chart : "?", pipeline_id);
    json_t *d =
        json_pack("{s:I, s:s, s:s?, s:i, s:s, s:b}", "downstream_id", (json_int_t)pipeline_id,
                  "downstream_url", web_url ? web_url : "", "chart_project", chart, "attempt",
                  attempt, "marker", marker, "reconciled", reconciled);
    return tg_outbox_effect(key, "triggered", desc, d, "success", desc);
}

int tg_trigger_finish(struct tg_work *w, const char *key, const struct tg_deploy_result *r)
{
    char id[600];
    int rc = tg_deploy_finish(w->rc, w->cfg->redis.prefix, key, w->owner, r, id, sizeof id);
    if (rc != 0)
        return rc;
    tg_trigger_crash_point("recorded");
    if (id[0] && r->effect && tg_outbox_complete(w, id, r->effect) < 0)
        return -1;
    return 0;
}

/* GitLab's answer as the outcome to record; the effect is stored in out->effect (caller frees). */
static void sort_answer(struct tg_work *w, const struct attempt *a,
                        const struct tg_gitlab_result *res, uint64_t sent_at, const char *err,
                        struct tg_deploy_result *out)
{
    const struct tg_config *cfg = w->cfg;
    char marker[64], desc[300];
    tg_trigger_marker(a->key, a->number, marker, sizeof marker);
    enum tg_gitlab_outcome o = tg_gitlab_trigger_outcome(res);
    if (o == TG_GITLAB_CREATED) {
        *out = (struct tg_deploy_result){.outcome = TG_OUTCOME_TRIGGERED,
                                         .downstream_id = res->pipeline_id,
                                         .downstream_url = res->web_url};
        out->effect = tg_trigger_effect_triggered(a->key, a->rec, res->pipeline_id, res->web_url,
                                                  a->number, marker, 0);
        return;
    }
    if (o == TG_GITLAB_UNKNOWN) {
        snprintf(desc, sizeof desc, "outcome of attempt %d unknown (%.200s); asking GitLab",
                 a->number, err);
        *out = (struct tg_deploy_result){.outcome = TG_OUTCOME_RECONCILE,
                                         .next_at_ms = tg_now_ms(),
                                         .settle_until_ms = sent_at + cfg->trigger.timeout_ms +
                                                            cfg->trigger.settle_ms,
                                         .error = err};
        out->effect = tg_outbox_effect(
            a->key, "reconciling", desc,
            json_pack("{s:i, s:s, s:s}", "attempt", a->number, "error", err, "marker", marker),
            NULL, NULL);
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
    return tg_outbox_effect(key, "trigger_failed", desc, d, retry_at ? NULL : "failed", desc);
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
    char reason[300], id[600], marker[64];
    long long other = 0;
    const char *chart = tg_deploy_field(a->rec, "chart_project");
    tg_trigger_marker(a->key, a->number, marker, sizeof marker);
    snprintf(reason, sizeof reason,
             "attempt %d created pipeline #%lld after its lease was lost; the deployment's "
             "pipeline is #@@OTHER@@; #%lld is canceled",
             a->number, out->downstream_id, out->downstream_id);
    char *effect =
        tg_outbox_effect(a->key, "duplicate_trigger", reason,
                         json_pack("{s:I, s:s, s:s, s:s?, s:i, s:s}", "duplicate_id",
                                   (json_int_t)out->downstream_id, "recorded_id", "@@OTHER@@",
                                   "duplicate_url", out->downstream_url ? out->downstream_url : "",
                                   "chart_project", chart, "attempt", a->number, "marker", marker),
                         NULL, NULL);
    int rc = tg_deploy_duplicate(w->rc, w->cfg->redis.prefix, a->key, out->downstream_id, effect,
                                 &other, id, sizeof id);
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
           a->key, a->number, out->downstream_id, other, out->downstream_id);
    if (id[0])
        tg_outbox_complete_id(w, id);
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
        sort_answer(w, a, &res, sent_at, err, &out);
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
    tg_outbox_last_id(a->key, a->rec, id, sizeof id);
    return id[0] && tg_outbox_complete_id(w, id) < 0 ? -1 : 0;
}

int tg_trigger_run(struct tg_work *w, const char *key)
{
    char detail[256];
    struct attempt a = {.key = key};
    uint64_t lease = w->cfg->trigger.timeout_ms * 2 + LEASE_MARGIN_MS;
    enum tg_claim c = tg_deploy_claim(w->rc, w->cfg->redis.prefix, key, w->owner, lease, &a.number,
                                      detail, sizeof detail);
    if (c == TG_CLAIM_ERROR)
        return -1;
    if (c != TG_CLAIM_GO && c != TG_CLAIM_SUPERSEDED)
        return 0; /* busy elsewhere, or nothing to send in this state */
    if ((a.rec = tg_deploy_load(w->rc, key)) == NULL)
        return -1;
    tg_work_target_load(a.rec, &a.target);
    int rc = 0;
    if (c == TG_CLAIM_SUPERSEDED)
        rc = on_superseded(w, &a, detail);
    else
        rc = send_and_finish(w, &a, lease);
    freeReplyObject(a.rec);
    return rc;
}
