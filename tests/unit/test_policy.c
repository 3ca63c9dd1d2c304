/* test_policy.c -- policy loading and every decision path, one row per case.
 *
 * Events are GitLab's documented pipeline payload ($TG_FIXTURES/gitlab/webhooks) turned into a
 * successful push pipeline on main of shop/cart with horusec and trivy-scan jobs, then edited
 * by a row's tweak. Reports are small inline documents served in 7-byte chunks, so every
 * decision also exercises the streaming path.
 */
#include "base/crypto.h"
#include "decide/gitlab.h"
#include "decide/policy.h"
#include "unit_files.h"
#include "base/yamlfile.h"

/* ---- documents ---- */

#define TRIVY(v)                                                                                   \
    "{\"SchemaVersion\":2,\"Results\":[{\"Target\":\"img\",\"Vulnerabilities\":[" v "]}]}"
#define V(id, sev, pkg)                                                                            \
    "{\"VulnerabilityID\":\"" id "\",\"Severity\":\"" sev "\",\"PkgName\":\"" pkg "\","            \
    "\"InstalledVersion\":\"1.0\",\"FixedVersion\":\"1.1\",\"Title\":\"bad " pkg "\"}"
#define SAST(v)                                                                                    \
    "{\"version\":\"v2.8.0\",\"status\":\"success\",\"analysisVulnerabilities\":[" v "]}"
#define HV(id, sev)                                                                                \
    "{\"vulnerabilities\":{\"severity\":\"" sev "\",\"rule_id\":\"" id                             \
    "\",\"file\":\"a.go\",\"line\":\"7\"}}"

#define CLEAN_SAST                                                                                 \
    {                                                                                              \
        "sast-report.json", SAST("")                                                               \
    }
#define CLEAN_TRIVY                                                                                \
    {                                                                                              \
        "trivy-report.json", TRIVY("")                                                             \
    }

#define HEAD "version: 1\nenvironments:\n  production:\n    branches: [main, \"release/*\"]\n"
#define JOBS "    require_jobs: [horusec, trivy-scan]\n"
#define REPORTS                                                                                    \
    "    reports:\n"                                                                               \
    "      - { job: horusec, artifact: sast-report.json, format: horusec }\n"                      \
    "      - { job: trivy-scan, artifact: out/trivy-report.json }\n"
#define SEV      "    severity:\n      block: { critical: 0 }\n      approve: { high: 0 }\n"
#define POLICY   HEAD JOBS REPORTS SEV
#define STAGING  "  staging:\n    branches: [dev]\n    merge_requests: true\n"
#define RELEASES "  releases:\n    tags: [\"v*\"]\n"
#define CHILD_POLICY                                                                               \
    HEAD "    require_jobs: [horusec, { job: trivy-scan, pipeline: child }]\n"                     \
         "    reports:\n      - { job: trivy-scan, artifact: trivy-report.json, pipeline: child "  \
         "}\n" SEV
#define EXC(id, until, extra)                                                                      \
    "exceptions:\n  - { id: " id ", until: " until ", reason: ok, by: alice" extra " }\n"

/* ---- events ---- */

struct tweak {
    const char *ref; /* default main */
    int tag;
    const char *status; /* default success */
    int mr;
    const char *project;   /* default shop/cart */
    const char *builds;    /* a JSON list appended to builds[] */
    const char *drop;      /* every build of this name removed */
    const char *source;    /* default push (merge_request_event for mr) */
    int fork;              /* mr: from project 2 into project 1 */
    const char *variables; /* a JSON list for object_attributes.variables */
};

static json_t *build(long long id, const char *name, const char *status)
{
    return json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)id, "name", name, "stage", "test",
                     "status", status);
}

static void edit_builds(json_t *ev, const struct tweak *t)
{
    json_t *builds = json_object_get(ev, "builds"), *more;
    json_array_append_new(builds, build(500, "horusec", "success"));
    json_array_append_new(builds, build(501, "trivy-scan", "success"));
    if (t->builds && (more = json_loads(t->builds, 0, NULL)) != NULL) {
        json_array_extend(builds, more);
        json_decref(more);
    }
    for (size_t i = json_array_size(builds); t->drop && i-- > 0;)
        if (strcmp(json_string_value(json_object_get(json_array_get(builds, i), "name")),
                   t->drop) == 0)
            json_array_remove(builds, i);
}

/* The fixture as a successful push pipeline on main of shop/cart, then t applied. */
static int make_event(const struct tweak *t, struct tg_event *out)
{
    size_t len;
    char err[256], *text = unit_fixture("gitlab/webhooks/pipeline_event.json", &len);
    json_t *ev = text ? json_loadb(text, len, 0, NULL) : NULL;
    free(text);
    if (ev == NULL)
        return -1;
    json_t *attrs = json_object_get(ev, "object_attributes");
    json_object_set_new(attrs, "ref", json_string(t->ref ? t->ref : "main"));
    json_object_set_new(attrs, "tag", json_boolean(t->tag));
    json_object_set_new(attrs, "status", json_string(t->status ? t->status : "success"));
    json_object_set_new(attrs, "source",
                        json_string(t->source ? t->source
                                    : t->mr   ? "merge_request_event"
                                              : "push"));
    if (t->variables)
        json_object_set_new(attrs, "variables", json_loads(t->variables, 0, NULL));
    if (!t->mr)
        json_object_set_new(ev, "merge_request", json_null());
    else
        json_object_set_new(json_object_get(ev, "merge_request"), "source_branch",
                            json_string(t->ref ? t->ref : "main"));
    if (t->fork)
        json_object_set_new(json_object_get(ev, "merge_request"), "source_project_id",
                            json_integer(2));
    json_object_set_new(json_object_get(ev, "project"), "path_with_namespace",
                        json_string(t->project ? t->project : "shop/cart"));
    edit_builds(ev, t);
    char *body = json_dumps(ev, JSON_COMPACT);
    int rc = tg_event_parse(&(struct tg_hook){"Pipeline Hook", body, strlen(body)}, out, err,
                            sizeof err);
    free(body);
    json_decref(ev);
    return rc;
}

/* ---- reports ---- */

struct doc {
    const char *artifact; /* base name */
    const char *body;     /* "!error": the fetch fails */
};

struct served {
    const struct doc *docs;
    int calls;
};

static enum tg_fetch_result fetch(void *arg, const struct tg_policy_report *ref,
                                  tg_report_sink_fn sink, void *sink_arg, char *err, size_t errlen)
{
    struct served *s = arg;
    const char *base =
        strrchr(ref->artifact, '/') ? strrchr(ref->artifact, '/') + 1 : ref->artifact;
    s->calls++;
    for (const struct doc *d = s->docs; d->artifact; d++) {
        if (strcmp(d->artifact, base) != 0)
            continue;
        if (strcmp(d->body, "!error") == 0) {
            snprintf(err, errlen, "HTTP 502");
            return TG_FETCH_ERROR;
        }
        for (size_t off = 0, n = strlen(d->body); off < n; off += 7)
            if (sink(sink_arg, d->body + off, n - off < 7 ? n - off : 7))
                break;
        return TG_FETCH_OK;
    }
    return TG_FETCH_NOT_FOUND;
}

/* ---- the three phases, as the worker runs them ---- */

typedef enum tg_fetch_result (*fetch_fn)(void *arg, const struct tg_policy_report *ref,
                                         tg_report_sink_fn sink, void *sink_arg, char *err,
                                         size_t errlen);
typedef int (*kids_fn)(void *arg, const struct tg_event *ev, struct tg_children *out, char *err,
                       size_t errlen);

/* What a decision in a test sees: kids NULL means offline (tollgate eval). */
struct world {
    const struct tg_policy_set *ps;
    const struct tg_event *ev;
    uint64_t now_ms;
    fetch_fn fetch;
    void *fetch_arg;
    kids_fn kids;
    void *kids_arg;
};

/* Counts the located planned reports into the plan: 0, or -1 with err (a fetch failed). */
static int count_all(const struct world *w, struct tg_policy_plan *plan, char *err, size_t errlen)
{
    for (size_t i = 0; i < plan->nreports; i++) {
        if (!plan->reports[i].located)
            continue;
        struct tg_policy_counter *c = tg_policy_counter_new(plan, i, plan->reports[i].format);
        enum tg_fetch_result r =
            w->fetch(w->fetch_arg, &plan->reports[i], tg_policy_counter_sink, c, err, errlen);
        if (tg_policy_counter_end(c, r, err, errlen))
            return -1;
    }
    return 0;
}

