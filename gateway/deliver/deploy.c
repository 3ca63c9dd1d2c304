/* deploy.c -- the deployment state machine in Redis (diagram in deploy.h).
 *
 *   <prefix>deploy:<project id>:<pipeline>:<environment>   hash: state, what was decided,
 *        what to trigger (chart project, ref, variables JSON; never the token), attempts,
 *        owner + lease_until while triggering/sending/reconciling, sent_at and first_sent_at
 *        (ms), settle_until and reconcile_checks while reconciling, effects (the outbox
 *        counter), downstream id/url or error; the lifecycle's status, builds, rank, version
 *   <prefix>latest:<project id>:<ref>:<environment>:<chart project>:<chart ref>
 *        newest pipeline id of that upstream project and ref whose trigger was sent to that
 *        chart target for that environment: an older pipeline of the same project and ref
 *        never triggers after it. GitLab's pipeline ids are instance-wide but comparable only
 *        within one project, so services sharing a chart repository never supersede each other.
 *   <prefix>inflight   zset of deployments in triggering or sending, by lease expiry (sweep)
 *   <prefix>retry      zset of deployments in retry_wait (and approved), by due time
 *   <prefix>reconcile  zset of deployments in reconciling, by next check (or check lease expiry)
 *   <prefix>pending    zset of deployments waiting for approval, by expiry
 *   <prefix>approval:notify, <prefix>approval:id:<id>, and the approval fields of the hash:
 *        drawn in deploy_approval.c, whose scripts change a deployment that waits for people
 *   <prefix>outbox, <prefix>outbox:data   effects of the changes (owned by outbox.c)
 *
 * This module builds every key above (docs/ARCHITECTURE.md, "Redis keyspace"); the record is
 * decoded in deployment.c.
 */
#include "deliver/deploy.h"
#include "base/log.h"
#include "base/redisconn.h"
#include "deliver/deploy_impl.h"
#include "deliver/outbox.h"
#include "deliver/template.h"
#include "base/scrub.h"
#include "base/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TG_MODULE "deploy"

/* withdraw(key, status, rank, now, ttl, why): a pending approval becomes withdrawn, its
 * votes voided; returns the voided identities "a,b". KEYS[2], KEYS[3] are pending, notify. */
#define WITHDRAW_LUA                                                                               \
    "local function withdraw(k, status, rank, now, ttl, why)\n"                                    \
    "  local names = {}\n"                                                                         \
    "  for _, f in ipairs(redis.call('HKEYS', k)) do\n"                                            \
    "    if string.sub(f, 1, 5) == 'vote:' then\n"                                                 \
    "      redis.call('HDEL', k, f)\n"                                                             \
    "      table.insert(names, string.sub(f, 6))\n"                                                \
    "    end\n"                                                                                    \
    "  end\n"                                                                                      \
    "  local v = tonumber(redis.call('HGET', k, 'version') or '1') + 1\n"                          \
    "  redis.call('HSET', k, 'state', 'withdrawn', 'status', status, 'rank', rank, 'version', "    \
    "v,\n"                                                                                         \
    "             'last_action', 'withdrawn', 'votes', '0', 'withdrawn_at', now, 'updated_at', "   \
    "now, 'error', why)\n"                                                                         \
    "  redis.call('ZREM', KEYS[2], k)\n"                                                           \
    "  redis.call('ZREM', KEYS[3], k)\n"                                                           \
    "  redis.call('EXPIRE', k, ttl)\n"                                                             \
    "  return v, table.concat(names, ',')\n"                                                       \
    "end\n"

/* Lua: index_put(index, deployment key) makes the deployment the one its (project id,
 * environment) shows in index, unless the index already holds a newer pipeline's. Field
 * "<project id> <environment>", value "<pipeline> <deployment key>": the console's
 * environments page reads one hash instead of searching the audit trail. */
#define INDEX_LUA                                                                                  \
    "local function index_put(idx, dkey)\n"                                                        \
    "  local f = redis.call('HMGET', dkey, 'project_id', 'environment', 'pipeline')\n"             \
    "  if not f[1] then return end\n"                                                              \
    "  local field = f[1] .. ' ' .. (f[2] or '')\n"                                                \
    "  local cur = redis.call('HGET', idx, field)\n"                                               \
    "  if cur and tonumber(string.match(cur, '^(%d+)')) > tonumber(f[3] or '0') then return end\n" \
    "  redis.call('HSET', idx, field, (f[3] or '0') .. ' ' .. dkey)\n"                             \
    "end\n"

/* KEYS: deploy, pending, notify, latest index. ARGV: state, now, expiry, status, builds, rank,
 * final ttl, then the decision's field/value pairs. The rules are tg_deploy_decide's
 * (deploy.h), checked in this order: an older event (lower rank, whenever it arrives), an
 * echo (the same builds, and the same status or the one Tollgate's own commit status makes
 * GitLab compute), the same status, then re-decision and withdrawal; anything else keeps the
 * deployment as it is. Every event that is not older raises the record to its run (rank,
 * builds, status), so what an event does depends on the newest run known, not on the order
 * the events came in. Every write makes the deployment its environment's latest (index_put). */
