/* test_gitlab.c -- the event model: GitLab's documented payloads, malformed ones, variables.
 *
 * Fixtures come from $TG_FIXTURES/gitlab/webhooks (tests/fixtures when unset). A row is a
 * case: add a payload or a fault by adding a row.
 */
#include "decide/gitlab.h"
#include "deliver/gitlab_api.h"
#include "unit_files.h"

static char *fixture(const char *name, size_t *len)
{
    char *rel = tg_xasprintf("gitlab/webhooks/%s", name), *data = unit_fixture(rel, len);
    free(rel);
    return data;
}

struct fixture_row {
    const char *file;
    const char *header;
    enum tg_event_kind kind;
    long long project_id;
    const char *project_path, *namespace, *slug;
    const char *ref;
    int tag;
    const char *sha;
    long long pipeline_id;
    const char *status;
    const char *pipeline_url;
    const char *username;
    const char *commit_message;
    int merge_request;
    size_t nbuilds;
};

static const struct fixture_row fixtures[] = {
    {"pipeline_event.json", "Pipeline Hook", TG_EVENT_PIPELINE, 1, "gitlab-org/gitlab-test",
     "gitlab-org", "gitlab-test", "test", 0, "bcbb5ec396a2c0f828686f14fac9b80b780504f2", 31,
     "success", "http://example.com/gitlab-org/gitlab-test/-/pipelines/31", "root", "test\n", 1, 5},
    /* object_kind decides without a header; a merge-request pipeline's ref is its source branch */
    {"pipeline_event.json", NULL, TG_EVENT_PIPELINE, 1, "gitlab-org/gitlab-test", "gitlab-org",
     "gitlab-test", "test", 0, "bcbb5ec396a2c0f828686f14fac9b80b780504f2", 31, "success",
     "http://example.com/gitlab-org/gitlab-test/-/pipelines/31", "root", "test\n", 1, 5},
    /* Job: commit.id is the pipeline id; no username in its user object */
    {"job_event.json", "Job Hook", TG_EVENT_JOB, 380, "gitlab-org/gitlab-test", "gitlab-org",
     "gitlab-test", "gitlab-script-trigger", 0, "2293ada6b400935a1378653304eaf6221e0fdb8f", 2366,
     "created", "http://192.168.64.1:3005/gitlab-org/gitlab-test/-/pipelines/2366", "", "test\n", 0,
     0},
    /* Deployment: only the short sha, no ref, no pipeline */
    {"deployment_event.json", NULL, TG_EVENT_DEPLOYMENT, 30, "root/test-deployment-webhooks",
     "root", "test-deployment-webhooks", "", 0, "279484c0", 0, "success", "", "root",
     "Add new file", 0, 0},
    {"merge_request_event.json", NULL, TG_EVENT_MERGE_REQUEST, 1, "gitlabhq/gitlab-test",
     "gitlabhq", "gitlab-test", "ms-viewport", 0, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", 0, "",
     "", "root", "fixed readme", 1, 0},
    /* Push: refs/heads/ stripped, commit details from commits[] */
    {"push_event.json", "Push Hook", TG_EVENT_PUSH, 15, "mike/diaspora", "mike", "diaspora",
     "master", 0, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", 0, "", "", "jsmith", "fixed readme",
     0, 0},
    {"tag_push_event.json", NULL, TG_EVENT_TAG_PUSH, 1, "jsmith/example", "jsmith", "example",
     "v1.0.0", 1, "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7", 0, "", "", "", "", 0, 0},
    /* The header wins over object_kind */
    {"push_event.json", "Tag Push Hook", TG_EVENT_TAG_PUSH, 15, "mike/diaspora", "mike", "diaspora",
     "refs/heads/master", 1, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", 0, "", "", "jsmith",
     "fixed readme", 0, 0},
};

/* user.id (user_id in push hooks): the id separation of duties compares, from each fixture. */
static void check_user_ids(void)
{
    static const struct {
        const char *file;
        long long id;
    } rows[] = {{"pipeline_event.json", 1},
                {"job_event.json", 3},
                {"push_event.json", 4},
                {"tag_push_event.json", 1},
                {"deployment_event.json", 1}};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        size_t len;
        char err[256] = "", *body = fixture(rows[i].file, &len);
        struct tg_event e;
        int rc =
            body ? tg_event_parse(&(struct tg_hook){NULL, body, len}, &e, err, sizeof err) : -1;
        UNIT_CHECK(rows[i].file, rc == 0 && e.user_id == rows[i].id);
        if (rc == 0)
            tg_event_dispose(&e);
        free(body);
    }
}

