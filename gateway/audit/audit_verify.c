/* audit_verify.c -- recomputing the audit chain from Redis and matching the file sink.
 *
 *   sink    read first (every line it holds was in Redis before it was written), kept as a
 *           sorted array of (seq, SHA-256 of the line): memory does not grow with lines' size
 *   walk    XRANGE pages of PAGE entries; each entry: readable, seq = expected, id "<seq>-0",
 *           prev = the previous hash, hash = SHA-256(prev || canonical), time not earlier,
 *           the sink's line (when it has one) byte-identical
 *   end     one atomic read of the last stream id and <prefix>audit:head: both must name the
 *           same seq, and when the walk ended there, the same hash
 */
#include "audit/audit_verify.h"
#include "audit/audit_keys.h"
#include "audit/audit.h"
#include "audit/audit_archive.h"
#include "base/redisconn.h"
#include "base/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 1000

struct sink_line {
    long long seq;
    unsigned char digest[TG_SHA256_LEN];
};

struct sink {
    struct sink_line *v;
    size_t n, cap;
};

/* The walk so far. */
struct walk {
    const struct tg_audit_verify_opts *o;
    struct tg_audit_verify_result *res;
    struct sink sink;
    long long expect;
    char prev[TG_SHA256_HEX_LEN + 1];
    uint64_t prev_ms;
    int started;
    const char *where; /* "Redis", or the segment being read */
};

static const char snapshot_lua[] =
    "local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]\n"
    "local head = redis.call('HMGET', KEYS[2], 'seq', 'hash')\n"
    "return {last and last[1] or '0-0', head[1] or '0', head[2] or ''}\n";

const char *tg_audit_break_name(enum tg_audit_break b)
{
    static const char *const names[] = {
        [TG_AUDIT_OK] = "ok",
        [TG_AUDIT_UNREADABLE] = "unreadable",
        [TG_AUDIT_GAP] = "gap",
        [TG_AUDIT_ORDER] = "order",
        [TG_AUDIT_PREV] = "prev mismatch",
        [TG_AUDIT_HASH] = "hash mismatch",
        [TG_AUDIT_SINK] = "sink disagrees",
        [TG_AUDIT_HEAD] = "head mismatch",
    };
    return names[b];
}

