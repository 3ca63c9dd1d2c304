/* chat_message.c -- what Tollgate says in Slack and Mattermost, and how it gets there.
 *
 * A chat template (templates/chat-slack.yaml, chat-mattermost.yaml):
 *
 *   kind: chat
 *   chat: slack                 # optional; must match the file's chat when present
 *   messages:
 *     request: "..."            # any key of text_keys below; {{ name }} from var_names
 *
 * Messages are built as JSON trees (jansson) and posted with libcurl, one easy handle per post.
 * The Slack Web API base can be moved with TOLLGATE_SLACK_API_URL (a proxy, or a test's stand-in).
 */
#include "approvals/chat_message.h"
#include "approvals/button_context.h"
#include "base/scrub.h"
#include "base/buf.h"
#include "base/httpclient.h"
#include "base/log.h"
#include "base/util.h"
#include "base/yamlfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TG_MODULE         "chat"
#define MAX_ANSWER        65536
#define SLACK_SECTION_MAX 2900 /* Block Kit section text limit is 3000 characters */
#define SLACK_API_DEFAULT "https://slack.com/api"

struct tg_chat_texts {
    enum tg_chat_service chat;
    char *text[TG_TEXT_COUNT]; /* NULL: the built-in text */
};

static const char *const chat_names[TG_CHAT_COUNT] = {"slack", "mattermost"};

static const char *const text_keys[TG_TEXT_COUNT + 1] = {
    "request",    "notification", "approve_button", "deny_button",  "deny_confirm",
    "vote",       "approved",     "denied",         "expired",      "superseded",
    "withdrawn",  "voided",       "status",         "pending_line", "pending_none",
    "unknown_id", "refused",      "duplicate",      "help",         NULL};

static const char *const var_names[TG_VAR_COUNT] = {"deployment.id", "deployment.state",
                                                    "project",       "pipeline.id",
                                                    "pipeline.url",  "ref",
                                                    "sha",           "sha_short",
                                                    "environment",   "user",
                                                    "reason",        "reasons",
                                                    "findings",      "audit_url",
                                                    "votes",         "required",
                                                    "approvers",     "voters",
                                                    "expires_at",    "actor",
                                                    "comment",       "detail"};

/* Plain texts that read acceptably in either chat, for a missing file or key. */
static const char *const builtin[TG_TEXT_COUNT] = {
    [TG_TEXT_REQUEST] =
        "Deploy of {{ project }} pipeline {{ pipeline.id }} ({{ ref }} @ {{ sha_short }}) to "
        "{{ environment }} needs {{ required }} approval(s).\n{{ reasons }}\n{{ findings }}\n"
        "Pipeline: {{ pipeline.url }}\nAudit: {{ audit_url }}\n"
        "Deployment {{ deployment.id }}, expires {{ expires_at }}",
    [TG_TEXT_FALLBACK] =
        "{{ project }} to {{ environment }} waits for approval ({{ deployment.id }})",
    [TG_TEXT_APPROVE_BUTTON] = "Approve",
    [TG_TEXT_DENY_BUTTON] = "Deny",
    [TG_TEXT_DENY_CONFIRM] =
        "Deny the deploy of {{ project }} to {{ environment }}? It is not deployed.",
    [TG_TEXT_VOTE] = "{{ actor }} approved {{ deployment.id }} ({{ votes }}/{{ required }})",
    [TG_TEXT_APPROVED] = "{{ deployment.id }} approved by {{ voters }}: deploying {{ project }} to "
                         "{{ environment }}",
    [TG_TEXT_DENIED] = "{{ deployment.id }} denied by {{ actor }}: {{ comment }}",
    [TG_TEXT_EXPIRED] = "{{ deployment.id }} expired with {{ votes }}/{{ required }} approvals",
    [TG_TEXT_SUPERSEDED] = "{{ deployment.id }} superseded: {{ detail }}",
    [TG_TEXT_WITHDRAWN] = "{{ deployment.id }} withdrawn: {{ detail }}",
    [TG_TEXT_VOIDED] =
        "{{ deployment.id }}: the policy changed and earlier approvals were voided; approve again",
    [TG_TEXT_STATUS] =
        "{{ deployment.id }}: {{ project }} pipeline {{ pipeline.id }} to {{ environment }} is "
        "{{ deployment.state }} ({{ votes }}/{{ required }} approvals: {{ voters }})",
    [TG_TEXT_PENDING_LINE] =
        "{{ deployment.id }}  {{ project }} to {{ environment }}, pipeline {{ pipeline.id }} "
        "by {{ user }}, {{ votes }}/{{ required }}, expires {{ expires_at }}",
    [TG_TEXT_PENDING_NONE] = "Nothing is waiting for approval.",
    [TG_TEXT_UNKNOWN_ID] =
        "No deployment has the id {{ deployment.id }}. `pending` lists the open ones.",
    [TG_TEXT_REFUSED] = "Not recorded: {{ detail }}",
    [TG_TEXT_DUPLICATE] =
        "You already approved {{ deployment.id }}; it counts once ({{ votes }}/{{ required }}).",
    [TG_TEXT_HELP] = "Usage: approve ID [comment] | deny ID reason | status ID | pending",
};

