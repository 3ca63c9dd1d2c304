/* deploy_approval.c -- the deployment state machine's transitions for deployments that wait
 * for people (approval.h says when each is taken; the state diagram is there). The deployment
 * hash is deploy's record, so every script that changes it lives in deploy; approval.c decides,
 * audits and talks to the chats. Worker and API pool threads, and the main thread after a
 * policy reload.
 *
 * Fields these scripts keep in <prefix>deploy:<project id>:<pipeline>:<env>:
 *   approval_id       the id people type (tg_approval_id)
 *   approval_hash     the policy-set hash the votes are bound to (starts as policy_hash)
 *   approval_round    1, +1 each time a policy change voided votes (buttons carry it)
 *   votes, vote:<identity> = "<ms> <channel>"   one field per distinct approver
 *   expires_at        the <prefix>pending score
 *   posted:<chat>     the round last posted to that chat; notify_attempts
 *   denied_by, deny_reason, decided_at, approved_at, expired_at
 * and the keys:
 *   <prefix>approval:id:<id>   string: the deployment key (expires 90 days after the request)
 *   <prefix>approval:notify    zset of deployments whose chat request is due, by due time (a
 *                              claimed one is pushed a lease ahead while it is being posted)
 *   <prefix>pending            zset by expiry; <prefix>retry: approved ones go here, due now,
 *                              and the worker's retry path triggers them once
 */
#include "deliver/deploy.h"
#include "base/log.h"
#include "base/redisconn.h"
#include "base/scrub.h"
#include "base/util.h"
#include "deliver/deploy_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TG_MODULE "deploy"
#define ID_KEEP_S "7776000" /* an id resolves for 90 days after its request expired */

/* KEYS: deploy, id, notify, pending. ARGV: id, now, keep_s. A deployment asked again
 * after a withdrawal and a re-decision gets the next round: buttons of the old request are stale.
 */
static const char request_lua[] =
    "local h = redis.call('HMGET', KEYS[1], 'state', 'approval_id', 'policy_hash', "
    "'approval_round')\n"
    "if h[1] ~= 'pending_approval' then return {'state', h[1] or 'missing'} end\n"
    "if h[2] then return {'exists', h[2]} end\n"
    "local cur = redis.call('GET', KEYS[2])\n"
    "if cur and cur ~= KEYS[1] then return {'collision', cur} end\n"
    "local exp = redis.call('ZSCORE', KEYS[4], KEYS[1]) or ARGV[2]\n"
    "local ttl = math.floor((tonumber(exp) - tonumber(ARGV[2])) / 1000) + tonumber(ARGV[3])\n"
    "if ttl < 1 then ttl = tonumber(ARGV[3]) end\n"
    "redis.call('SET', KEYS[2], KEYS[1], 'EX', ttl)\n"
    "local round = tostring(tonumber(h[4] or '0') + 1)\n"
    "redis.call('HSET', KEYS[1], 'approval_id', ARGV[1], 'approval_round', round, 'approval_hash', "
    "h[3] or '',\n"
    "           'votes', '0', 'expires_at', exp, 'updated_at', ARGV[2])\n"
    "redis.call('ZADD', KEYS[3], ARGV[2], KEYS[1])\n"
    "return {'new', ARGV[1]}\n";

/* KEYS: deploy, pending, retry, notify. ARGV: identity, now, required, round, channel, deny,
 * reason, final ttl. The expiry is checked here too: the sweep may not have run yet. */
