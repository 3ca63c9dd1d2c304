/* approval.c -- deployments that wait for people: requests, votes, expiry, supersession and
 * re-evaluation (diagram in approval.h). Worker threads, API pool threads, and the main thread
 * for tg_approval_policy_loaded; every transition is one Lua script.
 *
 *   <prefix>deploy:<project id>:<pipeline>:<env>   the deployment (deploy.c) plus:
 *        approval_id       the id people type (see tg_approval_id)
 *        approval_hash     the policy-set hash the votes are bound to (starts as policy_hash)
 *        approval_round    1, +1 each time a policy change voided votes (buttons carry it)
 *        votes, vote:<identity> = "<ms> <channel>"   one field per distinct approver
 *        expires_at        the <prefix>pending score
 *        posted:<chat>     the round last posted to that chat; notify_attempts
 *        denied_by, deny_reason, decided_at, approved_at, expired_at
 *   <prefix>approval:id:<id>   string: the deployment key (expires 90 days after the request)
 *   <prefix>approval:notify    zset of deployments whose chat request is due, by due time (a
 *                              claimed one is pushed a lease ahead while it is being posted)
 *   <prefix>pending            zset by expiry (deploy.c); <prefix>retry: approved ones go here,
 *                              due now, and the worker's retry path triggers them once
 */
#include "approvals/approval.h"
#include "base/crypto.h"
#include "deliver/deploy.h"
#include "base/log.h"
#include "decide/policy.h"
#include "base/redisconn.h"
#include "base/scrub.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TG_MODULE             "approval"
#define FINAL_TTL_S           "7776000" /* closed records stay 90 days, like deploy.c's */
#define ID_KEEP_S             "7776000" /* an id resolves for 90 days after its request expired */
#define NOTIFY_LEASE_MS       60000 /* a claimed chat post; long enough for two chats' timeouts */
#define NOTIFY_BACKOFF_CAP_MS 300000
#define ALL_CHATS             (TG_CHAT_BIT(TG_CHAT_SLACK) | TG_CHAT_BIT(TG_CHAT_MATTERMOST))

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

