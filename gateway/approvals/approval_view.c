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

static void rules_from(json_t *decision, struct tg_approval_rule *out)
{
    json_t *a = json_object_get(decision, "approvals"), *list = json_object_get(a, "approvers");
    json_t *req = json_object_get(a, "required"),
           *self = json_object_get(a, "prevent_self_approval");
    size_t n = json_array_size(list), k = 0;
    memset(out, 0, sizeof *out);
    out->required =
        json_is_integer(req) && json_integer_value(req) > 0 ? (int)json_integer_value(req) : 1;
    out->prevent_self_approval = json_is_boolean(self) ? json_is_true(self) : 1;
    out->approvers = tg_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        if (json_is_string(json_array_get(list, i)))
            out->approvers[k++] = tg_xstrdup(json_string_value(json_array_get(list, i)));
}

void tg_approval_rules_parse(const char *decision_json, struct tg_approval_rule *out)
{
    json_t *d = decision_json ? json_loads(decision_json, 0, NULL) : NULL;
    rules_from(d, out);
    json_decref(d);
}

void tg_approval_rules_dispose(struct tg_approval_rule *r)
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

const char *tg_approval_refusal(const struct tg_approval_rule *r, const struct tg_approval_ask *a,
                                char *buf, size_t buflen)
{
    const char *identity = a->identity, *user = a->user;
    int deny = a->deny;
    if (identity == NULL || *identity == '\0')
        snprintf(buf, buflen,
                 "your chat user is not mapped to an identity (chatops users in tollgate.yaml)");
    else if (r->approvers && r->approvers[0] && !listed(r->approvers, identity))
        snprintf(buf, buflen, "%s is not an approver of this environment", identity);
    else if (!deny && r->prevent_self_approval && user && strcasecmp(identity, user) == 0)
        snprintf(buf, buflen, "%s ran this pipeline and may not approve it (prevent_self_approval)",
                 identity);
    else if (!deny && r->prevent_self_approval && a->identity_id && a->identity_id == a->user_id)
        snprintf(buf, buflen,
                 "%s ran this pipeline (GitLab user id %lld, under another username then) and "
                 "may not approve it (prevent_self_approval)",
                 identity, a->identity_id);
    else
        return NULL;
    return buf;
}

/* ---- loading ---- */

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

/* "alice (slack), bob (api)", first approver first. */
static char *voters_text(const struct tg_approval_view *v)
{
    struct tg_buf b;
    const struct tg_deploy_vote *votes = v->dep.voters;
    tg_buf_init(&b);
    for (size_t i = 0; i < v->dep.nvoters; i++)
        tg_buf_printf(&b, "%s%s (%s)", i ? ", " : "", votes[i].identity, votes[i].channel);
    if (v->dep.nvoters == 0)
        tg_buf_puts(&b, "nobody yet");
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
    v->state = v->dep.state;
    tg_work_target_load(&v->dep, &v->target);
    v->votes = (int)v->dep.votes;
    v->round = (int)v->dep.approval_round;
}

static void fill_subject(struct tg_approval_view *v, const struct tg_config *cfg, json_t *decision)
{
    struct tg_chat_subject *s = &v->subject;
    const struct tg_deployment *d = &v->dep;
    s->var[TG_VAR_ID] = d->approval_id;
    s->var[TG_VAR_STATE] = d->state;
    s->var[TG_VAR_PROJECT] = d->project;
    s->var[TG_VAR_REF] = d->ref;
    s->var[TG_VAR_SHA] = d->sha;
    s->var[TG_VAR_ENVIRONMENT] = d->environment;
    s->var[TG_VAR_USER] = d->user;
    s->var[TG_VAR_REASON] = d->reason;
    v->own[TG_VAR_PIPELINE] = tg_xasprintf("%lld", d->pipeline);
    v->own[TG_VAR_VOTES] = tg_xasprintf("%lld", d->votes);
    v->own[TG_VAR_SHA_SHORT] = tg_xstrndup(d->sha ? d->sha : "", 8);
    v->own[TG_VAR_PIPELINE_URL] = links(cfg, v, 0);
    v->own[TG_VAR_AUDIT_URL] = links(cfg, v, 1);
    v->own[TG_VAR_REASONS] = reasons_text(json_object_get(decision, "reasons"));
    v->own[TG_VAR_FINDINGS] = findings_text(json_object_get(decision, "findings"));
    v->own[TG_VAR_REQUIRED] = tg_xasprintf("%d", v->rules.required);
    v->own[TG_VAR_APPROVERS] = join(v->rules.approvers, "anyone allowed to approve");
    v->own[TG_VAR_VOTERS] = voters_text(v);
    v->own[TG_VAR_EXPIRES] = time_text(d->expires_at);
    for (int i = 0; i < TG_VAR_COUNT; i++)
        if (v->own[i])
            s->var[i] = v->own[i];
    s->context_key = cfg->mattermost.context_key;
    /* A request without an expiry keeps its buttons a week; the vote re-checks the state. */
    s->context_expires_s =
        d->expires_at > 0 ? d->expires_at / 1000 + 1 : (long long)(tg_now_ms() / 1000) + 7 * 86400;
    s->round = v->round;
    s->buttons = v->state && strcmp(v->state, "pending_approval") == 0;
}