static int broke(struct tg_audit_verify_result *r, enum tg_audit_break b, long long seq,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void vbroke(struct tg_audit_verify_result *r, enum tg_audit_break b, long long seq,
                   const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void vbroke(struct tg_audit_verify_result *r, enum tg_audit_break b, long long seq,
                   const char *fmt, va_list ap)
{
    r->broken = b;
    r->seq = seq;
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
}

static int broke(struct tg_audit_verify_result *r, enum tg_audit_break b, long long seq,
                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vbroke(r, b, seq, fmt, ap);
    va_end(ap);
    return -1;
}

/* broke for the archive walk, whose steps answer 1 at a break. */
static int archive_broke(struct tg_audit_verify_result *r, enum tg_audit_break b, long long seq,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int archive_broke(struct tg_audit_verify_result *r, enum tg_audit_break b, long long seq,
                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vbroke(r, b, seq, fmt, ap);
    va_end(ap);
    return 1;
}

int tg_audit_parse_head(const char *s, long long *seq, char hash[TG_SHA256_HEX_LEN + 1])
{
    const char *colon = strchr(s, ':');
    char num[24];
    if (colon == NULL || colon - s >= (long)sizeof num || strlen(colon + 1) != TG_SHA256_HEX_LEN ||
        strspn(colon + 1, "0123456789abcdef") != TG_SHA256_HEX_LEN)
        return -1;
    memcpy(num, s, (size_t)(colon - s));
    num[colon - s] = '\0';
    if (tg_parse_int(num, 1, INT64_MAX, seq))
        return -1;
    memcpy(hash, colon + 1, TG_SHA256_HEX_LEN + 1);
    return 0;
}

/* ---- the file sink ---- */

static int by_seq(const void *a, const void *b)
{
    const struct sink_line *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 : memcmp(x->digest, y->digest, TG_SHA256_LEN);
}

static const struct sink_line *sink_find(const struct sink *s, long long seq)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n && s->v[lo].seq == seq ? &s->v[lo] : NULL;
}

/* Adds one line; -1 (a break in w->res) when it is not a record. */
static int sink_add(struct walk *w, const char *line, size_t len, long long lineno)
{
    json_t *rec = json_loadb(line, len, 0, NULL);
    long long seq = json_integer_value(json_object_get(rec, "seq"));
    json_decref(rec);
    if (seq <= 0)
        return broke(w->res, TG_AUDIT_SINK, 0, "line %lld of %s is not an audit record", lineno,
                     w->o->sink);
    if (w->sink.n == w->sink.cap) {
        w->sink.cap = w->sink.cap ? w->sink.cap * 2 : 1024;
        w->sink.v = tg_xrealloc(w->sink.v, w->sink.cap * sizeof *w->sink.v);
    }
    w->sink.v[w->sink.n].seq = seq;
    tg_sha256(line, len, w->sink.v[w->sink.n++].digest);
    return 0;
}

/* Sorts the lines and folds identical repeats; two different lines for one seq break. */
static int sink_index(struct walk *w)
{
    size_t keep = 0;
    if (w->sink.n > 1)
        qsort(w->sink.v, w->sink.n, sizeof *w->sink.v, by_seq);
    for (size_t i = 0; i < w->sink.n; i++) {
        if (keep && w->sink.v[keep - 1].seq == w->sink.v[i].seq) {
            if (memcmp(w->sink.v[keep - 1].digest, w->sink.v[i].digest, TG_SHA256_LEN) != 0)
                return broke(w->res, TG_AUDIT_SINK, w->sink.v[i].seq,
                             "the sink holds two different lines for it");
            continue;
        }
        w->sink.v[keep++] = w->sink.v[i];
    }
    w->sink.n = keep;
    w->res->sink_lines = (long long)keep;
    return 0;
}

/* Reads the sink: 0, 1 when it broke (res says how), -1 with err when unreadable. */
static int sink_load(struct walk *w, char *err, size_t errlen)
{
    FILE *f = w->o->sink ? fopen(w->o->sink, "r") : NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long long lineno = 0;
    int rc = 0;
    if (f == NULL && w->o->sink && errno != ENOENT) { /* no file yet: nothing was written */
        snprintf(err, errlen, "%s: %s", w->o->sink, strerror(errno));
        return -1;
    }
    while (rc == 0 && f && (len = getline(&line, &cap, f)) > 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len > 0 && sink_add(w, line, (size_t)len, lineno))
            rc = 1;
    }
    free(line);
    if (f)
        fclose(f);
    return rc ? 1 : sink_index(w) ? 1 : 0;
}

/* ---- the chain ---- */

static int check_seq(struct walk *w, const char *id, long long seq)
{
    char want[32];
    if (seq > w->expect)
        return broke(w->res, TG_AUDIT_GAP, w->expect, "seq %lld to %lld missing from %s%s",
                     w->expect, seq - 1, w->where,
                     sink_find(&w->sink, w->expect) ? " (the file sink still has it)" : "");
    if (seq < w->expect)
        return broke(w->res, TG_AUDIT_ORDER, seq, "seq %lld follows seq %lld", seq, w->expect - 1);
    snprintf(want, sizeof want, "%lld-0", seq);
    if (strcmp(id, want) != 0)
        return broke(w->res, TG_AUDIT_ORDER, seq, "stream id %.40s does not name seq %lld", id,
                     seq);
    return 0;
}

static int check_chain(struct walk *w, json_t *rec, long long seq, const char *stored)
{
    char computed[TG_SHA256_HEX_LEN + 1];
    const char *prev = json_string_value(json_object_get(rec, "prev"));
    const char *hash = json_string_value(json_object_get(rec, "hash"));
    const char *time = json_string_value(json_object_get(rec, "time"));
    uint64_t ms = 0;
    if (!w->started && w->o->from > 1 && prev) /* --from: the first prev is taken as given */
        snprintf(w->prev, sizeof w->prev, "%s", prev);
    if (prev == NULL || strcmp(prev, w->prev) != 0)
        return broke(w->res, TG_AUDIT_PREV, seq,
                     "prev %.16s... is not the hash of seq %lld (%.16s...): that record changed",
                     prev ? prev : "(none)", seq - 1, w->prev);
    char *canon = tg_audit_canonical(rec);
    if (canon)
        tg_audit_chain_hash(w->prev, canon, computed);
    free(canon);
    if (canon == NULL || hash == NULL || strcmp(computed, hash) != 0 || strcmp(stored, hash) != 0)
        return broke(w->res, TG_AUDIT_HASH, seq,
                     "the content gives %.16s..., the record says %.16s...",
                     canon ? computed : "(no canonical form)", hash ? hash : "(none)");
    if (time == NULL || tg_parse_time(time, &ms) || ms < w->prev_ms)
        return broke(w->res, TG_AUDIT_ORDER, seq, "time %.40s is before the previous record's",
                     time ? time : "(none)");
    w->prev_ms = ms;
    return 0;
}

static int check_sink(struct walk *w, long long seq, const char *record)
{
    unsigned char d[TG_SHA256_LEN];
    const struct sink_line *l = w->o->sink ? sink_find(&w->sink, seq) : NULL;
    if (w->o->sink && l == NULL)
        w->res->sink_missing++;
    if (l == NULL)
        return 0;
    tg_sha256(record, strlen(record), d);
    if (memcmp(d, l->digest, sizeof d) != 0)
        return broke(w->res, TG_AUDIT_SINK, seq,
                     "the sink's line differs from the record in Redis");
    return 0;
}

/* One record (id: its stream id, or "<seq>-0" for an archived line); -1 on a break. */
static int check_record(struct walk *w, const char *id, const char *record, const char *stored)
{
    json_t *rec = record ? json_loads(record, 0, NULL) : NULL;
    long long seq = json_integer_value(json_object_get(rec, "seq"));
    int rc = -1;
    if (rec == NULL || stored == NULL || seq <= 0)
        broke(w->res, TG_AUDIT_UNREADABLE, w->expect, "entry %.40s is not an audit record", id);
    else if (check_seq(w, id, seq) == 0 && check_chain(w, rec, seq, stored) == 0 &&
             check_sink(w, seq, record) == 0)
        rc = 0;
    if (rc == 0 && seq == w->o->anchor_seq && strcmp(stored, w->o->anchor_hash) != 0)
        rc = broke(w->res, TG_AUDIT_HEAD, seq,
                   "the anchored hash %.16s... differs from the record's %.16s...",
                   w->o->anchor_hash, stored);
    if (rc == 0) {
        w->expect = seq + 1;
        w->started = 1;
        snprintf(w->prev, sizeof w->prev, "%s", stored);
        w->res->records++;
        w->res->head_seq = seq;
        snprintf(w->res->head_hash, sizeof w->res->head_hash, "%s", stored);
    }
    json_decref(rec);
    return rc;
}

/* One stream entry; -1 on a break. */
static int check_entry(struct walk *w, const redisReply *e)
{
    return check_record(w, e->element[0]->str, tg_audit_field(e->element[1], "record"),
                        tg_audit_field(e->element[1], "hash"));
}

/* Walks every page: 0 to the end, 1 at a break, 2 at max_records, -1 with err when Redis failed. */
static int walk_pages(struct walk *w, redisContext *c, const char *prefix, char *err, size_t errlen)
{
    char start[48];
    snprintf(start, sizeof start, "%lld-0", w->expect);
    for (;;) {
        redisReply *r = redisCommand(c, "XRANGE %s %s + COUNT %d",
                                     TG_AUDIT_KEY(prefix, TG_AK_STREAM), start, PAGE);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
            snprintf(err, errlen, "cannot read %saudit: %s", prefix,
                     r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
            freeReplyObject(r);
            return -1;
        }
        int rc = 0;
        for (size_t i = 0; rc == 0 && i < r->elements; i++)
            if (check_entry(w, r->element[i]))
                rc = 1;
        if (rc == 0 && r->elements == PAGE)
            snprintf(start, sizeof start, "(%.40s", r->element[PAGE - 1]->element[0]->str);
        int more = rc == 0 && r->elements == PAGE;
        freeReplyObject(r);
        if (more && w->o->max_records > 0 && w->res->records >= w->o->max_records)
            return 2;
        if (!more)
            return rc;
    }
}

/* After the walk: the stream's end, the head in Redis, the anchor and the sink agree. */
static int check_end(struct walk *w, redisContext *c, const char *prefix, char *err, size_t errlen)
{
    char keys[2][256];
    struct tg_audit_verify_result *res = w->res;
    tg_audit_key(keys[0], sizeof keys[0], prefix, TG_AK_STREAM);
    tg_audit_key(keys[1], sizeof keys[1], prefix, TG_AK_HEAD);
    const char *argv[] = {keys[0], keys[1]};
    size_t lens[] = {strlen(keys[0]), strlen(keys[1])};
    redisReply *r = tg_redis_eval(
        c, &(struct tg_redis_script_call){
               .source = snapshot_lua, .nkeys = 2, .argc = 2, .argv = argv, .argvlen = lens});
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        snprintf(err, errlen, "cannot read the audit head: %s",
                 r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
        freeReplyObject(r);
        return -1;
    }
    long long last = atoll(r->element[0]->str), head = atoll(r->element[1]->str);
    const char *hash = r->element[2]->str;
    if (last > head)
        broke(res, TG_AUDIT_HEAD, head + 1,
              "the stream holds entries after the head (seq %lld): not appended by Tollgate", head);
    else if (last < head)
        broke(res, TG_AUDIT_HEAD, last + 1,
              "the head names seq %lld but the stream ends at %lld: records removed from its end",
              head, last);
    else if (res->head_seq == head && head > 0 && strcmp(hash, res->head_hash) != 0)
        broke(res, TG_AUDIT_HEAD, head, "the head's hash %.16s... differs from the record's", hash);
    else if (w->o->anchor_seq > res->head_seq)
        broke(res, TG_AUDIT_HEAD, w->o->anchor_seq,
              "the chain ends at seq %lld, before the anchored seq", res->head_seq);
    else if (w->sink.n && w->sink.v[w->sink.n - 1].seq > res->head_seq)
        broke(res, TG_AUDIT_SINK, w->sink.v[w->sink.n - 1].seq,
              "the sink holds this seq, which Redis lacks");
    freeReplyObject(r);
    return 0;
}

/* ---- the archive ---- */

static int archive_line(void *arg, const char *line, size_t len)
{
    struct walk *w = arg;
    char *copy = tg_xstrndup(line, len), id[32];
    json_t *rec = json_loads(copy, 0, NULL);
    long long seq = json_integer_value(json_object_get(rec, "seq"));
    snprintf(id, sizeof id, "%lld-0", seq > 0 ? seq : w->expect);
    int rc = check_record(w, id, copy, json_string_value(json_object_get(rec, "hash")));
    json_decref(rec);
    free(copy);
    return rc ? 1 : 0;
}

/* Walks one segment: 0, or 1 at a break naming it. */
static int walk_segment(struct walk *w, const char *dir, const struct tg_audit_segment *s)
{
    char err[256];
    if (s->first > w->expect)
        return archive_broke(w->res, TG_AUDIT_GAP, w->expect,
                             "seq %lld to %lld missing from the archive %s: no segment holds them",
                             w->expect, s->first - 1, dir);
    if (s->first < w->expect)
        return archive_broke(w->res, TG_AUDIT_ORDER, s->first, "segment %s overlaps the one before",
                             s->name);
    w->where = s->name;
    struct tg_audit_line_fn each = {archive_line, w};
    int rc = tg_audit_segment_each(dir, s, &each, err, sizeof err);
    if (rc < 0)
        return archive_broke(w->res, TG_AUDIT_UNREADABLE, s->first, "segment %s: %s", s->name, err);
    if (rc > 0) {
        size_t n = strlen(w->res->detail);
        snprintf(w->res->detail + n, sizeof w->res->detail - n, " (segment %s)", s->name);
        return 1;
    }
    if (w->expect - 1 != s->last || strcmp(w->prev, s->hash) != 0)
        return archive_broke(w->res, TG_AUDIT_HASH, s->last,
                             "segment %s ends at seq %lld with %.16s..., not as its name says",
                             s->name, w->expect - 1, w->prev);
    w->res->archive_segments++;
    w->res->archive_records += s->last - s->first + 1;
    return 0;
}

/* Walks every segment, then joins Redis's start to the archive's end: 0, 1 at a break, -1. */
static int walk_archive(struct walk *w, redisContext *c, const char *prefix, char *err,
                        size_t errlen)
{
    struct tg_audit_segment *segs;
    size_t n;
    long long start;
    char prev[TG_SHA256_HEX_LEN + 1];
    if (tg_audit_segments_list(w->o->archive, &segs, &n, err, errlen))
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = walk_segment(w, w->o->archive, &segs[i]);
    tg_audit_segments_free(segs, n);
    w->where = "Redis";
    if (rc == 0 && tg_audit_start_get(c, prefix, &start, prev)) {
        snprintf(err, errlen, "cannot read %saudit:start", prefix);
        return -1;
    }
    if (rc == 0 && start > w->expect)
        rc = archive_broke(
            w->res, TG_AUDIT_GAP, w->expect,
            "seq %lld to %lld are in neither the archive nor Redis (Redis starts at seq %lld)",
            w->expect, start - 1, start);
    else if (rc == 0 && start == w->expect && strcmp(prev, w->prev) != 0)
        rc = archive_broke(w->res, TG_AUDIT_PREV, start,
                           "Redis starts on %.16s..., the archive ends with %.16s...", prev,
                           w->prev);
    return rc; /* start < expect: Redis still holds archived records (a pass not yet trimmed) */
}

/* An anchor before Redis's start, without the archive: seq start - 1 is compared with the hash
 * the start chains on (its recorded prev); an older one cannot be checked from Redis, which
 * res->unchecked says. 0, or 1 at a break. */
static int anchor_at_start(struct walk *w, long long start, const char *prev)
{
    long long seq = w->o->anchor_seq;
    if (seq <= 0 || seq >= start)
        return 0;
    if (seq == start - 1 && strcmp(prev, w->o->anchor_hash) != 0)
        return archive_broke(
            w->res, TG_AUDIT_HEAD, seq,
            "the anchored hash %.16s... differs from %.16s..., the hash Redis's start (seq %lld) "
            "chains on",
            w->o->anchor_hash, prev, start);
    if (seq < start - 1)
        snprintf(w->res->unchecked, sizeof w->res->unchecked,
                 "seq %lld is archived (Redis starts at seq %lld): the anchor cannot be checked "
                 "from Redis; "
                 "verify with audit.archive",
                 seq, start);
    return 0;
}

/* Where the walk in Redis starts without the archive: --from, else Redis's start (chained on
 * its recorded prev). 0, 1 at a break of the anchor, or -1 with err. */
static int redis_start(struct walk *w, redisContext *c, const char *prefix, char *err,
                       size_t errlen)
{
    long long start;
    char prev[TG_SHA256_HEX_LEN + 1];
    if (tg_audit_start_get(c, prefix, &start, prev)) {
        snprintf(err, errlen, "cannot read %saudit:start", prefix);
        return -1;
    }
    if (start > w->expect) {
        w->expect = start;
        memcpy(w->prev, prev, sizeof w->prev);
    }
    w->res->from = w->expect;
    return anchor_at_start(w, start, prev);
}

int tg_audit_verify(const struct tg_audit_db *db, const struct tg_audit_verify_opts *o,
                    struct tg_audit_verify_result *res, char *err, size_t errlen)
{
    redisContext *c = db->c;
    const char *prefix = db->prefix;
    struct walk w = {
        .o = o, .res = res, .expect = o->from > 1 && !o->archive ? o->from : 1, .where = "Redis"};
    memset(res, 0, sizeof *res);
    snprintf(res->head_hash, sizeof res->head_hash, "%s", TG_AUDIT_GENESIS);
    snprintf(w.prev, sizeof w.prev, "%s", TG_AUDIT_GENESIS);
    res->from = w.expect;
    int rc = sink_load(&w, err, errlen);
    if (rc == 0)
        rc = o->archive ? walk_archive(&w, c, prefix, err, errlen)
                        : redis_start(&w, c, prefix, err, errlen);
    if (rc == 0)
        rc = walk_pages(&w, c, prefix, err, errlen);
    if (rc == 0)
        rc = check_end(&w, c, prefix, err, errlen);
    res->complete = rc != 2;
    free(w.sink.v);
    return rc < 0 ? -1 : 0;
}

/* ---- the checkpoint ---- */

static const char advance_lua[] =
    "local cur = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')\n"
    "if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'hash', ARGV[2]) "
    "end\n"
    "return 1\n";

int tg_audit_checkpoint_get(redisContext *c, const char *prefix, long long *seq,
                            char hash[TG_SHA256_HEX_LEN + 1])
{
    redisReply *r = redisCommand(c, "HMGET %s seq hash", TG_AUDIT_KEY(prefix, TG_AK_VERIFIED));
    int rc = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        rc = 0;
        if (r->element[0]->type == REDIS_REPLY_STRING &&
            r->element[1]->type == REDIS_REPLY_STRING && r->element[1]->len == TG_SHA256_HEX_LEN &&
            (*seq = atoll(r->element[0]->str)) > 0) {
            memcpy(hash, r->element[1]->str, TG_SHA256_HEX_LEN + 1);
            rc = 1;
        }
    }
    freeReplyObject(r);
    return rc;
}