/* Plan, list the children when wanted, fetch and count, judge. */
static int decide(const struct world *w, struct tg_decision *out, char *err, size_t errlen)
{
    struct tg_policy_input in = {w->ps, w->ev, NULL, w->kids == NULL, w->now_ms};
    struct tg_policy_plan plan;
    struct tg_children kids = {0};
    int rc = 0;
    memset(out, 0, sizeof *out);
    tg_policy_plan(&in, &plan);
    if (plan.want_children) {
        rc = w->kids(w->kids_arg, w->ev, &kids, err, errlen);
        in.children = &kids;
        tg_policy_plan_dispose(&plan);
        tg_policy_plan(&in, &plan);
    }
    if (rc == 0)
        rc = count_all(w, &plan, err, errlen);
    if (rc == 0)
        rc = tg_policy_judge(&in, &plan, out, err, errlen);
    tg_policy_plan_dispose(&plan);
    tg_children_dispose(&kids);
    return rc;
}

/* ---- decisions ---- */

#define FAILS (-1) /* verdict column: the decision cannot be made (a fetch failed) */

struct row {
    const char *name;
    const char *policy;
    struct tweak tweak;
    struct doc docs[4];
    const char *now; /* default 2026-06-01T12:00:00Z */
    int verdict;
    const char *rule;
    const char *reason; /* a substring of the reasons, one per line */
};

