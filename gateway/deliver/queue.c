/* queue.c -- the durable event queue in Redis (layout drawn in queue.h). */
#include "deliver/queue.h"
#include "audit/audit_keys.h"
#include "base/crypto.h"
#include "base/redisconn.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEAD_MAXLEN "100000"

const char *const tg_queue_field_names[TG_QF_COUNT] = {
    "event",    "webhook",     "idempotency_key", "webhook_uuid", "event_uuid",
    "instance", "received_at", "remote",          "body",
};

const char tg_queue_enqueue_lua[] =
    "local f = {}\n"
    "for i = 3, #ARGV - 1, 2 do f[ARGV[i]] = ARGV[i + 1] end\n"
    "local id = redis.call('GET', KEYS[1])\n"
    "if id then\n"
    "  redis.call('XADD', KEYS[3], 'MAXLEN', '~', '100000', '*', 'action', 'duplicate', "
    "'details',\n"
    "    cjson.encode({idempotency_key = f.idempotency_key, webhook = f.webhook, event = f.event,\n"
    "                  remote = f.remote, first_id = id, received_at = f.received_at}))\n"
    "  return {1, id}\n"
    "end\n"
    "id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))\n"
    "redis.call('SET', KEYS[1], id, 'PX', ARGV[1])\n"
    "return {0, id}\n";

void tg_queue_key(char *out, size_t outlen, const char *prefix, enum tg_queue_key k)
{
    static const char *const names[] = {[TG_QK_EVENTS] = "events",
                                        [TG_QK_GROUP] = "workers",
                                        [TG_QK_ERRORS] = "errors",
                                        [TG_QK_DEAD] = "dead"};
    snprintf(out, outlen, "%s%s", prefix, names[k]);
}

/* The keys every consumer command names. */
struct keys {
    char events[128], group[128], errors[128], dead[128];
};

static void keys_of(struct keys *k, const char *prefix)
{
    tg_queue_key(k->events, sizeof k->events, prefix, TG_QK_EVENTS);
    tg_queue_key(k->group, sizeof k->group, prefix, TG_QK_GROUP);
    tg_queue_key(k->errors, sizeof k->errors, prefix, TG_QK_ERRORS);
    tg_queue_key(k->dead, sizeof k->dead, prefix, TG_QK_DEAD);
}

int tg_queue_pairs(const char **argv, size_t *lens, const char *const *field, const size_t *len)
{
    for (int i = 0; i < TG_QF_COUNT; i++) {
        argv[2 * i] = tg_queue_field_names[i];
        lens[2 * i] = strlen(tg_queue_field_names[i]);
        argv[2 * i + 1] = field[i] ? field[i] : "";
        lens[2 * i + 1] = field[i] ? len[i] : 0;
    }
    return 2 * TG_QF_COUNT;
}

void tg_queue_entry_dispose(struct tg_queue_entry *e)
{
    freeReplyObject(e->reply);
    memset(e, 0, sizeof *e);
}

int tg_queue_ensure_group(redisContext *c, const char *prefix)
{
    struct keys k;
    keys_of(&k, prefix);
    redisReply *r = redisCommand(c, "XGROUP CREATE %s %s 0 MKSTREAM", k.events, k.group);
    int ok = r && (r->type == REDIS_REPLY_STATUS ||
                   (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) == 0));
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* [id, [field, value, ...]] -> e (fields borrowed from the reply, which e does not own). */
static int parse_entry(const redisReply *item, struct tg_queue_entry *e)
{
    if (item->type != REDIS_REPLY_ARRAY || item->elements != 2 ||
        item->element[0]->type != REDIS_REPLY_STRING)
        return -1;
    snprintf(e->id, sizeof e->id, "%s", item->element[0]->str);
    for (int i = 0; i < TG_QF_COUNT; i++) {
        e->field[i] = "";
        e->len[i] = 0;
    }
    const redisReply *kv = item->element[1];
    for (size_t i = 0; kv->type == REDIS_REPLY_ARRAY && i + 1 < kv->elements; i += 2) {
        for (int f = 0; f < TG_QF_COUNT; f++) {
            if (strcmp(kv->element[i]->str, tg_queue_field_names[f]) == 0) {
                e->field[f] = kv->element[i + 1]->str;
                e->len[f] = kv->element[i + 1]->len;
            }
        }
    }
    return 0;
}