static const char decide_lua[] = WITHDRAW_LUA INDEX_LUA
    "local h = redis.call('HMGET', KEYS[1], 'state', 'status', 'builds', 'rank', 'version', "
    "'verdict',\n"
    "                     'last_action', 'redecided_from')\n"
    "local function write(state, action, version)\n"
    "  redis.call('HSET', KEYS[1], 'state', state, 'updated_at', ARGV[2], 'status', ARGV[4], "
    "'builds', ARGV[5],\n"
    "             'rank', ARGV[6], 'version', version, 'last_action', action, unpack(ARGV, 8))\n"
    "  if state == 'pending_approval' then redis.call('ZADD', KEYS[2], ARGV[3], KEYS[1]) end\n"
    "  index_put(KEYS[4], KEYS[1])\n"
    "end\n"
    "if not h[1] then\n"
    "  redis.call('HSET', KEYS[1], 'created_at', ARGV[2])\n"
    "  write(ARGV[1], 'decided', 1)\n"
    "  return {'created', ARGV[1], '1', 'decided', ''}\n"
    "end\n"
    "local v = tonumber(h[5] or '1')\n"
    "if tonumber(ARGV[6]) < tonumber(h[4] or '0') then return {'kept', h[1], tostring(v), 'stale'} "
    "end\n"
    /* what GitLab computes from the same jobs plus Tollgate's own status: failed for blocked
     * and failed ones; success for a request withdrawn because it was canceled (the skipped
     * status posted on withdrawal passes again) */
    "local own = (h[1] == 'blocked' or h[1] == 'failed' or h[1] == 'unknown') and 'failed'\n"
    "            or (h[1] == 'withdrawn' and h[2] == 'canceled') and 'success' or nil\n"
    "if h[3] == ARGV[5] and (h[2] == ARGV[4] or own == ARGV[4]) then\n"
    "  return {'echo', h[1], tostring(v), h[7] or 'decided', h[8] or ''}\n"
    "end\n"
    "local function raise()\n"
    "  redis.call('HSET', KEYS[1], 'status', ARGV[4], 'builds', ARGV[5], 'rank', ARGV[6])\n"
    "end\n"
    "if h[2] == ARGV[4] then raise() return {'kept', h[1], tostring(v), 'same_status'} end\n"
    "local red = h[2] == 'failed' or h[2] == 'canceled' or h[2] == 'manual'\n"
    "local redo = h[1] == 'skipped' or h[1] == 'blocked' or h[1] == 'withdrawn'\n"
    "if redo and red and ARGV[4] == 'success' then\n"
    "  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do\n"
    "    if f == 'approval_id' or f == 'error' or string.sub(f, 1, 7) == 'posted:' then "
    "redis.call('HDEL', KEYS[1], f) end\n"
    "  end\n"
    "  redis.call('PERSIST', KEYS[1])\n"
    "  redis.call('HSET', KEYS[1], 'redecided_from', h[6] or '', 'redecided_at', ARGV[2], "
    "'notify_attempts', '0')\n"
    "  write(ARGV[1], 'redecided', v + 1)\n"
    "  return {'redecided', ARGV[1], tostring(v + 1), 'redecided', h[6] or ''}\n"
    "end\n"
    "if h[1] == 'pending_approval' and (ARGV[4] == 'failed' or ARGV[4] == 'canceled') then\n"
    "  redis.call('HSET', KEYS[1], 'builds', ARGV[5])\n"
    "  local nv, names = withdraw(KEYS[1], ARGV[4], ARGV[6], ARGV[2], ARGV[7],\n"
    "                             'the pipeline turned ' .. ARGV[4] .. ' while waiting for "
    "approval')\n"
    "  return {'withdrawn', 'withdrawn', tostring(nv), 'withdrawn', names}\n"
    "end\n"
    "local acted = {approved = 1, decided = 1, triggering = 1, sending = 1, reconciling = 1, "
    "retry_wait = 1,\n"
    "               triggered = 1, unknown = 1, failed = 1}\n"
    "if acted[h[1]] then\n" /* final: status and builds stay those it was decided on */
    "  redis.call('HSET', KEYS[1], 'rank', ARGV[6])\n"
    "  return {'kept', h[1], tostring(v), 'acted'}\n"
    "end\n"
    "raise()\n"
    "return {'kept', h[1], tostring(v), 'not_redecidable'}\n";

/* KEYS: (unused), pending, notify. ARGV: deployment key prefix of the pipeline, now, job id,
 * job status, final ttl. A job of a newer run than the decided hook's (higher id) that failed
 * withdraws every pending approval of its pipeline. Returns {key, version, voided, ...}. */
static const char job_lua[] = WITHDRAW_LUA
    "local out = {}\n"
    "for _, k in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do\n"
    "  if string.sub(k, 1, #ARGV[1]) == ARGV[1] then\n"
    "    local h = redis.call('HMGET', k, 'state', 'rank')\n"
    "    if h[1] == 'pending_approval' and tonumber(ARGV[3]) > tonumber(h[2] or '0') then\n"
    "      local v, names = withdraw(k, ARGV[4], ARGV[3], ARGV[2], ARGV[5],\n"
    "                                'job ' .. ARGV[3] .. ' ' .. ARGV[4] .. ' while waiting for "
    "approval')\n"
    "      table.insert(out, k)\n"
    "      table.insert(out, tostring(v))\n"
    "      table.insert(out, names)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";

