/* audit_cmd.c -- `tollgate audit verify` and `tollgate audit export`.
 *
 * verify recomputes the chain from Redis (and matches the file sink when audit.file is set):
 * exit 0 when it holds, 1 at a break, 2 on usage, config or connection errors. export writes
 * the records as JSON lines, oldest first, for a SIEM. Both only read.
 */
#include "audit_query.h"
#include "audit_verify.h"
#include "cli.h"
#include "commands.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct audit_opts {
    const char *config, *redis;
    struct tg_audit_verify_opts verify;
    uint64_t since_ms, until_ms;
};

static int audit_usage(FILE *out)
{
    fprintf(out, "usage: tollgate audit verify -c FILE [--from SEQ] [--head SEQ:HASH] [--redis URL]\n"
                 "       tollgate audit export -c FILE [--since T] [--until T] [--redis URL]\n"
                 "  verify  recomputes the hash chain in Redis and compares the file sink (audit.file);\n"
                 "          prints \"ok N records, head SEQ:HASH\" or the first broken seq and why.\n"
                 "          --from SEQ starts there; --head SEQ:HASH is a head kept elsewhere.\n"
                 "          Exit 0 ok, 1 broken, 2 usage or connection errors.\n"
                 "  export  writes the records as JSON lines, oldest first (T: RFC 3339 or a date).\n");
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
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"redis", required_argument, NULL, 'r'},
        {"from", required_argument, NULL, 'f'},   {"head", required_argument, NULL, 'H'},
        {"since", required_argument, NULL, 's'},  {"until", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    int ch, bad = 0;
    while (!bad && (ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': o->config = optarg; break;
        case 'r': o->redis = optarg; break;
        case 'f': bad = tg_parse_int(optarg, 1, INT64_MAX, &o->verify.from); break;
        case 'H': bad = tg_audit_parse_head(optarg, &o->verify.anchor_seq, o->verify.anchor_hash); break;
        case 's': bad = parse_time_opt("--since", optarg, &o->since_ms); break;
        case 'u': bad = parse_time_opt("--until", optarg, &o->until_ms); break;
        case 'h': return audit_usage(stdout), 1;
        default: bad = 1;
        }
    }
    if (bad || o->config == NULL || optind != argc)
        return audit_usage(stderr), -1;
    return 0;
}

static int run_verify(const struct tg_config *cfg, redisContext *rc, struct audit_opts *o)
{
    struct tg_audit_verify_result res;
    char err[256], line[600];
    o->verify.sink = cfg->audit.file;
    if (tg_audit_verify(rc, cfg->redis.prefix, &o->verify, &res, err, sizeof err)) {
        fprintf(stderr, "tollgate audit verify: %s\n", err);
        return 2;
    }
    tg_audit_verify_summary(&res, line, sizeof line);
    printf("%s\n", line);
    if (cfg->audit.file)
        printf("sink %s: %lld lines, %lld checked records not in it\n", cfg->audit.file, res.sink_lines,
               res.sink_missing);
    return res.broken == TG_AUDIT_OK ? 0 : 1;
}

static int run_export(const struct tg_config *cfg, redisContext *rc, const struct audit_opts *o)
{
    struct tg_audit_query q;
    char err[256];
    int rc_ = 0;
    tg_audit_query_init(&q);
    q.desc = 0, q.limit = TG_AUDIT_LIMIT_MAX, q.since_ms = o->since_ms;
    q.until_ms = o->until_ms ? o->until_ms : UINT64_MAX;
    do {
        struct tg_audit_page page = {0};
        if (tg_audit_query_run(rc, cfg->redis.prefix, &q, &page, err, sizeof err)) {
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
    } while (rc_ == 0 && q.after);
    if (fflush(stdout) != 0 || ferror(stdout))
        rc_ = 2;
    return rc_;
}

int tg_cmd_audit(int argc, char **argv)
{
    struct audit_opts o = {0};
    if (argc < 2)
        return audit_usage(stderr);
    const char *what = argv[1];
    if (strcmp(what, "--help") == 0 || strcmp(what, "-h") == 0)
        return audit_usage(stdout);
    if (strcmp(what, "verify") != 0 && strcmp(what, "export") != 0)
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
    else
        rc = run_export(cfg, c, &o);
    if (c)
        redisFree(c);
    tg_config_unref(cfg);
    return rc;
}
