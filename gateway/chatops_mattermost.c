/* chatops_mattermost.c -- POST /chatops/mattermost: a slash command or a button callback. */
#include "chatops_mattermost.h"
#include "chatops.h"
#include "crypto.h"
#include "deploy.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TG_MODULE "mattermost"

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* ---- slash commands ---- */

static int token_ok(const struct tg_chat *mm, const struct tg_api_request *req)
{
    const char *h = tg_api_header(req, "authorization");
    char *form = tg_chatops_form_value(req->body, req->bodylen, "token");
    const char *given = h && strncasecmp(h, "Token ", 6) == 0 ? h + 6 : form;
    int ok = given && tg_ct_equal(given, strlen(given), mm->secret.value, mm->secret.len);
    free(form);
    return ok;
}

/* ---- buttons ---- */

/* Whether secret is the button secret of deployment id: 1 yes, 0 no (forged), 2 no such
 * deployment, -1 Redis failed. */
static int secret_ok(struct tg_work *w, const char *id, const char *secret)
{
    char key[512];
    int rc = tg_approval_lookup(w->rc, w->cfg->redis.prefix, id, key, sizeof key);
    if (rc != 1)
        return rc == 0 ? 2 : -1;
    redisReply *r = redisCommand(w->rc, "HGET %s approval_secret", key);
    rc = r == NULL || r->type == REDIS_REPLY_ERROR ? -1 : r->type != REDIS_REPLY_STRING ? 2
         : tg_ct_equal(r->str, r->len, secret, strlen(secret));
    freeReplyObject(r);
    return rc;
}

/* {"update": {"message", "props": {"attachments"}}, "ephemeral_text"}: the clicked post shows the
 * new state; refusals only answer the clicker. */
static json_t *button_answer(struct tg_work *w, const struct tg_vote *v, const struct tg_vote_result *r)
{
    struct tg_chat_texts *t = tg_chat_texts_load(w->cfg, TG_CHAT_MATTERMOST);
    char *text = tg_chatops_vote_answer(t, v, r), *url = NULL;
    json_t *answer = json_pack("{s:s}", "ephemeral_text", text);
    if (r->have_view && r->status <= TG_VOTE_DENIED) {
        url = w->cfg->public_url ? tg_xasprintf("%s/chatops/mattermost", w->cfg->public_url) : NULL;
        json_t *m = tg_chat_mattermost_message(t, &r->view.subject, TG_TEXT_REQUEST, tg_vote_text(r->status), url);
        json_t *atts = json_object_get(m, "attachments");
        json_object_set_new(answer, "update", json_pack("{s:O, s:{s:O}}", "message", json_object_get(m, "text"),
                                                        "props", "attachments", atts ? atts : json_array()));
        json_decref(m);
    }
    free(text), free(url);
    tg_chat_texts_free(t);
    return answer;
}

static void on_button(struct tg_api_ctx *ctx, struct tg_work *w, json_t *body, void *tally, const char *remote)
{
    json_t *c = json_object_get(body, "context");
    const char *id = jstr(c, "id"), *action = jstr(c, "action"), *user = jstr(body, "user_id");
    int deny = strcmp(action, "deny") == 0, ok = secret_ok(w, id, jstr(c, "secret"));
    if (!json_is_object(c) || ok == 0 || (!deny && strcmp(action, "approve") != 0)) {
        tg_chatops_reject(tally, TG_CHAT_MATTERMOST, "bad button context", remote);
        tg_api_error(ctx, 401, "unauthorized", "the button's context does not match a deployment");
        return;
    }
    struct tg_vote v = {.id = id, .identity = tg_chatops_identity(&w->cfg->mattermost, user, jstr(body, "user_name")),
                        .chat_user = user, .channel = "mattermost",
                        .comment = deny ? "denied with the Deny button" : NULL, .deny = deny,
                        .round = (int)json_integer_value(json_object_get(c, "round"))};
    struct tg_vote_result r;
    tg_approval_cast(w, &v, &r);
    tg_api_json(ctx, 200, button_answer(w, &v, &r));
    tg_approval_follow_up(w, &v, &r, TG_CHAT_BIT(TG_CHAT_MATTERMOST));
    tg_vote_result_dispose(&r);
}

/* ---- the route ---- */

void tg_mattermost_handle(void *data, struct tg_api_ctx *ctx, const struct tg_api_request *req)
{
    const struct tg_chat *mm = &ctx->cfg->mattermost;
    json_t *body = NULL;
    struct tg_work w;
    if (!mm->enabled || mm->secret.value == NULL) {
        tg_api_error(ctx, 404, "not_found", "chatops.mattermost is not configured");
    } else if (strcmp(req->method, "POST") != 0) {
        tg_api_error(ctx, 405, "method_not_allowed", "POST only");
    } else if (ctx->rc == NULL) {
        tg_api_error(ctx, 503, "unavailable", "Tollgate cannot reach its database right now");
    } else if ((body = json_loadb(req->body, req->bodylen, 0, NULL)) != NULL) {
        tg_approval_work_init(&w, ctx->cfg, ctx->rc, ctx->audit);
        on_button(ctx, &w, body, data, req->remote);
        tg_approval_work_dispose(&w);
    } else if (!token_ok(mm, req)) {
        tg_chatops_reject(data, TG_CHAT_MATTERMOST, "bad token", req->remote);
        tg_api_error(ctx, 401, "unauthorized", "the slash command token does not match");
    } else {
        tg_approval_work_init(&w, ctx->cfg, ctx->rc, ctx->audit);
        tg_chatops_slash(ctx, &w, req, TG_CHAT_MATTERMOST);
        tg_approval_work_dispose(&w);
    }
    json_decref(body);
}
