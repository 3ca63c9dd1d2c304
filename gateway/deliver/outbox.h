/* outbox.h -- the effects of a deployment's state change (its audit record, its commit
 * status), written by the same Redis script as the change and completed afterwards, so a
 * crash between the two loses none of them.
 *
 *   <prefix>outbox         zset: effect id -> when a sweeper may take it (ms)
 *   <prefix>outbox:data    hash: effect id -> effect JSON
 *   effect id              "<deployment key>#<n>", n counted by the deployment's "effects" field
 *   effect JSON            {"key": "<deployment key>",
 *                           "audit":  {"action": ..., "reasons": [...], "details": {...}},
 *                           "status": {"state": ..., "description": ...}}   (both optional)
 *
 *   state change + outbox_put --(same script)--> effect due in TG_OUTBOX_GRACE_MS
 *        |                                             |
 *   the worker that made the change            tg_outbox_sweep (any worker, once a second):
 *   completes it at once, then removes it      takes effects past due, leases them, completes
 *
 * The audit record is appended once under the effect id, so an effect completed twice (a
 * sweeper racing a slow worker) writes one record; a commit status posted twice says the
 * same thing twice. Worker threads only; this module owns both keys.
 */
#ifndef TG_OUTBOX_H
#define TG_OUTBOX_H

#include "deliver/workctx.h"

#include <jansson.h>

/* A worker completes its own effect well within this; a sweeper racing a slow one repeats
 * nothing but a status. */
#define TG_OUTBOX_GRACE_MS 5000

/* Lua, prepended to a script that changes a deployment: outbox_put(outbox key, data key,
 * deployment key, effect JSON, due ms) adds the effect and returns its id ('' when the effect
 * is ''). Its two keys come from tg_outbox_keys and must be among the script's KEYS. */
#define TG_OUTBOX_LUA                                                                              \
    "local function outbox_put(zkey, hkey, dkey, effect, due)\n"                                   \
    "  if effect == '' then return '' end\n"                                                       \
    "  local id = dkey .. '#' .. redis.call('HINCRBY', dkey, 'effects', 1)\n"                      \
    "  redis.call('HSET', hkey, id, effect)\n"                                                     \
    "  redis.call('ZADD', zkey, due, id)\n"                                                        \
    "  return id\n"                                                                                \
    "end\n"

/* The outbox's two key names (128 bytes each are enough for any prefix Tollgate accepts). */
void tg_outbox_keys(const char *prefix, char *zkey, char *hkey, size_t len);

/* One effect of a change. details is stolen by tg_outbox_effect. */
struct tg_outbox_effect {
    const char *key;                /* the deployment */
    const char *action;             /* audit action, or NULL: no audit record */
    const char *reason;             /* the record's reason, or NULL */
    json_t *details;                /* the record's details, or NULL */
    const char *status_state;       /* commit status to post, or NULL: none */
    const char *status_description; /* its description */
};
/* The effect's JSON (caller frees). */
char *tg_outbox_effect(const struct tg_outbox_effect *e);

/* Completes effect id (its JSON in effect): the audit record, then the commit status, then
 * removes it. Returns 0 done, 1 left for a later sweep (the audit append failed: the record
 * must follow the change whatever audit.fail_closed says), -1 Redis failed. */
int tg_outbox_complete(struct tg_work *w, const char *id, const char *effect);

/* The id of the newest effect of the deployment at key, from its record (read after the
 * change); "" when it has none. */
struct tg_deployment;
void tg_outbox_last_id(const char *key, const struct tg_deployment *d, char *out, size_t outlen);

/* Completes effect id as stored (nothing when it is already gone). Returns as above. */
int tg_outbox_complete_id(struct tg_work *w, const char *id);

/* Completes up to 16 effects past their due time, leasing each for TG_OUTBOX_GRACE_MS
 * first. Returns how many, or -1 when Redis failed. */
int tg_outbox_sweep(struct tg_work *w);

#endif
