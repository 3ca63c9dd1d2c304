/* audit.c -- the audit trail: every step Tollgate takes, hash-chained in Redis.
 *
 *   record n:  {"action":..., "actor":..., ..., "prev": hash(n-1), "seq": n, "time": ...}
 *   hash(n)  = hex SHA-256( hash(n-1) hex  ||  canonical(record n without "hash") )
 *   hash(0)  = "0" x 64
 *
 *   <prefix>audit            stream, entry id "<seq>-0": record (canonical JSON incl. hash), hash
 *   <prefix>audit:head       hash: seq, hash of the newest record
 *   <prefix>audit:once:<k>   the seq that recorded a once-only step (30 days)
 *   <prefix>audit:idx:time   zset seq by time (ms); :idx:project:<p>, :idx:pipeline:<n>,
 *                            :idx:environment:<e>, :idx:action:<a>, :idx:actor:<a> zsets of seq
 *
 * The append script writes only if the head is still the one the record was built on; on a
 * conflict it returns the current head and the writer rebuilds the record on top of it.
 */
#include "audit.h"
#include "crypto.h"
#include "log.h"
#include "metrics.h"
#include "redisconn.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TG_MODULE "audit"
#define MAX_CONFLICTS 64
#define ONCE_TTL "2592000"
#define MAX_INDEXES 8

struct tg_audit {
    char *prefix;
    char *file;
    int fd;
    int fail_closed;
    int head_known;
    long long head_seq;
    char head_hash[TG_SHA256_HEX_LEN + 1];
};

static const char append_lua[] =
    "if ARGV[5] ~= '0' and redis.call('EXISTS', KEYS[3]) == 1 then return {'dup'} end\n"
    "local head = redis.call('HMGET', KEYS[2], 'seq', 'hash')\n"
    "local seq = tonumber(head[1] or '0')\n"
    "local hash = head[2] or string.rep('0', 64)\n"
    "if seq + 1 ~= tonumber(ARGV[1]) or hash ~= ARGV[2] then return {'conflict', tostring(seq), hash} end\n"
    "redis.call('XADD', KEYS[1], ARGV[1] .. '-0', 'record', ARGV[3], 'hash', ARGV[4])\n"
    "redis.call('HSET', KEYS[2], 'seq', ARGV[1], 'hash', ARGV[4])\n"
    "if ARGV[5] ~= '0' then redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[5]) end\n"
    "redis.call('ZADD', KEYS[4], ARGV[6], ARGV[1])\n"
    "for i = 5, #KEYS do redis.call('ZADD', KEYS[i], ARGV[1], ARGV[1]) end\n"
    "return {'ok'}\n";

struct tg_audit *tg_audit_new(const struct tg_config *cfg)
{
    struct tg_audit *a = tg_xcalloc(1, sizeof *a);
    a->prefix = tg_xstrdup(cfg->redis.prefix);
    a->file = cfg->audit.file ? tg_xstrdup(cfg->audit.file) : NULL;
    a->fail_closed = cfg->audit.fail_closed;
    a->fd = -1;
    return a;
}

void tg_audit_free(struct tg_audit *a)
{
    if (a == NULL)
        return;
    if (a->fd >= 0)
        close(a->fd);
    free(a->prefix), free(a->file), free(a);
}

int tg_audit_fail_closed(const struct tg_audit *a)
{
    return a->fail_closed;
}

char *tg_audit_canonical(json_t *record)
{
    json_t *copy = json_copy(record);
    json_object_del(copy, "hash");
    char *s = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(copy);
    return s;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *build(const struct tg_audit_record *r, long long seq, const char *prev)
{
    char ts[40];
    tg_rfc3339(ts, sizeof ts, tg_now_ms());
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer(seq));
    json_object_set_new(o, "time", json_string(ts));
    json_object_set_new(o, "action", json_string(r->action));
    json_object_set_new(o, "actor", json_string(r->actor ? r->actor : "system"));
    json_object_set_new(o, "project", str_or_null(r->project));
    json_object_set_new(o, "ref", str_or_null(r->ref));
    json_object_set_new(o, "sha", str_or_null(r->sha));
    json_object_set_new(o, "pipeline", r->pipeline ? json_integer(r->pipeline) : json_null());
    json_object_set_new(o, "environment", str_or_null(r->environment));
    json_object_set_new(o, "decision", str_or_null(r->decision));
    json_object_set(o, "reasons", r->reasons ? r->reasons : json_null());
    json_object_set(o, "details", r->details ? r->details : json_null());
    json_object_set_new(o, "prev", json_string(prev));
    return o;
}

