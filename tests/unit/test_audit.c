/* test_audit.c -- canonical JSON and the chain hash (vectors computed with Python's json and
 * hashlib), index keys, scrubbing of secrets, query-string parsing, cursors and matching. */
#include "audit/audit.h"
#include "audit/audit_query.h"
#include "audit/audit_verify.h"
#include "base/util.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

/* audit.c, static in release builds */
char *canonical_clean(const struct tg_audit *a, json_t *rec);

struct chain_row {
    const char *name, *record, *prev, *canonical, *hash;
};

static const struct chain_row chain[] = {
    {"first record (keys unsorted, white space, a hash field to leave out, escapes, UTF-8)",
     "{ \"seq\": 1, \"time\": \"2026-11-26T14:21:02.250Z\", \"action\": \"decided\", \"actor\": "
     "\"gitlab:dora\",\n"
     "  \"project\": \"shop/cart\", \"ref\": \"dev\", \"sha\": \"4f2a\", \"pipeline\": 100, "
     "\"environment\": \"staging\",\n"
     "  \"decision\": \"deploy\", \"reasons\": [\"no finding above the limits\"],\n"
     "  \"details\": {\"note\": \"caf\\u00e9 \\\"q\\\" \\\\ \\u0001\", \"counts\": {\"high\": 1, "
     "\"critical\": 0}},\n"
     "  \"prev\": \"0000000000000000000000000000000000000000000000000000000000000000\", \"hash\": "
     "\"ignored\" }",
     TG_AUDIT_GENESIS,
     "{\"action\":\"decided\",\"actor\":\"gitlab:dora\",\"decision\":\"deploy\",\"details\":{"
     "\"counts\":{\"critical\":0,"
     "\"high\":1},\"note\":\"caf\xc3\xa9 \\\"q\\\" \\\\ "
     "\\u0001\"},\"environment\":\"staging\",\"pipeline\":100,\"prev\":"
     "\"0000000000000000000000000000000000000000000000000000000000000000\",\"project\":\"shop/"
     "cart\",\"reasons\":"
     "[\"no finding above the "
     "limits\"],\"ref\":\"dev\",\"seq\":1,\"sha\":\"4f2a\",\"time\":\"2026-11-26T14:21:02.250Z\"}",
     "d4f8174e2f03db20e595945ccc246cfd40de01ed9c5b15d15a0838f8b880d6d4"},
    {"second record chains on the first",
     "{\"seq\":2,\"time\":\"2026-11-26T14:21:02.250Z\",\"action\":\"triggered\",\"actor\":\"gitlab:"
     "dora\","
     "\"project\":\"shop/"
     "cart\",\"ref\":\"dev\",\"sha\":\"4f2a\",\"pipeline\":100,\"environment\":\"staging\","
     "\"decision\":null,\"reasons\":null,\"details\":null,"
     "\"prev\":\"d4f8174e2f03db20e595945ccc246cfd40de01ed9c5b15d15a0838f8b880d6d4\"}",
     "d4f8174e2f03db20e595945ccc246cfd40de01ed9c5b15d15a0838f8b880d6d4", NULL,
     "7df263f430fc562b9e913ecc1d3a9e6f93857a23e566be152f18cb0139eb8085"},
};

static void test_chain(void)
{
    for (size_t i = 0; i < TG_ARRAY_SIZE(chain); i++) {
        char hash[TG_SHA256_HEX_LEN + 1];
        json_t *rec = json_loads(chain[i].record, 0, NULL);
        char *canon = tg_audit_canonical(rec);
        if (chain[i].canonical)
            UNIT_STREQ(chain[i].name, canon, chain[i].canonical);
        tg_audit_chain_hash(chain[i].prev, canon, hash);
        UNIT_STREQ(chain[i].name, hash, chain[i].hash);
        free(canon);
        json_decref(rec);
    }
}

struct key_row {
    const char *name;
    enum tg_audit_index kind;
    const char *value, *project, *want;
};

