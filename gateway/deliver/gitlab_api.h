/* gitlab_api.h -- the calls Tollgate makes to GitLab's REST API, through libcurl.
 *
 * Job artifacts (streamed, PRIVATE-TOKEN), a pipeline's bridges and downstream jobs, the pipeline
 * trigger (the trigger token travels in the form body), and commit statuses. Requests are built
 * from scratch: no inbound header is ever forwarded (GitLab refuses triggers that carry
 * X-Gitlab-Event, and a webhook's token has no business downstream). Redirects are followed by hand
 * so that the PRIVATE-TOKEN never goes to another host. One client per thread; blocking calls.
 */
#ifndef TG_GITLAB_API_H
#define TG_GITLAB_API_H

#include "decide/policy.h"
#include "deliver/template.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct tg_gitlab_api;

/* base_url is the instance ("https://gitlab.example.com"); api_token may be NULL (then
 * artifacts and statuses fail with 401 from GitLab). Strings are copied. */
struct tg_gitlab_api *tg_gitlab_api_new(const char *base_url, const char *api_token,
                                        size_t tokenlen, uint64_t timeout_ms, const char *ca_file);
void tg_gitlab_api_free(struct tg_gitlab_api *api);

/* The trigger call's own cut-off (trigger.timeout); other calls keep the client's. */
void tg_gitlab_api_set_trigger_timeout(struct tg_gitlab_api *api, uint64_t timeout_ms);
/* A flag (borrowed, may be NULL) that stops every transfer of this client once nonzero: a
 * stopping process's thread does not wait for a hanging GitLab. */
void tg_gitlab_api_set_abort(struct tg_gitlab_api *api, const atomic_int *abort);

/* The outcome of one HTTP exchange. */
struct tg_gitlab_result {
    long status;             /* HTTP status, 0 when no answer (network error, timeout) */
    int sent;                /* 0: the request certainly never reached the server (no address,
                               connection refused, TLS failed, timeout before the transfer) */
    char error[256];         /* network error, or GitLab's {"message"} for 4xx/5xx */
    uint64_t retry_after_ms; /* from a Retry-After header, 0 when absent */
    long long pipeline_id;   /* trigger: the created pipeline's id */
    char web_url[512];       /* trigger: the created pipeline's web_url */
};

/* 1 when the result is worth another try later: no answer, 429 or 5xx. */
int tg_gitlab_result_retryable(const struct tg_gitlab_result *r);

/* What a trigger call's result proves. */
enum tg_gitlab_outcome {
    TG_GITLAB_CREATED,     /* 201: GitLab created the pipeline */
    TG_GITLAB_NOT_CREATED, /* certain: never sent, or GitLab answered 3xx/4xx */
    TG_GITLAB_UNKNOWN,     /* timeout or reset after the request left, any 5xx (GitLab may have
                              committed the pipeline before failing; a proxy's 502/504 too) */
};
enum tg_gitlab_outcome tg_gitlab_trigger_outcome(const struct tg_gitlab_result *r);

/* A job artifact to fetch and where its bytes go. */
struct tg_gitlab_artifact {
    long long project_id;
    long long job_id;
    const char *path; /* inside the job's artifacts archive */
    tg_report_sink_fn sink;
    void *sink_arg;
    long *status; /* optional: the answer's HTTP status, 0 when none came */
};

/* GET /projects/:id/jobs/:job_id/artifacts/:path, streamed into a->sink (a policy counter). Returns
 * OK, NOT_FOUND (404, or no such job), ERROR (anything else; err says). */
enum tg_fetch_result tg_gitlab_fetch_artifact(struct tg_gitlab_api *api,
                                              const struct tg_gitlab_artifact *a, char *err,
                                              size_t errlen);

/* A pipeline, by project and id. */
struct tg_gitlab_pipeline {
    long long project_id;
    long long pipeline_id;
};

/* The downstream pipelines of a pipeline and their jobs, for policies that name jobs of child
 * pipelines: GET /projects/:id/pipelines/:pipeline_id/bridges (each bridge job with its
 * downstream_pipeline {id, project_id, status}, null until created), then for each downstream
 * pipeline GET /projects/:project_id/pipelines/:id/jobs (latest run of each job, GitLab's
 * default without include_retried). Both lists are paginated (per_page=100; a short page is
 * the last). Fills out (empty on entry; tg_children_dispose); returns 0, or -1 with the reason
 * in err (no answer, any non-200, an answer of another shape). */
int tg_gitlab_children(struct tg_gitlab_api *api, const struct tg_gitlab_pipeline *of,
                       struct tg_children *out, char *err, size_t errlen);