/* loop */
const char *tg_chat_name(enum tg_chat_service chat)
{
    return chat_names[chat];
}

/* ---- placeholders ---- */

/* Finds the next "{{ name }}" at or after p. *open is where it starts (NULL when there is none,
 * or when it is not closed); name/namelen the trimmed name. Returns where scanning goes on. */
static const char *next_var(const char *p, const char **open, const char **name, size_t *namelen)
{
    const char *o = strstr(p, "{{"), *c = o ? strstr(o + 2, "}}") : NULL;
    *open = c ? o : NULL;
    if (c == NULL)
        return p + strlen(p);
    const char *s = o + 2, *e = c;
    while (s < e && *s == ' ')
        s++;
    while (e > s && e[-1] == ' ')
        e--;
    *name = s;
    *namelen = (size_t)(e - s);
    return c + 2;
}

static int var_index(const char *s, size_t n)
{
    for (int i = 0; i < TG_VAR_COUNT; i++)
        if (strlen(var_names[i]) == n && memcmp(var_names[i], s, n) == 0)
            return i;
    return -1;
}

/* Reports each unknown or unclosed placeholder of text at node. */
static void check_text(struct tg_yaml *y, yaml_node_t *node, const char *key, const char *text)
{
    const char *open, *name = NULL;
    size_t n = 0;
    for (const char *p = text; *p;) {
        p = next_var(p, &open, &name, &n);
        if (open && var_index(name, n) < 0)
            tg_yaml_error(
                y, node,
                "messages.%s: unknown placeholder {{ %.*s }} (known: deployment.*, project, "
                "pipeline.*, ref, sha, environment, user, reasons, findings, votes, ...)",
                key, (int)n, name);
    }
    if (strstr(text, "{{") && !strstr(text, "}}"))
        tg_yaml_error(y, node, "messages.%s: \"{{\" without \"}}\"", key);
}

/* ---- loading ---- */

static void load_messages(struct tg_yaml *y, yaml_node_t *n, struct tg_chat_texts *t)
{
    if (n == NULL || tg_yaml_expect_map(y, n, "messages"))
        return;
    tg_yaml_check_keys(y, n, text_keys, "messages");
    for (int i = 0; i < TG_TEXT_COUNT; i++) {
        yaml_node_t *v = tg_yaml_get(y, n, text_keys[i]);
        const char *s = v ? tg_yaml_scalar(y, v, text_keys[i]) : NULL;
        if (s == NULL)
            continue;
        check_text(y, v, text_keys[i], s);
        t->text[i] = tg_xstrdup(s);
    }
}