static int file_sink(struct tg_audit *a, const char *line, char *err, size_t errlen)
{
    if (a->file == NULL)
        return 0;
    if (a->fd < 0 && (a->fd = open(a->file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) < 0) {
        snprintf(err, errlen, "audit file %s: %s", a->file, strerror(errno));
        return -1;
    }
    size_t n = strlen(line);
    char *buf = tg_xasprintf("%s\n", line);
    ssize_t w = write(a->fd, buf, n + 1); /* one write: lines from several threads never interleave */
    free(buf);
    if (w != (ssize_t)n + 1 || fsync(a->fd) != 0) {
        snprintf(err, errlen, "audit file %s: %s", a->file, w < 0 ? strerror(errno) : "short write or fsync failed");
        close(a->fd);
        a->fd = -1;
        return -1;
    }
    return 0;
}

/* Keys the script touches: stream, head, once, time index, then the optional indexes. */
static int index_keys(const struct tg_audit *a, const struct tg_audit_record *r, char keys[][512])
{
    int n = 0;
    snprintf(keys[n++], 512, "%saudit", a->prefix);
    snprintf(keys[n++], 512, "%saudit:head", a->prefix);
    snprintf(keys[n++], 512, "%saudit:once:%.400s", a->prefix, r->once ? r->once : "-");
    snprintf(keys[n++], 512, "%saudit:idx:time", a->prefix);
    snprintf(keys[n++], 512, "%saudit:idx:action:%.400s", a->prefix, r->action);
    snprintf(keys[n++], 512, "%saudit:idx:actor:%.400s", a->prefix, r->actor ? r->actor : "system");
    if (r->project)
        snprintf(keys[n++], 512, "%saudit:idx:project:%.400s", a->prefix, r->project);
    if (r->pipeline)
        snprintf(keys[n++], 512, "%saudit:idx:pipeline:%lld", a->prefix, r->pipeline);
    if (r->environment)
        snprintf(keys[n++], 512, "%saudit:idx:environment:%.400s", a->prefix, r->environment);
    return n;
}

static int load_head(struct tg_audit *a, redisContext *c)
{
    redisReply *rep = redisCommand(c, "HMGET %saudit:head seq hash", a->prefix);
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
        freeReplyObject(rep);
        return -1;
    }
    a->head_seq = rep->element[0]->type == REDIS_REPLY_STRING ? atoll(rep->element[0]->str) : 0;
    snprintf(a->head_hash, sizeof a->head_hash, "%s",
             rep->element[1]->type == REDIS_REPLY_STRING ? rep->element[1]->str
                                                         : "0000000000000000000000000000000000000000000000000000000000000000");
    a->head_known = 1;
    freeReplyObject(rep);
    return 0;
}

