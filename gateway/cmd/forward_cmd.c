/* forward_cmd.c -- `tollgate forward`: backfill a past pipeline's reports into DefectDojo,
 * and the forward dead-letter list (list, requeue, drop).
 *
 * Both act on Redis (forward/outbox.h): a running gateway's forwarder lane does the uploads,
 * with its retries and dead letters. Backfill reads the deployment records Tollgate kept of
 * the pipeline (their decision names every counted report, its job id and sha256), so it
 * forwards exactly what was counted, again even when it was forwarded before.
 */
#include "audit/audit.h"
#include "base/util.h"
#include "cmd/cli.h"
#include "cmd/commands.h"
#include "deliver/deploy.h"
#include "deliver/workctx.h"
#include "forward/forward.h"

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

static enum tg_verdict verdict_of(const char *name)
{
    for (int v = TG_VERDICT_SKIP; v <= TG_VERDICT_DEPLOY; v++)
        if (name && strcmp(name, tg_verdict_name((enum tg_verdict)v)) == 0)
            return (enum tg_verdict)v;
    return TG_VERDICT_SKIP;
}

/* The event facts a deployment record keeps, enough for the DefectDojo names. */
struct rebuilt {
    struct tg_event ev;
    struct tg_decision d;
    char *own[6];
};

/* web_url: the project's (taken), from the outbox or else the GitLab instance's own layout. */
static void rebuild(const struct tg_deployment *rec, char *web_url, struct rebuilt *r)
{
    const char *path = rec->project;
    const char *slash = path ? strrchr(path, '/') : NULL;
    memset(r, 0, sizeof *r);
    r->ev.project_id = rec->project_id;
    r->ev.pipeline_id = rec->pipeline;
    r->ev.project_path = r->own[0] = tg_xstrdup(path ? path : "");
    r->ev.project_namespace = r->own[1] =
        slash ? tg_xstrndup(path, (size_t)(slash - path)) : tg_xstrdup("");
    r->ev.project_slug = r->own[2] = tg_xstrdup(slash ? slash + 1 : r->ev.project_path);
    r->ev.project_name = r->ev.project_slug;
    r->ev.project_url = r->own[3] = web_url;
    r->ev.ref = (char *)rec->ref;
    r->ev.sha = (char *)rec->sha;
    r->ev.user_username = (char *)rec->user;
    r->d.verdict = verdict_of(rec->verdict);
    r->d.environment = (char *)rec->environment;
    r->d.rule = (char *)rec->rule;
    r->d.policy_hash = (char *)rec->policy_hash;
    r->d.json = rec->decision ? json_loads(rec->decision, 0, NULL) : NULL;
}

static void rebuilt_dispose(struct rebuilt *r)
{
    json_decref(r->d.json);
    for (size_t i = 0; i < TG_ARRAY_SIZE(r->own); i++)
        free(r->own[i]);
}

/* Enqueues the reports of one deployment record; how many, or -1. */
static int backfill_one(struct tg_work *w, const char *key, long long project)
{
    struct tg_deployment rec;
    if (tg_deployment_load(w->rc, key, &rec) != 1) {
        tg_deployment_dispose(&rec);
        return -1;
    }
    struct rebuilt r;
    char *url = tg_fwd_project_url(w->rc, w->cfg->redis.prefix, project);
    const char *path = rec.project;
    if (url == NULL)
        url = tg_xasprintf("%s/%s", w->cfg->gitlab.url ? w->cfg->gitlab.url : "", path ? path : "");
    rebuild(&rec, url, &r);
    int n = tg_forward_decision(w, &r.ev, &r.d, key, 1);
    if (n >= 0)
        printf("%s: %d report(s) queued for DefectDojo\n", key, n);
    rebuilt_dispose(&r);
    tg_deployment_dispose(&rec);
    return n;
}

/* The deployment keys of the pipeline (SCAN, so a large Redis is not blocked); -1 on failure. */
static int pipeline_keys(redisContext *rc, const char *prefix, const struct fwd_opts *o,
                         json_t *out)
{
    char cursor[32] = "0";
    char match[512];
    tg_deploy_key(match, sizeof match, prefix,
                  &(struct tg_deploy_id){o->project, o->pipeline, "*"});
    int rc1 = 0;
    do {
        redisReply *r = redisCommand(rc, "SCAN %s MATCH %s COUNT 1000", cursor, match);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            rc1 = -1;
            freeReplyObject(r);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++)
            json_array_append_new(out, json_string(r->element[1]->element[i]->str));
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return rc1;
}

static int backfill(struct tg_config *cfg, redisContext *rc, const struct fwd_opts *o)
{
    struct tg_work w = {.rc = rc, .cfg = cfg};
    json_t *keys = json_array();
    int status = 0, total = 0;
    if (pipeline_keys(rc, cfg->redis.prefix, o, keys) < 0) {
        fprintf(stderr, "tollgate: Redis failed\n");
        status = 2;
    } else if (json_array_size(keys) == 0) {
        fprintf(stderr,
                "tollgate: no deployment record of pipeline %lld in project %lld: Tollgate "
                "decided nothing there, so it counted no report to forward\n",
                o->pipeline, o->project);
        status = 2;
    }
    for (size_t i = 0; status == 0 && i < json_array_size(keys); i++) {
        const char *key = json_string_value(json_array_get(keys, i));
        int n = backfill_one(&w, key, o->project);
        if (n < 0) {
            fprintf(stderr, "tollgate: Redis failed\n");
            status = 2;
        }
        total += n > 0 ? n : 0;
    }
    if (status == 0 && total == 0)
        fprintf(stderr, "tollgate: nothing to forward (no counted report, or its verdict is not in "
                        "defectdojo.forward)\n");
    json_decref(keys);
    return status;
}

/* The operator's requeue or drop, recorded before it is done (replayed / dropped, as for
 * dead-lettered events): 0, or -1 when the record failed and audit.fail_closed forbids going on. */
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
    int status = d->nids > 0 ? 0 : 2;
    for (int i = 0; i < d->nids; i++) {
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
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},  {"redis", required_argument, NULL, 'r'},
        {"project", required_argument, NULL, 'p'}, {"pipeline", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
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
