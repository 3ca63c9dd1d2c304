/* trigger.h -- one trigger attempt of a deployment: claim it, record `sending`, call GitLab,
 * record what the answer proves.
 *
 * The request sent is the one rendered at decision time and kept in the deployment record
 * (chart project, ref, variables), plus the marker variable TOLLGATE_DEPLOYMENT =
 * "<deployment id>/<attempt>"; only the token is taken from the current templates. A 201 is
 * triggered. A request that certainly created nothing (never sent, connection refused, a
 * 3xx/4xx GitLab answered) is retried when worth it (no connection, 429) with exponential
 * backoff and full jitter, driven by the <prefix>retry schedule so no thread sleeps through a
 * backoff; any other 4xx fails at once with GitLab's reason. Anything else (a timeout or reset
 * after the request left, any 5xx) is unknown and goes to reconciliation (reconcile.h), never
 * straight to a resend. Worker threads only.
 */
#ifndef TG_TRIGGER_H
#define TG_TRIGGER_H

#include "deliver/deploy.h"
#include "deliver/workctx.h"

#include <stdint.h>

#define TG_TRIGGER_MARKER "TOLLGATE_DEPLOYMENT"

/* The delay before the next try after `attempt` tries failed: uniform in [0, min(cap,
 * base * 2^(attempt-1))] (full jitter, from random), but at least retry_after_ms. */
uint64_t tg_trigger_backoff(uint64_t base_ms, uint64_t cap_ms, int attempt, uint64_t retry_after_ms,
                            uint64_t random);

/* The marker value of key's attempt ("<12 hex>/<attempt>"); attempt 0 gives the prefix that
 * matches every attempt ("<12 hex>/"). */
void tg_trigger_marker(const char *key, int attempt, char *out, size_t outlen);

/* Runs one attempt for the deployment at key. Returns 0 when the outcome is recorded
 * (including "someone else is on it" and "nothing to do"), -1 when Redis failed. */
int tg_trigger_run(struct tg_work *w, const char *key);

/* Shared with reconcile.c: records r (with r->effect in the outbox) and completes the effect
 * at once. Returns 0 recorded, 1 no longer ours, -1 Redis failed. */
int tg_trigger_finish(struct tg_work *w, const char *key, const struct tg_deploy_result *r);
/* The effects of a trigger and of a failed attempt (retry_at 0: final), as JSON to free. */
struct tg_trigger_triggered {
    const char *key;
    const char *chart_project;
    long long pipeline_id; /* the chart pipeline GitLab created */
    const char *web_url;
    int attempt;
    const char *marker;
    int reconciled; /* found by reconciliation rather than a 201 */
};
char *tg_trigger_effect_triggered(const struct tg_trigger_triggered *t);
char *tg_trigger_effect_failed(const char *key, int attempt, const char *error, uint64_t retry_at);
/* The log line and metric of a recorded outcome. */
void tg_trigger_log_outcome(const char *key, int attempt, const struct tg_deploy_result *r);

/* Fault injection for the crash tests: when the environment variable TOLLGATE_CRASH_AT equals
 * where (claimed, sending, answered, recorded), the process SIGKILLs itself there. */
void tg_trigger_crash_point(const char *where);

#endif
