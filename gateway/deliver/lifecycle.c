/* lifecycle.c -- where one Pipeline Hook stands in its pipeline's life (see lifecycle.h).
 * Worker threads. */
#include "deliver/lifecycle.h"
#include "base/redisconn.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tg_lifecycle_kind tg_lifecycle_kind(const char *status)
{
    if (tg_pipeline_status_is_final(status))
        return TG_LIFECYCLE_TERMINAL;
    return status && strcmp(status, "manual") == 0 ? TG_LIFECYCLE_MANUAL : TG_LIFECYCLE_PASSING;
}

int tg_lifecycle_own_status(const char *name)
{
    return name && strncmp(name, "tollgate/", 9) == 0;
}

static int by_id(const void *a, const void *b)
{
    const struct tg_build *x = *(const struct tg_build *const *)a,
                          *y = *(const struct tg_build *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

void tg_lifecycle_fingerprint(const struct tg_event *ev, struct tg_lifecycle_print *out)
{
    const struct tg_build **order = ev->nbuilds ? tg_xcalloc(ev->nbuilds, sizeof *order) : NULL;
    size_t n = 0;
    for (size_t i = 0; i < ev->nbuilds; i++)
        if (!tg_lifecycle_own_status(ev->builds[i].name))
            order[n++] = &ev->builds[i];
    if (n)
        qsort(order, n, sizeof *order, by_id);
    struct tg_sha256 h;
    char line[96];
    tg_sha256_init(&h);
    out->rank = 0;
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(line, sizeof line, "%lld:%.64s\n", order[i]->id, order[i]->status);
        tg_sha256_update(&h, line, (size_t)len);
        out->rank = order[i]->id > out->rank ? order[i]->id : out->rank;
    }
    unsigned char digest[TG_SHA256_LEN];
    tg_sha256_final(&h, digest);
    tg_hex_encode(digest, sizeof digest, out->builds);
    free(order);
}

/* The distinct statuses of the jobs (Tollgate's own left out), as GitLab's composite counts
 * them: a failed or canceled job that may fail is success_with_warnings, such a manual one
 * is ignored. */
struct status_set {
    const char *s[32];
    size_t n, more; /* more: statuses beyond the array (never matches "only") */
};

static void set_add(struct status_set *set, const char *status)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->s[i], status) == 0)
            return;
    if (set->n < TG_ARRAY_SIZE(set->s))
        set->s[set->n++] = status;
    else
        set->more = 1;
}

static int set_any(const struct status_set *set, const char *const *names)
{
    for (size_t i = 0; i < set->n; i++)
        for (const char *const *p = names; *p; p++)
            if (strcmp(set->s[i], *p) == 0)
                return 1;
    return 0;
}

static int set_only(const struct status_set *set, const char *const *names)
{
    for (size_t i = 0; i < set->n; i++) {
        const char *const *p = names;
        while (*p && strcmp(set->s[i], *p) != 0)
            p++;
        if (*p == NULL)
            return 0;
    }
    return set->n > 0 && !set->more;
}

const char *tg_lifecycle_jobs_status(const struct tg_event *ev)
{
    struct status_set set = {0};
    for (size_t i = 0; i < ev->nbuilds; i++) {
        const struct tg_build *b = &ev->builds[i];
        if (tg_lifecycle_own_status(b->name))
            continue;
        int lenient =
            b->allow_failure && (!strcmp(b->status, "failed") || !strcmp(b->status, "canceled"));
        set_add(&set, lenient                                            ? "success_with_warnings"
                      : b->allow_failure && !strcmp(b->status, "manual") ? "ignored"
                                                                         : b->status);
    }
    if (set.n == 0)
        return NULL;
    /* GitLab's order (lib/gitlab/ci/status/composite.rb): the first rule that holds wins */
    static const struct {
        int only;
        const char *names[6];
        const char *status;
    } rules[] = {
        {1, {"skipped", "ignored"}, "skipped"},
        {1, {"success", "skipped", "success_with_warnings", "ignored"}, "success"},
        {1, {"created", "success_with_warnings", "ignored"}, "created"},
        {1, {"preparing", "success_with_warnings", "ignored"}, "preparing"},
        {1, {"canceled", "success", "skipped", "success_with_warnings", "ignored"}, "canceled"},
        {1, {"pending", "created", "skipped", "success_with_warnings", "ignored"}, "pending"},
        {0, {"running", "pending"}, "running"},
        {0, {"waiting_for_resource"}, "waiting_for_resource"},
        {0, {"waiting_for_callback"}, "waiting_for_callback"},
        {0, {"manual"}, "manual"},
        {0, {"scheduled"}, "scheduled"},
        {0, {"preparing"}, "preparing"},
        {0, {"created"}, "running"},
        {0, {"canceling"}, "canceling"},
    };
    for (size_t i = 0; i < TG_ARRAY_SIZE(rules); i++)
        if (rules[i].only ? set_only(&set, rules[i].names) : set_any(&set, rules[i].names))
            return rules[i].status;
    return "failed";
}