/* Free text is named by its SHA-256 (F8: a token typed into a ref once became a key name);
 * Tollgate's vocabulary and fixed shapes stay readable. */
static const struct key_row keys[] = {
    {"project", TG_AUDIT_IDX_PROJECT, "shop/cart", NULL, "tg:audit:idx:project~h:%s"},
    {"ref", TG_AUDIT_IDX_REF, "release/1.2", NULL, "tg:audit:idx:ref~h:%s"},
    {"ref within its project", TG_AUDIT_IDX_PROJECT_REF, "release/1.2", "shop/cart",
     "tg:audit:idx:project_ref~h:%s"},
    {"a token typed as a ref", TG_AUDIT_IDX_REF, "glpat-abcdefghijklmnopqrst", NULL,
     "tg:audit:idx:ref~h:%s"},
    {"actor", TG_AUDIT_IDX_ACTOR, "gitlab:dora", NULL, "tg:audit:idx:actor~h:%s"},
    {"action", TG_AUDIT_IDX_ACTION, "approval_refused", NULL,
     "tg:audit:idx:action:approval_refused"},
    {"pipeline", TG_AUDIT_IDX_PIPELINE, "4711", NULL, "tg:audit:idx:pipeline:4711"},
    {"sha", TG_AUDIT_IDX_SHA, "%s", NULL, NULL},
    {"short sha is free text", TG_AUDIT_IDX_SHA, "4f2a", NULL, "tg:audit:idx:sha~h:%s"},
    {"action that is not one", TG_AUDIT_IDX_ACTION, "Approved By Me", NULL,
     "tg:audit:idx:action~h:%s"},
};

static void test_index_keys(void)
{
    char out[512], want[512], hex[TG_SHA256_HEX_LEN + 1];
    const char *sha = "0123456789abcdef0123456789abcdef01234567";
    for (size_t i = 0; i < TG_ARRAY_SIZE(keys); i++) {
        const char *value = strcmp(keys[i].value, "%s") == 0 ? sha : keys[i].value;
        char *hashed =
            keys[i].project ? tg_xasprintf("%s:%s", keys[i].project, value) : tg_xstrdup(value);
        tg_audit_index_key(out, sizeof out, "tg:",
                           &(struct tg_audit_index_ref){keys[i].kind, value, keys[i].project});
        tg_sha256_hex(hashed, strlen(hashed), hex);
        if (keys[i].want)
            snprintf(want, sizeof want, keys[i].want, hex);
        else
            snprintf(want, sizeof want, "tg:audit:idx:sha:%s", sha);
        UNIT_STREQ(keys[i].name, out, want);
        UNIT_CHECK(keys[i].name, strstr(out, "glpat-") == NULL);
        free(hashed);
    }
}

static void test_scrub(void)
{
    struct tg_webhook hook = {.name = "default",
                              .token = {.value = "s3cr3t-webhook-token", .len = 20}};
    struct tg_api_token api = {.token = {.value = "api\"token\\quoted", .len = 17},
                               .identity = "alice"};
    struct tg_config cfg = {.redis = {.prefix = "tg:"},
                            .webhooks = &hook,
                            .nwebhooks = 1,
                            .api_tokens = &api,
                            .napi_tokens = 1};
    struct tg_audit *a = tg_audit_new(&cfg);
    json_t *rec =
        json_pack("{s:s, s:[s], s:{s:s, s:o}}", "action", "received", "reasons",
                  "x api\"token\\quoted y", "details", "echo", "got s3cr3t-webhook-token back",
                  "bad", json_stringn_nocheck("x\xff", 2));
    char *canon = canonical_clean(a, rec);
    UNIT_CHECK("secret redacted",
               strstr(canon, "s3cr3t") == NULL && strstr(canon, "[redacted") != NULL);
    UNIT_CHECK("secret spelt with escapes redacted", strstr(canon, "quoted") == NULL);
    UNIT_CHECK("bad UTF-8 replaced", strstr(canon, "[not UTF-8]") != NULL);
    free(canon);
    json_decref(rec);
    tg_audit_free(a);
}

