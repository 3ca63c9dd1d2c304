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

static enum tg_fetch_result fetch(void *arg, const struct tg_report_ref *ref,
                                  tg_report_sink_fn sink, void *sink_arg, char *err, size_t errlen)
{
    (void)arg, (void)err, (void)errlen;
    size_t n = strlen(ref->artifact);
    if (n < 17 || strcmp(ref->artifact + n - 17, "trivy-report.json") != 0)
        return TG_FETCH_NOT_FOUND;
    sink(sink_arg, trivy, sizeof trivy - 1);
    return TG_FETCH_OK;
}

static int children(void *arg, const struct tg_event *ev, struct tg_children *out, char *err,
                    size_t errlen)
{
    (void)arg, (void)ev, (void)err, (void)errlen;
    out->pipelines = calloc(1, sizeof *out->pipelines);
    out->jobs = calloc(1, sizeof *out->jobs);
    if (out->pipelines == NULL || out->jobs == NULL)
        abort();
    out->pipelines[0] = (struct tg_child_pipeline){strdup("scans"), 1, 8, strdup("success")};
    out->jobs[0] = (struct tg_child_job){1, 8, 3, strdup("trivy-scan"), strdup("success")};
    out->npipelines = out->njobs = 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tg_diag diag;
    struct tg_event ev;
    struct tg_decision d;
    char err[256];
    tg_diag_init(&diag);
    struct tg_policy_set *ps = tg_policy_load_mem("fuzz.yaml", (const char *)data, size, &diag);
    if (ps && tg_event_parse(NULL, event_json, sizeof event_json - 1, &ev, err, sizeof err) == 0) {
        struct tg_decide_io io = {fetch, NULL, children, NULL};
        if (tg_policy_decide_io(ps, &ev, &io, 1767225600000ULL, &d, err, sizeof err) != 0)
            abort(); /* the fetch never fails */
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
