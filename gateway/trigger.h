/* trigger.h -- one trigger attempt of a deployment: claim it, call GitLab, record the outcome.
 *
 * The request sent is the one rendered at decision time and kept in the deployment record
 * (chart project, ref, variables); only the token is taken from the current templates.
 * Network errors, 429 and 5xx are retried with exponential backoff and full jitter, driven
 * by the <prefix>retry schedule so no thread sleeps through a backoff; any other 4xx fails
 * at once with GitLab's reason. Worker threads only.
 */
#ifndef TG_TRIGGER_H
#define TG_TRIGGER_H

#include "workctx.h"

#include <stdint.h>

/* The delay before the next try after `attempt` tries failed: uniform in [0, min(cap,
 * base * 2^(attempt-1))] (full jitter, from random), but at least retry_after_ms. */
uint64_t tg_trigger_backoff(uint64_t base_ms, uint64_t cap_ms, int attempt, uint64_t retry_after_ms,
                            uint64_t random);

/* Runs one attempt for the deployment at key. Returns 0 when the outcome is recorded
 * (including "someone else is on it" and "nothing to do"), -1 when Redis failed. */
int tg_trigger_run(struct tg_work *w, const char *key);

/* For a deployment that just became unknown (its lease expired with no recorded answer):
 * the audit record, the error log line an operator acts on, and a failed commit status. */
void tg_trigger_report_unknown(struct tg_work *w, const char *key);

#endif