static void check_fixture(const struct fixture_row *r)
{
    size_t len;
    char err[256] = "", *body = fixture(r->file, &len);
    struct tg_event e;
    UNIT_CHECK(r->file, body != NULL);
    if (body == NULL)
        return;
    int rc = tg_event_parse(&(struct tg_hook){r->header, body, len}, &e, err, sizeof err);
    free(body);
    UNIT_CHECK(r->file, rc == 0);
    if (rc) {
        fprintf(stderr, "  %s: %s\n", r->file, err);
        return;
    }
    UNIT_CHECK(r->file, e.kind == r->kind);
    UNIT_CHECK(r->file, e.project_id == r->project_id);
    UNIT_STREQ(r->file, e.project_path, r->project_path);
    UNIT_STREQ(r->file, e.project_namespace, r->namespace);
    UNIT_STREQ(r->file, e.project_slug, r->slug);
    UNIT_STREQ(r->file, e.ref, r->ref);
    UNIT_CHECK(r->file, e.tag == r->tag);
    UNIT_STREQ(r->file, e.sha, r->sha);
    UNIT_CHECK(r->file, e.pipeline_id == r->pipeline_id);
    UNIT_STREQ(r->file, e.pipeline_status, r->status);
    UNIT_STREQ(r->file, e.pipeline_url, r->pipeline_url);
    UNIT_STREQ(r->file, e.user_username, r->username);
    UNIT_STREQ(r->file, e.commit_message, r->commit_message);
    UNIT_CHECK(r->file, e.merge_request == r->merge_request);
    UNIT_CHECK(r->file, e.nbuilds == r->nbuilds);
    tg_event_dispose(&e);
}

/* The pipeline fixture in detail: builds, latest build by name, variables. */
/* What the lifecycle reads: allow_failure of each build, build_id and build_allow_failure of
 * a Job Hook (GitLab's documented examples). */
static void check_failure_fields(void)
{
    size_t len;
    char err[256], *body = fixture("job_event.json", &len);
    struct tg_event e;
    if (body == NULL ||
        tg_event_parse(&(struct tg_hook){"Job Hook", body, len}, &e, err, sizeof err)) {
        UNIT_CHECK("job fields", 0);
        free(body);
        return;
    }
    free(body);
    UNIT_CHECK("job id", e.job_id == 1977);
    UNIT_CHECK("job allow_failure", e.job_allow_failure == 0);
    tg_event_dispose(&e);
    static const char allowed[] =
        "{\"object_kind\":\"pipeline\",\"object_attributes\":{\"id\":1,\"status\":\"failed\"},"
        "\"builds\":[{\"id\":5,\"name\":\"lint\",\"status\":\"failed\",\"allow_failure\":true},"
        "{\"id\":6,\"name\":\"test\",\"status\":\"failed\"}]}";
    if (tg_event_parse(&(struct tg_hook){NULL, allowed, sizeof allowed - 1}, &e, err, sizeof err)) {
        UNIT_CHECK("builds allow_failure", 0);
        return;
    }
    UNIT_CHECK("builds allow_failure",
               e.nbuilds == 2 && e.builds[0].allow_failure == 1 && e.builds[1].allow_failure == 0);
    tg_event_dispose(&e);
}

static void check_pipeline_details(void)
{
    size_t len;
    char err[256], *body = fixture("pipeline_event.json", &len), out[64];
    struct tg_event e;
    if (body == NULL || tg_event_parse(&(struct tg_hook){NULL, body, len}, &e, err, sizeof err)) {
        UNIT_CHECK("pipeline details", 0);
        free(body);
        return;
    }
    free(body);
    const struct tg_build *b = tg_event_find_build(&e, "production");
    UNIT_CHECK("find production", b && b->id == 380);
    UNIT_STREQ("production status", b ? b->status : NULL, "skipped");
    UNIT_CHECK("find missing", tg_event_find_build(&e, "horusec") == NULL);
    UNIT_STREQ("source", e.pipeline_source, "merge_request_event");
    UNIT_CHECK("mr iid", e.mr_iid == 1);
    UNIT_STREQ("author", e.commit_author, "User");
    UNIT_CHECK("var id", tg_event_var(&e, "pipeline.id", out, sizeof out) == 0);
    UNIT_STREQ("var id", out, "31");
    UNIT_CHECK("var tag", tg_event_var(&e, "pipeline.tag", out, sizeof out) == 0);
    UNIT_STREQ("var tag", out, "false");
    UNIT_CHECK("var slug", tg_event_var(&e, "project.slug", out, sizeof out) == 0);
    UNIT_STREQ("var slug", out, "gitlab-test");
    UNIT_CHECK("var cut", tg_event_var(&e, "commit.sha", out, 8) == 0);
    UNIT_STREQ("var cut", out, "bcbb5ec");
    UNIT_CHECK("var unknown", tg_event_var(&e, "pipeline.nope", out, sizeof out) == -1);
    UNIT_CHECK("known", tg_event_var_known("user.email") && !tg_event_var_known("user.password"));
    tg_event_dispose(&e);
}