static redisReply *run(redisContext *c, const char *lua, int nkeys, const char *const *argv,
                       int argc)
{
    size_t lens[16];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = tg_redis_eval(c, &(struct tg_redis_script_call){.source = lua,
                                                                    .nkeys = nkeys,
                                                                    .argc = argc,
                                                                    .argv = (const char **)argv,
                                                                    .argvlen = lens});
    if (r && r->type == REDIS_REPLY_ERROR) {
        TG_LOG(TG_LOG_ERROR, "script_failed", "%s", r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static const char *word(const redisReply *r, size_t i)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements <= i ||
        r->element[i]->type != REDIS_REPLY_STRING)
        return NULL;
    return r->element[i]->str;
}

static void key_of(char *out, size_t outlen, const struct tg_config *cfg, const char *what)
{
    snprintf(out, outlen, "%s%s", cfg->redis.prefix, what);
}

static void now_text(char out[24])
{
    snprintf(out, 24, "%llu", (unsigned long long)tg_now_ms());
}

/* Appends a record about v (target filled from it). Takes details. */
static int record(struct tg_work *w, const struct tg_approval_view *v,
                  const struct tg_audit_record *base, const char *reason, json_t *details)
{
    struct tg_audit_record r = *base;
    json_t *reasons = reason ? json_pack("[s]", reason) : NULL;
    r.reasons = reasons, r.details = details, r.decision = "needs_approval";
    if (v)
        tg_work_record_target(&r, &v->target);
    int rc = tg_work_audit(w, &r);
    json_decref(reasons), json_decref(details);
    return rc;
}

/* ---- lookups ---- */

int tg_approval_lookup(redisContext *c, const char *prefix, const char *id, char *key,
                       size_t keylen)
{
    if (!tg_approval_id_valid(id))
        return 0;
    redisReply *r = redisCommand(c, "GET %sapproval:id:%s", prefix, id);
    int rc = r == NULL || r->type == REDIS_REPLY_ERROR ? -1 : r->type == REDIS_REPLY_STRING;
    if (rc == 1)
        snprintf(key, keylen, "%s", r->str);
    freeReplyObject(r);
    return rc;
}

int tg_approval_pending(redisContext *c, const char *prefix, char (*keys)[512], int max)
{
    redisReply *r = redisCommand(c, "ZRANGE %spending 0 %d", prefix, max - 1);
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

/* ---- the request ---- */

/* Gives the deployment its id and queues the chat request. Returns 1 when it is set
 * up (now or before), 0 when it is no longer pending, 2 when id belongs to another key, -1. */
static int setup(struct tg_work *w, const char *key, const char *id)
{
    char idkey[160], notify[128], pending[128], now[24];
    snprintf(idkey, sizeof idkey, "%sapproval:id:%s", w->cfg->redis.prefix, id);
    key_of(notify, sizeof notify, w->cfg, "approval:notify");
    key_of(pending, sizeof pending, w->cfg, "pending");
    now_text(now);
    const char *argv[] = {key, idkey, notify, pending, id, now, ID_KEEP_S};
    redisReply *r = run(w->rc, request_lua, 4, argv, 7);
    const char *what = word(r, 0);
    int rc = what == NULL                                      ? -1
             : !strcmp(what, "new") || !strcmp(what, "exists") ? 1
             : !strcmp(what, "collision")                      ? 2
                                                               : 0;
    freeReplyObject(r);
    return rc;
}

/* The once key of an approval step ("approval_<what>:<key>"): a re-decided deployment
 * (version 2 and later, deploy.c) is asked and closed again, each version once. */
static void once_key(char *out, size_t outlen, const char *what, const struct tg_approval_view *v)
{
    const char *version = tg_deploy_field(v->rec, "version");
    int later = version && strcmp(version, "1") != 0;
    snprintf(out, outlen, "approval_%s:%s%s%s", what, v->key, later ? ":v" : "",
             later ? version : "");
}

static int record_requested(struct tg_work *w, const char *key)
{
    struct tg_approval_view v;
    char once[600];
    int rc = tg_approval_view_load(w->rc, w->cfg, key, &v);
    if (rc == 1) {
        once_key(once, sizeof once, "requested", &v);
        json_t *approvers = json_array();
        for (char **p = v.rules.approvers; *p; p++)
            json_array_append_new(approvers, json_string(*p));
        json_t *details =
            json_pack("{s:s?, s:i, s:o, s:b, s:s?, s:s?}", "id", v.subject.var[TG_VAR_ID],
                      "required", v.rules.required, "approvers", approvers, "prevent_self_approval",
                      v.rules.prevent_self_approval, "expires_at", v.subject.var[TG_VAR_EXPIRES],
                      "policy_hash", tg_deploy_field(v.rec, "approval_hash"));
        struct tg_audit_record base = {.action = "approval_requested", .once = once};
        rc = record(w, &v, &base, v.subject.var[TG_VAR_REASON], details);
        TG_LOG(TG_LOG_INFO, "requested", "%s as %s", key, v.subject.var[TG_VAR_ID]);
    }
    tg_approval_view_dispose(&v);
    return rc < 0 ? -1 : 0;
}

static int request(struct tg_work *w, const char *key)
{
    char id[TG_APPROVAL_ID_MAX + 1];
    for (size_t n = TG_APPROVAL_ID_LEN; n <= TG_APPROVAL_ID_MAX; n += 4) {
        tg_approval_id(key, n, id);
        int rc = setup(w, key, id);
        if (rc != 2)
            return rc <= 0 ? rc : record_requested(w, key);
    }
    TG_LOG(TG_LOG_ERROR, "id_collision", "%s: every id length collides; no chat request", key);
    return 0;
}

/* ---- closing without a vote: expiry and supersession ---- */

struct closing {
    const char *action;     /* audit */
    const char *gitlab;     /* commit status */
    enum tg_chat_text text; /* chat notice */
};

/* Closings that are Tollgate's (or people's) reason post canceled, never failed: the status is
 * an external job of the pipeline, and failed would turn a green pipeline red (README, "What
 * GitLab shows"). A withdrawal posts skipped, which GitLab's composite status counts as
 * passing: canceled would hold the pipeline canceled for good, and a retried job that turns
 * it green again could never be re-decided. */
static const struct closing expired_closing = {"expired", "canceled", TG_TEXT_EXPIRED};
static const struct closing superseded_closing = {"superseded", "canceled", TG_TEXT_SUPERSEDED};
static const struct closing withdrawn_closing = {"withdrawn", "skipped", TG_TEXT_WITHDRAWN};

static void on_closed(struct tg_work *w, const char *key, const struct closing *c,
                      const char *detail)
{
    struct tg_approval_view v;
    char once[600], desc[256];
    if (tg_approval_view_load(w->rc, w->cfg, key, &v) == 1) {
        once_key(once, sizeof once, c->action, &v);
        snprintf(desc, sizeof desc, "%s (%d/%d approvals)", detail, v.votes, v.rules.required);
        struct tg_audit_record base = {.action = c->action, .once = once};
        record(w, &v, &base, desc,
               json_pack("{s:s?, s:i, s:i}", "id", v.subject.var[TG_VAR_ID], "votes", v.votes,
                         "required", v.rules.required));
        TG_LOG(TG_LOG_INFO, c->action, "%s: %s", key, desc);
        /* a later event may have re-decided it meanwhile: then its status is the newer one */
        if (v.state && strcmp(v.state, c->action) == 0) {
            tg_work_status(w, &v.target, c->gitlab, desc);
            v.subject.var[TG_VAR_DETAIL] = detail;
            tg_chat_announce(w->cfg, &v.subject, c->text, -1, 0);
        }
    }
    tg_approval_view_dispose(&v);
}

static int supersede_older(struct tg_work *w, const char *key)
{
    char pending[128], notify[128], now[24], detail[160];
    redisReply *h = redisCommand(
        w->rc, "HMGET %s project_id ref environment pipeline chart_project chart_ref", key);
    if (h == NULL || h->type != REDIS_REPLY_ARRAY || h->elements != 6 || word(h, 0) == NULL ||
        word(h, 3) == NULL) {
        int failed = h == NULL || h->type == REDIS_REPLY_ERROR;
        freeReplyObject(h);
        return failed ? -1 : 0;
    }
    key_of(pending, sizeof pending, w->cfg, "pending");
    key_of(notify, sizeof notify, w->cfg, "approval:notify");
    now_text(now);
    const char *argv[] = {pending,
                          notify,
                          key,
                          word(h, 0),
                          word(h, 1) ? word(h, 1) : "",
                          word(h, 2) ? word(h, 2) : "",
                          word(h, 3),
                          now,
                          FINAL_TTL_S,
                          word(h, 4) ? word(h, 4) : "",
                          word(h, 5) ? word(h, 5) : ""};
    redisReply *r = run(w->rc, supersede_lua, 2, argv, 11);
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        snprintf(detail, sizeof detail, "superseded by pipeline %s of the same ref",
                 word(r, i + 1));
        on_closed(w, word(r, i), &superseded_closing, detail);
    }
    int rc = r && r->type == REDIS_REPLY_ARRAY ? 0 : -1;
    freeReplyObject(r), freeReplyObject(h);
    return rc;
}

void tg_approval_withdrawn(struct tg_work *w, const char *key, const char *cause,
                           const char *voided)
{
    char detail[700];
    snprintf(detail, sizeof detail, "%s while it waited; nobody can approve it now%s%s", cause,
             *voided ? "; approvals voided: " : "", voided);
    on_closed(w, key, &withdrawn_closing, detail);
}

int tg_approval_on_deployment(struct tg_work *w, const char *key, const char *state)
{
    static const char *const newer_wins[] = {"pending_approval", "decided",   "approved",
                                             "triggering",       "sending",   "reconciling",
                                             "retry_wait",       "triggered", "unknown"};
    if (strcmp(state, "pending_approval") == 0 && request(w, key) < 0)
        return -1;
    for (size_t i = 0; i < TG_ARRAY_SIZE(newer_wins); i++)
        if (strcmp(state, newer_wins[i]) == 0)
            return supersede_older(w, key);
    return 0;
}

/* ---- the sweep ---- */

static int expire_due(struct tg_work *w)
{
    char pending[128], notify[128], now[24];
    key_of(pending, sizeof pending, w->cfg, "pending");
    key_of(notify, sizeof notify, w->cfg, "approval:notify");
    now_text(now);
    const char *argv[] = {pending, notify, now, FINAL_TTL_S};
    redisReply *r = run(w->rc, expire_lua, 2, argv, 4);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    for (size_t i = 0; i < r->elements; i++)
        if (word(r, i))
            on_closed(w, word(r, i), &expired_closing, "the approval request expired");
    freeReplyObject(r);
    return 0;
}

/* Records which chats took round v->round; requeues the rest with a backoff. */
static int notify_done(struct tg_work *w, const struct tg_approval_view *v, unsigned posted,
                       unsigned newly)
{
    char notify[128], round[16], due[24], fields[TG_CHAT_COUNT][32];
    const char *argv[4 + 3 + 2 * TG_CHAT_COUNT];
    const char *tries = tg_deploy_field(v->rec, "notify_attempts");
    long long attempts = tries ? atoll(tries) : 0;
    uint64_t delay = attempts >= 8 || attempts < 0 ? NOTIFY_BACKOFF_CAP_MS : 1000ULL << attempts;
    int argc = 0;
    key_of(notify, sizeof notify, w->cfg, "approval:notify");
    snprintf(round, sizeof round, "%d", v->round);
    snprintf(due, sizeof due, "%llu", (unsigned long long)(tg_now_ms() + delay));
    argv[argc++] = v->key, argv[argc++] = notify, argv[argc++] = round;
    argv[argc++] = (posted & ALL_CHATS) == ALL_CHATS ? "1" : "0", argv[argc++] = due;
    for (int c = 0; c < TG_CHAT_COUNT; c++)
        if (newly & TG_CHAT_BIT(c)) {
            snprintf(fields[c], sizeof fields[c], "posted:%s",
                     tg_chat_name((enum tg_chat_service)c));
            argv[argc++] = fields[c], argv[argc++] = round;
        }
    redisReply *r = run(w->rc, notify_done_lua, 2, argv, argc);
    int rc = r ? 0 : -1;
    freeReplyObject(r);
    return rc;
}

/* The chats that already show round v->round, as a TG_CHAT_BIT mask. */
static unsigned already_posted(const struct tg_approval_view *v)
{
    unsigned m = 0;
    char f[32];
    for (int c = 0; c < TG_CHAT_COUNT; c++) {
        snprintf(f, sizeof f, "posted:%s", tg_chat_name((enum tg_chat_service)c));
        const char *r = tg_deploy_field(v->rec, f);
        if (r && atoi(r) == v->round)
            m |= TG_CHAT_BIT(c);
    }
    return m;
}

static int post_request(struct tg_work *w, struct tg_approval_view *v)
{
    unsigned before = already_posted(v), targets = tg_chat_targets(w->cfg);
    unsigned done = tg_chat_announce(w->cfg, &v->subject, TG_TEXT_REQUEST,
                                     v->round > 1 ? TG_TEXT_VOIDED : -1, before);
    unsigned newly = done & targets & ~before;
    if (newly)
        TG_LOG(TG_LOG_INFO, "request_posted", "%s round %d (%s%s%s)", v->subject.var[TG_VAR_ID],
               v->round, newly & TG_CHAT_BIT(TG_CHAT_SLACK) ? "slack" : "",
               newly == ALL_CHATS ? ", " : "",
               newly & TG_CHAT_BIT(TG_CHAT_MATTERMOST) ? "mattermost" : "");
    return notify_done(w, v, done | before, newly);
}

static int notify_due(struct tg_work *w)
{
    char notify[128], now[24], until[24];
    struct tg_approval_view v;
    uint64_t t = tg_now_ms();
    key_of(notify, sizeof notify, w->cfg, "approval:notify");
    snprintf(now, sizeof now, "%llu", (unsigned long long)t);
    snprintf(until, sizeof until, "%llu", (unsigned long long)(t + NOTIFY_LEASE_MS));
    const char *argv[] = {notify, now, until};
    redisReply *r = run(w->rc, notify_claim_lua, 1, argv, 3);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || word(r, 0) == NULL) {
        int rc = r && r->type == REDIS_REPLY_ARRAY ? 0 : -1;
        freeReplyObject(r);
        return rc;
    }
    int rc = tg_approval_view_load(w->rc, w->cfg, word(r, 0), &v);
    if (rc == 1 && v.subject.buttons)
        rc = post_request(w, &v);
    else if (rc >= 0)
        rc = notify_done(w, &v, ALL_CHATS, 0); /* closed or gone: drop it from the queue */
    tg_approval_view_dispose(&v);
    freeReplyObject(r);
    return rc < 0 ? -1 : 0;
}