static const struct row rows[] = {
    /* environment */
    {"feature branch",
     POLICY,
     {.ref = "feature/x"},
     {{0}},
     NULL,
     TG_VERDICT_SKIP,
     "branch",
     "no environment for ref feature/x"},
    {"glob branch",
     POLICY,
     {.ref = "release/2.1"},
     {CLEAN_SAST, CLEAN_TRIVY},
     NULL,
     TG_VERDICT_DEPLOY,
     "policy",
     "all checks passed for production"},
    {"tag matches tags",
     POLICY RELEASES,
     {.ref = "v1.2", .tag = 1},
     {{0}},
     NULL,
     TG_VERDICT_DEPLOY,
     "policy",
     "all checks passed for releases"},
    {"branch named like a tag",
     POLICY RELEASES,
     {.ref = "v1.2"},
     {{0}},
     NULL,
     TG_VERDICT_SKIP,
     "branch",
     "no environment for ref v1.2"},
    {"tag named like a branch",
     POLICY,
     {.ref = "main", .tag = 1},
     {{0}},
     NULL,
     TG_VERDICT_SKIP,
     "branch",
     "no environment for ref main"},
    {"first environment wins",
     HEAD "  everything:\n    branches: [\"*\"]\n",
     {.ref = "main"},
     {{0}},
     NULL,
     TG_VERDICT_DEPLOY,
     "policy",
     "passed for production"},
    {"second environment",
     HEAD "  everything:\n    branches: [\"*\"]\n",
     {.ref = "dev"},
     {{0}},
     NULL,
     TG_VERDICT_DEPLOY,
     "policy",
     "passed for everything"},
    /* pipeline status and merge requests */
    {"failed pipeline",
     POLICY,
     {.status = "failed"},
     {{0}},
     NULL,
     TG_VERDICT_SKIP,
     "pipeline_status",
     "pipeline failed"},
    {"canceled pipeline",
     POLICY,
     {.status = "canceled"},
     {{0}},
     NULL,
     TG_VERDICT_SKIP,
     "pipeline_status",
     "pipeline canceled"},
    {"merge request",
     POLICY,
     {.mr = 1},
     {{0}},
     NULL,
     TG_VERDICT_SKIP,
     "merge_request",
     "merge-request pipeline (!1): production does not deploy merge requests"},
    {"merge request allowed",
     POLICY STAGING,
     {.ref = "dev", .mr = 1},
     {{0}},
     NULL,
     TG_VERDICT_DEPLOY,
     "policy",
     "passed for staging"},
    {"mr from main is no branch pipeline",
     POLICY,
     {.ref = "main", .mr = 1},
     {CLEAN_SAST, CLEAN_TRIVY},
     NULL,
     TG_VERDICT_SKIP,
     "merge_request",
     "production does not deploy merge requests"},
    {"mr from main, merge_requests true",
     POLICY "    merge_requests: true\n",
     {.ref = "main", .mr = 1},
     {CLEAN_SAST, CLEAN_TRIVY},
     NULL,
     TG_VERDICT_DEPLOY,
     "policy",
     "passed for production"},
    {"mr source without mr object",
     POLICY "    merge_requests: true\n",
     {.source = "merge_request_event"},
     {CLEAN_SAST, CLEAN_TRIVY},
     NULL,
     TG_VERDICT_SKIP,
     "fork",
     "merge-request pipeline without its merge request's source and target projects: it may come "
     "from a fork"},
    {"fork mr, merge_requests true",
     POLICY STAGING,
     {.ref = "dev", .mr = 1, .fork = 1},
     {{0}},
     NULL,
     TG_VERDICT_SKIP,
     "fork",
     "merge request !1 comes from another project (2 into 1)"},
    {"fork mr, merge_requests false",
     POLICY,
     {.mr = 1, .fork = 1},
     {{0}},
     NULL,
     TG_VERDICT_SKIP,
     "fork",
     "never deploy"},
    {"branch named refs/tags/v9.9.9",
     POLICY RELEASES,
     {.ref = "refs/tags/v9.9.9"},
     {{0}},
     NULL,
     TG_VERDICT_SKIP,
     "branch",
     "no environment for ref refs/tags/v9.9.9"},
    {"tag v1",
     POLICY RELEASES,
     {.ref = "v1", .tag = 1},
     {{0}},
     NULL,
     TG_VERDICT_DEPLOY,
     "policy",
     "all checks passed for releases"},
    /* sources */
    {"schedule deploys",
     POLICY,
     {.source = "schedule"},
     {CLEAN_SAST, CLEAN_TRIVY},
     NULL,
     TG_VERDICT_DEPLOY,
     "policy",
     "passed for production"},
    {"web deploys",
     POLICY,
     {.source = "web"},
     {CLEAN_SAST, CLEAN_TRIVY},
     NULL,
     TG_VERDICT_DEPLOY,
     "policy",
     "passed"},
    {"api deploys",
     POLICY,
     {.source = "api"},
     {CLEAN_SAST, CLEAN_TRIVY},
     NULL,
     TG_VERDICT_DEPLOY,
     "policy",
     "passed"},
    {"child pipeline",
     POLICY,
     {.source = "parent_pipeline"},
     {CLEAN_SAST, CLEAN_TRIVY},
     NULL,
     TG_VERDICT_SKIP,
     "source",
     "pipeline source parent_pipeline does not deploy to production (default sources: push, web, "
     "api, "
     "schedule, merge_request_event)"},
    {"failed child is still no candidate",
     POLICY,
     {.source = "parent_pipeline", .status = "failed"},
     {{0}},
     NULL,
     TG_VERDICT_SKIP,
     "source",
     "parent_pipeline"},
    {"multi-project downstream",
     POLICY,
     {.source = "pipeline"},
     {{0}},
     NULL,
     TG_VERDICT_SKIP,
     "source",
     "source pipeline does not"},
    {"trigger token",
     POLICY,
     {.source = "trigger"},
     {{0}},
     NULL,
     TG_VERDICT_SKIP,
     "source",
     "source trigger"},
    {"chat", POLICY, {.source = "chat"}, {{0}}, NULL, TG_VERDICT_SKIP, "source", "source chat"},
    {"webide",
     POLICY,
     {.source = "webide"},
     {{0}},
     NULL,
     TG_VERDICT_SKIP,
     "source",
     "source webide"},
    {"dast",
     POLICY,
     {.source = "ondemand_dast_scan"},
     {{0}},
     NULL,
     TG_VERDICT_SKIP,
     "source",
     "ondemand_dast_scan"},
    {"execution policy",
     POLICY,
     {.source = "pipeline_execution_policy_schedule"},
     {{0}},
     NULL,
     TG_VERDICT_SKIP,
     "source",
     "pipeline_execution_policy_schedule"},
    {"unknown source",
     POLICY,
     {.source = "teleport"},
     {{0}},
     NULL,
     TG_VERDICT_SKIP,
     "source",
     "source teleport"},
    {"no source", POLICY, {.source = ""}, {{0}}, NULL, TG_VERDICT_SKIP, "source", "source (none)"},
    {"sources override allows trigger",
     POLICY "    sources: [trigger]\n",
     {.source = "trigger"},
     {CLEAN_SAST, CLEAN_TRIVY},
     NULL,
     TG_VERDICT_DEPLOY,
     "policy",
     "passed for production"},
    {"sources override drops push",
     POLICY "    sources: [trigger]\n",
     {0},
     {{0}},
     NULL,
     TG_VERDICT_SKIP,
     "source",
     "source push does not deploy to production (sources: trigger)"},
    /* offline (tollgate eval, no children callback): a required child job counts as missing */
    {"child job offline",
     CHILD_POLICY,
     {0},
     {CLEAN_TRIVY},
     NULL,
     TG_VERDICT_BLOCK,
     "require_jobs",
     "required job trivy-scan (child pipeline) is missing: no job trivy-scan: child pipelines are "
     "not looked up "
     "offline"},
    {"child report offline goes to the fetcher",
     HEAD "    reports:\n      - { job: trivy-scan, artifact: "
          "trivy-report.json, pipeline: child }\n" SEV,
     {.drop = "trivy-scan"},
     {{"trivy-report.json", TRIVY(V("CVE-1", "CRITICAL", "a"))}},
     NULL,
     TG_VERDICT_BLOCK,
     "severity.block",
     "critical 1 > 0 in trivy-scan/trivy-report.json: CVE-1"},
    {"empty sources: nothing deploys",
     POLICY "    sources: []\n",
     {0},
     {{0}},
     NULL,
     TG_VERDICT_SKIP,
     "source",
     "(sources: none)"},
    /* required jobs */
    {"job missing",
     POLICY,
     {.drop = "trivy-scan"},
     {CLEAN_SAST, CLEAN_TRIVY},
     NULL,
     TG_VERDICT_BLOCK,
     "require_jobs",
     "required job trivy-scan is missing"},
    {"job failed",
     POLICY,
     {.builds = "[{\"id\":600,\"name\":\"horusec\",\"status\":\"failed\"}]"},
     {CLEAN_SAST, CLEAN_TRIVY},
     NULL,
     TG_VERDICT_BLOCK,
     "require_jobs",
     "required job horusec is failed"},
    {"two jobs fail",
     POLICY,
     {.builds = "[{\"id\":600,\"name\":\"horusec\",\"status\":\"failed\"},"
                "{\"id\":601,\"name\":\"trivy-scan\",\"status\":\"canceled\"}]"},
     {CLEAN_SAST, CLEAN_TRIVY},
     NULL,
     TG_VERDICT_BLOCK,
     "require_jobs",
     "required job horusec is failed\nrequired job trivy-scan is canceled"},
    {"retried job: latest wins",
     POLICY,
     {.builds = "[{\"id\":400,\"name\":\"trivy-scan\",\"status\":\"failed\"}]"},
     {CLEAN_SAST, CLEAN_TRIVY},
     NULL,
     TG_VERDICT_DEPLOY,
     "policy",
     "all checks passed"},
    /* reports */
    {"report not found",
     POLICY,
     {0},
     {CLEAN_SAST},
     NULL,
     TG_VERDICT_BLOCK,
     "on_missing_report",
     "report trivy-scan/out/trivy-report.json is missing: artifact not found (on_missing_report: "
     "block)"},
    {"report job absent",
     HEAD REPORTS SEV,
     {.drop = "horusec"},
     {CLEAN_SAST, CLEAN_TRIVY},
     NULL,
     TG_VERDICT_BLOCK,
     "on_missing_report",
     "report horusec/sast-report.json is missing: no job horusec"},
    {"missing: skip",
     POLICY "    on_missing_report: skip\n",
     {0},
     {CLEAN_SAST},
     NULL,
     TG_VERDICT_SKIP,
     "on_missing_report",
     "(on_missing_report: skip)"},
    {"missing: ignore",
     POLICY "    on_missing_report: ignore\n",
     {0},
     {CLEAN_SAST},
     NULL,
     TG_VERDICT_DEPLOY,
     "policy",
     "trivy-report.json is missing: artifact not found (on_missing_report: ignore)"},
    {"unreadable beats skip",
     POLICY "    on_missing_report: skip\n",
     {0},
     {{"sast-report.json", "{\"ver"}},
     NULL,
     TG_VERDICT_BLOCK,
     "report_unreadable",
     "report horusec/sast-report.json is unreadable: horusec:"},
    {"the skipped one is named too",
     POLICY "    on_missing_report: skip\n",
     {0},
     {{"sast-report.json", "{\"ver"}},
     NULL,
     TG_VERDICT_BLOCK,
     "report_unreadable",
     "report trivy-scan/out/trivy-report.json is missing: artifact not found (on_missing_report: "
     "skip)"},
    {"malformed report",
     POLICY,
     {0},
     {CLEAN_SAST, {"trivy-report.json", "{\"Results\": [}"}},
     NULL,
     TG_VERDICT_BLOCK,
     "report_unreadable",
     "trivy-scan/out/trivy-report.json is unreadable"},
    {"not a report",
     POLICY,
     {0},
     {CLEAN_SAST, {"trivy-report.json", "{\"hello\": 1}"}},
     NULL,
     TG_VERDICT_BLOCK,
     "report_unreadable",
     "not a known report"},
    {"fetch error",
     POLICY,
     {0},
     {CLEAN_SAST, {"trivy-report.json", "!error"}},
     NULL,
     FAILS,
     NULL,
     "report trivy-scan/out/trivy-report.json: HTTP 502"},
    /* severity */
    {"critical blocks",
     POLICY,
     {0},
     {CLEAN_SAST, {"trivy-report.json", TRIVY(V("CVE-1", "CRITICAL", "a"))}},
     NULL,
     TG_VERDICT_BLOCK,
     "severity.block",
     "critical 1 > 0 in trivy-scan/out/trivy-report.json: CVE-1"},
    {"criticals in two reports",
     POLICY,
     {0},
     {{"sast-report.json", SAST(HV("HS-1", "CRITICAL"))},
      {"trivy-report.json", TRIVY(V("CVE-1", "CRITICAL", "a"))}},
     NULL,
     TG_VERDICT_BLOCK,
     "severity.block",
     "critical 2 > 0 in horusec/sast-report.json (1), trivy-scan/out/trivy-report.json (1): HS-1, "
     "CVE-1"},
    {"high needs approval",
     POLICY,
     {0},
     {CLEAN_SAST, {"trivy-report.json", TRIVY(V("CVE-2", "HIGH", "a"))}},
     NULL,
     TG_VERDICT_NEEDS_APPROVAL,
     "severity.approve",
     "high 1 > 0 in trivy-scan/out/trivy-report.json: CVE-2\nneeds 1 approval from anyone allowed "
     "to approve"},
    {"block wins over approve",
     POLICY,
     {0},
     {CLEAN_SAST,
      {"trivy-report.json", TRIVY(V("CVE-2", "HIGH", "a") "," V("CVE-1", "CRITICAL", "b"))}},
     NULL,
     TG_VERDICT_BLOCK,
     "severity.block",
     "critical 1 > 0"},
    {"medium and low pass",
     POLICY,
     {0},
     {CLEAN_SAST,
      {"trivy-report.json", TRIVY(V("CVE-3", "MEDIUM", "a") "," V("CVE-4", "LOW", "b"))}},
     NULL,
     TG_VERDICT_DEPLOY,
     "policy",
     "counts: critical 0, high 0, medium 1, low 1, info 0, unknown 0 (0 excepted)"},
    {"at the threshold",
     HEAD REPORTS "    severity: { block: { high: 2 } }\n",
     {0},
     {CLEAN_SAST,
      {"trivy-report.json", TRIVY(V("CVE-5", "HIGH", "a") "," V("CVE-6", "HIGH", "b"))}},
     NULL,
     TG_VERDICT_DEPLOY,
     "policy",
     "high 2"},
    {"over the threshold",
     HEAD REPORTS "    severity: { block: { high: 2 } }\n",
     {0},
     {CLEAN_SAST,
      {"trivy-report.json",
       TRIVY(V("CVE-5", "HIGH", "a") "," V("CVE-6", "HIGH", "b") "," V("CVE-5", "HIGH", "c"))}},
     NULL,
     TG_VERDICT_BLOCK,
     "severity.block",
     "high 3 > 2 in trivy-scan/out/trivy-report.json: CVE-5, CVE-6"},
    {"approve on mediums",
     HEAD REPORTS "    severity: { approve: { medium: 1 } }\n"
                  "    approvals: { required: 2, approvers: [alice, bob] }\n",
     {0},
     {CLEAN_SAST,
      {"trivy-report.json", TRIVY(V("CVE-3", "MEDIUM", "a") "," V("CVE-4", "MEDIUM", "b"))}},
     NULL,
     TG_VERDICT_NEEDS_APPROVAL,
     "severity.approve",
     "medium 2 > 1 in trivy-scan/out/trivy-report.json: CVE-3, "
     "CVE-4\nneeds 2 approvals from alice, bob"},
    {"unknown bucket",
     HEAD REPORTS "    severity: { block: { unknown: 0 } }\n",
     {0},
     {CLEAN_SAST, {"trivy-report.json", TRIVY(V("CVE-7", "WHATEVER", "a"))}},
     NULL,
     TG_VERDICT_BLOCK,
     "severity.block",
     "unknown 1 > 0"},
    /* accepted risks */
    {"exception applies",
     POLICY EXC("CVE-1", "2026-12-31", ""),
     {0},
     {CLEAN_SAST,
      {"trivy-report.json", TRIVY(V("CVE-1", "CRITICAL", "a") "," V("CVE-1", "CRITICAL", "b"))}},
     NULL,
     TG_VERDICT_DEPLOY,
     "policy",
     "critical 0, high 0, medium 0, low 0, info 0, unknown 0 (2 excepted)"},
    {"exception expired",
     POLICY EXC("CVE-1", "2026-01-31", ""),
     {0},
     {CLEAN_SAST, {"trivy-report.json", TRIVY(V("CVE-1", "CRITICAL", "a"))}},
     NULL,
     TG_VERDICT_BLOCK,
     "severity.block",
     "critical 1 > 0 in trivy-scan/out/trivy-report.json: CVE-1\ncounts: critical 1, high 0, "
     "medium 0, low 0, info 0, unknown 0 (0 excepted)\nexception CVE-1 expired 2026-01-31 (by "
     "alice)"},
    {"date means the whole day",
     POLICY EXC("CVE-1", "2026-06-01", ""),
     {0},
     {CLEAN_SAST, {"trivy-report.json", TRIVY(V("CVE-1", "CRITICAL", "a"))}},
     "2026-06-01T23:59:59Z",
     TG_VERDICT_DEPLOY,
     "policy",
     "(1 excepted)"},
    {"the next day it has expired",
     POLICY EXC("CVE-1", "2026-06-01", ""),
     {0},
     {CLEAN_SAST, {"trivy-report.json", TRIVY(V("CVE-1", "CRITICAL", "a"))}},
     "2026-06-02T00:00:00Z",
     TG_VERDICT_BLOCK,
     "severity.block",
     "exception CVE-1 expired 2026-06-01 (by alice)"},
    {"until an instant",
     POLICY EXC("CVE-1", "2026-06-01T12:00:00Z", ""),
     {0},
     {CLEAN_SAST, {"trivy-report.json", TRIVY(V("CVE-1", "CRITICAL", "a"))}},
     "2026-06-01T11:59:59Z",
     TG_VERDICT_DEPLOY,
     "policy",
     "(1 excepted)"},
    {"a renewed exception wins",
     POLICY EXC("CVE-1", "2026-01-31", "") "  - { id: CVE-1, until: 2027-01-31, "
                                           "reason: renewed, by: bob }\n",
     {0},
     {CLEAN_SAST, {"trivy-report.json", TRIVY(V("CVE-1", "CRITICAL", "a"))}},
     NULL,
     TG_VERDICT_DEPLOY,
     "policy",
     "(1 excepted)"},
    {"other project",
     POLICY EXC("CVE-1", "2026-12-31", ", projects: [\"shop/other*\"]"),
     {0},
     {CLEAN_SAST, {"trivy-report.json", TRIVY(V("CVE-1", "CRITICAL", "a"))}},
     NULL,
     TG_VERDICT_BLOCK,
     "severity.block",
     "CVE-1"},
    {"project glob",
     POLICY EXC("CVE-1", "2026-12-31", ", projects: [\"other/*\", \"shop/*\"]"),
     {0},
     {CLEAN_SAST, {"trivy-report.json", TRIVY(V("CVE-1", "CRITICAL", "a"))}},
     NULL,
     TG_VERDICT_DEPLOY,
     "policy",
     "(1 excepted)"},
    {"project glob ignores case",
     POLICY EXC("CVE-1", "2026-12-31", ", projects: [\"SHOP/Cart\"]"),
     {0},
     {CLEAN_SAST, {"trivy-report.json", TRIVY(V("CVE-1", "CRITICAL", "a"))}},
     NULL,
     TG_VERDICT_DEPLOY,
     "policy",
     "(1 excepted)"},
    {"other environment",
     POLICY STAGING EXC("CVE-1", "2026-12-31", ", environments: [staging]"),
     {0},
     {CLEAN_SAST, {"trivy-report.json", TRIVY(V("CVE-1", "CRITICAL", "a"))}},
     NULL,
     TG_VERDICT_BLOCK,
     "severity.block",
     "CVE-1"},
    {"this environment",
     POLICY STAGING EXC("CVE-1", "2026-12-31", ", environments: [staging, production]"),
     {0},
     {CLEAN_SAST, {"trivy-report.json", TRIVY(V("CVE-1", "CRITICAL", "a"))}},
     NULL,
     TG_VERDICT_DEPLOY,
     "policy",
     "(1 excepted)"},
    {"excepted critical, the high tips",
     POLICY EXC("CVE-1", "2026-12-31", ""),
     {0},
     {CLEAN_SAST,
      {"trivy-report.json", TRIVY(V("CVE-1", "CRITICAL", "a") "," V("CVE-9", "HIGH", "b"))}},
     NULL,
     TG_VERDICT_NEEDS_APPROVAL,
     "severity.approve",
     "high 1 > 0 in trivy-scan/out/trivy-report.json: CVE-9"},
};

