/* trigger.c -- one trigger attempt of a deployment: claim it, call GitLab, record the outcome. */
#include "trigger.h"
#include "deploy.h"
#include "log.h"
#include "metrics.h"
#include "template.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TG_MODULE "trigger"
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

static void load_target(struct attempt *a)
{
    const redisReply *r = a->rec;
    a->target.project_id = atoll(tg_deploy_field(r, "project_id") ? tg_deploy_field(r, "project_id") : "0");
    a->target.project = tg_deploy_field(r, "project");
    a->target.ref = tg_deploy_field(r, "ref");
    a->target.sha = tg_deploy_field(r, "sha");
    a->target.pipeline = atoll(tg_deploy_field(r, "pipeline") ? tg_deploy_field(r, "pipeline") : "0");
    a->target.environment = tg_deploy_field(r, "environment");
    a->target.user = tg_deploy_field(r, "user");
}

static void record(struct tg_work *w, const struct attempt *a, const char *action, const char *reason,
                   json_t *details)
{
    json_t *reasons = reason ? json_pack("[s]", reason) : NULL;
    struct tg_audit_record r = {.action = action, .decision = "deploy", .reasons = reasons, .details = details};
    tg_work_record_target(&r, &a->target);
    tg_work_audit(w, &r);
    json_decref(reasons);
    json_decref(details);
}

/* The stored request plus the current token. Returns 0, or -1 with the reason in err. */
static int build_request(struct tg_work *w, const struct attempt *a, struct tg_trigger_request *req,
                         char *err, size_t errlen)
{
    const char *name = tg_deploy_field(a->rec, "template");
    const struct tg_template *t = w->cfg->templates ? tg_template_match(w->cfg->templates, a->target.project) : NULL;
    if (t == NULL || name == NULL || strcmp(tg_template_name(t), name) != 0) {
        snprintf(err, errlen, "template %s no longer serves %s", name ? name : "?", a->target.project);
        return -1;
    }
    json_t *vars = json_loads(tg_deploy_field(a->rec, "variables") ? tg_deploy_field(a->rec, "variables") : "{}", 0, NULL);
    size_t n = json_object_size(vars), i = 0;
    const char *k;
    json_t *v;
    memset(req, 0, sizeof *req);
    req->template_name = tg_xstrdup(name);
    req->project = tg_xstrdup(tg_deploy_field(a->rec, "chart_project") ? tg_deploy_field(a->rec, "chart_project") : "");
    req->ref = tg_xstrdup(tg_deploy_field(a->rec, "chart_ref") ? tg_deploy_field(a->rec, "chart_ref") : "");
    req->token = tg_template_token(t);
    req->var_names = tg_xcalloc(n + 1, sizeof(char *)); /* NULL-terminated: disposed with tg_strv_free */
    req->var_values = tg_xcalloc(n + 1, sizeof(char *));
    json_object_foreach(vars, k, v) {
        req->var_names[i] = tg_xstrdup(k);
        req->var_values[i++] = tg_xstrdup(json_is_string(v) ? json_string_value(v) : "");
    }
    req->nvars = i;
    json_decref(vars);
    return 0;
}

static void on_triggered(struct tg_work *w, const struct attempt *a, const struct tg_gitlab_result *res)
{
    char desc[256];
    tg_metrics_inc(TG_M_TRIGGERS_SENT);
    snprintf(desc, sizeof desc, "triggered %s pipeline #%lld", tg_deploy_field(a->rec, "chart_project"),
             res->pipeline_id);
    tg_log_msg(TG_LOG_INFO, TG_MODULE, "triggered", "%s: %s (%s)", a->key, desc, res->web_url);
    record(w, a, "triggered", desc,
           json_pack("{s:I, s:s, s:s?, s:i}", "downstream_id", (json_int_t)res->pipeline_id, "downstream_url",
                     res->web_url, "chart_project", tg_deploy_field(a->rec, "chart_project"), "attempt", a->number));
    tg_work_status(w, &a->target, "success", desc);
}

static void on_failed(struct tg_work *w, const struct attempt *a, const char *error, uint64_t retry_at)
{
    char desc[256];
    snprintf(desc, sizeof desc, "trigger failed: %.230s", error);
    tg_metrics_inc(retry_at ? TG_M_TRIGGERS_RETRIED : TG_M_TRIGGERS_FAILED);
    tg_log_msg(retry_at ? TG_LOG_WARN : TG_LOG_ERROR, TG_MODULE, retry_at ? "retry_scheduled" : "failed",
               "%s attempt %d: %s", a->key, a->number, error);
    record(w, a, "trigger_failed", desc,
           json_pack("{s:i, s:s, s:b, s:I}", "attempt", a->number, "error", error, "final", retry_at == 0,
                     "retry_at_ms", (json_int_t)retry_at));
    if (retry_at == 0)
        tg_work_status(w, &a->target, "failed", desc);
}