static void load_doc(struct tg_yaml *y, struct tg_chat_texts *t)
{
    static const char *const keys[] = {"kind", "chat", "messages", NULL};
    yaml_node_t *root = tg_yaml_root(y), *kind, *chat;
    if (tg_yaml_expect_map(y, root, "a chat template"))
        return;
    tg_yaml_check_keys(y, root, keys, "a chat template");
    const char *k = (kind = tg_yaml_get(y, root, "kind")) ? tg_yaml_scalar(y, kind, "kind") : NULL;
    if (k == NULL || strcmp(k, "chat") != 0)
        tg_yaml_error(y, kind ? kind : root, "a chat template needs `kind: chat`");
    const char *c = (chat = tg_yaml_get(y, root, "chat")) ? tg_yaml_scalar(y, chat, "chat") : NULL;
    if (c && strcmp(c, chat_names[t->chat]) != 0)
        tg_yaml_error(y, chat, "chat is \"%s\" but this file is for %s", c, chat_names[t->chat]);
    load_messages(y, tg_yaml_get(y, root, "messages"), t);
}

struct tg_chat_texts *tg_chat_texts_parse(enum tg_chat_service chat, const char *name,
                                          const char *data, size_t len, struct tg_diag *diag)
{
    struct tg_yaml y;
    struct tg_chat_texts *t = tg_xcalloc(1, sizeof *t);
    size_t errors = diag->errors;
    t->chat = chat;
    if (tg_yaml_open_mem(&y, name, data, len, diag) == 0)
        load_doc(&y, t);
    tg_yaml_close(&y);
    if (diag->errors == errors)
        return t;
    tg_chat_texts_free(t);
    return NULL;
}

/* The chat template of chat in dir, parsed; NULL when there is none or it has errors (in diag). */
static struct tg_chat_texts *parse_file(const char *dir, enum tg_chat_service chat,
                                        struct tg_diag *diag)
{
    char *path = tg_xasprintf("%s/chat-%s.yaml", dir, chat_names[chat]);
    size_t len = 0;
    char *data = access(path, F_OK) == 0 ? tg_read_file(path, &len) : NULL;
    struct tg_chat_texts *t = NULL;
    if (data)
        t = tg_chat_texts_parse(chat, path, data, len, diag);
    else if (access(path, F_OK) == 0)
        tg_diag_error(diag, path, 0, 0, "cannot read the chat template");
    free(data);
    free(path);
    return t;
}

struct tg_chat_texts *tg_chat_texts_load(const struct tg_config *cfg, enum tg_chat_service chat)
{
    char *dir = tg_config_path(cfg, cfg->templates_dir);
    struct tg_diag diag;
    tg_diag_init(&diag);
    struct tg_chat_texts *t = parse_file(dir, chat, &diag);
    if (diag.errors) {
        char *all = tg_diag_join(&diag);
        TG_LOG(TG_LOG_ERROR, "template_invalid", "%s (built-in texts used)", all);
        free(all);
    }
    if (t == NULL) {
        t = tg_xcalloc(1, sizeof *t);
        t->chat = chat;
    }
    tg_diag_dispose(&diag);
    free(dir);
    return t;
}

int tg_chat_texts_check(const char *dir, struct tg_diag *diag)
{
    size_t errors = diag->errors;
    for (int c = 0; c < TG_CHAT_COUNT; c++)
        tg_chat_texts_free(parse_file(dir, (enum tg_chat_service)c, diag));
    return diag->errors == errors ? 0 : -1;
}

void tg_chat_texts_free(struct tg_chat_texts *t)
{
    if (t == NULL)
        return;
    for (int i = 0; i < TG_TEXT_COUNT; i++)
        free(t->text[i]);
    free(t);
}

/* ---- rendering ---- */

static void put_value(struct tg_buf *b, enum tg_chat_service chat, const char *v)
{
    for (const char *p = v ? v : ""; *p; p++) {
        if (chat == TG_CHAT_SLACK && (*p == '&' || *p == '<' || *p == '>'))
            tg_buf_puts(b, *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : "&gt;");
        else
            tg_buf_putc(b, *p);
    }
}

/* Empty placeholders leave blank lines behind: at most one blank line in a row, none at the end. */
static char *tidy(struct tg_buf *b)
{
    size_t o = 0;
    for (size_t i = 0; i < b->len; i++) {
        if (b->data[i] == '\n' && o >= 2 && b->data[o - 1] == '\n' && b->data[o - 2] == '\n')
            continue;
        b->data[o++] = b->data[i];
    }
    while (o > 0 && (b->data[o - 1] == '\n' || b->data[o - 1] == ' '))
        o--;
    b->len = o;
    b->data[o] = '\0';
    return tg_buf_steal(b);
}