int tg_approval_sweep(struct tg_work *w)
{
    return expire_due(w) < 0 || notify_due(w) < 0 ? -1 : 0;
}

/* ---- policy changes ---- */

static void record_voided(struct tg_work *w, const char *key, const char *old_hash,
                          const char *names)
{
    struct tg_approval_view v;
    char reason[256];
    if (tg_approval_view_load(w->rc, w->cfg, key, &v) == 1) {
        json_t *voided = json_array();
        for (const char *p = names; *p;) {
            size_t n = strcspn(p, ",");
            json_array_append_new(voided, json_stringn(p, n));
            p += n + (p[n] == ',');
        }
        snprintf(reason, sizeof reason, "the policy set changed: %zu approval(s) voided%s",
                 json_array_size(voided), json_array_size(voided) ? ", asked again" : "");
        struct tg_audit_record base = {.action = "approvals_voided"};
        record(w, &v, &base, reason,
               json_pack("{s:s?, s:s, s:s?, s:o, s:i}", "id", v.subject.var[TG_VAR_ID],
                         "old_policy_hash", old_hash, "policy_hash",
                         tg_deploy_field(v.rec, "approval_hash"), "voided", voided, "round",
                         v.round));
        TG_LOG(TG_LOG_INFO, "approvals_voided", "%s: %s", key, reason);
    }
    tg_approval_view_dispose(&v);
}

