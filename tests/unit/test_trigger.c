/* test_trigger.c -- backoff with full jitter: bounds per attempt, the cap, Retry-After; what a
 * trigger answer proves (created / certainly not / unknown); the marker's shape. */
#include "deliver/gitlab_api.h"
#include "deliver/trigger.h"
#include "unit.h"

#include <string.h>

struct answer {
    const char *name;
    long status;
    int sent;
    enum tg_gitlab_outcome want;
};

static const struct answer answers[] = {
    {"201 created", 201, 1, TG_GITLAB_CREATED},
    {"connection refused: never sent", 0, 0, TG_GITLAB_NOT_CREATED},
    {"timeout after the request left", 0, 1, TG_GITLAB_UNKNOWN},
    {"400 GitLab refused", 400, 1, TG_GITLAB_NOT_CREATED},
    {"404 bad trigger token", 404, 1, TG_GITLAB_NOT_CREATED},
    {"429 rate limited: nothing created", 429, 1, TG_GITLAB_NOT_CREATED},
    {"302 redirect answered", 302, 1, TG_GITLAB_NOT_CREATED},
    {"500 may have committed first", 500, 1, TG_GITLAB_UNKNOWN},
    {"502 from a proxy", 502, 1, TG_GITLAB_UNKNOWN},
    {"504 from a proxy", 504, 1, TG_GITLAB_UNKNOWN},
    {"200 is not the documented 201", 200, 1, TG_GITLAB_UNKNOWN},
};

static void check_answers(void)
{
    for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
        struct tg_gitlab_result r = {.status = answers[i].status, .sent = answers[i].sent};
        UNIT_CHECK(answers[i].name, tg_gitlab_trigger_outcome(&r) == answers[i].want);
    }
}

static void check_marker(void)
{
    char m[64], prefix[64];
    tg_trigger_marker("tg:deploy:7:100:staging", 3, m, sizeof m);
    tg_trigger_marker("tg:deploy:7:100:staging", 0, prefix, sizeof prefix);
    UNIT_CHECK("marker is id/attempt", strlen(m) == 14 && m[12] == '/' && m[13] == '3');
    UNIT_CHECK("prefix matches every attempt", strlen(prefix) == 13 && strncmp(m, prefix, 13) == 0);
    /* sha256("tg:deploy:7:100:staging")[:12], as the integration tests compute it */
    UNIT_CHECK("id is the deployment id", strspn(m, "0123456789abcdef") == 12);
}

struct row {
    const char *name;
    int attempt;
    uint64_t retry_after, random;
    uint64_t want;
};

/* base 1 s, cap 5 min, as the shipped defaults */
static const struct row rows[] = {
    {"first retry, random 0", 1, 0, 0, 0},
    {"first retry, largest", 1, 0, 1000, 1000},
    {"first retry wraps at ceiling+1", 1, 0, 1001, 0},
    {"third retry, ceiling 4 s", 3, 0, 4000, 4000},
    {"third retry, inside", 3, 0, 2500, 2500},
    {"ninth retry: 2^8 s", 9, 0, 256000, 256000},
    {"tenth retry capped at 5 min", 10, 0, 300000, 300000},
    {"cap holds for huge attempts", 60, 0, 300001, 0},
    {"retry-after wins over a short jitter", 2, 30000, 10, 30000},
    {"jitter wins over a short retry-after", 5, 1000, 9000, 9000},
};

static void check_variables(void)
{
    char found[64] = "";
    const char *body =
        "[{\"variable_type\":\"env_var\",\"key\":\"SERVICE\",\"value\":\"cart\"},"
        "{\"variable_type\":\"env_var\",\"key\":\"TOLLGATE_DEPLOYMENT\",\"value\":\"abc/2\"}]";
    const struct tg_gitlab_marker abc = {"TOLLGATE_DEPLOYMENT", "abc/"};
    const struct tg_gitlab_marker abd = {"TOLLGATE_DEPLOYMENT", "abd/"};
    const struct tg_gitlab_marker x = {"X", "a"};
    UNIT_CHECK("marker found",
               tg_gitlab_variables_marker(body, strlen(body), &abc, found, sizeof found) == 1);
    UNIT_CHECK("marker value", strcmp(found, "abc/2") == 0);
    UNIT_CHECK("another deployment",
               tg_gitlab_variables_marker(body, strlen(body), &abd, found, sizeof found) == 0);
    const char *refused = "{\"message\":\"403 Forbidden\"}";
    UNIT_CHECK("not an array",
               tg_gitlab_variables_marker(refused, strlen(refused), &x, found, sizeof found) == -1);
}

int main(void)
{
    check_variables();
    check_answers();
    check_marker();
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        UNIT_CHECK(r->name, tg_trigger_backoff(1000, 300000, r->attempt, r->retry_after,
                                               r->random) == r->want);
    }
    for (int a = 1; a <= 12; a++) { /* every delay stays within [0, min(cap, base*2^(a-1))] */
        uint64_t ceiling = 1000ULL << (a - 1) < 300000 ? 1000ULL << (a - 1) : 300000;
        for (uint64_t rnd = 0; rnd < 1000000; rnd += 7919)
            UNIT_CHECK("bounded", tg_trigger_backoff(1000, 300000, a, 0, rnd) <= ceiling);
    }
    return unit_summary("test_trigger");
}
