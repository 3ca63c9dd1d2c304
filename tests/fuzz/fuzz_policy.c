/* fuzz_policy.c -- tg_policy_load_mem on any YAML; a policy that loads must also decide a
 * fixed successful push pipeline on main (one served Trivy report, the rest not found; one
 * finished child pipeline with a trivy-scan job) without a crash, and say why. */
#include "decide/gitlab.h"
#include "decide/policy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char event_json[] = "{\"object_kind\":\"pipeline\",\"object_attributes\":{\"id\":7,"
                                 "\"ref\":\"main\",\"status\":\"success\","
                                 "\"sha\":\"abc\",\"source\":\"push\"},\"project\":{\"id\":1,"
                                 "\"path_with_namespace\":\"shop/cart\"},\"builds\":["
                                 "{\"id\":1,\"name\":\"trivy-scan\",\"status\":\"success\"},{"
                                 "\"id\":2,\"name\":\"horusec\",\"status\":\"success\"}]}";
static const char trivy[] =
    "{\"SchemaVersion\":2,\"Results\":[{\"Target\":\"t\",\"Vulnerabilities\":["
    "{\"VulnerabilityID\":\"CVE-1\",\"Severity\":\"CRITICAL\",\"PkgName\":\"a\"},"
    "{\"VulnerabilityID\":\"CVE-2\",\"Severity\":\"HIGH\",\"PkgName\":\"b\"}]}]}";

/* The served report counted: the Trivy report for artifacts named trivy-report.json. */
static void count(struct tg_policy_plan *plan, size_t i)
{
    const char *artifact = plan->reports[i].artifact;
    size_t n = strlen(artifact);
    struct tg_policy_counter *c = tg_policy_counter_new(plan, i, plan->reports[i].format);
    enum tg_fetch_result r = TG_FETCH_NOT_FOUND;
    if (n >= 17 && strcmp(artifact + n - 17, "trivy-report.json") == 0) {
        tg_policy_counter_sink(c, trivy, sizeof trivy - 1);
        r = TG_FETCH_OK;
    }
    char err[64] = "";
    if (tg_policy_counter_end(c, r, err, sizeof err) != 0)
        abort(); /* the fetch never fails */
}

static void children(struct tg_children *out)
{
    out->pipelines = calloc(1, sizeof *out->pipelines);
    out->jobs = calloc(1, sizeof *out->jobs);
    if (out->pipelines == NULL || out->jobs == NULL)
        abort();
    out->pipelines[0] = (struct tg_child_pipeline){strdup("scans"), 1, 8, strdup("success")};
    out->jobs[0] = (struct tg_child_job){1, 8, 3, strdup("trivy-scan"), strdup("success")};
    out->npipelines = 1;
    out->njobs = 1;
}

/* Plan, children, count, judge. */
static void decide(const struct tg_policy_set *ps, const struct tg_event *ev, struct tg_decision *d)
{
    struct tg_policy_input in = {ps, ev, NULL, 0, 1767225600000ULL};
    struct tg_policy_plan plan;
    struct tg_children kids = {0};
    char err[256];
    tg_policy_plan(&in, &plan);
    if (plan.want_children) {
        children(&kids);
        in.children = &kids;
        tg_policy_plan_dispose(&plan);
        tg_policy_plan(&in, &plan);
    }
    for (size_t i = 0; i < plan.nreports; i++)
        if (plan.reports[i].located)
            count(&plan, i);
    if (tg_policy_judge(&in, &plan, d, err, sizeof err) != 0)
        abort(); /* the plan was followed */
    tg_policy_plan_dispose(&plan);
    tg_children_dispose(&kids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tg_diag diag;
    struct tg_event ev;
    struct tg_decision d;
    char err[256];
    tg_diag_init(&diag);
    struct tg_policy_set *ps = tg_policy_load_mem("fuzz.yaml", (const char *)data, size, &diag);
    if (ps && tg_event_parse(&(struct tg_hook){NULL, event_json, sizeof event_json - 1}, &ev, err,
                             sizeof err) == 0) {
        decide(ps, &ev, &d);
        if (d.reasons == NULL || d.reasons[0] == NULL || d.json == NULL || d.rule == NULL)
            abort();
        tg_decision_dispose(&d);
        tg_event_dispose(&ev);
    }
    if (ps == NULL && diag.errors == 0)
        abort(); /* a refusal always says why */
    tg_policy_set_free(ps);
    tg_diag_dispose(&diag);
    return 0;
}
