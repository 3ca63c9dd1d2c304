/* chatops.c -- what Slack and Mattermost requests have in common: forms, identities, the
 * /tollgate commands and their answers. */
#include "api/chatops.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TG_MODULE     "chatops"
#define PENDING_SHOWN 10

/* ---- forms ---- */

char *tg_chatops_form_value(const char *body, size_t len, const char *name)
{
    /* A form body is encoded like a query string: api.c's parser reads both. */
    struct tg_api_request r = {.query = (char *)body};
    char *out = tg_xmalloc(len + 1);
    if (tg_api_query(&r, name, out, len + 1) == NULL) {
        free(out);
        return NULL;
    }
    return out;
}

/* ---- identities ---- */

const char *tg_chatops_identity(const struct tg_chat *chat, const char *user_id,
                                const char *user_name)
{
    for (size_t i = 0; user_id && *user_id && i < chat->nusers; i++)
        if (strcmp(chat->users[i].chat_id, user_id) == 0)
            return chat->users[i].identity;
    for (size_t i = 0; user_name && *user_name && i < chat->nusers; i++)
        if (strcmp(chat->users[i].chat_id, user_name) == 0)
            return chat->users[i].identity;
    return NULL;
}

/* ---- commands ---- */

/* The next word of *p (cut to outlen - 1), advancing *p past it and the blanks after. */
static void next_word(const char **p, char *out, size_t outlen)
{
    const char *s = *p;
    size_t n = 0;
    while (*s && !isspace((unsigned char)*s)) {
        if (n + 1 < outlen)
            out[n++] = *s;
        s++;
    }
    out[n] = '\0';
    while (isspace((unsigned char)*s))
        s++;
    *p = s;
}

int tg_chatops_parse(const char *text, struct tg_chatops_command *cmd)
{
    static const struct {
        const char *word;
        enum tg_chatops_verb verb;
        int args; /* 0 none, 1 an id, 2 an id and a text, 3 an id and a required text */
    } verbs[] = {{"approve", TG_CMD_APPROVE, 2}, {"deny", TG_CMD_DENY, 3},
                 {"status", TG_CMD_STATUS, 1},   {"pending", TG_CMD_PENDING, 0},
                 {"help", TG_CMD_HELP, 0},       {"", TG_CMD_HELP, 0}};
    char verb[16];
    const char *p = text ? text : "";
    memset(cmd, 0, sizeof *cmd);
    while (isspace((unsigned char)*p))
        p++;
    next_word(&p, verb, sizeof verb);
    for (size_t i = 0; i < TG_ARRAY_SIZE(verbs); i++) {
        if (strcasecmp(verb, verbs[i].word) != 0)
            continue;
        cmd->verb = verbs[i].verb;
        if (verbs[i].args)
            next_word(&p, cmd->id, sizeof cmd->id);
        if (verbs[i].args >= 2 && *p)
            cmd->text = tg_xstrdup(p);
        if (verbs[i].args && cmd->id[0] == '\0')
            cmd->error = "the deployment id is missing";
        else if (verbs[i].args == 3 && cmd->text == NULL)
            cmd->error = "deny needs a reason: deny ID reason";
        if (cmd->error)
            cmd->verb = TG_CMD_HELP;
        return cmd->error ? -1 : 0;
    }
    cmd->error = "unknown command";
    return -1;
}

void tg_chatops_command_dispose(struct tg_chatops_command *cmd)
{
    free(cmd->text);
    cmd->text = NULL;
}

/* ---- answers ---- */

char *tg_chatops_vote_answer(const struct tg_chat_texts *t, const struct tg_vote *v,
                             const struct tg_vote_result *r)
{
    struct tg_chat_subject s;
    memset(&s, 0, sizeof s);
    if (r->have_view)
        s = r->view.subject;
    s.var[TG_VAR_ID] = v->id;
    s.var[TG_VAR_ACTOR] = v->identity ? v->identity : v->chat_user;
    s.var[TG_VAR_COMMENT] = v->comment;
    s.var[TG_VAR_DETAIL] =
        r->status == TG_VOTE_ERROR ? "Tollgate cannot reach its database; try again" : r->why;
    return tg_chat_render(t, tg_vote_text(r->status), &s);
}

static char *status_answer(struct tg_work *w, const struct tg_chat_texts *t, const char *id)
{
    char key[512];
    struct tg_approval_view v = {0};
    struct tg_chat_subject unknown;
    memset(&unknown, 0, sizeof unknown);
    int rc = tg_approval_lookup(w->rc, w->cfg->redis.prefix, id, key, sizeof key);
    if (rc == 1)
        rc = tg_approval_view_load(w->rc, w->cfg, key, &v);
    unknown.var[TG_VAR_ID] = id;
    unknown.var[TG_VAR_DETAIL] = "Tollgate cannot reach its database; try again";
    char *answer = tg_chat_render(t,
                                  rc == 1   ? TG_TEXT_STATUS
                                  : rc == 0 ? TG_TEXT_UNKNOWN_ID
                                            : TG_TEXT_REFUSED,
                                  rc == 1 ? &v.subject : &unknown);
    tg_approval_view_dispose(&v);
    return answer;
}

