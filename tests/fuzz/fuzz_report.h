/* fuzz_report.h -- the body shared by the fuzz_report_<format>.c targets.
 *
 * Each target defines FUZZ_REPORT_FORMAT and includes this file. The input is parsed whole
 * and again in two chunks split at a point taken from its first byte; both runs must agree
 * (counts, findings, visits), and a success must be self-consistent.
 */
#include "decide/reports.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void on_visit(void *arg, const char *id, size_t idlen, enum tg_severity sev)
{
    uint64_t *sum = arg;
    (void)id;
    if ((unsigned)sev >= TG_SEV_COUNT || idlen > TG_REPORT_TEXT_MAX)
        abort();
    sum[sev]++;
}

static int run(const uint8_t *data, size_t size, size_t split, uint64_t *visits,
               struct tg_report_summary *s)
{
    struct tg_report_options opt = {
        .format = FUZZ_REPORT_FORMAT, .top = 4, .visit = on_visit, .visit_arg = visits};
    struct tg_report_parser *p = tg_report_parser_new(&opt);
    char err[256];
    int rc = tg_report_parser_feed(p, data, split, err, sizeof err);
    if (rc == 0)
        rc = tg_report_parser_feed(p, data + split, size - split, err, sizeof err);
    if (rc == 0)
        rc = tg_report_parser_finish(p, s, err, sizeof err);
    tg_report_parser_free(p);
    return rc;
}

static void check(const struct tg_report_summary *s, const uint64_t *visits)
{
    uint64_t total = 0;
    for (int b = 0; b < TG_SEV_COUNT; b++) {
        total += s->counts[b];
        if (visits[b] != s->counts[b])
            abort(); /* every counted finding is visited once */
    }
    if (total != s->total || s->extra == NULL || s->nfindings > 4 || s->nfindings > total)
        abort();
    for (size_t i = 1; i < s->nfindings; i++)
        if (s->findings[i].severity > s->findings[i - 1].severity)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t v1[TG_SEV_COUNT] = {0}, v2[TG_SEV_COUNT] = {0};
    struct tg_report_summary a, b;
    size_t split = size ? data[0] % (size + 1) : 0;
    int ra = run(data, size, size, v1, &a);
    int rb = run(data, size, split, v2, &b);
    if (ra != rb)
        abort(); /* chunking changed the verdict */
    if (ra == 0) {
        check(&a, v1);
        if (memcmp(a.counts, b.counts, sizeof a.counts) != 0 || a.nfindings != b.nfindings)
            abort();
        tg_report_summary_dispose(&a);
        tg_report_summary_dispose(&b);
    }
    return 0;
}