/* Bodies that must parse (err NULL) or fail with a message holding err. */
static const struct {
    const char *name, *header, *body, *err;
    enum tg_event_kind kind;
    const char *ref;
} bodies[] = {
    {"not json", NULL, "pipeline", "invalid JSON", 0, NULL},
    {"truncated", NULL, "{\"object_kind\": \"pipeline\"", "invalid JSON", 0, NULL},
    {"array", NULL, "[1, 2]", "not a JSON object", 0, NULL},
    {"builds string", NULL, "{\"object_kind\":\"pipeline\",\"builds\":\"x\"}",
     "builds is not a list", 0, NULL},
    {"build number", NULL, "{\"object_kind\":\"pipeline\",\"builds\":[1]}",
     "builds[0] is not an object", 0, NULL},
    {"build id string", NULL,
     "{\"object_kind\":\"pipeline\",\"builds\":[{\"id\":1},{\"id\":\"2\"}]}",
     "builds[1].id is not an integer", 0, NULL},
    {"attributes number", NULL, "{\"object_kind\":\"pipeline\",\"object_attributes\":5}",
     "object_attributes is not an object", 0, NULL},
    {"ref number", NULL, "{\"object_kind\":\"pipeline\",\"object_attributes\":{\"ref\":1}}",
     "object_attributes.ref is not a string", 0, NULL},
    {"tag string", NULL, "{\"object_kind\":\"pipeline\",\"object_attributes\":{\"tag\":\"true\"}}",
     "object_attributes.tag is not true or false", 0, NULL},
    {"project id string", "Push Hook", "{\"project\":{\"id\":\"1\"}}",
     "project.id is not an integer", 0, NULL},
    {"mr string", NULL, "{\"object_kind\":\"pipeline\",\"merge_request\":\"yes\"}",
     "merge_request is not an object", 0, NULL},
    {"commit author number", NULL,
     "{\"object_kind\":\"pipeline\",\"commit\":{\"author\":{\"name\":3}}}",
     "commit.author.name is not a string", 0, NULL},
    {"push ref list", NULL, "{\"object_kind\":\"push\",\"ref\":[\"a\"]}", "ref is not a string", 0,
     NULL},
    {"nulls", NULL,
     "{\"object_kind\":\"pipeline\",\"object_attributes\":null,\"builds\":null,\"user\":null}",
     NULL, TG_EVENT_PIPELINE, ""},
    {"empty object", NULL, "{}", NULL, TG_EVENT_OTHER, ""},
    {"unknown kind is lenient", NULL,
     "{\"object_kind\":\"issue\",\"project\":{\"id\":\"x\"},\"ref\":5}", NULL, TG_EVENT_OTHER, ""},
    {"unknown kind common fields", NULL,
     "{\"object_kind\":\"note\",\"object_attributes\":{\"ref\":\"refs/tags/v2\"}}", NULL,
     TG_EVENT_OTHER, "refs/tags/v2"},
    {"variables not a list", NULL,
     "{\"object_kind\":\"pipeline\",\"object_attributes\":{\"variables\":{}}}",
     "object_attributes.variables is not a list", 0, NULL},
    {"variable not an object", NULL,
     "{\"object_kind\":\"pipeline\",\"object_attributes\":{\"variables\":[1]}}",
     "object_attributes.variables[0] is not an object", 0, NULL},
    {"variable value number", NULL,
     "{\"object_kind\":\"pipeline\",\"object_attributes\":{\"variables\":[{\"key\":\"A\",\"value\":"
     "1}]}}",
     "object_attributes.variables[0].value is not a string", 0, NULL},
    {"source_pipeline id string", NULL,
     "{\"object_kind\":\"pipeline\",\"source_pipeline\":{\"pipeline_id\":\"5\"}}",
     "source_pipeline.pipeline_id is not an integer", 0, NULL},
    {"mr source project string", NULL,
     "{\"object_kind\":\"pipeline\",\"merge_request\":{\"source_project_id\":\"1\"}}",
     "merge_request.source_project_id is not an integer", 0, NULL},
    {"unknown header falls back", "System Hook",
     "{\"object_kind\":\"push\",\"ref\":\"refs/heads/dev\"}", NULL, TG_EVENT_PUSH, "dev"},
    {"job pipeline from commit.id", NULL,
     "{\"object_kind\":\"build\",\"commit\":{\"id\":77},\"ref\":\"main\"}", NULL, TG_EVENT_JOB,
     "main"},
};

