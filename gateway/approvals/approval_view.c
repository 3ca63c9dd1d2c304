/* approval_view.c -- a deployment loaded for people: its record, its approval rule, the chat
 * placeholders and the REST representation. Reads only; transitions live in approval.c.
 */
#include "approvals/approval.h"
#include "base/buf.h"
#include "base/crypto.h"
#include "deliver/deploy.h"
#include "base/util.h"
#include "base/httpclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_FINDINGS 5
#define VOTE_PREFIX  "vote:"

/* ---- ids ---- */

void tg_approval_id(const char *key, size_t n, char *out)
{
    char hex[TG_SHA256_HEX_LEN + 1];
    tg_sha256_hex(key, strlen(key), hex);
    n = n > TG_APPROVAL_ID_MAX ? TG_APPROVAL_ID_MAX : n;
    memcpy(out, hex, n);
    out[n] = '\0';
}

int tg_approval_id_valid(const char *s)
{
    size_t n = s ? strspn(s, "0123456789abcdef") : 0;
    return s && s[n] == '\0' && n >= TG_APPROVAL_ID_LEN && n <= TG_APPROVAL_ID_MAX;
}

/* ---- rules ---- */

static void rules_from(json_t *decision, struct tg_approval_rules *out)
{
    json_t *a = json_object_get(decision, "approvals"), *list = json_object_get(a, "approvers");
    json_t *req = json_object_get(a, "required"),
           *self = json_object_get(a, "prevent_self_approval");
    size_t n = json_array_size(list), k = 0;
    out->required =
        json_is_integer(req) && json_integer_value(req) > 0 ? (int)json_integer_value(req) : 1;
    out->prevent_self_approval = json_is_boolean(self) ? json_is_true(self) : 1;
    out->approvers = tg_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        if (json_is_string(json_array_get(list, i)))
            out->approvers[k++] = tg_xstrdup(json_string_value(json_array_get(list, i)));
}

void tg_approval_rules_parse(const char *decision_json, struct tg_approval_rules *out)
{
    json_t *d = decision_json ? json_loads(decision_json, 0, NULL) : NULL;
    rules_from(d, out);
    json_decref(d);
}

void tg_approval_rules_dispose(struct tg_approval_rules *r)
{
    for (char **p = r->approvers; p && *p; p++)
        free(*p);
    free(r->approvers);
    r->approvers = NULL;
}

static int listed(char *const *list, const char *identity)
{
    for (; list && *list; list++)
        if (strcasecmp(*list, identity) == 0)
            return 1;
    return 0;
}

const char *tg_approval_refusal(const struct tg_approval_rules *r, const char *identity,
                                const char *user, int deny, char *buf, size_t buflen)
{
    if (identity == NULL || *identity == '\0')
        snprintf(buf, buflen,
                 "your chat user is not mapped to an identity (chatops users in tollgate.yaml)");
    else if (r->approvers && r->approvers[0] && !listed(r->approvers, identity))
        snprintf(buf, buflen, "%s is not an approver of this environment", identity);
    else if (!deny && r->prevent_self_approval && user && strcasecmp(identity, user) == 0)
        snprintf(buf, buflen, "%s ran this pipeline and may not approve it (prevent_self_approval)",
                 identity);
    else
        return NULL;
    return buf;
}

/* ---- loading ---- */

static const char *field(const struct tg_approval_view *v, const char *name)
{
    return tg_deploy_field(v->rec, name);
}

static long long field_ll(const struct tg_approval_view *v, const char *name)
{
    const char *s = field(v, name);
    return s ? atoll(s) : 0;
}

static char *time_text(long long ms)
{
    char t[40];
    if (ms <= 0)
        return tg_xstrdup("");
    tg_rfc3339(t, sizeof t, (uint64_t)ms);
    return tg_xstrdup(t);
}

