/* ops_cmd.c -- operator commands: `retrigger` a deployment whose outcome is unknown or failed,
 * and `dead` to list, requeue or drop dead-lettered events.
 *
 * Both act on Redis directly (a running gateway picks the result up) and leave an audit
 * record naming the operator, because re-running a deploy is a decision too.
 */
#include "audit.h"
#include "cli.h"
#include "commands.h"
#include "deploy.h"
#include "queue.h"
#include "util.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ops {
    const char *config, *redis, *operator_name, *environment;
    long long project, pipeline;
};

static int ops_audit(const struct tg_config *cfg, redisContext *rc, const char *action, const char *actor,
                     json_t *details)
{
    char err[256];
    struct tg_audit *a = tg_audit_new(cfg);
    struct tg_audit_record r = {.action = action, .actor = actor, .details = details};
    int rc_ = tg_audit_append(a, rc, &r, err, sizeof err);
    if (rc_)
        fprintf(stderr, "tollgate: %s\n", err);
    tg_audit_free(a);
    return rc_;
}

static int retrigger_usage(FILE *out)
{
    fprintf(out, "usage: tollgate retrigger -c FILE --project ID --pipeline N --environment ENV [--operator NAME]\n"
                 "  Re-runs the trigger of a deployment whose outcome is unknown (a worker died between\n"
                 "  sending and GitLab's answer) or failed. Check the chart repository's pipelines first:\n"
                 "  if the deploy did run, do not retrigger. A running gateway's workers send it at once.\n");
    return out == stdout ? 0 : 2;
}

int tg_cmd_retrigger(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"project", required_argument, NULL, 'p'},
        {"pipeline", required_argument, NULL, 'n'}, {"environment", required_argument, NULL, 'e'},
        {"operator", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct ops o = {0};
    int ch;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (ch == 'c') o.config = optarg;
        else if (ch == 'p') o.project = atoll(optarg);
        else if (ch == 'n') o.pipeline = atoll(optarg);
        else if (ch == 'e') o.environment = optarg;
        else if (ch == 'o') o.operator_name = optarg;
        else return retrigger_usage(ch == 'h' ? stdout : stderr);
    }
    if (!o.config || o.project <= 0 || o.pipeline <= 0 || !o.environment || optind != argc)
        return retrigger_usage(stderr);
    struct tg_config *cfg = tg_cli_config(o.config);
    redisContext *rc = cfg ? tg_cli_redis(cfg, NULL) : NULL;
    char key[512], detail[128], actor[160];
    int status = 2;
    if (rc) {
        tg_deploy_key(key, sizeof key, cfg->redis.prefix, o.project, o.pipeline, o.environment);
        tg_cli_operator(actor, sizeof actor, o.operator_name);
        if (tg_deploy_retrigger(rc, cfg->redis.prefix, key, detail, sizeof detail) == 0) {
            ops_audit(cfg, rc, "replayed", actor, json_pack("{s:s, s:s, s:s}", "deployment", key, "previous_state",
                                                            detail, "what", "retrigger"));
            printf("%s: was %s, queued for a new trigger\n", key, detail);
            status = 0;
        } else {
            fprintf(stderr, "tollgate: %s is %s; only unknown or failed deployments can be retriggered\n", key, detail);
            status = 1;
        }
        redisFree(rc);
    }
    tg_config_unref(cfg);
    return status;
}

/* ---- dead letters ---- */

static void print_dead(const redisReply *entry)
{
    const redisReply *kv = entry->element[1];
    printf("%s", entry->element[0]->str);
    for (size_t i = 0; i + 1 < kv->elements; i += 2) {
        const char *k = kv->element[i]->str;
        if (strcmp(k, "reason") == 0 || strcmp(k, "event") == 0 || strcmp(k, "idempotency_key") == 0 ||
            strcmp(k, "deliveries") == 0 || strcmp(k, "original_id") == 0)
            printf("  %s=%s", k, kv->element[i + 1]->str);
    }
    printf("\n");
}

static int dead_list(const struct tg_config *cfg, redisContext *rc)
{
    redisReply *r = redisCommand(rc, "XRANGE %sdead - +", cfg->redis.prefix);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return 2;
    }
    for (size_t i = 0; i < r->elements; i++)
        print_dead(r->element[i]);
    printf("%zu dead-lettered event(s)\n", r->elements);
    freeReplyObject(r);
    return 0;
}