static void reevaluate(struct tg_work *w)
{
    char pending[128], notify[128], now[24];
    key_of(pending, sizeof pending, w->cfg, "pending");
    key_of(notify, sizeof notify, w->cfg, "approval:notify");
    now_text(now);
    const char *argv[] = {pending, notify, tg_policy_set_hash(w->cfg->policies), now};
    redisReply *r = run(w->rc, void_lua, 2, argv, 4);
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 2 < r->elements; i += 3)
        record_voided(w, word(r, i), word(r, i + 1) ? word(r, i + 1) : "",
                      word(r, i + 2) ? word(r, i + 2) : "");
    if (r == NULL || r->type != REDIS_REPLY_ARRAY)
        TG_LOG(TG_LOG_ERROR, "reevaluation_failed", "pending approvals were not re-evaluated");
    freeReplyObject(r);
}

void tg_approval_policy_loaded(const struct tg_config *cfg)
{
    char err[256];
    if (cfg->policies == NULL || cfg->redis.url == NULL)
        return;
    redisContext *c =
        tg_redis_connect_url(cfg->redis.url, cfg->limits.redis_timeout_ms, err, sizeof err);
    if (c == NULL) {
        TG_LOG(TG_LOG_WARN, "reevaluation_skipped", "redis: %s", err);
        return;
    }
    struct tg_work w;
    tg_approval_work_init(&w, (struct tg_config *)cfg, c, tg_audit_new(cfg));
    reevaluate(&w);
    tg_audit_free(w.audit);
    tg_approval_work_dispose(&w);
    redisFree(c);
}