static const char vote_lua[] =
    "local h = redis.call('HMGET', KEYS[1], 'state', 'approval_round', 'votes')\n"
    "if not h[1] then return {'state', 'missing'} end\n"
    "if h[1] ~= 'pending_approval' then return {'state', h[1]} end\n"
    "if ARGV[4] ~= '0' and ARGV[4] ~= h[2] then return {'stale', h[2] or ''} end\n"
    "local exp = redis.call('ZSCORE', KEYS[2], KEYS[1])\n"
    "if exp and tonumber(exp) <= tonumber(ARGV[2]) then return {'state', 'expired'} end\n"
    "if ARGV[6] == '1' then\n"
    "  redis.call('HSET', KEYS[1], 'state', 'denied', 'denied_by', ARGV[1], 'deny_reason', "
    "ARGV[7],\n"
    "             'decided_at', ARGV[2], 'updated_at', ARGV[2])\n"
    "  redis.call('ZREM', KEYS[2], KEYS[1])\n"
    "  redis.call('ZREM', KEYS[4], KEYS[1])\n"
    "  redis.call('EXPIRE', KEYS[1], ARGV[8])\n"
    "  return {'denied', h[3] or '0'}\n"
    "end\n"
    "if redis.call('HSETNX', KEYS[1], 'vote:' .. ARGV[1], ARGV[2] .. ' ' .. ARGV[5]) == 0 then\n"
    "  return {'duplicate', h[3] or '0'}\n"
    "end\n"
    "local votes = redis.call('HINCRBY', KEYS[1], 'votes', 1)\n"
    "if votes < tonumber(ARGV[3]) then return {'counted', tostring(votes)} end\n"
    "redis.call('HSET', KEYS[1], 'state', 'approved', 'approved_at', ARGV[2], 'decided_at', "
    "ARGV[2],\n"
    "           'updated_at', ARGV[2])\n"
    "redis.call('ZREM', KEYS[2], KEYS[1])\n"
    "redis.call('ZREM', KEYS[4], KEYS[1])\n"
    "redis.call('ZADD', KEYS[3], ARGV[2], KEYS[1])\n"
    "return {'approved', tostring(votes)}\n";

/* KEYS: pending, notify. ARGV: now, final ttl. Deployment keys come from the zset (one primary). */
static const char expire_lua[] =
    "local out = {}\n"
    "for _, k in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 16)) do\n"
    "  redis.call('ZREM', KEYS[1], k)\n"
    "  redis.call('ZREM', KEYS[2], k)\n"
    "  if redis.call('HGET', k, 'state') == 'pending_approval' then\n"
    "    redis.call('HSET', k, 'state', 'expired', 'expired_at', ARGV[1], 'updated_at', ARGV[1],\n"
    "               'error', 'the approval request expired before enough people approved')\n"
    "    redis.call('EXPIRE', k, ARGV[2])\n"
    "    table.insert(out, k)\n"
    "  end\n"
    "end\n"
    "return out\n";

/* KEYS: pending, notify. ARGV: self, project id, ref, environment, pipeline, now, final ttl,
 * chart project, chart ref. The scope is deploy.c's "latest" one: the same upstream project and
 * ref, environment and chart target (pipeline ids compare only within one project).
 * Returns {key, newer pipeline, ...}: older pending ones, and self when a newer one waits. */
static const char supersede_lua[] =
    "local function supersede(k, by)\n"
    "  redis.call('HSET', k, 'state', 'superseded', 'updated_at', ARGV[6], 'error', 'superseded by "
    "pipeline ' .. by)\n"
    "  redis.call('ZREM', KEYS[1], k)\n"
    "  redis.call('ZREM', KEYS[2], k)\n"
    "  redis.call('EXPIRE', k, ARGV[7])\n"
    "end\n"
    "local out, newer, mine = {}, nil, tonumber(ARGV[5])\n"
    "for _, k in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do\n"
    "  local h = redis.call('HMGET', k, 'state', 'project_id', 'ref', 'environment', 'pipeline', "
    "'chart_project',\n"
    "                       'chart_ref')\n"
    "  if k ~= ARGV[1] and h[1] == 'pending_approval' and h[2] == ARGV[2] and h[3] == ARGV[3] and "
    "h[4] == ARGV[4]\n"
    "     and (h[6] or '') == ARGV[8] and (h[7] or '') == ARGV[9] then\n"
    "    if tonumber(h[5]) < mine then\n"
    "      supersede(k, ARGV[5])\n"
    "      table.insert(out, k)\n"
    "      table.insert(out, ARGV[5])\n"
    "    elseif tonumber(h[5]) > mine and (newer == nil or tonumber(h[5]) > tonumber(newer)) then\n"
    "      newer = h[5]\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if newer and redis.call('HGET', ARGV[1], 'state') == 'pending_approval' then\n"
    "  supersede(ARGV[1], newer)\n"
    "  table.insert(out, ARGV[1])\n"
    "  table.insert(out, newer)\n"
    "end\n"
    "return out\n";