/* Moves dead entry id back to the queue (all its original fields, a new stream id). */
static int dead_requeue_one(const struct tg_config *cfg, redisContext *rc, const char *id, const char *actor)
{
    redisReply *r = redisCommand(rc, "XRANGE %sdead %s %s", cfg->redis.prefix, id, id);
    int status = 1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        const redisReply *kv = r->element[0]->element[1];
        const char *argv[2 + 2 * TG_QF_COUNT + 2];
        size_t lens[2 + 2 * TG_QF_COUNT + 2];
        char stream[128];
        int n = 0;
        snprintf(stream, sizeof stream, "%sevents", cfg->redis.prefix);
        argv[n] = "XADD", lens[n++] = 4;
        argv[n] = stream, lens[n++] = strlen(stream);
        argv[n] = "*", lens[n++] = 1;
        for (size_t i = 0; i + 1 < kv->elements && n + 2 <= (int)TG_ARRAY_SIZE(argv); i += 2)
            for (int f = 0; f < TG_QF_COUNT; f++)
                if (strcmp(kv->element[i]->str, tg_queue_field_names[f]) == 0) {
                    argv[n] = kv->element[i]->str, lens[n++] = kv->element[i]->len;
                    argv[n] = kv->element[i + 1]->str, lens[n++] = kv->element[i + 1]->len;
                }
        redisReply *add = redisCommandArgv(rc, n, argv, lens);
        if (add && add->type == REDIS_REPLY_STRING) {
            freeReplyObject(redisCommand(rc, "XDEL %sdead %s", cfg->redis.prefix, id));
            ops_audit(cfg, rc, "replayed", actor, json_pack("{s:s, s:s, s:s}", "dead_id", id, "new_id", add->str,
                                                            "what", "requeue"));
            printf("%s: requeued as %s\n", id, add->str);
            status = 0;
        }
        freeReplyObject(add);
    } else {
        fprintf(stderr, "tollgate: no dead-lettered event %s\n", id);
    }
    freeReplyObject(r);
    return status;
}

static int dead_usage(FILE *out)
{
    fprintf(out, "usage: tollgate dead -c FILE list\n"
                 "       tollgate dead -c FILE requeue ID... [--operator NAME]\n"
                 "       tollgate dead -c FILE drop ID... [--operator NAME]\n"
                 "  Dead-lettered events failed queue.max_attempts times (or could never be read).\n"
                 "  Fix the cause (see each reason), then requeue them; drop what must not run.\n");
    return out == stdout ? 0 : 2;
}

static int dead_drop_one(const struct tg_config *cfg, redisContext *rc, const char *id, const char *actor)
{
    redisReply *r = redisCommand(rc, "XDEL %sdead %s", cfg->redis.prefix, id);
    int gone = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    if (gone)
        ops_audit(cfg, rc, "dropped", actor, json_pack("{s:s}", "dead_id", id));
    printf("%s: %s\n", id, gone ? "dropped" : "not found");
    return !gone;
}

/* Runs verb on the ids (list takes none). */
static int dead_run(const struct tg_config *cfg, redisContext *rc, const char *verb, char **ids, int nids,
                    const char *actor)
{
    int status = 0;
    if (strcmp(verb, "list") == 0)
        return dead_list(cfg, rc);
    for (int i = 0; i < nids; i++)
        status |= strcmp(verb, "requeue") == 0 ? dead_requeue_one(cfg, rc, ids[i], actor)
                                               : dead_drop_one(cfg, rc, ids[i], actor);
    return status;
}

int tg_cmd_dead(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"operator", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct ops o = {0};
    int ch, status = 2;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (ch == 'c') o.config = optarg;
        else if (ch == 'o') o.operator_name = optarg;
        else return dead_usage(ch == 'h' ? stdout : stderr);
    }
    const char *verb = optind < argc ? argv[optind++] : "";
    if (o.config == NULL || (strcmp(verb, "list") && strcmp(verb, "requeue") && strcmp(verb, "drop")))
        return dead_usage(stderr);
    struct tg_config *cfg = tg_cli_config(o.config);
    redisContext *rc = cfg ? tg_cli_redis(cfg, NULL) : NULL;
    char actor[160];
    tg_cli_operator(actor, sizeof actor, o.operator_name);
    if (rc) {
        status = dead_run(cfg, rc, verb, argv + optind, argc - optind, actor);
        redisFree(rc);
    }
    tg_config_unref(cfg);
    return status;
}