int tg_queue_read(redisContext *c, const char *prefix, const char *consumer, int block_ms,
                  struct tg_queue_entry *out)
{
    struct keys k;
    keys_of(&k, prefix);
    redisReply *r = redisCommand(c, "XREADGROUP GROUP %s %s COUNT 1 BLOCK %d STREAMS %s >", k.group,
                                 consumer, block_ms, k.events);
    memset(out, 0, sizeof *out);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        return -1;
    }
    /* [[stream, [[id, fields]]]] or nil */
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0 || r->element[0]->elements != 2 ||
        r->element[0]->element[1]->elements == 0) {
        freeReplyObject(r);
        return 0;
    }
    if (parse_entry(r->element[0]->element[1]->element[0], out)) {
        freeReplyObject(r);
        return -1;
    }
    out->reply = r;
    out->deliveries = 1;
    return 1;
}

static long long delivery_count(redisContext *c, const char *prefix, const char *id)
{
    struct keys k;
    keys_of(&k, prefix);
    redisReply *r = redisCommand(c, "XPENDING %s %s %s %s 1", k.events, k.group, id, id);
    long long n = 1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 4)
        n = r->element[0]->element[3]->integer;
    freeReplyObject(r);
    return n;
}

int tg_queue_claim(redisContext *c, const char *prefix, const struct tg_queue_claim *q,
                   struct tg_queue_entry *out)
{
    struct keys k;
    keys_of(&k, prefix);
    redisReply *r = redisCommand(c, "XAUTOCLAIM %s %s %s %llu %s COUNT 1", k.events, k.group,
                                 q->consumer, (unsigned long long)q->min_idle_ms, q->cursor);
    memset(out, 0, sizeof *out);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return -1;
    }
    snprintf(q->cursor, 64, "%s", r->element[0]->str);
    if (r->element[1]->elements == 0 || parse_entry(r->element[1]->element[0], out)) {
        freeReplyObject(r);
        return 0;
    }
    out->reply = r;
    out->deliveries = delivery_count(c, prefix, out->id);
    return 1;
}

static int simple(redisReply *r)
{
    int ok = r && r->type != REDIS_REPLY_ERROR;
    freeReplyObject(r);
    return ok ? 0 : -1;
}

int tg_queue_ack(redisContext *c, const char *prefix, const char *id)
{
    struct keys k;
    keys_of(&k, prefix);
    if (simple(redisCommand(c, "XACK %s %s %s", k.events, k.group, id)))
        return -1;
    return simple(redisCommand(c, "HDEL %s %s", k.errors, id));
}

int tg_queue_note_failure(redisContext *c, const char *prefix, const char *id, const char *reason)
{
    struct keys k;
    keys_of(&k, prefix);
    return simple(redisCommand(c, "HSET %s %s %s", k.errors, id, reason));
}

void tg_queue_last_failure(redisContext *c, const char *prefix, const char *id, char *out,
                           size_t outlen)
{
    struct keys k;
    keys_of(&k, prefix);
    redisReply *r = redisCommand(c, "HGET %s %s", k.errors, id);
    snprintf(out, outlen, "%s", r && r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
}

int tg_queue_dead_letter(redisContext *c, const char *prefix, const struct tg_queue_entry *e,
                         const char *reason)
{
    struct keys k;
    char deliveries[24];
    const char *argv[12 + 2 * TG_QF_COUNT];
    size_t lens[12 + 2 * TG_QF_COUNT];
    keys_of(&k, prefix);
    snprintf(deliveries, sizeof deliveries, "%lld", e->deliveries);
    const char *head[] = {"XADD",   k.dead, "MAXLEN",     "~",        DEAD_MAXLEN,   "*",
                          "reason", reason, "deliveries", deliveries, "original_id", e->id};
    for (size_t i = 0; i < TG_ARRAY_SIZE(head); i++) {
        argv[i] = head[i];
        lens[i] = strlen(head[i]);
    }
    int n = (int)TG_ARRAY_SIZE(head);
    n += tg_queue_pairs(argv + n, lens + n, e->field, e->len);
    if (simple(redisCommandArgv(c, n, argv, lens)))
        return -1;
    return tg_queue_ack(c, prefix, e->id);
}

/* ---- dead letters ---- */

int tg_queue_dead_list(redisContext *c, const char *prefix, tg_queue_dead_fn fn, void *arg)
{
    struct keys k;
    keys_of(&k, prefix);
    redisReply *r = redisCommand(c, "XRANGE %s - +", k.dead);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i], *kv = e->element[1];
        const char *pairs[2 * (3 + TG_QF_COUNT)];
        size_t n = 0;
        for (size_t j = 0; j < kv->elements && n < TG_ARRAY_SIZE(pairs); j++)
            pairs[n++] = kv->element[j]->str;
        fn(arg, e->element[0]->str, pairs, n);
    }
    int n = (int)r->elements;
    freeReplyObject(r);
    return n;
}

/* Dead entry id ([[id, [field, value, ...]]], caller frees), NULL when absent; *failed says
 * whether Redis failed. */