static char *joined(char **v)
{
    struct tg_buf b;
    tg_buf_init(&b);
    for (char **p = v; p && *p; p++)
        tg_buf_printf(&b, "%s%s", p == v ? "" : "\n", *p);
    return tg_buf_steal(&b);
}

static void check_row(const struct row *r)
{
    struct tg_diag diag;
    struct tg_event ev;
    struct tg_decision d;
    struct served served = {r->docs, 0};
    char err[512] = "";
    uint64_t now;
    tg_diag_init(&diag);
    struct tg_policy_set *ps = tg_policy_load_mem("p.yaml", r->policy, strlen(r->policy), &diag);
    UNIT_CHECK(r->name, ps != NULL && make_event(&r->tweak, &ev) == 0);
    if (ps == NULL) {
        tg_diag_print(&diag, stderr);
        tg_diag_dispose(&diag);
        return;
    }
    tg_parse_time(r->now ? r->now : "2026-06-01T12:00:00Z", &now);
    struct world w = {ps, &ev, now, fetch, &served, NULL, NULL};
    int rc = decide(&w, &d, err, sizeof err);
    if (r->verdict == FAILS) {
        UNIT_CHECK(r->name, rc == -1 && d.json == NULL);
        UNIT_CHECK(r->name, strstr(err, r->reason) != NULL);
    } else {
        char *reasons = rc == 0 ? joined(d.reasons) : NULL;
        UNIT_CHECK(r->name, rc == 0 && (int)d.verdict == r->verdict);
        UNIT_STREQ(r->name, rc == 0 ? d.rule : err, r->rule);
        UNIT_CHECK(r->name, reasons && strstr(reasons, r->reason) != NULL);
        if (reasons == NULL || strstr(reasons, r->reason) == NULL || (int)d.verdict != r->verdict)
            fprintf(stderr, "  [%s] %s: reasons:\n%s\n", r->name, tg_verdict_name(d.verdict),
                    reasons);
        free(reasons);
        if (rc == 0)
            tg_decision_dispose(&d);
    }
    tg_event_dispose(&ev);
    tg_policy_set_free(ps);
    tg_diag_dispose(&diag);
}