static void check_bodies(void)
{
    for (size_t i = 0; i < TG_ARRAY_SIZE(bodies); i++) {
        struct tg_event e;
        char err[256] = "";
        int rc = tg_event_parse(
            &(struct tg_hook){bodies[i].header, bodies[i].body, strlen(bodies[i].body)}, &e, err,
            sizeof err);
        if (bodies[i].err) {
            UNIT_CHECK(bodies[i].name, rc == -1 && strstr(err, bodies[i].err) != NULL);
            if (rc == 0 || strstr(err, bodies[i].err) == NULL)
                fprintf(stderr, "  %s: got \"%s\"\n", bodies[i].name, err);
            UNIT_CHECK(bodies[i].name, e.project_path == NULL && e.builds == NULL);
            continue;
        }
        UNIT_CHECK(bodies[i].name, rc == 0);
        UNIT_CHECK(bodies[i].name, rc == 0 && e.kind == bodies[i].kind);
        UNIT_STREQ(bodies[i].name, rc == 0 ? e.ref : NULL, bodies[i].ref);
        UNIT_CHECK(bodies[i].name, rc != 0 || (e.sha && e.user_email && e.project_slug));
        if (rc == 0 && e.kind == TG_EVENT_JOB)
            UNIT_CHECK(bodies[i].name, e.pipeline_id == 77);
        if (rc == 0)
            tg_event_dispose(&e);
    }
}

/* Tag or branch, merge request and fork come from fields, never from the ref's spelling. */
#define MR(src, tgt, branch)                                                                       \
    "\"merge_request\":{\"iid\":7,\"source_branch\":\"" branch "\",\"source_project_id\":" #src    \
    ",\"target_project_id\":" #tgt "}"
#define PIPE(attrs, rest) "{\"object_kind\":\"pipeline\",\"object_attributes\":{" attrs "}" rest "}"
static const struct {
    const char *name, *body, *ref;
    int tag, merge_request, fork;
} refs[] = {
    {"branch named like a tag", PIPE("\"ref\":\"refs/tags/v9.9.9\",\"tag\":false", ""),
     "refs/tags/v9.9.9", 0, 0, 0},
    {"branch without tag flag", PIPE("\"ref\":\"refs/tags/v9.9.9\"", ""), "refs/tags/v9.9.9", 0, 0,
     0},
    {"full branch ref", PIPE("\"ref\":\"refs/heads/main\",\"tag\":false", ""), "main", 0, 0, 0},
    {"tag pipeline", PIPE("\"ref\":\"v1\",\"tag\":true", ""), "v1", 1, 0, 0},
    {"tag keeps its name", PIPE("\"ref\":\"refs/heads/x\",\"tag\":true", ""), "refs/heads/x", 1, 0,
     0},
    {"detached mr from main",
     PIPE("\"ref\":\"refs/merge-requests/7/head\",\"source\":\"merge_request_event\"",
          "," MR(1, 1, "main")),
     "main", 0, 1, 0},
    {"merged results",
     PIPE("\"ref\":\"refs/merge-requests/7/merge\",\"source\":\"merge_request_event\"",
          "," MR(1, 1, "main")),
     "main", 0, 1, 0},
    {"merge train",
     PIPE("\"ref\":\"refs/merge-requests/7/train\",\"source\":\"merge_request_event\"",
          "," MR(1, 1, "main")),
     "main", 0, 1, 0},
    {"mr pipeline by ref name",
     PIPE("\"ref\":\"main\",\"source\":\"merge_request_event\"", "," MR(1, 1, "main")), "main", 0,
     1, 0},
    {"fork mr", PIPE("\"ref\":\"main\",\"source\":\"merge_request_event\"", "," MR(2, 1, "main")),
     "main", 0, 1, 1},
    {"mr source without merge_request is a fork (cannot tell)",
     PIPE("\"ref\":\"refs/merge-requests/7/head\",\"source\":\"merge_request_event\"", ""),
     "refs/merge-requests/7/head", 0, 1, 1},
    {"push branch", "{\"object_kind\":\"push\",\"ref\":\"refs/heads/refs/tags/v1\"}",
     "refs/tags/v1", 0, 0, 0},
    {"tag push", "{\"object_kind\":\"tag_push\",\"ref\":\"refs/tags/v1\"}", "v1", 1, 0, 0},
    {"job hook branch named like a tag",
     "{\"object_kind\":\"build\",\"ref\":\"refs/tags/v2\",\"tag\":false}", "refs/tags/v2", 0, 0, 0},
};