/* KEYS: pending, notify. ARGV: policy hash, now. Returns {key, old hash, "a,b" voided, ...}. */
static const char void_lua[] =
    "local out = {}\n"
    "for _, k in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do\n"
    "  local h = redis.call('HMGET', k, 'state', 'approval_hash', 'approval_round')\n"
    "  if h[1] == 'pending_approval' and h[2] and h[2] ~= ARGV[1] then\n"
    "    local names = {}\n"
    "    for _, f in ipairs(redis.call('HKEYS', k)) do\n"
    "      if string.sub(f, 1, 5) == 'vote:' then\n"
    "        redis.call('HDEL', k, f)\n"
    "        table.insert(names, string.sub(f, 6))\n"
    "      end\n"
    "    end\n"
    "    redis.call('HSET', k, 'approval_hash', ARGV[1], 'votes', '0', 'updated_at', ARGV[2])\n"
    "    if #names > 0 then\n"
    "      redis.call('HSET', k, 'approval_round', tostring(tonumber(h[3] or '1') + 1), "
    "'notify_attempts', '0')\n"
    "      redis.call('ZADD', KEYS[2], ARGV[2], k)\n"
    "    end\n"
    "    table.insert(out, k)\n"
    "    table.insert(out, h[2])\n"
    "    table.insert(out, table.concat(names, ','))\n"
    "  end\n"
    "end\n"
    "return out\n";

/* KEYS: notify. ARGV: now, lease until. Claims one due chat request. */
static const char notify_claim_lua[] =
    "local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)\n"
    "for _, k in ipairs(keys) do redis.call('ZADD', KEYS[1], ARGV[2], k) end\n"
    "return keys\n";

/* KEYS: deploy, notify. ARGV: round posted, complete (1/0), due when not, then field/value
 * pairs (posted:<chat> = round). A newer round queued meanwhile stays queued. */
static const char notify_done_lua[] =
    "local h = redis.call('HMGET', KEYS[1], 'state', 'approval_round')\n"
    "if h[1] ~= 'pending_approval' then redis.call('ZREM', KEYS[2], KEYS[1]) return 0 end\n"
    "if h[2] ~= ARGV[1] then return 0 end\n"
    "for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end\n"
    "if ARGV[2] == '1' then redis.call('ZREM', KEYS[2], KEYS[1]) return 1 end\n"
    "redis.call('HINCRBY', KEYS[1], 'notify_attempts', 1)\n"
    "redis.call('ZADD', KEYS[2], ARGV[3], KEYS[1])\n"
    "return 1\n";

static void now_text(char out[24])
{
    snprintf(out, 24, "%llu", (unsigned long long)tg_now_ms());
}

static void id_key(char *out, size_t outlen, const char *prefix, const char *id)
{
    snprintf(out, outlen, "%sapproval:id:%s", prefix, id);
}

int tg_deploy_request(redisContext *c, const char *prefix, const char *key, const char *id)
{
    struct tg_deploy_keys k;
    char idkey[160], now[24];
    tg_deploy_keys_of(&k, prefix);
    id_key(idkey, sizeof idkey, prefix, id);
    now_text(now);
    const char *argv[] = {key, idkey, k.notify, k.pending, id, now, ID_KEEP_S};
    redisReply *r = tg_deploy_eval(c, request_lua, 4, argv, 7);
    const char *what = tg_deploy_word(r, 0);
    int rc = what == NULL                                      ? -1
             : !strcmp(what, "new") || !strcmp(what, "exists") ? 1
             : !strcmp(what, "collision")                      ? 2
                                                               : 0;
    freeReplyObject(r);
    return rc;
}

int tg_deploy_lookup(redisContext *c, const char *prefix, const char *id, char *key, size_t keylen)
{
    char idkey[160];
    id_key(idkey, sizeof idkey, prefix, id);
    redisReply *r = redisCommand(c, "GET %s", idkey);
    int rc = r == NULL || r->type == REDIS_REPLY_ERROR ? -1 : r->type == REDIS_REPLY_STRING;
    if (rc == 1)
        snprintf(key, keylen, "%s", r->str);
    freeReplyObject(r);
    return rc;
}