int tg_audit_checkpoint_advance(redisContext *c, const char *prefix,
                                const struct tg_audit_verify_result *res)
{
    char key[256], seq[24];
    if (res->broken != TG_AUDIT_OK || res->head_seq <= 0)
        return 0;
    tg_audit_key(key, sizeof key, prefix, TG_AK_VERIFIED);
    snprintf(seq, sizeof seq, "%lld", res->head_seq);
    const char *argv[] = {key, seq, res->head_hash};
    size_t lens[] = {strlen(key), strlen(seq), strlen(res->head_hash)};
    redisReply *r = tg_redis_eval(
        c, &(struct tg_redis_script_call){
               .source = advance_lua, .nkeys = 1, .argc = 3, .argv = argv, .argvlen = lens});
    int rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -1;
    freeReplyObject(r);
    return rc;
}

/* ---- reporting ---- */

void tg_audit_verify_summary(const struct tg_audit_verify_result *r, char *out, size_t outlen)
{
    if (r->broken == TG_AUDIT_OK)
        snprintf(out, outlen, "ok %lld records, head %lld:%s", r->records, r->head_seq,
                 r->head_hash);
    else
        snprintf(out, outlen, "broken at seq %lld: %s: %s", r->seq, tg_audit_break_name(r->broken),
                 r->detail);
}

json_t *tg_audit_verify_json(const struct tg_audit_verify_result *r)
{
    json_t *o = json_pack("{s:b, s:b, s:I, s:I, s:{s:I, s:s}, s:{s:I, s:I}}", "ok",
                          r->broken == TG_AUDIT_OK, "complete", r->complete, "from",
                          (json_int_t)r->from, "records", (json_int_t)r->records, "head", "seq",
                          (json_int_t)r->head_seq, "hash", r->head_hash, "sink", "lines",
                          (json_int_t)r->sink_lines, "missing", (json_int_t)r->sink_missing);
    if (r->unchecked[0])
        json_object_set_new(o, "anchor",
                            json_pack("{s:b, s:s}", "checked", 0, "reason", r->unchecked));
    if (r->broken != TG_AUDIT_OK)
        json_object_set_new(o, "broken",
                            json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)r->seq, "reason",
                                      tg_audit_break_name(r->broken), "detail", r->detail));
    return o;
}
