/* outbox.c -- completes the effects of deployment state changes (keys drawn in outbox.h). */
#include "deliver/outbox.h"
#include "deliver/deploy.h"
#include "base/log.h"
#include "base/redisconn.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TG_MODULE "outbox"
#define SWEEP_MAX "16"

/* KEYS: outbox, data. ARGV: now, lease until. Takes effects past due; returns id, JSON, ... */
static const char take_lua[] =
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, " SWEEP_MAX ")\n"
    "local out = {}\n"
    "for _, id in ipairs(ids) do\n"
    "  local e = redis.call('HGET', KEYS[2], id)\n"
    "  if e then\n"
    "    redis.call('ZADD', KEYS[1], ARGV[2], id)\n"
    "    table.insert(out, id)\n"
    "    table.insert(out, e)\n"
    "  else\n"
    "    redis.call('ZREM', KEYS[1], id)\n"
    "  end\n"
    "end\n"
    "return out\n";

void tg_outbox_keys(const char *prefix, char *zkey, char *hkey, size_t len)
{
    snprintf(zkey, len, "%soutbox", prefix);
    snprintf(hkey, len, "%soutbox:data", prefix);
}

char *tg_outbox_effect(const struct tg_outbox_effect *f)
{
    json_t *e = json_pack("{s:s}", "key", f->key);
    if (f->action)
        json_object_set_new(e, "audit",
                            json_pack("{s:s, s:[s*], s:o*}", "action", f->action, "reasons",
                                      f->reason, "details", f->details));
    else
        json_decref(f->details);
    if (f->status_state)
        json_object_set_new(e, "status",
                            json_pack("{s:s, s:s}", "state", f->status_state, "description",
                                      f->status_description ? f->status_description : ""));
    char *s = json_dumps(e, JSON_COMPACT);
    json_decref(e);
    return s;
}

void tg_outbox_last_id(const char *key, const struct tg_deployment *d, char *out, size_t outlen)
{
    if (d->effects > 0)
        snprintf(out, outlen, "%s#%lld", key, d->effects);
    else if (outlen)
        out[0] = '\0';
}

static int remove_effect(struct tg_work *w, const char *id)
{
    char zkey[128], hkey[128];
    tg_outbox_keys(w->cfg->redis.prefix, zkey, hkey, sizeof zkey);
    redisReply *a = redisCommand(w->rc, "ZREM %s %s", zkey, id);
    redisReply *b = a ? redisCommand(w->rc, "HDEL %s %s", hkey, id) : NULL;
    int rc = a && b && a->type == REDIS_REPLY_INTEGER && b->type == REDIS_REPLY_INTEGER ? 0 : -1;
    freeReplyObject(a);
    freeReplyObject(b);
    return rc;
}

/* The audit part: 0 recorded (or none), 1 not now. A failed append leaves the effect for a
 * later sweep even when audit.fail_closed is off: the change already happened, and its record
 * must follow it. */
static int complete_audit(struct tg_work *w, const char *id, json_t *audit,
                          const struct tg_target *t)
{
    char err[256];
    char *once = tg_xasprintf("outbox:%s", id);
    struct tg_audit_record r = {.action = json_string_value(json_object_get(audit, "action")),
                                .decision = "deploy",
                                .reasons = json_object_get(audit, "reasons"),
                                .details = json_object_get(audit, "details"),
                                .once = once};
    tg_work_record_target(&r, t);
    int rc = r.action && tg_audit_append(w->audit, w->rc, &r, err, sizeof err) != 0 ? 1 : 0;
    if (rc)
        TG_LOG(TG_LOG_ERROR, "audit_waits", "effect %s (%s): %s; completed by a later sweep", id,
               r.action, err);
    free(once);
    return rc;
}