/* KEYS: deploy, inflight, retry, latest, outbox, outbox data. ARGV: owner, now, lease_until,
 * effect due. A claim whose lease expired before it reached sending sent nothing, so it is
 * simply taken again. Superseding writes its record and status through the outbox. */
static const char claim_lua[] = TG_OUTBOX_LUA
    "local h = redis.call('HMGET', KEYS[1], 'state', 'lease_until', 'pipeline', 'attempts')\n"
    "local state = h[1]\n"
    "if not state then return {'done', 'missing'} end\n"
    "if state == 'sending' or state == 'reconciling' then\n"
    "  redis.call('ZREM', KEYS[3], KEYS[1])\n" /* its own schedule drives it, never the retry one */
    "  return {'busy'}\n"
    "end\n"
    "if state == 'triggering' then\n"
    "  if tonumber(h[2] or '0') >= tonumber(ARGV[2]) then return {'busy'} end\n"
    "elseif state ~= 'decided' and state ~= 'retry_wait' and state ~= 'approved' then return "
    "{'done', state} end\n"
    "local latest = tonumber(redis.call('GET', KEYS[4]) or '0')\n"
    "local pipeline = tonumber(h[3])\n"
    "if latest > pipeline then\n"
    "  local why = 'superseded by pipeline ' .. latest\n"
    "  redis.call('HSET', KEYS[1], 'state', 'superseded', 'updated_at', ARGV[2], 'error', why)\n"
    "  redis.call('ZREM', KEYS[3], KEYS[1])\n"
    "  redis.call('ZREM', KEYS[2], KEYS[1])\n"
    "  local effect = cjson.encode({key = KEYS[1], status = {state = 'canceled', description = "
    "why},\n"
    "    audit = {action = 'superseded', reasons = {why}, details = {newer_pipeline = "
    "tostring(latest)}}})\n"
    "  return {'superseded', tostring(latest), outbox_put(KEYS[5], KEYS[6], KEYS[1], effect, "
    "ARGV[4])}\n"
    "end\n"
    "redis.call('SET', KEYS[4], h[3])\n"
    "local attempts = tonumber(h[4] or '0') + 1\n"
    "redis.call('HSET', KEYS[1], 'state', 'triggering', 'owner', ARGV[1], 'lease_until', ARGV[3],\n"
    "           'attempts', attempts, 'updated_at', ARGV[2])\n"
    "redis.call('ZADD', KEYS[2], ARGV[3], KEYS[1])\n"
    "redis.call('ZREM', KEYS[3], KEYS[1])\n"
    "return {'go', tostring(attempts)}\n";

/* KEYS: deploy, inflight. ARGV: owner, now, lease_until. Written before the request leaves:
 * from here on, only GitLab can say whether a pipeline exists. */
static const char sending_lua[] =
    "local h = redis.call('HMGET', KEYS[1], 'state', 'owner', 'first_sent_at')\n"
    "if h[1] ~= 'triggering' or h[2] ~= ARGV[1] then return {'lost', h[1] or ''} end\n"
    "redis.call('HSET', KEYS[1], 'state', 'sending', 'sent_at', ARGV[2], 'lease_until', ARGV[3],\n"
    "           'first_sent_at', h[3] or ARGV[2], 'updated_at', ARGV[2])\n"
    "redis.call('ZADD', KEYS[2], ARGV[3], KEYS[1])\n"
    "return {'ok'}\n";

/* KEYS: deploy, inflight. ARGV: owner, now, now + the time the request may take. The last
 * word before the request leaves: a worker paused since mark_sending may have lost it. */
static const char confirm_lua[] =
    "local h = redis.call('HMGET', KEYS[1], 'state', 'owner', 'lease_until')\n"
    "if h[1] ~= 'sending' or h[2] ~= ARGV[1] then return {'lost', h[1] or ''} end\n"
    "if tonumber(h[3] or '0') < tonumber(ARGV[3]) then return {'short', h[3] or ''} end\n"
    "return {'ok'}\n";

/* KEYS: deploy, outbox, outbox data. ARGV: our pipeline id, effect due, effect JSON with
 * '@@OTHER@@' for the recorded pipeline's id. A 201 whose finish was lost: a duplicate exactly
 * when the deployment was recorded triggered with another pipeline. */
static const char duplicate_lua[] = TG_OUTBOX_LUA
    "local h = redis.call('HMGET', KEYS[1], 'state', 'downstream_id')\n"
    "if h[1] ~= 'triggered' then return {'pending', h[1] or 'missing'} end\n"
    "if h[2] == ARGV[1] then return {'same'} end\n"
    "local other = h[2] or '0'\n"
    "local effect = string.gsub(string.gsub(ARGV[3], '\"@@OTHER@@\"', other), '@@OTHER@@', other)\n"
    "return {'duplicate', other, outbox_put(KEYS[2], KEYS[3], KEYS[1], effect, ARGV[2])}\n";

/* KEYS: deploy, inflight, retry, reconcile, outbox, outbox data, live index. ARGV: owner, now,
 * outcome,
 * a, b, final ttl, effect, effect due, settle_until, reconcile checks, reconcile scanned id
 * (reconcile.c's progress over the listing). The state change and
 * its effect are one script: neither exists without the other. Only the owner (the sender,
 * or the worker that took the reconciliation) records; a real 201 also resolves unknown. */
