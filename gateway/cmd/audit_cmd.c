/* audit_cmd.c -- `tollgate audit verify`, `tollgate audit export` and `tollgate audit archive`.
 *
 * verify recomputes the chain from the archive (when audit.archive is set) and Redis, and
 * matches the file sink when audit.file is set: exit 0 when it holds, 1 at a break, 2 on
 * usage, config or connection errors. export writes the records as JSON lines, oldest first,
 * for a SIEM (--from-archive: the segments first). Both only read. archive runs archive
 * passes (audit_archive.h) until nothing is due: the archiver role from cron.
 */
#include "audit/audit_archive.h"
#include "audit/audit_query.h"
#include "audit/audit_verify.h"
#include "cmd/cli.h"
#include "cmd/commands.h"
#include "base/util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct audit_opts {
    const char *config, *redis;
    struct tg_audit_verify_opts verify;
    uint64_t since_ms, until_ms;
    int from_archive;
    long long batch;
    uint64_t now_ms; /* archive as if it were this time (an injected clock); 0: the clock */
};

static int audit_usage(FILE *out)
{
    fprintf(
        out,
        "usage: tollgate audit verify -c FILE [--from SEQ] [--head SEQ:HASH] [--redis URL]\n"
        "       tollgate audit export -c FILE [--since T] [--until T] [--from-archive] [--redis "
        "URL]\n"
        "       tollgate audit archive -c FILE [--batch N] [--now T] [--redis URL]\n"
        "  verify  recomputes the hash chain over the archive (audit.archive) and Redis, and\n"
        "          compares the file sink (audit.file); prints \"ok N records, head SEQ:HASH\"\n"
        "          or the first broken seq and why (a missing or edited segment is named).\n"
        "          --from SEQ starts there in Redis (the archive is skipped);\n"
        "          --head SEQ:HASH is a head kept elsewhere.\n"
        "          Exit 0 ok, 1 broken, 2 usage or connection errors.\n"
        "  export  writes the records as JSON lines, oldest first (T: RFC 3339 or a date);\n"
        "          --from-archive reads the archive's segments first, then Redis.\n"
        "  archive moves the records older than audit.retention into audit.archive now,\n"
        "          in segments of --batch records (default 1000), and prints how many\n"
        "          (the gateway does the same in its housekeeping, one segment per tick);\n"
        "          --now T judges age as if it were T (tests and benchmarks).\n");
    return out == stdout ? 0 : 2;
}

static int parse_time_opt(const char *name, const char *v, uint64_t *ms)
{
    if (tg_parse_time(v, ms) == 0)
        return 0;
    fprintf(stderr, "tollgate audit: %s \"%s\" is not an RFC 3339 time or a date\n", name, v);
    return -1;
}

/* 0 to go on, 1 after --help, -1 on a usage error (already reported). */
static int parse_opts(int argc, char **argv, struct audit_opts *o)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"redis", required_argument, NULL, 'r'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"head", required_argument, NULL, 'H'},
                                         {"since", required_argument, NULL, 's'},
                                         {"until", required_argument, NULL, 'u'},
                                         {"from-archive", no_argument, NULL, 'A'},
                                         {"batch", required_argument, NULL, 'b'},
                                         {"now", required_argument, NULL, 'N'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int ch, bad = 0;
    while (!bad && (ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->config = optarg;
            break;
        case 'r':
            o->redis = optarg;
            break;
        case 'f':
            bad = tg_parse_int(optarg, 1, INT64_MAX, &o->verify.from);
            break;
        case 'H':
            bad = tg_audit_parse_head(optarg, &o->verify.anchor_seq, o->verify.anchor_hash);
            break;
        case 's':
            bad = parse_time_opt("--since", optarg, &o->since_ms);
            break;
        case 'u':
            bad = parse_time_opt("--until", optarg, &o->until_ms);
            break;
        case 'A':
            o->from_archive = 1;
            break;
        case 'b':
            if ((bad = tg_parse_int(optarg, 1, 100000, &o->batch)) != 0)
                fprintf(stderr,
                        "tollgate audit archive: --batch must be a number from 1 to 100000\n");
            break;
        case 'N':
            bad = parse_time_opt("--now", optarg, &o->now_ms);
            break;
        case 'h':
            audit_usage(stdout);
            return 1;
        default:
            bad = 1;
        }
    }
    if (bad || o->config == NULL || optind != argc) {
        audit_usage(stderr);
        return -1;
    }
    return 0;
}

