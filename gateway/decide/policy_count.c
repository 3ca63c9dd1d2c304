/* policy_count.c -- the middle phase of a decision: one planned report counted as its bytes
 * arrive from whoever fetches them (the worker's GitLab client, tollgate eval's files).
 *
 * The reports module counts the findings and keeps the top ones; alongside, every finding
 * whose id is one of the plan's accepted-risk ids is tallied by severity, so that the judge
 * can take out the ones whose exception has not expired (a report may hold far more findings
 * than it keeps, so the tally cannot wait for the judge). Pure computation, no I/O: runs on
 * the worker thread that fetches. Depends on base/ and decide/ only.
 */
#include "base/crypto.h"
#include "base/util.h"
#include "decide/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Findings kept per report before accepted risks are taken out, so that excepted findings
 * at the top of a report do not crowd out the ones that tipped the decision. */
#define TOP_KEPT 50

struct tg_policy_counter {
    const struct tg_policy_plan *plan;
    struct tg_policy_report *report;
    struct tg_report_parser *parser;
    uint64_t (*tally)[TG_SEV_COUNT]; /* per plan id */
    int failed;                      /* the parser refused the bytes */
    char error[256];
    struct tg_sha256 hash; /* of every byte streamed; finalised by counter_free */
    uint64_t bytes;
};

static void on_finding(void *arg, const char *id, size_t len, enum tg_severity sev)
{
    struct tg_policy_counter *c = arg;
    for (size_t k = 0; len > 0 && k < c->plan->nids; k++)
        if (strlen(c->plan->ids[k]) == len && memcmp(c->plan->ids[k], id, len) == 0) {
            c->tally[k][sev]++;
            return;
        }
}

struct tg_policy_counter *tg_policy_counter_new(struct tg_policy_plan *plan, size_t i,
                                                enum tg_report_format format)
{
    struct tg_policy_counter *c = tg_xcalloc(1, sizeof *c);
    c->plan = plan;
    c->report = &plan->reports[i];
    c->tally = tg_xcalloc(plan->nids + 1, sizeof *c->tally);
    struct tg_report_options opt = {format, TOP_KEPT, on_finding, c};
    c->parser = tg_report_parser_new(&opt);
    tg_sha256_init(&c->hash);
    return c;
}

int tg_policy_counter_sink(void *counter, const void *chunk, size_t n)
{
    struct tg_policy_counter *c = counter;
    if (c->failed)
        return -1;
    tg_sha256_update(&c->hash, chunk, n);
    c->bytes += n;
    if (tg_report_parser_feed(c->parser, chunk, n, c->error, sizeof c->error) == 0)
        return 0;
    c->failed = 1;
    return -1;
}

static void counter_free(struct tg_policy_counter *c)
{
    unsigned char digest[TG_SHA256_LEN];
    tg_sha256_final(&c->hash, digest); /* on every path: it also releases the hash */
    tg_hex_encode(digest, sizeof digest, c->report->count.sha256);
    c->report->count.bytes = c->bytes;
    tg_report_parser_free(c->parser);
    free(c->tally);
    free(c);
}

int tg_policy_counter_end(struct tg_policy_counter *c, enum tg_fetch_result r, char *err,
                          size_t errlen)
{
    struct tg_report_count *out = &c->report->count;
    tg_report_count_dispose(out);
    if (!c->failed && r == TG_FETCH_ERROR) {
        char *why = tg_xstrdup(err);
        snprintf(err, errlen, "report %s/%s: %s", c->report->job, c->report->artifact, why);
        free(why);
        counter_free(c);
        return -1;
    }
    if (!c->failed && r == TG_FETCH_NOT_FOUND) {
        out->status = TG_COUNT_NOT_FOUND;
    } else if (c->failed ||
               tg_report_parser_finish(c->parser, &out->sum, c->error, sizeof c->error)) {
        out->status = TG_COUNT_UNREADABLE;
        out->why = tg_xstrdup(c->error);
    } else {
        out->status = TG_COUNT_OK;
        out->tally = c->tally;
        c->tally = NULL;
    }
    counter_free(c);
    return 0;
}

void tg_report_count_dispose(struct tg_report_count *c)
{
    free(c->why);
    free(c->tally);
    tg_report_summary_dispose(&c->sum);
    memset(c, 0, sizeof *c);
}