static const char finish_lua[] = TG_OUTBOX_LUA INDEX_LUA
    "local h = redis.call('HMGET', KEYS[1], 'state', 'owner')\n"
    "local s = h[1]\n"
    "local live = s == 'triggering' or s == 'sending' or s == 'reconciling'\n"
    "if h[2] ~= ARGV[1] or not (live or (s == 'unknown' and ARGV[3] == 'triggered')) then\n"
    "  return {'lost', s or ''}\n"
    "end\n"
    "redis.call('ZREM', KEYS[2], KEYS[1])\n"
    "redis.call('ZREM', KEYS[4], KEYS[1])\n"
    "if ARGV[3] == 'triggered' then\n"
    "  redis.call('HSET', KEYS[1], 'state', 'triggered', 'downstream_id', ARGV[4], "
    "'downstream_url', ARGV[5],\n"
    "             'updated_at', ARGV[2])\n"
    "  redis.call('EXPIRE', KEYS[1], ARGV[6])\n"
    "  index_put(KEYS[7], KEYS[1])\n"
    "elseif ARGV[3] == 'retry' then\n"
    "  redis.call('HSET', KEYS[1], 'state', 'retry_wait', 'next_at', ARGV[4], 'error', ARGV[5], "
    "'updated_at', ARGV[2])\n"
    "  redis.call('ZADD', KEYS[3], ARGV[4], KEYS[1])\n"
    "elseif ARGV[3] == 'reconcile' then\n"
    "  redis.call('HSET', KEYS[1], 'state', 'reconciling', 'lease_until', ARGV[4], 'error', "
    "ARGV[5],\n"
    "             'settle_until', ARGV[9], 'reconcile_checks', ARGV[10], 'updated_at', ARGV[2])\n"
    "  if ARGV[11] ~= '0' then redis.call('HSET', KEYS[1], 'reconcile_scanned', ARGV[11]) end\n"
    "  redis.call('ZADD', KEYS[4], ARGV[4], KEYS[1])\n"
    "elseif ARGV[3] == 'unknown' then\n"
    "  redis.call('HSET', KEYS[1], 'state', 'unknown', 'error', ARGV[5], 'reconcile_checks', "
    "ARGV[10],\n"
    "             'updated_at', ARGV[2])\n"
    "else\n"
    "  redis.call('HSET', KEYS[1], 'state', 'failed', 'error', ARGV[5], 'updated_at', ARGV[2])\n"
    "  redis.call('EXPIRE', KEYS[1], ARGV[6])\n"
    "end\n"
    "return {'ok', outbox_put(KEYS[5], KEYS[6], KEYS[1], ARGV[7], ARGV[8])}\n";

/* KEYS: inflight, retry, reconcile, outbox, outbox data. ARGV: now, trigger timeout + settle,
 * effect due. Deployment keys are read from the zset (one primary, no cluster). A claim that
 * never reached sending is due again at once; a send without a recorded answer is
 * reconciled with GitLab. */
static const char sweep_lua[] = TG_OUTBOX_LUA
    "local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 16)\n"
    "local out = {}\n"
    "for _, k in ipairs(keys) do\n"
    "  redis.call('ZREM', KEYS[1], k)\n"
    "  local h = redis.call('HMGET', k, 'state', 'lease_until', 'sent_at', 'attempts')\n"
    "  if tonumber(h[2] or '0') < tonumber(ARGV[1]) then\n"
    "    if h[1] == 'triggering' then\n"
    "      redis.call('HSET', k, 'state', 'retry_wait', 'next_at', ARGV[1], 'updated_at', "
    "ARGV[1],\n"
    "                 'error', 'the worker stopped before sending; sent again')\n"
    "      redis.call('ZADD', KEYS[2], ARGV[1], k)\n"
    "      table.insert(out, k) table.insert(out, 'retry_wait') table.insert(out, '')\n"
    "    elseif h[1] == 'sending' then\n"
    "      local why = 'the worker stopped after sending attempt ' .. (h[4] or '?') .. '; asking "
    "GitLab'\n"
    "      redis.call('HSET', k, 'state', 'reconciling', 'lease_until', ARGV[1], "
    "'reconcile_checks', '0',\n"
    "                 'settle_until', tostring(tonumber(h[3] or ARGV[1]) + tonumber(ARGV[2])),\n"
    "                 'error', why, 'updated_at', ARGV[1])\n"
    "      redis.call('ZADD', KEYS[3], ARGV[1], k)\n"
    "      local effect = cjson.encode({key = k, audit = {action = 'reconciling', reasons = "
    "{why}}})\n"
    "      table.insert(out, k) table.insert(out, 'reconciling')\n"
    "      table.insert(out, outbox_put(KEYS[4], KEYS[5], k, effect, ARGV[3]))\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";

/* KEYS: deploy, reconcile. ARGV: owner, now, lease_until. One check of a reconciling
 * deployment, by one worker at a time; a checker that dies leaves it due at lease_until. */