/* ---- the decision JSON ---- */

static json_t *decide_json(const char *policy, const struct tweak *t, const struct doc *docs,
                           const char *now, struct tg_decision *d)
{
    struct tg_diag diag;
    struct tg_event ev;
    struct served served = {docs, 0};
    char err[256];
    uint64_t ms;
    tg_diag_init(&diag);
    struct tg_policy_set *ps = tg_policy_load_mem("p.yaml", policy, strlen(policy), &diag);
    tg_parse_time(now, &ms);
    if (ps == NULL || make_event(t, &ev) ||
        decide(&(struct world){ps, &ev, ms, fetch, &served, NULL, NULL}, d, err, sizeof err)) {
        tg_diag_print(&diag, stderr);
        tg_diag_dispose(&diag);
        tg_policy_set_free(ps);
        return NULL;
    }
    UNIT_STREQ("hash in decision", d->policy_hash, tg_policy_set_hash(ps));
    tg_event_dispose(&ev);
    tg_policy_set_free(ps);
    tg_diag_dispose(&diag);
    return d->json;
}

static const char *jstr(json_t *j, const char *path)
{
    return json_string_value(json_object_get(j, path));
}

static void check_block_findings(json_t *findings)
{
    /* Only the bucket over its limit tips: criticals in report order, CVE-3 excepted, cut at 5. */
    static const char *const ids[] = {"HS-2", "CVE-1", "CVE-5", "CVE-7", "CVE-8"};
    UNIT_CHECK("five findings", json_array_size(findings) == 5);
    for (size_t i = 0; i < TG_ARRAY_SIZE(ids); i++)
        UNIT_STREQ("finding order", jstr(json_array_get(findings, i), "id"), ids[i]);
    json_t *f = json_array_get(findings, 1);
    UNIT_STREQ("finding severity", jstr(f, "severity"), "critical");
    UNIT_STREQ("finding package", jstr(f, "package"), "a");
    UNIT_STREQ("finding version", jstr(f, "version"), "1.0");
    UNIT_STREQ("finding fixed", jstr(f, "fixed"), "1.1");
    UNIT_STREQ("finding title", jstr(f, "title"), "bad a");
    UNIT_STREQ("finding file", jstr(f, "file"), "img");
    UNIT_STREQ("finding report", jstr(f, "report"), "trivy-scan/out/trivy-report.json");
    UNIT_CHECK("finding line",
               json_integer_value(json_object_get(json_array_get(findings, 0), "line")) == 7);
    UNIT_CHECK("no line", json_is_null(json_object_get(f, "line")));
}

static void check_block_json(void)
{
    static const struct doc docs[] = {
        {"sast-report.json", SAST(HV("HS-1", "HIGH") "," HV("HS-2", "CRITICAL"))},
        {"trivy-report.json",
         TRIVY(V("CVE-1", "CRITICAL", "a") "," V("CVE-2", "LOW", "b") "," V(
             "CVE-3", "CRITICAL",
             "c") "," V("CVE-4", "HIGH",
                        "d") "," V("CVE-5", "CRITICAL",
                                   "e") "," V("CVE-6", "HIGH",
                                              "f") "," V("CVE-7", "CRITICAL",
                                                         "g") "," V("CVE-8", "CRITICAL",
                                                                    "h") "," V("CVE-9", "CRITICAL",
                                                                               "i"))},
        {NULL, NULL}};
    struct tg_decision d;
    struct tweak t = {0};
    json_t *j = decide_json(
        POLICY EXC("CVE-3", "2027-01-01", "") "  - { id: CVE-7, until: 2026-01-01, reason: r, "
                                              "by: bob }\n",
        &t, docs, "2026-06-01", &d);
    UNIT_CHECK("block json", j != NULL);
    if (j == NULL)
        return;
    UNIT_STREQ("verdict", jstr(j, "verdict"), "block");
    UNIT_STREQ("environment", jstr(j, "environment"), "production");
    UNIT_STREQ("rule", jstr(j, "rule"), "severity.block");
    UNIT_STREQ("project", jstr(j, "project"), "shop/cart");
    UNIT_STREQ("ref", jstr(j, "ref"), "main");
    UNIT_STREQ("sha", jstr(j, "sha"), "bcbb5ec396a2c0f828686f14fac9b80b780504f2");
    UNIT_CHECK("pipeline", json_integer_value(json_object_get(j, "pipeline")) == 31);
    UNIT_CHECK("counts",
               json_integer_value(json_object_get(json_object_get(j, "counts"), "critical")) == 6);
    UNIT_CHECK("counts",
               json_integer_value(json_object_get(json_object_get(j, "counts"), "high")) == 3);
    json_t *reports = json_object_get(j, "reports"), *trivy = json_array_get(reports, 1);
    UNIT_CHECK("reports", json_array_size(reports) == 2);
    UNIT_STREQ("report job", jstr(trivy, "job"), "trivy-scan");
    UNIT_STREQ("report format", jstr(trivy, "format"), "trivy");
    UNIT_STREQ("report status", jstr(trivy, "status"), "ok");
    UNIT_CHECK("report excepted", json_integer_value(json_object_get(trivy, "excepted")) == 1);
    check_block_findings(json_object_get(j, "findings"));
    json_t *x = json_object_get(j, "exceptions");
    UNIT_STREQ("applied", json_string_value(json_array_get(json_object_get(x, "applied"), 0)),
               "CVE-3");
    UNIT_STREQ("expired", json_string_value(json_array_get(json_object_get(x, "expired"), 0)),
               "CVE-7");
    UNIT_CHECK("no approvals", json_object_get(j, "approvals") == NULL);
    UNIT_CHECK("hash", jstr(j, "policy_hash") && strlen(jstr(j, "policy_hash")) == 64);
    tg_decision_dispose(&d);
}

static void check_other_json(void)
{
    static const struct doc high[] = {
        CLEAN_SAST, {"trivy-report.json", TRIVY(V("CVE-2", "HIGH", "a"))}, {0}};
    struct tg_decision d;
    struct tweak feature = {.ref = "feature/x"}, main = {0};
    json_t *j = decide_json(POLICY, &feature, high, "2026-06-01", &d);
    UNIT_CHECK("skip json", j && json_is_null(json_object_get(j, "environment")));
    UNIT_CHECK("skip json", j && json_array_size(json_object_get(j, "reports")) == 0);
    UNIT_CHECK("skip struct", j && d.environment == NULL && d.verdict == TG_VERDICT_SKIP);
    if (j)
        tg_decision_dispose(&d);
    j = decide_json(
        POLICY "    approvals: { approvers: [carol], expire: 2h, prevent_self_approval: false }\n",
        &main, high, "2026-06-01", &d);
    json_t *a = j ? json_object_get(j, "approvals") : NULL;
    UNIT_CHECK("approvals json", a && json_integer_value(json_object_get(a, "required")) == 1);
    UNIT_CHECK("approvals json",
               a && json_integer_value(json_object_get(a, "expire_ms")) == 7200000);
    UNIT_CHECK("approvals json", a && json_is_false(json_object_get(a, "prevent_self_approval")));
    UNIT_STREQ("approvers",
               a ? json_string_value(json_array_get(json_object_get(a, "approvers"), 0)) : NULL,
               "carol");
    UNIT_CHECK("approvals struct", j && d.approvals.required == 1 &&
                                       d.approvals.expire_ms == 7200000 &&
                                       !d.approvals.prevent_self_approval);
    if (j)
        tg_decision_dispose(&d);
}

/* ---- load errors ---- */