/* One attempt: 1 appended (or duplicate), 0 conflict (head refreshed), -1 failure. */
static int try_append(struct tg_audit *a, redisContext *c, const struct tg_audit_record *r, char *line_out[])
{
    char keys[5 + MAX_INDEXES][512], seq[24], hash[TG_SHA256_HEX_LEN + 1], now[24];
    int nkeys = index_keys(a, r, keys);
    json_t *rec = build(r, a->head_seq + 1, a->head_hash);
    char *canon = tg_audit_canonical(rec);
    struct tg_sha256 h;
    unsigned char d[TG_SHA256_LEN];
    tg_sha256_init(&h);
    tg_sha256_update(&h, a->head_hash, TG_SHA256_HEX_LEN);
    tg_sha256_update(&h, canon, strlen(canon));
    tg_sha256_final(&h, d);
    tg_hex_encode(d, sizeof d, hash);
    json_object_set_new(rec, "hash", json_string(hash));
    char *full = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(seq, sizeof seq, "%lld", a->head_seq + 1);
    snprintf(now, sizeof now, "%llu", (unsigned long long)tg_now_ms());
    const char *argv[5 + MAX_INDEXES + 6];
    size_t argvlen[5 + MAX_INDEXES + 6];
    for (int i = 0; i < nkeys; i++)
        argv[i] = keys[i], argvlen[i] = strlen(keys[i]);
    const char *args[] = {seq, a->head_hash, full, hash, r->once ? ONCE_TTL : "0", now};
    for (int i = 0; i < 6; i++)
        argv[nkeys + i] = args[i], argvlen[nkeys + i] = strlen(args[i]);
    redisReply *rep = tg_redis_eval(c, append_lua, nkeys, nkeys + 6, argv, argvlen);
    int rc = -1;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1 && rep->element[0]->type == REDIS_REPLY_STRING) {
        const char *what = rep->element[0]->str;
        if (strcmp(what, "ok") == 0) {
            a->head_seq++;
            memcpy(a->head_hash, hash, sizeof hash);
            *line_out = full, full = NULL, rc = 1;
        } else if (strcmp(what, "dup") == 0) {
            rc = 1;
        } else if (strcmp(what, "conflict") == 0 && rep->elements == 3) {
            a->head_seq = atoll(rep->element[1]->str);
            snprintf(a->head_hash, sizeof a->head_hash, "%s", rep->element[2]->str);
            rc = 0;
        }
    }
    if (rep && rep->type == REDIS_REPLY_ERROR)
        tg_log_msg(TG_LOG_ERROR, TG_MODULE, "append_error", "%.200s", rep->str);
    freeReplyObject(rep);
    free(full), free(canon);
    json_decref(rec);
    return rc;
}

int tg_audit_append(struct tg_audit *a, redisContext *c, const struct tg_audit_record *r, char *err, size_t errlen)
{
    char *line = NULL;
    int rc = 0;
    for (int i = 0; i < MAX_CONFLICTS && rc == 0; i++) {
        if (!a->head_known && load_head(a, c)) {
            rc = -1;
            break;
        }
        rc = try_append(a, c, r, &line);
        if (rc < 0)
            a->head_known = 0;
    }
    if (rc <= 0) {
        tg_metrics_inc(TG_M_AUDIT_FAILURES);
        snprintf(err, errlen, "audit append failed: %s", c->err ? c->errstr : "Redis refused the record");
        return -1;
    }
    if (line == NULL)
        return 0; /* already recorded under r->once */
    tg_metrics_inc(TG_M_AUDIT_RECORDS);
    rc = file_sink(a, line, err, errlen);
    if (rc)
        tg_metrics_inc(TG_M_AUDIT_FAILURES);
    if (a->head_seq % 1000 == 0)
        tg_log_msg(TG_LOG_INFO, TG_MODULE, "head", "seq %lld hash %s", a->head_seq, a->head_hash);
    free(line);
    return rc;
}

static const char *field(const redisReply *kv, const char *name)
{
    for (size_t i = 0; kv->type == REDIS_REPLY_ARRAY && i + 1 < kv->elements; i += 2)
        if (strcmp(kv->element[i]->str, name) == 0)
            return kv->element[i + 1]->str;
    return NULL;
}

static int drain_one(struct tg_audit *a, redisContext *c, const redisReply *entry)
{
    char err[256], once[96];
    const char *id = entry->element[0]->str, *action = field(entry->element[1], "action");
    json_t *details = json_loads(field(entry->element[1], "details") ? field(entry->element[1], "details") : "null",
                                 JSON_DECODE_ANY, NULL);
    snprintf(once, sizeof once, "inbox:%s", id);
    struct tg_audit_record r = {.action = action ? action : "note", .actor = "system", .details = details, .once = once};
    int rc = tg_audit_append(a, c, &r, err, sizeof err);
    json_decref(details);
    if (rc == 0) {
        redisReply *del = redisCommand(c, "XDEL %saudit:inbox %s", a->prefix, id);
        rc = del && del->type == REDIS_REPLY_INTEGER ? 0 : -1;
        freeReplyObject(del);
    }
    return rc;
}

int tg_audit_drain_inbox(struct tg_audit *a, redisContext *c, int max)
{
    redisReply *r = redisCommand(c, "XRANGE %saudit:inbox - + COUNT %d", a->prefix, max);
    int n = 0;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    for (size_t i = 0; i < r->elements && n >= 0; i++)
        n = drain_one(a, c, r->element[i]) == 0 ? n + 1 : -1;
    freeReplyObject(r);
    return n;
}