static const char reconcile_claim_lua[] =
    "local h = redis.call('HMGET', KEYS[1], 'state', 'lease_until')\n"
    "if h[1] ~= 'reconciling' then redis.call('ZREM', KEYS[2], KEYS[1]) return {'done', h[1] or "
    "'missing'} end\n"
    "if tonumber(h[2] or '0') > tonumber(ARGV[2]) then\n"
    "  redis.call('ZADD', KEYS[2], h[2], KEYS[1])\n" /* not due after all (hosts' clocks differ) */
    "  return {'busy'}\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'lease_until', ARGV[3])\n"
    "redis.call('ZADD', KEYS[2], ARGV[3], KEYS[1])\n"
    "return {'go'}\n";

/* KEYS: deploy, retry, reconcile. ARGV: now. */
static const char retrigger_lua[] =
    "local s = redis.call('HGET', KEYS[1], 'state')\n"
    "if s ~= 'unknown' and s ~= 'failed' then return {'refused', s or 'missing'} end\n"
    "redis.call('HSET', KEYS[1], 'state', 'decided', 'owner', '', 'updated_at', ARGV[1], "
    "'retriggered_at', ARGV[1])\n"
    "redis.call('ZREM', KEYS[3], KEYS[1])\n"
    "redis.call('HDEL', KEYS[1], 'first_sent_at')\n" /* the operator judged the earlier sends */
    "redis.call('PERSIST', KEYS[1])\n"
    "redis.call('ZADD', KEYS[2], ARGV[1], KEYS[1])\n"
    "return {'ok', s}\n";

void tg_deploy_key(char *out, size_t outlen, const char *prefix, const struct tg_deploy_id *id)
{
    snprintf(out, outlen, "%sdeploy:%lld:%lld:%s", prefix, id->project_id, id->pipeline,
             id->environment ? id->environment : "");
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

redisReply *tg_deploy_eval(redisContext *c, const char *lua, int nkeys, const char *const *argv,
                           int argc)
{
    size_t lens[64];
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

const char *tg_deploy_word(const redisReply *r, size_t i)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements <= i ||
        r->element[i]->type != REDIS_REPLY_STRING)
        return NULL;
    return r->element[i]->str;
}

/* The decision's numbers and trigger variables as text, for its field/value pairs. */
struct decision_text {
    char pid[24], pipeline[24], user_id[24];
    char *vars; /* JSON object of the trigger variables (owned), or NULL */
};