static const struct {
    const char *name, *yaml, *want; /* want: one diag message, exactly */
} load_errors[] = {
    {"no version", "environments: {}\n", "e.yaml:1:1: error: version is required (version: 1)"},
    {"version 2", "version: 2\n",
     "e.yaml:1:10: error: unsupported version 2 (this Tollgate reads version 1)"},
    {"unknown top key", "version: 1\nenviroments: {}\n",
     "e.yaml:2:1: error: unknown key \"enviroments\" in a policy file"},
    {"unknown env key",
     "version: 1\nenvironments:\n  prod:\n    branches: [main]\n    branchs: [dev]\n",
     "e.yaml:5:5: error: unknown key \"branchs\" in an environment"},
    {"neither branches nor tags", "version: 1\nenvironments:\n  prod:\n    require_jobs: [a]\n",
     "e.yaml:3:3: error: environment \"prod\" needs branches or tags (the refs that deploy to it)"},
    {"empty branches", "version: 1\nenvironments:\n  prod: { branches: [] }\n",
     "e.yaml:3:3: error: environment \"prod\" needs branches or tags (the refs that deploy to it)"},
    {"unknown severity",
     "version: 1\nenvironments:\n  prod:\n    branches: [main]\n    severity:\n      block: { "
     "urgent: 0 }\n",
     "e.yaml:6:16: error: unknown severity \"urgent\" in severity.block (critical, high, medium, "
     "low, info, unknown)"},
    {"capitalised severity",
     "version: 1\nenvironments:\n  p:\n    branches: [main]\n    severity: { approve: { High: 1 } "
     "}\n",
     "e.yaml:5:28: error: unknown severity \"High\" in severity.approve"},
    {"negative threshold",
     "version: 1\nenvironments:\n  prod:\n    branches: [main]\n    severity:\n      block: { "
     "high: -1 }\n",
     "e.yaml:6:22: error: severity.block.high: \"-1\" must be a whole number, 0 or more"},
    {"twice",
     "version: 1\nenvironments:\n  p:\n    branches: [main]\n    severity: { block: { high: 1, "
     "high: 2 } }\n",
     "e.yaml:5:35: error: severity \"high\" appears twice in severity.block"},
    {"unknown severity rule",
     "version: 1\nenvironments:\n  p:\n    branches: [main]\n    severity: { deny: {} }\n",
     "e.yaml:5:17: error: unknown key \"deny\" in severity"},
    {"bad on_missing",
     "version: 1\nenvironments:\n  p:\n    branches: [main]\n    on_missing_report: fail\n",
     "e.yaml:5:24: error: on_missing_report: \"fail\" is not block, skip or ignore"},
    {"bad format",
     "version: 1\nenvironments:\n  p:\n    branches: [main]\n    reports:\n"
     "      - { job: t, artifact: r.json, format: trivvy }\n",
     "e.yaml:6:45: error: unknown report format \"trivvy\" (auto, trivy, horusec, gitlab, sarif, "
     "grype)"},
    {"report needs artifact",
     "version: 1\nenvironments:\n  p:\n    branches: [main]\n    reports: [ { job: t } ]\n",
     "e.yaml:5:16: error: a report entry needs job and artifact"},
    {"absolute artifact",
     "version: 1\nenvironments:\n  p:\n    branches: [main]\n    reports: [ { job: t, artifact: "
     "/etc/passwd } ]\n",
     "e.yaml:5:36: error: artifact \"/etc/passwd\" must be a relative path inside the job's "
     "artifacts"},
    {"approvers too few",
     "version: 1\nenvironments:\n  p:\n    branches: [main]\n"
     "    approvals: { required: 2, approvers: [alice] }\n",
     "e.yaml:5:28: error: approvals.required is 2 but only 1 approver is listed"},
    {"bad expire",
     "version: 1\nenvironments:\n  p:\n    branches: [main]\n    approvals: { expire: soon }\n",
     "e.yaml:5:26: error: expire: \"soon\" is not a duration (examples: 500ms, 2s, 5m, 24h, 7d)"},
    {"bad env name", "version: 1\nenvironments:\n  \"prod:eu\": { branches: [main] }\n",
     "e.yaml:3:3: error: environment name \"prod:eu\" may hold only letters, digits, '.', '_', '-' "
     "and '/'"},
    {"env twice",
     "version: 1\nenvironments:\n  p: { branches: [main] }\n  q: { branches: [dev] }\n  p: { tags: "
     "[v1] }\n",
     "e.yaml:5:3: error: environment \"p\" is already defined at e.yaml:3"},
    {"bad date",
     "version: 1\nexceptions:\n  - { id: CVE-1, until: 2027-02-30x, reason: r, by: a }\n",
     "e.yaml:3:25: error: until: \"2027-02-30x\" is not a date (2027-01-31) or an RFC 3339 time"},
    {"impossible month",
     "version: 1\nexceptions:\n  - { id: CVE-1, until: 2027-13-01, reason: r, by: a }\n",
     "e.yaml:3:25: error: until: \"2027-13-01\" is not a date"},
    {"february 30",
     "version: 1\nexceptions:\n  - { id: CVE-1, until: 2027-02-30, reason: r, by: a }\n",
     "e.yaml:3:25: error: until: \"2027-02-30\" is not a date (2027-01-31) or an RFC 3339 time"},
    {"february 30 as a time",
     "version: 1\nexceptions:\n  - { id: CVE-1, until: '2027-02-30T00:00:00Z', reason: r, by: a "
     "}\n",
     "e.yaml:3:25: error: until: \"2027-02-30T00:00:00Z\" is not a date"},
    {"exception owner",
     "version: 1\nexceptions:\n  - { id: CVE-1, until: 2027-01-01, reason: r }\n",
     "e.yaml:3:5: error: an exception needs id, until, reason and by"},
    {"exception key",
     "version: 1\nexceptions:\n  - { id: CVE-1, until: 2027-01-01, reason: r, by: a, owner: b }\n",
     "e.yaml:3:55: error: unknown key \"owner\" in exception"},
    {"exceptions map", "version: 1\nexceptions: { id: CVE-1 }\n",
     "e.yaml:2:13: error: exceptions must be a list"},
    {"syntax", "version: 1\nenvironments:\n  p: [\n", "e.yaml:4:1: error: YAML syntax"},
    {"not a mapping", "- version: 1\n", "e.yaml:1:1: error: a policy file must be a mapping"},
    {"unknown source",
     "version: 1\nenvironments:\n  p:\n    branches: [main]\n    sources: [push, pusj]\n",
     "e.yaml:5:21: error: unknown pipeline source \"pusj\" in sources (push, web, api, schedule, "
     "merge_request_event, trigger, pipeline, parent_pipeline, chat, webide, external, "
     "external_pull_request_event, "
     "ondemand_dast_scan, ondemand_dast_validation, security_orchestration_policy, "
     "container_registry_push, "
     "pipeline_execution_policy, pipeline_execution_policy_schedule, duo_workflow)"},
    {"sources map",
     "version: 1\nenvironments:\n  p:\n    branches: [main]\n    sources: { push: 1 }\n",
     "e.yaml:5:14: error: sources must be a list"},
    {"child job: bad pipeline",
     "version: 1\nenvironments:\n  p:\n    branches: [main]\n"
     "    require_jobs: [a, { job: b, pipeline: parent }]\n",
     "e.yaml:5:43: error: pipeline: \"parent\" is not child (leave it out for a job of the "
     "pipeline itself)"},
    {"child job: no name",
     "version: 1\nenvironments:\n  p:\n    branches: [main]\n"
     "    require_jobs: [{ pipeline: child }]\n",
     "e.yaml:5:20: error: a require_jobs entry needs job"},
    {"child job: unknown key",
     "version: 1\nenvironments:\n  p:\n    branches: [main]\n"
     "    require_jobs: [{ name: b, pipeline: child }]\n",
     "e.yaml:5:22: error: unknown key \"name\" in require_jobs entry"},
    {"child report: bad pipeline",
     "version: 1\nenvironments:\n  p:\n    branches: [main]\n    reports:\n"
     "      - { job: t, artifact: r.json, pipeline: downstream }\n",
     "e.yaml:6:47: error: pipeline: \"downstream\" is not child (leave it out for a job of the "
     "pipeline itself)"},
    {"ignore_projects map", "version: 1\nignore_projects: { a: b }\n",
     "e.yaml:2:18: error: ignore_projects must be a list"},
    {"ignore_projects empty glob", "version: 1\nignore_projects: [\"\"]\n",
     "e.yaml:2:19: error: an ignore_projects entry must not be empty"},
};

