/* chatops_slack.c -- POST /chatops/slack: verify, then run a slash command or a button click. */
#include "api/chatops_slack.h"
#include "api/chatops.h"
#include "base/crypto.h"
#include "base/log.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TG_MODULE "slack"
#define SIG_LEN   (3 + TG_SHA256_HEX_LEN) /* "v0=" + 64 hex */

/* ---- verification ---- */

/* loop */
enum tg_slack_verdict tg_slack_verify(struct tg_bytes secret, const struct tg_slack_signed *req,
                                      uint64_t now_s)
{
    const char *timestamp = req->timestamp, *signature = req->signature;
    long long ts;
    unsigned char mac[TG_SHA256_LEN];
    char want[SIG_LEN + 1] = "v0=";
    if (timestamp == NULL || signature == NULL)
        return TG_SLACK_MISSING;
    if (tg_parse_int(timestamp, 0, 99999999999LL, &ts) || strlen(signature) != SIG_LEN ||
        strncmp(signature, "v0=", 3) != 0)
        return TG_SLACK_MALFORMED;
    uint64_t skew = (uint64_t)ts > now_s ? (uint64_t)ts - now_s : now_s - (uint64_t)ts;
    if (skew > TG_SLACK_WINDOW_S)
        return TG_SLACK_STALE;
    const struct tg_bytes parts[] = {
        {"v0:", 3}, {timestamp, strlen(timestamp)}, {":", 1}, {req->body, req->bodylen}};
    tg_hmac_sha256(secret, parts, 4, mac);
    tg_hex_encode(mac, sizeof mac, want + 3);
    return tg_ct_equal(want, SIG_LEN, signature, SIG_LEN) ? TG_SLACK_OK : TG_SLACK_MISMATCH;
}

/* loop */
const char *tg_slack_verdict_reason(enum tg_slack_verdict v)
{
    static const char *const reasons[] = {[TG_SLACK_OK] = "",
                                          [TG_SLACK_MISSING] = "missing signature",
                                          [TG_SLACK_MALFORMED] = "malformed signature",
                                          [TG_SLACK_STALE] = "stale timestamp",
                                          [TG_SLACK_MISMATCH] = "bad signature"};
    return reasons[v];
}

/* ---- replays ---- */

static void on_replay(void *tally, const struct tg_api_request *req)
{
    tg_chatops_reject(tally, TG_CHAT_SLACK, "replayed request", req->remote);
}

/* Slack signs the timestamp with the body, so one signature names one request; each is kept
 * for the whole window a timestamp is accepted in (both sides of now), then it is stale
 * anyway. Claimed on the loop before the request is queued (api.h). */
const struct tg_api_once tg_slack_once = {"x-slack-signature",
                                          "slack:nonce:", 2 * TG_SLACK_WINDOW_S + 60, on_replay};

/* ---- buttons ---- */

/* The message that replaces the clicked one, or an ephemeral answer beside it. */
static json_t *in_place(const struct tg_vote *v, const struct tg_vote_result *r,
                        const struct tg_chat_texts *t)
{
    if (r->have_view && r->status <= TG_VOTE_DENIED) {
        json_t *msg =
            tg_chat_slack_message(t, &r->view.subject, TG_TEXT_REQUEST, tg_vote_text(r->status));
        json_object_set_new(msg, "replace_original", json_true());
        return msg;
    }
    char *answer = tg_chatops_vote_answer(t, v, r);
    json_t *msg = json_pack("{s:s, s:b, s:s}", "response_type", "ephemeral", "replace_original", 0,
                            "text", answer);
    free(answer);
    return msg;
}

static void answer_in_place(struct tg_work *w, const char *url, const struct tg_vote *v,
                            const struct tg_vote_result *r)
{
    char err[256];
    if (url == NULL || *url == '\0')
        return;
    struct tg_chat_texts *t = tg_chat_texts_load(w->cfg, TG_CHAT_SLACK);
    json_t *msg = in_place(v, r, t);
    if (tg_chat_post_json(url, NULL, msg, err, sizeof err))
        TG_LOG(TG_LOG_WARN, "response_url_failed", "deployment %s: %s", v->id, err);
    json_decref(msg);
    tg_chat_texts_free(t);
}

static const char *jpath(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    v = b ? json_object_get(v, b) : v;
    return json_is_string(v) ? json_string_value(v) : "";
}