static void check_refs(void)
{
    for (size_t i = 0; i < TG_ARRAY_SIZE(refs); i++) {
        struct tg_event e;
        char err[256] = "";
        int rc = tg_event_parse(&(struct tg_hook){NULL, refs[i].body, strlen(refs[i].body)}, &e,
                                err, sizeof err);
        UNIT_CHECK(refs[i].name, rc == 0);
        if (rc) {
            fprintf(stderr, "  %s: %s\n", refs[i].name, err);
            continue;
        }
        UNIT_STREQ(refs[i].name, e.ref, refs[i].ref);
        UNIT_CHECK(refs[i].name, e.tag == refs[i].tag);
        UNIT_CHECK(refs[i].name, e.merge_request == refs[i].merge_request);
        UNIT_CHECK(refs[i].name, e.mr_fork == refs[i].fork);
        tg_event_dispose(&e);
    }
}

/* source_pipeline and variables of the documented pipeline payload. */
static void check_upstream_and_variables(void)
{
    size_t len;
    char err[256] = "", *body = fixture("pipeline_event.json", &len);
    struct tg_event e;
    int rc =
        body ? tg_event_parse(&(struct tg_hook){"Pipeline Hook", body, len}, &e, err, sizeof err)
             : -1;
    free(body);
    UNIT_CHECK("upstream", rc == 0);
    if (rc)
        return;
    UNIT_CHECK("upstream",
               e.parent_project_id == 41 && e.parent_pipeline_id == 30 && e.parent_job_id == 3401);
    UNIT_CHECK("mr ids", e.mr_source_project_id == 1 && e.mr_target_project_id == 1 && !e.mr_fork);
    UNIT_STREQ("variable", tg_event_variable(&e, "NESTOR_PROD_ENVIRONMENT"), "us-west-1");
    UNIT_CHECK("no variable", tg_event_variable(&e, "TOLLGATE_DEPLOYMENT") == NULL);
    tg_event_dispose(&e);
}

/* GitLab's bridges and pipeline-jobs answers (doc/api/jobs.md shapes, trimmed). */
static const struct {
    const char *name, *body;
    int bridges, n;        /* n: items, or -1 */
    const char *err;       /* for -1: part of the message */
    long long project, id; /* first item: child project and pipeline (bridges), job id (jobs) */
    const char *status;
} pages[] = {
    {"bridge",
     "[{\"id\":7,\"name\":\"scans\",\"status\":\"success\",\"downstream_pipeline\":{\"id\":5,"
     "\"sha\":\"f62a\",\"ref\":\"main\",\"status\":\"running\",\"project_id\":9}}]",
     1, 1, NULL, 9, 5, "running"},
    {"bridge without project_id is in the parent's project",
     "[{\"id\":7,\"name\":\"scans\",\"downstream_pipeline\":{\"id\":5,\"status\":\"success\"}}]", 1,
     1, NULL, 7, 5, "success"},
    {"bridge not triggered yet", "[{\"id\":7,\"name\":\"scans\",\"downstream_pipeline\":null}]", 1,
     1, NULL, 7, 0, "created"},
    {"no bridges", "[]", 1, 0, NULL, 0, 0, NULL},
    {"bridge id string",
     "[{\"name\":\"s\",\"downstream_pipeline\":{\"id\":\"5\",\"status\":\"x\"}}]", 1, -1,
     "bridges[0] is not a bridge job", 0, 0, NULL},
    {"bridges object", "{\"message\":\"x\"}", 1, -1, "answer is not a list", 0, 0, NULL},
    {"bridges not json", "<html>", 1, -1, "answer is not JSON", 0, 0, NULL},
    {"jobs",
     "[{\"id\":901,\"name\":\"trivy-scan\",\"status\":\"success\",\"stage\":\"test\"},"
     "{\"id\":900,\"name\":\"unit\",\"status\":\"failed\"}]",
     0, 2, NULL, 7, 901, "success"},
    {"job without status", "[{\"id\":1,\"name\":\"a\"}]", 0, -1,
     "jobs[0] of pipeline 8 is not a job", 0, 0, NULL},
};