char *tg_chat_render(const struct tg_chat_texts *t, enum tg_chat_text which,
                     const struct tg_chat_subject *s)
{
    const char *p = t->text[which] ? t->text[which] : builtin[which], *open, *name = NULL;
    size_t n = 0;
    struct tg_buf b;
    tg_buf_init(&b);
    while (*p) {
        const char *next = next_var(p, &open, &name, &n);
        tg_buf_append(&b, p, (size_t)((open ? open : next) - p));
        int v = open ? var_index(name, n) : -1;
        if (v >= 0)
            put_value(&b, t->chat, s->var[v]);
        p = next;
    }
    tg_buf_puts(&b, ""); /* an empty text still gives a string */
    return tidy(&b);
}

/* ---- messages ---- */

static json_t *rendered(const struct tg_chat_texts *t, enum tg_chat_text which,
                        const struct tg_chat_subject *s)
{
    char *text = tg_chat_render(t, which, s);
    json_t *j = json_string(text);
    free(text);
    return j ? j : json_string("");
}

static json_t *plain(const struct tg_chat_texts *t, enum tg_chat_text which,
                     const struct tg_chat_subject *s)
{
    return json_pack("{s:s, s:o, s:b}", "type", "plain_text", "text", rendered(t, which, s),
                     "emoji", 1);
}

static json_t *slack_button(const struct tg_chat_texts *t, const struct tg_chat_subject *s,
                            int deny)
{
    char value[96];
    snprintf(value, sizeof value, "%s:%d", s->var[TG_VAR_ID] ? s->var[TG_VAR_ID] : "", s->round);
    json_t *b = json_pack("{s:s, s:o, s:s, s:s, s:s}", "type", "button", "text",
                          plain(t, deny ? TG_TEXT_DENY_BUTTON : TG_TEXT_APPROVE_BUTTON, s), "style",
                          deny ? "danger" : "primary", "action_id", deny ? "deny" : "approve",
                          "value", value);
    if (deny)
        json_object_set_new(
            b, "confirm",
            json_pack("{s:o, s:o, s:o, s:o}", "title", plain(t, TG_TEXT_DENY_BUTTON, s), "text",
                      plain(t, TG_TEXT_DENY_CONFIRM, s), "confirm",
                      plain(t, TG_TEXT_DENY_BUTTON, s), "deny",
                      json_pack("{s:s, s:s}", "type", "plain_text", "text", "Back")));
    return b;
}

/* The body text, cut to what a Block Kit section takes (at a character boundary). */
static json_t *slack_section(const struct tg_chat_texts *t, enum tg_chat_text body,
                             const struct tg_chat_subject *s)
{
    char *text = tg_chat_render(t, body, s);
    size_t n = strlen(text);
    if (n > SLACK_SECTION_MAX) {
        n = SLACK_SECTION_MAX;
        while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
            n--;
        text[n] = '\0';
    }
    json_t *j =
        json_pack("{s:s, s:{s:s, s:s}}", "type", "section", "text", "type", "mrkdwn", "text", text);
    free(text);
    return j;
}

json_t *tg_chat_slack_message(const struct tg_chat_texts *t, const struct tg_chat_subject *s,
                              enum tg_chat_text body, int status)
{
    json_t *blocks = json_array();
    json_array_append_new(blocks, slack_section(t, body, s));
    if (status >= 0)
        json_array_append_new(blocks, json_pack("{s:s, s:[{s:s, s:o}]}", "type", "context",
                                                "elements", "type", "mrkdwn", "text",
                                                rendered(t, (enum tg_chat_text)status, s)));
    if (s->buttons)
        json_array_append_new(blocks, json_pack("{s:s, s:s, s:[o, o]}", "type", "actions",
                                                "block_id", "tollgate", "elements",
                                                slack_button(t, s, 0), slack_button(t, s, 1)));
    enum tg_chat_text line = body == TG_TEXT_REQUEST ? TG_TEXT_FALLBACK : body;
    return json_pack("{s:o, s:o}", "text",
                     rendered(t, status >= 0 ? (enum tg_chat_text)status : line, s), "blocks",
                     blocks);
}

