/* chatops_mattermost.c -- POST /chatops/mattermost: a slash command or a button callback. */
#include "api/chatops_mattermost.h"
#include "approvals/button_context.h"
#include "api/chatops.h"
#include "base/crypto.h"
#include "deliver/deploy.h"
#include "base/log.h"
#include "base/util.h"

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

/* loop */
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

#define MM_ID_LEN   26 /* Mattermost's ids: 26 characters of [a-z0-9] */
#define MM_NAME_MAX 64

static int is_mattermost_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9')))
            return 0;
    return n == MM_ID_LEN;
}

/* Why a click is refused before any work, or NULL. Mattermost signs nothing, so a captured
 * context works for anyone who can POST: the clicker must be a user chatops.mattermost.users
 * maps (by user_id, a Mattermost id or a configured name, or by user_name). An unmapped or
 * malformed one is counted, never recorded. */
/* loop */
static const char *clicker_refusal(const struct tg_chat *mm, json_t *body)
{
    const char *user = jstr(body, "user_id"), *name = jstr(body, "user_name");
    if (strlen(name) > MM_NAME_MAX ||
        (!is_mattermost_id(user) && tg_chatops_identity(mm, user, NULL) == NULL))
        return "bad user_id";
    return tg_chatops_identity(mm, user, name) ? NULL : "unmapped user";
}

/* {"update": {"message", "props": {"attachments"}}, "ephemeral_text"}: the clicked post shows the
 * new state; refusals only answer the clicker. */
static json_t *button_answer(struct tg_work *w, const struct tg_vote *v,
                             const struct tg_vote_result *r)
{
    struct tg_chat_texts *t = tg_chat_texts_load(w->cfg, TG_CHAT_MATTERMOST);
    char *text = tg_chatops_vote_answer(t, v, r), *url = NULL;
    json_t *answer = json_pack("{s:s}", "ephemeral_text", text);
    if (r->have_view && r->status <= TG_VOTE_DENIED) {
        url = w->cfg->public_url ? tg_xasprintf("%s/chatops/mattermost", w->cfg->public_url) : NULL;
        json_t *m = tg_chat_mattermost_message(t, &r->view.subject, TG_TEXT_REQUEST,
                                               tg_vote_text(r->status), url);
        json_t *atts = json_object_get(m, "attachments");
        json_object_set_new(answer, "update",
                            json_pack("{s:O, s:{s:O}}", "message", json_object_get(m, "text"),
                                      "props", "attachments", atts ? atts : json_array()));
        json_decref(m);
    }
    free(text);
    free(url);
    tg_chat_texts_free(t);
    return answer;
}

static void on_button(struct tg_api_ctx *ctx, struct tg_work *w, json_t *body, void *tally,
                      const char *remote)
{
    struct tg_button_click click;
    const char *why, *user = jstr(body, "user_id");
    /* The gate checked the context on the loop; check again under the config in force now (a
     * reload may have changed the key). */
    if (tg_button_context_check(w->cfg->mattermost.context_key, json_object_get(body, "context"),
                                tg_now_ms() / 1000, &click, &why)) {
        tg_chatops_reject(tally, TG_CHAT_MATTERMOST, why, remote);
        tg_api_error(ctx, 401, "unauthorized", why);
        return;
    }
    if ((why = clicker_refusal(&w->cfg->mattermost, body)) != NULL) { /* users may have changed */
        tg_chatops_reject(tally, TG_CHAT_MATTERMOST, why, remote);
        tg_api_error(ctx, 403, "forbidden",
                     "this Mattermost user is not in chatops.mattermost.users");
        return;
    }
    struct tg_vote v = {.id = click.id,
                        .identity =
                            tg_chatops_identity(&w->cfg->mattermost, user, jstr(body, "user_name")),
                        .chat_user = user,
                        .channel = "mattermost",
                        .comment = click.deny ? "denied with the Deny button" : NULL,
                        .deny = click.deny,
                        .round = click.round};
    struct tg_vote_result r;
    tg_approval_cast(w, &v, &r);
    tg_api_json(ctx, 200, button_answer(w, &v, &r));
    tg_approval_follow_up(w, &v, &r, TG_CHAT_BIT(TG_CHAT_MATTERMOST));
    tg_vote_result_dispose(&r);
}

/* ---- the route ---- */

/* The body as a button callback ({"context": {...}, ...}), or NULL for a slash command. */
/* loop */
static json_t *button_body(const struct tg_api_request *req)
{
    json_t *body =
        req->bodylen && req->body[0] == '{' ? json_loadb(req->body, req->bodylen, 0, NULL) : NULL;
    if (body && !json_is_object(body)) {
        json_decref(body);
        body = NULL;
    }
    return body;
}

/* loop */
void tg_mattermost_gate(void *data, const struct tg_config *cfg, const struct tg_api_request *req,
                        struct tg_api_verdict *out)
{
    const struct tg_chat *mm = &cfg->mattermost;
    struct tg_button_click click;
    const char *why = NULL;
    if (!mm->enabled || mm->secret.value == NULL) {
        *out = (struct tg_api_verdict){404, "not_found", "chatops.mattermost is not configured"};
        return;
    }
    if (strcmp(req->method, "POST") != 0) {
        *out = (struct tg_api_verdict){405, "method_not_allowed", "POST only"};
        return;
    }
    json_t *body = button_body(req);
    if (body && tg_button_context_check(mm->context_key, json_object_get(body, "context"),
                                        tg_now_ms() / 1000, &click, &why))
        *out = (struct tg_api_verdict){401, "unauthorized", why};
    else if (body && (why = clicker_refusal(mm, body)) != NULL)
        *out = (struct tg_api_verdict){403, "forbidden",
                                       "this Mattermost user is not in chatops.mattermost.users"};
    else if (body == NULL && !token_ok(mm, req) && (why = "bad token") != NULL)
        *out =
            (struct tg_api_verdict){401, "unauthorized", "the slash command token does not match"};
    json_decref(body);
    if (out->status)
        tg_chatops_reject(data, TG_CHAT_MATTERMOST, why, req->remote);
}

void tg_mattermost_handle(void *data, struct tg_api_ctx *ctx, const struct tg_api_request *req)
{
    json_t *body = button_body(req);
    struct tg_work w;
    if (ctx->rc == NULL) {
        tg_api_error(ctx, 503, "unavailable", "Tollgate cannot reach its database right now");
    } else if (body) {
        tg_approval_work_init(&w, ctx->cfg, ctx->rc, ctx->audit);
        on_button(ctx, &w, body, data, req->remote);
        tg_approval_work_dispose(&w);
    } else if (!token_ok(&ctx->cfg->mattermost, req)) { /* the token changed since the gate */
        tg_chatops_reject(data, TG_CHAT_MATTERMOST, "bad token", req->remote);
        tg_api_error(ctx, 401, "unauthorized", "the slash command token does not match");
    } else {
        tg_approval_work_init(&w, ctx->cfg, ctx->rc, ctx->audit);
        tg_chatops_slash(ctx, &w, req, TG_CHAT_MATTERMOST);
        tg_approval_work_dispose(&w);
    }
    json_decref(body);
}