/* ---- votes ---- */

static const char *const outcome_names[] = {
    [TG_VOTE_COUNTED] = "counted",     [TG_VOTE_APPROVED] = "quorum", [TG_VOTE_DENIED] = "denied",
    [TG_VOTE_DUPLICATE] = "duplicate", [TG_VOTE_REFUSED] = "refused", [TG_VOTE_UNKNOWN] = "unknown",
    [TG_VOTE_ERROR] = "error"};

static void record_vote(struct tg_work *w, const struct tg_vote *v, const struct tg_vote_result *r)
{
    char actor[160];
    const struct tg_approval_view *view = r->have_view ? &r->view : NULL;
    int accepted = r->status == TG_VOTE_COUNTED || r->status == TG_VOTE_APPROVED ||
                   r->status == TG_VOTE_DENIED;
    snprintf(actor, sizeof actor, "%s%s%s", v->identity ? v->identity : v->channel,
             v->identity ? "" : ":", v->identity ? "" : (v->chat_user ? v->chat_user : "unknown"));
    json_t *details = json_pack(
        "{s:s, s:s, s:s?, s:s?, s:s?, s:s, s:i, s:i, s:i}", "id", v->id ? v->id : "", "channel",
        v->channel, "chat_user", v->chat_user, "identity", v->identity, "comment", v->comment,
        "outcome", outcome_names[r->status], "votes", view ? view->votes : 0, "required",
        view ? view->rules.required : 0, "round", view ? view->round : 0);
    json_object_set_new(details, "request", json_string(v->deny ? "deny" : "approve"));
    struct tg_audit_record base = {.action = !accepted ? "approval_refused"
                                             : v->deny ? "denied"
                                                       : "approved",
                                   .actor = actor};
    record(w, view, &base, accepted ? v->comment : r->why, details);
}

