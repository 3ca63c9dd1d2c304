/* lifecycle.h -- where one Pipeline Hook stands in its pipeline's life.
 *
 * GitLab sends a Pipeline Hook on every status change of a pipeline, again after a job retry
 * or a manual job, out of order, and again when Tollgate's own commit status (an external
 * job of that pipeline) makes GitLab recompute the pipeline's status. This module says which
 * events Tollgate decides on and gives each one a fingerprint, so that deploy.c can tell a
 * new event from an echo and an older event from a newer one. Worker threads.
 */
#ifndef TG_LIFECYCLE_H
#define TG_LIFECYCLE_H

#include "crypto.h"
#include "gitlab.h"
#include "policy.h"
#include "workctx.h"

/* The statuses decided on: terminal ones (success, failed, canceled, skipped) always;
 * manual (a pipeline resting on a blocking manual job) only where the environment's policy
 * says manual_as_success. Anything else, and any status Tollgate does not know, is not. */
enum tg_lifecycle_kind {
    TG_LIFECYCLE_TERMINAL, /* decide */
    TG_LIFECYCLE_MANUAL,   /* decide; keep the decision only when the policy treats it as success */
    TG_LIFECYCLE_PASSING,  /* record the receipt, decide nothing */
};
enum tg_lifecycle_kind tg_lifecycle_kind(const char *status);

/* The status GitLab computes from builds[] alone (its composite rule; jobs that may fail
 * count as it counts them), Tollgate's own statuses left out; NULL without jobs. External
 * commit statuses and bridges are not in builds[]. */
const char *tg_lifecycle_jobs_status(const struct tg_event *ev);

/* The status a Pipeline Hook is decided at: the hook's, except that a running or pending
 * hook whose jobs are all finished and give failed or canceled is taken at that: what
 * keeps such a pipeline running is an unfinished external status, such as Tollgate's own
 * pending one while a deployment waits for approval (a failed job then must withdraw the
 * request, though GitLab will not report the pipeline failed). Only ever infers failed or
 * canceled, never success. Borrowed from ev or static. */
const char *tg_lifecycle_status(const struct tg_event *ev);

/* 1 for a commit status Tollgate posts itself (name tollgate/<environment>). */
int tg_lifecycle_own_status(const char *name);

/* The event's fingerprint: hex SHA-256 over "<job id>:<status>\n" of builds[] in job-id
 * order, Tollgate's own statuses left out (two hooks with equal fingerprints say the same
 * about the pipeline's jobs: the later one is an echo), and its rank: the highest job id
 * among them (a retried job gets a new, higher id, so a lower rank is an older event). */
struct tg_lifecycle_print {
    char builds[TG_SHA256_HEX_LEN + 1];
    long long rank;
};
void tg_lifecycle_fingerprint(const struct tg_event *ev, struct tg_lifecycle_print *out);

/* The seam to child pipelines (issue 10, "child pipelines carry their parent's scans"):
 * 1 when decision d names jobs of child pipelines of ev and one of those children is not
 * terminal yet (the parent's decision waits), 0 when none is pending, -1 when it cannot be
 * known now (GitLab trouble: the event is retried); the reason goes to why.
 * NOT IMPLEMENTED YET: policies cannot name jobs of child pipelines and gitlab_api.c has no
 * bridges lookup in this branch, so this answers 0. */
int tg_lifecycle_children_pending(struct tg_work *w, const struct tg_event *ev, const struct tg_decision *d,
                                  char *why, size_t whylen);

#endif