struct parse_row {
    const char *name, *qs;
    int rc;
    const char *project, *ref;
    long long pipeline;
    unsigned long long since, until;
    int limit, desc;
};

#define OPEN UINT64_MAX
static const struct parse_row parses[] = {
    {"defaults", "", 0, NULL, NULL, 0, 0, OPEN, 100, 1},
    {"filters decoded", "project=shop%2Fcart&ref=release/1.2&pipeline=100", 0, "shop/cart",
     "release/1.2", 100, 0, OPEN, 100, 1},
    {"empty pairs skipped", "&&project=a&", 0, "a", NULL, 0, 0, OPEN, 100, 1},
    {"limit and order", "limit=1000&order=asc", 0, NULL, NULL, 0, 0, OPEN, 1000, 0},
    {"times", "since=2026-11-26T14:21:02Z&until=2027-01-31", 0, NULL, NULL, 0, 1795702862000ULL,
     1801353600000ULL, 100, 1},
    {"unencoded + of an offset", "since=2026-11-26T16:21:02+02:00", 0, NULL, NULL, 0,
     1795702862000ULL, OPEN, 100, 1},
    {"limit 0", "limit=0", -1, NULL, NULL, 0, 0, 0, 0, 0},
    {"limit over max", "limit=1001", -1, NULL, NULL, 0, 0, 0, 0, 0},
    {"bad order", "order=up", -1, NULL, NULL, 0, 0, 0, 0, 0},
    {"since after until", "since=2026-11-28&until=2026-11-27", -1, NULL, NULL, 0, 0, 0, 0, 0},
    {"bad time", "since=yesterday", -1, NULL, NULL, 0, 0, 0, 0, 0},
    {"unknown parameter", "proj=a", -1, NULL, NULL, 0, 0, 0, 0, 0},
    {"repeated parameter", "project=a&project=b", -1, NULL, NULL, 0, 0, 0, 0, 0},
    {"empty value", "project=", -1, NULL, NULL, 0, 0, 0, 0, 0},
    {"no value", "project&limit=5", -1, NULL, NULL, 0, 0, 0, 0, 0},
    {"bad pipeline", "pipeline=-5", -1, NULL, NULL, 0, 0, 0, 0, 0},
    {"bad cursor", "cursor=xyz", -1, NULL, NULL, 0, 0, 0, 0, 0},
};

static void test_parse(void)
{
    char err[256];
    struct tg_audit_query q;
    for (size_t i = 0; i < TG_ARRAY_SIZE(parses); i++) {
        const struct parse_row *r = &parses[i];
        int rc = tg_audit_query_parse(r->qs, &q, err, sizeof err);
        UNIT_CHECK(r->name, rc == r->rc);
        if (rc == 0 && r->rc == 0) {
            UNIT_STREQ(r->name, q.project, r->project);
            UNIT_STREQ(r->name, q.ref, r->ref);
            UNIT_CHECK(r->name, q.pipeline == r->pipeline && q.since_ms == r->since &&
                                    q.until_ms == r->until);
            UNIT_CHECK(r->name, q.limit == r->limit && q.desc == r->desc);
        }
        tg_audit_query_dispose(&q);
    }
}