static char *pending_answer(struct tg_work *w, const struct tg_chat_texts *t)
{
    char keys[PENDING_SHOWN][512];
    struct tg_buf b;
    struct tg_chat_subject none;
    memset(&none, 0, sizeof none);
    int n = tg_approval_pending(w->rc, w->cfg->redis.prefix, keys, PENDING_SHOWN);
    tg_buf_init(&b);
    for (int i = 0; i < n; i++) {
        struct tg_approval_view v;
        if (tg_approval_view_load(w->rc, w->cfg, keys[i], &v) == 1) {
            char *line = tg_chat_render(t, TG_TEXT_PENDING_LINE, &v.subject);
            tg_buf_printf(&b, "%s%s", b.len ? "\n" : "", line);
            free(line);
        }
        tg_approval_view_dispose(&v);
    }
    if (b.len == 0) {
        none.var[TG_VAR_DETAIL] = "Tollgate cannot reach its database; try again";
        char *text = tg_chat_render(t, n < 0 ? TG_TEXT_REFUSED : TG_TEXT_PENDING_NONE, &none);
        tg_buf_puts(&b, text);
        free(text);
    }
    return tg_buf_steal(&b);
}

static char *help_answer(const struct tg_chat_texts *t, const char *error)
{
    struct tg_chat_subject s;
    memset(&s, 0, sizeof s);
    char *help = tg_chat_render(t, TG_TEXT_HELP, &s);
    char *answer = error ? tg_xasprintf("%s. %s", error, help) : tg_xstrdup(help);
    free(help);
    return answer;
}

void tg_chatops_execute(struct tg_work *w, const struct tg_chatops_caller *caller,
                        const struct tg_chatops_command *cmd, struct tg_chatops_run *run)
{
    const struct tg_chat *chat =
        caller->chat == TG_CHAT_SLACK ? &w->cfg->slack : &w->cfg->mattermost;
    struct tg_chat_texts *t = tg_chat_texts_load(w->cfg, caller->chat);
    memset(run, 0, sizeof *run);
    if (cmd->verb == TG_CMD_APPROVE || cmd->verb == TG_CMD_DENY) {
        run->vote = (struct tg_vote){
            .id = cmd->id,
            .identity = tg_chatops_identity(chat, caller->user_id, caller->user_name),
            .chat_user = caller->user_id,
            .channel = tg_chat_name(caller->chat),
            .comment = cmd->text,
            .deny = cmd->verb == TG_CMD_DENY};
        tg_approval_cast(w, &run->vote, &run->result);
        run->voted = 1;
        run->answer = tg_chatops_vote_answer(t, &run->vote, &run->result);
    } else if (cmd->verb == TG_CMD_STATUS) {
        run->answer = status_answer(w, t, cmd->id);
    } else if (cmd->verb == TG_CMD_PENDING) {
        run->answer = pending_answer(w, t);
    } else {
        run->answer = help_answer(t, cmd->error);
    }
    tg_chat_texts_free(t);
}

void tg_chatops_follow_up(struct tg_work *w, struct tg_chatops_run *run, unsigned skip)
{
    if (run->voted)
        tg_approval_follow_up(w, &run->vote, &run->result, skip);
}

void tg_chatops_run_dispose(struct tg_chatops_run *run)
{
    free(run->answer);
    tg_vote_result_dispose(&run->result);
    memset(run, 0, sizeof *run);
}

void tg_chatops_slash(struct tg_api_ctx *ctx, struct tg_work *w, const struct tg_api_request *req,
                      enum tg_chat_service chat)
{
    char *text = tg_chatops_form_value(req->body, req->bodylen, "text");
    char *user = tg_chatops_form_value(req->body, req->bodylen, "user_id");
    char *name = chat == TG_CHAT_MATTERMOST
                     ? tg_chatops_form_value(req->body, req->bodylen, "user_name")
                     : NULL;
    struct tg_chatops_command cmd;
    struct tg_chatops_run run;
    struct tg_chatops_caller who = {chat, user, name};
    tg_chatops_parse(text, &cmd);
    tg_chatops_execute(w, &who, &cmd, &run);
    tg_api_json(ctx, 200,
                json_pack("{s:s, s:s}", "response_type", "ephemeral", "text", run.answer));
    tg_chatops_follow_up(w, &run, 0);
    tg_chatops_run_dispose(&run);
    tg_chatops_command_dispose(&cmd);
    free(text);
    free(user);
    free(name);
}

/* loop */
void tg_chatops_reject(struct tg_tally *tally, enum tg_chat_service chat, const char *reason,
                       const char *remote)
{
    char channel[32];
    snprintf(channel, sizeof channel, "chatops:%s", tg_chat_name(chat));
    tg_metrics_inc(TG_M_CHATOPS_REJECTED_UNAUTHORIZED);
    TG_LOG(TG_LOG_DEBUG, "rejected", "%s from %s: %s", channel, remote, reason);
    if (tally)
        tg_tally_add(tally, &(struct tg_tally_entry){"rejected", reason, 401, channel, remote},
                     tg_now_ms());
}