const char *tg_lifecycle_status(const struct tg_event *ev)
{
    const char *hook = ev->pipeline_status;
    if (hook == NULL || (strcmp(hook, "running") != 0 && strcmp(hook, "pending") != 0))
        return hook;
    const char *jobs = tg_lifecycle_jobs_status(ev);
    return jobs && (!strcmp(jobs, "failed") || !strcmp(jobs, "canceled")) ? jobs : hook;
}

/* ---- waiting for child pipelines (keys drawn in lifecycle.h) ---- */

/* KEYS[1] waiting. ARGV: gen seen, ttl ms, then the entry's field/value pairs. Parks the entry
 * unless a child ended since gen was read. {"parked"|"changed", gen}. */
static const char park_lua[] = "local gen = redis.call('HGET', KEYS[1], 'gen') or '0'\n"
                               "if gen ~= ARGV[1] then return {'changed', gen} end\n"
                               "redis.call('HSET', KEYS[1], 'gen', gen, unpack(ARGV, 3))\n"
                               "redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
                               "return {'parked', gen}\n";

/* KEYS[1] waiting. ARGV: ttl ms, then the entry's field names. Counts a child's end; returns
 * the parked entry's values (nil fields when nothing is parked). */
static const char child_ended_lua[] = "redis.call('HINCRBY', KEYS[1], 'gen', 1)\n"
                                      "redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
                                      "return redis.call('HMGET', KEYS[1], unpack(ARGV, 2))\n";

static void waiting_key(const struct tg_work *w, long long project_id, long long pipeline_id,
                        char *out, size_t n)
{
    snprintf(out, n, "%swaiting:%lld:%lld", w->cfg->redis.prefix, project_id, pipeline_id);
}

long long tg_lifecycle_children_gen(struct tg_work *w, long long project_id, long long pipeline_id)
{
    char key[256];
    waiting_key(w, project_id, pipeline_id, key, sizeof key);
    redisReply *r = redisCommand(w->rc, "HGET %s gen", key);
    long long gen = r && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    return gen;
}

/* Queues the fields again under idempotency key idem, received now. 1, 0 (duplicate), -1. */
static int requeue(struct tg_work *w, const char *const *field, const size_t *len, const char *idem)
{
    char now[24];
    struct tg_queue_push p = {.dedupe_ttl_ms = w->cfg->redis.dedupe_ttl_ms,
                              .maxlen = w->cfg->redis.events_maxlen};
    for (int i = 0; i < TG_QF_COUNT; i++) {
        p.field[i] = field[i];
        p.len[i] = len[i];
    }
    p.field[TG_QF_IDEMPOTENCY_KEY] = idem;
    p.len[TG_QF_IDEMPOTENCY_KEY] = strlen(idem);
    p.field[TG_QF_RECEIVED_AT] = now;
    p.len[TG_QF_RECEIVED_AT] =
        (size_t)snprintf(now, sizeof now, "%llu", (unsigned long long)tg_now_ms());
    return tg_queue_push(w->rc, w->cfg->redis.prefix, &p);
}