static void check_pages(void)
{
    for (size_t i = 0; i < TG_ARRAY_SIZE(pages); i++) {
        struct tg_children c = {0};
        char err[256] = "";
        const char *b = pages[i].body;
        const struct tg_gitlab_page page = {b, strlen(b), {7, 8}};
        int n = pages[i].bridges ? tg_gitlab_parse_bridges(&page, &c, err, sizeof err)
                                 : tg_gitlab_parse_jobs(&page, &c, err, sizeof err);
        UNIT_CHECK(pages[i].name, n == pages[i].n);
        if (n < 0)
            UNIT_CHECK(pages[i].name, strstr(err, pages[i].err) != NULL);
        else if (n > 0 && pages[i].bridges)
            UNIT_CHECK(pages[i].name, c.pipelines[0].project_id == pages[i].project &&
                                          c.pipelines[0].id == pages[i].id &&
                                          strcmp(c.pipelines[0].status, pages[i].status) == 0 &&
                                          strcmp(c.pipelines[0].bridge, "scans") == 0);
        else if (n > 0)
            UNIT_CHECK(pages[i].name, c.jobs[0].project_id == 7 && c.jobs[0].pipeline_id == 8 &&
                                          c.jobs[0].id == pages[i].id &&
                                          strcmp(c.jobs[0].status, pages[i].status) == 0);
        tg_children_dispose(&c);
    }
}

/* The documented answers themselves (tests/fixtures/gitlab/api). */
static void check_doc_pages(void)
{
    size_t len;
    struct tg_children c = {0};
    char err[256] = "", *b = unit_fixture("gitlab/api/list_pipeline_bridges_response.json", &len);
    int n =
        b ? tg_gitlab_parse_bridges(&(struct tg_gitlab_page){b, len, {1, 0}}, &c, err, sizeof err)
          : -1;
    UNIT_CHECK("doc bridges", n == 1 && c.pipelines[0].id == 5 && c.pipelines[0].project_id == 1 &&
                                  strcmp(c.pipelines[0].status, "pending") == 0 &&
                                  strcmp(c.pipelines[0].bridge, "teaspoon") == 0);
    free(b);
    b = unit_fixture("gitlab/api/list_pipeline_jobs_response.json", &len);
    n = b ? tg_gitlab_parse_jobs(&(struct tg_gitlab_page){b, len, {1, 6}}, &c, err, sizeof err)
          : -1;
    UNIT_CHECK("doc jobs", n == 2 && c.njobs == 2 && c.jobs[1].id == 7 &&
                               strcmp(c.jobs[1].name, "teaspoon") == 0 &&
                               strcmp(c.jobs[0].status, "failed") == 0);
    free(b);
    tg_children_dispose(&c);
}

static void check_names(void)
{
    UNIT_STREQ("kind name", tg_event_kind_name(TG_EVENT_MERGE_REQUEST), "merge_request");
    UNIT_STREQ("kind name", tg_event_kind_name(TG_EVENT_JOB), "job");
    UNIT_CHECK("final",
               tg_pipeline_status_is_final("canceled") && tg_pipeline_status_is_final("success"));
    UNIT_CHECK("not final",
               !tg_pipeline_status_is_final("running") && !tg_pipeline_status_is_final(NULL));
}

int main(void)
{
    for (size_t i = 0; i < TG_ARRAY_SIZE(fixtures); i++)
        check_fixture(&fixtures[i]);
    check_pipeline_details();
    check_failure_fields();
    check_bodies();
    check_refs();
    check_upstream_and_variables();
    check_pages();
    check_doc_pages();
    check_names();
    check_user_ids();
    return unit_summary("test_gitlab");
}