int tg_slack_read_click(const char *payload, struct tg_slack_click *c)
{
    memset(c, 0, sizeof *c);
    c->root = json_loads(payload, 0, NULL);
    json_t *action = json_array_get(json_object_get(c->root, "actions"), 0);
    const char *what = jpath(action, "action_id", NULL);
    c->deny = strcmp(what, "deny") == 0;
    c->user = jpath(c->root, "user", "id");
    c->response_url = jpath(c->root, "response_url", NULL);
    if (strcmp(jpath(c->root, "type", NULL), "block_actions") != 0 ||
        (!c->deny && strcmp(what, "approve") != 0))
        return -1;
    if (sscanf(jpath(action, "value", NULL), "%20[0-9a-f]:%d", c->id, &c->round) < 2 ||
        c->round < 0)
        c->round = 0;
    return 0;
}

void tg_slack_click_dispose(struct tg_slack_click *c)
{
    json_decref(c->root);
    c->root = NULL;
}

static void on_action(struct tg_api_ctx *ctx, struct tg_work *w, const char *payload)
{
    struct tg_slack_click c;
    struct tg_vote_result r;
    if (tg_slack_read_click(payload, &c)) {
        tg_api_answer(ctx, 200, "text/plain", "", 0); /* another interaction: nothing of ours */
        tg_slack_click_dispose(&c);
        return;
    }
    struct tg_vote v = {.id = c.id,
                        .identity = tg_chatops_identity(&w->cfg->slack, c.user, NULL),
                        .chat_user = c.user,
                        .channel = "slack",
                        .comment = c.deny ? "denied with the Deny button" : NULL,
                        .deny = c.deny,
                        .round = c.round};
    tg_approval_cast(w, &v, &r);
    tg_api_answer(ctx, 200, "text/plain", "", 0);
    answer_in_place(w, c.response_url, &v, &r);
    tg_approval_follow_up(w, &v, &r, TG_CHAT_BIT(TG_CHAT_SLACK));
    tg_vote_result_dispose(&r);
    tg_slack_click_dispose(&c);
}

/* ---- the route ---- */

/* loop */
void tg_slack_gate(void *data, const struct tg_config *cfg, const struct tg_api_request *req,
                   struct tg_api_verdict *out)
{
    const struct tg_chat *slack = &cfg->slack;
    enum tg_slack_verdict v;
    if (!slack->enabled || slack->secret.value == NULL) {
        *out = (struct tg_api_verdict){404, "not_found", "chatops.slack is not configured"};
    } else if (strcmp(req->method, "POST") != 0) {
        *out = (struct tg_api_verdict){405, "method_not_allowed", "POST only"};
    } else if ((v = tg_slack_verify(
                    (struct tg_bytes){slack->secret.value, slack->secret.len},
                    &(struct tg_slack_signed){tg_api_header(req, "x-slack-request-timestamp"),
                                              tg_api_header(req, "x-slack-signature"), req->body,
                                              req->bodylen},
                    tg_now_ms() / 1000)) != TG_SLACK_OK) {
        tg_chatops_reject(data, TG_CHAT_SLACK, tg_slack_verdict_reason(v), req->remote);
        *out = (struct tg_api_verdict){401, "unauthorized", tg_slack_verdict_reason(v)};
    }
}

/* Answers a request that is not a genuine, serviceable Slack request; 1 when it did. The gate
 * checked the signature on the loop; it is checked again under the config in force now. */
static int refuse(void *tally, struct tg_api_ctx *ctx, const struct tg_api_request *req)
{
    struct tg_api_verdict v = {0};
    tg_slack_gate(tally, ctx->cfg, req, &v);
    if (v.status) {
        tg_api_error(ctx, v.status, v.error, v.detail);
    } else if (ctx->rc == NULL) {
        tg_api_json(
            ctx, 200,
            json_pack("{s:s, s:s}", "response_type", "ephemeral", "text",
                      "Tollgate cannot reach its database right now; try again in a minute."));
    } else {
        return 0;
    }
    return 1;
}

void tg_slack_handle(void *data, struct tg_api_ctx *ctx, const struct tg_api_request *req)
{
    struct tg_work w;
    if (refuse(data, ctx, req))
        return;
    char *payload = tg_chatops_form_value(req->body, req->bodylen, "payload");
    tg_approval_work_init(&w, ctx->cfg, ctx->rc, ctx->audit);
    if (payload)
        on_action(ctx, &w, payload);
    else
        tg_chatops_slash(ctx, &w, req, TG_CHAT_SLACK);
    tg_approval_work_dispose(&w);
    free(payload);
}
