/* environments_api.c -- GET /api/v1/environments (environments_api.h). API pool threads.
 *
 * One row per (project id, environment) that deploy's indexes or the pending set name: the
 * deployment of the newest pipeline triggered ("live", with who approved it), of the newest
 * decided ("decision", in its current state: a later deny or expiry shows), and the count of
 * requests waiting for approval with the PENDING_SHOWN soonest. Reads one record per index
 * entry and per pending request shown, never the audit trail, so a busy install (many
 * projects, long trails) cannot crowd a row out.
 */
#include "api/environments_api.h"
#include "base/util.h"
#include "deliver/deploy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PENDING_SHOWN 3

struct row {
    long long project_id;
    const char *environment;
    const struct tg_deploy_index_entry *latest, *live;
    const struct tg_deploy_index_entry *first[PENDING_SHOWN];
    int npending;
};

struct rows {
    struct row *v;
    size_t n, cap;
};

static struct row *row_of(struct rows *rs, const struct tg_deploy_index_entry *e)
{
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i].project_id == e->project_id &&
            strcmp(rs->v[i].environment, e->environment) == 0)
            return &rs->v[i];
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 16;
        rs->v = tg_xrealloc(rs->v, rs->cap * sizeof *rs->v);
    }
    rs->v[rs->n] = (struct row){.project_id = e->project_id, .environment = e->environment};
    return &rs->v[rs->n++];
}

static json_t *when(long long ms)
{
    char t[40];
    if (ms <= 0)
        return json_null();
    tg_rfc3339(t, sizeof t, (uint64_t)ms);
    return json_string(t);
}

static json_t *live_json(const struct tg_deployment *d)
{
    json_t *by = json_array();
    for (size_t i = 0; i < d->nvoters; i++)
        json_array_append_new(by, json_string(d->voters[i].identity));
    return json_pack("{s:I, s:s?, s:s?, s:o, s:s?, s:s?, s:o}", "pipeline", (json_int_t)d->pipeline,
                     "sha", d->sha, "ref", d->ref, "triggered_at", when(d->updated_at),
                     "downstream_url", d->downstream_url, "verdict", d->verdict, "approved_by", by);
}

static json_t *decision_json(const struct tg_deployment *d)
{
    long long at = d->decided_at ? d->decided_at : d->created_at;
    return json_pack("{s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:o, s:s?, s:s?, s:s?}", "pipeline",
                     (json_int_t)d->pipeline, "sha", d->sha, "ref", d->ref, "verdict", d->verdict,
                     "state", d->state, "reason", d->reason, "decided_at", when(at), "id",
                     d->approval_id, "denied_by", d->denied_by, "deny_reason", d->deny_reason);
}

static int by_name(const void *a, const void *b);

/* Every record the rows show, loaded in one round trip: per row latest, live and the first
 * PENDING_SHOWN pending, in that order (NULL entries skipped). */
struct loaded {
    struct tg_deployment *d;
    int *found;
    size_t n;
};

static const struct tg_deploy_index_entry *slot(const struct row *r, int i)
{
    return i == 0 ? r->latest : i == 1 ? r->live : i - 2 < r->npending ? r->first[i - 2] : NULL;
}

#define SLOTS (2 + PENDING_SHOWN)

static int load_all(redisContext *c, const struct rows *rs, struct loaded *l)
{
    const char **keys = tg_xcalloc(rs->n * SLOTS + 1, sizeof *keys);
    for (size_t i = 0; i < rs->n; i++)
        for (int k = 0; k < SLOTS; k++)
            if (slot(&rs->v[i], k))
                keys[l->n++] = slot(&rs->v[i], k)->key;
    l->d = tg_xcalloc(l->n + 1, sizeof *l->d);
    l->found = tg_xcalloc(l->n + 1, sizeof *l->found);
    int rc = tg_deployment_load_many(c, keys, l->n, l->d, l->found);
    free(keys);
    return rc;
}

/* The next loaded record of a slot that has one, as fn makes it; null when it is gone. */
static json_t *next(const struct loaded *l, size_t *at, json_t *(*fn)(const struct tg_deployment *),
                    json_t *row)
{
    const struct tg_deployment *d = &l->d[(*at)++];
    if (l->found[*at - 1] != 1)
        return json_null();
    if (d->project && !json_object_get(row, "project"))
        json_object_set_new(row, "project", json_string(d->project));
    return fn(d);
}

