/* test_forward.c -- the DefectDojo forwarder's pure parts: report format -> scan_type (never
 * guessed), DefectDojo's answers read (201 ids and statistics, field errors, retryable or
 * final), and the defectdojo section's checks. */
#include "base/retryafter.h"
#include "forward/defectdojo.h"
#include "forward/dojo_config.h"
#include "forward/scan_type.h"
#include "unit.h"

#include <stdlib.h>

static void test_scan_types(void)
{
    static const struct {
        const char *name, *format, *gitlab, *configured, *want, *err_has;
    } rows[] = {
        {"trivy", "trivy", NULL, NULL, "Trivy Scan", NULL},
        {"horusec", "horusec", NULL, NULL, "Horusec Scan", NULL},
        {"sarif", "sarif", NULL, NULL, "SARIF", NULL},
        {"grype", "grype", NULL, NULL, "Anchore Grype", NULL},
        {"gitlab sast", "gitlab", "sast", NULL, "GitLab SAST Report", NULL},
        {"gitlab container", "gitlab", "container_scanning", NULL, "GitLab Container Scan", NULL},
        {"gitlab deps", "gitlab", "dependency_scanning", NULL, "GitLab Dependency Scanning Report",
         NULL},
        {"gitlab secrets", "gitlab", "secret_detection", NULL, "GitLab Secret Detection Report",
         NULL},
        {"gitlab dast", "gitlab", "dast", NULL, "GitLab DAST Report", NULL},
        {"gitlab api fuzzing", "gitlab", "api_fuzzing", NULL, "GitLab API Fuzzing Report Scan",
         NULL},
        {"gitlab old, configured", "gitlab", NULL, "GitLab SAST Report", "GitLab SAST Report",
         NULL},
        {"configured wins", "trivy", NULL, "Trivy Operator Scan", "Trivy Operator Scan", NULL},
        {"gitlab old, not configured", "gitlab", NULL, NULL, NULL, "without scan.type"},
        {"gitlab unknown type", "gitlab", "coverage_fuzzing", NULL, NULL, "coverage_fuzzing"},
        {"gitlab type is case-sensitive", "gitlab", "SAST", NULL, NULL, "\"SAST\""},
        {"auto never sent", "auto", NULL, NULL, NULL, "\"auto\""},
        {"empty configured is not a type", "gitlab", NULL, "", NULL, "without scan.type"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char err[320] = "";
        const char *got =
            tg_dojo_scan_type(rows[i].format, rows[i].gitlab, rows[i].configured, err, sizeof err);
        UNIT_STREQ(rows[i].name, got, rows[i].want);
        if (rows[i].err_has)
            UNIT_CHECK(rows[i].name, strstr(err, rows[i].err_has) != NULL);
    }
}

static void test_answers(void)
{
    static const struct {
        const char *name;
        long status;
        const char *body;
        enum tg_dojo_kind kind;
        const char *reason;
        long long test_id;
    } rows[] = {
        {"created", 201,
         "{\"test\":4,\"test_id\":4,\"engagement_id\":3,\"product_id\":2,\"product_type_id\":1,"
         "\"statistics\":{\"after\":{}},\"scan_type\":\"Trivy Scan\"}",
         TG_DOJO_OK, "", 4},
        {"field errors", 400,
         "{\"scan_type\":[\"\\\"X\\\" is not a valid choice.\"],\"file\":[\"No file was "
         "submitted.\"]}",
         TG_DOJO_FINAL,
         "DefectDojo answered 400: scan_type: \"X\" is not a valid choice.; file: No file was "
         "submitted.",
         0},
        {"detail", 403, "{\"detail\":\"Invalid token.\"}", TG_DOJO_KEY,
         "DefectDojo answered 403: Invalid token.", 0},
        {"not found html", 404, "<h1>Not\nFound</h1>", TG_DOJO_FINAL,
         "DefectDojo answered 404: <h1>Not?Found</h1>", 0},
        {"unavailable", 503, "{\"detail\":\"Service Unavailable\"}", TG_DOJO_RETRY,
         "DefectDojo answered 503: Service Unavailable", 0},
        {"throttled", 429, "", TG_DOJO_RETRY, "DefectDojo answered 429: ", 0},
        {"no answer", 0, "", TG_DOJO_RETRY, "DefectDojo answered 0: ", 0},
        {"201 without test_id", 201, "{\"id\":1}", TG_DOJO_FINAL,
         "DefectDojo answered 201 without a test_id: not a reimport-scan answer", 0},
        {"201 string test_id", 201, "{\"test_id\":\"4\"}", TG_DOJO_FINAL,
         "DefectDojo answered 201 without a test_id: not a reimport-scan answer", 0},
        {"redirect is final", 302, "", TG_DOJO_FINAL, "DefectDojo answered 302: ", 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct tg_dojo_answer a;
        tg_dojo_read_answer(rows[i].status, rows[i].body, strlen(rows[i].body), NULL, &a);
        UNIT_CHECK(rows[i].name, a.kind == rows[i].kind);
        UNIT_STREQ(rows[i].name, a.reason, rows[i].reason);
        if (rows[i].kind == TG_DOJO_OK) {
            UNIT_CHECK(rows[i].name,
                       json_integer_value(json_object_get(a.result, "test_id")) == rows[i].test_id);
            UNIT_CHECK(rows[i].name, json_object_get(a.result, "product_type_id") != NULL);
            UNIT_CHECK(rows[i].name, json_is_object(json_object_get(a.result, "statistics")));
            UNIT_CHECK(rows[i].name, json_object_get(a.result, "scan_type") == NULL);
        }
        tg_dojo_answer_dispose(&a);
    }
}

/* The key is taken out over the whole text before the cut, and a cut key's first part too. */
static void test_key_redaction(void)
{
    static char key_value[] = "dd-test-api-key-7f3a9c2e51";
    struct tg_secret key = {.value = key_value, .len = strlen(key_value)};
    static const size_t pads[] = {0, 370, 376, 380, 390, 396, 398, 399, 400, 1000};
    for (size_t i = 0; i < sizeof pads / sizeof pads[0]; i++) {
        for (int as_json = 0; as_json < 2; as_json++) {
            char body[1200], part[8];
            int n = as_json ? snprintf(body, sizeof body, "%s", "{\"detail\":\"") : 0;
            memset(body + n, 'x', pads[i]);
            n += (int)pads[i];
            n += snprintf(body + n, sizeof body - (size_t)n, "%s tail%s", key_value,
                          as_json ? "\"}" : "");
            struct tg_dojo_answer a;
            tg_dojo_read_answer(400, body, (size_t)n, &key, &a);
            memcpy(part, key_value, 6);
            part[6] = '\0';
            UNIT_CHECK("no part of the key after the cut", strstr(a.reason, part) == NULL);
            UNIT_CHECK("reason is bounded", strlen(a.reason) < sizeof a.reason);
            tg_dojo_answer_dispose(&a);
        }
    }
}

static void test_retry_after(void)
{
    uint64_t now = 1445412480000ull; /* Wed, 21 Oct 2015 07:28:00 GMT */
    static const uint64_t week = 7ull * 86400 * 1000;
    UNIT_CHECK("seconds", tg_retry_after_ms(" 120\r\n", now) == 120000);
    UNIT_CHECK("far seconds kept, clamped", tg_retry_after_ms(" 999999\r\n", now) == week);
    UNIT_CHECK("an hour", tg_retry_after_ms("3600", now) == 3600000);
    UNIT_CHECK("http-date", tg_retry_after_ms(" Wed, 21 Oct 2015 07:30:00 GMT\r\n", now) == 120000);
    UNIT_CHECK("past date", tg_retry_after_ms("Wed, 21 Oct 2015 07:00:00 GMT", now) == 0);
    UNIT_CHECK("far date clamped", tg_retry_after_ms("Thu, 01 Jan 2099 00:00:00 GMT", now) == week);
    UNIT_CHECK("garbage", tg_retry_after_ms("soon", now) == 0);
    UNIT_CHECK("trailing garbage", tg_retry_after_ms("12abc", now) == 0);
}

static struct tg_dojo_config *load(const char *text, size_t *errors)
{
    struct tg_diag diag;
    struct tg_yaml y;
    tg_diag_init(&diag);
    setenv("TG_UNIT_DD_KEY", "dd-unit-key-123456", 1);
    struct tg_dojo_config *c = NULL;
    if (tg_yaml_open_mem(&y, "t.yaml", text, strlen(text), &diag) == 0) {
        c = tg_dojo_config_load(&y, tg_yaml_get(&y, tg_yaml_root(&y), "defectdojo"), ".");
        tg_yaml_close(&y);
    }
    *errors = diag.errors;
    tg_diag_dispose(&diag);
    return c;
}

static void test_config(void)
{
    size_t errors;
    struct tg_dojo_config *c =
        load("defectdojo:\n  url: https://dd.example/\n  api_key: env:TG_UNIT_DD_KEY\n", &errors);
    UNIT_CHECK("defaults load", c && errors == 0);
    UNIT_STREQ("url trimmed", c->url, "https://dd.example");
    UNIT_STREQ("product default", c->product, "{{project.path}}");
    UNIT_STREQ("test_title default", c->test_title, "{{report.job}} / {{report.artifact}}");
    UNIT_STREQ("severity default", c->minimum_severity, "Info");
    UNIT_CHECK("forward default",
               c->forward == ((1u << TG_VERDICT_DEPLOY) | (1u << TG_VERDICT_BLOCK) |
                              (1u << TG_VERDICT_NEEDS_APPROVAL)));
    UNIT_CHECK("close_old_findings default", c->close_old_findings == 1);
    UNIT_STREQ("unmapped environment", tg_dojo_environment(c, "staging"), "staging");
    tg_dojo_config_free(c);
    static const char *const bad[] = {
        "defectdojo:\n  url: https://dd\n  api_key: env:TG_UNIT_DD_KEY\n  product: "
        "\"{{report.nope}}\"\n",
        "defectdojo:\n  url: https://dd\n  api_key: env:TG_UNIT_DD_KEY\n  forward: [skip]\n",
        "defectdojo:\n  url: https://dd\n  api_key: env:TG_UNIT_DD_KEY\n  timeout: 0s\n",
        "defectdojo:\n  url: https://dd\n  api_key: env:TG_UNIT_DD_KEY\n  colour: red\n",
        "defectdojo:\n  url: https://dd\n  api_key: inline-secret-value\n",
        "defectdojo:\n  api_key: env:TG_UNIT_DD_KEY\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tg_dojo_config_free(load(bad[i], &errors));
        UNIT_CHECK(bad[i], errors >= 1);
    }
}

int main(void)
{
    test_scan_types();
    test_answers();
    test_key_redaction();
    test_retry_after();
    test_config();
    return unit_summary("test_forward");
}