/* Why the vote cannot be taken before asking Redis (state and rules), into out->why. */
static int precheck(const struct tg_vote *v, struct tg_vote_result *out)
{
    const struct tg_approval_view *view = &out->view;
    if (view->state == NULL || strcmp(view->state, "pending_approval") != 0) {
        snprintf(out->why, sizeof out->why, "deployment %s is %s", v->id,
                 view->state ? view->state : "unknown");
        return -1;
    }
    return tg_approval_refusal(&view->rules, v->identity, view->target.user, v->deny, out->why,
                               sizeof out->why)
               ? -1
               : 0;
}

static enum tg_vote_status vote_status(const redisReply *r, const char *id, char *why,
                                       size_t whylen)
{
    static const struct {
        const char *word;
        enum tg_vote_status status;
    } map[] = {{"counted", TG_VOTE_COUNTED},
               {"approved", TG_VOTE_APPROVED},
               {"denied", TG_VOTE_DENIED},
               {"duplicate", TG_VOTE_DUPLICATE}};
    const char *w = word(r, 0), *d = word(r, 1);
    for (size_t i = 0; w && i < TG_ARRAY_SIZE(map); i++)
        if (strcmp(w, map[i].word) == 0)
            return map[i].status;
    if (w && strcmp(w, "state") == 0)
        snprintf(why, whylen, "deployment %s is %s", id, d ? d : "unknown");
    else if (w && strcmp(w, "stale") == 0)
        snprintf(why, whylen,
                 "this button belongs to an earlier request for %s (the policy changed since); use "
                 "the newest message",
                 id);
    return w && (strcmp(w, "state") == 0 || strcmp(w, "stale") == 0) ? TG_VOTE_REFUSED
                                                                     : TG_VOTE_ERROR;
}

static void vote(struct tg_work *w, const struct tg_vote *v, struct tg_vote_result *out)
{
    char pending[128], retry[128], notify[128], now[24], required[16], round[16];
    key_of(pending, sizeof pending, w->cfg, "pending");
    key_of(retry, sizeof retry, w->cfg, "retry");
    key_of(notify, sizeof notify, w->cfg, "approval:notify");
    now_text(now);
    snprintf(required, sizeof required, "%d", out->view.rules.required);
    snprintf(round, sizeof round, "%d", v->round);
    /* A deny reason is free text from a voter: stored scrubbed (scrub.h). */
    char *comment = v->comment ? tg_scrub(v->comment, strlen(v->comment), NULL) : NULL;
    const char *argv[] = {out->view.key,
                          pending,
                          retry,
                          notify,
                          v->identity,
                          now,
                          required,
                          round,
                          v->channel,
                          v->deny ? "1" : "0",
                          comment      ? comment
                          : v->comment ? v->comment
                                       : "",
                          FINAL_TTL_S};
    redisReply *r = run(w->rc, vote_lua, 4, argv, 12);
    free(comment);
    out->status = vote_status(r, v->id, out->why, sizeof out->why);
    if (out->status == TG_VOTE_DUPLICATE)
        snprintf(out->why, sizeof out->why, "%s already approved %s; it counts once", v->identity,
                 v->id);
    freeReplyObject(r);
}

static void reload_view(struct tg_work *w, struct tg_vote_result *out)
{
    char key[512];
    snprintf(key, sizeof key, "%s", out->view.key);
    tg_approval_view_dispose(&out->view);
    out->have_view = tg_approval_view_load(w->rc, w->cfg, key, &out->view) == 1;
}