/* Sends the request and records what happened. Returns 0 or -1 (Redis). */
static int send_and_finish(struct tg_work *w, struct attempt *a)
{
    struct tg_trigger_request req;
    struct tg_gitlab_result res = {0};
    struct tg_deploy_result out = {.outcome = TG_OUTCOME_FAILED};
    char err[512];
    const struct tg_config *cfg = w->cfg;
    int sent = build_request(w, a, &req, err, sizeof err) == 0;
    if (sent) {
        tg_gitlab_trigger(w->api, &req, &res);
        tg_trigger_request_dispose(&req);
        snprintf(err, sizeof err, "%s", res.error[0] ? res.error : "unexpected answer");
    }
    if (res.status == 201) {
        out = (struct tg_deploy_result){TG_OUTCOME_TRIGGERED, res.pipeline_id, res.web_url, 0, NULL};
    } else if (sent && tg_gitlab_result_retryable(&res) && a->number < cfg->trigger.tries) {
        uint64_t delay = tg_trigger_backoff(cfg->trigger.base_ms, cfg->trigger.cap_ms, a->number, res.retry_after_ms,
                                            ((uint64_t)arc4random() << 32) | arc4random());
        out = (struct tg_deploy_result){TG_OUTCOME_RETRY, 0, NULL, tg_now_ms() + delay, err};
    } else {
        out.error = err;
    }
    int rc = tg_deploy_finish(w->rc, cfg->redis.prefix, a->key, w->owner, &out);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        tg_log_msg(TG_LOG_WARN, TG_MODULE, "late_answer", "%s: outcome arrived after the lease expired", a->key);
        return 0;
    }
    if (out.outcome == TG_OUTCOME_TRIGGERED)
        on_triggered(w, a, &res);
    else
        on_failed(w, a, err, out.outcome == TG_OUTCOME_RETRY ? out.next_at_ms : 0);
    return 0;
}

static void on_superseded(struct tg_work *w, const struct attempt *a, const char *newer)
{
    char desc[256];
    snprintf(desc, sizeof desc, "superseded by pipeline %.200s", newer);
    tg_metrics_inc(TG_M_TRIGGERS_SUPERSEDED);
    tg_log_msg(TG_LOG_INFO, TG_MODULE, "superseded", "%s: %s", a->key, desc);
    record(w, a, "superseded", desc, json_pack("{s:s}", "newer_pipeline", newer));
    tg_work_status(w, &a->target, "canceled", desc);
}

int tg_trigger_run(struct tg_work *w, const char *key)
{
    char detail[256];
    struct attempt a = {.key = key};
    uint64_t lease = w->cfg->trigger.timeout_ms * 2 + LEASE_MARGIN_MS;
    enum tg_claim c = tg_deploy_claim(w->rc, w->cfg->redis.prefix, key, w->owner, lease, &a.number, detail, sizeof detail);
    if (c == TG_CLAIM_ERROR)
        return -1;
    if (c == TG_CLAIM_UNKNOWN) {
        tg_trigger_report_unknown(w, key);
        return 0;
    }
    if (c != TG_CLAIM_GO && c != TG_CLAIM_SUPERSEDED)
        return 0; /* busy elsewhere, or nothing to send in this state */
    if ((a.rec = tg_deploy_load(w->rc, key)) == NULL)
        return -1;
    load_target(&a);
    int rc = 0;
    if (c == TG_CLAIM_SUPERSEDED)
        on_superseded(w, &a, detail);
    else
        rc = send_and_finish(w, &a);
    freeReplyObject(a.rec);
    return rc;
}

void tg_trigger_report_unknown(struct tg_work *w, const char *key)
{
    struct attempt a = {.key = key};
    char once[600];
    if ((a.rec = tg_deploy_load(w->rc, key)) == NULL)
        return;
    load_target(&a);
    tg_metrics_inc(TG_M_TRIGGERS_UNKNOWN);
    tg_log_msg(TG_LOG_ERROR, TG_MODULE, "outcome_unknown",
               "%s: the trigger was sent but no answer was recorded; check the chart pipelines, then "
               "`tollgate retrigger` if none ran", key);
    snprintf(once, sizeof once, "unknown:%s:%s", key, tg_deploy_field(a.rec, "attempts") ? tg_deploy_field(a.rec, "attempts") : "0");
    json_t *reasons = json_pack("[s]", "trigger outcome unknown: the worker stopped before GitLab's answer was recorded");
    struct tg_audit_record r = {.action = "unknown", .decision = "deploy", .reasons = reasons, .once = once};
    tg_work_record_target(&r, &a.target);
    tg_work_audit(w, &r);
    json_decref(reasons);
    tg_work_status(w, &a.target, "failed", "trigger outcome unknown: an operator must check and re-run");
    freeReplyObject(a.rec);
}
