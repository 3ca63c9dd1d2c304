/* forward_cmd.c -- `tollgate forward`: backfill a past pipeline's reports into DefectDojo,
 * and the forward dead-letter list (list, requeue, drop).
 *
 * Both act on Redis (forward/outbox.h): a running gateway's forwarder lane does the uploads,
 * with its retries and dead letters. Backfill enqueues again the jobs recorded when Tollgate
 * decided the pipeline (fwd:sent: each counted report, its job id, sha256 and the DefectDojo
 * names rendered then), so it forwards exactly what was counted under the same names, again
 * even when it was forwarded before.
 */
#include "audit/audit.h"
#include "base/util.h"
#include "cmd/cli.h"
#include "cmd/commands.h"
#include "forward/outbox.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fwd_opts {
    const char *config, *redis, *operator_name;
    long long project, pipeline;
};

static int fwd_usage(FILE *out)
{
    fprintf(out,
            "usage: tollgate forward -c FILE --project ID --pipeline N [--redis URL]\n"
            "       tollgate forward dead list|requeue ID...|drop ID... -c FILE [--redis URL]\n"
            "                                [--operator NAME]\n\n"
            "forward: queues the counted reports of a pipeline Tollgate decided for DefectDojo\n"
            "again (backfill); a running gateway uploads them. dead: the forward jobs that\n"
            "failed every attempt (list prints JSON; requeue sends one again from attempt 1).\n");
    return out == stdout ? 0 : 2;
}

/* Enqueues the pipeline's forward jobs again, each with the names it was rendered with when
 * Tollgate decided (so DefectDojo files it in the same engagement and test). */
static int backfill(struct tg_config *cfg, redisContext *rc, const struct fwd_opts *o)
{
    json_t *jobs = tg_fwd_sent(rc, cfg->redis.prefix, o->project, o->pipeline);
    int status = 0;
    if (jobs == NULL) {
        fprintf(stderr, "tollgate: Redis failed\n");
        status = 2;
    } else if (json_array_size(jobs) == 0) {
        fprintf(stderr,
                "tollgate: pipeline %lld of project %lld has no recorded forward job (Tollgate "
                "decided nothing there with defectdojo configured, counted no report, or the "
                "record expired after 30 days): nothing is sent under names it would have to "
                "guess\n",
                o->pipeline, o->project);
        status = 2;
    }
    for (size_t i = 0; status == 0 && i < json_array_size(jobs); i++) {
        json_t *job = json_array_get(jobs, i);
        int n = tg_fwd_enqueue(rc, cfg->redis.prefix, job, 1);
        if (n < 0) {
            fprintf(stderr, "tollgate: Redis failed\n");
            status = 2;
        } else {
            printf("%s %s/%s: queued for DefectDojo\n",
                   json_string_value(json_object_get(job, "deploy_key")),
                   json_string_value(json_object_get(job, "job")),
                   json_string_value(json_object_get(job, "artifact")));
        }
    }
    json_decref(jobs);
    return status;
}

/* The operator's requeue or drop of an existing dead job, recorded before it is done
 * (replayed / dropped, as for dead-lettered events): 0, or -1 when the record failed and
 * audit.fail_closed forbids going on. */
static int dead_record(const struct tg_config *cfg, redisContext *rc, const char *verb,
                       const char *id, const char *actor)
{
    char err[256];
    json_t *details = json_pack("{s:s, s:s}", "what", "defectdojo forward", "forward_id", id);
    struct tg_audit_record r = {.action = strcmp(verb, "requeue") == 0 ? "replayed" : "dropped",
                                .actor = actor,
                                .details = details};
    struct tg_audit *a = tg_audit_new(cfg);
    int failed = tg_audit_append(a, rc, &r, err, sizeof err);
    if (failed)
        fprintf(stderr, "tollgate: %s%s\n", err,
                cfg->audit.fail_closed ? " (audit.fail_closed: not done)" : "");
    tg_audit_free(a);
    json_decref(details);
    return failed && cfg->audit.fail_closed ? -1 : 0;
}