static void check_load_errors(void)
{
    for (size_t i = 0; i < TG_ARRAY_SIZE(load_errors); i++) {
        struct tg_diag diag;
        tg_diag_init(&diag);
        const char *y = load_errors[i].yaml;
        struct tg_policy_set *ps = tg_policy_load_mem("e.yaml", y, strlen(y), &diag);
        unit_refused(load_errors[i].name, ps == NULL, &diag, load_errors[i].want);
        tg_policy_set_free(ps);
        tg_diag_dispose(&diag);
    }
}

/* All faults of a file are reported, not only the first. */
static void check_many_errors(void)
{
    static const char y[] =
        "version: 1\nenvironments:\n  p:\n    severity: { block: { x: 1, high: -2 } }\n"
        "exceptions:\n  - { id: A }\n";
    struct tg_diag diag;
    tg_diag_init(&diag);
    struct tg_policy_set *ps = tg_policy_load_mem("m.yaml", y, sizeof y - 1, &diag);
    UNIT_CHECK("many errors", ps == NULL && diag.errors == 4);
    tg_diag_dispose(&diag);
}

/* ---- files, defaults, hash ---- */

static void check_dir(void)
{
    char dir[] = "/tmp/tg-policy-XXXXXX";
    struct tg_diag diag;
    tg_diag_init(&diag);
    UNIT_CHECK("mkdtemp", mkdtemp(dir) != NULL);
    struct tg_policy_set *ps = tg_policy_load_dir(dir, &diag);
    UNIT_CHECK("empty dir",
               ps == NULL && diag.errors == 1 && strstr(diag.msgs[0].text, "no policy files"));
    unit_write(dir, "20-rest.yaml", "version: 1\nenvironments:\n  rest: { branches: [\"*\"] }\n");
    unit_write(dir, "10-main.yaml", "version: 1\nenvironments:\n  prod: { branches: [main] }\n");
    unit_write(dir, ".hidden.yaml", "not: [valid\n");
    unit_write(dir, "notes.txt", "not yaml at all: [\n");
    tg_diag_dispose(&diag);
    ps = tg_policy_load_dir(dir, &diag);
    UNIT_CHECK("dir loads", ps != NULL && diag.count == 0);
    if (ps) {
        const struct tg_policy_set *set = ps;
        UNIT_CHECK("file order", strlen(tg_policy_set_hash(set)) == 64);
    }
    struct tg_event ev;
    struct tg_decision d;
    struct served none = {(const struct doc[]){{0}}, 0};
    char err[128];
    if (ps && make_event(&(struct tweak){0}, &ev) == 0) {
        UNIT_CHECK("10- before 20-", decide(&(struct world){ps, &ev, 0, fetch, &none, NULL, NULL},
                                            &d, err, sizeof err) == 0 &&
                                         strcmp(d.environment, "prod") == 0);
        tg_decision_dispose(&d);
        tg_event_dispose(&ev);
    }
    tg_policy_set_free(ps);
    unit_write(dir, "30-dup.yaml", "version: 1\nenvironments:\n  prod: { branches: [x] }\n");
    tg_diag_dispose(&diag);
    ps = tg_policy_load_dir(dir, &diag);
    char *want =
        tg_xasprintf("%s/30-dup.yaml:3:3: error: environment \"prod\" is already defined at "
                     "%s/10-main.yaml:3",
                     dir, dir);
    UNIT_CHECK("duplicate across files", ps == NULL && diag.errors == 1);
    UNIT_STREQ("duplicate across files", diag.count ? diag.msgs[0].text : NULL, want);
    free(want);
    tg_diag_dispose(&diag);
    unit_cleanup(dir, (const char *const[]){"10-main.yaml", "20-rest.yaml", "30-dup.yaml",
                                            ".hidden.yaml", "notes.txt", NULL});
}

/* The hash is documented: per file, base name NUL length NUL bytes. */
static void check_hash(void)
{
    static const char y[] = "version: 1\n";
    struct tg_diag diag;
    unsigned char raw[TG_SHA256_LEN];
    char want[TG_SHA256_HEX_LEN + 1];
    struct tg_sha256 h;
    tg_diag_init(&diag);
    tg_sha256_init(&h);
    tg_sha256_update(&h,
                     "a.yaml\0"
                     "11",
                     10); /* with the literal's own NUL */
    tg_sha256_update(&h, y, sizeof y - 1);
    tg_sha256_final(&h, raw);
    tg_hex_encode(raw, sizeof raw, want);
    struct tg_policy_set *ps = tg_policy_load_mem("dir/a.yaml", y, sizeof y - 1, &diag);
    UNIT_STREQ("hash formula", ps ? tg_policy_set_hash(ps) : NULL, want);
    tg_policy_set_free(ps);
    ps = tg_policy_load_mem("dir/a.yaml", "version: 1 \n", 12, &diag);
    UNIT_CHECK("hash changes", ps && strcmp(tg_policy_set_hash(ps), want) != 0);
    tg_policy_set_free(ps);
    tg_diag_dispose(&diag);
}

/* The shipped policy loads and says what the README says it does. */
static void check_shipped(void)
{
    struct tg_diag diag;
    tg_diag_init(&diag);
    struct tg_policy_set *ps = tg_policy_load_dir("policies", &diag);
    UNIT_CHECK("shipped policies load", ps != NULL && diag.count == 0);
    tg_diag_print(&diag, stderr);
    tg_policy_set_free(ps);
    tg_diag_dispose(&diag);
}

/* ---- pipelines never decided ---- */

static void check_ignored(void)
{
    static const char y[] = "version: 1\nignore_projects: [shop/helm-charts, \"*/charts/*\"]\n"
                            "environments:\n  p: { branches: [main], sources: [trigger] }\n";
    static const struct {
        const char *name, *project, *variables, *why; /* why NULL: decided */
    } cases[] = {
        {"chart project", "shop/helm-charts", NULL,
         "project shop/helm-charts matches ignore_projects "
         "\"shop/helm-charts\" (i.yaml:2)"},
        {"chart glob", "platform/charts/cart", NULL, "matches ignore_projects \"*/charts/*\""},
        {"marker, even with sources: [trigger]", "shop/cart",
         "[{\"key\":\"TOLLGATE_DEPLOYMENT\",\"value\":\"d1/2\"}]",
         "Tollgate triggered this pipeline (TOLLGATE_DEPLOYMENT=d1/2)"},
        {"other variables", "shop/cart", "[{\"key\":\"TOLLGATE\",\"value\":\"x\"}]", NULL},
        {"plain project", "shop/cart", NULL, NULL},
    };
    struct tg_diag diag;
    tg_diag_init(&diag);
    struct tg_policy_set *ps = tg_policy_load_mem("i.yaml", y, sizeof y - 1, &diag);
    UNIT_CHECK("ignore load", ps != NULL);
    for (size_t i = 0; ps && i < TG_ARRAY_SIZE(cases); i++) {
        struct tweak t = {
            .project = cases[i].project, .variables = cases[i].variables, .source = "trigger"};
        struct tg_event ev;
        char why[512] = "";
        if (make_event(&t, &ev))
            continue;
        int ignored = tg_policy_ignored(ps, &ev, why, sizeof why);
        UNIT_CHECK(cases[i].name, ignored == (cases[i].why != NULL));
        if (cases[i].why)
            UNIT_CHECK(cases[i].name, strstr(why, cases[i].why) != NULL);
        tg_event_dispose(&ev);
    }
    tg_policy_set_free(ps);
    tg_diag_dispose(&diag);
}

/* ---- jobs of child pipelines ---- */

struct kids {
    const char *name;
    const char *pstatus; /* the child pipeline's status; NULL: the bridge made none yet */
    const char *jstatus; /* trivy-scan's status; NULL: no such job */
    int fail;            /* the callback fails */
};

static int list_kids(void *arg, const struct tg_event *ev, struct tg_children *out, char *err,
                     size_t errlen)
{
    const struct kids *k = arg;
    if (k->fail) {
        snprintf(err, errlen, "bridges of pipeline %lld: HTTP 502", ev->pipeline_id);
        return -1;
    }
    out->pipelines = tg_xcalloc(1, sizeof *out->pipelines);
    out->npipelines = 1;
    out->pipelines[0] = (struct tg_child_pipeline){tg_xstrdup("scans"), 77, k->pstatus ? 5002 : 0,
                                                   tg_xstrdup(k->pstatus ? k->pstatus : "created")};
    if (k->jstatus) {
        out->jobs = tg_xcalloc(2, sizeof *out->jobs);
        out->jobs[0] =
            (struct tg_child_job){77, 5002, 900, tg_xstrdup("trivy-scan"), tg_xstrdup("failed")};
        out->jobs[1] =
            (struct tg_child_job){77, 5002, 901, tg_xstrdup("trivy-scan"), tg_xstrdup(k->jstatus)};
        out->njobs = 2;
    }
    return 0;
}

