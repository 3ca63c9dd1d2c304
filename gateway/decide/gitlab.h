/* gitlab.h -- GitLab webhook events, parsed from JSON into one normalised struct.
 *
 * Pipeline, Job, Deployment, Merge Request, Push and Tag Push hooks (payloads as documented
 * in GitLab's webhook_events.md) become a struct tg_event whose common fields (project,
 * ref, sha, user, pipeline) are filled whatever the kind, so the policy and the templates
 * read one shape. Parsing happens on worker threads, never on the ingest path. Like all of
 * decide/, it depends on base/ only (scripts/style.sh checks it).
 */
#ifndef TG_GITLAB_H
#define TG_GITLAB_H

#include "base/buf.h"

#include <stddef.h>

enum tg_event_kind {
    TG_EVENT_PIPELINE,
    TG_EVENT_JOB,
    TG_EVENT_DEPLOYMENT,
    TG_EVENT_MERGE_REQUEST,
    TG_EVENT_PUSH,
    TG_EVENT_TAG_PUSH,
    TG_EVENT_OTHER,
};

/* One entry of a Pipeline Hook's builds[]. */
struct tg_build {
    long long id;
    char *name;
    char *stage;
    char *status;      /* success, failed, manual, skipped, ... */
    int allow_failure; /* a failure does not fail the pipeline */
};

/* One entry of object_attributes.variables: the pipeline's variables as GitLab lists them. */
struct tg_variable {
    char *key;
    char *value;
};

/* Every string is a heap copy owned by the event (never NULL: "" when the payload lacks it);
 * numbers are 0 when absent. */
struct tg_event {
    enum tg_event_kind kind;
    long long project_id;
    char *project_path;      /* path_with_namespace, e.g. "shop/cart" */
    char *project_name;      /* display name, e.g. "Cart Service" (may hold spaces) */
    char *project_namespace; /* path of the group: project_path up to its last '/', e.g.
                                "shop" (the payload's "namespace" is a display name) */
    char *project_slug;      /* project_path after its last '/', e.g. "cart" */
    char *project_url;       /* web_url */
    long long pipeline_id;   /* Job: pipeline_id; Deployment: 0 */
    long long pipeline_iid;
    char *pipeline_status; /* Pipeline: object_attributes.status; Job: build_status; ... */
    char *pipeline_source; /* push, merge_request_event, web, trigger, ... */
    char *pipeline_url;    /* object_attributes.url, else <project_url>/-/pipelines/<id> */
    char *ref;             /* branch or tag name as GitLab sent it (see normalise_ref in
                                gitlab.c): a branch loses a leading "refs/heads/" only; a tag
                                is exactly object_attributes.tag (tag_push: the hook kind), a
                                branch called "refs/tags/x" stays a branch; a merge-request
                                pipeline's ref is its source branch */
    int tag;               /* 1 when ref is a tag */
    char *sha;
    char *commit_message;
    char *commit_url;
    char *commit_author; /* name */
    long long user_id;   /* user.id (user_id in push hooks): GitLab's user id, which unlike the
                          username never changes; 0 when absent */
    char *user_username;
    char *user_name;
    char *user_email;
    int merge_request; /* a merge-request pipeline: merge_request is not null, or
                                source is merge_request_event */
    long long mr_iid;
    char *mr_source_branch; /* merge_request.source_branch ("" when absent) */
    long long mr_source_project_id, mr_target_project_id;
    int mr_fork;                   /* a merge-request pipeline whose source project is not known to
                                be its target project (ids differ, or either is absent) */
    long long parent_project_id;   /* source_pipeline.project.id: the upstream of a child or
                                     multi-project downstream pipeline; 0 otherwise */
    long long parent_pipeline_id;  /* source_pipeline.pipeline_id */
    long long parent_job_id;       /* source_pipeline.job_id: the bridge job */
    struct tg_variable *variables; /* Pipeline: object_attributes.variables */
    size_t nvariables;
    long long job_id;        /* Job: build_id */
    int job_allow_failure;   /* Job: build_allow_failure */
    struct tg_build *builds; /* Pipeline only */
    size_t nbuilds;
};

/* A webhook as it arrived: its X-Gitlab-Event header (NULL: then object_kind decides) and
 * its body. */
struct tg_hook {
    const char *event_header;
    const char *body;
    size_t len;
};

/* Parses a webhook. Returns 0, or -1 with the reason in err (invalid JSON, not an object, a
 * field of the wrong type); out is then empty. Release with tg_event_dispose. */
int tg_event_parse(const struct tg_hook *hook, struct tg_event *out, char *err, size_t errlen);
void tg_event_dispose(struct tg_event *e);

const char *tg_event_kind_name(enum tg_event_kind k); /* "pipeline", "job", ... */

/* 1 for the pipeline statuses after which nothing more happens: success, failed, canceled,
 * skipped. */
int tg_pipeline_status_is_final(const char *status);

/* The value of the pipeline variable key (object_attributes.variables), or NULL. Borrowed. */
const char *tg_event_variable(const struct tg_event *e, const char *key);

/* The latest build (highest id) called name, or NULL. Borrowed from e. */
const struct tg_build *tg_event_find_build(const struct tg_event *e, const char *name);

/* Template variables: "project.id", "project.name", "project.namespace", "project.path",
 * "project.slug", "project.url", "pipeline.id", "pipeline.iid", "pipeline.ref", "pipeline.sha",
 * "pipeline.status", "pipeline.source", "pipeline.url", "pipeline.tag", "commit.sha",
 * "commit.message", "commit.url", "commit.author", "user.username", "user.name",
 * "user.email". tg_event_var_known says whether a name is one of them (for load-time
 * checks); tg_event_var writes its value into out (numbers in decimal, tag as true/false)
 * and returns 0, or -1 for an unknown name. */
int tg_event_var_known(const char *name);
int tg_event_var(const struct tg_event *e, const char *name, char *out, size_t outlen);
/* Like tg_event_var but appends the whole value to out (tg_event_var cuts it to outlen - 1
 * bytes, which a long commit message may exceed). */
int tg_event_var_append(const struct tg_event *e, const char *name, struct tg_buf *out);

#endif