static int run_verify(const struct tg_config *cfg, redisContext *rc, struct audit_opts *o)
{
    struct tg_audit_verify_result res;
    char err[256], line[600];
    o->verify.sink = cfg->audit.file;
    o->verify.archive = o->verify.from > 1 ? NULL : cfg->audit.archive;
    if (tg_audit_verify(&(struct tg_audit_db){rc, cfg->redis.prefix}, &o->verify, &res, err,
                        sizeof err)) {
        fprintf(stderr, "tollgate audit verify: %s\n", err);
        return 2;
    }
    tg_audit_verify_summary(&res, line, sizeof line);
    printf("%s\n", line);
    if (res.broken == TG_AUDIT_OK && res.unchecked[0]) {
        fprintf(stderr, "tollgate audit verify: --head %s\n", res.unchecked);
        return 2;
    }
    if (cfg->audit.file)
        printf("sink %s: %lld lines, %lld checked records not in it\n", cfg->audit.file,
               res.sink_lines, res.sink_missing);
    if (o->verify.archive)
        printf("archive %s: %lld segments, %lld records\n", o->verify.archive, res.archive_segments,
               res.archive_records);
    else if (cfg->audit.archive)
        printf("checked Redis from seq %lld (--from skips the archive %s)\n", res.from,
               cfg->audit.archive);
    return res.broken == TG_AUDIT_OK ? 0 : 1;
}

/* One archived line, when its time lies in the export's window. */
static int export_line(void *arg, const char *line, size_t len)
{
    const struct audit_opts *o = arg;
    json_t *rec = json_loadb(line, len, 0, NULL);
    uint64_t ms = 0;
    const char *time = json_string_value(json_object_get(rec, "time"));
    int in = time && tg_parse_time(time, &ms) == 0 && ms >= o->since_ms &&
             (o->until_ms == 0 || ms <= o->until_ms);
    json_decref(rec);
    if (in)
        printf("%.*s\n", (int)len, line);
    return 0;
}

/* The archive must end where Redis's trail starts: else missing last segments (or an empty,
 * unmounted directory) would drop records from the export unnoticed. 0, or -1 with err. */
static int export_joins(redisContext *c, const char *prefix, long long last, char *err,
                        size_t errlen)
{
    long long start;
    char prev[TG_SHA256_HEX_LEN + 1];
    if (tg_audit_start_get(c, prefix, &start, prev)) {
        snprintf(err, errlen, "cannot read %saudit:start", prefix);
        return -1;
    }
    if (start <= last + 1)
        return 0; /* start <= last: Redis still holds archived records (a pass not yet trimmed) */
    snprintf(err, errlen,
             "seq %lld to %lld are in neither the archive nor Redis (Redis starts at seq %lld; is "
             "the archive mounted?"
             " run tollgate audit verify)",
             last + 1, start - 1, start);
    return -1;
}

/* The archive's segments in seq order; *last gets the last archived seq. 0 or 2. */
static int export_archive(const struct tg_config *cfg, redisContext *c, const struct audit_opts *o,
                          long long *last)
{
    struct tg_audit_segment *segs;
    size_t n;
    char err[256];
    if (cfg->audit.archive == NULL) {
        fprintf(stderr,
                "tollgate audit export: --from-archive needs audit.archive in the config\n");
        return 2;
    }
    struct tg_audit_line_fn each = {export_line, (void *)o};
    int rc = tg_audit_segments_list(cfg->audit.archive, &segs, &n, err, sizeof err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (segs[i].first != *last + 1) {
            snprintf(err, sizeof err,
                     "the archive lacks seq %lld to %lld (run tollgate audit verify)", *last + 1,
                     segs[i].first - 1);
            rc = -1;
        } else if ((rc = tg_audit_segment_each(cfg->audit.archive, &segs[i], &each, err,
                                               sizeof err)) == 0) {
            *last = segs[i].last;
        }
    }
    tg_audit_segments_free(segs, n);
    if (rc == 0)
        rc = export_joins(c, cfg->redis.prefix, *last, err, sizeof err);
    if (rc)
        fprintf(stderr, "tollgate audit export: %s\n", err);
    return rc ? 2 : 0;
}

