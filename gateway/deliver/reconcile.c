/* reconcile.c -- settles a trigger whose outcome is unknown by asking GitLab (reconcile.h). */
#include "deliver/reconcile.h"
#include "deliver/deploy.h"
#include "base/log.h"
#include "deliver/outbox.h"
#include "deliver/trigger.h"
#include "base/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TG_MODULE     "reconcile"
#define LEASE_BASE_MS 30000 /* plus two GitLab timeouts: one check's listing and variables */

/* One check in progress; strings borrowed from dep. */
struct check {
    struct tg_work *w;
    const char *key;
    struct tg_deployment dep;
    int attempt, checks;
    uint64_t settle_until;
    char marker[64];
};

static void found(struct check *c, const struct tg_gitlab_result *res, const char *value,
                  struct tg_deploy_result *r)
{
    *r = (struct tg_deploy_result){.outcome = TG_OUTCOME_TRIGGERED,
                                   .downstream_id = res->pipeline_id,
                                   .downstream_url = res->web_url};
    struct tg_trigger_triggered t = {.key = c->key,
                                     .chart_project = c->dep.chart_project,
                                     .pipeline_id = res->pipeline_id,
                                     .web_url = res->web_url,
                                     .attempt = c->attempt,
                                     .marker = value,
                                     .reconciled = 1};
    r->effect = tg_trigger_effect_triggered(&t);
}

static void absent(struct check *c, char *err, size_t errlen, struct tg_deploy_result *r)
{
    uint64_t now = tg_now_ms();
    if (now < c->settle_until) { /* GitLab may still create it: ask again once that is over */
        *r = (struct tg_deploy_result){.outcome = TG_OUTCOME_RECONCILE,
                                       .next_at_ms = c->settle_until,
                                       .settle_until_ms = c->settle_until,
                                       .checks = c->checks,
                                       .error = c->dep.error};
        return;
    }
    snprintf(err, errlen,
             "GitLab has no pipeline carrying " TG_TRIGGER_MARKER "=%s after the settle window",
             c->marker);
    int again = c->attempt < c->w->cfg->trigger.tries;
    *r = (struct tg_deploy_result){.outcome = again ? TG_OUTCOME_RETRY : TG_OUTCOME_FAILED,
                                   .next_at_ms = again ? now : 0,
                                   .error = err};
    r->effect = tg_trigger_effect_failed(c->key, c->attempt, err, again ? now : 0);
}

static void unknown(struct check *c, const char *err, struct tg_deploy_result *r)
{
    *r =
        (struct tg_deploy_result){.outcome = TG_OUTCOME_UNKNOWN, .checks = c->checks, .error = err};
    struct tg_outbox_effect e = {
        .key = c->key,
        .action = "unknown",
        .reason = err,
        .details = json_pack("{s:i, s:s, s:i}", "attempt", c->attempt, "marker", c->marker,
                             "checks", c->checks),
        .status_state = "failed",
        .status_description =
            "trigger outcome unknown: GitLab could not be asked; an operator must check"};
    r->effect = tg_outbox_effect(&e);
}

/* GitLab could not be asked: a missing right is final at once; anything else is asked again
 * with backoff until trigger.tries checks failed. */
static void not_asked(struct check *c, const struct tg_gitlab_result *res, char *err, size_t errlen,
                      struct tg_deploy_result *r)
{
    const struct tg_config *cfg = c->w->cfg;
    const char *chart = c->dep.chart_project;
    if (res->status >= 400 && res->status < 500 && res->status != 429) {
        snprintf(
            err, errlen,
            "the api_token may not read the trigger pipelines of %s or their variables (%.120s): "
            "its user must be a Maintainer of that project",
            chart ? chart : "?", res->error);
        unknown(c, err, r);
        return;
    }
    c->checks++;
    snprintf(err, errlen, "GitLab could not be asked about %s (check %d): %.200s",
             chart ? chart : "?", c->checks, res->error[0] ? res->error : "no answer");
    if (c->checks >= cfg->trigger.tries) {
        unknown(c, err, r);
        return;
    }
    uint64_t delay =
        tg_trigger_backoff(cfg->trigger.base_ms, cfg->trigger.cap_ms, c->checks,
                           res->retry_after_ms, ((uint64_t)arc4random() << 32) | arc4random());
    *r = (struct tg_deploy_result){.outcome = TG_OUTCOME_RECONCILE,
                                   .next_at_ms = tg_now_ms() + delay,
                                   .settle_until_ms = c->settle_until,
                                   .checks = c->checks,
                                   .error = err};
}