int tg_approval_view_load(redisContext *c, const struct tg_config *cfg, const char *key,
                          struct tg_approval_view *v)
{
    memset(v, 0, sizeof *v);
    snprintf(v->key, sizeof v->key, "%s", key);
    int rc = tg_deployment_load(c, key, &v->dep);
    if (rc <= 0)
        return rc;
    json_t *decision = v->dep.decision ? json_loads(v->dep.decision, 0, NULL) : NULL;
    fill_target(v);
    rules_from(decision, &v->rules);
    fill_subject(v, cfg, decision);
    json_decref(decision);
    return 1;
}

void tg_approval_view_dispose(struct tg_approval_view *v)
{
    tg_deployment_dispose(&v->dep);
    tg_approval_rules_dispose(&v->rules);
    for (int i = 0; i < TG_VAR_COUNT; i++)
        free(v->own[i]);
    memset(v, 0, sizeof *v);
}

/* ---- the REST representation ---- */

static json_t *voters_json(const struct tg_approval_view *v)
{
    json_t *a = json_array();
    for (size_t i = 0; i < v->dep.nvoters; i++) {
        const struct tg_deploy_vote *vote = &v->dep.voters[i];
        char *at = time_text(vote->at);
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "identity", vote->identity, "channel",
                                           vote->channel, "at", at));
        free(at);
    }
    return a;
}

static void put_times(json_t *j, const struct tg_approval_view *v)
{
    const struct {
        const char *name;
        long long ms;
    } times[] = {{"created_at", v->dep.created_at},
                 {"updated_at", v->dep.updated_at},
                 {"expires_at", v->dep.expires_at},
                 {"decided_at", v->dep.decided_at}};
    for (size_t i = 0; i < TG_ARRAY_SIZE(times); i++) {
        if (times[i].ms == 0) /* absent */
            continue;
        char *t = time_text(times[i].ms);
        json_object_set_new(j, times[i].name, json_string(t));
        free(t);
    }
}

json_t *tg_approval_view_json(const struct tg_approval_view *v)
{
    const struct tg_deployment *d = &v->dep;
    const struct {
        const char *name, *value;
    } strings[] = {{"state", d->state},
                   {"project", d->project},
                   {"ref", d->ref},
                   {"sha", d->sha},
                   {"environment", d->environment},
                   {"user", d->user},
                   {"verdict", d->verdict},
                   {"rule", d->rule},
                   {"reason", d->reason},
                   {"policy_hash", d->policy_hash},
                   {"approval_hash", d->approval_hash},
                   {"denied_by", d->denied_by},
                   {"deny_reason", d->deny_reason},
                   {"error", d->error},
                   {"downstream_url", d->downstream_url}};
    json_t *j = json_pack(
        "{s:s?, s:s, s:I, s:I, s:i, s:i, s:i, s:o, s:o, s:b, s:s?, s:s?}", "id", d->approval_id,
        "key", v->key, "project_id", (json_int_t)v->target.project_id, "pipeline",
        (json_int_t)v->target.pipeline, "votes", v->votes, "required", v->rules.required, "round",
        v->round, "approvers", json_array(), "voters", voters_json(v), "prevent_self_approval",
        v->rules.prevent_self_approval, "pipeline_url", v->subject.var[TG_VAR_PIPELINE_URL],
        "audit_url", v->subject.var[TG_VAR_AUDIT_URL]);
    for (char **p = v->rules.approvers; p && *p; p++)
        json_array_append_new(json_object_get(j, "approvers"), json_string(*p));
    for (size_t i = 0; i < TG_ARRAY_SIZE(strings); i++)
        if (strings[i].value)
            json_object_set_new(j, strings[i].name, json_string(strings[i].value));
    put_times(j, v);
    if (d->defectdojo) /* forward/outbox.c: the forwarded reports' results */
        json_object_set_new(j, "defectdojo", json_loads(d->defectdojo, 0, NULL));
    return j;
}

json_t *tg_approval_view_decision(const struct tg_approval_view *v)
{
    const char *text = v->dep.decision;
    json_t *decision = text ? json_loads(text, 0, NULL) : NULL;
    if (json_is_object(decision))
        return decision;
    json_decref(decision);
    return NULL;
}