static int dead(struct tg_config *cfg, redisContext *rc, const struct tg_cli_dead *d)
{
    const char *verb = d->verb;
    char **ids = d->ids;
    if (strcmp(verb, "list") == 0) {
        json_t *a = tg_fwd_dead_list(rc, cfg->redis.prefix);
        char *s = a ? json_dumps(a, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        if (s)
            printf("%s\n", s);
        free(s);
        json_decref(a);
        return a ? 0 : 2;
    }
    int n = d->nids;
    int status = n > 0 ? 0 : 2;
    if (n == 0)
        fprintf(stderr, "tollgate: forward dead %s: name the job ids (forward dead list)\n", verb);
    for (int i = 0; i < n; i++) {
        int exists = tg_fwd_dead_exists(rc, cfg->redis.prefix, ids[i]);
        if (exists != 1) { /* nothing done: nothing recorded */
            fprintf(stderr, "tollgate: %s: %s\n", ids[i],
                    exists == 0 ? "no such dead forward job (forward dead list names them)"
                                : "Redis failed");
            status = 2;
            continue;
        }
        if (dead_record(cfg, rc, verb, ids[i], d->actor) < 0) {
            status = 2;
            continue;
        }
        int rc1 = strcmp(verb, "requeue") == 0 ? tg_fwd_dead_requeue(rc, cfg->redis.prefix, ids[i])
                                               : tg_fwd_dead_drop(rc, cfg->redis.prefix, ids[i]);
        if (rc1 != 1) {
            fprintf(stderr, "tollgate: %s: %s\n", ids[i],
                    rc1 == 0 ? "no such dead forward job" : "Redis failed");
            status = 2;
        }
    }
    return status;
}

int tg_cmd_forward(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"redis", required_argument, NULL, 'r'},
                                         {"project", required_argument, NULL, 'p'},
                                         {"pipeline", required_argument, NULL, 'n'},
                                         {"operator", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct fwd_opts o = {0};
    int ch, status = 2;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (ch == 'c')
            o.config = optarg;
        else if (ch == 'r')
            o.redis = optarg;
        else if (ch == 'p')
            o.project = strtoll(optarg, NULL, 10);
        else if (ch == 'n')
            o.pipeline = strtoll(optarg, NULL, 10);
        else if (ch == 'o')
            o.operator_name = optarg;
        else
            return fwd_usage(ch == 'h' ? stdout : stderr);
    }
    const char *verb = optind < argc ? argv[optind++] : NULL;
    const char *sub = verb && strcmp(verb, "dead") == 0 && optind < argc ? argv[optind++] : NULL;
    int is_dead = sub && (!strcmp(sub, "list") || !strcmp(sub, "requeue") || !strcmp(sub, "drop"));
    if (o.config == NULL || (verb && !is_dead) || (!verb && (o.project <= 0 || o.pipeline <= 0)))
        return fwd_usage(stderr);
    struct tg_config *cfg = tg_cli_config(o.config);
    if (cfg && cfg->defectdojo == NULL && !is_dead)
        fprintf(stderr, "tollgate: %s has no defectdojo section\n", o.config);
    redisContext *rc = cfg && (cfg->defectdojo || is_dead) ? tg_cli_redis(cfg, o.redis) : NULL;
    char actor[160];
    tg_cli_operator(actor, sizeof actor, o.operator_name);
    struct tg_cli_dead d = {
        .verb = sub, .ids = argv + optind, .nids = argc - optind, .actor = actor};
    if (rc && is_dead)
        status = dead(cfg, rc, &d);
    else if (rc)
        status = backfill(cfg, rc, &o);
    if (rc)
        redisFree(rc);
    tg_config_unref(cfg);
    return status;
}
