/* lifecycle.h -- where one Pipeline Hook stands in its pipeline's life.
 *
 * GitLab sends a Pipeline Hook on every status change of a pipeline, again after a job retry
 * or a manual job, out of order, and again when Tollgate's own commit status (an external
 * job of that pipeline) makes GitLab recompute the pipeline's status. This module says which
 * events Tollgate decides on and gives each one a fingerprint, so that deploy.c can tell a
 * new event from an echo and an older event from a newer one, and it lets a parent's decision
 * wait for its child pipelines (below). Worker threads.
 */
#ifndef TG_LIFECYCLE_H
#define TG_LIFECYCLE_H

#include "base/crypto.h"
#include "decide/gitlab.h"
#include "decide/policy.h"
#include "deliver/queue.h"
#include "deliver/workctx.h"

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

/* ---- waiting for child pipelines (issue 10, "child pipelines carry their parent's scans") ----
 * Without strategy: depend a parent pipeline reports success while its children still run.
 * When its decision names jobs of child pipelines and one of those children is not terminal
 * yet (tg_decision.children_pending), the decision is not recorded: the parent's queue entry
 * is parked, and each terminal hook of a child re-queues it, so the parent is decided again
 * with the children's state then. deploy.c's script keeps a decision that was made or acted
 * on meanwhile, so a re-opened parent never decides twice.
 *
 * Redis (owned here):
 *   <prefix>waiting:<project id>:<pipeline id>   hash of the parent pipeline:
 *     gen      terminal child hooks seen so far (a decision that listed the children before
 *              a child ended must not park: it is re-queued at once instead)
 *     the fields of enum tg_queue_field (tg_queue_field_names), while the decision waits: the
 *              parked entry as the queue held it
 *   PEXPIREs TG_LIFECYCLE_WAIT_MS after the last park or child hook: a child that never
 *   finishes (or whose hooks never reach Tollgate) leaves the parent undecided, without a
 *   deployment or commit status, and the parked copy then goes.
 */
#define TG_LIFECYCLE_WAIT_MS (7ULL * 24 * 3600 * 1000)

/* The children generation of pipeline (project_id, pipeline_id): read it before the children
 * are listed. 0 when none or on a Redis failure (a later park then re-queues at once). */
long long tg_lifecycle_children_gen(struct tg_work *w, long long project_id, long long pipeline_id);

/* The parent's side. entry is the parent's queue entry, ev its event, gen what
 * tg_lifecycle_children_gen said before the children were listed. */
struct tg_lifecycle_parent {
    const struct tg_queue_entry *entry;
    const struct tg_event *ev;
    long long gen;
    int requeued; /* out: re-queued at once rather than parked */
};

/* 0 when decision d waits for no child (record it), 1 when it waits: the entry is parked (or,
 * when a child ended since gen, re-queued at once) and p->requeued says which; -1 when Redis
 * failed (the event is retried), with the reason in why. */
int tg_lifecycle_children_pending(struct tg_work *w, struct tg_lifecycle_parent *p,
                                  const struct tg_decision *d, char *why, size_t whylen);

/* After the parent's decision was recorded: the parked copy, if any, goes (gen stays). */
void tg_lifecycle_children_settled(struct tg_work *w, const struct tg_event *ev);

/* A child's side: ev is a terminal Pipeline Hook with a source_pipeline (a child or
 * multi-project downstream pipeline). Counts it in the parent's gen and re-queues the parked
 * parent, under the idempotency key reopen:<parent project>:<parent pipeline>:<child
 * project>:<child pipeline>:<status>:<first 16 hex digits of the child's builds fingerprint>,
 * so a redelivered child hook re-opens once and a child that ends again after a job retry
 * re-opens again. (A parent re-queued at once by tg_lifecycle_children_pending gets
 * reopen:<project>:<pipeline>:g<gen>:<its stream entry id>.) 1 re-queued,
 * 0 nothing parked (or a duplicate), -1 Redis failed (reason in why). */
int tg_lifecycle_child_ended(struct tg_work *w, const struct tg_event *ev, char *why,
                             size_t whylen);

#endif