/* One page of a list answer, and the pipeline it lists for. */
struct tg_gitlab_page {
    const char *body;
    size_t len;
    struct tg_gitlab_pipeline of;
};

/* One page of those answers parsed and appended to out (shapes of doc/api/jobs.md): a list of
 * bridge jobs {name, downstream_pipeline: {id, status, project_id?} | null} (a missing
 * project_id is of.project_id), or of jobs {id, name, status} of the pipeline of.
 * Returns the number of items, or -1 with err (not JSON, not a list, an item of another
 * shape; out keeps what earlier pages added). */
int tg_gitlab_parse_bridges(const struct tg_gitlab_page *page, struct tg_children *out, char *err,
                            size_t errlen);
int tg_gitlab_parse_jobs(const struct tg_gitlab_page *page, struct tg_children *out, char *err,
                         size_t errlen);

/* POST /projects/:id/trigger/pipeline with token, ref and variables[...]. Fills res; returns
 * 0 when GitLab created the pipeline (201), -1 otherwise. */
int tg_gitlab_trigger(struct tg_gitlab_api *api, const struct tg_trigger_request *req,
                      struct tg_gitlab_result *res);

/* POST /projects/:id/pipelines/:pipeline_id/cancel with the api_token (doc/api/pipelines.md,
 * "Cancel a pipeline's jobs"; Developer). project is the path or id as given to the trigger.
 * Returns 0 on 2xx, else -1 with res filled. */
int tg_gitlab_cancel_pipeline(struct tg_gitlab_api *api, const char *project, long long pipeline_id,
                              struct tg_gitlab_result *res);

/* Reconciliation: is there a trigger pipeline carrying the marker? */
struct tg_gitlab_marker_progress {
    long long scanned_id; /* in/out: every pipeline up to this id was read and is not ours */
    int cut_short;        /* out: the deadline ended the scan */
};

struct tg_gitlab_marker_query {
    const char *project;        /* the chart project (path or id) */
    const char *ref;            /* the ref it was triggered on */
    uint64_t updated_after_ms;  /* wall clock, GitLab's updated_after: the first send - settle */
    uint64_t created_before_ms; /* wall clock: pipelines created later are not ours; 0: no bound */
    const char *name;           /* the marker variable */
    const char *prefix;         /* a value starting with this matches */
    uint64_t deadline_mono_ms;  /* give up (an error) past this tg_mono_ms() */
    struct tg_gitlab_marker_progress *progress; /* NULL: none kept */
};

/* GET /projects/:id/pipelines?source=trigger&ref=..&updated_after=..&sort=asc (oldest first,
 * 100 a page, pages followed by X-Next-Page, by page size only without it, at most 10), then
 * GET /projects/:id/pipelines/:pipeline_id/variables of each (ids above progress->scanned_id,
 * created before created_before_ms) until one carries the marker (its value goes to found).
 * A 404 on one pipeline's variables (deleted meanwhile) is skipped; a 403 (another token's
 * pipeline) is skipped and remembered. Returns 1 found (res->pipeline_id, web_url), 0 proven
 * absent, -1 when not settled (res->status: 403 when every listed pipeline answered 403, the
 * missing Maintainer right; 0 with res->error otherwise, naming the unreadable pipelines). */
int tg_gitlab_find_marker(struct tg_gitlab_api *api, const struct tg_gitlab_marker_query *q,
                          struct tg_gitlab_result *res, char *found, size_t foundlen);

/* The marker variable Tollgate sets on a trigger: its name and the start of its value. */
struct tg_gitlab_marker {
    const char *name;
    const char *prefix;
};

/* The marker in one "Get variables of a pipeline" answer ([{"variable_type","key","value"}]):
 * 1 when it holds m->name with a value starting with m->prefix (copied to found), 0 when not,
 * -1 when body is not a JSON array. */
int tg_gitlab_variables_marker(const char *body, size_t len, const struct tg_gitlab_marker *m,
                               char *found, size_t foundlen);

/* POST /projects/:id/statuses/:sha. description is cut to 255 bytes at a character boundary;
 * target_url may be NULL. Returns 0 on 2xx, -1 otherwise (res says why). */
struct tg_commit_status {
    long long project_id;
    const char *sha;
    const char *ref;
    long long pipeline_id;
    const char *state; /* pending, running, success, failed, canceled, skipped */
    const char *name;
    const char *description;
    const char *target_url;
};
int tg_gitlab_commit_status(struct tg_gitlab_api *api, const struct tg_commit_status *st,
                            struct tg_gitlab_result *res);

#endif