/* The stored form of a request's variables: a JSON object of strings (deployment.c reads it). */
static char *vars_json(const struct tg_trigger_request *req)
{
    json_t *o = json_object();
    for (size_t i = 0; i < req->nvars; i++)
        json_object_set_new(o, req->var_names[i], json_string(req->var_values[i]));
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

/* The decision's field/value pairs into argv from index at; returns the new end. */
static int decision_fields(const char **argv, int at, const struct tg_deploy_new *d,
                           const struct decision_text *t)
{
    const struct tg_trigger_request *req = d->request;
    const char *pairs[] = {"project_id",    t->pid,
                           "project",       nz(d->project),
                           "pipeline",      t->pipeline,
                           "sha",           nz(d->sha),
                           "ref",           nz(d->ref),
                           "environment",   nz(d->environment),
                           "user",          nz(d->user),
                           "user_id",       t->user_id,
                           "verdict",       nz(d->verdict),
                           "rule",          nz(d->rule),
                           "reason",        nz(d->reason),
                           "decision",      nz(d->decision),
                           "policy_hash",   nz(d->policy_hash),
                           "template",      req ? nz(req->template_name) : "",
                           "chart_project", req ? nz(req->project) : "",
                           "chart_ref",     req ? nz(req->ref) : "",
                           "variables",     nz(t->vars),
                           "attempts",      "0"};
    for (size_t i = 0; i < TG_ARRAY_SIZE(pairs); i++)
        argv[at++] = pairs[i];
    return at;
}

static void copy_word(char *out, size_t outlen, const redisReply *r, size_t i)
{
    const char *w = tg_deploy_word(r, i);
    snprintf(out, outlen, "%s", w ? w : "");
}

static int decide_reply(const redisReply *r, struct tg_decide_result *out)
{
    static const char *const names[] = {[TG_DECIDE_CREATED] = "created",
                                        [TG_DECIDE_REDECIDED] = "redecided",
                                        [TG_DECIDE_WITHDRAWN] = "withdrawn",
                                        [TG_DECIDE_ECHO] = "echo",
                                        [TG_DECIDE_KEPT] = "kept"};
    const char *w = tg_deploy_word(r, 0);
    memset(out, 0, sizeof *out);
    for (size_t i = 0; w && i < TG_ARRAY_SIZE(names); i++)
        if (strcmp(w, names[i]) == 0) {
            out->outcome = (enum tg_decide_outcome)i;
            copy_word(out->state, sizeof out->state, r, 1);
            out->version = tg_deploy_word(r, 2) ? atoll(tg_deploy_word(r, 2)) : 0;
            copy_word(i == TG_DECIDE_KEPT ? out->why : out->action,
                      i == TG_DECIDE_KEPT ? sizeof out->why : sizeof out->action, r, 3);
            copy_word(i == TG_DECIDE_WITHDRAWN ? out->voided : out->earlier,
                      i == TG_DECIDE_WITHDRAWN ? sizeof out->voided : sizeof out->earlier, r, 4);
            return 0;
        }
    return -1;
}

int tg_deploy_decide(redisContext *c, const char *prefix, const struct tg_deploy_decision *in,
                     struct tg_decide_result *out)
{
    const struct tg_deploy_new *d = in->record;
    const struct tg_deploy_event *ev = in->event;
    struct tg_deploy_keys k;
    char now[24], expiry[24], rank[24];
    struct decision_text t = {.vars = d->request ? vars_json(d->request) : NULL};
    const char *argv[64];
    tg_deploy_keys_of(&k, prefix);
    snprintf(now, sizeof now, "%llu", (unsigned long long)tg_now_ms());
    snprintf(expiry, sizeof expiry, "%llu", (unsigned long long)d->pending_expiry_ms);
    snprintf(rank, sizeof rank, "%lld", ev->rank);
    snprintf(t.pid, sizeof t.pid, "%lld", d->project_id);
    snprintf(t.pipeline, sizeof t.pipeline, "%lld", d->pipeline);
    snprintf(t.user_id, sizeof t.user_id, "%lld", d->user_id);
    const char *head[] = {in->key,
                          k.pending,
                          k.notify,
                          k.latest,
                          d->state,
                          now,
                          expiry,
                          nz(ev->status),
                          nz(ev->builds),
                          rank,
                          TG_DEPLOY_FINAL_TTL_S};
    int argc = 0;
    for (size_t i = 0; i < TG_ARRAY_SIZE(head); i++)
        argv[argc++] = head[i];
    int from = argc;
    argc = decision_fields(argv, argc, d, &t);
    /* Pipeline users, refs, reasons and GitLab's texts are untrusted: stored scrubbed. Not the
     * trigger variables: they are sent as rendered, and a template must not put secrets there. */
    char *clean[64] = {0};
    for (int i = from + 1; i < argc; i += 2)
        if (strcmp(argv[i - 1], "variables") != 0 &&
            (clean[i] = tg_scrub(argv[i], strlen(argv[i]), NULL)) != NULL)
            argv[i] = clean[i];
    redisReply *r = tg_deploy_eval(c, decide_lua, 4, argv, argc);
    for (int i = from; i < argc; i++)
        free(clean[i]);
    free(t.vars);
    int rc = decide_reply(r, out);
    freeReplyObject(r);
    return rc;
}

int tg_deploy_job_failed(redisContext *c, const char *prefix, const struct tg_deploy_job_end *j)
{
    struct tg_deploy_keys k;
    struct tg_deploy_id pipeline = {j->project_id, j->pipeline, ""};
    char match[128], now[24], job[24];
    tg_deploy_keys_of(&k, prefix);
    tg_deploy_key(match, sizeof match, prefix, &pipeline); /* every environment's key starts so */
    snprintf(now, sizeof now, "%llu", (unsigned long long)tg_now_ms());
    snprintf(job, sizeof job, "%lld", j->job_id);
    const char *argv[] = {match, k.pending, k.notify,  match,
                          now,   job,       j->status, TG_DEPLOY_FINAL_TTL_S};
    redisReply *r = tg_deploy_eval(c, job_lua, 3, argv, (int)TG_ARRAY_SIZE(argv));
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    int n = 0;
    for (size_t i = 0; i + 2 < r->elements; i += 3, n++)
        if (tg_deploy_word(r, i) && tg_deploy_word(r, i + 1) && tg_deploy_word(r, i + 2))
            j->fn(j->arg, tg_deploy_word(r, i), atoll(tg_deploy_word(r, i + 1)),
                  tg_deploy_word(r, i + 2));
    freeReplyObject(r);
    return n;
}

int tg_deploy_is_current(redisContext *c, const char *key, long long version)
{
    redisReply *r = redisCommand(c, "HGET %s version", key);
    int rc = r == NULL || r->type == REDIS_REPLY_ERROR
                 ? -1
                 : r->type == REDIS_REPLY_STRING && atoll(r->str) == version;
    freeReplyObject(r);
    return rc;
}

static void latest_key(char *out, size_t outlen, const char *prefix, const struct tg_deployment *d)
{
    snprintf(out, outlen, "%slatest:%lld:%s:%s:%s:%s", prefix, d->project_id, nz(d->ref),
             nz(d->environment), nz(d->chart_project), nz(d->chart_ref));
}

void tg_deploy_keys_of(struct tg_deploy_keys *k, const char *prefix)
{
    snprintf(k->inflight, sizeof k->inflight, "%sinflight", prefix);
    snprintf(k->retry, sizeof k->retry, "%sretry", prefix);
    snprintf(k->reconcile, sizeof k->reconcile, "%sreconcile", prefix);
    snprintf(k->pending, sizeof k->pending, "%spending", prefix);
    snprintf(k->notify, sizeof k->notify, "%sapproval:notify", prefix);
    snprintf(k->latest, sizeof k->latest, "%sdeployments:latest", prefix);
    snprintf(k->live, sizeof k->live, "%sdeployments:live", prefix);
    tg_outbox_keys(prefix, k->outbox, k->outbox_data, sizeof k->outbox);
}

/* A script call: lua with argv[0 .. nkeys-1] as KEYS, the rest as ARGV. */
struct script {
    const char *lua;
    int nkeys;
    const char *const *argv;
    int argc;
};

/* Runs a {'ok'|'go'|..., ...} script; 0 when the first word is want, 1 otherwise, -1 failed. */
static int eval_word(redisContext *c, const struct script *s, const char *want, char *detail,
                     size_t detaillen)
{
    redisReply *r = tg_deploy_eval(c, s->lua, s->nkeys, s->argv, s->argc);
    const char *w = tg_deploy_word(r, 0), *d = tg_deploy_word(r, 1);
    if (detail)
        snprintf(detail, detaillen, "%s", d ? d : "");
    int rc = w == NULL ? -1 : strcmp(w, want) == 0 ? 0 : 1;
    freeReplyObject(r);
    return rc;
}

static void lease_args(char *now, char *until, size_t len, uint64_t lease_ms)
{
    uint64_t t = tg_now_ms();
    snprintf(now, len, "%llu", (unsigned long long)t);
    snprintf(until, len, "%llu", (unsigned long long)(t + lease_ms));
}

/* The claim script's answer as the claim's outcome. */
static enum tg_claim claim_outcome(const redisReply *r, struct tg_deploy_claim *q)
{
    static const char *const words[] = {[TG_CLAIM_GO] = "go",
                                        [TG_CLAIM_BUSY] = "busy",
                                        [TG_CLAIM_DONE] = "done",
                                        [TG_CLAIM_SUPERSEDED] = "superseded"};
    const char *w = tg_deploy_word(r, 0), *d = tg_deploy_word(r, 1);
    snprintf(q->detail, sizeof q->detail, "%s", d ? d : "");
    for (size_t i = 0; w && i < TG_ARRAY_SIZE(words); i++)
        if (strcmp(w, words[i]) == 0) {
            if (i == TG_CLAIM_GO)
                q->attempt = atoi(d ? d : "1");
            return (enum tg_claim)i;
        }
    return TG_CLAIM_ERROR;
}

enum tg_claim tg_deploy_claim(redisContext *c, const char *prefix, struct tg_deploy_claim *q)
{
    struct tg_deploy_keys k;
    char latest[1024], now[24], until[24], due[24];
    struct tg_deployment d;
    int found = tg_deployment_load(c, q->key, &d);
    if (found >= 0)
        latest_key(latest, sizeof latest, prefix, &d);
    tg_deployment_dispose(&d);
    if (found < 0)
        return TG_CLAIM_ERROR;
    tg_deploy_keys_of(&k, prefix);
    lease_args(now, until, sizeof now, q->lease_ms);
    snprintf(due, sizeof due, "%llu", (unsigned long long)(tg_now_ms() + TG_OUTBOX_GRACE_MS));
    const char *argv[] = {q->key,        k.inflight, k.retry, latest, k.outbox,
                          k.outbox_data, q->owner,   now,     until,  due};
    redisReply *r = tg_deploy_eval(c, claim_lua, 6, argv, 10);
    enum tg_claim res = claim_outcome(r, q);
    freeReplyObject(r);
    return res;
}

/* A script of KEYS deploy, zset and ARGV owner, now, now + lease_ms. */
struct leased {
    const char *lua, *key, *zset, *owner;
    uint64_t lease_ms;
};

static int run_leased(redisContext *c, const struct leased *l, const char *want)
{
    char now[24], until[24];
    lease_args(now, until, sizeof now, l->lease_ms);
    const char *argv[] = {l->key, l->zset, l->owner, now, until};
    struct script sc = {l->lua, 2, argv, 5};
    return eval_word(c, &sc, want, NULL, 0);
}

int tg_deploy_mark_sending(redisContext *c, const char *prefix, const char *key, const char *owner,
                           uint64_t lease_ms)
{
    struct tg_deploy_keys k;
    tg_deploy_keys_of(&k, prefix);
    struct leased l = {sending_lua, key, k.inflight, owner, lease_ms};
    return run_leased(c, &l, "ok");
}

int tg_deploy_confirm_sending(redisContext *c, const char *prefix, const char *key,
                              const char *owner, uint64_t need_ms)
{
    struct tg_deploy_keys k;
    tg_deploy_keys_of(&k, prefix);
    struct leased l = {confirm_lua, key, k.inflight, owner, need_ms};
    return run_leased(c, &l, "ok");
}

int tg_deploy_duplicate(redisContext *c, const char *prefix, struct tg_deploy_late *l)
{
    struct tg_deploy_keys k;
    char id[24], due[24];
    tg_deploy_keys_of(&k, prefix);
    snprintf(id, sizeof id, "%lld", l->ours);
    snprintf(due, sizeof due, "%llu", (unsigned long long)(tg_now_ms() + TG_OUTBOX_GRACE_MS));
    const char *argv[] = {l->key, k.outbox, k.outbox_data, id, due, l->effect};
    redisReply *r = tg_deploy_eval(c, duplicate_lua, 3, argv, 6);
    const char *w = tg_deploy_word(r, 0);
    int rc = w == NULL ? -1 : strcmp(w, "duplicate") == 0 ? 0 : strcmp(w, "same") == 0 ? 2 : 1;
    l->other = rc == 0 ? strtoll(tg_deploy_word(r, 1), NULL, 10) : 0;
    snprintf(l->effect_id, sizeof l->effect_id, "%s",
             rc == 0 && tg_deploy_word(r, 2) ? tg_deploy_word(r, 2) : "");
    freeReplyObject(r);
    return rc;
}

int tg_deploy_finish(redisContext *c, const char *prefix, const struct tg_deploy_finish *f,
                     char *effect_id, size_t idlen)
{
    static const char *const outcomes[] = {"triggered", "retry", "failed", "reconcile", "unknown"};
    const struct tg_deploy_result *r = f->result;
    struct tg_deploy_keys k;
    char now[24], due[24], a[24], settle[24], checks[16], scanned[24];
    uint64_t t = tg_now_ms();
    snprintf(scanned, sizeof scanned, "%lld", r->scanned_id);
    tg_deploy_keys_of(&k, prefix);
    snprintf(now, sizeof now, "%llu", (unsigned long long)t);
    snprintf(due, sizeof due, "%llu", (unsigned long long)(t + TG_OUTBOX_GRACE_MS));
    snprintf(settle, sizeof settle, "%llu", (unsigned long long)r->settle_until_ms);
    snprintf(checks, sizeof checks, "%d", r->checks);
    const char *arg_b = r->error ? r->error : "";
    if (r->outcome == TG_OUTCOME_TRIGGERED) {
        snprintf(a, sizeof a, "%lld", r->downstream_id);
        arg_b = r->downstream_url ? r->downstream_url : "";
    } else {
        snprintf(a, sizeof a, "%llu", (unsigned long long)r->next_at_ms);
    }
    const char *argv[] = {f->key,
                          k.inflight,
                          k.retry,
                          k.reconcile,
                          k.outbox,
                          k.outbox_data,
                          k.live,
                          f->owner,
                          now,
                          outcomes[r->outcome],
                          a,
                          arg_b,
                          TG_DEPLOY_FINAL_TTL_S,
                          r->effect ? r->effect : "",
                          due,
                          settle,
                          checks,
                          scanned};
    struct script sc = {finish_lua, 7, argv, (int)TG_ARRAY_SIZE(argv)};
    return eval_word(c, &sc, "ok", effect_id, idlen);
}

int tg_deploy_sweep(redisContext *c, const char *prefix, uint64_t settle_ms, tg_deploy_swept_fn fn,
                    void *arg)
{
    struct tg_deploy_keys k;
    char now[24], settle[24], due[24];
    uint64_t t = tg_now_ms();
    tg_deploy_keys_of(&k, prefix);
    snprintf(now, sizeof now, "%llu", (unsigned long long)t);
    snprintf(settle, sizeof settle, "%llu", (unsigned long long)settle_ms);
    snprintf(due, sizeof due, "%llu", (unsigned long long)(t + TG_OUTBOX_GRACE_MS));
    const char *argv[] = {k.inflight,    k.retry, k.reconcile, k.outbox,
                          k.outbox_data, now,     settle,      due};
    redisReply *r = tg_deploy_eval(c, sweep_lua, 5, argv, 8);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    int n = (int)r->elements / 3;
    for (size_t i = 0; i + 2 < r->elements; i += 3)
        fn(arg, tg_deploy_word(r, i), tg_deploy_word(r, i + 1), tg_deploy_word(r, i + 2));
    freeReplyObject(r);
    return n;
}

int tg_deploy_reconcile_claim(redisContext *c, const char *prefix, const char *key,
                              const char *owner, uint64_t lease_ms)
{
    struct tg_deploy_keys k;
    tg_deploy_keys_of(&k, prefix);
    struct leased l = {reconcile_claim_lua, key, k.reconcile, owner, lease_ms};
    int rc = run_leased(c, &l, "go");
    return rc < 0 ? -1 : rc == 0;
}

/* The first member of zset due by now into key: 1, 0 when none, -1. */
static int first_due(redisContext *c, const char *zset, char *key, size_t keylen)
{
    redisReply *r = redisCommand(c, "ZRANGEBYSCORE %s -inf %llu LIMIT 0 1", zset,
                                 (unsigned long long)tg_now_ms());
    int rc = -1;
    if (r && r->type == REDIS_REPLY_ARRAY) {
        rc = r->elements > 0 && r->element[0]->type == REDIS_REPLY_STRING;
        if (rc)
            snprintf(key, keylen, "%s", r->element[0]->str);
    }
    freeReplyObject(r);
    return rc;
}

int tg_deploy_next_reconcile(redisContext *c, const char *prefix, char *key, size_t keylen)
{
    struct tg_deploy_keys k;
    tg_deploy_keys_of(&k, prefix);
    return first_due(c, k.reconcile, key, keylen);
}

int tg_deploy_next_due(redisContext *c, const char *prefix, char *key, size_t keylen)
{
    struct tg_deploy_keys k;
    tg_deploy_keys_of(&k, prefix);
    return first_due(c, k.retry, key, keylen);
}

int tg_deploy_retrigger(redisContext *c, const char *prefix, const char *key, char *detail,
                        size_t detaillen)
{
    struct tg_deploy_keys k;
    char now[24];
    tg_deploy_keys_of(&k, prefix);
    snprintf(now, sizeof now, "%llu", (unsigned long long)tg_now_ms());
    const char *argv[] = {key, k.retry, k.reconcile, now};
    redisReply *r = tg_deploy_eval(c, retrigger_lua, 3, argv, 4);
    const char *w = tg_deploy_word(r, 0), *d = tg_deploy_word(r, 1);
    snprintf(detail, detaillen, "%s", d ? d : c->errstr);
    int rc = w && strcmp(w, "ok") == 0 ? 0 : -1;
    freeReplyObject(r);
    return rc;
}