static json_t *mm_button(const struct tg_chat_texts *t, const struct tg_chat_subject *s,
                         const char *url, int deny)
{
    static const unsigned char no_key[TG_BUTTON_KEY_LEN]; /* unsigned contexts are refused anyway */
    const char *action = deny ? "deny" : "approve";
    json_t *context = tg_button_context_new(s->context_key ? s->context_key : no_key,
                                            s->var[TG_VAR_ID] ? s->var[TG_VAR_ID] : "", s->round,
                                            action, s->context_expires_s);
    return json_pack("{s:s, s:o, s:s, s:{s:s, s:o}}", "id", action, "name",
                     rendered(t, deny ? TG_TEXT_DENY_BUTTON : TG_TEXT_APPROVE_BUTTON, s), "style",
                     deny ? "danger" : "primary", "integration", "url", url, "context", context);
}

json_t *tg_chat_mattermost_message(const struct tg_chat_texts *t, const struct tg_chat_subject *s,
                                   enum tg_chat_text body, int status, const char *action_url)
{
    json_t *m = json_pack("{s:o}", "text", rendered(t, body, s));
    if (status < 0 && !(s->buttons && action_url))
        return m;
    json_t *att = json_pack(
        "{s:o}", "text", status >= 0 ? rendered(t, (enum tg_chat_text)status, s) : json_string(""));
    if (s->buttons && action_url)
        json_object_set_new(
            att, "actions",
            json_pack("[o, o]", mm_button(t, s, action_url, 0), mm_button(t, s, action_url, 1)));
    json_object_set_new(m, "attachments", json_pack("[o]", att));
    return m;
}

/* ---- posting ---- */

/* Slack's Web API answers 200 {"ok": false, "error": "..."} when it refuses. */
static int refused_by_api(const struct tg_buf *answer, char *err, size_t errlen)
{
    json_t *j = answer->len ? json_loadb(answer->data, answer->len, 0, NULL) : NULL;
    json_t *ok = json_object_get(j, "ok");
    int refused = json_is_false(ok);
    if (refused)
        snprintf(err, errlen, "refused: %s",
                 json_string_value(json_object_get(j, "error")) ?: "no reason given");
    json_decref(j);
    return refused;
}

int tg_chat_post_json(const char *url, const char *bearer, json_t *body, char *err, size_t errlen)
{
    char *data = json_dumps(body, JSON_COMPACT);
    char *auth = bearer ? tg_xasprintf("Authorization: Bearer %s", bearer) : NULL;
    char *clean = data ? tg_scrub(data, strlen(data), NULL) : NULL; /* no token in a chat */
    if (clean) {
        free(data);
        data = clean;
    }
    const char *headers[] = {"Content-Type: application/json; charset=utf-8", auth, NULL};
    struct tg_httpc_request req = {
        .url = url,
        .headers = headers,
        .body = data ? data : "{}",
        .bodylen = data ? strlen(data) : 2,
        .timeout_ms = TG_CHAT_TIMEOUT_MS,
        .connect_timeout_ms = TG_CHAT_TIMEOUT_MS,
        .body_cap = MAX_ANSWER,
    };
    struct tg_httpc_response res;
    struct tg_httpc *c = tg_httpc_new();
    int ok = tg_httpc_perform(c, &req, &res) == 0 && res.status >= 200 && res.status < 300;
    if (res.error[0])
        snprintf(err, errlen, "%s", res.error);
    else if (!ok)
        snprintf(err, errlen, "HTTP %ld", res.status);
    else if (refused_by_api(&res.body, err, errlen))
        ok = 0;
    tg_httpc_free(c);
    tg_httpc_response_dispose(&res);
    if (auth)
        memset(auth, 0, strlen(auth));
    free(auth);
    free(data);
    return ok ? 0 : -1;
}