static int run_export(const struct tg_config *cfg, redisContext *rc, const struct audit_opts *o)
{
    struct tg_audit_query q;
    char err[256];
    long long last = 0;
    int rc_ = o->from_archive ? export_archive(cfg, rc, o, &last) : 0;
    tg_audit_query_init(&q);
    q.desc = 0;
    q.limit = TG_AUDIT_LIMIT_MAX;
    q.since_ms = o->since_ms;
    q.after = last;
    q.until_ms = o->until_ms ? o->until_ms : UINT64_MAX;
    while (rc_ == 0) {
        struct tg_audit_page page = {0};
        if (tg_audit_query_run(&(struct tg_audit_db){rc, cfg->redis.prefix}, &q, &page, err,
                               sizeof err)) {
            fprintf(stderr, "tollgate audit export: %s\n", err);
            rc_ = 2;
        }
        for (size_t i = 0; rc_ == 0 && i < json_array_size(page.records); i++) {
            char *s = json_dumps(json_array_get(page.records, i), JSON_COMPACT | JSON_SORT_KEYS);
            printf("%s\n", s);
            free(s);
        }
        q.after = page.next;
        tg_audit_page_dispose(&page);
        if (q.after == 0)
            break;
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        rc_ = 2;
    return rc_;
}

/* Passes until nothing is due (or another process holds the lease). */
static int run_archive(const struct tg_config *cfg, redisContext *rc, const struct audit_opts *o)
{
    struct tg_audit_archive_args a = {.prefix = cfg->redis.prefix,
                                      .dir = cfg->audit.archive,
                                      .retention_ms = cfg->audit.retention_ms,
                                      .batch = o->batch ? (int)o->batch : TG_AUDIT_ARCHIVE_BATCH,
                                      .lease_ms = TG_AUDIT_ARCHIVE_LEASE_MS};
    char err[256];
    long long total = 0;
    int n = 0;
    if (cfg->audit.retention_ms == 0) {
        fprintf(stderr, "tollgate audit archive: audit.retention is not set\n");
        return 2;
    }
    do {
        a.now_ms = o->now_ms ? o->now_ms : tg_now_ms();
        if ((n = tg_audit_archive_pass(rc, &a, err, sizeof err)) < 0) {
            fprintf(stderr, "tollgate audit archive: %s\n", err);
            return 2;
        }
        total += n;
    } while (n > 0);
    printf("archived %lld records into %s\n", total, cfg->audit.archive);
    return 0;
}

int tg_cmd_audit(int argc, char **argv)
{
    struct audit_opts o = {0};
    if (argc < 2)
        return audit_usage(stderr);
    const char *what = argv[1];
    if (strcmp(what, "--help") == 0 || strcmp(what, "-h") == 0)
        return audit_usage(stdout);
    if (strcmp(what, "verify") != 0 && strcmp(what, "export") != 0 && strcmp(what, "archive") != 0)
        return audit_usage(stderr);
    int rc = parse_opts(argc - 1, argv + 1, &o);
    if (rc)
        return rc > 0 ? 0 : 2;
    struct tg_config *cfg = tg_cli_config(o.config);
    redisContext *c = cfg ? tg_cli_redis(cfg, o.redis) : NULL;
    if (c == NULL)
        rc = 2;
    else if (strcmp(what, "verify") == 0)
        rc = run_verify(cfg, c, &o);
    else if (strcmp(what, "archive") == 0)
        rc = run_archive(cfg, c, &o);
    else
        rc = run_export(cfg, c, &o);
    if (c)
        redisFree(c);
    tg_config_unref(cfg);
    return rc;
}
