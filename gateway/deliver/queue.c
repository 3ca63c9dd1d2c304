/* queue.c -- the durable event queue in Redis (layout drawn in queue.h). */
#include "deliver/queue.h"
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
    "local id = redis.call('GET', KEYS[1])\n"
    "if id then\n"
    "  redis.call('XADD', KEYS[3], 'MAXLEN', '~', '100000', '*', 'action', 'duplicate', "
    "'details',\n"
    "    cjson.encode({idempotency_key = ARGV[8], webhook = ARGV[6], event = ARGV[4], remote = "
    "ARGV[18],\n"
    "                  first_id = id, received_at = ARGV[16]}))\n"
    "  return {1, id}\n"
    "end\n"
    "id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))\n"
    "redis.call('SET', KEYS[1], id, 'PX', ARGV[1])\n"
    "return {0, id}\n";

void tg_queue_entry_dispose(struct tg_queue_entry *e)
{
    freeReplyObject(e->reply);
    memset(e, 0, sizeof *e);
}

int tg_queue_ensure_group(redisContext *c, const char *prefix)
{
    redisReply *r = redisCommand(c, "XGROUP CREATE %sevents %sworkers 0 MKSTREAM", prefix, prefix);
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
    for (int i = 0; i < TG_QF_COUNT; i++)
        e->field[i] = "", e->len[i] = 0;
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
    redisReply *r =
        redisCommand(c, "XREADGROUP GROUP %sworkers %s COUNT 1 BLOCK %d STREAMS %sevents >", prefix,
                     consumer, block_ms, prefix);
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
    redisReply *r = redisCommand(c, "XPENDING %sevents %sworkers %s %s 1", prefix, prefix, id, id);
    long long n = 1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 4)
        n = r->element[0]->element[3]->integer;
    freeReplyObject(r);
    return n;
}

int tg_queue_claim(redisContext *c, const char *prefix, const char *consumer, uint64_t min_idle_ms,
                   char *cursor, struct tg_queue_entry *out)
{
    redisReply *r = redisCommand(c, "XAUTOCLAIM %sevents %sworkers %s %llu %s COUNT 1", prefix,
                                 prefix, consumer, (unsigned long long)min_idle_ms, cursor);
    memset(out, 0, sizeof *out);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return -1;
    }
    snprintf(cursor, 64, "%s", r->element[0]->str);
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
    if (simple(redisCommand(c, "XACK %sevents %sworkers %s", prefix, prefix, id)))
        return -1;
    return simple(redisCommand(c, "HDEL %serrors %s", prefix, id));
}

int tg_queue_note_failure(redisContext *c, const char *prefix, const char *id, const char *reason)
{
    return simple(redisCommand(c, "HSET %serrors %s %s", prefix, id, reason));
}

void tg_queue_last_failure(redisContext *c, const char *prefix, const char *id, char *out,
                           size_t outlen)
{
    redisReply *r = redisCommand(c, "HGET %serrors %s", prefix, id);
    snprintf(out, outlen, "%s", r && r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
}

int tg_queue_dead_letter(redisContext *c, const char *prefix, const struct tg_queue_entry *e,
                         const char *reason)
{
    char key[128], deliveries[24];
    const char *argv[12 + 2 * TG_QF_COUNT];
    size_t lens[12 + 2 * TG_QF_COUNT];
    int n = 0;
    snprintf(key, sizeof key, "%sdead", prefix);
    snprintf(deliveries, sizeof deliveries, "%lld", e->deliveries);
    const char *head[] = {"XADD",   key,    "MAXLEN",     "~",        DEAD_MAXLEN,   "*",
                          "reason", reason, "deliveries", deliveries, "original_id", e->id};
    for (size_t i = 0; i < TG_ARRAY_SIZE(head); i++)
        argv[n] = head[i], lens[n++] = strlen(head[i]);
    for (int f = 0; f < TG_QF_COUNT; f++) {
        argv[n] = tg_queue_field_names[f], lens[n++] = strlen(tg_queue_field_names[f]);
        argv[n] = e->field[f], lens[n++] = e->len[f];
    }
    if (simple(redisCommandArgv(c, n, argv, lens)))
        return -1;
    return tg_queue_ack(c, prefix, e->id);
}

int tg_queue_push(redisContext *c, const char *prefix, const struct tg_queue_push *p)
{
    char seen[600], stream[128], inbox[128], ttl[24], maxlen[24];
    const char *argv[5 + 2 * TG_QF_COUNT];
    size_t lens[5 + 2 * TG_QF_COUNT];
    snprintf(seen, sizeof seen, "%sseen:%.*s", prefix, (int)p->len[TG_QF_IDEMPOTENCY_KEY],
             p->field[TG_QF_IDEMPOTENCY_KEY]);
    snprintf(stream, sizeof stream, "%sevents", prefix);
    snprintf(inbox, sizeof inbox, "%saudit:inbox", prefix);
    snprintf(ttl, sizeof ttl, "%llu", (unsigned long long)p->dedupe_ttl_ms);
    snprintf(maxlen, sizeof maxlen, "%llu", (unsigned long long)p->maxlen);
    const char *fixed[] = {seen, stream, inbox, ttl, maxlen};
    for (int i = 0; i < 5; i++)
        argv[i] = fixed[i], lens[i] = strlen(fixed[i]);
    for (int i = 0; i < TG_QF_COUNT; i++) {
        argv[5 + 2 * i] = tg_queue_field_names[i],
                     lens[5 + 2 * i] = strlen(tg_queue_field_names[i]);
        argv[6 + 2 * i] = p->field[i] ? p->field[i] : "",
                     lens[6 + 2 * i] = p->field[i] ? p->len[i] : 0;
    }
    redisReply *r = tg_redis_eval(c, &(struct tg_redis_script_call){.source = tg_queue_enqueue_lua,
                                                                    .nkeys = 3,
                                                                    .argc = 5 + 2 * TG_QF_COUNT,
                                                                    .argv = argv,
                                                                    .argvlen = lens});
    int rc = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_INTEGER)
        rc = r->element[0]->integer == 0;
    freeReplyObject(r);
    return rc;
}
