/* deploy_api.c -- GET /api/v1/deployments[/ID], POST /api/v1/deployments/ID/{approve,deny}. */
#include "api/deploy_api.h"
#include "approvals/approval.h"
#include "api/chatops_mattermost.h"
#include "api/chatops_slack.h"
#include "base/util.h"
#include "console/approvers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE     "/api/v1/deployments"
#define LIST_MAX 100

/* 1 when Redis can be used; otherwise answers 503. */
static int have_redis(struct tg_api_ctx *ctx)
{
    if (ctx->rc == NULL)
        tg_api_error(ctx, 503, "unavailable", "Redis is unreachable");
    return ctx->rc != NULL;
}

static void list(struct tg_api_ctx *ctx, const struct tg_api_request *req)
{
    char status[32];
    if (tg_api_bearer(ctx, req, TG_SCOPE_READ) == NULL)
        return;
    if (tg_api_query(req, "status", status, sizeof status) && strcmp(status, "pending") != 0) {
        tg_api_error(ctx, 400, "bad_request",
                     "only status=pending is listed; GET " BASE "/ID shows any one");
        return;
    }
    if (!have_redis(ctx))
        return;
    char(*keys)[512] = tg_xcalloc(LIST_MAX, sizeof *keys);
    int n = tg_approval_pending(ctx->rc, ctx->cfg->redis.prefix, keys, LIST_MAX);
    json_t *out = json_array();
    for (int i = 0; i < n; i++) {
        struct tg_approval_view v;
        if (tg_approval_view_load(ctx->rc, ctx->cfg, keys[i], &v) == 1)
            json_array_append_new(out, tg_approval_view_json(&v));
        tg_approval_view_dispose(&v);
    }
    free(keys);
    long long total = n < 0 ? -1 : tg_deploy_pending_total(ctx->rc, ctx->cfg->redis.prefix);
    if (n < 0 || total < 0) {
        json_decref(out);
        tg_api_error(ctx, 503, "unavailable", "Redis failed");
        return;
    }
    tg_api_json(ctx, 200,
                json_pack("{s:I, s:I, s:o}", "count", (json_int_t)json_array_size(out), "total",
                          (json_int_t)total, "deployments", out));
}

/* One vote as a page sees it: the reason it would be refused (NULL: none) and its buffer. */
struct preview {
    const char *reason;
    char why[256];
};

/* Whether the session's user may cast this vote (deny 0: approve): true, false, or null when
 * only GitLab can tell; p gets the reason. */
static json_t *may_vote(struct tg_api_ctx *ctx, const struct tg_api_request *req,
                        const struct tg_approval_view *v, int deny, struct preview *p)
{
    int unknown = 0;
    if (v->state == NULL || strcmp(v->state, "pending_approval") != 0) {
        snprintf(p->why, sizeof p->why, "the deployment is %s", v->state ? v->state : "unknown");
        p->reason = p->why;
        return json_false();
    }
    struct tg_approver_query q = {.cfg = ctx->cfg,
                                  .rc = ctx->rc,
                                  .rules = &v->rules,
                                  .identity = req->session->token.identity,
                                  .user = v->target.user,
                                  .deny = deny,
                                  .identity_id = req->session->user_id,
                                  .user_id = v->target.user_id,
                                  .cached_only = 1,
                                  .unknown = &unknown};
    p->reason = tg_approvers_refusal(&q, p->why, sizeof p->why);
    return unknown ? json_null() : json_boolean(p->reason == NULL);
}

/* For a console session: "you": {username, may_approve, reason, may_deny, deny_reason} so a
 * page can say why before they try. A page view never waits on GitLab: group approvers are
 * read from the membership cache only, and when it holds no answer may_approve is null
 * ("unknown until you vote"); the vote itself asks GitLab and fails closed. */