static json_t *pending_one(const struct tg_deployment *d)
{
    return json_pack("{s:s?, s:I, s:s?, s:o}", "id", d->approval_id, "pipeline",
                     (json_int_t)d->pipeline, "sha", d->sha, "expires_at", when(d->expires_at));
}

static json_t *row_json(const struct loaded *l, size_t *at, const struct row *r)
{
    json_t *j = json_pack("{s:I, s:s}", "project_id", (json_int_t)r->project_id, "environment",
                          r->environment);
    json_t *first = json_array();
    json_object_set_new(j, "decision", r->latest ? next(l, at, decision_json, j) : json_null());
    json_object_set_new(j, "live", r->live ? next(l, at, live_json, j) : json_null());
    for (int i = 0; i < r->npending && i < PENDING_SHOWN; i++)
        json_array_append_new(first, next(l, at, pending_one, j));
    json_object_set_new(j, "pending",
                        json_pack("{s:i, s:o}", "count", r->npending, "first", first));
    return j;
}

static void answer(struct tg_api_ctx *ctx, struct rows *rs)
{
    struct loaded l = {0};
    size_t at = 0;
    if (rs->n > 1) /* qsort must not be given a NULL array, even of 0 elements */
        qsort(rs->v, rs->n, sizeof *rs->v, by_name);
    if (load_all(ctx->rc, rs, &l)) {
        tg_api_error(ctx, 503, "unavailable", "Redis failed");
    } else {
        json_t *out = json_array();
        for (size_t i = 0; i < rs->n; i++)
            json_array_append_new(out, row_json(&l, &at, &rs->v[i]));
        tg_api_json(ctx, 200, json_pack("{s:o}", "environments", out));
    }
    for (size_t i = 0; i < l.n; i++)
        tg_deployment_dispose(&l.d[i]);
    free(l.d);
    free(l.found);
}

static int by_name(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    int c = strcmp(x->environment, y->environment);
    return c ? c : (x->project_id > y->project_id) - (x->project_id < y->project_id);
}

static void gather(struct rows *rs, struct tg_deploy_index_entry *const e[3], const int n[3])
{
    for (int i = 0; i < n[0]; i++)
        row_of(rs, &e[0][i])->latest = &e[0][i];
    for (int i = 0; i < n[1]; i++)
        row_of(rs, &e[1][i])->live = &e[1][i];
    for (int i = 0; i < n[2]; i++) {
        struct row *r = row_of(rs, &e[2][i]);
        if (r->npending < PENDING_SHOWN)
            r->first[r->npending] = &e[2][i];
        r->npending++;
    }
}

static void on_environments(void *data, struct tg_api_ctx *ctx, const struct tg_api_request *req)
{
    struct tg_deploy_index_entry *e[3] = {0};
    int n[3] = {0};
    struct rows rs = {0};
    (void)data;
    if (tg_api_bearer(ctx, req, TG_SCOPE_READ) == NULL)
        return;
    if (strcmp(req->method, "GET") != 0) {
        tg_api_error(ctx, 405, "method_not_allowed", "GET /api/v1/environments");
        return;
    }
    if (ctx->rc == NULL ||
        (n[0] = tg_deploy_index_read(ctx->rc, ctx->cfg->redis.prefix, 0, &e[0])) < 0 ||
        (n[1] = tg_deploy_index_read(ctx->rc, ctx->cfg->redis.prefix, 1, &e[1])) < 0 ||
        (n[2] = tg_deploy_pending_all(ctx->rc, ctx->cfg->redis.prefix, &e[2])) < 0) {
        tg_api_error(ctx, 503, "unavailable", "Redis failed");
    } else {
        gather(&rs, e, n);
        answer(ctx, &rs);
    }
    for (int i = 0; i < 3; i++)
        tg_deploy_index_dispose(e[i], n[i] < 0 ? 0 : n[i]);
    free(rs.v);
}

void tg_environments_api_register(struct tg_server *s, struct tg_api_pool *p,
                                  struct tg_tally *tally)
{
    const struct tg_api_route_spec route = {"/api/v1/environments",
                                            TG_ROUTE_API,
                                            TG_LANE_READ,
                                            tg_api_gate_bearer,
                                            on_environments,
                                            tally,
                                            1,
                                            NULL,
                                            TG_SESSION_ACCEPTED};
    tg_api_route(s, p, &route);
}