/* The report of a child job is fetched from the child's project and latest job. */
static enum tg_fetch_result fetch_child(void *arg, const struct tg_policy_report *ref,
                                        tg_report_sink_fn sink, void *sink_arg, char *err,
                                        size_t errlen)
{
    if (strcmp(ref->job, "trivy-scan") == 0 && (ref->project_id != 77 || ref->job_id != 901))
        return TG_FETCH_NOT_FOUND;
    return fetch(arg, ref, sink, sink_arg, err, errlen);
}

static void check_children(void)
{
    static const struct doc docs[] = {{"trivy-report.json", TRIVY(V("CVE-1", "HIGH", "a"))}, {0}};
    static const struct {
        struct kids kids;
        int rc, verdict, pending;
        const char *reason;
    } cases[] = {
        {{"child finished, clean of criticals", "success", "success", 0},
         0,
         TG_VERDICT_NEEDS_APPROVAL,
         0,
         "high 1 > 0 in trivy-scan/trivy-report.json: CVE-1"},
        {{"child job failed", "failed", "failed", 0},
         0,
         TG_VERDICT_BLOCK,
         0,
         "required job trivy-scan (child pipeline 5002) is failed"},
        {{"child still running", "running", "running", 0},
         0,
         TG_VERDICT_BLOCK,
         1,
         "required job trivy-scan (child pipeline 5002) is running"},
        {{"child job not created yet", "running", NULL, 0},
         0,
         TG_VERDICT_BLOCK,
         1,
         "no job trivy-scan yet: child pipeline 5002 is running (not terminal yet)"},
        {{"bridge has no pipeline yet", NULL, NULL, 0},
         0,
         TG_VERDICT_BLOCK,
         1,
         "bridge scans has not created its child pipeline"},
        {{"no such child job", "success", NULL, 0},
         0,
         TG_VERDICT_BLOCK,
         0,
         "no job trivy-scan in the child pipelines (1 found)"},
        {{"GitLab cannot tell", "success", "success", 1},
         -1,
         0,
         0,
         "bridges of pipeline 31: HTTP 502"},
    };
    struct tg_diag diag;
    tg_diag_init(&diag);
    struct tg_policy_set *ps =
        tg_policy_load_mem("c.yaml", CHILD_POLICY, strlen(CHILD_POLICY), &diag);
    UNIT_CHECK("child policy", ps != NULL);
    for (size_t i = 0; ps && i < TG_ARRAY_SIZE(cases); i++) {
        struct served served = {docs, 0};
        struct world w = {ps,      NULL,      1780000000000ULL,      fetch_child,
                          &served, list_kids, (void *)&cases[i].kids};
        struct tweak t = {.drop = "trivy-scan"}; /* the parent has no trivy-scan of its own */
        struct tg_event ev;
        struct tg_decision d;
        char err[256] = "";
        const char *name = cases[i].kids.name;
        if (make_event(&t, &ev))
            continue;
        w.ev = &ev;
        int rc = decide(&w, &d, err, sizeof err);
        char *reasons = rc == 0 ? joined(d.reasons) : tg_xstrdup(err);
        UNIT_CHECK(name, rc == cases[i].rc);
        UNIT_CHECK(name, rc != 0 || ((int)d.verdict == cases[i].verdict &&
                                     d.children_pending == cases[i].pending));
        UNIT_CHECK(name, strstr(reasons, cases[i].reason) != NULL);
        if (strstr(reasons, cases[i].reason) == NULL)
            fprintf(stderr, "  [%s] %s\n", name, reasons);
        if (rc == 0) {
            json_t *c = json_object_get(d.json, "children");
            UNIT_CHECK(name, json_is_true(json_object_get(c, "looked_up")));
            UNIT_CHECK(name,
                       json_integer_value(json_object_get(
                           json_array_get(json_object_get(c, "pipelines"), 0), "project")) == 77);
            tg_decision_dispose(&d);
        }
        free(reasons);
        tg_event_dispose(&ev);
    }
    tg_policy_set_free(ps);
    tg_diag_dispose(&diag);
}

/* ---- the phases themselves ---- */

/* The plan names what to fetch and nothing more; the judge refuses a plan it cannot trust. */
static void check_phases(void)
{
    static const char text[] = POLICY EXC("CVE-1", "2030-01-01", "");
    struct tg_diag diag;
    struct tg_event ok, failed, nojob;
    struct tg_policy_plan plan;
    struct tg_decision d;
    char err[256] = "";
    tg_diag_init(&diag);
    struct tg_policy_set *ps = tg_policy_load_mem("p.yaml", text, strlen(text), &diag);
    struct tg_policy_set *cps =
        tg_policy_load_mem("c.yaml", CHILD_POLICY, strlen(CHILD_POLICY), &diag);
    UNIT_CHECK("phases: policies", ps != NULL && cps != NULL);
    if (ps == NULL || cps == NULL || make_event(&(struct tweak){0}, &ok) ||
        make_event(&(struct tweak){.status = "failed"}, &failed) ||
        make_event(&(struct tweak){.drop = "trivy-scan"}, &nojob))
        return;
    struct tg_policy_input in = {ps, &ok, NULL, 0, 1780000000000ULL};
    tg_policy_plan(&in, &plan);
    UNIT_CHECK("plan: two reports, no children", plan.nreports == 2 && !plan.want_children);
    UNIT_CHECK("plan: located at their jobs",
               plan.nreports == 2 && plan.reports[0].located && plan.reports[0].job_id > 0 &&
                   strcmp(plan.reports[1].artifact, "out/trivy-report.json") == 0);
    UNIT_CHECK("plan: the accepted-risk ids", plan.nids == 1 && strcmp(plan.ids[0], "CVE-1") == 0);
    UNIT_CHECK("judge: located reports never counted are refused",
               tg_policy_judge(&in, &plan, &d, err, sizeof err) == -1 &&
                   strstr(err, "do not fit") != NULL && d.json == NULL);
    tg_policy_plan_dispose(&plan);
    in.ev = &failed;
    tg_policy_plan(&in, &plan);
    UNIT_CHECK("plan: nothing to fetch for a failed pipeline", plan.nreports == 0);
    UNIT_CHECK("judge: the failed pipeline is skipped",
               tg_policy_judge(&in, &plan, &d, err, sizeof err) == 0 &&
                   strcmp(d.rule, "pipeline_status") == 0);
    tg_decision_dispose(&d);
    tg_policy_plan_dispose(&plan);
    in.ev = &nojob;
    tg_policy_plan(&in, &plan);
    UNIT_CHECK("plan: nothing to fetch when a required job is missing", plan.nreports == 0);
    tg_policy_plan_dispose(&plan);
    in = (struct tg_policy_input){cps, &nojob, NULL, 0, 1780000000000ULL};
    tg_policy_plan(&in, &plan);
    UNIT_CHECK("plan: child jobs named, the children first",
               plan.want_children && plan.nreports == 0);
    UNIT_CHECK("judge: refuses without the children it needs",
               tg_policy_judge(&in, &plan, &d, err, sizeof err) == -1 &&
                   strstr(err, "child pipelines") != NULL);
    tg_policy_plan_dispose(&plan);
    tg_event_dispose(&ok);
    tg_event_dispose(&failed);
    tg_event_dispose(&nojob);
    tg_policy_set_free(ps);
    tg_policy_set_free(cps);
    tg_diag_dispose(&diag);
}

int main(void)
{
    for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++)
        check_row(&rows[i]);
    check_block_json();
    check_other_json();
    check_load_errors();
    check_many_errors();
    check_dir();
    check_hash();
    check_shipped();
    check_ignored();
    check_children();
    check_phases();
    UNIT_STREQ("verdict names", tg_verdict_name(TG_VERDICT_NEEDS_APPROVAL), "needs_approval");
    return unit_summary("test_policy");
}
