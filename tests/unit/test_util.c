/* test_util.c -- sizes, durations, times, globs, JSON string escaping and answer header values
 * (base/httpclient.h). */
#include "base/buf.h"
#include "base/httpclient.h"
#include "base/util.h"
#include "unit.h"

#include <string.h>

struct num_row {
    const char *name, *in;
    int rc;
    unsigned long long want;
};

static const struct num_row sizes[] = {
    {"plain", "1048576", 0, 1048576},
    {"MiB", "1MiB", 0, 1048576},
    {"KiB", "64KiB", 0, 65536},
    {"MB", "10MB", 0, 10000000},
    {"space", "2 MiB", 0, 2097152},
    {"bad unit", "1XB", -1, 0},
    {"negative", "-1", -1, 0},
    {"empty", "", -1, 0},
    {"overflow", "99999999999999999999GiB", -1, 0},
};

static const struct num_row durations[] = {
    {"ms", "500ms", 0, 500},   {"s", "2s", 0, 2000},      {"m", "5m", 0, 300000},
    {"h", "24h", 0, 86400000}, {"d", "7d", 0, 604800000}, {"no unit", "5", -1, 0},
    {"bad", "soon", -1, 0},
};

static const struct num_row times[] = {
    {"date", "2027-01-31", 0, 1801353600000ULL},
    {"utc", "2026-11-26T14:21:02Z", 0, 1795702862000ULL},
    {"fraction", "2026-11-26T14:21:02.250Z", 0, 1795702862250ULL},
    {"offset", "2026-11-26T16:21:02+02:00", 0, 1795702862000ULL},
    {"no zone", "2026-11-26T14:21:02", -1, 0},
    {"bad month", "2026-13-01", -1, 0},
    {"garbage", "yesterday", -1, 0},
    /* F10: every impossible value is refused, not rolled over into the next month */
    {"30 February", "2026-02-30", -1, 0},
    {"29 February, common year", "2026-02-29", -1, 0},
    {"29 February, leap year", "2028-02-29", 0, 1835395200000ULL},
    {"29 February 1900 (not leap)", "1900-02-29", -1, 0},
    {"29 February 2000 (leap)", "2000-02-29", 0, 951782400000ULL},
    {"31 April", "2026-04-31T00:00:00Z", -1, 0},
    {"31 December", "2026-12-31", 0, 1798675200000ULL},
    {"day zero", "2026-01-00", -1, 0},
    {"offset +99:99", "2026-11-26T14:21:02+99:99", -1, 0},
    {"offset +24:00", "2026-11-26T14:21:02+24:00", -1, 0},
    {"offset minutes 60", "2026-11-26T14:21:02+01:60", -1, 0},
    {"offset -00:00", "2026-11-26T14:21:02-00:00", 0, 1795702862000ULL},
    {"hour 24", "2026-11-26T24:00:00Z", -1, 0},
    {"minute 60", "2026-11-26T14:60:00Z", -1, 0},
    {"second 61", "2026-11-26T14:21:61Z", -1, 0},
    {"leap second", "2016-12-31T23:59:60Z", 0, 1483228799999ULL},
    {"leap second with an offset", "2017-01-01T00:59:60+01:00", 0, 1483228799999ULL},
    {"second 60 that is no leap second", "2026-11-26T14:21:60Z", -1, 0},
    {"leap second at the end of June", "2015-06-30T23:59:60Z", 0, 1435708799999ULL},
    {"23:59:60 on an ordinary day", "2026-11-26T23:59:60Z", -1, 0},
    {"23:59:60 at the end of another month", "2026-03-31T23:59:60Z", -1, 0},
    {"23:59:60 local on 31 December, not UTC midnight", "2016-12-31T23:59:60+01:00", -1, 0},
    {"a dot without digits", "2026-11-26T14:21:02.Z", -1, 0},
    {"trailing text", "2026-11-26T14:21:02Zjunk", -1, 0},
    {"before 1970", "1969-12-31T23:59:59Z", -1, 0},
};

struct glob_row {
    const char *pattern, *s;
    int want;
};

static const struct glob_row globs[] = {
    {"main", "main", 1}, {"main", "mainline", 0},       {"release/*", "release/1.2", 1},
    {"v*", "v1.2.3", 1}, {"feature-?", "feature-a", 1}, {"*", "anything/at/all", 1},
    {"dev", "Dev", 0},
};