static redisReply *dead_entry(redisContext *c, const struct keys *k, const char *id, int *failed)
{
    redisReply *r = redisCommand(c, "XRANGE %s %s %s", k->dead, id, id);
    *failed = r == NULL || r->type != REDIS_REPLY_ARRAY;
    if (!*failed && r->elements == 1)
        return r;
    freeReplyObject(r);
    return NULL;
}

int tg_queue_dead_exists(redisContext *c, const char *prefix, const char *id)
{
    struct keys k;
    int failed;
    keys_of(&k, prefix);
    redisReply *r = dead_entry(c, &k, id, &failed);
    freeReplyObject(r);
    return failed ? -1 : r != NULL;
}

int tg_queue_dead_requeue(redisContext *c, const char *prefix, const char *id, char *new_id,
                          size_t idlen)
{
    struct keys k;
    int failed;
    const char *field[TG_QF_COUNT] = {0}, *argv[3 + 2 * TG_QF_COUNT] = {"XADD", NULL, "*"};
    size_t len[TG_QF_COUNT] = {0}, lens[3 + 2 * TG_QF_COUNT] = {4, 0, 1};
    keys_of(&k, prefix);
    redisReply *r = dead_entry(c, &k, id, &failed);
    if (r == NULL)
        return failed ? -1 : 0;
    const redisReply *kv = r->element[0]->element[1];
    for (size_t i = 0; i + 1 < kv->elements; i += 2)
        for (int f = 0; f < TG_QF_COUNT; f++)
            if (strcmp(kv->element[i]->str, tg_queue_field_names[f]) == 0) {
                field[f] = kv->element[i + 1]->str;
                len[f] = kv->element[i + 1]->len;
            }
    argv[1] = k.events;
    lens[1] = strlen(k.events);
    int n = 3 + tg_queue_pairs(argv + 3, lens + 3, field, len);
    redisReply *add = redisCommandArgv(c, n, argv, lens);
    int rc = add && add->type == REDIS_REPLY_STRING ? 1 : -1;
    snprintf(new_id, idlen, "%s", rc == 1 ? add->str : "");
    freeReplyObject(add);
    freeReplyObject(r);
    if (rc == 1)
        freeReplyObject(redisCommand(c, "XDEL %s %s", k.dead, id));
    return rc;
}

int tg_queue_dead_drop(redisContext *c, const char *prefix, const char *id)
{
    struct keys k;
    keys_of(&k, prefix);
    return simple(redisCommand(c, "XDEL %s %s", k.dead, id));
}

/* ---- enqueue ---- */

void tg_queue_enqueue_args(struct tg_queue_enqueue *e, const char *prefix,
                           const struct tg_queue_push *p)
{
    const char *idem = p->field[TG_QF_IDEMPOTENCY_KEY] ? p->field[TG_QF_IDEMPOTENCY_KEY] : "";
    size_t idemlen = p->field[TG_QF_IDEMPOTENCY_KEY] ? p->len[TG_QF_IDEMPOTENCY_KEY] : 0;
    if (p->outside_key) { /* a key name shows no caller's text */
        char hash[TG_SHA256_HEX_LEN + 1];
        tg_sha256_hex(idem, idemlen, hash);
        snprintf(e->seen, sizeof e->seen, "%sseen~h:%s", prefix, hash);
    } else {
        snprintf(e->seen, sizeof e->seen, "%sseen:%.*s", prefix, (int)idemlen, idem);
    }
    tg_queue_key(e->events, sizeof e->events, prefix, TG_QK_EVENTS);
    tg_audit_key(e->inbox, sizeof e->inbox, prefix, TG_AK_INBOX);
    snprintf(e->ttl, sizeof e->ttl, "%llu", (unsigned long long)p->dedupe_ttl_ms);
    snprintf(e->maxlen, sizeof e->maxlen, "%llu", (unsigned long long)p->maxlen);
    const char *fixed[] = {e->seen, e->events, e->inbox, e->ttl, e->maxlen};
    for (int i = 0; i < 5; i++) {
        e->argv[i] = fixed[i];
        e->len[i] = strlen(fixed[i]);
    }
    tg_queue_pairs(e->argv + 5, e->len + 5, p->field, p->len);
}

int tg_queue_push(redisContext *c, const char *prefix, const struct tg_queue_push *p)
{
    struct tg_queue_enqueue e;
    tg_queue_enqueue_args(&e, prefix, p);
    redisReply *r = tg_redis_eval(c, &(struct tg_redis_script_call){.source = tg_queue_enqueue_lua,
                                                                    .nkeys = TG_QUEUE_ENQUEUE_KEYS,
                                                                    .argc = TG_QUEUE_ENQUEUE_ARGC,
                                                                    .argv = e.argv,
                                                                    .argvlen = e.len});
    int rc = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_INTEGER)
        rc = r->element[0]->integer == 0;
    freeReplyObject(r);
    return rc;
}
