/* policy.h -- policies/NAME.yaml loaded into a policy set, and the decision for one pipeline.
 *
 * A decision picks the environment (first branch/tag glob that matches, files in name order),
 * checks that the pipeline is a deploy candidate there (source, fork), checks required jobs
 * (of the pipeline, or of its child pipelines), counts each report with the reports module,
 * subtracts unexpired accepted risks, and compares with the severity thresholds. It runs in
 * two pure phases with the caller's I/O between them (plan, fetch and count, judge; see
 * below and docs/ARCHITECTURE.md, "Decisions"). decide/ depends on base/ only
 * (scripts/style.sh checks it): no I/O module is reachable from here.
 */
#ifndef TG_POLICY_H
#define TG_POLICY_H

#include "base/diag.h"
#include "decide/gitlab.h"
#include "decide/reports.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum tg_verdict { TG_VERDICT_SKIP, TG_VERDICT_BLOCK, TG_VERDICT_NEEDS_APPROVAL, TG_VERDICT_DEPLOY };
const char *tg_verdict_name(enum tg_verdict v); /* "skip", "block", "needs_approval", "deploy" */

struct tg_policy_set;

/* Loads every *.yaml in dir (sorted by name). Returns NULL with every fault in diag as
 * file:line:col. An empty directory is an error (nothing could ever deploy). */
struct tg_policy_set *tg_policy_load_dir(const char *dir, struct tg_diag *diag);
/* Loads one document from memory (name is used in messages); for tests and fuzzing. */
struct tg_policy_set *tg_policy_load_mem(const char *name, const char *data, size_t len,
                                         struct tg_diag *diag);
void tg_policy_set_free(struct tg_policy_set *ps);
/* Hex SHA-256 over the loaded files' names and bytes: which policy a decision was made under.
 * For each file in load order: its base name, NUL, its length in decimal, NUL, its bytes.
 * Borrowed; valid while ps is. */
const char *tg_policy_set_hash(const struct tg_policy_set *ps);

/* The approval rule of an environment (used when the verdict is needs_approval). */
struct tg_approval_rule {
    int required;              /* distinct identities needed (default 1) */
    char **approvers;          /* NULL-terminated; borrowed from the policy set */
    int prevent_self_approval; /* default 1 */
    uint64_t expire_ms;        /* default 24 h */
};

enum tg_fetch_result { TG_FETCH_OK = 0, TG_FETCH_NOT_FOUND = 1, TG_FETCH_ERROR = -1 };

/* Where a fetcher streams a report's bytes, chunk by chunk: returns 0 to go on, -1 to stop
 * (the bytes are not a readable report). tg_policy_counter_sink is one. */
typedef int (*tg_report_sink_fn)(void *sink_arg, const void *chunk, size_t n);

/* The downstream pipelines of the decided pipeline (its bridge jobs' downstream_pipeline)
 * and their jobs, as GitLab's API lists them: for require_jobs and reports entries with
 * pipeline: child. */
struct tg_child_pipeline {
    char *bridge;         /* the bridge (trigger) job's name */
    long long project_id; /* downstream_pipeline.project_id (the parent's when absent) */
    long long id;         /* 0: the bridge has not created its pipeline yet */
    char *status;         /* downstream_pipeline.status; "created" when id is 0 */
};

struct tg_child_job {
    long long project_id, pipeline_id;
    long long id;
    char *name;
    char *status;
};

struct tg_children {
    struct tg_child_pipeline *pipelines;
    size_t npipelines;
    struct tg_child_job *jobs; /* the latest run of each job of each pipeline */
    size_t njobs;
};
void tg_children_dispose(struct tg_children *c);

struct tg_decision {
    enum tg_verdict verdict;
    char *environment;             /* NULL when no environment matched */
    char *rule;                    /* what decided: "branch", "source", "fork", "pipeline_status",
                              "merge_request", "require_jobs", "on_missing_report",
                              "report_unreadable", "scan_failed",
                              "severity.block", "severity.approve", "policy" (all passed) */
    char **reasons;                /* NULL-terminated human-readable lines, main reason first */
    uint64_t counts[TG_SEV_COUNT]; /* all reports, after accepted risks */
    struct tg_approval_rule approvals; /* meaningful for needs_approval */
    char *policy_hash;                 /* tg_policy_set_hash at decision time */
    int ineligible;       /* rule source or fork: the pipeline is no deploy candidate; the
                              caller records the decision only (no deployment record, no
                              commit status) */
    int children_pending; /* a named child job was not found or not finished while a child
                              pipeline is not terminal yet: the decision may change when the
                              children finish */
    json_t *json;         /* the whole decision as documented in README ("decision JSON") */
};

/* ---- the decision, in two phases ----
 *
 * 1. tg_policy_plan says which reports the decision needs for this event (none when it is
 *    settled before the reports step) and whether it needs the child pipelines first.
 * 2. The caller fetches each planned report (GitLab's API in the worker, local files in
 *    `tollgate eval`) and streams its bytes into a counter (tg_policy_counter_*): the reports
 *    module counts it, and the findings named by in-scope accepted risks are tallied.
 * 3. tg_policy_judge decides from the event, the children, those counts and the clock.
 * Both plan and judge are pure: no I/O, no callbacks, no state between calls. */

