/* deployment.c -- the deployment record decoded once into struct tg_deployment (deploy.h), so
 * no reader walks the hash field by field. Reads only: every change is one of deploy.c's
 * scripts. Worker, API pool and CLI threads.
 */
#include "deliver/deploy.h"
#include "base/util.h"
#include "deliver/template.h"

#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define VOTE_PREFIX   "vote:"
#define POSTED_PREFIX "posted:"

enum kind { STR, NUM };

static const struct field {
    const char *name;
    enum kind kind;
    size_t off;
} fields[] = {
#define S(name, member)                                                                            \
    {                                                                                              \
        name, STR, offsetof(struct tg_deployment, member)                                          \
    }
#define N(name, member)                                                                            \
    {                                                                                              \
        name, NUM, offsetof(struct tg_deployment, member)                                          \
    }
    S("state", state),
    N("project_id", project_id),
    S("project", project),
    N("pipeline", pipeline),
    S("sha", sha),
    S("ref", ref),
    S("environment", environment),
    S("user", user),
    N("user_id", user_id),
    S("verdict", verdict),
    S("rule", rule),
    S("reason", reason),
    S("decision", decision),
    S("defectdojo", defectdojo),
    S("policy_hash", policy_hash),
    S("template", template_name),
    S("chart_project", chart_project),
    S("chart_ref", chart_ref),
    S("variables", variables),
    S("status", status),
    S("builds", builds),
    S("last_action", last_action),
    S("redecided_from", redecided_from),
    N("rank", rank),
    N("version", version),
    S("owner", owner),
    S("downstream_url", downstream_url),
    S("error", error),
    N("attempts", attempts),
    N("lease_until", lease_until),
    N("sent_at", sent_at),
    N("first_sent_at", first_sent_at),
    N("next_at", next_at),
    N("settle_until", settle_until),
    N("reconcile_checks", reconcile_checks),
    N("reconcile_scanned", reconcile_scanned),
    N("downstream_id", downstream_id),
    N("effects", effects),
    S("approval_id", approval_id),
    S("approval_hash", approval_hash),
    S("denied_by", denied_by),
    S("deny_reason", deny_reason),
    N("approval_round", approval_round),
    N("votes", votes),
    N("notify_attempts", notify_attempts),
    N("expires_at", expires_at),
    N("created_at", created_at),
    N("updated_at", updated_at),
    N("decided_at", decided_at),
    N("approved_at", approved_at),
    N("expired_at", expired_at),
    N("withdrawn_at", withdrawn_at),
    N("redecided_at", redecided_at),
    N("retriggered_at", retriggered_at),
#undef S
#undef N
};

static void set_field(struct tg_deployment *d, const char *name, const char *value)
{
    for (size_t i = 0; i < TG_ARRAY_SIZE(fields); i++) {
        if (strcmp(fields[i].name, name) != 0)
            continue;
        char *at = (char *)d + fields[i].off;
        if (fields[i].kind == STR)
            *(const char **)at = value;
        else
            *(long long *)at = atoll(value);
        return;
    }
}

static int by_time(const void *a, const void *b)
{
    const struct tg_deploy_vote *x = a, *y = b;
    return x->at < y->at ? -1 : x->at > y->at;
}

static void add_vote(struct tg_deployment *d, const char *identity, const char *value)
{
    const char *sp = strchr(value, ' ');
    d->voters[d->nvoters++] = (struct tg_deploy_vote){identity, sp ? sp + 1 : "", atoll(value)};
}

static void decode(struct tg_deployment *d)
{
    const redisReply *r = d->reply;
    d->voters = tg_xcalloc(r->elements / 2 + 1, sizeof *d->voters);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str, *v = r->element[i + 1]->str;
        if (f == NULL || v == NULL)
            continue;
        if (strncmp(f, VOTE_PREFIX, strlen(VOTE_PREFIX)) == 0)
            add_vote(d, f + strlen(VOTE_PREFIX), v);
        else
            set_field(d, f, v);
    }
    if (d->nvoters > 1) /* never a NULL array to qsort, even of 0 elements */
        qsort(d->voters, d->nvoters, sizeof *d->voters, by_time);
}

int tg_deployment_load(redisContext *c, const char *key, struct tg_deployment *d)
{
    memset(d, 0, sizeof *d);
    d->reply = redisCommand(c, "HGETALL %s", key);
    if (d->reply == NULL || d->reply->type != REDIS_REPLY_ARRAY)
        return -1;
    if (d->reply->elements == 0)
        return 0;
    decode(d);
    return 1;
}

/* The reply into d as tg_deployment_load leaves it. */
static int take(struct tg_deployment *d, redisReply *r)
{
    memset(d, 0, sizeof *d);
    d->reply = r;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY)
        return -1;
    if (r->elements == 0)
        return 0;
    decode(d);
    return 1;
}

int tg_deployment_load_many(redisContext *c, const char *const *keys, size_t n,
                            struct tg_deployment *out, int *found)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (redisAppendCommand(c, "HGETALL %s", keys[i]) != REDIS_OK)
            rc = -1;
    for (size_t i = 0; i < n; i++) {
        void *reply = NULL;
        if (rc == 0 && redisGetReply(c, &reply) != REDIS_OK)
            rc = -1;
        found[i] = take(&out[i], reply);
        if (found[i] < 0)
            rc = -1;
    }
    return rc;
}

void tg_deployment_dispose(struct tg_deployment *d)
{
    freeReplyObject(d->reply);
    free(d->voters);
    memset(d, 0, sizeof *d);
}

void tg_deployment_request(const struct tg_deployment *d, struct tg_trigger_request *out)
{
    json_t *vars = json_loads(d->variables ? d->variables : "{}", 0, NULL), *v;
    size_t n = json_object_size(vars), i = 0;
    const char *k;
    memset(out, 0, sizeof *out);
    out->template_name = tg_xstrdup(d->template_name ? d->template_name : "");
    out->project = tg_xstrdup(d->chart_project ? d->chart_project : "");
    out->ref = tg_xstrdup(d->chart_ref ? d->chart_ref : "");
    out->var_names = tg_xcalloc(n + 1, sizeof(char *)); /* NULL-terminated: tg_strv_free */
    out->var_values = tg_xcalloc(n + 1, sizeof(char *));
    json_object_foreach(vars, k, v)
    {
        out->var_names[i] = tg_xstrdup(k);
        out->var_values[i++] = tg_xstrdup(json_is_string(v) ? json_string_value(v) : "");
    }
    out->nvars = i;
    json_decref(vars);
}

long long tg_deployment_posted(const struct tg_deployment *d, const char *chat)
{
    const redisReply *r = d->reply;
    size_t n = strlen(POSTED_PREFIX);
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str;
        if (f && strncmp(f, POSTED_PREFIX, n) == 0 && strcmp(f + n, chat) == 0)
            return r->element[i + 1]->str ? atoll(r->element[i + 1]->str) : -1;
    }
    return -1;
}
