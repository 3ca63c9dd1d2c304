/* forward.h -- a decision's counted reports to DefectDojo: jobs into the outbox when the
 * decision is recorded, and one attempt of one job (download again, upload, record).
 *
 * Worker threads call tg_forward_decision (it only writes Redis: the decision never waits
 * for DefectDojo); forwarder threads and the CLI call tg_forward_attempt.
 */
#ifndef TG_FORWARD_H
#define TG_FORWARD_H

#include "decide/gitlab.h"
#include "decide/policy.h"
#include "deliver/workctx.h"
#include "forward/outbox.h"

/* Enqueues one forward job per counted report of d (status ok) when DefectDojo is configured
 * and d's verdict is one it forwards; deploy_key is the deployment record the results go to
 * (NULL: none). Once per (pipeline, job, artifact) and artifact bytes; force enqueues again
 * (backfill). Returns how many were enqueued, or -1 on a Redis failure (the caller retries
 * the whole event, which enqueues nothing twice). */
int tg_forward_decision(struct tg_work *w, const struct tg_event *ev, const struct tg_decision *d,
                        const char *deploy_key, int force);

/* One attempt of a claimed job by owner w->owner: downloads the artifact from GitLab into an
 * unlinked temporary file, checks it is the counted one, uploads it (defectdojo.h) and ends
 * the attempt: done (forwarded), final refusal or unsendable (forward_failed), a retry with
 * backoff and full jitter, or the dead-letter list after the last try (forward_failed). The
 * audit record follows the outbox change. Returns 0, or -1 when Redis failed (the lease
 * expires and another attempt follows). */
int tg_forward_attempt(struct tg_work *w, struct tg_fwd_claim *cl);

#endif