int tg_deploy_pending(redisContext *c, const char *prefix, char (*keys)[512], int max)
{
    struct tg_deploy_keys k;
    tg_deploy_keys_of(&k, prefix);
    redisReply *r = redisCommand(c, "ZRANGE %s 0 %d", k.pending, max - 1);
    int n = -1;
    if (r && r->type == REDIS_REPLY_ARRAY) {
        n = 0;
        for (size_t i = 0; i < r->elements && n < max; i++)
            if (r->element[i]->type == REDIS_REPLY_STRING)
                snprintf(keys[n++], 512, "%s", r->element[i]->str);
    }
    freeReplyObject(r);
    return n;
}

long long tg_deploy_pending_total(redisContext *c, const char *prefix)
{
    struct tg_deploy_keys k;
    tg_deploy_keys_of(&k, prefix);
    redisReply *r = redisCommand(c, "ZCARD %s", k.pending);
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return n;
}

int tg_deploy_vote(redisContext *c, const char *prefix, struct tg_deploy_ballot *b)
{
    struct tg_deploy_keys k;
    char now[24], required[16], round[16];
    tg_deploy_keys_of(&k, prefix);
    now_text(now);
    snprintf(required, sizeof required, "%d", b->required);
    snprintf(round, sizeof round, "%d", b->round);
    /* A deny reason is free text from a voter: stored scrubbed (scrub.h). */
    char *comment = b->comment ? tg_scrub(b->comment, strlen(b->comment), NULL) : NULL;
    const char *argv[] = {b->key,
                          k.pending,
                          k.retry,
                          k.notify,
                          b->identity,
                          now,
                          required,
                          round,
                          b->channel,
                          b->deny ? "1" : "0",
                          comment      ? comment
                          : b->comment ? b->comment
                                       : "",
                          TG_DEPLOY_FINAL_TTL_S};
    redisReply *r = tg_deploy_eval(c, vote_lua, 4, argv, 12);
    free(comment);
    const char *w = tg_deploy_word(r, 0), *d = tg_deploy_word(r, 1);
    snprintf(b->outcome, sizeof b->outcome, "%s", w ? w : "");
    snprintf(b->detail, sizeof b->detail, "%s", d ? d : "");
    freeReplyObject(r);
    return w ? 0 : -1;
}

/* Calls fn with each group of n words of an array reply. Returns 0, or -1 when r is none. */
static int each(const redisReply *r, size_t n, void (*fn)(void *arg, const char *const *w),
                void *arg)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY)
        return -1;
    for (size_t i = 0; i + n <= r->elements; i += n) {
        const char *w[3] = {NULL, NULL, NULL};
        for (size_t j = 0; j < n; j++)
            w[j] = tg_deploy_word(r, i + j);
        fn(arg, w);
    }
    return 0;
}

struct relay {
    tg_deploy_closed_fn fn;
    void *arg;
};

static void relay_closed(void *arg, const char *const *w)
{
    const struct relay *r = arg;
    if (w[0])
        r->fn(r->arg, w[0], w[1] ? w[1] : "", w[2] ? w[2] : "");
}

int tg_deploy_expire_due(redisContext *c, const char *prefix, tg_deploy_closed_fn fn, void *arg)
{
    struct tg_deploy_keys k;
    char now[24];
    tg_deploy_keys_of(&k, prefix);
    now_text(now);
    const char *argv[] = {k.pending, k.notify, now, TG_DEPLOY_FINAL_TTL_S};
    redisReply *r = tg_deploy_eval(c, expire_lua, 2, argv, 4);
    struct relay rl = {fn, arg};
    int rc = each(r, 1, relay_closed, &rl);
    freeReplyObject(r);
    return rc;
}

/* The fields of key the supersession scope names: project_id, ref, environment, pipeline,
 * chart_project, chart_ref. NULL when Redis failed; *none when the record lacks its ids. */