/* The deadline cut the scan short after it read further than any check before: not a failed
 * check (GitLab answered), so the next check continues from the mark at once. */
static void continued(struct check *c, const struct tg_gitlab_marker_progress *p, char *err,
                      size_t errlen, struct tg_deploy_result *r)
{
    snprintf(
        err, errlen,
        "looked through the trigger pipelines up to #%lld within one check; continuing from there",
        p->scanned_id);
    *r = (struct tg_deploy_result){.outcome = TG_OUTCOME_RECONCILE,
                                   .next_at_ms = tg_now_ms(),
                                   .settle_until_ms = c->settle_until,
                                   .checks = c->checks,
                                   .error = err};
}

static int check(struct check *c, uint64_t lease)
{
    const struct tg_config *cfg = c->w->cfg;
    struct tg_gitlab_result res = {0};
    struct tg_deploy_result r;
    char prefix[64], value[128] = "", err[512];
    uint64_t first = (uint64_t)c->dep.first_sent_at;
    long long before = c->dep.reconcile_scanned;
    struct tg_gitlab_marker_progress progress = {.scanned_id = before};
    tg_trigger_marker(c->key, 0, prefix, sizeof prefix);
    struct tg_gitlab_marker_query q = {
        .project = c->dep.chart_project,
        .ref = c->dep.chart_ref,
        .updated_after_ms = first > cfg->trigger.settle_ms ? first - cfg->trigger.settle_ms : 0,
        .created_before_ms = c->settle_until,
        .name = TG_TRIGGER_MARKER,
        .prefix = prefix,
        .deadline_mono_ms = tg_mono_ms() + lease - cfg->gitlab.timeout_ms,
        .progress = &progress,
    };
    if (q.project == NULL || q.ref == NULL) {
        snprintf(err, sizeof err, "the deployment record names no chart project or ref");
        unknown(c, err, &r);
    } else {
        int rc = tg_gitlab_find_marker(c->w->api, &q, &res, value, sizeof value);
        if (rc == 1)
            found(c, &res, value, &r);
        else if (rc == 0)
            absent(c, err, sizeof err, &r);
        else if (progress.cut_short && progress.scanned_id > before)
            continued(c, &progress, err, sizeof err, &r);
        else
            not_asked(c, &res, err, sizeof err, &r);
        r.scanned_id = progress.scanned_id;
    }
    int rc = tg_trigger_finish(c->w, c->key, &r);
    if (rc == 0 && (r.outcome != TG_OUTCOME_RECONCILE || r.effect))
        tg_trigger_log_outcome(c->key, c->attempt, &r);
    else if (rc == 0)
        TG_LOG(TG_LOG_INFO, "asked", "%s: %s", c->key, r.error ? r.error : "no pipeline yet");
    free((char *)r.effect);
    return rc < 0 ? -1 : 0;
}

int tg_reconcile_run(struct tg_work *w, const char *key)
{
    uint64_t lease = LEASE_BASE_MS + 2 * w->cfg->gitlab.timeout_ms;
    int rc = tg_deploy_reconcile_claim(w->rc, w->cfg->redis.prefix, key, w->owner, lease);
    if (rc <= 0)
        return rc;
    struct check c = {.w = w, .key = key};
    if (tg_deployment_load(w->rc, key, &c.dep) < 0) {
        tg_deployment_dispose(&c.dep);
        return -1;
    }
    c.attempt = (int)c.dep.attempts;
    c.checks = (int)c.dep.reconcile_checks;
    c.settle_until = (uint64_t)c.dep.settle_until;
    tg_trigger_marker(key, c.attempt, c.marker, sizeof c.marker);
    rc = check(&c, lease);
    tg_deployment_dispose(&c.dep);
    return rc;
}