unsigned tg_chat_targets(const struct tg_config *cfg)
{
    unsigned m = 0;
    if (cfg->slack.enabled &&
        (cfg->slack.webhook_url.value || (cfg->slack.bot_token.value && cfg->slack.channel)))
        m |= TG_CHAT_BIT(TG_CHAT_SLACK);
    if (cfg->mattermost.enabled && cfg->mattermost.webhook_url.value)
        m |= TG_CHAT_BIT(TG_CHAT_MATTERMOST);
    return m;
}

static int post_slack(const struct tg_config *cfg, json_t *msg, char *err, size_t errlen)
{
    const struct tg_chat *c = &cfg->slack;
    if (c->webhook_url.value)
        return tg_chat_post_json(c->webhook_url.value, NULL, msg, err, errlen);
    const char *base = getenv("TOLLGATE_SLACK_API_URL");
    char *url = tg_xasprintf("%s/chat.postMessage", base && *base ? base : SLACK_API_DEFAULT);
    json_object_set_new(msg, "channel", json_string(c->channel));
    int rc = tg_chat_post_json(url, c->bot_token.value, msg, err, errlen);
    free(url);
    return rc;
}

static int post_mattermost(const struct tg_config *cfg, json_t *msg, char *err, size_t errlen)
{
    json_object_set_new(msg, "username", json_string("tollgate"));
    if (cfg->mattermost.channel)
        json_object_set_new(msg, "channel", json_string(cfg->mattermost.channel));
    return tg_chat_post_json(cfg->mattermost.webhook_url.value, NULL, msg, err, errlen);
}

static int announce_one(const struct tg_config *cfg, enum tg_chat_service chat,
                        const struct tg_chat_subject *s, enum tg_chat_text body, int status)
{
    char err[256] = "", *action_url = NULL;
    struct tg_chat_texts *t = tg_chat_texts_load(cfg, chat);
    int rc;
    if (chat == TG_CHAT_SLACK) {
        json_t *msg = tg_chat_slack_message(t, s, body, status);
        rc = post_slack(cfg, msg, err, sizeof err);
        json_decref(msg);
    } else {
        action_url =
            cfg->public_url ? tg_xasprintf("%s/chatops/mattermost", cfg->public_url) : NULL;
        json_t *msg = tg_chat_mattermost_message(t, s, body, status, action_url);
        rc = post_mattermost(cfg, msg, err, sizeof err);
        json_decref(msg);
    }
    if (rc)
        TG_LOG(TG_LOG_WARN, "post_failed", "%s, deployment %s: %s", chat_names[chat],
               s->var[TG_VAR_ID] ? s->var[TG_VAR_ID] : "-", err);
    tg_chat_texts_free(t);
    free(action_url);
    return rc;
}

unsigned tg_chat_notice(const struct tg_config *cfg, const char *text)
{
    unsigned targets = tg_chat_targets(cfg), done = 0;
    for (int c = 0; c < TG_CHAT_COUNT; c++) {
        char err[256] = "";
        if (!(targets & TG_CHAT_BIT(c)))
            continue;
        json_t *msg = json_pack("{s:s}", "text", text);
        int rc = c == TG_CHAT_SLACK ? post_slack(cfg, msg, err, sizeof err)
                                    : post_mattermost(cfg, msg, err, sizeof err);
        json_decref(msg);
        if (rc)
            TG_LOG(TG_LOG_WARN, "post_failed", "%s notice: %s", chat_names[c], err);
        else
            done |= TG_CHAT_BIT(c);
    }
    return done;
}

unsigned tg_chat_announce(const struct tg_config *cfg, const struct tg_chat_subject *s,
                          enum tg_chat_text body, int status, unsigned skip)
{
    unsigned targets = tg_chat_targets(cfg), done = 0;
    for (int c = 0; c < TG_CHAT_COUNT; c++) {
        if (skip & TG_CHAT_BIT(c))
            continue;
        if (!(targets & TG_CHAT_BIT(c)) ||
            announce_one(cfg, (enum tg_chat_service)c, s, body, status) == 0)
            done |= TG_CHAT_BIT(c);
    }
    return done;
}
