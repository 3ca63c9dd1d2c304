/* ops_cmd.c -- operator commands: `retrigger` a deployment whose outcome is unknown or failed,
 * and `dead` to list, requeue or drop dead-lettered events.
 *
 * Both act on Redis directly (a running gateway picks the result up) and leave an audit
 * record naming the operator, because re-running a deploy is a decision too. The record is
 * written first: when it cannot be (audit.fail_closed), nothing is done.
 */
#include "audit/audit.h"
#include "cmd/cli.h"
#include "cmd/commands.h"
#include "deliver/deploy.h"
#include "deliver/queue.h"
#include "base/util.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ops {
    const char *config, *redis, *operator_name, *environment;
    long long project, pipeline;
};

/* Records the operator's action r (its details stolen). Returns -1 when the action must not
 * go on: the record failed and audit.fail_closed is set. */
static int ops_record(const struct tg_config *cfg, redisContext *rc,
                      const struct tg_audit_record *r)
{
    char err[256];
    struct tg_audit *a = tg_audit_new(cfg);
    int failed = tg_audit_append(a, rc, r, err, sizeof err);
    if (failed)
        fprintf(stderr, "tollgate: %s%s\n", err,
                cfg->audit.fail_closed ? " (audit.fail_closed: not done)" : "");
    tg_audit_free(a);
    json_decref(r->details);
    return failed && cfg->audit.fail_closed ? -1 : 0;
}

/* The same for an action that concerns no deployment. */
static int ops_audit(const struct tg_config *cfg, redisContext *rc, const char *action,
                     const char *actor, json_t *details)
{
    struct tg_audit_record r = {.action = action, .actor = actor, .details = details};
    return ops_record(cfg, rc, &r);
}

/* The replayed record of a retrigger names the deployment's project, pipeline, environment,
 * ref and sha (from its record), so the pipeline's audit query shows it. */
static int retrigger_audit(const struct tg_config *cfg, redisContext *rc, const char *key,
                           const char *actor, const char *state)
{
    struct tg_deployment d;
    tg_deployment_load(rc, key, &d); /* unreadable: the record names the key only */
    struct tg_audit_record r = {.action = "replayed",
                                .actor = actor,
                                .project = d.project,
                                .ref = d.ref,
                                .sha = d.sha,
                                .pipeline = d.pipeline,
                                .environment = d.environment,
                                .details = json_pack("{s:s, s:s, s:s}", "deployment", key,
                                                     "previous_state", state, "what", "retrigger")};
    int failed = ops_record(cfg, rc, &r);
    tg_deployment_dispose(&d);
    return failed;
}

/* The deployment's state into out ("missing" when there is none). */
static void deploy_state(redisContext *rc, const char *key, char *out, size_t outlen)
{
    struct tg_deployment d;
    tg_deployment_load(rc, key, &d);
    snprintf(out, outlen, "%s", d.state ? d.state : "missing");
    tg_deployment_dispose(&d);
}

static int retrigger(const struct tg_config *cfg, redisContext *rc, const char *key,
                     const char *actor)
{
    char state[64], detail[128];
    deploy_state(rc, key, state, sizeof state);
    if (strcmp(state, "unknown") && strcmp(state, "failed")) {
        fprintf(stderr,
                "tollgate: %s is %s; only unknown or failed deployments can be retriggered\n", key,
                state);
        return 1;
    }
    if (retrigger_audit(cfg, rc, key, actor, state))
        return 2;
    if (tg_deploy_retrigger(rc, cfg->redis.prefix, key, detail, sizeof detail)) {
        fprintf(stderr, "tollgate: %s became %s meanwhile; not retriggered\n", key, detail);
        return 1;
    }
    printf("%s: was %s, queued for a new trigger\n", key, state);
    return 0;
}

static int retrigger_usage(FILE *out)
{
    fprintf(
        out,
        "usage: tollgate retrigger -c FILE --project ID --pipeline N --environment ENV [--operator "
        "NAME]\n"
        "  Re-runs the trigger of a deployment whose outcome is unknown (a worker died between\n"
        "  sending and GitLab's answer) or failed. Check the chart repository's pipelines first:\n"
        "  if the deploy did run, do not retrigger. A running gateway's workers send it at "
        "once.\n");
    return out == stdout ? 0 : 2;
}

int tg_cmd_retrigger(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"project", required_argument, NULL, 'p'},
                                         {"pipeline", required_argument, NULL, 'n'},
                                         {"environment", required_argument, NULL, 'e'},
                                         {"operator", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct ops o = {0};
    int ch;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (ch == 'c')
            o.config = optarg;
        else if (ch == 'p')
            o.project = atoll(optarg);
        else if (ch == 'n')
            o.pipeline = atoll(optarg);
        else if (ch == 'e')
            o.environment = optarg;
        else if (ch == 'o')
            o.operator_name = optarg;
        else
            return retrigger_usage(ch == 'h' ? stdout : stderr);
    }
    if (!o.config || o.project <= 0 || o.pipeline <= 0 || !o.environment || optind != argc)
        return retrigger_usage(stderr);
    struct tg_config *cfg = tg_cli_config(o.config);
    redisContext *rc = cfg ? tg_cli_redis(cfg, NULL) : NULL;
    char key[512], actor[160];
    int status = 2;
    if (rc) {
        struct tg_deploy_id id = {o.project, o.pipeline, o.environment};
        tg_deploy_key(key, sizeof key, cfg->redis.prefix, &id);
        tg_cli_operator(actor, sizeof actor, o.operator_name);
        status = retrigger(cfg, rc, key, actor);
        redisFree(rc);
    }
    tg_config_unref(cfg);
    return status;
}

