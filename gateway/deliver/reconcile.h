/* reconcile.h -- settles a trigger whose outcome is unknown by asking GitLab, before anything
 * is resent.
 *
 * It lists the chart project's recent trigger pipelines on the chart ref (updated after the
 * first send minus the settle window, which also covers clock skew) and reads their variables
 * for TOLLGATE_DEPLOYMENT = "<deployment id>/<any attempt>":
 *   found                                   -> triggered with that pipeline
 *   absent, now >= settle_until             -> certain: retried at once (or failed, out of tries)
 *   absent, before settle_until             -> asked again at settle_until
 *   GitLab unreachable, 429, 5xx            -> asked again with backoff; after trigger.tries
 *                                              such checks: unknown
 *   401/403/404 (the api_token may not see  -> unknown at once with that reason: a missing right
 *   the pipelines or read their variables)     is an operator's to fix, never a silent retry
 * settle_until = sent_at + trigger.timeout + trigger.settle: GitLab may still create the pipeline
 * after the client gave up, until its own request timeout. Worker threads only.
 */
#ifndef TG_RECONCILE_H
#define TG_RECONCILE_H

#include "deliver/workctx.h"

/* One check of the reconciling deployment at key, when it is due and no other worker holds it.
 * Returns 0 (whatever the check found), -1 when Redis failed. */
int tg_reconcile_run(struct tg_work *w, const char *key);

#endif
