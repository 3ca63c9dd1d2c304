/* outbox.c -- the forward jobs' Redis scripts (see outbox.h for the keys). */
#include "forward/outbox.h"
#include "base/redisconn.h"
#include "base/util.h"
#include "deliver/deploy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ONCE_TTL_S "2592000" /* 30 days: longer than GitLab keeps artifacts by default */

/* KEYS once jobs attempts due sent; ARGV sha256 id json now force entry */
static const char ENQUEUE[] =
    "if ARGV[5] ~= '1' and redis.call('GET', KEYS[1]) == ARGV[1] then return 0 end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'EX', " ONCE_TTL_S ")\n"
    "redis.call('HSET', KEYS[5], ARGV[6], ARGV[3])\n"
    "redis.call('EXPIRE', KEYS[5], " ONCE_TTL_S ")\n"
    "redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])\n"
    "redis.call('HSET', KEYS[3], ARGV[2], 0)\n"
    "redis.call('ZADD', KEYS[4], ARGV[4], ARGV[2])\n"
    "return 1\n";

/* KEYS due lease jobs attempts owner generation; ARGV now lease_until owner */
static const char CLAIM[] =
    "for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 16)) "
    "do\n"
    "  redis.call('ZREM', KEYS[2], id); redis.call('ZADD', KEYS[1], ARGV[1], id)\n"
    "end\n"
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)\n"
    "if #ids == 0 then return false end\n"
    "local id = ids[1]\n"
    "redis.call('ZREM', KEYS[1], id)\n"
    "local job = redis.call('HGET', KEYS[3], id)\n"
    "if not job then return false end\n"
    "redis.call('ZADD', KEYS[2], ARGV[2], id)\n"
    "redis.call('HSET', KEYS[5], id, ARGV[3])\n"
    "local n = redis.call('HINCRBY', KEYS[4], id, 1)\n"
    "return {id, job, tostring(n), redis.call('HGET', KEYS[6], id) or '0'}\n";

/* KEYS lease owner due dead jobs attempts errors deploy generation; ARGV id owner end next
 * error entry result now */
static const char FINISH[] = TG_DEPLOY_FORWARDED_LUA
    "if not redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('HGET', KEYS[2], ARGV[1]) ~= "
    "ARGV[2] then return 1 end\n"
    "redis.call('ZREM', KEYS[1], ARGV[1]); redis.call('HDEL', KEYS[2], ARGV[1])\n"
    "if ARGV[5] ~= '' then redis.call('HSET', KEYS[7], ARGV[1], ARGV[5]) end\n"
    "if ARGV[3] == 'retry' then redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1]) return 0 end\n"
    "if ARGV[3] == 'dead' then redis.call('ZADD', KEYS[4], ARGV[8], ARGV[1])\n"
    "else redis.call('HDEL', KEYS[5], ARGV[1]); redis.call('HDEL', KEYS[6], ARGV[1]);\n"
    "  redis.call('HDEL', KEYS[7], ARGV[1]); redis.call('HDEL', KEYS[9], ARGV[1]) end\n"
    "if ARGV[7] ~= '' then deploy_note_forwarded(KEYS[8], ARGV[6], ARGV[7]) end\n"
    "return 0\n";

/* KEYS dead attempts due jobs errors generation; ARGV id now mode */
static const char DEAD_OP[] =
    "if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end\n"
    "redis.call('ZREM', KEYS[1], ARGV[1])\n"
    "if ARGV[3] == 'requeue' then redis.call('HSET', KEYS[2], ARGV[1], 0);\n"
    "  redis.call('HINCRBY', KEYS[6], ARGV[1], 1); redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])\n"
    "else redis.call('HDEL', KEYS[4], ARGV[1]); redis.call('HDEL', KEYS[2], ARGV[1]);\n"
    "  redis.call('HDEL', KEYS[5], ARGV[1]); redis.call('HDEL', KEYS[6], ARGV[1]) end\n"
    "return 1\n";

static char *key(const char *prefix, const char *name)
{
    return tg_xasprintf("%sfwd:%s", prefix, name);
}

/* Runs a script over keys (freed here) and args, both NULL-terminated (16 in all at most); the
 * reply, or NULL on a failed connection or an error reply (logged by the caller through its
 * return). */