void tg_approval_cast(struct tg_work *w, const struct tg_vote *v, struct tg_vote_result *out)
{
    char key[512];
    memset(out, 0, sizeof *out);
    int rc = tg_approval_lookup(w->rc, w->cfg->redis.prefix, v->id, key, sizeof key);
    if (rc == 1 && (rc = tg_approval_view_load(w->rc, w->cfg, key, &out->view)) < 0)
        tg_approval_view_dispose(&out->view);
    out->have_view = rc == 1;
    out->status = rc < 0 ? TG_VOTE_ERROR : rc == 0 ? TG_VOTE_UNKNOWN : TG_VOTE_REFUSED;
    if (rc == 0)
        snprintf(out->why, sizeof out->why, "no deployment has the id %s", v->id ? v->id : "");
    if (rc == 1 && precheck(v, out) == 0) {
        vote(w, v, out);
        if (out->status != TG_VOTE_ERROR)
            reload_view(w, out);
    }
    if (out->status != TG_VOTE_ERROR &&
        out->status != TG_VOTE_DUPLICATE) /* a repeat counts once, records nothing */
        record_vote(w, v, out);
    if (out->have_view) {
        struct tg_chat_subject *s = &out->view.subject;
        s->var[TG_VAR_ACTOR] = v->identity ? v->identity : v->chat_user;
        s->var[TG_VAR_COMMENT] = v->comment;
        s->var[TG_VAR_DETAIL] = out->why;
    }
}

const char *tg_vote_status_name(enum tg_vote_status s)
{
    return outcome_names[s];
}

enum tg_chat_text tg_vote_text(enum tg_vote_status s)
{
    static const enum tg_chat_text texts[] = {
        [TG_VOTE_COUNTED] = TG_TEXT_VOTE,    [TG_VOTE_APPROVED] = TG_TEXT_APPROVED,
        [TG_VOTE_DENIED] = TG_TEXT_DENIED,   [TG_VOTE_DUPLICATE] = TG_TEXT_DUPLICATE,
        [TG_VOTE_REFUSED] = TG_TEXT_REFUSED, [TG_VOTE_UNKNOWN] = TG_TEXT_UNKNOWN_ID,
        [TG_VOTE_ERROR] = TG_TEXT_REFUSED};
    return texts[s];
}

void tg_approval_follow_up(struct tg_work *w, const struct tg_vote *v,
                           const struct tg_vote_result *r, unsigned skip)
{
    char desc[256];
    if (!r->have_view || r->status > TG_VOTE_DENIED)
        return;
    if (r->status == TG_VOTE_DENIED) {
        snprintf(desc, sizeof desc, "denied by %s: %s", v->identity, v->comment ? v->comment : "");
        tg_work_status(w, &r->view.target, "canceled",
                       desc); /* people's reason: see expired_closing */
    }
    TG_LOG(TG_LOG_INFO, outcome_names[r->status], "%s by %s via %s (%d/%d)", v->id, v->identity,
           v->channel, r->view.votes, r->view.rules.required);
    struct tg_chat_subject s = r->view.subject;
    s.buttons = 0; /* a notice: the buttons stay on the request */
    tg_chat_announce(w->cfg, &s, tg_vote_text(r->status), -1, skip);
}

void tg_vote_result_dispose(struct tg_vote_result *r)
{
    tg_approval_view_dispose(&r->view);
    r->have_view = 0;
}

void tg_approval_work_init(struct tg_work *w, struct tg_config *cfg, redisContext *rc,
                           struct tg_audit *audit)
{
    memset(w, 0, sizeof *w);
    w->rc = rc, w->cfg = cfg, w->audit = audit;
    w->api =
        tg_gitlab_api_new(cfg->gitlab.url, cfg->gitlab.api_token.value, cfg->gitlab.api_token.len,
                          cfg->gitlab.timeout_ms, cfg->gitlab.ca_file);
    snprintf(w->owner, sizeof w->owner, "approvals");
}

void tg_approval_work_dispose(struct tg_work *w)
{
    tg_gitlab_api_free(w->api);
    w->api = NULL;
}