/* Keeps effect id with only its audit part: the status was posted, the record still waits. */
static int keep_audit_only(struct tg_work *w, const char *id, json_t *e)
{
    char zkey[128], hkey[128];
    tg_outbox_keys(w->cfg->redis.prefix, zkey, hkey, sizeof zkey);
    json_object_del(e, "status");
    char *s = json_dumps(e, JSON_COMPACT);
    redisReply *r = s ? redisCommand(w->rc, "HSET %s %s %s", hkey, id, s) : NULL;
    int rc = r && r->type == REDIS_REPLY_INTEGER ? 1 : -1;
    freeReplyObject(r);
    free(s);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first forwarded report's DefectDojo test link in the record (entries in name order),
 * NULL when none was forwarded. */
static char *dojo_link(const struct tg_deployment *d)
{
    json_t *all = d->defectdojo ? json_loads(d->defectdojo, 0, NULL) : NULL;
    const char **names = tg_xcalloc(json_object_size(all) + 1, sizeof *names);
    const char *name, *url = NULL;
    json_t *v;
    size_t n = 0;
    json_object_foreach(all, name, v) names[n++] = name;
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n && url == NULL; i++)
        url = json_string_value(json_object_get(json_object_get(all, names[i]), "url"));
    char *out = url ? tg_xstrdup(url) : NULL;
    free(names);
    json_decref(all);
    return out;
}

static void post_status(struct tg_work *w, const struct tg_target *t, json_t *status)
{
    tg_work_status(w, t, json_string_value(json_object_get(status, "state")),
                   json_string_value(json_object_get(status, "description")));
}

int tg_outbox_complete(struct tg_work *w, const char *id, const char *effect)
{
    json_t *e = json_loads(effect, 0, NULL), *audit = json_object_get(e, "audit"),
           *status = json_object_get(e, "status");
    const char *key = json_string_value(json_object_get(e, "key"));
    struct tg_deployment d = {0};
    struct tg_target t;
    int rc = 0;
    if (key && tg_deployment_load(w->rc, key, &d) < 0) {
        tg_deployment_dispose(&d);
        json_decref(e);
        return -1;
    }
    char *link = NULL;
    if (key) {
        tg_work_target_load(&d, &t);
        link = dojo_link(&d);
        t.status_link = link;
        rc = audit ? complete_audit(w, id, audit, &t) : 0;
        if (status && (rc == 0 || !w->cfg->audit.fail_closed))
            post_status(
                w, &t,
                status); /* fail-open: the commit learns the outcome while the record waits */
        if (rc == 1 && status && !w->cfg->audit.fail_closed)
            rc = keep_audit_only(w, id, e);
    } else {
        TG_LOG(TG_LOG_ERROR, "unreadable", "effect %s is not readable JSON; dropped", id);
    }
    free(link);
    tg_deployment_dispose(&d);
    json_decref(e);
    return rc == 0 ? remove_effect(w, id) : rc;
}

int tg_outbox_complete_id(struct tg_work *w, const char *id)
{
    char zkey[128], hkey[128];
    tg_outbox_keys(w->cfg->redis.prefix, zkey, hkey, sizeof zkey);
    redisReply *r = redisCommand(w->rc, "HGET %s %s", hkey, id);
    int rc = r == NULL ? -1 : 0;
    if (r && r->type == REDIS_REPLY_STRING)
        rc = tg_outbox_complete(w, id, r->str);
    freeReplyObject(r);
    return rc;
}

int tg_outbox_sweep(struct tg_work *w)
{
    char zkey[128], hkey[128], now[24], until[24];
    uint64_t t = tg_now_ms();
    tg_outbox_keys(w->cfg->redis.prefix, zkey, hkey, sizeof zkey);
    snprintf(now, sizeof now, "%llu", (unsigned long long)t);
    snprintf(until, sizeof until, "%llu", (unsigned long long)(t + TG_OUTBOX_GRACE_MS));
    const char *argv[] = {zkey, hkey, now, until};
    size_t lens[] = {strlen(zkey), strlen(hkey), strlen(now), strlen(until)};
    redisReply *r = tg_redis_eval(
        w->rc, &(struct tg_redis_script_call){
                   .source = take_lua, .nkeys = 2, .argc = 4, .argv = argv, .argvlen = lens});
    int n = 0, rc = 0;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    for (size_t i = 0; i + 1 < r->elements && rc >= 0; i += 2) {
        TG_LOG(TG_LOG_INFO, "completing", "effect %s left by a stopped worker", r->element[i]->str);
        if ((rc = tg_outbox_complete(w, r->element[i]->str, r->element[i + 1]->str)) == 0)
            n++;
    }
    freeReplyObject(r);
    return rc < 0 ? -1 : n;
}