static redisReply *scope_of(redisContext *c, const char *key, int *none)
{
    redisReply *h = redisCommand(
        c, "HMGET %s project_id ref environment pipeline chart_project chart_ref", key);
    *none = h && h->type == REDIS_REPLY_ARRAY &&
            (h->elements != 6 || tg_deploy_word(h, 0) == NULL || tg_deploy_word(h, 3) == NULL);
    if (h == NULL || h->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(h);
        return NULL;
    }
    return h;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

int tg_deploy_supersede_pending(redisContext *c, const char *prefix, const char *key,
                                tg_deploy_closed_fn fn, void *arg)
{
    struct tg_deploy_keys k;
    char now[24];
    int none;
    redisReply *h = scope_of(c, key, &none);
    if (h == NULL || none) {
        freeReplyObject(h);
        return h ? 0 : -1;
    }
    tg_deploy_keys_of(&k, prefix);
    now_text(now);
    const char *argv[] = {k.pending,
                          k.notify,
                          key,
                          tg_deploy_word(h, 0),
                          or_empty(tg_deploy_word(h, 1)),
                          or_empty(tg_deploy_word(h, 2)),
                          tg_deploy_word(h, 3),
                          now,
                          TG_DEPLOY_FINAL_TTL_S,
                          or_empty(tg_deploy_word(h, 4)),
                          or_empty(tg_deploy_word(h, 5))};
    redisReply *r = tg_deploy_eval(c, supersede_lua, 2, argv, 11);
    struct relay rl = {fn, arg};
    int rc = each(r, 2, relay_closed, &rl);
    freeReplyObject(r);
    freeReplyObject(h);
    return rc;
}

int tg_deploy_void_votes(redisContext *c, const char *prefix, const char *policy_hash,
                         tg_deploy_closed_fn fn, void *arg)
{
    struct tg_deploy_keys k;
    char now[24];
    tg_deploy_keys_of(&k, prefix);
    now_text(now);
    const char *argv[] = {k.pending, k.notify, policy_hash, now};
    redisReply *r = tg_deploy_eval(c, void_lua, 2, argv, 4);
    struct relay rl = {fn, arg};
    int rc = each(r, 3, relay_closed, &rl);
    freeReplyObject(r);
    return rc;
}

int tg_deploy_notify_claim(redisContext *c, const char *prefix, uint64_t lease_ms, char *key,
                           size_t keylen)
{
    struct tg_deploy_keys k;
    char now[24], until[24];
    uint64_t t = tg_now_ms();
    tg_deploy_keys_of(&k, prefix);
    snprintf(now, sizeof now, "%llu", (unsigned long long)t);
    snprintf(until, sizeof until, "%llu", (unsigned long long)(t + lease_ms));
    const char *argv[] = {k.notify, now, until};
    redisReply *r = tg_deploy_eval(c, notify_claim_lua, 1, argv, 3);
    int rc = r && r->type == REDIS_REPLY_ARRAY ? tg_deploy_word(r, 0) != NULL : -1;
    if (rc == 1)
        snprintf(key, keylen, "%s", tg_deploy_word(r, 0));
    freeReplyObject(r);
    return rc;
}

int tg_deploy_notify_done(redisContext *c, const char *prefix, const struct tg_deploy_notified *n)
{
    struct tg_deploy_keys k;
    char round[16], due[24], fields[8][48];
    const char *argv[5 + 2 * 8];
    int argc = 0;
    tg_deploy_keys_of(&k, prefix);
    snprintf(round, sizeof round, "%d", n->round);
    snprintf(due, sizeof due, "%llu", (unsigned long long)n->due_ms);
    const char *head[] = {n->key, k.notify, round, n->complete ? "1" : "0", due};
    for (int i = 0; i < 5; i++)
        argv[argc++] = head[i];
    for (int i = 0; i < n->nposted && i < 8; i++) {
        snprintf(fields[i], sizeof fields[i], "posted:%s", n->posted[i]);
        argv[argc++] = fields[i];
        argv[argc++] = round;
    }
    redisReply *r = tg_deploy_eval(c, notify_done_lua, 2, argv, argc);
    int rc = r ? 0 : -1;
    freeReplyObject(r);
    return rc;
}