static void test_cursor(void)
{
    struct tg_audit_query q, other;
    char cur[TG_AUDIT_CURSOR_MAX], err[256], qs[128];
    long long seq = 0;
    tg_audit_query_parse("project=shop%2Fcart&order=asc", &q, err, sizeof err);
    tg_audit_cursor_encode(&q, 4711, cur);
    UNIT_CHECK("url-safe",
               strspn(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
                   strlen(cur));
    UNIT_CHECK("round trip", tg_audit_cursor_decode(&q, cur, &seq) == 0 && seq == 4711);
    snprintf(qs, sizeof qs, "project=shop%%2Fcart&order=asc&limit=7&cursor=%s", cur);
    UNIT_CHECK("through the parser",
               tg_audit_query_parse(qs, &other, err, sizeof err) == 0 && other.after == 4711);
    tg_audit_query_dispose(&other);
    tg_audit_query_parse("project=shop%2Fother&order=asc", &other, err, sizeof err);
    UNIT_CHECK("other filters refused", tg_audit_cursor_decode(&other, cur, &seq) == -1);
    tg_audit_query_dispose(&other);
    tg_audit_query_parse("project=shop%2Fcart", &other, err, sizeof err);
    UNIT_CHECK("other order refused", tg_audit_cursor_decode(&other, cur, &seq) == -1);
    tg_audit_query_dispose(&other);
    cur[strlen(cur) - 1] ^= 1;
    UNIT_CHECK("altered refused", tg_audit_cursor_decode(&q, cur, &seq) == -1);
    UNIT_CHECK("empty refused", tg_audit_cursor_decode(&q, "", &seq) == -1);
    tg_audit_query_dispose(&q);
}

struct match_row {
    const char *name, *qs;
    int want;
};

static const struct match_row matches[] = {
    {"no filter", "", 1},
    {"project and pipeline", "project=shop%2Fcart&pipeline=100", 1},
    {"other pipeline", "pipeline=101", 0},
    {"ref", "ref=dev", 1},
    {"environment null never matches", "environment=production", 0},
    {"inside the time range", "since=2026-11-26T14:21:02.250Z&until=2026-11-26T14:21:02.250Z", 1},
    {"before since", "since=2026-11-26T14:21:03Z", 0},
    {"actor", "actor=gitlab:dora&action=decided", 1},
};

static void test_match(void)
{
    json_t *rec = json_loads(chain[0].record, 0, NULL);
    json_object_set_new(rec, "environment", json_null());
    for (size_t i = 0; i < TG_ARRAY_SIZE(matches); i++) {
        struct tg_audit_query q;
        char err[256];
        UNIT_CHECK(matches[i].name, tg_audit_query_parse(matches[i].qs, &q, err, sizeof err) == 0);
        UNIT_CHECK(matches[i].name, tg_audit_query_match(&q, rec) == matches[i].want);
        tg_audit_query_dispose(&q);
    }
    json_decref(rec);
}

static void test_verify_text(void)
{
    long long seq;
    char hash[TG_SHA256_HEX_LEN + 1], line[600];
    UNIT_CHECK("head parsed",
               tg_audit_parse_head("42:" TG_AUDIT_GENESIS, &seq, hash) == 0 && seq == 42);
    UNIT_CHECK("head without hash", tg_audit_parse_head("42:", &seq, hash) == -1);
    UNIT_CHECK(
        "head upper case",
        tg_audit_parse_head("1:D4F8174E2F03DB20E595945CCC246CFD40DE01ED9C5B15D15A0838F8B880D6D4",
                            &seq, hash) == -1);
    struct tg_audit_verify_result r = {.broken = TG_AUDIT_OK, .records = 2, .head_seq = 2};
    snprintf(r.head_hash, sizeof r.head_hash, "%s", chain[1].hash);
    tg_audit_verify_summary(&r, line, sizeof line);
    UNIT_STREQ(
        "ok summary", line,
        "ok 2 records, head 2:7df263f430fc562b9e913ecc1d3a9e6f93857a23e566be152f18cb0139eb8085");
    r.broken = TG_AUDIT_GAP, r.seq = 5;
    snprintf(r.detail, sizeof r.detail, "seq 5 to 5 missing from Redis");
    tg_audit_verify_summary(&r, line, sizeof line);
    UNIT_STREQ("break summary", line, "broken at seq 5: gap: seq 5 to 5 missing from Redis");
}

int main(void)
{
    test_chain();
    test_index_keys();
    test_scrub();
    test_parse();
    test_cursor();
    test_match();
    test_verify_text();
    return unit_summary("test_audit");
}