int tg_lifecycle_children_pending(struct tg_work *w, struct tg_lifecycle_parent *p,
                                  const struct tg_decision *d, char *why, size_t whylen)
{
    p->requeued = 0;
    if (!d->children_pending)
        return 0;
    char key[256], gen[24], ttl[24];
    waiting_key(w, p->ev->project_id, p->ev->pipeline_id, key, sizeof key);
    snprintf(gen, sizeof gen, "%lld", p->gen);
    snprintf(ttl, sizeof ttl, "%llu", (unsigned long long)TG_LIFECYCLE_WAIT_MS);
    const char *argv[3 + 2 * TG_QF_COUNT] = {key, gen, ttl};
    size_t lens[3 + 2 * TG_QF_COUNT] = {strlen(key), strlen(gen), strlen(ttl)};
    tg_queue_pairs(argv + 3, lens + 3, p->entry->field, p->entry->len);
    redisReply *r = tg_redis_eval(w->rc, &(struct tg_redis_script_call){.source = park_lua,
                                                                        .nkeys = 1,
                                                                        .argc = 3 + 2 * TG_QF_COUNT,
                                                                        .argv = argv,
                                                                        .argvlen = lens});
    int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
             r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING;
    int changed = ok && strcmp(r->element[0]->str, "changed") == 0;
    char idem[200];
    if (changed) /* a child ended while the children were listed: decide again at once */
        snprintf(idem, sizeof idem, "reopen:%lld:%lld:g%.20s:%.64s", p->ev->project_id,
                 p->ev->pipeline_id, r->element[1]->str, p->entry->id);
    freeReplyObject(r);
    if (changed && requeue(w, p->entry->field, p->entry->len, idem) < 0)
        ok = 0;
    if (!ok) {
        snprintf(why, whylen, "redis: cannot park the decision that waits for child pipelines");
        return -1;
    }
    p->requeued = changed;
    return 1;
}

void tg_lifecycle_children_settled(struct tg_work *w, const struct tg_event *ev)
{
    char key[256];
    waiting_key(w, ev->project_id, ev->pipeline_id, key, sizeof key);
    const char *argv[2 + TG_QF_COUNT] = {"HDEL", key};
    size_t lens[2 + TG_QF_COUNT] = {4, strlen(key)};
    for (int i = 0; i < TG_QF_COUNT; i++) {
        argv[2 + i] = tg_queue_field_names[i];
        lens[2 + i] = strlen(tg_queue_field_names[i]);
    }
    freeReplyObject(
        redisCommandArgv(w->rc, 2 + TG_QF_COUNT, argv, lens)); /* best effort: it expires anyway */
}

int tg_lifecycle_child_ended(struct tg_work *w, const struct tg_event *ev, char *why, size_t whylen)
{
    char key[256], ttl[24], idem[300];
    waiting_key(w, ev->parent_project_id, ev->parent_pipeline_id, key, sizeof key);
    snprintf(ttl, sizeof ttl, "%llu", (unsigned long long)TG_LIFECYCLE_WAIT_MS);
    const char *argv[2 + TG_QF_COUNT] = {key, ttl};
    size_t lens[2 + TG_QF_COUNT] = {strlen(key), strlen(ttl)};
    for (int i = 0; i < TG_QF_COUNT; i++) {
        argv[2 + i] = tg_queue_field_names[i];
        lens[2 + i] = strlen(tg_queue_field_names[i]);
    }
    redisReply *r = tg_redis_eval(w->rc, &(struct tg_redis_script_call){.source = child_ended_lua,
                                                                        .nkeys = 1,
                                                                        .argc = 2 + TG_QF_COUNT,
                                                                        .argv = argv,
                                                                        .argvlen = lens});
    int rc = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == TG_QF_COUNT) {
        const char *field[TG_QF_COUNT];
        size_t len[TG_QF_COUNT];
        int parked = r->element[TG_QF_BODY]->type == REDIS_REPLY_STRING;
        for (int i = 0; parked && i < TG_QF_COUNT; i++) {
            int str = r->element[i]->type == REDIS_REPLY_STRING;
            field[i] = str ? r->element[i]->str : "";
            len[i] = str ? r->element[i]->len : 0;
        }
        struct tg_lifecycle_print
            print; /* a child that ends again after a job retry re-opens again */
        tg_lifecycle_fingerprint(ev, &print);
        snprintf(idem, sizeof idem, "reopen:%lld:%lld:%lld:%lld:%.64s:%.16s", ev->parent_project_id,
                 ev->parent_pipeline_id, ev->project_id, ev->pipeline_id, ev->pipeline_status,
                 print.builds);
        rc = parked ? requeue(w, field, len, idem) : 0;
    }
    freeReplyObject(r);
    if (rc < 0)
        snprintf(why, whylen, "redis: cannot re-open the parent pipeline's decision");
    return rc;
}
