/* test_util.c -- sizes, durations, times, globs and JSON string escaping. */
#include "buf.h"
#include "util.h"
#include "unit.h"

#include <string.h>

struct num_row {
    const char *name, *in;
    int rc;
    unsigned long long want;
};

static const struct num_row sizes[] = {
    {"plain", "1048576", 0, 1048576}, {"MiB", "1MiB", 0, 1048576}, {"KiB", "64KiB", 0, 65536},
    {"MB", "10MB", 0, 10000000}, {"space", "2 MiB", 0, 2097152}, {"bad unit", "1XB", -1, 0},
    {"negative", "-1", -1, 0}, {"empty", "", -1, 0}, {"overflow", "99999999999999999999GiB", -1, 0},
};

static const struct num_row durations[] = {
    {"ms", "500ms", 0, 500}, {"s", "2s", 0, 2000}, {"m", "5m", 0, 300000}, {"h", "24h", 0, 86400000},
    {"d", "7d", 0, 604800000}, {"no unit", "5", -1, 0}, {"bad", "soon", -1, 0},
};

static const struct num_row times[] = {
    {"date", "2027-01-31", 0, 1801353600000ULL},
    {"utc", "2026-11-26T14:21:02Z", 0, 1795702862000ULL},
    {"fraction", "2026-11-26T14:21:02.250Z", 0, 1795702862250ULL},
    {"offset", "2026-11-26T16:21:02+02:00", 0, 1795702862000ULL},
    {"no zone", "2026-11-26T14:21:02", -1, 0},
    {"bad month", "2026-13-01", -1, 0},
    {"garbage", "yesterday", -1, 0},
};

struct glob_row {
    const char *pattern, *s;
    int want;
};

static const struct glob_row globs[] = {
    {"main", "main", 1}, {"main", "mainline", 0}, {"release/*", "release/1.2", 1},
    {"v*", "v1.2.3", 1}, {"feature-?", "feature-a", 1}, {"*", "anything/at/all", 1}, {"dev", "Dev", 0},
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
    for (size_t i = 0; i < TG_ARRAY_SIZE(escapes); i++) {
        struct tg_buf b;
        tg_buf_init(&b);
        tg_buf_json_str(&b, escapes[i].in, escapes[i].len);
        UNIT_STREQ(escapes[i].name, b.data, escapes[i].want);
        tg_buf_dispose(&b);
    }
    return unit_summary("test_util");
}