static json_t *with_you(struct tg_api_ctx *ctx, const struct tg_api_request *req,
                        const struct tg_approval_view *v, json_t *j)
{
    struct preview a, d;
    if (req->session == NULL)
        return j;
    json_t *may = may_vote(ctx, req, v, 0, &a);
    json_t *may_deny = may_vote(ctx, req, v, 1, &d);
    json_object_set_new(j, "you",
                        json_pack("{s:s, s:o, s:s?, s:o, s:s?}", "username",
                                  req->session->token.identity, "may_approve", may, "reason",
                                  a.reason, "may_deny", may_deny, "deny_reason", d.reason));
    return j;
}

/* One deployment's answer carries its decision (the list's do not). */
static json_t *with_decision(const struct tg_approval_view *v, json_t *j)
{
    json_t *decision = tg_approval_view_decision(v);
    if (decision)
        json_object_set_new(j, "decision", decision);
    return j;
}

static void show(struct tg_api_ctx *ctx, const struct tg_api_request *req, const char *id)
{
    char key[512];
    struct tg_approval_view v = {0};
    if (tg_api_bearer(ctx, req, TG_SCOPE_READ) == NULL || !have_redis(ctx))
        return;
    int rc = tg_approval_lookup(ctx->rc, ctx->cfg->redis.prefix, id, key, sizeof key);
    if (rc == 1)
        rc = tg_approval_view_load(ctx->rc, ctx->cfg, key, &v);
    if (rc == 1)
        tg_api_json(ctx, 200, with_you(ctx, req, &v, with_decision(&v, tg_approval_view_json(&v))));
    else if (rc == 0)
        tg_api_error(ctx, 404, "not_found", "no deployment has this id");
    else
        tg_api_error(ctx, 503, "unavailable", "Redis failed");
    tg_approval_view_dispose(&v);
}

/* The comment (approve) or reason (deny) from an optional JSON body into *out (borrowed from
 * *body). Returns 0, or -1 after answering 400. */
static int read_body(struct tg_api_ctx *ctx, const struct tg_api_request *req, int deny,
                     json_t **body, const char **out)
{
    *body = req->bodylen ? json_loadb(req->body, req->bodylen, 0, NULL) : json_object();
    json_t *c =
        json_object_get(*body, deny && json_object_get(*body, "reason") ? "reason" : "comment");
    *out = json_string_value(c);
    if (!json_is_object(*body) || (c && !json_is_string(c)))
        tg_api_error(ctx, 400, "bad_request",
                     "the body must be a JSON object like {\"comment\": \"...\"}");
    else if (deny && (*out == NULL || **out == '\0'))
        tg_api_error(ctx, 400, "bad_request", "deny needs a reason: {\"reason\": \"...\"}");
    else
        return 0;
    return -1;
}

static void answer_vote(struct tg_api_ctx *ctx, const struct tg_vote_result *r)
{
    const char *state = r->have_view ? r->view.state : NULL;
    switch (r->status) {
    case TG_VOTE_UNKNOWN:
        tg_api_error(ctx, 404, "not_found", r->why);
        break;
    case TG_VOTE_ERROR:
        tg_api_error(ctx, 503, "unavailable", "Redis failed");
        break;
    case TG_VOTE_REFUSED:
        tg_api_json(
            ctx, state && strcmp(state, "pending_approval") == 0 ? 403 : 409,
            json_pack("{s:s, s:s, s:s?}", "error", "refused", "detail", r->why, "state", state));
        break;
    default:
        tg_api_json(ctx, 200,
                    json_pack("{s:s, s:o}", "outcome", tg_vote_status_name(r->status), "deployment",
                              tg_approval_view_json(&r->view)));
    }
}