/* "- a\n- b" from a JSON array of strings. */
static char *reasons_text(json_t *reasons)
{
    struct tg_buf b;
    size_t i;
    json_t *r;
    tg_buf_init(&b);
    json_array_foreach(reasons, i, r) if (json_is_string(r))
        tg_buf_printf(&b, "%s- %s", b.len ? "\n" : "", json_string_value(r));
    tg_buf_puts(&b, "");
    return tg_buf_steal(&b);
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* "- high CVE-1 in openssl 1.1 (fixed 1.2)" or "- high HS-1 in src/a.c:12", the first few. */
static char *findings_text(json_t *findings)
{
    struct tg_buf b;
    size_t i, n = json_array_size(findings);
    json_t *f;
    tg_buf_init(&b);
    json_array_foreach(findings, i, f)
    {
        if (i == MAX_FINDINGS) {
            tg_buf_printf(&b, "\n- and %zu more", n - i);
            break;
        }
        tg_buf_printf(&b, "%s- %s %s in %s", b.len ? "\n" : "", jstr(f, "severity"), jstr(f, "id"),
                      *jstr(f, "package") ? jstr(f, "package") : jstr(f, "file"));
        if (*jstr(f, "version"))
            tg_buf_printf(&b, " %s", jstr(f, "version"));
        if (json_integer_value(json_object_get(f, "line")) > 0)
            tg_buf_printf(&b, ":%lld", (long long)json_integer_value(json_object_get(f, "line")));
        if (*jstr(f, "fixed"))
            tg_buf_printf(&b, " (fixed in %s)", jstr(f, "fixed"));
    }
    tg_buf_puts(&b, "");
    return tg_buf_steal(&b);
}

/* One vote:<identity> field ("<ms> <channel>"); strings borrowed from the record. */
struct vote {
    const char *identity, *channel;
    long long at;
};

static int by_time(const void *a, const void *b)
{
    const struct vote *x = a, *y = b;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* The votes of v in the order they were cast; caller frees the array. */
static struct vote *votes_of(const struct tg_approval_view *v, size_t *n)
{
    struct vote *out = tg_xcalloc(v->rec->elements / 2 + 1, sizeof *out);
    *n = 0;
    for (size_t i = 0; i + 1 < v->rec->elements; i += 2) {
        const char *f = v->rec->element[i]->str, *val = v->rec->element[i + 1]->str, *sp;
        if (f == NULL || val == NULL || strncmp(f, VOTE_PREFIX, strlen(VOTE_PREFIX)) != 0)
            continue;
        sp = strchr(val, ' ');
        out[(*n)++] = (struct vote){f + strlen(VOTE_PREFIX), sp ? sp + 1 : "", atoll(val)};
    }
    qsort(out, *n, sizeof *out, by_time);
    return out;
}

/* "alice (slack), bob (api)", first approver first. */
static char *voters_text(const struct tg_approval_view *v)
{
    struct tg_buf b;
    size_t n;
    struct vote *votes = votes_of(v, &n);
    tg_buf_init(&b);
    for (size_t i = 0; i < n; i++)
        tg_buf_printf(&b, "%s%s (%s)", i ? ", " : "", votes[i].identity, votes[i].channel);
    if (n == 0)
        tg_buf_puts(&b, "nobody yet");
    free(votes);
    return tg_buf_steal(&b);
}

static char *join(char *const *list, const char *none)
{
    struct tg_buf b;
    tg_buf_init(&b);
    for (; list && *list; list++)
        tg_buf_printf(&b, "%s%s", b.len ? ", " : "", *list);
    if (b.len == 0)
        tg_buf_puts(&b, none);
    return tg_buf_steal(&b);
}

static char *links(const struct tg_config *cfg, const struct tg_approval_view *v, int audit)
{
    const char *project = v->target.project ? v->target.project : "";
    if (!audit)
        return cfg->gitlab.url ? tg_xasprintf("%s/%s/-/pipelines/%lld", cfg->gitlab.url, project,
                                              v->target.pipeline)
                               : tg_xstrdup("");
    if (cfg->public_url == NULL)
        return tg_xstrdup("");
    char *e = tg_httpc_escape(project);
    char *url = tg_xasprintf("%s/api/v1/audit?project=%s&pipeline=%lld", cfg->public_url, e,
                             v->target.pipeline);
    free(e);
    return url;
}

static void fill_target(struct tg_approval_view *v)
{
    v->state = field(v, "state");
    v->target = (struct tg_target){
        field_ll(v, "project_id"), field(v, "project"),     field(v, "ref"), field(v, "sha"),
        field_ll(v, "pipeline"),   field(v, "environment"), field(v, "user")};
    v->votes = (int)field_ll(v, "votes");
    v->round = (int)field_ll(v, "approval_round");
}

static void fill_subject(struct tg_approval_view *v, const struct tg_config *cfg, json_t *decision)
{
    struct tg_chat_subject *s = &v->subject;
    static const struct {
        enum tg_chat_var var;
        const char *field;
    } borrowed[] = {{TG_VAR_ID, "approval_id"},
                    {TG_VAR_STATE, "state"},
                    {TG_VAR_PROJECT, "project"},
                    {TG_VAR_PIPELINE, "pipeline"},
                    {TG_VAR_REF, "ref"},
                    {TG_VAR_SHA, "sha"},
                    {TG_VAR_ENVIRONMENT, "environment"},
                    {TG_VAR_USER, "user"},
                    {TG_VAR_REASON, "reason"},
                    {TG_VAR_VOTES, "votes"}};
    for (size_t i = 0; i < TG_ARRAY_SIZE(borrowed); i++)
        s->var[borrowed[i].var] = field(v, borrowed[i].field);
    v->own[TG_VAR_SHA_SHORT] = tg_xstrndup(field(v, "sha") ? field(v, "sha") : "", 8);
    v->own[TG_VAR_PIPELINE_URL] = links(cfg, v, 0);
    v->own[TG_VAR_AUDIT_URL] = links(cfg, v, 1);
    v->own[TG_VAR_REASONS] = reasons_text(json_object_get(decision, "reasons"));
    v->own[TG_VAR_FINDINGS] = findings_text(json_object_get(decision, "findings"));
    v->own[TG_VAR_REQUIRED] = tg_xasprintf("%d", v->rules.required);
    v->own[TG_VAR_APPROVERS] = join(v->rules.approvers, "anyone allowed to approve");
    v->own[TG_VAR_VOTERS] = voters_text(v);
    v->own[TG_VAR_EXPIRES] = time_text(field_ll(v, "expires_at"));
    for (int i = 0; i < TG_VAR_COUNT; i++)
        if (v->own[i])
            s->var[i] = v->own[i];
    if (s->var[TG_VAR_VOTES] == NULL)
        s->var[TG_VAR_VOTES] = "0";
    long long expires_ms = field_ll(v, "expires_at");
    s->context_key = cfg->mattermost.context_key;
    /* A request without an expiry keeps its buttons a week; the vote re-checks the state. */
    s->context_expires_s =
        expires_ms > 0 ? expires_ms / 1000 + 1 : (long long)(tg_now_ms() / 1000) + 7 * 86400;
    s->round = v->round;
    s->buttons = v->state && strcmp(v->state, "pending_approval") == 0;
}

int tg_approval_view_load(redisContext *c, const struct tg_config *cfg, const char *key,
                          struct tg_approval_view *v)
{
    memset(v, 0, sizeof *v);
    snprintf(v->key, sizeof v->key, "%s", key);
    if ((v->rec = tg_deploy_load(c, key)) == NULL)
        return -1;
    if (v->rec->elements == 0)
        return 0;
    json_t *decision = field(v, "decision") ? json_loads(field(v, "decision"), 0, NULL) : NULL;
    fill_target(v);
    rules_from(decision, &v->rules);
    fill_subject(v, cfg, decision);
    json_decref(decision);
    return 1;
}

void tg_approval_view_dispose(struct tg_approval_view *v)
{
    freeReplyObject(v->rec);
    tg_approval_rules_dispose(&v->rules);
    for (int i = 0; i < TG_VAR_COUNT; i++)
        free(v->own[i]);
    memset(v, 0, sizeof *v);
}

/* ---- the REST representation ---- */

static json_t *voters_json(const struct tg_approval_view *v)
{
    size_t n;
    struct vote *votes = votes_of(v, &n);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        char *at = time_text(votes[i].at);
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "identity", votes[i].identity,
                                           "channel", votes[i].channel, "at", at));
        free(at);
    }
    free(votes);
    return a;
}