static redisReply *run(redisContext *c, const char *src, char **keys, const char *const *args)
{
    const char *argv[24];
    size_t lens[24];
    int nkeys = 0, argc = 0;
    while (keys[nkeys]) {
        if (argc == (int)TG_ARRAY_SIZE(argv))
            abort(); /* a script call written with more arguments than room: a programming error */
        argv[argc++] = keys[nkeys++];
    }
    for (int i = 0; args[i]; i++) {
        if (argc == (int)TG_ARRAY_SIZE(argv))
            abort();
        argv[argc++] = args[i];
    }
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = tg_redis_eval(
        c, &(struct tg_redis_script_call){
               .source = src, .nkeys = nkeys, .argc = argc, .argv = argv, .argvlen = lens});
    for (int i = 0; i < nkeys; i++)
        free(keys[i]);
    if (r && r->type == REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static long long jint(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

/* A number no other enqueue (any process) gets: the id's last part. 0 on a Redis failure. */
static long long next_seq(redisContext *c, const char *prefix)
{
    char *k = key(prefix, "seq");
    redisReply *r = redisCommand(c, "INCR %s", k);
    free(k);
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    return n;
}

static char *sent_key(const char *prefix, long long project, long long pipeline)
{
    return tg_xasprintf("%sfwd:sent:%lld:%lld", prefix, project, pipeline);
}

int tg_fwd_enqueue(redisContext *c, const char *prefix, json_t *job, int force)
{
    char now[32], id[96];
    long long seq = next_seq(c, prefix);
    if (seq <= 0)
        return -1;
    /* two reports of one job can hold the same bytes, and a backfill can follow within the same
     * millisecond: the sequence number keeps every job its own id */
    snprintf(id, sizeof id, "%lld:%lld:%lld:%.16s:%lld", jint(job, "project_id"),
             jint(job, "pipeline"), jint(job, "job_id"), jstr(job, "sha256"), seq);
    json_object_set_new(job, "id", json_string(id));
    snprintf(now, sizeof now, "%llu", (unsigned long long)tg_now_ms());
    char *entry = tg_xasprintf("%lld:%s", jint(job, "job_id"), jstr(job, "artifact"));
    char *scoped =
        tg_xasprintf("once:%lld:%lld:%s", jint(job, "project_id"), jint(job, "pipeline"), entry);
    char *keys[] = {key(prefix, scoped),
                    key(prefix, "jobs"),
                    key(prefix, "attempts"),
                    key(prefix, "due"),
                    sent_key(prefix, jint(job, "project_id"), jint(job, "pipeline")),
                    NULL};
    free(scoped);
    char *text = json_dumps(job, JSON_COMPACT | JSON_SORT_KEYS);
    const char *args[] = {jstr(job, "sha256"), id, text, now, force ? "1" : "0", entry, NULL};
    redisReply *r = run(c, ENQUEUE, keys, args);
    free(text);
    free(entry);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
    freeReplyObject(r);
    return rc;
}

json_t *tg_fwd_sent(redisContext *c, const char *prefix, long long project, long long pipeline)
{
    char *k = sent_key(prefix, project, pipeline);
    redisReply *r = redisCommand(c, "HVALS %s", k);
    free(k);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return NULL;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < r->elements; i++) {
        json_t *job = json_loads(r->element[i]->str, 0, NULL);
        if (json_is_object(job))
            json_array_append(a, job);
        json_decref(job);
    }
    freeReplyObject(r);
    return a;
}

int tg_fwd_claim(redisContext *c, const char *prefix, const char *owner, uint64_t lease_ms,
                 struct tg_fwd_claim *out)
{
    char now[32], until[32];
    uint64_t t = tg_now_ms();
    snprintf(now, sizeof now, "%llu", (unsigned long long)t);
    snprintf(until, sizeof until, "%llu", (unsigned long long)(t + lease_ms));
    char *keys[] = {key(prefix, "due"),
                    key(prefix, "lease"),
                    key(prefix, "jobs"),
                    key(prefix, "attempts"),
                    key(prefix, "owner"),
                    key(prefix, "generation"),
                    NULL};
    const char *args[] = {now, until, owner, NULL};
    redisReply *r = run(c, CLAIM, keys, args);
    memset(out, 0, sizeof *out);
    if (r == NULL)
        return -1;
    int rc = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 4) {
        snprintf(out->id, sizeof out->id, "%s", r->element[0]->str);
        out->job = json_loads(r->element[1]->str, 0, NULL);
        out->attempt = atoi(r->element[2]->str);
        out->generation = atoi(r->element[3]->str);
        rc = out->job ? 1 : -1;
    }
    freeReplyObject(r);
    return rc;
}

void tg_fwd_claim_dispose(struct tg_fwd_claim *cl)
{
    json_decref(cl->job);
    memset(cl, 0, sizeof *cl);
}

int tg_fwd_finish(redisContext *c, const char *prefix, const char *id, const char *owner,
                  const struct tg_fwd_ending *e)
{
    static const char *const ends[] = {"done", "failed", "retry", "dead"};
    char next[32], now[32];
    snprintf(next, sizeof next, "%llu", (unsigned long long)e->next_ms);
    snprintf(now, sizeof now, "%llu", (unsigned long long)tg_now_ms());
    char *res = e->result ? json_dumps(e->result, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *keys[] = {key(prefix, "lease"),      key(prefix, "owner"),
                    key(prefix, "due"),        key(prefix, "dead"),
                    key(prefix, "jobs"),       key(prefix, "attempts"),
                    key(prefix, "errors"),     tg_xstrdup(e->deploy_key ? e->deploy_key : ""),
                    key(prefix, "generation"), NULL};
    const char *args[] = {id,
                          owner,
                          ends[e->end],
                          next,
                          e->error ? e->error : "",
                          e->entry ? e->entry : "",
                          res ? res : "",
                          now,
                          NULL};
    redisReply *r = run(c, FINISH, keys, args);
    free(res);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
    freeReplyObject(r);
    return rc;
}

static int dead_op(redisContext *c, const char *prefix, const char *id, const char *mode)
{
    char now[32];
    snprintf(now, sizeof now, "%llu", (unsigned long long)tg_now_ms());
    char *keys[] = {key(prefix, "dead"),
                    key(prefix, "attempts"),
                    key(prefix, "due"),
                    key(prefix, "jobs"),
                    key(prefix, "errors"),
                    key(prefix, "generation"),
                    NULL};
    const char *args[] = {id, now, mode, NULL};
    redisReply *r = run(c, DEAD_OP, keys, args);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
    freeReplyObject(r);
    return rc;
}

int tg_fwd_dead_requeue(redisContext *c, const char *prefix, const char *id)
{
    return dead_op(c, prefix, id, "requeue");
}

int tg_fwd_dead_drop(redisContext *c, const char *prefix, const char *id)
{
    return dead_op(c, prefix, id, "drop");
}

int tg_fwd_dead_exists(redisContext *c, const char *prefix, const char *id)
{
    char *k = key(prefix, "dead");
    redisReply *r = redisCommand(c, "ZSCORE %s %s", k, id);
    free(k);
    int rc = r == NULL || r->type == REDIS_REPLY_ERROR ? -1 : r->type == REDIS_REPLY_STRING;
    freeReplyObject(r);
    return rc;
}

static const char *hget(redisContext *c, const char *prefix, const char *name, const char *id,
                        redisReply **hold)
{
    char *k = key(prefix, name);
    *hold = redisCommand(c, "HGET %s %s", k, id);
    free(k);
    return *hold && (*hold)->type == REDIS_REPLY_STRING ? (*hold)->str : NULL;
}

json_t *tg_fwd_dead_list(redisContext *c, const char *prefix)
{
    char *k = key(prefix, "dead");
    redisReply *r = redisCommand(c, "ZRANGE %s 0 -1 WITHSCORES", k);
    free(k);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return NULL;
    }
    json_t *a = json_array();
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *id = r->element[i]->str;
        redisReply *hj, *he, *ha;
        const char *job = hget(c, prefix, "jobs", id, &hj),
                   *err = hget(c, prefix, "errors", id, &he),
                   *att = hget(c, prefix, "attempts", id, &ha);
        json_t *o = json_pack("{s:s, s:I, s:s, s:i}", "id", id, "died_at",
                              (json_int_t)strtoll(r->element[i + 1]->str, NULL, 10), "error",
                              err ? err : "", "attempts", att ? atoi(att) : 0);
        json_object_set_new(o, "job", job ? json_loads(job, 0, NULL) : json_null());
        json_array_append_new(a, o);
        freeReplyObject(hj);
        freeReplyObject(he);
        freeReplyObject(ha);
    }
    freeReplyObject(r);
    return a;
}

static long long zcard(redisContext *c, const char *prefix, const char *name)
{
    char *k = key(prefix, name);
    redisReply *r = redisCommand(c, "ZCARD %s", k);
    free(k);
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return n;
}

int tg_fwd_depth(redisContext *c, const char *prefix, long long *pending, long long *dead)
{
    long long due = zcard(c, prefix, "due"), leased = zcard(c, prefix, "lease");
    *pending = due < 0 || leased < 0 ? -1 : due + leased;
    *dead = zcard(c, prefix, "dead");
    return *pending < 0 || *dead < 0 ? -1 : 0;
}