static void vote(struct tg_api_ctx *ctx, const struct tg_api_request *req, const char *id, int deny)
{
    const struct tg_api_token *t = tg_api_bearer(ctx, req, TG_SCOPE_APPROVE);
    const char *comment = NULL;
    json_t *body = NULL;
    struct tg_work w;
    struct tg_vote_result r;
    if (t == NULL || read_body(ctx, req, deny, &body, &comment) || !have_redis(ctx)) {
        json_decref(body);
        return;
    }
    struct tg_vote v = {.id = id,
                        .identity = t->identity,
                        .channel = req->session ? "console" : "api",
                        .comment = comment,
                        .deny = deny,
                        .identity_id = req->session ? req->session->user_id : 0};
    tg_approval_work_init(&w, ctx->cfg, ctx->rc, ctx->audit);
    tg_approval_cast(&w, &v, &r);
    answer_vote(ctx, &r);
    tg_approval_follow_up(&w, &v, &r, 0);
    tg_vote_result_dispose(&r);
    tg_approval_work_dispose(&w);
    json_decref(body);
}

static void on_deployments(void *data, struct tg_api_ctx *ctx, const struct tg_api_request *req)
{
    char id[64] = "", verb[16] = "";
    const char *rest = req->path + strlen(BASE);
    int get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    (void)data;
    if (*rest == '/')
        rest++;
    if (strlen(rest) > 80 || (*rest && sscanf(rest, "%63[^/]/%15s", id, verb) < 1))
        tg_api_error(ctx, 404, "not_found", "no such route");
    else if (*id == '\0' && get)
        list(ctx, req);
    else if (*id && *verb == '\0' && get)
        show(ctx, req, id);
    else if (*id && post && (strcmp(verb, "approve") == 0 || strcmp(verb, "deny") == 0))
        vote(ctx, req, id, strcmp(verb, "deny") == 0);
    else if (*id == '\0' || *verb == '\0' || strcmp(verb, "approve") == 0 ||
             strcmp(verb, "deny") == 0)
        tg_api_error(ctx, 405, "method_not_allowed",
                     "GET " BASE "[/ID], POST " BASE "/ID/approve or /deny");
    else
        tg_api_error(ctx, 404, "not_found", "no such route");
}

/* The gate of /api/v1/deployments/: a valid bearer token and, for a POST (approve, deny: the
 * act lane), one with the approve scope, so that a read-only token cannot fill that lane. */
/* loop */
static void gate_deployments(void *data, const struct tg_config *cfg,
                             const struct tg_api_request *req, struct tg_api_verdict *out)
{
    tg_api_gate_bearer(data, cfg, req, out);
    if (out->status || strcmp(req->method, "POST") != 0)
        return;
    const char *h = tg_api_header(req, "authorization") + 7; /* the bearer gate saw "Bearer " */
    const struct tg_api_token *t = tg_config_find_api_token(cfg, h, strlen(h));
    if (t == NULL || (t->scopes & TG_SCOPE_APPROVE) == 0)
        *out =
            (struct tg_api_verdict){403, "forbidden", "the token lacks the scope this call needs"};
}

void tg_deploy_api_register(struct tg_server *s, struct tg_api_pool *p, struct tg_tally *tally)
{
    const struct tg_api_route_spec routes[] = {
        {BASE "/", TG_ROUTE_API, TG_LANE_ACT_ON_POST, gate_deployments, on_deployments, tally, 1,
         NULL, TG_SESSION_ACCEPTED},
        {BASE, TG_ROUTE_API, TG_LANE_READ, tg_api_gate_bearer, on_deployments, tally, 1, NULL,
         TG_SESSION_ACCEPTED}, /* "/x/" does not take "/x" */
        {"/chatops/slack", TG_ROUTE_CHATOPS, TG_LANE_ACT, tg_slack_gate, tg_slack_handle, tally, 1,
         &tg_slack_once, TG_SESSION_ACCEPTED},
        {"/chatops/mattermost", TG_ROUTE_CHATOPS, TG_LANE_ACT, tg_mattermost_gate,
         tg_mattermost_handle, tally, 1, NULL, TG_SESSION_ACCEPTED},
    };
    for (size_t i = 0; i < TG_ARRAY_SIZE(routes); i++)
        tg_api_route(s, p, &routes[i]);
}
