/* policy.h -- policies/NAME.yaml loaded into a policy set, and the decision for one pipeline.
 *
 * A decision is pure: given the event, the reports (through a fetch callback) and the time,
 * it picks the environment (first branch/tag glob that matches, files in name order), checks
 * that the pipeline is a deploy candidate there (source, fork), checks required jobs (of the
 * pipeline, or of its child pipelines through a children callback), counts each report with
 * the reports module, subtracts unexpired accepted risks, and compares with the severity
 * thresholds. It never does I/O itself: the caller's callbacks do (GitLab's API in the
 * worker, local files in `tollgate eval`).
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

/* Where a report comes from, for the fetch callback. */
struct tg_report_ref {
    long long project_id; /* the job's project: 0 for the event's own project; a child
                                  pipeline's project for a child job */
    const char *job;      /* job name in builds[] (or in a child pipeline) */
    long long job_id;     /* the latest build of that name (the callback is only called
                                  when there is one: no build means the report is missing;
                                  0 only for a child job when no children callback was given,
                                  i.e. offline in tollgate eval: the fetcher may answer from
                                  local files or say NOT_FOUND) */
    const char *artifact; /* path inside the job's artifacts */
    enum tg_report_format format;
    /* Writable, never NULL: the format the bytes are counted as, initially format. A fetcher
     * that knows better (tollgate eval's --report FORMAT:FILE) sets it before its first
     * sink call. */
    enum tg_report_format *force_format;
};

enum tg_fetch_result { TG_FETCH_OK = 0, TG_FETCH_NOT_FOUND = 1, TG_FETCH_ERROR = -1 };

/* Streams one report into sink, chunk by chunk (sink returns 0 to go on, -1 to stop).
 * TG_FETCH_NOT_FOUND: the artifact does not exist (on_missing_report applies); the sink
 * must not have been called (an error page is not a report).
 * TG_FETCH_ERROR: could not tell (network, 5xx) with the reason in err: the whole
 * decision fails and the caller retries later, so a flaky GitLab never blocks a deploy.
 * Once the sink has returned -1 (the bytes are not a readable report) the fetcher should
 * stop and may return anything: the report is "unreadable" whatever it returns, so a
 * malformed artifact blocks instead of being retried forever. */
typedef int (*tg_report_sink_fn)(void *sink_arg, const void *chunk, size_t n);
typedef enum tg_fetch_result (*tg_report_fetch_fn)(void *arg, const struct tg_report_ref *ref,
                                                   tg_report_sink_fn sink, void *sink_arg,
                                                   char *err, size_t errlen);

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

/* Lists the children of the event's pipeline into out (empty on entry). Returns 0, or -1
 * with the reason in err when GitLab could not tell (the decision then fails like a
 * TG_FETCH_ERROR and is retried). */
typedef int (*tg_children_fn)(void *arg, const struct tg_event *ev, struct tg_children *out,
                              char *err, size_t errlen);

/* What the decision may ask the outside world. children may be NULL (offline: a child job
 * counts as missing, a child report is fetched with job_id 0). */
struct tg_decide_io {
    tg_report_fetch_fn fetch;
    void *fetch_arg;
    tg_children_fn children;
    void *children_arg;
};

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

/* Decides for a Pipeline Hook event (any status; non-success statuses give skip).
 * Returns 0 with out filled (release with tg_decision_dispose), or -1 when a fetch said
 * TG_FETCH_ERROR (reason in err; out is empty). now_ms decides which exceptions expired. */
int tg_policy_decide(const struct tg_policy_set *ps, const struct tg_event *ev,
                     tg_report_fetch_fn fetch, void *fetch_arg, uint64_t now_ms,
                     struct tg_decision *out, char *err, size_t errlen);
/* The same with the children callback as well (io->children may be NULL). */
int tg_policy_decide_io(const struct tg_policy_set *ps, const struct tg_event *ev,
                        const struct tg_decide_io *io, uint64_t now_ms, struct tg_decision *out,
                        char *err, size_t errlen);

/* 1 when the pipeline must never be decided, with the reason in why: it carries the
 * TOLLGATE_DEPLOYMENT variable (Tollgate triggered it), or its project matches an
 * ignore_projects glob. 0 otherwise. */
int tg_policy_ignored(const struct tg_policy_set *ps, const struct tg_event *ev, char *why,
                      size_t whylen);

/* The pipeline sources that may deploy when an environment has no sources key. */
extern const char *const tg_policy_default_sources[];
void tg_decision_dispose(struct tg_decision *d);

#endif