static void put_times(json_t *j, const struct tg_approval_view *v)
{
    static const char *const times[] = {"created_at", "updated_at", "expires_at", "decided_at"};
    for (size_t i = 0; i < TG_ARRAY_SIZE(times); i++) {
        if (field(v, times[i]) == NULL)
            continue;
        char *t = time_text(field_ll(v, times[i]));
        json_object_set_new(j, times[i], json_string(t));
        free(t);
    }
}

json_t *tg_approval_view_json(const struct tg_approval_view *v)
{
    static const char *const strings[] = {
        "state",         "project",   "ref",         "sha",    "environment",
        "user",          "verdict",   "rule",        "reason", "policy_hash",
        "approval_hash", "denied_by", "deny_reason", "error",  "downstream_url"};
    json_t *j = json_pack(
        "{s:s?, s:s, s:I, s:I, s:i, s:i, s:i, s:o, s:o, s:b, s:s?, s:s?}", "id",
        field(v, "approval_id"), "key", v->key, "project_id", (json_int_t)v->target.project_id,
        "pipeline", (json_int_t)v->target.pipeline, "votes", v->votes, "required",
        v->rules.required, "round", v->round, "approvers", json_array(), "voters", voters_json(v),
        "prevent_self_approval", v->rules.prevent_self_approval, "pipeline_url",
        v->subject.var[TG_VAR_PIPELINE_URL], "audit_url", v->subject.var[TG_VAR_AUDIT_URL]);
    for (char **p = v->rules.approvers; p && *p; p++)
        json_array_append_new(json_object_get(j, "approvers"), json_string(*p));
    for (size_t i = 0; i < TG_ARRAY_SIZE(strings); i++)
        if (field(v, strings[i]))
            json_object_set_new(j, strings[i], json_string(field(v, strings[i])));
    put_times(j, v);
    return j;
}