/* ---- dead letters ---- */

static void print_dead(void *arg, const char *id, const char *const *kv, size_t nkv)
{
    (void)arg;
    printf("%s", id);
    for (size_t i = 0; i + 1 < nkv; i += 2) {
        const char *k = kv[i];
        if (strcmp(k, "reason") == 0 || strcmp(k, "event") == 0 ||
            strcmp(k, "idempotency_key") == 0 || strcmp(k, "deliveries") == 0 ||
            strcmp(k, "original_id") == 0)
            printf("  %s=%s", k, kv[i + 1]);
    }
    printf("\n");
}

static int dead_list(const struct tg_config *cfg, redisContext *rc)
{
    int n = tg_queue_dead_list(rc, cfg->redis.prefix, print_dead, NULL);
    if (n < 0)
        return 2;
    printf("%d dead-lettered event(s)\n", n);
    return 0;
}

/* 1 when dead entry id exists; 0 after saying it does not (or Redis failed). */
static int dead_exists(const struct tg_config *cfg, redisContext *rc, const char *id)
{
    if (tg_queue_dead_exists(rc, cfg->redis.prefix, id) == 1)
        return 1;
    fprintf(stderr, "tollgate: no dead-lettered event %s\n", id);
    return 0;
}

/* Moves dead entry id back to the queue (all its original fields, a new stream id). */
static int dead_requeue_one(const struct tg_config *cfg, redisContext *rc, const char *id,
                            const char *actor)
{
    char new_id[64];
    int done = dead_exists(cfg, rc, id) &&
               ops_audit(cfg, rc, "replayed", actor,
                         json_pack("{s:s, s:s}", "dead_id", id, "what", "requeue")) == 0 &&
               tg_queue_dead_requeue(rc, cfg->redis.prefix, id, new_id, sizeof new_id) == 1;
    if (done)
        printf("%s: requeued as %s\n", id, new_id);
    return done ? 0 : 1;
}

static int dead_usage(FILE *out)
{
    fprintf(out,
            "usage: tollgate dead -c FILE list\n"
            "       tollgate dead -c FILE requeue ID... [--operator NAME]\n"
            "       tollgate dead -c FILE drop ID... [--operator NAME]\n"
            "  Dead-lettered events failed queue.max_attempts times (or could never be read).\n"
            "  Fix the cause (see each reason), then requeue them; drop what must not run.\n");
    return out == stdout ? 0 : 2;
}

static int dead_drop_one(const struct tg_config *cfg, redisContext *rc, const char *id,
                         const char *actor)
{
    int done = dead_exists(cfg, rc, id) &&
               ops_audit(cfg, rc, "dropped", actor, json_pack("{s:s}", "dead_id", id)) == 0;
    if (done)
        tg_queue_dead_drop(rc, cfg->redis.prefix, id);
    printf("%s: %s\n", id, done ? "dropped" : "not dropped");
    return !done;
}

/* Runs verb on the ids (list takes none). */
static int dead_run(const struct tg_config *cfg, redisContext *rc, const struct tg_cli_dead *d)
{
    int status = 0;
    if (strcmp(d->verb, "list") == 0)
        return dead_list(cfg, rc);
    for (int i = 0; i < d->nids; i++)
        status |= strcmp(d->verb, "requeue") == 0 ? dead_requeue_one(cfg, rc, d->ids[i], d->actor)
                                                  : dead_drop_one(cfg, rc, d->ids[i], d->actor);
    return status;
}

int tg_cmd_dead(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"operator", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct ops o = {0};
    int ch, status = 2;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (ch == 'c')
            o.config = optarg;
        else if (ch == 'o')
            o.operator_name = optarg;
        else
            return dead_usage(ch == 'h' ? stdout : stderr);
    }
    const char *verb = optind < argc ? argv[optind++] : "";
    if (o.config == NULL ||
        (strcmp(verb, "list") && strcmp(verb, "requeue") && strcmp(verb, "drop")))
        return dead_usage(stderr);
    struct tg_config *cfg = tg_cli_config(o.config);
    redisContext *rc = cfg ? tg_cli_redis(cfg, NULL) : NULL;
    char actor[160];
    tg_cli_operator(actor, sizeof actor, o.operator_name);
    if (rc) {
        struct tg_cli_dead d = {
            .verb = verb, .ids = argv + optind, .nids = argc - optind, .actor = actor};
        status = dead_run(cfg, rc, &d);
        redisFree(rc);
    }
    tg_config_unref(cfg);
    return status;
}