/* What the decision is about. */
struct tg_policy_input {
    const struct tg_policy_set *ps;
    const struct tg_event *ev;          /* a Pipeline Hook event (any status) */
    const struct tg_children *children; /* NULL: not listed (yet) */
    int offline;     /* children are never listed (tollgate eval): a required child job is
                        missing, a child report is planned with job_id 0 */
    uint64_t now_ms; /* decides which accepted risks expired (judge only) */
};

/* One planned report after fetching and counting. */
enum tg_count_status {
    TG_COUNT_NOT_FETCHED, /* not located (the plan said so): missing */
    TG_COUNT_NOT_FOUND,   /* the fetcher said TG_FETCH_NOT_FOUND: missing */
    TG_COUNT_UNREADABLE,  /* not a readable report: why holds the parser's message */
    TG_COUNT_OK,
};

struct tg_report_count {
    enum tg_count_status status;
    char *why;                       /* unreadable: the parser's message */
    struct tg_report_summary sum;    /* ok: the report's counts and top findings */
    uint64_t (*tally)[TG_SEV_COUNT]; /* ok: per plan id, its findings by severity */
    uint64_t bytes;                  /* what the fetcher streamed, whatever the status */
    char sha256[65];                 /* hex SHA-256 of those bytes: the forwarder sends exactly
                                        these bytes again (forward/) */
};
void tg_report_count_dispose(struct tg_report_count *c);

/* One report the decision needs. The strings are borrowed from the policy set. */
struct tg_policy_report {
    const char *job;              /* job name in builds[] (or in a child pipeline) */
    const char *artifact;         /* path inside the job's artifacts */
    enum tg_report_format format; /* TG_REPORT_AUTO when the policy names none */
    int child;                    /* a job of a child pipeline */
    int located;          /* 1: fetch it; 0: the job is missing (do not fetch; judge says why) */
    long long project_id; /* the job's project: 0 for the event's own, a child pipeline's */
    long long job_id;     /* the latest build of that name; 0 for a child report offline */
    struct tg_report_count count; /* what fetching and counting found (tg_policy_counter_end);
                                     TG_COUNT_NOT_FETCHED until then */
};

struct tg_policy_plan {
    int want_children; /* list the event's child pipelines and plan again with them */
    struct tg_policy_report *reports; /* in the environment's order; fetch the located ones */
    size_t nreports;
    const char **ids; /* distinct accepted-risk ids in scope: the counters tally them */
    size_t nids;
};

/* Fills out (release with tg_policy_plan_dispose, which releases the counts too). Never
 * fails. */
void tg_policy_plan(const struct tg_policy_input *in, struct tg_policy_plan *out);
void tg_policy_plan_dispose(struct tg_policy_plan *p);

/* Counts one located planned report (plan->reports[i]) as its bytes arrive, into its count.
 * format is what the bytes are counted as: the planned one, or one the fetcher knows better
 * (tollgate eval's --report FORMAT:FILE). Never fails. */
struct tg_policy_counter;
struct tg_policy_counter *tg_policy_counter_new(struct tg_policy_plan *plan, size_t i,
                                                enum tg_report_format format);
/* A tg_report_sink_fn over a counter. After -1 the fetcher should stop; what it then returns
 * does not matter: the report is unreadable (a malformed artifact blocks, it is not retried
 * forever). */
int tg_policy_counter_sink(void *counter, const void *chunk, size_t n);
/* Ends counting with the fetcher's answer and frees c. TG_FETCH_NOT_FOUND means the artifact
 * does not exist (on_missing_report applies; the sink must not have been called: an error
 * page is not a report). Returns 0 with the report's count filled, or -1 when the fetcher said
 * TG_FETCH_ERROR before the sink stopped (it could not tell: network, 5xx): err becomes
 * "report JOB/ARTIFACT: " + err, the decision cannot be made and the caller retries later,
 * so a flaky GitLab never blocks a deploy. */
int tg_policy_counter_end(struct tg_policy_counter *c, enum tg_fetch_result r, char *err,
                          size_t errlen);

/* Decides from the plan's counts (plan made from the same input, with the children when it
 * wanted them). Returns 0 with out filled (release with tg_decision_dispose), or -1 when the
 * plan and input do not fit (reason in err; out empty): a decision never rests on reports
 * it has not seen. */
int tg_policy_judge(const struct tg_policy_input *in, const struct tg_policy_plan *plan,
                    struct tg_decision *out, char *err, size_t errlen);

/* 1 when the pipeline must never be decided, with the reason in why: it carries the
 * TOLLGATE_DEPLOYMENT variable (Tollgate triggered it), or its project matches an
 * ignore_projects glob. 0 otherwise. */
int tg_policy_ignored(const struct tg_policy_set *ps, const struct tg_event *ev, char *why,
                      size_t whylen);

/* The pipeline sources that may deploy when an environment has no sources key. */
extern const char *const tg_policy_default_sources[];
void tg_decision_dispose(struct tg_decision *d);

#endif