/* Project paths ignore case (GitLab's paths are unique regardless of case); refs do not. */
static const struct glob_row project_globs[] = {
    {"*/helm-charts", "shop/Helm-Charts", 1},
    {"shop/*", "SHOP/cart", 1},
    {"shop/cart", "shop/cart", 1},
    {"shop/cart", "shop/carts", 0},
    {"*/charts/*", "platform/Charts/cart", 1},
};

struct esc_row {
    const char *name, *in;
    size_t len;
    const char *want;
};

static const struct esc_row escapes[] = {
    {"quote and backslash", "a\"b\\c", 5, "\"a\\\"b\\\\c\""},
    {"control", "a\nb\x01", 4, "\"a\\u000ab\\u0001\""},
    {"nul kept", "a\0b", 3, "\"a\\u0000b\""},
    {"utf-8 kept", "\xc3\xa9", 2, "\"\xc3\xa9\""},
    {"invalid byte", "a\xff", 2, "\"a\\ufffd\""},
    {"surrogate", "\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""},
};

/* tg_httpc_header_value over lines as libcurl hands them to a header callback. */
struct header_row {
    const char *name, *line, *header;
    int found;
    const char *want;
};

static const struct header_row headers[] = {
    {"plain", "Retry-After: 120\r\n", "Retry-After", 1, "120"},
    {"any case", "retry-after:5\r\n", "Retry-After", 1, "5"},
    {"blanks trimmed", "X-Next-Page: \t 3 \t\r\n", "X-Next-Page", 1, "3"},
    {"empty value", "X-Next-Page: \r\n", "X-Next-Page", 1, ""},
    {"cut to the buffer", "X-Next-Page: 123456789012345678901234567890123456\r\n", "X-Next-Page", 1,
     "1234567890123456789012345678901"},
    {"another header", "Retry-After-Ms: 5\r\n", "Retry-After", 0, ""},
    {"a prefix only", "Retry-Aft", "Retry-After", 0, ""},
    {"status line", "HTTP/1.1 429 Too Many Requests\r\n", "Retry-After", 0, ""},
};

int main(void)
{
    uint64_t v;
    for (size_t i = 0; i < TG_ARRAY_SIZE(sizes); i++) {
        int rc = tg_parse_size(sizes[i].in, &v);
        UNIT_CHECK(sizes[i].name, rc == sizes[i].rc && (rc || v == sizes[i].want));
    }
    for (size_t i = 0; i < TG_ARRAY_SIZE(durations); i++) {
        int rc = tg_parse_duration(durations[i].in, &v);
        UNIT_CHECK(durations[i].name, rc == durations[i].rc && (rc || v == durations[i].want));
    }
    for (size_t i = 0; i < TG_ARRAY_SIZE(times); i++) {
        int rc = tg_parse_time(times[i].in, &v);
        UNIT_CHECK(times[i].name, rc == times[i].rc && (rc || v == times[i].want));
    }
    char ts[40];
    tg_rfc3339(ts, sizeof ts, 1795702862250ULL);
    UNIT_STREQ("rfc3339", ts, "2026-11-26T14:21:02.250Z");
    for (size_t i = 0; i < TG_ARRAY_SIZE(globs); i++)
        UNIT_CHECK(globs[i].s, tg_glob_match(globs[i].pattern, globs[i].s) == globs[i].want);
    for (size_t i = 0; i < TG_ARRAY_SIZE(project_globs); i++)
        UNIT_CHECK(project_globs[i].s,
                   tg_glob_match_project(project_globs[i].pattern, project_globs[i].s) ==
                       project_globs[i].want);
    for (size_t i = 0; i < TG_ARRAY_SIZE(escapes); i++) {
        struct tg_buf b;
        tg_buf_init(&b);
        tg_buf_json_str(&b, escapes[i].in, escapes[i].len);
        UNIT_STREQ(escapes[i].name, b.data, escapes[i].want);
        tg_buf_dispose(&b);
    }
    for (size_t i = 0; i < TG_ARRAY_SIZE(headers); i++) {
        char v[32] = "";
        const struct header_row *h = &headers[i];
        int found = tg_httpc_header_value(h->line, strlen(h->line), h->header, v, sizeof v);
        UNIT_CHECK(h->name, found == h->found);
        UNIT_STREQ(h->name, v, h->want);
    }
    return unit_summary("test_util");
}
